#pragma once

#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "command_line.hpp"
#include "config_error.hpp"
#include "settings.hpp"

namespace kiln {

// The environment, as name to value.
using environment = std::map<std::string, std::string, std::less<>>;
environment process_environment();

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

}  // namespace kiln
