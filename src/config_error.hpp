#pragma once

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include "settings.hpp"

namespace kiln {

// A bad setting: one line that names where the value came from (file and line, environment
// variable or flag) and what is wrong with it.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws the config_error "WHERE: MESSAGE". The values it quotes came from the user and may
// hold line breaks (a TOML multi-line string, a variable): control characters are escaped, so
// that the message stays one line.
[[noreturn]] void fail(std::string_view where, std::string_view message);

// How many single-character edits make a into b (Levenshtein).
std::size_t edit_distance(std::string_view a, std::string_view b);

// "; did you mean 'keepalive'?" when a setting's name, spelled as spell spells it (TOML key,
// variable, flag), is close to name; else "".
std::string suggestion(std::string_view name, std::string (*spell)(const setting_info&));

}  // namespace kiln
