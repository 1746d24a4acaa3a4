#include "arbiter.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <system_error>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "log.hpp"
#include "metrics.hpp"
#include "open_file_limit.hpp"
#include "out_of_memory.hpp"
#include "privileges.hpp"
#include "process_signals.hpp"
#include "process_title.hpp"
#include "python/hooks.hpp"
#include "python/interpreter.hpp"
#include "settings_text.hpp"
#include "upgrade.hpp"
#include "worker.hpp"

namespace kiln {
namespace {

// The handler only writes the signal's number into this pipe; the main loop reads it.
int signal_pipe[2] = {-1, -1};

extern "C" void queue_signal(int number) {
  int saved = errno;
  char byte = static_cast<char>(number);
  [[maybe_unused]] ssize_t ignored = write(signal_pipe[1], &byte, 1);
  errno = saved;
}

// How often the loop looks at heartbeats and quotas when no signal wakes it.
constexpr int tick_ms = 250;
// An aborted worker that is still there after this long is killed.
constexpr std::uint64_t abort_grace_ms = 1000;
// After graceful_timeout, workers get this much longer to exit on their own before the KILL.
constexpr std::uint64_t kill_margin_ms = 2000;
// A quick stop (INT, QUIT) gives workers this long before they are killed.
constexpr std::uint64_t quick_stop_ms = 5000;
// More than this many crashes within the window make the master wait before respawning.
constexpr std::size_t crash_limit = 5;
constexpr std::uint64_t crash_window_ms = 10000;
constexpr std::uint64_t max_backoff_ms = 30000;

// With reuse_port every worker has an accept queue of its own: when a worker hangs or dies, the
// kernel resets what its queue held, unless it may move them to another worker's.
void warn_of_lone_queues() {
  std::ifstream setting("/proc/sys/net/ipv4/tcp_migrate_req");
  int migrate = 0;
  if (setting >> migrate && migrate == 1) return;
  spdlog::warn(
      "reuse_port: each worker has its own accept queue, and the connections queued for a worker "
      "that hangs or is killed are reset, unless net.ipv4.tcp_migrate_req = 1 (Linux 5.14 and "
      "later; docker run --sysctl), which moves them to another worker");
}

}  // namespace

arbiter::arbiter(command_line line, configuration config, const app& application)
    : application_(application),
      line_(std::move(line)),
      config_(std::move(config)),
      random_(std::random_device{}()),
      pid_(getpid()),
      pidfile_(config_.values.pid, pid_),
      target_(static_cast<std::size_t>(config_.values.workers)) {
  executable_ = executable_path();
}

arbiter::~arbiter() {
  for (int& fd : signal_pipe) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

int arbiter::run() {
  set_process_title("kiln: master");
  for (const auto& warning : config_.warnings)
    spdlog::warn("{}", warning);
  // gunicorn's on_starting: before anything is bound. A hook that fails stops kiln, as the
  // team's deployment would not be what it expects.
  if (!python::on_starting(config_.values, target_)) {
    spdlog::critical("The on_starting hook failed: stopping kiln");
    return 1;
  }
  raise_open_file_limit(config_.values.worker_connections);
  // Room for every worker the settings allow, twice over: during a reload or a retirement old
  // and new workers overlap.
  scoreboard_ = std::make_unique<scoreboard>(2 * max_workers + 64);
  open_listeners();
  install_signal_handlers();
  pidfile_.write();
  spdlog::info("Starting kiln {} (master pid: {})", KILN_VERSION, pid_);
  for (const auto& socket : listeners_)
    spdlog::info("Listening at: {} ({})", socket->url(), pid_);
  if (metrics_listener_) spdlog::info("Serving metrics at: {}/metrics", metrics_listener_->url());
  spdlog::info("Using {} workers", target_);
  if (config_.values.reuse_port) warn_of_lone_queues();
  // At debug level, what the configuration changed from the defaults, and where it came from.
  std::string described = describe(config_);
  for (std::size_t start = 0, end; start < described.size(); start = end + 1) {
    end = described.find('\n', start);
    if (end == std::string::npos) end = described.size();
    std::string_view line(described.data() + start, end - start);
    if (line.find(" = ") != std::string_view::npos && !line.ends_with("# default")) {
      spdlog::debug("Setting {}", line);
    }
  }

  const auto& values = config_.values;
  if (!values.wsgi_app.empty() && values.preload_app && !preload_app()) {
    exit_code_ = python::app_load_failed;
    pidfile_.remove();
    return exit_code_;
  }
  if (!python::when_ready(target_)) {
    spdlog::critical("The when_ready hook failed: stopping kiln");
    pidfile_.remove();
    return 1;
  }
  manage_workers();
  while (state_ != state::stopped) {
    wait_for_signals();
    while (!pending_signals_.empty()) {
      int number = pending_signals_.front();
      pending_signals_.pop_front();
      handle_signal(number);
    }
    reap_workers();
    murder_workers();
    if (config_.values.reload) reload_if_changed();
    manage_workers();
    take_history_sample();
  }
  if (new_master_ != 0) {
    // The re-executed master serves these sockets now.
    for_each_socket([](listener& socket) { socket.keep_socket_file(); });
  }
  pidfile_.remove();
  python::on_exit();
  // A preloaded app's atexit functions run here, as in gunicorn's master.
  python::run_exit_functions();
  spdlog::info("Shutting down: master exits with {}", exit_code_);
  return exit_code_;
}

void arbiter::take_history_sample() {
  if (!metrics_listener_) return;
  std::uint64_t now = monotonic_ms();
  if (now < next_sample_ms_) return;
  next_sample_ms_ = now + 1000;
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  record_history(*scoreboard_, static_cast<std::uint64_t>(wall.tv_sec) * 1000 +
                                   static_cast<std::uint64_t>(wall.tv_nsec) / 1000000);
}

void arbiter::install_signal_handlers() {
  if (pipe2(signal_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
    throw std::system_error(errno, std::generic_category(), "pipe2 for signals");
  }
  struct sigaction action {};
  action.sa_handler = queue_signal;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  for (int number : master_signals)
    sigaction(number, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

void arbiter::wait_for_signals() {
  int timeout = tick_ms;
  if (std::uint64_t now = monotonic_ms(); release_sockets_ms_ != UINT64_MAX) {
    timeout = static_cast<int>(
        std::min<std::uint64_t>(static_cast<std::uint64_t>(timeout),
                                release_sockets_ms_ > now ? release_sockets_ms_ - now : 0));
  }
  if (!pending_signals_.empty()) timeout = 0;
  pollfd ready{signal_pipe[0], POLLIN, 0};
  if (poll(&ready, 1, timeout) > 0) {
    char numbers[64];
    ssize_t count;
    while ((count = read(signal_pipe[0], numbers, sizeof numbers)) > 0) {
      for (ssize_t i = 0; i < count; ++i) {
        int number = static_cast<unsigned char>(numbers[i]);
        // CHLD only says "reap"; the loop reaps on every turn anyway.
        if (number != SIGCHLD) pending_signals_.push_back(number);
      }
    }
  }
}

void arbiter::handle_signal(int number) {
  if (number != SIGCHLD) spdlog::info("Handling signal: {}", signal_name(number));
  switch (number) {
    case SIGTERM:
      stop(true);
      break;
    case SIGINT:
    case SIGQUIT:
      stop(false);
      break;
    case SIGHUP:
      reload();
      break;
    case SIGTTIN:
      if (target_ < static_cast<std::size_t>(max_workers)) {
        ++target_;
        python::nworkers_changed(target_, target_ - 1);
      }
      spdlog::info("Number of workers: {}", target_);
      break;
    case SIGTTOU:
      if (target_ > 1) {
        --target_;
        python::nworkers_changed(target_, target_ + 1);
      }
      spdlog::info("Number of workers: {}", target_);
      break;
    case SIGUSR1:
      reopen_logs();
      break;
    case SIGUSR2:
      reexec();
      break;
    default:
      break;
  }
}

void arbiter::open_listeners() {
  const settings& values = config_.values;
  listen_options options{static_cast<int>(values.backlog), values.reuse_port};
  // Sockets handed over by systemd or by the master that re-executed this one on USR2.
  std::vector<listener> inherited;
  std::vector<std::string> names;
  for (auto& socket : take_inherited_sockets()) {
    inherited.push_back(listener::adopt(socket.fd, socket.name, options));
    names.push_back(socket.name);
  }
  std::vector<bool> taken(inherited.size(), false);
  auto find_inherited = [&](auto matches) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < inherited.size(); ++i) {
      if (!taken[i] && matches(i)) return i;
    }
    return std::nullopt;
  };
  bool bind_given = config_.origin("bind") != "default";
  for (const auto& text : values.bind) {
    // Prefer the socket handed over under this bind's name, then one bound to its address.
    auto address = parse_listen_address(text);
    auto match = find_inherited([&](std::size_t i) { return names[i] == text; });
    if (!match)
      match = find_inherited([&](std::size_t i) { return inherited[i].bound_to(address); });
    if (match) {
      taken[*match] = true;
      listeners_.push_back(std::make_shared<listener>(std::move(inherited[*match])));
    } else if (bind_given || inherited.empty()) {
      listeners_.push_back(std::make_shared<listener>(listener::open(text, options)));
    }
  }
  if (const auto& metrics = values.metrics_bind; !metrics.empty()) {
    // Its own socket, shared by every worker even with reuse_port; after USR2, the old master's.
    auto match = find_inherited([&](std::size_t i) { return names[i] == metrics; });
    if (match) {
      taken[*match] = true;
      metrics_listener_ = std::make_shared<listener>(std::move(inherited[*match]));
    } else {
      metrics_listener_ = std::make_shared<listener>(
          listener::open(metrics, listen_options{static_cast<int>(values.backlog), false}));
    }
  }
  for (std::size_t i = 0; i < inherited.size(); ++i) {
    if (taken[i]) continue;
    if (bind_given) {
      spdlog::warn("Closing inherited socket {}: no bind setting names it", inherited[i].url());
    } else {
      // Socket activation without a bind setting: serve what systemd handed over.
      listeners_.push_back(std::make_shared<listener>(std::move(inherited[i])));
      serving_inherited_ = true;
    }
  }
}

std::uint64_t arbiter::draw_quota() {
  const settings& values = config_.values;
  if (values.max_requests <= 0) return 0;
  std::uint64_t quota = static_cast<std::uint64_t>(values.max_requests);
  if (values.max_requests_jitter > 0) {
    quota += std::uniform_int_distribution<std::uint64_t>(
        0, static_cast<std::uint64_t>(values.max_requests_jitter))(random_);
  }
  return quota;
}

void arbiter::spawn_worker() {
  worker_slot* slot = scoreboard_->claim();
  if (slot == nullptr) {
    spdlog::error("No free scoreboard slot: not starting another worker");
    return;
  }
  std::vector<int> fds;
  std::vector<int> own_sockets;  // reuse_port sockets the child takes over.
  try {
    for (const auto& socket : listeners_) {
      if (socket->shared()) {
        fds.push_back(socket->fd());
      } else {
        own_sockets.push_back(socket->socket_for_worker());
        fds.push_back(own_sockets.back());
      }
    }
  } catch (const std::system_error& error) {
    spdlog::error("Cannot make a socket for a new worker: {}", error.what());
    for (int fd : own_sockets)
      ::close(fd);
    scoreboard_->release(*slot);
    return;
  }
  unsigned number = ++spawned_;
  // Signals wait until each process has its own handlers: a child must never run the master's
  // handler, which would queue the signal for the master.
  signal_blocker blocked;
  // With the app preloaded, CPython's fork hooks run around the fork (os.register_at_fork).
  python::pre_fork(number);
  python::before_fork();
  pid_t pid = fork();
  if (pid == 0) {
    python::after_fork_in_child();
    // raw_env (gunicorn's -e): the app's own variables, set before it is imported.
    for (const auto& pair : config_.values.raw_env) {
      auto equals = pair.find('=');
      python::set_environment_variable(pair.substr(0, equals), pair.substr(equals + 1));
    }
    python::post_fork(number);
    run_worker(*slot, number, fds, blocked.previous());
  }
  python::after_fork_in_parent();
  blocked.restore();
  for (int fd : own_sockets)
    ::close(fd);
  if (pid < 0) {
    spdlog::error("fork: {}", errno_text(errno));
    scoreboard_->release(*slot);
    return;
  }

  scoreboard_->master().worker_starts.fetch_add(1);
  slot->pid.store(pid);
  workers_.push_back({.pid = pid,
                      .number = number,
                      .generation = generation_,
                      .slot = slot,
                      .quota = draw_quota()});
  spdlog::info("Booting worker with pid: {}", pid);
}

void arbiter::run_worker(worker_slot& slot, unsigned number, const std::vector<int>& fds,
                         const sigset_t& signal_mask) {
  // What belongs to the master stays with it: its signal handlers and its signal pipe. The
  // signals only the master acts on are ignored, so that `pkill -HUP kiln`, which matches
  // "kiln: worker" too, cannot kill the workers, nor TTIN stop them.
  reset_signal_handlers();
  for (int ignored : {SIGHUP, SIGTTIN, SIGTTOU, SIGUSR2})
    std::signal(ignored, SIG_IGN);
  for (int fd : signal_pipe)
    ::close(fd);
  // A worker must not outlive its master.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != pid_) _exit(0);
  set_process_title(fmt::format("kiln: worker {}", number));
  init_worker_logging();
  int code = 0;
  try {
    drop_privileges(config_.values.user, config_.values.group);
    worker server(config_.values, fds, &slot, &application_, scoreboard_.get(),
                  metrics_listener_ ? metrics_listener_->fd() : -1);
    // The worker has its own descriptors for the sockets; the master's, copied by fork, would
    // keep a socket open after the worker has stopped accepting from it.
    for (int fd : fds) {
      bool masters = false;
      for_each_socket([&](listener& socket) { masters = masters || socket.fd() == fd; });
      if (!masters) ::close(fd);  // With reuse_port, made for this worker alone.
    }
    for_each_socket([](listener& socket) { socket.close_socket(); });
    // The worker's own handlers are in place: signals sent meanwhile reach them now.
    sigprocmask(SIG_SETMASK, &signal_mask, nullptr);
    code = server.run();
  } catch (const python::app_load_error& error) {
    spdlog::error("{}", error.what());
    shutdown_logging();
    _exit(python::app_load_failed);
  } catch (const std::exception& error) {
    spdlog::error("Worker failed to boot: {}", error.what());
    shutdown_logging();
    _exit(worker_boot_failed);
  }
  shutdown_logging();
  // _exit: the master's objects, copied into this process by fork, are not this process's to
  // destroy (its unix socket files, its pidfile).
  _exit(code);
}

void arbiter::stop_worker(worker_process& process, int signal, exit_cause cause) {
  if (process.stop_sent_ms == 0) {
    process.stop_sent_ms = monotonic_ms();
    process.stop_cause = cause;
  }
  ::kill(process.pid, signal);
}

void arbiter::reap_workers() {
  int status = 0;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    if (pid == new_master_) {
      spdlog::error("The new master (pid: {}) exited with {}; this one goes on", pid,
                    describe_status(status));
      new_master_ = 0;
      pidfile_.step_back();
      continue;
    }
    auto found = std::find_if(workers_.begin(), workers_.end(),
                              [&](const worker_process& w) { return w.pid == pid; });
    if (found == workers_.end()) continue;  // As PID 1, the master reaps orphans too.
    worker_process process = *found;
    workers_.erase(found);
    python::child_exit(process.number, pid);
    bool expected = process.stop_sent_ms != 0 || process.abort_sent_ms != 0;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
    exit_cause cause = process.abort_sent_ms != 0  ? exit_cause::timeout
                       : process.stop_sent_ms != 0 ? process.stop_cause
                                                   : exit_cause::crash;
    scoreboard_->master().exits[static_cast<std::size_t>(cause)].fetch_add(1);
    if (code == worker_boot_failed || code == python::app_load_failed) {
      scoreboard_->release(*process.slot);
      worker_failed_to_boot(process, code);
      continue;
    }
    scoreboard_->release(*process.slot);
    if (expected || state_ != state::running) {
      spdlog::info("Worker exited (pid: {}): {}", pid, describe_status(status));
      continue;
    }
    if (code == worker_out_of_memory) {
      spdlog::error("Worker (pid: {}) ran out of memory and exited: replacing it", pid);
    } else {
      spdlog::error("Worker (pid: {}) died unexpectedly: {}", pid, describe_status(status));
    }
    std::uint64_t now = monotonic_ms();
    recent_crashes_.push_back(now);
    while (!recent_crashes_.empty() && now - recent_crashes_.front() > crash_window_ms) {
      recent_crashes_.pop_front();
    }
    if (recent_crashes_.size() > crash_limit) {
      backoff_ms_ = std::min(max_backoff_ms, backoff_ms_ == 0 ? 1000 : backoff_ms_ * 2);
      respawn_after_ms_ = now + backoff_ms_;
      spdlog::error("{} workers died in {} s: waiting {} ms before starting another",
                    recent_crashes_.size(), crash_window_ms / 1000, backoff_ms_);
    }
  }
  if (state_ == state::stopping) {
    release_sockets_if_due();
    if (workers_.empty()) {
      state_ = state::stopped;
    } else if (monotonic_ms() >= stop_deadline_ms_) {
      for (auto& process : workers_) {
        spdlog::warn("Killing worker (pid: {}): it did not stop in time", process.pid);
        ::kill(process.pid, SIGKILL);
      }
      stop_deadline_ms_ = UINT64_MAX;  // Once; they are reaped when they are gone.
    }
  }
}

void arbiter::worker_failed_to_boot(const worker_process& process, int code) {
  if (process.generation != generation_ || process.stop_sent_ms != 0 || state_ != state::running) {
    // A worker of a configuration already given up, or one told to stop anyway.
    spdlog::info("Worker (pid: {}) failed to boot too (exit code {}); it was not needed any more",
                 process.pid, code);
    return;
  }
  if (rollback_) {
    // A reload's workers cannot start: go back to the configuration the old workers run.
    spdlog::error("Worker (pid: {}) of the new configuration failed to boot: keeping the old one",
                  process.pid);
    for (auto& w : workers_) {
      if (w.generation == generation_) stop_worker(w, SIGTERM, exit_cause::reload);
    }
    config_ = std::move(rollback_->config);
    listeners_ = std::move(rollback_->listeners);
    generation_ = rollback_->generation;
    rollback_.reset();
    set_log_level(config_.values.log_level);
    target_ = static_cast<std::size_t>(config_.values.workers);
    return;
  }
  if (code == python::app_load_failed) {
    spdlog::critical("Worker (pid: {}) could not load the app {}: stopping kiln", process.pid,
                     config_.values.wsgi_app);
  } else {
    spdlog::critical("Worker (pid: {}) failed to boot: stopping kiln", process.pid);
  }
  exit_code_ = code;
  stop(false);
}

void arbiter::murder_workers() {
  std::uint64_t timeout = static_cast<std::uint64_t>(config_.values.timeout.count());
  std::uint64_t now = monotonic_ms();
  for (auto& process : workers_) {
    if (process.abort_sent_ms != 0) {
      if (now >= process.kill_after_ms) {
        ::kill(process.pid, SIGKILL);
        process.kill_after_ms = now + abort_grace_ms;  // Until it is reaped, KILL again.
      }
      continue;
    }
    if (timeout == 0) continue;
    std::uint64_t heartbeat = process.slot->heartbeat_ms.load(std::memory_order_relaxed);
    std::uint64_t request = process.slot->oldest_request_ms.load(std::memory_order_relaxed);
    if (now > heartbeat && now - heartbeat > timeout) {
      // The loop itself is stuck: ABRT, and KILL soon after.
      spdlog::critical("WORKER TIMEOUT (pid:{})", process.pid);
      process.kill_after_ms = now + abort_grace_ms;
    } else if (request != 0 && now > request && now - request > timeout) {
      // The loop beats, but a request has got nothing from the app for timeout: the worker
      // answers it 504, logs the app's stacks and stops gracefully while a new one starts.
      spdlog::critical("WORKER TIMEOUT (pid:{}): a request has had nothing from the app for {} s",
                       process.pid, (now - request) / 1000);
      process.kill_after_ms = now +
                              static_cast<std::uint64_t>(config_.values.graceful_timeout.count()) +
                              kill_margin_ms;
    } else {
      continue;
    }
    ::kill(process.pid, SIGABRT);
    process.abort_sent_ms = now;
  }
}

std::size_t arbiter::count_serving(unsigned generation, bool ready_only) const {
  return static_cast<std::size_t>(
      std::count_if(workers_.begin(), workers_.end(), [&](const auto& w) {
        return w.generation == generation && w.stop_sent_ms == 0 && w.abort_sent_ms == 0 &&
               !w.replacing && (!ready_only || w.slot->state.load() == worker_state::ready);
      }));
}

void arbiter::manage_workers() {
  if (state_ != state::running) return;
  std::uint64_t now = monotonic_ms();

  // A worker at its max_requests quota retires once its replacement serves; one at a time, so
  // that retirements never take several workers out at once.
  bool replacing = std::any_of(workers_.begin(), workers_.end(),
                               [](const auto& w) { return w.replacing && w.stop_sent_ms == 0; });
  if (!replacing) {
    for (auto& process : workers_) {
      if (process.quota != 0 && process.stop_sent_ms == 0 && process.generation == generation_ &&
          process.slot->requests.load(std::memory_order_relaxed) >= process.quota) {
        spdlog::info("Worker (pid: {}) reached max_requests ({}): replacing it", process.pid,
                     process.quota);
        process.replacing = true;
        break;
      }
    }
  }

  std::size_t serving = count_serving(generation_, false);
  while (serving < target_ && now >= respawn_after_ms_) {
    std::size_t before = workers_.size();
    spawn_worker();
    if (workers_.size() == before) break;
    ++serving;
  }
  // Too many (TTOU): the oldest go first.
  for (auto& process : workers_) {
    if (serving <= target_) break;
    if (process.generation == generation_ && process.stop_sent_ms == 0 &&
        process.abort_sent_ms == 0 && !process.replacing) {
      stop_worker(process, SIGTERM, exit_cause::scale_down);
      --serving;
    }
  }

  // Workers of an older configuration, and those being replaced, stop once the current
  // workers are all serving: there is no moment without enough workers accepting.
  if (count_serving(generation_, true) >= target_) {
    for (auto& process : workers_) {
      if (process.stop_sent_ms == 0 && (process.generation != generation_ || process.replacing)) {
        stop_worker(process, SIGTERM, process.replacing ? exit_cause::recycle : exit_cause::reload);
      }
    }
    rollback_.reset();
  }
  if (now >= respawn_after_ms_ + crash_window_ms * 3) backoff_ms_ = 0;
}

void arbiter::stop(bool graceful) {
  if (state_ == state::stopped) return;
  if (state_ == state::stopping && graceful) return;
  state_ = state::stopping;
  // Workers close what is left themselves at graceful_timeout; the master's KILL comes a little
  // later, for the workers that could not.
  std::uint64_t grace =
      graceful
          ? static_cast<std::uint64_t>(config_.values.graceful_timeout.count()) + kill_margin_ms
          : quick_stop_ms;
  stop_deadline_ms_ =
      std::min(stop_deadline_ms_ == 0 ? UINT64_MAX : stop_deadline_ms_, monotonic_ms() + grace);
  for (auto& process : workers_)
    stop_worker(process, graceful ? SIGTERM : SIGQUIT, exit_cause::shutdown);
  // The workers go on accepting for shutdown_delay; then the sockets are let go of.
  std::uint64_t delay =
      graceful ? static_cast<std::uint64_t>(config_.values.shutdown_delay.count()) : 0;
  release_sockets_ms_ = std::min(release_sockets_ms_, monotonic_ms() + delay);
  release_sockets_if_due();
  if (workers_.empty()) state_ = state::stopped;
}

void arbiter::release_sockets_if_due() {
  if (monotonic_ms() < release_sockets_ms_) return;
  release_sockets_ms_ = UINT64_MAX;
  // No worker will be started again. New clients are turned away first, so that none is
  // half-way in when a socket closes (the workers accept a moment longer, for those whose
  // connections the kernel had just made); then the master lets go of the sockets, so that
  // each closes with its last worker. Held on, they would queue new clients for nobody until
  // the master exits, and then reset them.
  // A new master (USR2) serves the same sockets: they stay open to clients.
  bool handed_over = new_master_ != 0;
  for_each_socket([&](listener& socket) {
    if (!handed_over) socket.refuse_new_clients();
    socket.close_socket();
  });
}

template <typename Action>
void arbiter::for_each_socket(Action action) {
  for (auto& socket : listeners_)
    action(*socket);
  if (metrics_listener_) action(*metrics_listener_);
  if (rollback_) {
    for (auto& socket : rollback_->listeners)
      action(*socket);
  }
}

std::vector<std::shared_ptr<listener>> arbiter::sockets_for(const configuration& config) const {
  // Sockets systemd handed over stay as long as no bind setting replaces them.
  if (serving_inherited_ && config.origin("bind") == "default") return listeners_;
  const settings& values = config.values;
  listen_options options{static_cast<int>(values.backlog), values.reuse_port};
  std::vector<std::shared_ptr<listener>> sockets;
  for (const auto& text : values.bind) {
    auto same = std::find_if(listeners_.begin(), listeners_.end(), [&](const auto& held) {
      return held->bind_text() == text && held->suits(values.reuse_port);
    });
    if (same != listeners_.end()) {
      sockets.push_back(*same);
    } else {
      sockets.push_back(std::make_shared<listener>(listener::open(text, options)));
      spdlog::info("Listening at: {} ({})", sockets.back()->url(), pid_);
    }
  }
  return sockets;
}

void arbiter::reload() {
  if (state_ != state::running) return;
  if (python::loaded_app() != nullptr) {
    spdlog::warn(
        "preload_app: the new workers run the app the master imported at start; "
        "restart kiln to run new code");
  }
  configuration fresh;
  std::vector<std::shared_ptr<listener>> sockets;
  try {
    fresh = load_configuration(line_, process_environment());
    sockets = sockets_for(fresh);
  } catch (const std::exception& error) {
    // Whatever sockets were made for it close here; the running configuration keeps its own.
    spdlog::error("Reload failed, still running the previous configuration: {}", error.what());
    return;
  }
  if (fresh.values.metrics_bind != config_.values.metrics_bind) {
    spdlog::warn("metrics_bind changed from \"{}\" to \"{}\": it takes a restart; keeping \"{}\"",
                 config_.values.metrics_bind, fresh.values.metrics_bind,
                 config_.values.metrics_bind);
    fresh.values.metrics_bind = config_.values.metrics_bind;
  }
  rollback_ = rollback{std::move(config_), listeners_, generation_};
  listeners_ = std::move(sockets);
  config_ = std::move(fresh);
  for (const auto& warning : config_.warnings)
    spdlog::warn("{}", warning);
  set_log_level(config_.values.log_level);
  python::on_reload();
  std::size_t before = target_;
  target_ = static_cast<std::size_t>(config_.values.workers);
  if (target_ != before) python::nworkers_changed(target_, before);
  generation_ = ++last_generation_;
  spdlog::info("Reloaded the configuration: starting {} new workers", target_);
}

bool arbiter::preload_app() {
  // The app is imported from chdir, as in a worker; the master goes back where it was, so that
  // the configuration's relative paths keep their meaning.
  const settings& values = config_.values;
  int here = ::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  try {
    if (!values.chdir.empty() && ::chdir(values.chdir.c_str()) != 0) {
      throw python::app_load_error(fmt::format("chdir to {}: {}", values.chdir, errno_text(errno)));
    }
    python::start_interpreter(values);
    python::load_app(values);
  } catch (const python::app_load_error& error) {
    spdlog::critical("{}", error.what());
    if (here >= 0) ::close(here);
    return false;
  }
  if (here >= 0) {
    if (::fchdir(here) != 0) spdlog::warn("fchdir back: {}", errno_text(errno));
    ::close(here);
  }
  spdlog::info("Preloaded the app {}", values.wsgi_app);
  return true;
}

long long arbiter::app_sources_signature() const {
  // Every .py file under chdir, except those of virtual environments, caches and hidden
  // directories; a sum of modification times and sizes changes when any file does.
  namespace fs = std::filesystem;
  const settings& values = config_.values;
  long long signature = 0;
  std::error_code error;
  fs::path top = values.chdir.empty() ? fs::current_path(error) : fs::path(values.chdir);
  fs::recursive_directory_iterator walk(top, fs::directory_options::skip_permission_denied, error);
  for (auto end = fs::recursive_directory_iterator(); !error && walk != end;
       walk.increment(error)) {
    const auto& entry = *walk;
    std::string name = entry.path().filename().string();
    if (entry.is_directory(error)) {
      if (name.starts_with('.') || name == "__pycache__" || name == "node_modules" ||
          fs::exists(entry.path() / "pyvenv.cfg", error)) {
        walk.disable_recursion_pending();
      }
      continue;
    }
    if (entry.path().extension() != ".py") continue;
    struct stat status {};
    if (::stat(entry.path().c_str(), &status) == 0) {
      signature += status.st_mtim.tv_sec * 1000000000LL + status.st_mtim.tv_nsec + status.st_size;
    }
  }
  return signature;
}

void arbiter::reload_if_changed() {
  if (state_ != state::running) return;
  std::uint64_t now = monotonic_ms();
  if (!config_.values.wsgi_app.empty() && now >= next_source_scan_ms_) {
    // Like gunicorn --reload and flask run: the app's code changed, so new workers import it.
    // Looked at once a second: a tree walk is not free.
    next_source_scan_ms_ = now + 1000;
    long long sources = app_sources_signature();
    if (app_sources_ != 0 && sources != app_sources_) {
      app_sources_ = sources;
      spdlog::info("The app's .py files changed: reloading");
      reload();
      return;
    }
    app_sources_ = sources;
  }
  if (config_.file.empty()) return;
  struct stat status {};
  if (::stat(config_.file.c_str(), &status) != 0) return;  // Mid-save: look again next turn.
  auto modified = status.st_mtim.tv_sec * 1000000000LL + status.st_mtim.tv_nsec;
  if (config_modified_ns_ == 0) {
    config_modified_ns_ = modified;
    return;
  }
  if (modified == config_modified_ns_) return;
  config_modified_ns_ = modified;
  spdlog::info("{} changed: reloading", config_.file);
  reload();
}

void arbiter::reexec() {
  if (new_master_ != 0) {
    spdlog::warn("USR2 ignored: the new master (pid: {}) is still running", new_master_);
    return;
  }
  python::pre_exec();
  // Moved first, so that the new master can write its own pidfile without a race.
  pidfile_.step_aside();
  auto sockets = listeners_;
  if (metrics_listener_) sockets.push_back(metrics_listener_);
  pid_t pid = start_new_master(executable_, sockets);
  if (pid == 0) {
    pidfile_.step_back();
    return;
  }
  new_master_ = pid;
  spdlog::info("Started a new master (pid: {}) from {}; stop this one (pid: {}) with TERM", pid,
               executable_, pid_);
}

void arbiter::reopen_logs() {
  reopen_log_files();
  for (auto& process : workers_)
    ::kill(process.pid, SIGUSR1);
}

}  // namespace kiln
