#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::test {

// A directory of its own under /tmp, removed with everything in it at the end of the test.
class temporary_directory {
 public:
  explicit temporary_directory(std::string_view name = "kiln-test");
  ~temporary_directory();
  temporary_directory(const temporary_directory&) = delete;
  temporary_directory& operator=(const temporary_directory&) = delete;

  const std::string& path() const noexcept { return path_; }
  // The directory's own name, without /tmp/.
  std::string name() const;
  std::string operator/(std::string_view relative) const;
  // Writes a file, and the directories above it.
  void write(std::string_view relative, std::string_view contents) const;

 private:
  std::string path_;
};

// A file under /tmp with these contents, removed at the end of the test. Its name is name, a
// random part, and suffix: "kiln-test-a1B2c3.py".
class temporary_file {
 public:
  explicit temporary_file(std::string_view contents, std::string_view name = "kiln-test",
                          std::string_view suffix = "");
  ~temporary_file();
  temporary_file(const temporary_file&) = delete;
  temporary_file& operator=(const temporary_file&) = delete;

  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

// The lines of a file, without their line ends; none when it cannot be read.
std::vector<std::string> lines_of(const std::string& path);

// What README.md holds between "<!-- NAME:begin -->" and "<!-- NAME:end -->" (the lines that a
// test keeps in step with the code); fails the test when the markers are missing.
std::string readme_section(std::string_view name);

// A socket listening on 127.0.0.1 at a port the kernel chose, as systemd or a supervisor would
// hand kiln one; the port goes to *port. The caller closes it.
int listening_socket(std::uint16_t* port = nullptr);

}  // namespace kiln::test
