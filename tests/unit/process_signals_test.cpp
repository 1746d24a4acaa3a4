#include "process_signals.hpp"

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace kiln::test {
namespace {

int status_of_child(void (*body)()) {
  pid_t pid = fork();
  if (pid == 0) {
    body();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

}  // namespace

TEST_CASE("the master's signals have the names operators use", "[process_signals]") {
  CHECK(std::string(signal_name(SIGTERM)) == "TERM");
  CHECK(std::string(signal_name(SIGHUP)) == "HUP");
  CHECK(std::string(signal_name(SIGTTIN)) == "TTIN");
  CHECK(std::string(signal_name(SIGUSR2)) == "USR2");
  CHECK(std::string(signal_name(SIGWINCH)) == "?");
  for (int number : master_signals)
    CHECK(std::string(signal_name(number)) != "?");
}

TEST_CASE("how a child ended is said in words", "[process_signals]") {
  CHECK(describe_status(status_of_child([] { _exit(3); })) == "exit code 3");
  CHECK(describe_status(status_of_child([] { ::raise(SIGKILL); })) == "signal 9 (Killed)");
}

TEST_CASE("a signal_blocker holds signals back until it restores the mask", "[process_signals]") {
  sigset_t before;
  sigprocmask(SIG_SETMASK, nullptr, &before);
  {
    signal_blocker blocked;
    sigset_t during;
    sigprocmask(SIG_SETMASK, nullptr, &during);
    CHECK(sigismember(&during, SIGTERM) == 1);
    CHECK(sigismember(&during, SIGCHLD) == 1);
    blocked.restore();
    sigset_t restored;
    sigprocmask(SIG_SETMASK, nullptr, &restored);
    CHECK(sigismember(&restored, SIGTERM) == sigismember(&before, SIGTERM));
  }
  sigset_t after;
  sigprocmask(SIG_SETMASK, nullptr, &after);
  CHECK(sigismember(&after, SIGTERM) == sigismember(&before, SIGTERM));
}

}  // namespace kiln::test
