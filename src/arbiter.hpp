#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <signal.h>
#include <string>
#include <sys/types.h>
#include <vector>

#include <kiln/app.hpp>

#include "config.hpp"
#include "listener.hpp"
#include "pidfile.hpp"
#include "scoreboard.hpp"

namespace kiln {

// The exit code of a worker that could not start serving. The master stops instead of
// respawning it in a loop.
inline constexpr int worker_boot_failed = 3;

// The master process. It binds the sockets, forks the workers and keeps the right number of
// them alive: it replaces workers that die or hang, retires them after max_requests, reloads
// the configuration on HUP, scales on TTIN and TTOU, re-executes itself on USR2 and stops on
// TERM (gracefully) or INT and QUIT (at once). It never accepts a connection and has no event
// loop of its own: signal handlers only queue the signal, and the main loop acts on it, as in
// gunicorn's arbiter.
class arbiter {
 public:
  // The application is what every worker serves; it must outlive the arbiter.
  arbiter(command_line line, configuration config, const app& application);
  ~arbiter();
  arbiter(const arbiter&) = delete;
  arbiter& operator=(const arbiter&) = delete;

  // Serves until stopped; returns the exit code: 0, worker_boot_failed, or
  // python::app_load_failed when the app cannot be loaded. Throws
  // std::system_error when the sockets cannot be set up.
  int run();

 private:
  struct worker_process {
    pid_t pid = 0;
    unsigned number = 0;      // "kiln: worker N"; numbers are not reused.
    unsigned generation = 0;  // Which configuration it runs; HUP starts a new one.
    worker_slot* slot = nullptr;
    std::uint64_t quota = 0;  // Requests before it retires (max_requests and jitter); 0: never.
    std::uint64_t stop_sent_ms = 0;   // When it was told to stop (TERM or INT).
    std::uint64_t abort_sent_ms = 0;  // When it was aborted (WORKER TIMEOUT).
    std::uint64_t kill_after_ms = 0;  // After ABRT: when KILL follows if it is still there.
    bool replacing = false;           // At its quota: a replacement is on its way.
    exit_cause stop_cause = exit_cause::shutdown;  // Why it was told to stop, for the metrics.
  };
  enum class state { running, stopping, stopped };

  // The main loop's verbs.
  void wait_for_signals();
  void handle_signal(int number);
  void reap_workers();
  void murder_workers();
  void manage_workers();

  void open_listeners();
  // The sockets a configuration needs: those already held whose bind setting is unchanged, and
  // new ones for the rest. Throws when a new one cannot be made.
  std::vector<std::shared_ptr<listener>> sockets_for(const configuration& config) const;
  void spawn_worker();
  [[noreturn]] void run_worker(worker_slot& slot, unsigned number, const std::vector<int>& fds,
                               const sigset_t& signal_mask);
  void stop_worker(worker_process& process, int signal, exit_cause cause);
  void stop(bool graceful);
  void reload();
  // With the reload setting: reloads when the configuration file's modification time changes.
  void reload_if_changed();
  void reexec();
  void reopen_logs();
  // A worker exited with code (worker_boot_failed or app_load_failed) before it served.
  void worker_failed_to_boot(const worker_process& process, int code);
  // The Python app, imported here before the workers fork (preload_app); false when it failed.
  bool preload_app();
  // The modification times of the app's .py files, summed up: what reload watches.
  long long app_sources_signature() const;

  void install_signal_handlers();
  // With metrics_bind, once a second: the totals into the status page's history.
  void take_history_sample();
  std::uint64_t draw_quota();
  std::size_t count_serving(unsigned generation, bool ready_only) const;

  const app& application_;
  command_line line_;
  configuration config_;
  // What a reload replaced, kept until the new workers serve: a reload whose workers cannot
  // boot goes back to it.
  struct rollback {
    configuration config;
    std::vector<std::shared_ptr<listener>> listeners;
    unsigned generation;
  };
  std::optional<rollback> rollback_;
  // When a stopping master lets go of its sockets (UINT64_MAX: not stopping, or done).
  std::uint64_t release_sockets_ms_ = UINT64_MAX;
  void release_sockets_if_due();
  // Calls action on every socket the master holds: the configuration's, and a rollback's.
  template <typename Action>
  void for_each_socket(Action action);
  // Shared: a socket whose bind setting a reload keeps belongs to both configurations.
  std::vector<std::shared_ptr<listener>> listeners_;
  std::shared_ptr<listener> metrics_listener_;  // metrics_bind's, for the life of the master.
  bool serving_inherited_ = false;  // Sockets systemd handed over, with no bind setting given.
  std::string executable_;          // The binary USR2 runs, as an absolute path.
  std::unique_ptr<scoreboard> scoreboard_;
  std::vector<worker_process> workers_;
  std::deque<int> pending_signals_;
  std::deque<std::uint64_t> recent_crashes_;
  std::mt19937_64 random_;
  state state_ = state::running;
  pid_t pid_ = 0;
  pid_t new_master_ = 0;  // The re-executed binary after USR2, while it is our child.
  pidfile pidfile_;
  std::size_t target_ = 1;        // How many workers of the current generation should serve.
  unsigned generation_ = 0;       // The configuration workers are started with.
  unsigned last_generation_ = 0;  // Never reused, so that a stray worker cannot be mistaken.
  unsigned spawned_ = 0;
  std::uint64_t stop_deadline_ms_ = 0;
  std::uint64_t respawn_after_ms_ = 0;  // Crash back-off: no spawning before this.
  std::uint64_t backoff_ms_ = 0;
  long long config_modified_ns_ = 0;
  long long app_sources_ = 0;
  std::uint64_t next_source_scan_ms_ = 0;
  std::uint64_t next_sample_ms_ = 0;
  int exit_code_ = 0;
};

}  // namespace kiln
