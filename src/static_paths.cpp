#include "static_paths.hpp"

#include "http_syntax.hpp"

namespace kiln {
namespace {

bool is_hash_character(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// True for camelCase words: lower-case letters, then capitalised words of three letters or
// more ("dataTables", "FileText"). Random letters rarely fall into that shape.
bool is_camel_case(std::string_view token) noexcept {
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  std::size_t i = 0;
  while (i < token.size() && lower(token[i]))
    ++i;
  while (i < token.size()) {
    if (token[i] < 'A' || token[i] > 'Z') return false;
    std::size_t start = ++i;
    while (i < token.size() && lower(token[i]))
      ++i;
    if (i - start < 2) return false;
  }
  return true;
}

// A hash looks random: a digit, or letters of both cases. Words ("settings", "dataTables") do
// not: calling a file that changes immutable would keep browsers on its old contents for a year.
bool looks_random(std::string_view token) noexcept {
  bool digit = false;
  bool lower = false;
  bool upper = false;
  for (char c : token) {
    if (!is_hash_character(c)) return false;
    digit = digit || (c >= '0' && c <= '9');
    lower = lower || (c >= 'a' && c <= 'z');
    upper = upper || (c >= 'A' && c <= 'Z');
  }
  return digit || (lower && upper && !is_camel_case(token));
}

}  // namespace

path_verdict to_relative_path(std::string_view encoded_path, std::string& relative) {
  std::string& decoded = relative;
  if (!percent_decode(encoded_path, decoded)) return path_verdict::bad_request;
  if (decoded.find_first_of(std::string_view("\0\\", 2)) != std::string::npos) {
    return path_verdict::bad_request;
  }
  if (decoded.empty() || decoded.front() != '/') return path_verdict::bad_request;

  // Rebuild the path segment by segment, in place: the output never outgrows the input.
  bool names_directory = decoded.back() == '/';
  std::size_t write = 0;
  std::size_t read = 0;
  while (read < decoded.size()) {
    std::size_t end = decoded.find('/', read);
    if (end == std::string::npos) end = decoded.size();
    std::string_view segment{decoded.data() + read, end - read};
    read = end + 1;
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") return path_verdict::bad_request;
    // Dotfiles (.env, .git) stay hidden; /.well-known/ (RFC 8615) is what sites must publish.
    if (segment.front() == '.' && (write != 0 || segment != ".well-known")) {
      return path_verdict::not_found;
    }
    if (write != 0) decoded[write++] = '/';
    for (char c : segment)
      decoded[write++] = c;
  }
  decoded.resize(write);
  if (names_directory || decoded.empty()) {
    if (!decoded.empty()) decoded.push_back('/');
    decoded.append("index.html");
  }
  return path_verdict::file;
}

bool is_content_hashed(std::string_view file_name) noexcept {
  auto slash = file_name.rfind('/');
  if (slash != std::string_view::npos) file_name.remove_prefix(slash + 1);
  auto extension = file_name.rfind('.');
  if (extension == std::string_view::npos || extension == 0) return false;
  std::string_view stem = file_name.substr(0, extension);
  // "app.3f9a1c2b": the hash is the part after the last dot.
  if (auto dot = stem.rfind('.'); dot != std::string_view::npos) {
    std::string_view token = stem.substr(dot + 1);
    if (token.size() >= 8 && looks_random(token)) return true;
  }
  // "index-BxG3a9kF": eight characters after a dash, which may themselves hold - and _.
  if (stem.size() > 9 && stem[stem.size() - 9] == '-')
    return looks_random(stem.substr(stem.size() - 8));
  return false;
}

bool is_page_navigation(const request& req, std::string_view api_prefix) noexcept {
  if (req.method != "GET" && req.method != "HEAD") return false;
  auto accept = req.header_value("Accept");
  if (!accept || accept->find("text/html") == std::string_view::npos) return false;
  std::string_view path = req.path;
  if (!api_prefix.empty()) {
    // "/api" and "/api/" both cover /api and /api/..., but not /apiary.
    std::string_view bare_prefix =
        api_prefix.ends_with('/') ? api_prefix.substr(0, api_prefix.size() - 1) : api_prefix;
    if (path.starts_with(bare_prefix) &&
        (path.size() == bare_prefix.size() || path[bare_prefix.size()] == '/')) {
      return false;
    }
  }
  std::string_view last = path.substr(path.rfind('/') + 1);
  return last.find('.') == std::string_view::npos;
}

}  // namespace kiln
