#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "python/bridge.hpp"

namespace kiln::python {

// The threads a worker runs its Python app on, each with a Python thread state of its own. The
// loop hands them exchanges; a thread takes the next, runs it with the GIL held, and waits for
// the next with the GIL released. Signals are blocked in them: the loop thread gets them all.
// The threads are named "kiln-app-N", for ps, gdb and the stack dump.
class app_threads {
 public:
  // What a thread does with an exchange, the GIL held.
  using work = std::function<void(exchange&)>;
  // What a thread does as it ends, the GIL still held: letting go of the Python objects it kept.
  using farewell = std::function<void()>;

  // Starts count threads; they wait for the GIL until the starting thread releases it. Throws
  // std::system_error when a thread cannot be made.
  app_threads(std::size_t count, work run, farewell leave);
  ~app_threads();
  app_threads(const app_threads&) = delete;
  app_threads& operator=(const app_threads&) = delete;

  // Loop thread: queues an exchange for the next free thread.
  void submit(exchange& job);
  // How many exchanges wait for a thread, and how many threads there are.
  std::size_t waiting() const;
  std::size_t size() const noexcept { return threads_.size(); }
  // No more work: each thread ends after its current exchange. Waits up to limit for them all;
  // true when they all ended (then the interpreter is the caller's again).
  bool stop(std::chrono::milliseconds limit);
  // Python's ident of each thread and its name, for a stack dump.
  std::map<unsigned long, std::string> names() const;

 private:
  void main(std::size_t number);
  // The next waiting exchange, without waiting; nullptr when none waits.
  exchange* next_waiting();

  work run_;
  farewell leave_;
  mutable std::mutex mutex_;
  std::condition_variable jobs_ready_;
  std::condition_variable ended_;
  std::deque<exchange*> jobs_;
  std::map<unsigned long, std::string> names_;
  std::size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace kiln::python
