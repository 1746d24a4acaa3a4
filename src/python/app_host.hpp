#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <uv.h>

#include "responder.hpp"
#include "settings.hpp"

namespace kiln::python {

class app_threads;
class exchange;
class bridge;
class environ_builder;

// The Python WSGI app as one worker hosts it: the interpreter (started here, or inherited from
// the master with preload_app), the app, the threads that run it and the bridge back to the
// loop. It is the loop's only way to Python, and it never takes the GIL on the loop's thread.
class app_host {
 public:
  // Starts the interpreter, changes to chdir and imports the app (unless the master did), and
  // starts the threads. Throws app_load_error (with the traceback) when the app cannot be
  // loaded, std::system_error when the threads or the bridge cannot be made.
  app_host(const settings& config, uv_loop_t* loop, bool multiprocess);
  ~app_host();
  app_host(const app_host&) = delete;
  app_host& operator=(const app_host&) = delete;

  // Loop thread: hands the request to the app; the answer reaches out later.
  void answer(request& req, responder& out) noexcept;
  // True when every thread is busy and as many requests again wait: the worker should stop
  // accepting, so that other workers take the new connections.
  bool saturated() const noexcept;
  // Loop thread, for the metrics: requests waiting for a thread, and threads working on one.
  std::size_t waiting() const noexcept;
  std::size_t busy() const noexcept;
  // When the oldest request the app works on last produced something (CLOCK_MONOTONIC ms), or
  // 0: what the master judges hung requests by.
  std::uint64_t oldest_progress_ms() const noexcept;
  // The master found the worker hung: requests the app has produced nothing for within timeout
  // get 504 (those not started 503).
  void give_up_on_hung(std::uint64_t now_ms) noexcept;
  // The app's threads, by Python's ident, for a stack dump.
  std::map<unsigned long, std::string> thread_names() const;
  // The loop is ending: no more answers are delivered.
  void close() noexcept;
  // After the loop: waits up to limit for the threads to finish; true when they did (then the
  // interpreter is the main thread's again, to take back with reacquire_gil()).
  bool stop_threads(std::chrono::milliseconds limit) noexcept;

 private:
  void run(exchange& work) noexcept;

  const settings& config_;
  std::unique_ptr<bridge> bridge_;
  std::unique_ptr<environ_builder> environ_;
  std::unique_ptr<app_threads> threads_;
  bool stopped_ = false;
};

}  // namespace kiln::python
