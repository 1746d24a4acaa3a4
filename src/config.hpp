#pragma once

#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "settings.hpp"

namespace kiln {

// A bad setting: one line that names where the value came from (file and line, environment
// variable or flag) and what is wrong with it.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The environment, as name to value.
using environment = std::map<std::string, std::string, std::less<>>;
environment process_environment();

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

// Parses the arguments after the program name; throws config_error.
command_line parse_command_line(std::span<const char* const> arguments);

// The settings in effect and where each came from.
struct configuration {
  settings values;
  std::vector<std::string> origins;  // By registry index: "default", "kiln.toml:7", "env PORT"...
  std::string file;                  // The configuration file read, if any: TOML, or Python.
  // What the configuration holds that kiln leaves aside (gunicorn settings it does without),
  // for the master to say once logging is set up.
  std::vector<std::string> warnings;

  std::string_view origin(std::string_view setting_name) const;
};

// Applies the sources in order of precedence: defaults, the configuration file (-c, or
// KILN_CONFIG: TOML, or Python as gunicorn's config files are), the environment,
// GUNICORN_CMD_ARGS, the command line. Under a Python file, the conventional variables (PORT,
// WEB_CONCURRENCY...) come before the file, as gunicorn takes them: defaults the file overrides.
// Throws config_error.
configuration load_configuration(const command_line& line, const environment& env);

// Expands ${VAR}, ${VAR:-default} and ${VAR:?message} in text; "$$" is a literal "$".
// Throws config_error prefixed with where.
std::string interpolate(std::string_view text, const environment& env, std::string_view where);

// --print-config: every setting as TOML, with where its value came from.
std::string describe(const configuration& config);
// --help.
std::string help_text();
// The README's table of settings.
std::string settings_markdown();

}  // namespace kiln
