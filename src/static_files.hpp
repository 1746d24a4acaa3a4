#pragma once

#include <cstdint>
#include <ctime>
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

// True for a file name that carries a content hash ("app.3f9a1c2b.js", "index-BxG3a9kF.css"):
// its contents never change, so browsers may cache it for good.
bool is_content_hashed(std::string_view file_name) noexcept;

// True for a request a browser makes when it navigates to a page of a single-page app: GET or
// HEAD, accepting text/html, a last path segment without an extension, and not under the API
// prefix. Such a request gets index.html when no file matches.
bool is_page_navigation(const request& req, std::string_view api_prefix) noexcept;

struct static_options {
  std::string root;
  bool spa_fallback = false;
  std::string api_prefix = "/api/";
  // An app answers what no file matches (the Python app): such requests are declined instead
  // of answered 404, 405 or 400.
  bool app_behind = false;
};

// Serves the files below a directory, as a built single-page app needs: conditional requests
// (ETag, Last-Modified), single byte ranges, precompressed siblings (.br, .gz) chosen by
// Accept-Encoding, long-lived caching for content-hashed names, and index.html for pages the
// app routes itself. Files up to 1 MiB are held in memory and answered without a system call,
// and looked at on disk again at most once a second; bigger ones are streamed from disk.
class static_files {
 public:
  // Opens the root directory; throws std::system_error when it cannot.
  explicit static_files(static_options options);
  ~static_files();
  static_files(const static_files&) = delete;
  static_files& operator=(const static_files&) = delete;

  // Answers GET and HEAD for the files below the root, and everything else with 404, 405 or
  // 400; true when it answered. With app_behind it answers only the requests a file matches.
  bool serve(const request& req, responder& out, std::uint64_t now_ms) noexcept;

  // Without openat2 (kernels before 5.6, some sandboxes), files are opened one path component
  // at a time and no symlink is followed. Tests switch to that path with this.
  void use_openat2(bool enabled) noexcept { use_openat2_ = enabled; }

  // False while the root cannot be read or searched (its permissions changed under kiln):
  // readiness fails, and files are answered 503. Looked at at most once a second.
  bool usable(std::uint64_t now_ms) noexcept;

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
  // The file (or precompressed variant, with encoding "br" or "gzip") at relative, from the
  // cache when it is fresh; nullptr when there is none.
  const cached_file* find(const std::string& relative, std::string_view encoding,
                          std::uint64_t now_ms) noexcept;
  std::shared_ptr<cached_file> load(const std::string& relative, std::string_view encoding,
                                    int& error) noexcept;
  bool unchanged(const std::string& relative, const cached_file& file) const noexcept;
  void respond(const request& req, const cached_file& file, const std::string& relative,
               responder& out) noexcept;
  void redirect_to_directory(const request& req, responder& out) noexcept;

  // Answers a request for which find() found no file, for a reason other than its absence:
  // 403 for a file kiln may not read, 503 (with Retry-After, and a line in the log) when the
  // root is unusable or the system is short of descriptors or memory. False when it is absent.
  bool answer_unavailable(int error, std::string_view path, responder& out,
                          std::uint64_t now_ms) noexcept;

  static_options options_;
  int root_fd_ = -1;
  int lookup_error_ = 0;  // Why find() last returned nullptr: an errno.
  bool root_usable_ = true;
  std::uint64_t root_checked_ms_ = 0;
  std::uint64_t unavailable_logged_ms_ = 0;  // Said at most every 10 s, with what was not.
  std::uint64_t unavailable_unsaid_ = 0;
  bool use_openat2_ = true;
  std::size_t cached_bytes_ = 0;
  std::string relative_;  // Scratch space for the path being served, reused between requests.
  std::string key_;       // Scratch space for cache keys.
  std::string scratch_;   // Scratch space for per-response header lines.
  std::unordered_map<std::string, std::shared_ptr<cached_file>, string_hash, std::equal_to<>>
      cache_;
};

}  // namespace kiln
