#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln {

// One header field as it arrived: the name keeps its case, the value has no surrounding spaces.
struct header {
  std::string_view name;
  std::string_view value;
};

// An HTTP request as the worker parsed it. The views point into the connection's buffers and are
// valid while the request is being handled; copy what must outlive the handler.
struct request {
  std::string_view method;
  std::string_view target;  // As sent: "/books/7?lang=en".
  std::string_view path;    // The target's path, still percent-encoded: "/books/7".
  std::string_view query;   // After the '?', without it: "lang=en".
  std::uint8_t version_major = 1;
  std::uint8_t version_minor = 1;
  std::vector<header> headers;
  std::string body;
  // The route's parameters, decoded: {"id", "7"} for "/api/books/{id}".
  std::vector<std::pair<std::string_view, std::string>> params;
  std::string_view peer;    // The connection's other end: "127.0.0.1:50312"; "-" on a unix socket.
  std::string_view server;  // Where the client connected to: "127.0.0.1:8000"; "-" likewise.
  // The client's address, without port: the peer's, or, behind trusted proxies
  // (forwarded_allow_ips), what their X-Forwarded-For (or PROXY header) says.
  std::string_view client;
  // "https" when a trusted proxy says the client used it (secure_scheme_headers), else "http".
  std::string_view scheme = "http";
  // With the access log on: the client's X-Request-ID, or one kiln made; echoed in the response.
  std::string_view request_id;
  bool keep_alive = true;
  bool expects_continue = false;

  // The first header with this name, compared without regard to case.
  std::optional<std::string_view> header_value(std::string_view name) const noexcept;
  // A route parameter by name.
  std::optional<std::string_view> param(std::string_view name) const noexcept;
  // The body parsed as JSON; throws kiln::http_error (400) when it is not JSON.
  nlohmann::json json() const;
};

// Compares two ASCII strings without regard to case, as HTTP compares header names and tokens.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace kiln
