#include "temporary.hpp"

#include <arpa/inet.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace kiln::test {

temporary_directory::temporary_directory(std::string_view name) {
  std::string pattern = "/tmp/" + std::string(name) + "-XXXXXX";
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  path_ = pattern;
}

temporary_directory::~temporary_directory() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string temporary_directory::name() const {
  return std::filesystem::path(path_).filename();
}

std::string temporary_directory::operator/(std::string_view relative) const {
  return path_ + "/" + std::string(relative);
}

void temporary_directory::write(std::string_view relative, std::string_view contents) const {
  std::filesystem::path file = *this / relative;
  std::filesystem::create_directories(file.parent_path());
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << contents;
  REQUIRE(out.good());
}

temporary_file::temporary_file(std::string_view contents, std::string_view name,
                               std::string_view suffix) {
  std::string pattern = "/tmp/" + std::string(name) + "-XXXXXX" + std::string(suffix);
  int fd = mkstemps(pattern.data(), static_cast<int>(suffix.size()));
  REQUIRE(fd >= 0);
  path_ = pattern;
  REQUIRE(::write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size()));
  close(fd);
}

temporary_file::~temporary_file() {
  unlink(path_.c_str());
}

int listening_socket(std::uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(listen(fd, 64) == 0);
  socklen_t length = sizeof address;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  if (port != nullptr) *port = ntohs(address.sin_port);
  return fd;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream file(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(file, line);)
    lines.push_back(line);
  return lines;
}

std::string readme_section(std::string_view name) {
  std::ifstream file(std::string(KILN_SOURCE_DIR) + "/README.md");
  std::stringstream text;
  text << file.rdbuf();
  std::string readme = text.str();
  std::string begin = "<!-- " + std::string(name) + ":begin -->\n";
  auto start = readme.find(begin);
  auto end = readme.find("<!-- " + std::string(name) + ":end -->");
  REQUIRE(start != std::string::npos);
  REQUIRE(end != std::string::npos);
  return readme.substr(start + begin.size(), end - start - begin.size());
}

}  // namespace kiln::test
