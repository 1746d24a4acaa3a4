#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <kiln/request.hpp>

#include "file_cache.hpp"
#include "responder.hpp"
#include "static_paths.hpp"

namespace kiln {

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
  static_files(const static_files&) = delete;
  static_files& operator=(const static_files&) = delete;

  // Answers GET and HEAD for the files below the root, and everything else with 404, 405 or
  // 400; true when it answered. With app_behind it answers only the requests a file matches.
  bool serve(const request& req, responder& out, std::uint64_t now_ms) noexcept;

  // Without openat2, files are opened one path component at a time: see file_cache.
  void use_openat2(bool enabled) noexcept { files_.use_openat2(enabled); }

  // False while the root cannot be read or searched (its permissions changed under kiln):
  // readiness fails, and files are answered 503. Looked at at most once a second.
  bool usable(std::uint64_t now_ms) noexcept;

 private:
  // The file at relative, from the cache; a file found says the root is usable again.
  const cached_file* lookup(const std::string& relative, std::string_view encoding,
                            std::uint64_t now_ms) noexcept;
  void respond(const request& req, const cached_file& file, const std::string& relative,
               responder& out) noexcept;
  void redirect_to_directory(const request& req, responder& out) noexcept;

  // Answers a request for which no file was found, for a reason other than its absence: 403
  // for a file kiln may not read, 503 (with Retry-After, and a line in the log) when the root
  // is unusable or the system is short of descriptors or memory. False when it is absent.
  bool answer_unavailable(int error, std::string_view path, responder& out,
                          std::uint64_t now_ms) noexcept;

  static_options options_;
  file_cache files_;
  bool root_usable_ = true;
  std::uint64_t root_checked_ms_ = 0;
  std::uint64_t unavailable_logged_ms_ = 0;  // Said at most every 10 s, with what was not.
  std::uint64_t unavailable_unsaid_ = 0;
  std::string relative_;  // Scratch space for the path being served, reused between requests.
  std::string scratch_;   // Scratch space for per-response header lines.
};

}  // namespace kiln
