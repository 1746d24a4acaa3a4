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
#include "mime_types.hpp"

namespace kiln {
namespace {

// Files up to this size are held in memory, up to this much in all.
constexpr std::size_t max_cached_file_size = 1024 * 1024;
constexpr std::size_t max_cached_bytes = 64 * 1024 * 1024;
// How long a cached file is trusted before it is compared with the disk again.
constexpr std::uint64_t revalidate_after_ms = 1000;

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads a whole file; false with errno set on failure.
bool read_whole(int fd, std::string& contents, std::size_t size) noexcept {
  try {
    contents.resize(size);
  } catch (const std::bad_alloc&) {
    errno = ENOMEM;
    return false;
  }
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

void append_hex(std::string& out, std::uint64_t value) {
  char digits[16];
  auto end = std::to_chars(digits, digits + sizeof digits, value, 16).ptr;
  out.append(digits, end);
}

}  // namespace

struct static_files::cached_file {
  std::shared_ptr<const std::string> contents;
  std::string headers;  // Content-Type, Last-Modified and ETag lines.
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  struct timespec modified = {};
  bool directory = false;
  std::uint64_t checked_ms = 0;

  bool same_file(const struct stat& status) const noexcept {
    return status.st_dev == device && status.st_ino == inode && status.st_size == size &&
           status.st_mtim.tv_sec == modified.tv_sec && status.st_mtim.tv_nsec == modified.tv_nsec;
  }
};

path_verdict to_relative_path(std::string_view encoded_path, std::string& relative) {
  relative.clear();
  std::string& decoded = relative;
  for (std::size_t i = 0; i < encoded_path.size(); ++i) {
    char c = encoded_path[i];
    if (c == '%') {
      if (i + 2 >= encoded_path.size()) return path_verdict::bad_request;
      int high = hex_value(encoded_path[i + 1]);
      int low = hex_value(encoded_path[i + 2]);
      if (high < 0 || low < 0) return path_verdict::bad_request;
      c = static_cast<char>(high * 16 + low);
      i += 2;
    }
    if (c == '\0' || c == '\\') return path_verdict::bad_request;
    decoded.push_back(c);
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
    if (segment.front() == '.') return path_verdict::not_found;
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

static_files::static_files(const std::string& root) {
  root_fd_ = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(),
                            "open(\"" + root + "\") for static_root");
  }
}

static_files::~static_files() {
  if (root_fd_ >= 0) ::close(root_fd_);
}

int static_files::open_beneath(const std::string& relative) const noexcept {
  // RESOLVE_BENEATH makes the kernel refuse any resolution, through ".." or a symlink, that
  // would leave the root: the check cannot race with changes to the tree.
  static bool have_openat2 = true;
  if (have_openat2) {
    struct open_how how = {};
    how.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, root_fd_, relative.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != ENOSYS) return static_cast<int>(fd);
    // Kernels before 5.6, and some sandboxes, lack openat2.
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

void static_files::serve(const request& req, responder& out, std::uint64_t now_ms) noexcept {
  bool head = req.method == "HEAD";
  if (req.method != "GET" && !head) {
    out.send_status(405, "Allow: GET, HEAD\r\n");
    return;
  }
  switch (to_relative_path(req.path, relative_)) {
    case path_verdict::file:
      break;
    case path_verdict::bad_request:
      out.send_status(400);
      return;
    case path_verdict::not_found:
      out.send_status(404);
      return;
  }
  const cached_file* file = find(relative_, now_ms);
  if (file == nullptr) {
    out.send_status(404);
  } else if (file->directory) {
    redirect_to_directory(req, out);
  } else {
    out.send_shared(200, file->headers, file->contents, *file->contents);
  }
}

const static_files::cached_file* static_files::find(const std::string& relative,
                                                    std::uint64_t now_ms) noexcept {
  auto found = cache_.find(std::string_view{relative});
  if (found != cache_.end() && now_ms - found->second->checked_ms < revalidate_after_ms) {
    return found->second.get();
  }
  int error = 0;
  auto loaded = load(relative, error);
  if (found != cache_.end()) {
    cached_bytes_ -= found->second->contents ? found->second->contents->size() : 0;
    cache_.erase(found);
  }
  if (!loaded) {
    if (error != ENOENT && error != ENOTDIR && error != ELOOP && error != EXDEV &&
        error != ENAMETOOLONG && error != EACCES) {
      spdlog::error("static file \"{}\": {}", relative, std::generic_category().message(error));
    }
    return nullptr;
  }
  loaded->checked_ms = now_ms;
  std::size_t size = loaded->contents ? loaded->contents->size() : 0;
  if (size > max_cached_file_size || cached_bytes_ + size > max_cached_bytes) {
    // Too big to keep: serve it from this one-off copy. The batch holds the bytes until sent.
    uncached_ = std::move(loaded);
    return uncached_.get();
  }
  try {
    cached_bytes_ += size;
    auto [slot, inserted] = cache_.emplace(relative, std::move(loaded));
    return slot->second.get();
  } catch (const std::bad_alloc&) {
    cached_bytes_ -= size;
    return nullptr;
  }
}

std::shared_ptr<static_files::cached_file> static_files::load(const std::string& relative,
                                                              int& error) noexcept {
  int fd = open_beneath(relative);
  if (fd < 0) {
    error = errno;
    return nullptr;
  }
  std::shared_ptr<cached_file> file;
  struct stat status {};
  if (::fstat(fd, &status) != 0) {
    error = errno;
  } else if (!S_ISREG(status.st_mode) && !S_ISDIR(status.st_mode)) {
    error = ENOENT;  // Devices, pipes and sockets are never served.
  } else {
    try {
      file = std::make_shared<cached_file>();
      file->device = status.st_dev;
      file->inode = status.st_ino;
      file->size = status.st_size;
      file->modified = status.st_mtim;
      file->directory = S_ISDIR(status.st_mode);
      if (!file->directory) {
        auto contents = std::make_shared<std::string>();
        if (!read_whole(fd, *contents, static_cast<std::size_t>(status.st_size))) {
          error = errno;
          file.reset();
        } else {
          file->contents = std::move(contents);
          char date[http_date::length];
          http_date::format(status.st_mtim.tv_sec, date);
          file->headers.append("Content-Type: ").append(mime_type_for(relative)).append("\r\n");
          file->headers.append("Last-Modified: ").append(date, sizeof date).append("\r\n");
          file->headers.append("ETag: \"");
          append_hex(file->headers, static_cast<std::uint64_t>(status.st_mtim.tv_sec));
          file->headers.push_back('-');
          append_hex(file->headers, static_cast<std::uint64_t>(status.st_size));
          file->headers.append("\"\r\n");
        }
      }
    } catch (const std::bad_alloc&) {
      error = ENOMEM;
      file.reset();
    }
  }
  ::close(fd);
  return file;
}

void static_files::redirect_to_directory(const request& req, responder& out) noexcept {
  try {
    location_.assign("Location: ").append(req.path).append("/");
    if (!req.query.empty()) location_.append("?").append(req.query);
    location_.append("\r\n");
    out.send_status(301, location_);
  } catch (const std::bad_alloc&) {
    out.send_status(500);
  }
}

}  // namespace kiln
