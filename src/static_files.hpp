#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <kiln/request.hpp>

#include "responder.hpp"

namespace kiln {

// What a request path says about the file it names.
enum class path_verdict {
  file,         // A file path relative to the root was produced.
  bad_request,  // The path is malformed or tries to leave the root: 400.
  not_found,    // The path can never name a servable file (a dotfile, say): 404.
};

// Decodes a request path ("/assets/app%201.js") into a path relative to the static root
// ("assets/app 1.js"). A path ending in '/' names that directory's index.html. Paths that could
// leave the root ("..", encoded or not), NUL bytes and backslashes are refused.
path_verdict to_relative_path(std::string_view encoded_path, std::string& relative);

// Serves the files below a directory, with the hot ones held in memory: a cached file is
// answered without a system call, and looked at on disk again at most once a second.
class static_files {
 public:
  // Opens the root directory; throws std::system_error when it cannot.
  explicit static_files(const std::string& root);
  ~static_files();
  static_files(const static_files&) = delete;
  static_files& operator=(const static_files&) = delete;

  // Answers GET and HEAD for the file the request names; 404 when there is none.
  void serve(const request& req, responder& out, std::uint64_t now_ms) noexcept;

 private:
  struct cached_file;
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  // Opens a file below the root without following links out of it; -1 with errno on failure.
  int open_beneath(const std::string& relative) const noexcept;
  const cached_file* find(const std::string& relative, std::uint64_t now_ms) noexcept;
  std::shared_ptr<cached_file> load(const std::string& relative, int& error) noexcept;
  void redirect_to_directory(const request& req, responder& out) noexcept;

  int root_fd_ = -1;
  std::size_t cached_bytes_ = 0;
  std::string relative_;  // Scratch space for the path being served, reused between requests.
  std::string location_;  // Scratch space for redirect headers.
  std::unordered_map<std::string, std::shared_ptr<cached_file>, string_hash, std::equal_to<>>
      cache_;
  std::shared_ptr<cached_file> uncached_;  // The last file too big to cache, while it is sent.
};

}  // namespace kiln
