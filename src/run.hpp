#pragma once

#include <kiln/app.hpp>

namespace kiln {

// The kiln command: reads the configuration, answers --help, --version, --check-config and
// --print-config, or starts the server. Returns the process exit status: 0, 1 when the server
// cannot start or fails, 2 for a bad configuration.
int run_command_line(int argc, const char* const* argv, const app& application);

}  // namespace kiln
