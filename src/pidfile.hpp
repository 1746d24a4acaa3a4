#pragma once

#include <string>
#include <sys/types.h>

namespace kiln {

// The file that holds the master's pid (the pid setting), for init scripts and operators. It is
// written whole or not at all (a temporary file renamed into place), and removed only by the
// master it names: after USR2 the new master owns the path.
class pidfile {
 public:
  // No file at all when path is empty.
  pidfile(std::string path, pid_t owner) : path_(std::move(path)), owner_(owner) {}

  // Throws std::system_error when the file cannot be written.
  void write() const;
  // Before USR2: PATH becomes PATH.oldbin, so that the new master can write its own at once.
  void step_aside() const noexcept;
  // The new master failed: PATH.oldbin is PATH again.
  void step_back() const noexcept;
  // Removes PATH and PATH.oldbin where they name this master.
  void remove() const noexcept;

 private:
  std::string path_;
  pid_t owner_;
};

}  // namespace kiln
