#include "python/build_info.hpp"

#include <fstream>

#include <fmt/format.h>

#include "text.hpp"

namespace kiln::python {

std::string_view major_minor(std::string_view version) noexcept {
  auto first = version.find('.');
  if (first == std::string_view::npos) return version;
  auto second = version.find_first_not_of("0123456789", first + 1);
  return version.substr(0, second);
}

std::string virtualenv_problem(const std::string& directory) {
  std::ifstream config(directory + "/pyvenv.cfg");
  if (!config) {
    return fmt::format("\"{}\" is not a virtual environment: it has no pyvenv.cfg", directory);
  }
  // venv writes "version = 3.11.2", the virtualenv tool "version_info = 3.11.2.final.0".
  std::string line;
  while (std::getline(config, line)) {
    auto equals = line.find('=');
    if (equals == std::string::npos) continue;
    std::string_view key = trim(std::string_view(line).substr(0, equals));
    if (key != "version" && key != "version_info") continue;
    std::string_view value = trim(std::string_view(line).substr(equals + 1));
    if (major_minor(value) != major_minor(built_version)) {
      return fmt::format(
          "\"{}\" was made by Python {}, but kiln was built for Python {} ({}): make the virtual "
          "environment with that Python, or build kiln with -DPython3_EXECUTABLE pointing at the "
          "environment's",
          directory, major_minor(value), major_minor(built_version), built_executable);
    }
    return {};
  }
  return {};
}

}  // namespace kiln::python
