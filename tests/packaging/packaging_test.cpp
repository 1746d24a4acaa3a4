// kiln as teams take it into their own images: cmake --install with a CMake package that a C++
// application finds (find_package(kiln)), a .deb made by CPack, and a Python package that pip
// builds against a virtual environment's Python and installs on its PATH. Each builds kiln or
// an application for real, so they are labelled packaging and run alone: ctest -L packaging.
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/shell.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

const std::string source_dir = KILN_SOURCE_DIR;
const std::string build_dir = KILN_BUILD_DIR;

// Runs command, failing the test with its output when it fails.
std::string must(const std::string& command) {
  auto result = shell(command);
  INFO(command << "\n"
               << result.output.substr(result.output.size() > 6000 ? result.output.size() - 6000
                                                                   : 0));
  REQUIRE(result.status == 0);
  return result.output;
}

}  // namespace

TEST_CASE("find_package(kiln) builds a C++ application on kiln::run from the install",
          "[packaging]") {
  temporary_directory work("kiln-install");
  std::string prefix = work / "prefix";
  must("cmake --install " + shell_quoted(build_dir) + " --prefix " + shell_quoted(prefix));
  CHECK(std::filesystem::is_regular_file(prefix + "/bin/kiln"));
  CHECK(std::filesystem::is_regular_file(prefix + "/include/kiln/kiln.hpp"));
  CHECK(std::filesystem::is_regular_file(prefix + "/lib/cmake/kiln/kiln-config.cmake"));
  // The public headers are the whole surface: nothing of src/ is installed.
  CHECK_FALSE(std::filesystem::exists(prefix + "/include/kiln/worker.hpp"));

  work.write("app/CMakeLists.txt",
             "cmake_minimum_required(VERSION 3.25)\n"
             "project(team_api CXX)\n"
             "set(CMAKE_CXX_STANDARD 20)\n"
             "find_package(kiln 0.1 REQUIRED)\n"
             "add_executable(team-api main.cpp)\n"
             "target_link_libraries(team-api PRIVATE kiln::core)\n");
  work.write("app/main.cpp",
             "#include <kiln/kiln.hpp>\n"
             "int main(int argc, char** argv) {\n"
             "  kiln::app app;\n"
             "  app.get(\"/api/hello/{name}\", [](const kiln::request& req) {\n"
             "    return kiln::response::json({{\"hello\", *req.param(\"name\")}});\n"
             "  });\n"
             "  return kiln::run(app, argc, argv);\n"
             "}\n");
  must("cmake -S " + shell_quoted(work / "app") + " -B " + shell_quoted(work / "app-build") +
       " -DCMAKE_PREFIX_PATH=" + shell_quoted(prefix) + " -DCMAKE_BUILD_TYPE=Release");
  must("cmake --build " + shell_quoted(work / "app-build") + " -j2");
  kiln_process team(kiln_process::options{.arguments = {"--bind", "127.0.0.1:0", "--workers", "1"},
                                          .binary = work / "app-build/team-api"});
  auto answer = fetch(team.port(), "/api/hello/kiln");
  CHECK(answer.status == 200);
  CHECK(answer.body == R"({"hello":"kiln"})");
  CHECK(fetch(team.port(), "/healthz").status == 200);
}

TEST_CASE("cpack makes a .deb whose dependencies are Debian's runtime libraries", "[packaging]") {
  temporary_directory work("kiln-deb");
  must("cd " + shell_quoted(work.path()) + " && cpack -G DEB --config " +
       shell_quoted(build_dir + "/CPackConfig.cmake"));
  std::string deb = work / "kiln_0.1.0_amd64.deb";
  REQUIRE(std::filesystem::is_regular_file(deb));
  std::string info = must("dpkg-deb --info " + shell_quoted(deb));
  INFO(info);
  std::smatch depends;
  REQUIRE(std::regex_search(info, depends, std::regex(R"(\n Depends: ([^\n]+))")));
  for (const char* library : {"libuv1", "libpython3.11", "libspdlog1.10", "libfmt9",
                              "libtomlplusplus3", "libc6", "libstdc++6"}) {
    CHECK(depends[1].str().find(library) != std::string::npos);
  }
  std::string contents = must("dpkg-deb --contents " + shell_quoted(deb));
  CHECK(contents.find("./usr/bin/kiln") != std::string::npos);
  CHECK(contents.find("./usr/lib/cmake/kiln/kiln-config.cmake") != std::string::npos);
  must("dpkg-deb -x " + shell_quoted(deb) + " " + shell_quoted(work / "root"));
  CHECK(must(shell_quoted(work / "root/usr/bin/kiln") + " --version") == "kiln 0.1.0\n");
}

TEST_CASE("pip installs kiln into a virtual environment, built for its Python, on its PATH",
          "[packaging]") {
  temporary_directory work("kiln-pip");
  std::string venv = work / "venv";
  must("/usr/bin/python3 -m venv " + shell_quoted(venv));
  // Offline and in this environment: the backend needs nothing from PyPI.
  must(shell_quoted(venv + "/bin/pip") + " install --no-build-isolation --no-index " +
       shell_quoted(source_dir));
  CHECK(must(shell_quoted(venv + "/bin/kiln") + " --version") == "kiln 0.1.0\n");
  CHECK(must(shell_quoted(venv + "/bin/pip") + " show kiln").find("Version: 0.1.0") !=
        std::string::npos);
  // An app installed in the environment only, served by the environment's kiln with no
  // VIRTUAL_ENV or virtualenv setting: kiln finds the environment it was installed into.
  auto site = must(shell_quoted(venv + "/bin/python") +
                   " -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])'");
  site.pop_back();
  std::ofstream(site + "/team_wsgi.py")
      << "def app(environ, start_response):\n"
         "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
         "    return [b'from the environment\\n']\n";
  kiln_process served(kiln_process::options{
      .arguments = {"team_wsgi:app", "--bind", "127.0.0.1:0", "--workers", "1"},
      .unset = {"VIRTUAL_ENV", "KILN_VIRTUALENV", "PYTHONPATH", "PYTHONHOME"},
      .binary = venv + "/bin/kiln"});
  auto answer = fetch(served.port(), "/");
  CHECK(answer.status == 200);
  CHECK(answer.body == "from the environment\n");
}

}  // namespace kiln::test
