// entrypoint.sh, as the image runs it: web, web-local and custom commands.
#include <fstream>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/load_generator.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

const std::string entrypoint = std::string(KILN_SOURCE_DIR) + "/entrypoint.sh";

kiln_process::options through_entrypoint(std::vector<std::string> arguments,
                                         std::map<std::string, std::string> environment = {}) {
  environment.emplace("APP_SERVER", KILN_BINARY);
  return {.arguments = std::move(arguments),
          .environment = std::move(environment),
          .unset = {"PORT", "WEB_CONCURRENCY", "HTTP_SERVE_TIMEOUT_SECONDS", "KILN_CONFIG"},
          .binary = entrypoint};
}

}  // namespace

TEST_CASE("entrypoint.sh web serves config/kiln.toml on PORT", "[entrypoint]") {
  // Port 0: the kernel picks one, as everywhere in the tests.
  kiln_process kiln(through_entrypoint(
      {"web"}, {{"PORT", "0"}, {"WEB_CONCURRENCY", "2"}, {"HTTP_SERVE_TIMEOUT_SECONDS", "17"}}));
  // exec: the server is the process the entrypoint started, not a child of a shell.
  CHECK(process_title(kiln.pid()) == "kiln: master");
  REQUIRE(eventually([&] { return children_of(kiln.pid()).size() == 2; }));
  CHECK(kiln.output().find("Listening at: http://0.0.0.0:") != std::string::npos);
  http_client client(kiln.port());
  REQUIRE(client.send(get("/healthz")));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(kiln.stop(SIGTERM) == exited_with(0));
}

TEST_CASE("entrypoint.sh web without PORT says so and exits before starting", "[entrypoint]") {
  kiln_process kiln({.arguments = {"web"},
                     .environment = {{"APP_SERVER", KILN_BINARY}},
                     .unset = {"PORT"},
                     .wait_until_listening = false,
                     .binary = entrypoint});
  CHECK(kiln.wait() == exited_with(64));
  CHECK(kiln.output() ==
        "entrypoint.sh: PORT must be set to the port to listen on, e.g. PORT=8000\n");
}

TEST_CASE("entrypoint.sh web-local runs the development configuration", "[entrypoint]") {
  kiln_process kiln(through_entrypoint({"web-local"}, {{"PORT", "0"}}));
  REQUIRE(eventually([&] { return children_of(kiln.pid()).size() == 1; }));
  CHECK(kiln.output().find("Listening at: http://127.0.0.1:") != std::string::npos);
  CHECK(kiln.output().find("[DEBUG]") != std::string::npos);
}

TEST_CASE("entrypoint.sh runs any other command with its arguments exactly", "[entrypoint]") {
  kiln_process command(
      {.arguments = {"sh", "-c", "printf '[%s]' \"$@\"; exit 7", "sh", "a b", "", "c"},
       .wait_until_listening = false,
       .binary = entrypoint});
  CHECK(command.wait() == exited_with(7));
  CHECK(command.output() ==
        "Running custom command: sh -c printf '[%s]' \"$@\"; exit 7 sh a b  c\n[a b][][c]");
}

TEST_CASE("entrypoint.sh --help says what it does", "[entrypoint]") {
  kiln_process help({.arguments = {"--help"}, .wait_until_listening = false, .binary = entrypoint});
  CHECK(help.wait() == exited_with(0));
  for (auto text :
       {"web ", "web-local", "PORT", "WEB_CONCURRENCY", "HTTP_SERVE_TIMEOUT_SECONDS", "exec"}) {
    INFO(text);
    CHECK(help.output().find(text) != std::string::npos);
  }
}

TEST_CASE("with reload on, editing the configuration replaces the workers", "[entrypoint]") {
  temporary_directory directory("kiln-reload");
  std::string file = directory / "kiln.toml";
  std::ofstream(file) << "bind = \"127.0.0.1:0\"\nworkers = 1\nreload = true\n";
  kiln_process kiln({"-c", file});
  REQUIRE(eventually([&] { return children_of(kiln.pid()).size() == 1; }));
  // A later modification time than the first write, whatever the file system's granularity.
  REQUIRE(eventually([&] {
    std::ofstream(file) << "bind = \"127.0.0.1:0\"\nworkers = 2\nreload = true\n";
    return kiln.count_in_output("changed: reloading") > 0;
  }));
  CHECK(eventually([&] { return children_of(kiln.pid()).size() == 2; }));
}

}  // namespace kiln::test
