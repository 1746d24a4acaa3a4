#include "worker.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "http_syntax.hpp"
#include "listener.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "open_file_limit.hpp"
#include "out_of_memory.hpp"
#include "python/hooks.hpp"
#include "python/interpreter.hpp"
#include "python/wsgi_objects.hpp"
#include "status_page.hpp"

namespace kiln {
namespace {

[[noreturn]] void throw_uv(int error, const char* call) {
  throw std::system_error(-error, std::generic_category(), call);
}

bool is_unix_socket(int fd) noexcept {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  return getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0 &&
         address.ss_family == AF_UNIX;
}

}  // namespace

worker::worker(const settings& config, std::span<const int> listen_fds, worker_slot* slot,
               const app* application, const scoreboard* board, int metrics_fd)
    : config_(config),
      limits_{static_cast<std::size_t>(config.limit_request_line),
              static_cast<std::size_t>(config.limit_request_fields),
              static_cast<std::size_t>(config.limit_request_field_size),
              static_cast<std::uint64_t>(config.limit_request_body),
              static_cast<std::size_t>(config.limit_request_head)},
      timeouts_{timeout_queue(static_cast<std::uint64_t>(config.header_timeout.count())),
                timeout_queue(static_cast<std::uint64_t>(config.body_timeout.count())),
                timeout_queue(static_cast<std::uint64_t>(config.keepalive.count())),
                timeout_queue(static_cast<std::uint64_t>(config.send_timeout.count())),
                // Long enough for a response to reach a client on a slow network, short
                // enough that a client cannot hold the slot by sending forever.
                timeout_queue(5000), timeout_queue(last_call_ms)},
      read_buffer_(std::make_unique<char[]>(read_buffer_size)),
      forwarding_(config),
      proxy_trusted_(config.proxy_allow_ips),
      slot_(slot),
      board_(board),
      counting_(slot != nullptr && board != nullptr && !config.metrics_bind.empty()),
      parent_(getppid()),
      keepalive_enabled_(config.keepalive.count() > 0),
      connection_cap_(connection_cap(config.worker_connections)) {
  // Everything that can fail on a setting comes before the loop owns any handle.
  if (!config.access_log.empty()) {
    access_log_ = std::make_unique<access_log>(config.access_log, config.access_log_format);
    random_.seed(std::random_device{}());
  }
  if (int error = uv_loop_init(&loop_); error != 0) throw_uv(error, "uv_loop_init");
  // The static root is opened before the Python app changes to its chdir, so that a relative
  // static_root means what it meant where kiln started.
  dispatcher_ = std::make_unique<dispatcher>(config, application);
  if (!config.wsgi_app.empty()) {
    python_ = std::make_unique<python::app_host>(config, &loop_, config.workers > 1);
    dispatcher_->pass_the_rest_to(*python_);
  }
  if (python::interpreter_started()) {
    // A worker without an app may still have hooks, from a Python config file.
    if (!python_) {
      if (config.capture_output) python::capture_output();
      python::post_worker_init();
    }
    errands_ = std::make_unique<python::errands>();
    python::release_gil();  // From here on the loop thread never holds the GIL.
  }
  uv_timer_init(&loop_, &timer_);
  timer_.data = this;
  uv_timer_init(&loop_, &graceful_deadline_);
  graceful_deadline_.data = this;
  uv_timer_init(&loop_, &heartbeat_);
  heartbeat_.data = this;
  uv_timer_init(&loop_, &shutdown_delay_);
  shutdown_delay_.data = this;
  uv_check_init(&loop_, &accept_gate_);
  accept_gate_.data = this;
  constexpr int handled_signals[] = {SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGABRT};
  for (std::size_t i = 0; i < signals_.size(); ++i) {
    uv_signal_init(&loop_, &signals_[i]);
    signals_[i].data = this;
    uv_signal_start(&signals_[i], on_signal, handled_signals[i]);
  }

  std::vector<int> fds(listen_fds.begin(), listen_fds.end());
  if (metrics_fd >= 0 && counting_) fds.push_back(metrics_fd);
  for (int fd : fds) {
    // The worker closes its listening handles when it stops; a duplicate keeps that from
    // closing the descriptor its creator still owns.
    int own_fd = ::dup(fd);
    if (own_fd < 0) throw std::system_error(errno, std::generic_category(), "dup");
    auto entry = std::make_unique<listening>();
    entry->owner = this;
    entry->metrics = fd == metrics_fd;
    int error = is_unix_socket(own_fd) ? uv_pipe_init(&loop_, &entry->handle.pipe, 0)
                                       : uv_tcp_init(&loop_, &entry->handle.tcp);
    if (error == 0) {
      error = entry->handle.stream.type == UV_NAMED_PIPE ? uv_pipe_open(&entry->handle.pipe, own_fd)
                                                         : uv_tcp_open(&entry->handle.tcp, own_fd);
    }
    entry->handle.handle.data = entry.get();
    if (error == 0) {
      error = uv_listen(&entry->handle.stream, static_cast<int>(config.backlog), on_connection);
    }
    if (error != 0) throw_uv(error, "uv_listen");
    listeners_.push_back(std::move(entry));
  }
}

worker::~worker() {
  // run() leaves no handle open; a worker that never ran closes its own here.
  if (!stopping_) {
    uv_walk(
        &loop_,
        [](uv_handle_t* handle, void*) {
          if (!uv_is_closing(handle)) uv_close(handle, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
  }
  uv_loop_close(&loop_);
}

int worker::run() {
  end_worker_when_memory_runs_out();
  // The heartbeat comes from the loop itself: a worker stuck in a handler stops beating, and
  // the master notices after timeout. Four beats per timeout leave room for a busy loop.
  std::uint64_t interval = 1000;
  if (config_.timeout.count() > 0) {
    interval = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(config_.timeout.count()) / 4,
                                         50, 1000);
  }
  uv_timer_start(&heartbeat_, on_heartbeat, 0, interval);
  if (slot_ != nullptr) slot_->state.store(worker_state::ready);
  uv_run(&loop_, UV_RUN_DEFAULT);
  // Requests still in the app had graceful_timeout with the rest; a moment more to end cleanly.
  // Then, unless a thread of the app is stuck in it, the interpreter says goodbye: worker_exit,
  // and the app's atexit functions.
  constexpr std::chrono::milliseconds moment(1000);
  bool python_free = !python_ || python_->stop_threads(moment);
  if (errands_ && !errands_->finish(moment)) python_free = false;
  if (python::interpreter_started() && python_free) {
    python::reacquire_gil();
    python::worker_exit();
    python::run_exit_functions();
  }
  spdlog::info("Worker exiting (pid: {}) after {} requests", getpid(), requests_);
  return 0;
}

void worker::on_heartbeat(uv_timer_t* timer) noexcept {
  auto& self = *static_cast<worker*>(timer->data);
  if (self.slot_ != nullptr) {
    self.slot_->heartbeat_ms.store(monotonic_ms(), std::memory_order_relaxed);
    // The loop beats whatever the app's threads do: the master judges those by this.
    if (self.python_) {
      self.slot_->oldest_request_ms.store(self.python_->oldest_progress_ms(),
                                          std::memory_order_relaxed);
    }
    if (self.counting_) self.report_gauges();
  }
  self.return_memory();
  // PR_SET_PDEATHSIG tells a worker that its master died; this catches a death before it was set.
  if (getppid() != self.parent_ && !self.stopping_) {
    spdlog::warn("The master is gone: stopping");
    self.stop_gracefully();
  }
}

void worker::return_memory() noexcept {
  // What a thousand connections allocated (buffers, partial heads, bodies) stays with glibc's
  // allocator after they close, and the worker's RSS with it: once most are gone, it goes back.
  constexpr std::size_t flood = 128;
  if (busiest_ < connections_ + flood) return;
  ::malloc_trim(0);
  busiest_ = connections_;
}

void worker::on_connection(uv_stream_t* server, int status) noexcept {
  auto& entry = *static_cast<listening*>(server->data);
  worker& self = *entry.owner;
  if (status < 0) {
    spdlog::error("accept: {}", uv_error(status));
    return;
  }
  if (!self.accepting()) {
    // libuv keeps this one accepted socket and stops watching the listener until uv_accept;
    // the kernel queues the next ones, for this worker or another.
    entry.waiting = true;
    uv_check_start(&self.accept_gate_, on_accept_gate);
    self.make_room();
    return;
  }
  (new connection(self, entry.metrics))->start(server);
}

void worker::make_room() noexcept {
  // One at a time: a closed connection gives its slot back when libuv has closed it.
  if (making_room_ || connections_ < connection_cap_) return;
  // At worker_connections, a client that wants to talk takes the place of one that holds a
  // slot without using it, as nginx reuses its idle connections: an idle keep-alive connection
  // first (the longest idle), then a request head or body that has not moved for a second, then
  // a response its client has taken nothing of for a second.
  // The closed connection's slot goes to the waiting client (connection_closed).
  std::uint64_t now = uv_now(&loop_);
  auto stalled = [&](timeout_kind kind, std::chrono::milliseconds allowed) -> timeout_link* {
    timeout_link* oldest = queue(kind).front();
    if (oldest == nullptr) return nullptr;
    std::uint64_t since = oldest->deadline() - static_cast<std::uint64_t>(allowed.count());
    return now >= since + stalled_ms ? oldest : nullptr;
  };
  timeout_link* victim = queue(timeout_kind::keepalive).front();
  if (victim == nullptr) victim = queue(timeout_kind::last_call).front();
  if (victim == nullptr) victim = stalled(timeout_kind::header, config_.header_timeout);
  if (victim == nullptr) victim = stalled(timeout_kind::body, config_.body_timeout);
  if (victim == nullptr) victim = stalled(timeout_kind::send, config_.send_timeout);
  if (victim == nullptr) return;
  making_room_ = true;
  ++made_room_;
  if (now >= room_reported_ms_ + 10000) {
    room_reported_ms_ = now;
    spdlog::warn(
        "worker_connections ({}) reached: closing idle and stalled connections to make room "
        "({} so far)",
        connection_cap_, made_room_);
  }
  static_cast<connection*>(victim)->close();
}

bool worker::accepting() const noexcept {
  if (connections_ >= connection_cap_) return false;
  return !python_ || !python_->saturated();
}

void worker::on_accept_gate(uv_check_t* check) noexcept {
  static_cast<worker*>(check->data)->accept_waiting();
}

void worker::accept_waiting() noexcept {
  bool still_waiting = false;
  for (auto& entry : listeners_) {
    if (!entry->waiting || stopping_) continue;
    if (!accepting()) {
      still_waiting = true;
      continue;
    }
    entry->waiting = false;
    (new connection(*this, entry->metrics))->start(&entry->handle.stream);
  }
  if (still_waiting) {
    make_room();  // Connections become idle or stall while clients wait.
  } else {
    uv_check_stop(&accept_gate_);
  }
}

void worker::connection_closed() noexcept {
  --connections_;
  making_room_ = false;
  accept_waiting();
  finish_if_done();
}

answerer worker::dispatch(request& req, responder& out) noexcept {
  ++requests_;
  if (slot_ != nullptr) slot_->requests.store(requests_, std::memory_order_relaxed);
  return dispatcher_->dispatch(req, out, uv_now(&loop_), !shutting_down_);
}

void worker::answer_metrics(const request& req, responder& out) noexcept {
  const std::string& status = config_.status_path;
  bool page = !status.empty() && req.path == status;
  bool data = !status.empty() && req.path.size() == status.size() + 5 &&
              req.path.starts_with(status) && req.path.ends_with(".json");
  if (req.path != "/metrics" && !page && !data) {
    out.send_status(404);
    return;
  }
  if (req.method != "GET" && req.method != "HEAD") {
    out.send_status(405, "Allow: GET, HEAD\r\n");
    return;
  }
  constexpr std::string_view fresh = "Cache-Control: no-store\r\n";
  if (page) {
    out.send(200, "Content-Type: text/html; charset=utf-8\r\n", fresh, status_page_html());
  } else if (data) {
    metrics_text_ = status_json(*board_);
    out.send(200, "Content-Type: application/json\r\n", fresh, metrics_text_);
  } else {
    std::vector<int> fds;
    for (auto& entry : listeners_) {
      uv_os_fd_t fd = -1;
      if (!entry->metrics && uv_fileno(&entry->handle.handle, &fd) == 0) fds.push_back(fd);
    }
    metrics_text_ = render_metrics(*board_, fds);
    out.send(200, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n", {}, metrics_text_);
  }
}

void worker::report_gauges() noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  worker_gauges& gauges = slot_->gauges;
  gauges.connections.store(connections_, relaxed);
  gauges.idle_connections.store(
      queue(timeout_kind::keepalive).size() + queue(timeout_kind::last_call).size(), relaxed);
  gauges.python_waiting.store(python_ ? python_->waiting() : 0, relaxed);
  gauges.python_busy.store(python_ ? python_->busy() : 0, relaxed);
}

void worker::make_request_id(char (&id)[32]) noexcept {
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(random_()),
                static_cast<unsigned long long>(random_()));
  std::memcpy(id, text, sizeof id);
}

bool worker::body_too_slow(std::uint64_t started_ms, std::uint64_t received) noexcept {
  if (config_.body_min_rate <= 0) return false;
  auto allowed = static_cast<std::uint64_t>(config_.body_timeout.count()) +
                 received * 1000 / static_cast<std::uint64_t>(config_.body_min_rate);
  return uv_now(&loop_) - started_ms > allowed;
}

void worker::arm(connection& c, timeout_kind kind) noexcept {
  std::uint64_t now = uv_now(&loop_);
  std::uint64_t deadline = queue(kind).arm(c, now);
  if (timer_due_ == 0 || deadline < timer_due_) {
    timer_due_ = deadline;
    uv_timer_start(&timer_, on_timer, deadline - now, 0);
  }
}

void worker::on_timer(uv_timer_t* timer) noexcept {
  auto& self = *static_cast<worker*>(timer->data);
  self.timer_due_ = 0;
  self.expire_timeouts();
  self.schedule_timer();
}

void worker::expire_timeouts() noexcept {
  std::uint64_t now = uv_now(&loop_);
  for (std::size_t kind = 0; kind < timeouts_.size(); ++kind) {
    while (timeout_link* expired = timeouts_[kind].pop_expired(now)) {
      static_cast<connection*>(expired)->on_timeout(static_cast<timeout_kind>(kind));
    }
  }
}

void worker::schedule_timer() noexcept {
  std::uint64_t earliest = 0;
  for (auto& waiting : timeouts_) {
    if (timeout_link* first = waiting.front()) {
      if (earliest == 0 || first->deadline() < earliest) earliest = first->deadline();
    }
  }
  if (earliest == 0 || (timer_due_ != 0 && timer_due_ <= earliest)) return;
  std::uint64_t now = uv_now(&loop_);
  timer_due_ = earliest;
  uv_timer_start(&timer_, on_timer, earliest > now ? earliest - now : 0, 0);
}

template <typename Function>
void worker::for_each_connection(Function function) noexcept {
  // Every open connection waits in exactly one queue. The function may close connections,
  // which takes them out of their queue, so the list is copied first.
  std::vector<connection*> open;
  for (auto& waiting : timeouts_) {
    for (timeout_link* link = waiting.front(); link != nullptr; link = waiting.next(*link)) {
      open.push_back(static_cast<connection*>(link));
    }
  }
  for (connection* c : open)
    function(*c);
}

void worker::on_signal(uv_signal_t* signal, int number) noexcept {
  auto& self = *static_cast<worker*>(signal->data);
  if (number == SIGUSR1) {
    reopen_log_files();
  } else if (number == SIGABRT) {
    // The master found a request the app has produced nothing for within timeout (or the
    // loop itself silent, but then this never runs): its client gets 504, the stacks are
    // logged, and the worker makes way for its replacement.
    spdlog::critical("Aborting (SIGABRT from the master): stopping gracefully");
    if (self.python_) self.python_->give_up_on_hung(monotonic_ms());
    if (self.errands_) {
      self.errands_->run(python::worker_abort);
      if (self.python_) self.errands_->dump_stacks(self.python_->thread_names());
    }
    self.stop_gracefully();
  } else if (number == SIGTERM) {
    spdlog::info("Stopping gracefully (SIGTERM)");
    self.begin_shutdown();
  } else {
    spdlog::info("Stopping now ({})", number == SIGINT ? "SIGINT" : "SIGQUIT");
    if (self.errands_) self.errands_->run(python::worker_int);
    self.stop_now();
  }
}

void worker::begin_shutdown() noexcept {
  if (shutting_down_) return;
  start_shutdown_clock();
  // Readiness answers 503 from now on, and responses close their connections, while the
  // worker still accepts for shutdown_delay, so that load balancers notice and stop sending
  // before anything is refused.
  uv_timer_start(
      &shutdown_delay_,
      [](uv_timer_t* timer) { static_cast<worker*>(timer->data)->turn_clients_away(); },
      static_cast<std::uint64_t>(config_.shutdown_delay.count()), 0);
}

void worker::turn_clients_away() noexcept {
  // Shared sockets the master turns new clients away from; with reuse_port the sockets are
  // this worker's alone, and it does so itself: their retried SYNs go to another worker.
  if (config_.reuse_port) {
    for (auto& entry : listeners_) {
      uv_os_fd_t fd = -1;
      if (entry->handle.stream.type == UV_TCP && uv_fileno(&entry->handle.handle, &fd) == 0) {
        turn_away_new_clients(fd);
      }
    }
  }
  // Clients whose connections the kernel had just made still come in for a moment: their
  // requests are on their way, and the socket may close with this worker.
  uv_timer_start(
      &shutdown_delay_,
      [](uv_timer_t* timer) { static_cast<worker*>(timer->data)->stop_gracefully(); },
      last_accept_ms, 0);
}

void worker::start_shutdown_clock() noexcept {
  shutting_down_ = true;
  // graceful_timeout 0 means no grace at all: what is left closes on the next turn of the loop.
  uv_timer_start(&graceful_deadline_, on_graceful_deadline,
                 static_cast<std::uint64_t>(config_.graceful_timeout.count()), 0);
}

void worker::stop_now() noexcept {
  shutting_down_ = true;
  stop_gracefully();
  for_each_connection([](connection& c) { c.close(); });
}

void worker::stop_gracefully() noexcept {
  if (stopping_) return;
  stopping_ = true;
  if (slot_ != nullptr) slot_->state.store(worker_state::stopping);
  for (auto& entry : listeners_) {
    accept_queued(*entry);
    uv_close(&entry->handle.handle, nullptr);
  }
  for_each_connection([](connection& c) { c.drain(); });
  // Stopped for another reason than TERM (the master is gone): the deadline starts now.
  if (!shutting_down_) start_shutdown_clock();
  uv_timer_stop(&shutdown_delay_);
  finish_if_done();
}

void worker::accept_queued(listening& entry) noexcept {
  // Clients in the kernel's accept queue connected before the stop and have sent a request
  // (accept is deferred until data arrives): they are answered, not reset when the socket
  // closes. The cap on connections does not apply to these last few.
  bool unix_socket = entry.handle.stream.type == UV_NAMED_PIPE;
  if (entry.waiting) {
    entry.waiting = false;
    (new connection(*this, entry.metrics))->start(&entry.handle.stream);
  }
  uv_os_fd_t fd = -1;
  if (uv_fileno(&entry.handle.handle, &fd) != 0) return;
  while (true) {
    int client = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN: the queue is empty.
    }
    (new connection(*this, entry.metrics))->start(client, unix_socket);
  }
}

void worker::on_graceful_deadline(uv_timer_t* timer) noexcept {
  auto& self = *static_cast<worker*>(timer->data);
  spdlog::warn("graceful_timeout expired: closing {} connections", self.connections_);
  self.for_each_connection([](connection& c) { c.close(); });
}

void worker::finish_if_done() noexcept {
  if (!stopping_ || connections_ > 0) return;
  // The loop ends once these last handles are closed.
  for (uv_handle_t* handle : {reinterpret_cast<uv_handle_t*>(&timer_),
                              reinterpret_cast<uv_handle_t*>(&graceful_deadline_),
                              reinterpret_cast<uv_handle_t*>(&heartbeat_),
                              reinterpret_cast<uv_handle_t*>(&shutdown_delay_),
                              reinterpret_cast<uv_handle_t*>(&accept_gate_)}) {
    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
  }
  if (python_) python_->close();
  for (auto& signal : signals_) {
    auto* handle = reinterpret_cast<uv_handle_t*>(&signal);
    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
  }
}

}  // namespace kiln
