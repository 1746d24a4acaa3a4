#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace kiln::test {

using namespace std::chrono_literals;

// Generous, because the tests must hold on a loaded two-core machine: a condition is polled
// until it holds or this much time has passed, never awaited with a fixed sleep.
inline constexpr std::chrono::milliseconds patience = 20s;

// Sleeps a few milliseconds: the pause between two polls.
void sleep_briefly();

// Polls condition every few milliseconds until it is true or the deadline passes.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit = patience);

// How a process ended.
struct exit_status {
  bool exited = false;  // By exit(); otherwise by a signal.
  int code = 0;         // The exit code, or the signal number.
  bool operator==(const exit_status&) const = default;
};
exit_status exited_with(int code);
exit_status killed_by(int signal);
std::string describe(const exit_status& status);
inline std::ostream& operator<<(std::ostream& out, const exit_status& status) {
  return out << describe(status);
}

// A real kiln process. Its stdout and stderr go to a file that the test reads; the destructor
// kills and reaps it if the test did not stop it.
class kiln_process {
 public:
  struct options {
    std::vector<std::string> arguments;
    std::map<std::string, std::string> environment;  // Added to the test's own environment.
    std::vector<std::string> unset;                  // Removed from it.
    // Sockets handed to kiln as systemd does: descriptors 3, 4, ... with LISTEN_FDS and
    // LISTEN_PID set, and LISTEN_FDNAMES when names are given.
    std::vector<int> listen_fds;
    std::string listen_fd_names;
    bool announce_listen_fds = true;  // false: only the descriptors, no LISTEN_ variables.
    bool wait_until_listening = true;
    std::string binary = KILN_BINARY;
    std::string directory;  // Where it starts; the test's own when empty.
  };

  explicit kiln_process(options how);
  // Starts kiln with these arguments and waits for it to listen.
  explicit kiln_process(std::vector<std::string> arguments);
  ~kiln_process();
  kiln_process(const kiln_process&) = delete;
  kiln_process& operator=(const kiln_process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  // The port of the first "Listening at: http://HOST:PORT" line.
  std::uint16_t port() const noexcept { return port_; }
  // Every port it announced, in order.
  const std::vector<std::uint16_t>& ports() const noexcept { return ports_; }
  // The port of "Serving metrics at: http://127.0.0.1:PORT/metrics" (metrics_bind), once said.
  std::uint16_t metrics_port() const;

  // Everything the process has written so far.
  std::string output() const;
  bool wait_for_output(std::string_view text, std::chrono::milliseconds limit = patience) const;
  // How often text occurs in the output.
  std::size_t count_in_output(std::string_view text) const;

  void signal(int number) const;
  // Waits for the process to end; nullopt if it is still running after limit.
  std::optional<exit_status> wait(std::chrono::milliseconds limit = patience);
  // Sends the signal and waits; fails the test if the process does not end.
  exit_status stop(int number);
  bool running();

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::vector<std::uint16_t> ports_;
  std::string output_path_;
  std::optional<exit_status> status_;
};

// The master a USR2 started, found by the pid it wrote to the pidfile. It is the old master's
// child until that one exits; the destructor kills it if the test did not stop it.
class upgraded_master {
 public:
  // Sends USR2 to kiln (started with --pid pidfile) and waits for the new master.
  upgraded_master(const kiln_process& kiln, const std::string& pidfile);
  ~upgraded_master();
  upgraded_master(const upgraded_master&) = delete;
  upgraded_master& operator=(const upgraded_master&) = delete;

  pid_t pid() const noexcept { return pid_; }

 private:
  pid_t pid_ = 0;
};

// Every variable kiln reads, so that a test can keep its own environment from changing the
// outcome.
std::vector<std::string> kiln_variables();

// What a kiln that ran to its end did.
struct kiln_run {
  std::optional<exit_status> status;  // nullopt: it did not end in time, and was killed.
  std::string output;
};
// Runs kiln to its end with these arguments and variables, and nothing else of kiln's set.
kiln_run run(std::vector<std::string> arguments, std::map<std::string, std::string> env = {},
             std::string directory = {});

// True when output holds this whole line.
bool has_line(const std::string& output, const std::string& line);

template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    sleep_briefly();
  }
}

}  // namespace kiln::test
