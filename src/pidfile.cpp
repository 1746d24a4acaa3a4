#include "pidfile.hpp"

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <system_error>

namespace kiln {
namespace {

bool names(const std::string& path, pid_t pid) noexcept {
  std::ifstream file(path);
  pid_t written = 0;
  return file >> written && written == pid;
}

}  // namespace

void pidfile::write() const {
  if (path_.empty()) return;
  std::string temporary = path_ + ".tmp";
  {
    std::ofstream file(temporary, std::ios::trunc);
    file << owner_ << '\n';
    if (!file) throw std::system_error(errno, std::generic_category(), "write " + temporary);
  }
  if (std::rename(temporary.c_str(), path_.c_str()) != 0) {
    throw std::system_error(errno, std::generic_category(), "rename to " + path_);
  }
}

void pidfile::step_aside() const noexcept {
  if (!path_.empty()) std::rename(path_.c_str(), (path_ + ".oldbin").c_str());
}

void pidfile::step_back() const noexcept {
  if (!path_.empty()) std::rename((path_ + ".oldbin").c_str(), path_.c_str());
}

void pidfile::remove() const noexcept {
  if (path_.empty()) return;
  if (names(path_, owner_)) std::remove(path_.c_str());
  if (names(path_ + ".oldbin", owner_)) std::remove((path_ + ".oldbin").c_str());
}

}  // namespace kiln
