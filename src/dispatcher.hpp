#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <kiln/app.hpp>

#include "responder.hpp"
#include "scoreboard.hpp"
#include "settings.hpp"
#include "static_files.hpp"

namespace kiln {

namespace python {
class app_host;
}

// Decides who answers a request, in this order: the health and readiness endpoints, the C++
// routes, the static files (with the SPA's fallback to index.html), and then the Python app,
// which gets every request none of them claims. Without a Python app, what nothing claims is 404.
class dispatcher {
 public:
  // Throws std::system_error when the static root cannot be opened. routes may be null. With a
  // wsgi_app setting, the static files leave what matches no file for the Python app, which
  // pass_the_rest_to() names (it is started after the static root is open: it changes the
  // working directory to chdir).
  dispatcher(const settings& config, const app* routes);
  void pass_the_rest_to(python::app_host& python) noexcept { python_ = &python; }
  ~dispatcher();
  dispatcher(const dispatcher&) = delete;
  dispatcher& operator=(const dispatcher&) = delete;

  // Answers req through out, now or (the Python app) later, and says who did. ready is false
  // once a graceful stop has begun: readiness then fails.
  answerer dispatch(request& req, responder& out, std::uint64_t now_ms, bool ready) noexcept;

  // True when the C++ routes may want request::peer: computing it costs a system call.
  bool wants_peer() const noexcept {
    return python_ != nullptr || (routes_ != nullptr && !routes_->empty());
  }

 private:
  void call_route(const handler& function, request& req, responder& out) noexcept;

  const settings& config_;
  const app* routes_;
  python::app_host* python_ = nullptr;
  std::unique_ptr<static_files> static_files_;
  std::string scratch_;  // Header lines of a C++ route's response.
};

}  // namespace kiln
