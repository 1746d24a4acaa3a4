#pragma once

#include <string>
#include <string_view>

namespace kiln::python {

// The CPython kiln was built against: its libpython is linked in, and at run time the standard
// library and any virtual environment must be of the same version.
inline constexpr std::string_view built_version = KILN_PYTHON_VERSION;  // "3.11.2"
inline constexpr std::string_view built_executable =
    KILN_PYTHON_EXECUTABLE;  // "/usr/bin/python3.11"

// "3.11" of "3.11.2".
std::string_view major_minor(std::string_view version) noexcept;

// Why a virtual environment cannot be used with this kiln: not a virtual environment, or made
// by another Python version. Empty when it can.
std::string virtualenv_problem(const std::string& directory);

}  // namespace kiln::python
