#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace kiln::test {

// Sends requests to 127.0.0.1 from several threads until stopped, the way a real client does:
// keep-alive connections are reused, and a request that meets a keep-alive connection the
// server closed before answering anything is retried once on a new connection (the race every
// HTTP client handles). Anything else counts as a failure: a refused or reset connection, a
// status other than 200, a truncated response, ten seconds without an answer. Strict, it
// counts that race too, as wrk does.
class load_generator {
 public:
  struct options {
    std::uint16_t port = 0;
    std::string path = "/";
    // A POST with this body when not empty: what a balancer may not send again to another
    // server once it has sent it.
    std::string body;
    int connections = 4;
    bool keep_alive = true;  // false: one request per connection (Connection: close).
    bool strict = false;     // No retry: a keep-alive connection closed under a request fails.
    // A refused connection is the server's stop having happened, counted by refused(), not a
    // failure.
    bool refusal_expected = false;
  };

  explicit load_generator(options how);
  ~load_generator();
  load_generator(const load_generator&) = delete;
  load_generator& operator=(const load_generator&) = delete;

  // Waits for the threads to finish their current request and stop.
  void stop();
  std::uint64_t succeeded() const noexcept { return succeeded_.load(); }
  std::uint64_t failed() const noexcept { return failed_.load(); }
  std::uint64_t refused() const noexcept { return refused_.load(); }
  // What the first failures were, for the test's message.
  std::vector<std::string> failures() const;
  // Waits until at least count more requests than now have succeeded.
  bool wait_for_more(std::uint64_t count) const;

 private:
  void run(int index);
  void record_failure(std::string what);

  options options_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> succeeded_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> refused_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> failures_;
  std::vector<std::thread> threads_;
};

// The processes whose parent is pid, from /proc.
std::vector<pid_t> children_of(pid_t pid);
// What ps shows for a process: its command line with NULs as spaces, trimmed.
std::string process_title(pid_t pid);
// True while the process exists and is not a zombie.
bool process_alive(pid_t pid);

}  // namespace kiln::test
