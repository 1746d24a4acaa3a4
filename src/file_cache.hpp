#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <unordered_map>

namespace kiln {

// A file below the static root as it is served: what it is on disk, the header lines its
// responses carry, made once, and its bytes when it is small enough to hold: in a string when
// they go out in one write with the head, in a sealed memfd when the socket should take them by
// sendfile, which copies nothing and, from memory, never waits for a disk.
struct cached_file {
  cached_file() = default;
  cached_file(const cached_file&) = delete;
  cached_file& operator=(const cached_file&) = delete;
  ~cached_file() { release_bytes(); }

  std::shared_ptr<const std::string> contents;  // The bytes, when held for one write.
  int memory_fd = -1;                           // The bytes, when held for sendfile.
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

  // How much memory the bytes take, wherever they are held.
  std::size_t held_bytes() const noexcept {
    if (contents) return contents->size();
    return memory_fd >= 0 ? static_cast<std::size_t>(size) : 0;
  }
  void release_bytes() noexcept;

  bool same_file(const struct stat& status) const noexcept {
    return status.st_dev == device && status.st_ino == inode && status.st_size == size &&
           status.st_mtim.tv_sec == modified.tv_sec && status.st_mtim.tv_nsec == modified.tv_nsec;
  }
};

// The files below a root directory, opened so that nothing can lead out of it, and remembered:
// files up to 1 MiB (64 MiB in all) are held in memory (from 64 KiB on, the first
// max_memory_files of them in a memfd each), and every file is looked at on disk
// again at most once a second. A file is looked up with its precompressed siblings (.br, .gz).
class file_cache {
 public:
  static constexpr std::size_t max_memory_files = 32;

  // Opens the root directory; throws std::system_error naming it when it cannot.
  explicit file_cache(const std::string& root);
  ~file_cache();
  file_cache(const file_cache&) = delete;
  file_cache& operator=(const file_cache&) = delete;

  // The file (or precompressed variant, with encoding "br" or "gzip") at relative, from memory
  // when it was looked at within the last second; nullptr when there is none, and error() says
  // why.
  const cached_file* find(const std::string& relative, std::string_view encoding,
                          std::uint64_t now_ms) noexcept;
  // Why find() last returned nullptr: an errno (ENOENT, EACCES, EMFILE...).
  int error() const noexcept { return error_; }

  // A descriptor to stream a file too big to hold, when it is still the one find() gave;
  // otherwise -1, and the next find() looks at the disk again.
  int open_to_stream(const std::string& relative, const cached_file& file) noexcept;

  // True while the root can be read and searched.
  bool root_readable() const noexcept;

  // Without openat2 (kernels before 5.6, some sandboxes), files are opened one path component
  // at a time and no symlink is followed. Tests switch to that path with this.
  void use_openat2(bool enabled) noexcept { use_openat2_ = enabled; }

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };

  // Opens a file below the root without following links out of it; -1 with errno on failure.
  int open_beneath(const std::string& relative) const noexcept;
  std::shared_ptr<cached_file> load(const std::string& relative, std::string_view encoding,
                                    int& error) noexcept;
  bool unchanged(const std::string& relative, const cached_file& file) const noexcept;

  int root_fd_ = -1;
  std::size_t memory_files_ = 0;  // Held files with a memfd.
  int error_ = 0;
  bool use_openat2_ = true;
  std::size_t cached_bytes_ = 0;
  std::string key_;  // Scratch space for cache keys.
  std::unordered_map<std::string, std::shared_ptr<cached_file>, string_hash, std::equal_to<>>
      cache_;
};

}  // namespace kiln
