#include "dispatcher.hpp"

#include <spdlog/spdlog.h>

#include "http_syntax.hpp"
#include "python/app_host.hpp"

namespace kiln {

dispatcher::dispatcher(const settings& config, const app* routes)
    : config_(config), routes_(routes) {
  if (routes_ != nullptr && routes_->empty()) routes_ = nullptr;
  if (!config.static_root.empty()) {
    static_files_ = std::make_unique<static_files>(static_options{
        config.static_root, config.spa_fallback, config.api_prefix, !config.wsgi_app.empty()});
  }
}

dispatcher::~dispatcher() = default;

answerer dispatcher::dispatch(request& req, responder& out, std::uint64_t now_ms,
                              bool ready) noexcept {
  constexpr std::string_view probe_headers =
      "Content-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\n";
  if (!config_.health_path.empty() && req.path == config_.health_path) {
    out.send(200, probe_headers, {}, "ok\n");  // The loop runs: that is all liveness means.
    return answerer::health;
  }
  if (!config_.ready_path.empty() && req.path == config_.ready_path) {
    if (!ready) {
      out.send(503, probe_headers, {}, "stopping\n");
    } else if (static_files_ && !static_files_->usable(now_ms)) {
      out.send(503, probe_headers, {}, "static_root cannot be read\n");
    } else {
      out.send(200, probe_headers, {}, "ready\n");
    }
    return answerer::health;
  }
  if (routes_ != nullptr) {
    auto found = routes_->find(req.method, req.path, req.params);
    if (found.function != nullptr) {
      call_route(*found.function, req, out);
      return answerer::route;
    }
    if (!found.allow.empty()) {
      scratch_.assign("Allow: ").append(found.allow).append("\r\n");
      out.send_status(405, scratch_);
      return answerer::route;
    }
  }
  if (static_files_ && static_files_->serve(req, out, now_ms)) return answerer::static_files;
  if (python_ != nullptr) {
    python_->answer(req, out);
    return answerer::python;
  }
  out.send_status(404);
  return answerer::kiln;
}

void dispatcher::call_route(const handler& function, request& req, responder& out) noexcept {
  try {
    response answer = function(req);
    if (answer.status < 200 || answer.status > 999) {
      throw std::invalid_argument("status " + std::to_string(answer.status) +
                                  " is not a final status");
    }
    scratch_.clear();
    for (const auto& [name, value] : answer.headers) {
      // kiln writes the framing itself; a handler's own would contradict it.
      if (iequals(name, "Content-Length") || iequals(name, "Transfer-Encoding") ||
          iequals(name, "Connection") || iequals(name, "Date") || iequals(name, "Server")) {
        continue;
      }
      // Handlers may fill headers directly, past set_header's checks.
      if (!is_token(name) || !is_field_value(value)) {
        throw std::invalid_argument("header \"" + name + "\" is not a valid header");
      }
      scratch_.append(name).append(": ").append(value).append("\r\n");
    }
    out.send(answer.status, scratch_, {}, answer.body);
  } catch (const http_error& error) {
    // An error status, as the name says: 1xx or 0 would leave the client without a response.
    int status = error.status() >= 400 && error.status() <= 599 ? error.status() : 500;
    std::string body = nlohmann::json{{"error", error.what()}}.dump();
    out.send(status, "Content-Type: application/json\r\n", {}, body);
  } catch (const std::exception& error) {
    spdlog::error("{} {}: the handler failed: {}", req.method, req.path, error.what());
    out.send_status(500);
  } catch (...) {
    spdlog::error("{} {}: the handler threw something that is not a std::exception", req.method,
                  req.path);
    out.send_status(500);
  }
}

}  // namespace kiln
