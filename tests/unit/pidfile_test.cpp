#include "pidfile.hpp"

#include <filesystem>
#include <string>
#include <system_error>

#include <catch2/catch.hpp>

#include "support/temporary.hpp"

namespace kiln::test {
namespace {

// The file's one line, or "(none)".
std::string contents(const std::string& path) {
  auto lines = lines_of(path);
  return lines.size() == 1 ? lines.front() + "\n" : "(none)";
}

}  // namespace

TEST_CASE("the pidfile holds the master's pid, and only its master removes it", "[pidfile]") {
  temporary_directory directory("kiln-pidfile");
  std::string path = directory / "kiln.pid";
  pidfile file(path, 4242);
  file.write();
  CHECK(contents(path) == "4242\n");
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));

  SECTION("USR2: it steps aside for the new master, and back when that one fails") {
    file.step_aside();
    CHECK_FALSE(std::filesystem::exists(path));
    CHECK(contents(path + ".oldbin") == "4242\n");
    file.step_back();
    CHECK(contents(path) == "4242\n");
    CHECK_FALSE(std::filesystem::exists(path + ".oldbin"));
  }
  SECTION("after USR2 the new master's file is left alone, the old one's is removed") {
    file.step_aside();
    pidfile(path, 4343).write();
    file.remove();
    CHECK(contents(path) == "4343\n");
    CHECK_FALSE(std::filesystem::exists(path + ".oldbin"));
  }
  SECTION("removed when it names this master") {
    file.remove();
    CHECK_FALSE(std::filesystem::exists(path));
  }
}

TEST_CASE("no pid setting, no file; a file that cannot be written is an error", "[pidfile]") {
  pidfile none("", 1);
  none.write();
  none.step_aside();
  none.remove();
  CHECK_THROWS_AS(pidfile("/nonexistent-directory/kiln.pid", 1).write(), std::system_error);
}

}  // namespace kiln::test
