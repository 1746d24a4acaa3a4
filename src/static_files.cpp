#include "static_files.hpp"

#include <cerrno>
#include <charconv>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <system_error>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "http_date.hpp"
#include "http_fields.hpp"
#include "http_syntax.hpp"
#include "mime_types.hpp"

namespace kiln {
namespace {

// Files up to this size are held in memory, up to this much in all.
constexpr std::size_t max_cached_file_size = 1024 * 1024;
constexpr std::size_t max_cached_bytes = 64 * 1024 * 1024;
// How long a cached file is trusted before it is compared with the disk again.
constexpr std::uint64_t revalidate_after_ms = 1000;

constexpr std::string_view cache_forever = "Cache-Control: public, max-age=31536000, immutable\r\n";
constexpr std::string_view cache_revalidate = "Cache-Control: no-cache\r\n";

// Reads a whole file; false with errno set on failure.
bool read_whole(int fd, std::string& contents, std::size_t size) noexcept {
  contents.resize(size);
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, contents.data() + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;  // The file shrank while it was read.
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

void append_number(std::string& out, std::uint64_t value, int base = 10) {
  char digits[24];
  auto end = std::to_chars(digits, digits + sizeof digits, value, base).ptr;
  out.append(digits, end);
}

std::string_view suffix_for(std::string_view encoding) noexcept {
  if (encoding == "br") return ".br";
  if (encoding == "gzip") return ".gz";
  return {};
}

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

// Range applies to GET only: a server must ignore it for HEAD (RFC 9110, 14.2), whose answer
// is then GET's answer without Range.
bool wants_range(const request& req) noexcept {
  return req.method == "GET" && req.header_value("Range").has_value();
}

}  // namespace

struct static_files::cached_file {
  std::shared_ptr<const std::string> contents;  // The bytes, when the file is held in memory.
  std::string headers;     // Content-Type, Content-Encoding, validators, caching, Vary.
  std::string validators;  // What a 304 repeats: ETag, Last-Modified, Cache-Control, Vary.
  std::string etag;
  std::time_t modified_seconds = 0;
  std::string_view encoding;  // "" for the file itself, "br" or "gzip" for a sibling.
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  struct timespec modified = {};
  bool directory = false;
  bool has_br = false;  // Precompressed siblings, for the file itself.
  bool has_gzip = false;
  std::uint64_t checked_ms = 0;

  bool same_file(const struct stat& status) const noexcept {
    return status.st_dev == device && status.st_ino == inode && status.st_size == size &&
           status.st_mtim.tv_sec == modified.tv_sec && status.st_mtim.tv_nsec == modified.tv_nsec;
  }
};

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

static_files::static_files(static_options options) : options_(std::move(options)) {
  root_fd_ = ::open(options_.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(),
                            "open(\"" + options_.root + "\") for static_root");
  }
}

static_files::~static_files() {
  if (root_fd_ >= 0) ::close(root_fd_);
}

int static_files::open_beneath(const std::string& relative) const noexcept {
  // RESOLVE_BENEATH makes the kernel refuse any resolution, through ".." or a symlink, that
  // would leave the root: the check cannot race with changes to the tree.
  static bool have_openat2 = true;
  if (have_openat2 && use_openat2_) {
    struct open_how how = {};
    how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, root_fd_, relative.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);
    have_openat2 = false;
    spdlog::warn("openat2 is not available: static files that are symlinks will not be served");
  }
  // Without openat2, walk the path one component at a time and follow no symlink at all. The
  // components were checked already: none is "..".
  int directory = root_fd_;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = relative.find('/', start);
    std::string component = relative.substr(start, slash - start);
    int flags = slash == std::string::npos ? O_RDONLY | O_NONBLOCK : O_PATH | O_DIRECTORY;
    int fd = ::openat(directory, component.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
    int error = errno;
    if (directory != root_fd_) ::close(directory);
    errno = error;
    if (fd < 0 || slash == std::string::npos) return fd;
    directory = fd;
    start = slash + 1;
  }
}

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
  const cached_file* file = find(relative_, {}, now_ms);
  if (file == nullptr && answer_unavailable(lookup_error_, req.path, out, now_ms)) return true;
  if (file == nullptr && options_.spa_fallback && is_page_navigation(req, options_.api_prefix)) {
    // A page the app routes in the browser: the app's entry point answers it.
    relative_.assign("index.html");
    file = find(relative_, {}, now_ms);
    if (file == nullptr && answer_unavailable(lookup_error_, req.path, out, now_ms)) return true;
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
        variant = find(relative_, "br", now_ms);
      if (variant == nullptr && file->has_gzip && accepts_encoding(*accepted, "gzip")) {
        variant = find(relative_, "gzip", now_ms);
      }
      if (variant != nullptr) file = variant;
    }
  }
  respond(req, *file, relative_, out);
  return true;
}

bool static_files::usable(std::uint64_t now_ms) noexcept {
  if (now_ms - root_checked_ms_ >= revalidate_after_ms || root_checked_ms_ == 0) {
    root_checked_ms_ = now_ms;
    bool was = root_usable_;
    root_usable_ = ::faccessat(root_fd_, ".", R_OK | X_OK, AT_EACCESS) == 0;
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

bool static_files::unchanged(const std::string& relative, const cached_file& file) const noexcept {
  // The same file (and, for the file itself, the same precompressed siblings) as when cached.
  auto same_as = [&](std::string_view suffix, auto check) {
    int fd = open_beneath(relative + std::string(suffix));
    struct stat status {};
    bool result = check(fd >= 0 && ::fstat(fd, &status) == 0 ? &status : nullptr);
    if (fd >= 0) ::close(fd);
    return result;
  };
  bool same = same_as(suffix_for(file.encoding), [&](const struct stat* status) {
    return status != nullptr && file.same_file(*status);
  });
  if (!same || !file.encoding.empty() || file.directory) return same;
  auto regular = [](bool expected) {
    return [expected](const struct stat* status) {
      return (status != nullptr && S_ISREG(status->st_mode)) == expected;
    };
  };
  return same_as(".br", regular(file.has_br)) && same_as(".gz", regular(file.has_gzip));
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
  // Too big to hold: stream it from a descriptor of its own, if it is still the same file.
  std::string path = relative + std::string(suffix_for(file.encoding));
  int fd = open_beneath(path);
  struct stat status_now {};
  if (fd >= 0 && ::fstat(fd, &status_now) == 0 && file.same_file(status_now)) {
    out.send_file(status, file.headers, scratch_, fd, range.first, length);
    return;
  }
  if (fd >= 0) ::close(fd);
  // The file changed since it was looked at: look again next time, and let the client retry.
  if (auto found = cache_.find(std::string_view(relative)); found != cache_.end()) {
    found->second->checked_ms = 0;
  }
  out.send_status(503, "Retry-After: 1\r\n");
}

const static_files::cached_file* static_files::find(const std::string& relative,
                                                    std::string_view encoding,
                                                    std::uint64_t now_ms) noexcept {
  // Precompressed siblings are cached under their own key: the NUL cannot occur in a path.
  const std::string* key = &relative;
  if (!encoding.empty()) {
    key_.assign(encoding).push_back('\0');
    key_.append(relative);
    key = &key_;
  }
  auto found = cache_.find(std::string_view(*key));
  if (found != cache_.end() && now_ms - found->second->checked_ms < revalidate_after_ms) {
    return found->second.get();
  }
  if (found != cache_.end()) {
    if (unchanged(relative, *found->second)) {
      found->second->checked_ms = now_ms;
      return found->second.get();
    }
    cached_bytes_ -= found->second->contents ? found->second->contents->size() : 0;
    cache_.erase(found);
  }
  int error = 0;
  auto loaded = load(relative, encoding, error);
  if (!loaded) {
    lookup_error_ = error;
    return nullptr;
  }
  if (!root_usable_) {
    root_checked_ms_ = 0;  // A file could be read: the root may be usable again.
    usable(now_ms);
  }
  loaded->checked_ms = now_ms;
  std::size_t size = loaded->contents ? loaded->contents->size() : 0;
  if (cached_bytes_ + size > max_cached_bytes) {
    // The cache is full: keep the metadata, and stream the bytes from disk.
    loaded->contents.reset();
    size = 0;
  }
  cached_bytes_ += size;
  auto [slot, inserted] = cache_.insert_or_assign(*key, std::move(loaded));
  return slot->second.get();
}

std::shared_ptr<static_files::cached_file> static_files::load(const std::string& relative,
                                                              std::string_view encoding,
                                                              int& error) noexcept {
  int fd = open_beneath(relative + std::string(suffix_for(encoding)));
  if (fd < 0) {
    error = errno;
    return nullptr;
  }
  std::shared_ptr<cached_file> file;
  struct stat status {};
  if (::fstat(fd, &status) != 0) {
    error = errno;
  } else if (!S_ISREG(status.st_mode) && !(S_ISDIR(status.st_mode) && encoding.empty())) {
    error = ENOENT;  // Devices, pipes and sockets are never served.
  } else {
    file = std::make_shared<cached_file>();
    file->device = status.st_dev;
    file->inode = status.st_ino;
    file->size = status.st_size;
    file->modified = status.st_mtim;
    file->modified_seconds = status.st_mtim.tv_sec;
    file->directory = S_ISDIR(status.st_mode);
    file->encoding = encoding;
    if (!file->directory) {
      if (static_cast<std::size_t>(status.st_size) <= max_cached_file_size) {
        auto contents = std::make_shared<std::string>();
        if (!read_whole(fd, *contents, static_cast<std::size_t>(status.st_size))) {
          error = errno;
          ::close(fd);
          return nullptr;
        }
        file->contents = std::move(contents);
      }
      if (encoding.empty()) {
        for (auto [suffix, flag] :
             {std::pair{".br", &cached_file::has_br}, std::pair{".gz", &cached_file::has_gzip}}) {
          int sibling = open_beneath(relative + suffix);
          struct stat sibling_status {};
          file.get()->*flag = sibling >= 0 && ::fstat(sibling, &sibling_status) == 0 &&
                              S_ISREG(sibling_status.st_mode);
          if (sibling >= 0) ::close(sibling);
        }
      }
      char date[http_date::length];
      http_date::format(status.st_mtim.tv_sec, date);
      // The nanoseconds too: a same-size rewrite within the second must change the tag.
      file->etag.assign("\"");
      append_number(file->etag, static_cast<std::uint64_t>(status.st_mtim.tv_sec), 16);
      file->etag.push_back('.');
      append_number(file->etag, static_cast<std::uint64_t>(status.st_mtim.tv_nsec), 16);
      file->etag.push_back('-');
      append_number(file->etag, static_cast<std::uint64_t>(status.st_size), 16);
      file->etag.push_back('"');
      std::string& v = file->validators;
      v.append("ETag: ").append(file->etag).append("\r\n");
      v.append("Last-Modified: ").append(date, sizeof date).append("\r\n");
      v.append(is_content_hashed(relative) ? cache_forever : cache_revalidate);
      if (!encoding.empty() || file->has_br || file->has_gzip)
        v.append("Vary: Accept-Encoding\r\n");
      std::string& h = file->headers;
      h.append("Content-Type: ").append(mime_type_for(relative)).append("\r\n");
      if (!encoding.empty()) h.append("Content-Encoding: ").append(encoding).append("\r\n");
      h.append("Accept-Ranges: bytes\r\n");
      h.append(v);
    }
  }
  ::close(fd);
  return file;
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
