#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// Remembers the command line and makes room to rewrite it, so that ps and top show what each
// process is ("kiln: master", "kiln: worker 3"). Call it first thing in main(), before anything
// reads the environment: the environment is moved to make the room.
void init_process_title(int argc, char** argv);

// Rewrites the title ps shows (cmdline) and the short name top shows (comm).
void set_process_title(std::string_view title);

// The command line as it was before any title was set, for re-executing the binary.
const std::vector<std::string>& original_arguments();

}  // namespace kiln
