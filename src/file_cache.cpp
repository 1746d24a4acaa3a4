#include "file_cache.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <system_error>
#include <unistd.h>
#include <utility>

#include <spdlog/spdlog.h>

#include "http_date.hpp"
#include "log.hpp"
#include "mime_types.hpp"
#include "static_paths.hpp"
#include "text.hpp"

namespace kiln {
namespace {

// Files up to this size are held in memory, up to this much in all.
constexpr std::size_t max_cached_file_size = 1024 * 1024;
constexpr std::size_t max_cached_bytes = 64 * 1024 * 1024;
// Held files from this size on are sent by sendfile from a memfd: copying them into the socket
// would cost more than the system calls they take apart from the head. The memfds are counted
// in the descriptors a worker keeps besides its connections (open_file_limit.hpp).
constexpr std::size_t zero_copy_from = 64 * 1024;
// How long a cached file is trusted before it is compared with the disk again.
constexpr std::uint64_t revalidate_after_ms = 1000;

constexpr std::string_view cache_forever = "Cache-Control: public, max-age=31536000, immutable\r\n";
constexpr std::string_view cache_revalidate = "Cache-Control: no-cache\r\n";

// Repeats transfer(done), a read or write of the bytes from done on, until size bytes have gone;
// false with errno set on failure (EIO when the file ended early).
template <typename Transfer>
bool transfer_whole(std::size_t size, Transfer transfer) noexcept {
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = transfer(done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// Reads a whole file; false with errno set on failure.
bool read_whole(int fd, std::string& contents, std::size_t size) noexcept {
  contents.resize(size);
  return transfer_whole(size, [&](std::size_t done) {
    return ::pread(fd, contents.data() + done, size - done, static_cast<off_t>(done));
  });
}

// The bytes in a memfd sealed against change, so that a response sent from it can never come
// out shorter than its head promised; -1 with errno set on failure.
int sealed_memory_file(std::string_view bytes) noexcept {
  int fd = ::memfd_create("kiln-static-file", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  bool written = transfer_whole(bytes.size(), [&](std::size_t done) {
    return ::write(fd, bytes.data() + done, bytes.size() - done);
  });
  if (!written ||
      ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

std::string_view suffix_for(std::string_view encoding) noexcept {
  if (encoding == "br") return ".br";
  if (encoding == "gzip") return ".gz";
  return {};
}

}  // namespace

void cached_file::release_bytes() noexcept {
  contents.reset();
  if (memory_fd >= 0) ::close(std::exchange(memory_fd, -1));
}

file_cache::file_cache(const std::string& root) {
  root_fd_ = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd_ < 0) {
    throw std::system_error(errno, std::generic_category(),
                            "open(\"" + root + "\") for static_root");
  }
}

file_cache::~file_cache() {
  if (root_fd_ >= 0) ::close(root_fd_);
}

bool file_cache::root_readable() const noexcept {
  return ::faccessat(root_fd_, ".", R_OK | X_OK, AT_EACCESS) == 0;
}

const cached_file* file_cache::find(const std::string& relative, std::string_view encoding,
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
    cached_bytes_ -= found->second->held_bytes();
    memory_files_ -= found->second->memory_fd >= 0 ? 1 : 0;
    cache_.erase(found);
  }
  int error = 0;
  auto loaded = load(relative, encoding, error);
  if (!loaded) {
    error_ = error;
    return nullptr;
  }
  loaded->checked_ms = now_ms;
  std::size_t size = loaded->held_bytes();
  if (cached_bytes_ + size > max_cached_bytes) {
    // The cache is full: keep the metadata, and stream the bytes from disk.
    loaded->release_bytes();
    size = 0;
  }
  cached_bytes_ += size;
  memory_files_ += loaded->memory_fd >= 0 ? 1 : 0;
  auto [slot, inserted] = cache_.insert_or_assign(*key, std::move(loaded));
  return slot->second.get();
}

int file_cache::open_to_stream(const std::string& relative, const cached_file& file) noexcept {
  int fd = open_beneath(relative + std::string(suffix_for(file.encoding)));
  struct stat status {};
  if (fd >= 0 && ::fstat(fd, &status) == 0 && file.same_file(status)) return fd;
  if (fd >= 0) ::close(fd);
  if (auto found = cache_.find(std::string_view(relative)); found != cache_.end()) {
    found->second->checked_ms = 0;
  }
  return -1;
}

bool file_cache::unchanged(const std::string& relative, const cached_file& file) const noexcept {
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

std::shared_ptr<cached_file> file_cache::load(const std::string& relative,
                                              std::string_view encoding, int& error) noexcept {
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
        if (contents->size() < zero_copy_from || memory_files_ >= max_memory_files) {
          file->contents = std::move(contents);
        } else if (file->memory_fd = sealed_memory_file(*contents); file->memory_fd < 0) {
          // Without a memfd (out of descriptors or memory) the file is streamed from disk.
          spdlog::warn("memfd_create for {}: {}", relative, errno_text(errno));
        }
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

int file_cache::open_beneath(const std::string& relative) const noexcept {
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

}  // namespace kiln
