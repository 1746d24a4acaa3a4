#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "settings.hpp"

namespace kiln {

// What the command line asks for.
struct command_line {
  struct value {
    const setting_info* setting;
    std::string text;
    std::string flag;  // As written, for messages: "--workers"; empty for the argument.
  };
  std::string config_file;
  std::vector<value> values;  // The one argument, the WSGI app, has no flag.
  bool help = false;
  bool version = false;
  bool check_config = false;
  bool print_config = false;
  bool settings_markdown = false;
};

// Parses the arguments after the program name: flags named by the settings registry (and
// gunicorn's spellings), --no-FLAG for a boolean, and one argument, the app. Throws
// config_error.
command_line parse_command_line(std::span<const char* const> arguments);

// Splits text into words as a POSIX shell does (and Python's shlex, which gunicorn reads
// GUNICORN_CMD_ARGS with): blanks separate, quotes group, a backslash escapes. Throws
// config_error prefixed with where for an unclosed quote.
std::vector<std::string> shell_words(std::string_view text, std::string_view where);

}  // namespace kiln
