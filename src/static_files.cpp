#include "static_files.hpp"

#include <cerrno>
#include <fcntl.h>
#include <system_error>

#include <spdlog/spdlog.h>

#include "http_date.hpp"
#include "http_fields.hpp"
#include "text.hpp"

namespace kiln {
namespace {

// How often an unusable root is looked at again.
constexpr std::uint64_t root_recheck_ms = 1000;

// Range applies to GET only: a server must ignore it for HEAD (RFC 9110, 14.2), whose answer
// is then GET's answer without Range.
bool wants_range(const request& req) noexcept {
  return req.method == "GET" && req.header_value("Range").has_value();
}

}  // namespace

static_files::static_files(static_options options)
    : options_(std::move(options)), files_(options_.root) {}

bool static_files::serve(const request& req, responder& out, std::uint64_t now_ms) noexcept {
  // What matches no file is declined, for the app behind to answer, or answered here when
  // nothing is behind.
  auto decline = [&](int status, std::string_view headers = {}) {
    if (options_.app_behind) return false;
    out.send_status(status, headers);
    return true;
  };
  if (req.method != "GET" && req.method != "HEAD") return decline(405, "Allow: GET, HEAD\r\n");
  switch (to_relative_path(req.path, relative_)) {
    case path_verdict::file:
      break;
    case path_verdict::bad_request:
      return decline(400);
    case path_verdict::not_found:
      return decline(404);
  }
  const cached_file* file = lookup(relative_, {}, now_ms);
  if (file == nullptr && answer_unavailable(files_.error(), req.path, out, now_ms)) return true;
  if (file == nullptr && options_.spa_fallback && is_page_navigation(req, options_.api_prefix)) {
    // A page the app routes in the browser: the app's entry point answers it.
    relative_.assign("index.html");
    file = lookup(relative_, {}, now_ms);
    if (file == nullptr && answer_unavailable(files_.error(), req.path, out, now_ms)) return true;
  }
  if (file == nullptr) return decline(404);
  // "/docs/" whose index.html is a directory: adding another slash would redirect for ever.
  if (file->directory && req.path.ends_with('/')) return decline(404);
  if (file->directory) {
    redirect_to_directory(req, out);
    return true;
  }
  // A precompressed sibling, when the client takes it. Ranges are served from the file itself,
  // so that their offsets mean the same thing whatever the client accepts.
  if ((file->has_br || file->has_gzip) && !wants_range(req)) {
    if (auto accepted = req.header_value("Accept-Encoding")) {
      const cached_file* variant = nullptr;
      if (file->has_br && accepts_encoding(*accepted, "br"))
        variant = lookup(relative_, "br", now_ms);
      if (variant == nullptr && file->has_gzip && accepts_encoding(*accepted, "gzip")) {
        variant = lookup(relative_, "gzip", now_ms);
      }
      if (variant != nullptr) file = variant;
    }
  }
  respond(req, *file, relative_, out);
  return true;
}

const cached_file* static_files::lookup(const std::string& relative, std::string_view encoding,
                                        std::uint64_t now_ms) noexcept {
  const cached_file* file = files_.find(relative, encoding, now_ms);
  if (file != nullptr && !root_usable_) {
    root_checked_ms_ = 0;  // A file could be read: the root may be usable again.
    usable(now_ms);
  }
  return file;
}

bool static_files::usable(std::uint64_t now_ms) noexcept {
  if (now_ms - root_checked_ms_ >= root_recheck_ms || root_checked_ms_ == 0) {
    root_checked_ms_ = now_ms;
    bool was = root_usable_;
    root_usable_ = files_.root_readable();
    if (was && !root_usable_) {
      spdlog::error("static_root \"{}\" cannot be read: {}; answering 503, not ready",
                    options_.root, std::generic_category().message(errno));
    } else if (!was && root_usable_) {
      spdlog::info("static_root \"{}\" can be read again", options_.root);
    }
  }
  return root_usable_;
}

bool static_files::answer_unavailable(int error, std::string_view path, responder& out,
                                      std::uint64_t now_ms) noexcept {
  switch (error) {
    case ENOENT:
    case ENOTDIR:
    case ELOOP:
    case EXDEV:
    case ENAMETOOLONG:
      return false;  // Not there, or not beneath the root: absent.
    case EACCES:
    case EPERM:
      // A file kiln may not read is forbidden; a root it may not read is kiln's problem.
      if (usable(now_ms)) {
        out.send_status(403);
        return true;
      }
      out.send_status(503, "Retry-After: 1\r\n");
      return true;
    default:
      break;
  }
  // Short of descriptors (EMFILE, ENFILE), memory, or a disk that fails: the client may try
  // again; the operator is told, without a line per request.
  if (now_ms >= unavailable_logged_ms_ + 10000) {
    spdlog::error("static file \"{}\": {}; answering 503 ({} more since the last report)", path,
                  std::generic_category().message(error), unavailable_unsaid_);
    unavailable_logged_ms_ = now_ms;
    unavailable_unsaid_ = 0;
  } else {
    ++unavailable_unsaid_;
  }
  out.send_status(503, "Retry-After: 1\r\n");
  return true;
}

void static_files::respond(const request& req, const cached_file& file, const std::string& relative,
                           responder& out) noexcept {
  // Conditional requests: If-None-Match wins over If-Modified-Since (RFC 9110, 13.2.2).
  if (auto tags = req.header_value("If-None-Match")) {
    if (etag_matches(*tags, file.etag)) {
      out.send(304, file.validators, {}, {});
      return;
    }
  } else if (auto since = req.header_value("If-Modified-Since")) {
    if (auto date = parse_http_date(*since); date && file.modified_seconds <= *date) {
      out.send(304, file.validators, {}, {});
      return;
    }
  }

  auto size = static_cast<std::uint64_t>(file.size);
  byte_range range{0, size == 0 ? 0 : size - 1};
  int status = 200;
  if (auto requested = req.header_value("Range");
      requested && wants_range(req) && file.encoding.empty()) {
    // If-Range: the range only when the client's copy is still the current one.
    bool current = true;
    if (auto if_range = req.header_value("If-Range")) {
      auto date = parse_http_date(*if_range);
      current = date ? *date == file.modified_seconds : *if_range == file.etag;
    }
    if (current) {
      switch (parse_range(*requested, size, range)) {
        case range_verdict::whole:
          break;
        case range_verdict::partial:
          status = 206;
          break;
        case range_verdict::unsatisfiable:
          scratch_.assign("Content-Range: bytes */");
          append_number(scratch_, size);
          scratch_.append("\r\n");
          out.send_status(416, scratch_);
          return;
      }
    }
  }
  scratch_.clear();
  if (status == 206) {
    scratch_.assign("Content-Range: bytes ");
    append_number(scratch_, range.first);
    scratch_.push_back('-');
    append_number(scratch_, range.last);
    scratch_.push_back('/');
    append_number(scratch_, size);
    scratch_.append("\r\n");
  }
  std::uint64_t length = size == 0 ? 0 : range.length();

  if (file.contents) {
    std::string_view body = std::string_view(*file.contents).substr(range.first, length);
    out.send_shared(status, file.headers, scratch_, file.contents, body);
    return;
  }
  // Held in a memfd: the response gets a descriptor of its own, so that it outlives a change
  // of the file.
  if (file.memory_fd >= 0) {
    if (int fd = ::fcntl(file.memory_fd, F_DUPFD_CLOEXEC, 0); fd >= 0) {
      out.send_file(status, file.headers, scratch_, fd, range.first, length, true);
      return;
    }
  }
  // Too big to hold: stream it from a descriptor of its own, if it is still the same file.
  if (int fd = files_.open_to_stream(relative, file); fd >= 0) {
    out.send_file(status, file.headers, scratch_, fd, range.first, length, false);
    return;
  }
  // The file changed since it was looked at: it is looked at again, and the client may retry.
  out.send_status(503, "Retry-After: 1\r\n");
}

void static_files::redirect_to_directory(const request& req, responder& out) noexcept {
  // "//host" in Location would send the browser to another site: one leading slash only.
  std::string_view path = req.path;
  while (path.size() > 1 && path[1] == '/')
    path.remove_prefix(1);
  scratch_.assign("Location: ").append(path).append("/");
  if (!req.query.empty()) scratch_.append("?").append(req.query);
  scratch_.append("\r\n");
  out.send_status(301, scratch_);
}

}  // namespace kiln
