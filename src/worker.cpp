#include "worker.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "http_syntax.hpp"
#include "log.hpp"

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
               const app* application)
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
                timeout_queue(5000)},
      read_buffer_(std::make_unique<char[]>(read_buffer_size)),
      application_(application),
      slot_(slot),
      parent_(getppid()),
      keepalive_enabled_(config.keepalive.count() > 0) {
  // Everything that can fail on a setting comes before the loop owns any handle.
  if (!config.access_log.empty()) {
    access_log_ = std::make_unique<access_log>(config.access_log, config.access_log_format);
    random_.seed(std::random_device{}());
  }
  if (!config.static_root.empty()) {
    static_files_ = std::make_unique<static_files>(
        static_options{config.static_root, config.spa_fallback, config.api_prefix});
  }

  if (int error = uv_loop_init(&loop_); error != 0) throw_uv(error, "uv_loop_init");
  uv_timer_init(&loop_, &timer_);
  timer_.data = this;
  uv_timer_init(&loop_, &graceful_deadline_);
  graceful_deadline_.data = this;
  uv_timer_init(&loop_, &heartbeat_);
  heartbeat_.data = this;
  uv_timer_init(&loop_, &shutdown_delay_);
  shutdown_delay_.data = this;
  constexpr int handled_signals[] = {SIGTERM, SIGINT, SIGQUIT, SIGUSR1};
  for (std::size_t i = 0; i < signals_.size(); ++i) {
    uv_signal_init(&loop_, &signals_[i]);
    signals_[i].data = this;
    uv_signal_start(&signals_[i], on_signal, handled_signals[i]);
  }

  for (int fd : listen_fds) {
    // The worker closes its listening handles when it stops; a duplicate keeps that from
    // closing the descriptor its creator still owns.
    int own_fd = ::dup(fd);
    if (own_fd < 0) throw std::system_error(errno, std::generic_category(), "dup");
    auto entry = std::make_unique<listening>();
    entry->owner = this;
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
  spdlog::info("Worker exiting (pid: {}) after {} requests", getpid(), requests_);
  return 0;
}

void worker::on_heartbeat(uv_timer_t* timer) noexcept {
  auto& self = *static_cast<worker*>(timer->data);
  if (self.slot_ != nullptr) {
    self.slot_->heartbeat_ms.store(monotonic_ms(), std::memory_order_relaxed);
  }
  // PR_SET_PDEATHSIG tells a worker that its master died; this catches a death before it was set.
  if (getppid() != self.parent_ && !self.stopping_) {
    spdlog::warn("The master is gone: stopping");
    self.stop_gracefully();
  }
}

void worker::on_connection(uv_stream_t* server, int status) noexcept {
  auto& entry = *static_cast<listening*>(server->data);
  worker& self = *entry.owner;
  if (status < 0) {
    spdlog::error("accept: {}", uv_error(status));
    return;
  }
  if (self.connections_ >= static_cast<std::size_t>(self.config_.worker_connections)) {
    // libuv keeps this one accepted socket and stops watching the listener until uv_accept.
    entry.waiting = true;
    return;
  }
  (new connection(self))->start(server);
}

void worker::accept_waiting() noexcept {
  for (auto& entry : listeners_) {
    if (!entry->waiting || stopping_) continue;
    if (connections_ >= static_cast<std::size_t>(config_.worker_connections)) return;
    entry->waiting = false;
    (new connection(*this))->start(&entry->handle.stream);
  }
}

void worker::connection_closed() noexcept {
  --connections_;
  accept_waiting();
  finish_if_done();
}

void worker::handle(request& req, responder& out) noexcept {
  ++requests_;
  if (slot_ != nullptr) slot_->requests.store(requests_, std::memory_order_relaxed);
  constexpr std::string_view probe_headers =
      "Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n";
  if (!config_.health_path.empty() && req.path == config_.health_path) {
    out.send(200, probe_headers, {}, "ok\n");  // The loop runs: that is all liveness means.
    return;
  }
  if (!config_.ready_path.empty() && req.path == config_.ready_path) {
    if (shutting_down_) {
      out.send(503, probe_headers, {}, "stopping\n");
    } else {
      out.send(200, probe_headers, {}, "ready\n");
    }
    return;
  }
  if (application_ != nullptr && !application_->empty()) {
    auto found = application_->find(req.method, req.path, req.params);
    if (found.function != nullptr) {
      call_handler(*found.function, req, out);
      return;
    }
    if (!found.allow.empty()) {
      scratch_.assign("Allow: ").append(found.allow).append("\r\n");
      out.send_status(405, scratch_);
      return;
    }
  }
  if (static_files_) {
    static_files_->serve(req, out, uv_now(&loop_));
  } else {
    out.send_status(404);
  }
}

void worker::assign_request_id(request& req) noexcept {
  // A client's (or a proxy's) id is kept when it is safe to echo and to log: visible ASCII.
  auto given = req.header_value("X-Request-ID");
  bool usable =
      given && !given->empty() && given->size() <= 200 &&
      std::all_of(given->begin(), given->end(), [](char c) { return c > ' ' && c < 0x7f; });
  request_id_line_.assign("X-Request-ID: ");
  std::size_t start = request_id_line_.size();
  if (usable) {
    request_id_line_.append(*given);
  } else {
    char id[33];
    std::snprintf(id, sizeof id, "%016llx%016llx", static_cast<unsigned long long>(random_()),
                  static_cast<unsigned long long>(random_()));
    request_id_line_.append(id, 32);
  }
  std::size_t length = request_id_line_.size() - start;
  request_id_line_.append("\r\n");
  req.request_id = std::string_view(request_id_line_).substr(start, length);
}

void worker::call_handler(const handler& function, request& req, responder& out) noexcept {
  try {
    response answer = function(req);
    if (answer.status < 200 || answer.status > 999) {
      throw std::invalid_argument("status " + std::to_string(answer.status) +
                                  " is not a final status");
    }
    scratch_.clear();
    for (const auto& [name, value] : answer.headers) {
      // kiln writes the framing itself; a handler's own would contradict it.
      if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
          iequals(name, "Connection") || iequals(name, "Date") || iequals(name, "Server")) {
        continue;
      }
      // Handlers may fill headers directly, past set_header's checks.
      if (!is_token(name) || !is_field_value(value)) {
        throw std::invalid_argument("header \"" + name + "\" is not a valid header");
      }
      scratch_.append(name).append(": ").append(value).append("\r\n");
    }
    out.send(answer.status, scratch_, {}, answer.body);
  } catch (const http_error& error) {
    // An error status, as the name says: 1xx or 0 would leave the client without a response.
    int status = error.status() >= 400 && error.status() <= 599 ? error.status() : 500;
    std::string body = nlohmann::json{{"error", error.what()}}.dump();
    out.send(status, "Content-Type: application/json\r\n", {}, body);
  } catch (const std::exception& error) {
    spdlog::error("{} {}: the handler failed: {}", req.method, req.path, error.what());
    out.send_status(500);
  } catch (...) {
    spdlog::error("{} {}: the handler threw something that is not a std::exception", req.method,
                  req.path);
    out.send_status(500);
  }
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
  } else if (number == SIGTERM) {
    spdlog::info("Stopping gracefully (SIGTERM)");
    self.begin_shutdown();
  } else {
    spdlog::info("Stopping now ({})", number == SIGINT ? "SIGINT" : "SIGQUIT");
    self.stop_now();
  }
}

void worker::begin_shutdown() noexcept {
  if (shutting_down_) return;
  start_shutdown_clock();
  if (config_.shutdown_delay.count() == 0) {
    stop_gracefully();
    return;
  }
  // Readiness answers 503 from now on, and responses close their connections, while the
  // worker still accepts: load balancers notice and stop sending before anything is refused.
  uv_timer_start(
      &shutdown_delay_,
      [](uv_timer_t* timer) { static_cast<worker*>(timer->data)->stop_gracefully(); },
      static_cast<std::uint64_t>(config_.shutdown_delay.count()), 0);
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
    (new connection(*this))->start(&entry.handle.stream);
  }
  uv_os_fd_t fd = -1;
  if (uv_fileno(&entry.handle.handle, &fd) != 0) return;
  while (true) {
    int client = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN: the queue is empty.
    }
    (new connection(*this))->start(client, unix_socket);
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
                              reinterpret_cast<uv_handle_t*>(&shutdown_delay_)}) {
    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
  }
  for (auto& signal : signals_) {
    auto* handle = reinterpret_cast<uv_handle_t*>(&signal);
    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
  }
}

}  // namespace kiln
