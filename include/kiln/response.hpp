#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln {

// What a handler answers. kiln adds Server, Date, Content-Length and Connection itself.
struct response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // A text/plain body.
  static response text(std::string body, int status = 200);
  // A JSON body (application/json).
  static response json(const nlohmann::json& value, int status = 200);
  // No body: 204 by default.
  static response empty(int status = 204);

  // Adds a header; throws std::invalid_argument for a name that is not a token or a value with a
  // control character (other than tab) in it, so that no handler can split a response in two.
  response& set_header(std::string name, std::string value);
};

// Thrown by a handler (or by request::json) to answer with an error status and a message:
// throw kiln::http_error(404, "no such book"). The body is JSON: {"error": message}.
class http_error : public std::runtime_error {
 public:
  http_error(int status, const std::string& message)
      : std::runtime_error(message), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

}  // namespace kiln
