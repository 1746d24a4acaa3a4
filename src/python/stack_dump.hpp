#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "python/app_threads.hpp"

namespace kiln::python {

// Writes every Python thread's stack to the error log, on request: what a hung request was
// doing. It runs on a thread of its own that takes the GIL, so that the loop never waits for
// the GIL; an app that never lets the GIL go gets no dump, and the worker stops all the same.
class stack_dumper {
 public:
  explicit stack_dumper(const app_threads& threads);
  ~stack_dumper();
  stack_dumper(const stack_dumper&) = delete;
  stack_dumper& operator=(const stack_dumper&) = delete;

  // Loop thread: asks for a dump, without waiting for it.
  void request() noexcept;

 private:
  void main();

  const app_threads& threads_;
  std::mutex mutex_;
  std::condition_variable wanted_;
  bool requested_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kiln::python
