#include "settings_text.hpp"

#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "support/temporary.hpp"

namespace kiln::test {

TEST_CASE("the README's settings table is the registry's", "[settings_text]") {
  INFO("run scripts/update-readme to regenerate the table");
  CHECK(readme_section("settings") == settings_markdown());
}

TEST_CASE("the help lists every setting with its flag, type and default", "[settings_text]") {
  std::string text = help_text();
  CHECK(text.starts_with("Usage: kiln [-c FILE] [--SETTING VALUE ...] [APP]\n"));
  CHECK(text.find("  -w, --workers (integer or \"auto\"; default auto)\n") != std::string::npos);
  CHECK(text.find("      --backlog (integer; default 2048)\n") != std::string::npos);
  CHECK(text.find("  -p, --pid (string; default none)\n") != std::string::npos);
  CHECK(text.find("\nHTTP:\n") != std::string::npos);
  for (const auto& info : setting_registry()) {
    INFO(info.name);
    CHECK(text.find(" " + info.flags_text() + " (") != std::string::npos);
  }
  for (const auto& line : {"--check-config", "--print-config", "--version", "--help"})
    CHECK(text.find(line) != std::string::npos);
  // No line is wider than a terminal.
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    INFO(line);
    CHECK(line.size() <= 100);
  }
}

TEST_CASE("numbers are written as a setting is: whole numbers without a point", "[settings_text]") {
  CHECK(number_text(30) == "30");
  CHECK(number_text(0.5) == "0.5");
  CHECK(number_text(2.25) == "2.25");
  CHECK(number_text(-1) == "-1");
  CHECK(number_text(1e12) == "1000000000000");
}

}  // namespace kiln::test
