#include "python/build_info.hpp"

#include <catch2/catch.hpp>

#include "support/temporary.hpp"

namespace kiln::python::test {

TEST_CASE("major_minor takes the feature release of a version", "[build_info]") {
  CHECK(major_minor("3.11.2") == "3.11");
  CHECK(major_minor("3.12.1.final.0") == "3.12");
  CHECK(major_minor("3.9") == "3.9");
  CHECK(major_minor(built_version).starts_with("3."));
}

TEST_CASE("a virtual environment must be one, made by the Python kiln was built for",
          "[build_info]") {
  kiln::test::temporary_directory venv("kiln-venv-unit");
  CHECK(virtualenv_problem(venv.path()) ==
        "\"" + venv.path() + "\" is not a virtual environment: it has no pyvenv.cfg");
  // venv's way of writing it, then the virtualenv tool's.
  venv.write("pyvenv.cfg", "home = /usr/bin\nversion = " + std::string(built_version) + "\n");
  CHECK(virtualenv_problem(venv.path()).empty());
  venv.write("pyvenv.cfg", "home = /usr/bin\nversion_info = " +
                               std::string(major_minor(built_version)) + ".99.final.0\n");
  CHECK(virtualenv_problem(venv.path()).empty());
  venv.write("pyvenv.cfg", "home = /opt/python\nversion = 2.7.18\n");
  CHECK(virtualenv_problem(venv.path()) ==
        "\"" + venv.path() + "\" was made by Python 2.7, but kiln was built for Python " +
            std::string(major_minor(built_version)) + " (" + std::string(built_executable) +
            "): make the virtual environment with that Python, or build kiln with "
            "-DPython3_EXECUTABLE pointing at the environment's");
}

}  // namespace kiln::python::test
