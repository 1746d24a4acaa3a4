#pragma once

#include <signal.h>
#include <string>

namespace kiln {

// The signals the master handles, and nothing else: a table, not a chain of ifs.
inline constexpr int master_signals[] = {SIGTERM, SIGINT,  SIGQUIT, SIGHUP, SIGTTIN,
                                         SIGTTOU, SIGUSR1, SIGUSR2, SIGCHLD};

// Blocks every signal for as long as it lives (or until restore()): around a fork, so that a
// child never runs its parent's handlers.
class signal_blocker {
 public:
  signal_blocker() noexcept;
  ~signal_blocker() { restore(); }
  signal_blocker(const signal_blocker&) = delete;
  signal_blocker& operator=(const signal_blocker&) = delete;
  void restore() noexcept;
  // The mask before: what a child sets once its own handlers are in place.
  const sigset_t& previous() const noexcept { return previous_; }

 private:
  sigset_t previous_;
  bool restored_ = false;
};

// Gives the master's signals their default handlers back, in a child that is not the master.
void reset_signal_handlers() noexcept;

// "TERM" for SIGTERM: the master's signals by the names operators use.
const char* signal_name(int number) noexcept;

// How a child process ended, from waitpid's status: "exit code 3", "signal 9 (Killed)".
std::string describe_status(int status);

}  // namespace kiln
