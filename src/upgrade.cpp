#include "upgrade.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string_view>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include "log.hpp"
#include "process_signals.hpp"
#include "process_title.hpp"

extern char** environ;

namespace kiln {

std::string executable_path() {
  const auto& arguments = original_arguments();
  std::string name = arguments.empty() ? std::string() : arguments.front();
  if (name.find('/') != std::string::npos) {
    if (name.front() == '/') return name;
    char directory[4096];
    if (getcwd(directory, sizeof directory) != nullptr) return std::string(directory) + "/" + name;
  } else if (const char* path = std::getenv("PATH"); path != nullptr && !name.empty()) {
    std::string_view rest = path;
    while (true) {
      auto colon = rest.find(':');
      std::string candidate = std::string(rest.substr(0, colon)) + "/" + name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  char self[4096];
  ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
  return length > 0 ? std::string(self, static_cast<std::size_t>(length)) : name;
}

pid_t start_new_master(const std::string& binary,
                       const std::vector<std::shared_ptr<listener>>& sockets) {
  // Everything the child needs is made before fork: between fork and exec it only moves
  // descriptors and calls execve.
  std::vector<std::string> environment_strings;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text = *entry;
    if (!text.starts_with("LISTEN_")) environment_strings.emplace_back(text);
  }
  std::string names;
  for (const auto& socket : sockets) {
    if (!names.empty()) names += ':';
    names += encode_socket_name(socket->bind_text());
  }
  environment_strings.push_back("LISTEN_FDS=" + std::to_string(sockets.size()));
  environment_strings.push_back("LISTEN_FDNAMES=" + names);
  // The sockets become descriptors 3, 4, ...; duplicates above that range first, so that moving
  // one cannot overwrite another.
  std::vector<int> high;
  int above = 3 + static_cast<int>(sockets.size());
  for (const auto& socket : sockets) {
    int fd = fcntl(socket->fd(), F_DUPFD_CLOEXEC, above);
    if (fd < 0) {
      spdlog::error("fcntl(F_DUPFD) for USR2: {}", errno_text(errno));
      for (int done : high)
        ::close(done);
      return 0;
    }
    high.push_back(fd);
  }
  char listen_pid[32] = "LISTEN_PID=";  // Filled in by the child, which knows its pid.
  std::vector<char*> envp;
  for (auto& text : environment_strings)
    envp.push_back(text.data());
  envp.push_back(listen_pid);
  envp.push_back(nullptr);
  std::vector<std::string> arguments = original_arguments();
  std::vector<char*> argv;
  for (auto& argument : arguments)
    argv.push_back(argument.data());
  argv.push_back(nullptr);
  const char* path = binary.c_str();

  signal_blocker blocked;
  pid_t pid = fork();
  if (pid == 0) {
    for (std::size_t i = 0; i < high.size(); ++i)
      dup2(high[i], 3 + static_cast<int>(i));
    std::snprintf(listen_pid + std::strlen(listen_pid), 20, "%d", static_cast<int>(getpid()));
    reset_signal_handlers();
    sigprocmask(SIG_SETMASK, &blocked.previous(), nullptr);
    execve(path, argv.data(), envp.data());
    std::fprintf(stderr, "kiln: execve(\"%s\") for USR2: %s\n", path, errno_text(errno).c_str());
    _exit(127);
  }
  blocked.restore();
  for (int fd : high)
    ::close(fd);
  if (pid < 0) {
    spdlog::error("fork for USR2: {}", errno_text(errno));
    return 0;
  }
  return pid;
}

}  // namespace kiln
