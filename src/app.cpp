#include <algorithm>

#include <kiln/app.hpp>

#include "http_syntax.hpp"

namespace kiln {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = path.starts_with('/') ? 1 : 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    segments.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return segments;
}

// True when a comma-separated Allow list names method: whole names, so that PATCH is not
// taken for part of PROPPATCH.
bool lists_method(std::string_view allow, std::string_view method) noexcept {
  while (!allow.empty()) {
    auto comma = allow.find(", ");
    if (allow.substr(0, comma) == method) return true;
    if (comma == std::string_view::npos) break;
    allow.remove_prefix(comma + 2);
  }
  return false;
}

bool is_parameter(std::string_view segment) noexcept {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

app& app::route(std::string method, std::string pattern, handler function) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern \"" + pattern + "\" must start with /");
  }
  route_entry entry{std::move(method), std::move(pattern), {}, std::move(function)};
  for (auto segment : split_path(entry.pattern))
    entry.segments.emplace_back(segment);
  routes_.push_back(std::move(entry));
  return *this;
}

app::match app::find(std::string_view method, std::string_view path,
                     std::vector<std::pair<std::string_view, std::string>>& params) const {
  match result;
  params.clear();
  if (routes_.empty()) return result;
  auto segments = split_path(path);
  std::string decoded;
  for (const auto& entry : routes_) {
    if (entry.segments.size() != segments.size()) continue;
    params.clear();
    bool matched = true;
    for (std::size_t i = 0; i < segments.size() && matched; ++i) {
      const std::string& expected = entry.segments[i];
      if (is_parameter(expected)) {
        matched = !segments[i].empty() && percent_decode(segments[i], decoded);
        if (matched) {
          params.emplace_back(std::string_view(expected).substr(1, expected.size() - 2), decoded);
        }
      } else {
        matched = percent_decode(segments[i], decoded) && decoded == expected;
      }
    }
    if (!matched) continue;
    if (entry.method == method || (method == "HEAD" && entry.method == "GET")) {
      result.function = &entry.function;
      result.allow.clear();
      return result;
    }
    // The path exists, for another method: remember it for 405's Allow header.
    for (std::string_view allowed : {std::string_view(entry.method), std::string_view("HEAD")}) {
      if (!lists_method(result.allow, allowed)) {
        if (!result.allow.empty()) result.allow += ", ";
        result.allow += allowed;
      }
      if (entry.method != "GET") break;  // A GET route answers HEAD too.
    }
  }
  params.clear();
  return result;
}

response response::text(std::string body, int status) {
  response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body);
  return r;
}

response response::json(const nlohmann::json& value, int status) {
  response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = value.dump();
  return r;
}

response response::empty(int status) {
  response r;
  r.status = status;
  return r;
}

response& response::set_header(std::string name, std::string value) {
  if (!is_token(name)) throw std::invalid_argument("\"" + name + "\" is not a header name");
  if (!is_field_value(value)) {
    throw std::invalid_argument("the value of " + name + " has a control character in it");
  }
  headers.emplace_back(std::move(name), std::move(value));
  return *this;
}

std::optional<std::string_view> request::param(std::string_view name) const noexcept {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return std::nullopt;
}

nlohmann::json request::json() const {
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& error) {
    throw http_error(400, std::string("the body is not JSON: ") + error.what());
  }
}

}  // namespace kiln
