#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace kiln::python {

// A worker's thread for the Python it runs outside requests: a hook on a signal (worker_int,
// worker_abort), every thread's stack when a request hangs. The loop asks and goes on; this
// thread takes the GIL and does it, so that the loop never waits for the GIL. What cannot get
// the GIL (an app that never lets it go) never runs, and the worker stops all the same.
class errands {
 public:
  errands();
  ~errands();
  errands(const errands&) = delete;
  errands& operator=(const errands&) = delete;

  // Loop thread: queues work to run with the GIL held, without waiting for it.
  void run(std::function<void()> work) noexcept;
  // Loop thread: queues a dump of every Python thread's stack to the error log, naming the
  // threads in names (Python's thread ident to a name).
  void dump_stacks(std::map<unsigned long, std::string> names) noexcept;
  // Waits up to limit for the queued work to be done; true when it was.
  bool finish(std::chrono::milliseconds limit);

 private:
  void main();

  std::mutex mutex_;
  std::condition_variable wanted_;
  std::condition_variable done_;
  std::deque<std::function<void()>> work_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kiln::python
