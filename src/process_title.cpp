#include "process_title.hpp"

#include <cstring>
#include <sys/prctl.h>

extern char** environ;

namespace kiln {
namespace {

std::vector<std::string> arguments;
char* title_area = nullptr;  // argv[0] onwards: the memory /proc/PID/cmdline shows.
std::size_t title_size = 0;

}  // namespace

void init_process_title(int argc, char** argv) {
  arguments.assign(argv, argv + argc);
  if (argc == 0 || argv[0] == nullptr) return;
  // The strings of argv and then of environ lie end to end; all of it can hold the title once
  // the environment lives somewhere else.
  char* end = argv[argc - 1] + std::strlen(argv[argc - 1]) + 1;
  std::size_t count = 0;
  while (environ[count] != nullptr)
    ++count;
  for (std::size_t i = 0; i < count; ++i) {
    if (environ[i] == end) end = environ[i] + std::strlen(environ[i]) + 1;
  }
  auto** moved = new char*[count + 1];
  for (std::size_t i = 0; i < count; ++i)
    moved[i] = strdup(environ[i]);
  moved[count] = nullptr;
  environ = moved;
  title_area = argv[0];
  title_size = static_cast<std::size_t>(end - argv[0]);
}

void set_process_title(std::string_view title) {
  prctl(PR_SET_NAME, std::string(title.substr(0, 15)).c_str(), 0, 0, 0);
  if (title_area == nullptr || title_size < 2) return;
  std::size_t length = std::min(title.size(), title_size - 1);
  std::memcpy(title_area, title.data(), length);
  std::memset(title_area + length, 0, title_size - length);
}

const std::vector<std::string>& original_arguments() {
  return arguments;
}

}  // namespace kiln
