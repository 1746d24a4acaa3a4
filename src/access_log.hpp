#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/logger.h>

#include <kiln/request.hpp>

namespace kiln {

// What the access log records of one answered request.
struct access_entry {
  const request& req;
  std::string_view peer;
  std::string_view request_id;
  int status = 0;
  std::uint64_t bytes = 0;  // Body bytes of the response.
  std::uint64_t duration_us = 0;
  // The response's header lines, in the blocks it was written from: "Name: value\r\n".
  std::array<std::string_view, 3> response_headers;
};

// gunicorn's default access log format.
inline constexpr std::string_view default_access_log_format =
    R"(%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s")";

// The access log: a line per request, in a text format made of gunicorn's atoms, or as JSON
// lines. Every value is escaped, so that a quote or a newline a client puts in a header can
// neither break a record nor forge one: in text, '"' and '\' are backslash-escaped and control
// and non-ASCII bytes become \xHH; in JSON, strings are JSON strings (invalid UTF-8 replaced).
//
// Atoms, written %(x)s: h remote address, l and u "-", t time, r request line, m method, U path,
// q query, H protocol, s status, B body bytes, b body bytes or "-", f referer, a user agent,
// T seconds, M milliseconds, D microseconds, L decimal seconds, p pid, i request id,
// {Name}i a request header, {Name}o a response header.
class access_log {
 public:
  // format is "json" or a template of atoms; throws std::invalid_argument for a bad template.
  // destination is "-" (stdout) or a file; lines are written by the logging thread when there is
  // one (in a worker), else at once.
  access_log(const std::string& destination, const std::string& format);

  void write(const access_entry& entry) noexcept;
  // The line for an entry, without the newline.
  std::string format(const access_entry& entry) const;

  // Checks a format; throws std::invalid_argument naming what is wrong.
  static void check_format(std::string_view format);

 private:
  struct piece {
    char atom = 0;     // 0 for literal text.
    std::string text;  // The literal, or the header name for i and o.
  };
  static std::vector<piece> compile(std::string_view format);

  std::vector<piece> pieces_;
  bool json_ = false;
  int pid_;  // The worker's: an access log is made after fork.
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace kiln
