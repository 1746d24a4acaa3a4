#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "settings.hpp"

namespace kiln::python {

// A configuration file in Python, as gunicorn's are: a module whose globals are settings, and
// whose functions with a hook's name are server hooks.
struct config_global {
  enum class kind { value, list, callable, other };
  std::string name;
  int line = 0;  // Where the name was last set (assigned, defined or imported) in the file.
  kind what = kind::other;
  std::string text;                // A value as text: "10", "true", "0.0.0.0:8000".
  std::vector<std::string> items;  // A list's or a dict's ("Name: value") items.
};

// The file could not be run: what() is "FILE:LINE: the error", one line.
class config_module_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Runs the file in this process's interpreter (started with boot's virtualenv, chdir and
// pythonpath if it is not yet), as a module, and returns its public globals, in the order the
// file sets them. Its hooks are kept (see hooks.hpp); a later run replaces them.
std::vector<config_global> run_config_module(const std::string& path, const settings& boot);

}  // namespace kiln::python
