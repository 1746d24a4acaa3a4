#pragma once

#include <string>

namespace kiln::test {

struct command_result {
  int status = -1;     // The exit code; -1 when the command did not exit.
  std::string output;  // stdout and stderr together.
};

// Runs a command with /bin/sh and collects what it prints.
command_result shell(const std::string& command);

// text quoted for /bin/sh.
std::string shell_quoted(const std::string& text);

}  // namespace kiln::test
