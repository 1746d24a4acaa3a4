#pragma once

#include <string>

#include "config.hpp"

namespace kiln {

// A number as a setting is written: "30", "0.5".
std::string number_text(double value);

// --print-config: every setting as TOML, with where its value came from.
std::string describe(const configuration& config);
// --help.
std::string help_text();
// The README's table of settings (--settings-markdown).
std::string settings_markdown();

}  // namespace kiln
