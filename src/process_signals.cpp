#include "process_signals.hpp"

#include <cstring>
#include <sys/wait.h>

#include <fmt/format.h>

namespace kiln {

signal_blocker::signal_blocker() noexcept {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &previous_);
}

void signal_blocker::restore() noexcept {
  if (restored_) return;
  sigprocmask(SIG_SETMASK, &previous_, nullptr);
  restored_ = true;
}

void reset_signal_handlers() noexcept {
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  sigemptyset(&action.sa_mask);
  for (int number : master_signals)
    sigaction(number, &action, nullptr);
}

const char* signal_name(int number) noexcept {
  switch (number) {
    case SIGTERM:
      return "TERM";
    case SIGINT:
      return "INT";
    case SIGQUIT:
      return "QUIT";
    case SIGHUP:
      return "HUP";
    case SIGTTIN:
      return "TTIN";
    case SIGTTOU:
      return "TTOU";
    case SIGUSR1:
      return "USR1";
    case SIGUSR2:
      return "USR2";
    case SIGCHLD:
      return "CHLD";
    default:
      return "?";
  }
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return fmt::format("signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  }
  return fmt::format("status {}", status);
}

}  // namespace kiln
