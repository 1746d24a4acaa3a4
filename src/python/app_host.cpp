#include "python/app_host.hpp"

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "python/app_threads.hpp"
#include "python/bridge.hpp"
#include "python/hooks.hpp"
#include "python/interpreter.hpp"
#include "python/wsgi_environ.hpp"
#include "python/wsgi_objects.hpp"
#include "python/wsgi_response.hpp"
#include "scoreboard.hpp"

namespace kiln::python {

app_host::app_host(const settings& config, uv_loop_t* loop, bool multiprocess)
    : config_(config), bridge_(std::make_unique<bridge>(loop)) {
  // The app's files are found from chdir: its imports, and the files it opens itself.
  if (!config.chdir.empty() && ::chdir(config.chdir.c_str()) != 0) {
    throw std::system_error(errno, std::generic_category(), "chdir to " + config.chdir);
  }
  start_interpreter(config);
  if (config.capture_output && !capture_output()) {
    throw app_load_error("cannot capture the app's output:\n" + formatted_exception());
  }
  load_app(config);
  if (!init_wsgi_response()) {
    throw app_load_error("cannot make start_response:\n" + formatted_exception());
  }
  auto count = static_cast<std::size_t>(config.threads);
  environ_ = std::make_unique<environ_builder>(config, count > 1, multiprocess);
  threads_ = std::make_unique<app_threads>(
      count, [this](exchange& work) { run(work); }, release_thread_objects);
  post_worker_init();
  // From here on the loop thread never holds the GIL.
  release_gil();
}

app_host::~app_host() {
  // Python objects go only with the GIL; when threads were left running, they are left alone.
  if (stopped_) {
    environ_.reset();
  } else {
    (void)environ_.release();
  }
}

void app_host::answer(request& req, responder& out) noexcept {
  threads_->submit(bridge_->open(req, out));
}

void app_host::run(exchange& work) noexcept {
  work.started();
  if (work.abandoned()) {
    // Nobody waits any more (the client left, or the worker gave up on it): the app is spared.
    bridge_->post({.to = &work, .last = true, .complete = false});
    return;
  }
  work.working(monotonic_ms());
  wsgi_response response(work, *bridge_);
  py_ref environ = environ_->build(work.incoming());
  if (!environ) {
    spdlog::error("cannot build the environ for {} {}:\n{}", work.incoming().req.method,
                  work.incoming().req.target, formatted_exception());
    bridge_->post({.to = &work, .last = true, .complete = false});
    return;
  }
  response.run(loaded_app(), environ.get());
}

bool app_host::saturated() const noexcept {
  return threads_->waiting() >= threads_->size();
}

std::size_t app_host::waiting() const noexcept {
  return threads_->waiting();
}

std::size_t app_host::busy() const noexcept {
  // Live exchanges are waiting, in a thread, or streaming what a thread gave them.
  std::size_t live = bridge_->live();
  std::size_t queued = threads_->waiting();
  return std::min(live > queued ? live - queued : 0, threads_->size());
}

std::uint64_t app_host::oldest_progress_ms() const noexcept {
  return bridge_->oldest_progress_ms();
}

void app_host::give_up_on_hung(std::uint64_t now_ms) noexcept {
  auto timeout = static_cast<std::uint64_t>(config_.timeout.count());
  std::size_t hung = bridge_->give_up_on_hung(now_ms > timeout ? now_ms - timeout : 0);
  spdlog::error("Answered 504 to {} request{} the app produced nothing for in {} s", hung,
                hung == 1 ? "" : "s", timeout / 1000);
}

std::map<unsigned long, std::string> app_host::thread_names() const {
  return threads_->names();
}

void app_host::close() noexcept {
  bridge_->close();
}

bool app_host::stop_threads(std::chrono::milliseconds limit) noexcept {
  if (!threads_->stop(limit)) {
    spdlog::warn("The app's threads did not finish in time; exiting without them");
    return false;
  }
  stopped_ = true;
  return true;
}

}  // namespace kiln::python
