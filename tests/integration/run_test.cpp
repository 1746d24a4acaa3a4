// The command itself: --print-config, --check-config, --help, --version and the exit statuses
// of bad configuration, against the real binary and its real environment.
#include <signal.h>

#include <catch2/catch.hpp>

#include "config.hpp"
#include "settings_text.hpp"
#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

const std::string production = std::string(KILN_SOURCE_DIR) + "/config/kiln.toml";
const std::string development = std::string(KILN_SOURCE_DIR) + "/config/kiln.local.toml";

}  // namespace

TEST_CASE("kiln --print-config prints every value and where it came from", "[run]") {
  auto printed = run({"--print-config", "--keepalive", "9", "-w", "2"});
  INFO(printed.output);
  CHECK(printed.status == exited_with(0));
  CHECK(printed.output.starts_with("# Sockets\n"));
  CHECK(has_line(printed.output, "bind = [\"127.0.0.1:8000\"]  # default"));
  CHECK(has_line(printed.output, "keepalive = 9  # flag --keepalive"));
  CHECK(has_line(printed.output, "workers = 2  # flag -w"));
  CHECK(has_line(printed.output, "limit_request_line = 4094  # default"));
  CHECK(has_line(printed.output, "log_level = \"info\"  # default"));
  for (const auto& info : setting_registry()) {
    INFO(info.name);
    CHECK(printed.output.find("\n" + std::string(info.name) + " = ") != std::string::npos);
  }
  // Nothing is started.
  CHECK(printed.output.find("Listening") == std::string::npos);
}

TEST_CASE("kiln --print-config shows values from the environment and the file", "[run]") {
  temporary_file file("# Tuning.\nkeepalive = 30\nworkers = 10\ntimeout = 20\n");
  auto printed = run({"-c", file.path(), "--print-config"}, {{"KILN_KEEPALIVE", "5"},
                                                             {"WEB_CONCURRENCY", "3"},
                                                             {"PORT", "9000"},
                                                             {"KILN_REUSE_PORT", "yes"}});
  INFO(printed.output);
  CHECK(printed.status == exited_with(0));
  CHECK(has_line(printed.output, "keepalive = 5  # env KILN_KEEPALIVE"));
  CHECK(has_line(printed.output, "workers = 3  # env WEB_CONCURRENCY"));
  CHECK(has_line(printed.output, "timeout = 20  # " + file.path() + ":4"));
  CHECK(has_line(printed.output, "bind = [\"0.0.0.0:9000\"]  # env PORT"));
  CHECK(has_line(printed.output, "reuse_port = true  # env KILN_REUSE_PORT"));
  CHECK(has_line(printed.output, "graceful_timeout = 30  # default"));

  auto timeout = run({"--print-config"}, {{"HTTP_SERVE_TIMEOUT_SECONDS", "12.5"}});
  CHECK(timeout.status == exited_with(0));
  CHECK(has_line(timeout.output, "timeout = 12.5  # env HTTP_SERVE_TIMEOUT_SECONDS"));
}

TEST_CASE("kiln --check-config says a good file is valid and exits 0", "[run]") {
  temporary_file file("bind = \"127.0.0.1:${PORT:-0}\"\nworkers = 2\n");
  auto checked = run({"-c", file.path(), "--check-config"});
  CHECK(checked.status == exited_with(0));
  CHECK(checked.output == "kiln: the configuration is valid (" + file.path() + ")\n");

  auto from_variable = run({"--check-config"}, {{"KILN_CONFIG", file.path()}});
  CHECK(from_variable.status == exited_with(0));
  CHECK(from_variable.output == "kiln: the configuration is valid (" + file.path() + ")\n");

  auto no_file = run({"--check-config"});
  CHECK(no_file.status == exited_with(0));
  CHECK(no_file.output == "kiln: the configuration is valid\n");
}

TEST_CASE("kiln --check-config names the file and line of a bad setting and exits 2", "[run]") {
  temporary_file file("# Tuning.\nworkers = 2\nkeep_alive = 90\n");
  auto checked = run({"-c", file.path(), "--check-config"});
  CHECK(checked.status == exited_with(2));
  CHECK(checked.output ==
        "kiln: " + file.path() + ":3: 'keep_alive' is not a setting; did you mean 'keepalive'?\n");

  temporary_file range("\nworkers = 0\n");
  auto out_of_range = run({"-c", range.path(), "--check-config"});
  CHECK(out_of_range.status == exited_with(2));
  CHECK(out_of_range.output ==
        "kiln: " + range.path() + ":2: workers must be between 1 and 1024, not 0\n");

  temporary_file malformed("keepalive = 90 90\n");
  auto broken = run({"-c", malformed.path(), "--check-config"});
  CHECK(broken.status == exited_with(2));
  CHECK(broken.output == "kiln: " + malformed.path() +
                             ":1:16: Error while parsing key-value pair: expected a comment or "
                             "whitespace, saw '9'\n");

  auto missing = run({"-c", "/nonexistent/kiln.toml", "--check-config"});
  CHECK(missing.status == exited_with(2));
  CHECK(missing.output ==
        "kiln: /nonexistent/kiln.toml: cannot read the configuration file: File could not be "
        "opened for reading\n");
}

TEST_CASE("config/kiln.toml needs PORT, config/kiln.local.toml does not", "[run]") {
  auto with_port = run({"-c", production, "--check-config"}, {{"PORT", "9000"}});
  INFO(with_port.output);
  CHECK(with_port.status == exited_with(0));
  CHECK(with_port.output == "kiln: the configuration is valid (" + production + ")\n");

  auto without_port = run({"-c", production, "--check-config"});
  INFO(without_port.output);
  CHECK(without_port.status == exited_with(2));
  CHECK(without_port.output.starts_with("kiln: " + production + ":"));
  CHECK(without_port.output.ends_with(": PORT is not set: PORT must be set\n"));
  CHECK(std::count(without_port.output.begin(), without_port.output.end(), '\n') == 1);

  // Without PORT, kiln does not start at all.
  auto started = run({"-c", production});
  CHECK(started.status == exited_with(2));
  CHECK(started.output == without_port.output);

  auto printed = run({"-c", production, "--print-config"}, {{"PORT", "9000"}});
  CHECK(printed.status == exited_with(0));
  CHECK(printed.output.find("\nworkers = 10  # " + production + ":") != std::string::npos);
  CHECK(printed.output.find("\nkeepalive = 90  # " + production + ":") != std::string::npos);
  CHECK(printed.output.find("bind = [\"0.0.0.0:9000\"]  # " + production + ":") !=
        std::string::npos);

  auto local = run({"-c", development, "--check-config"});
  CHECK(local.status == exited_with(0));
  CHECK(local.output == "kiln: the configuration is valid (" + development + ")\n");
}

TEST_CASE("bad configuration from a flag or a variable is one line and exit 2", "[run]") {
  // The README's two examples, word for word.
  auto workers = run({"--workers", "0"});
  CHECK(workers.status == exited_with(2));
  CHECK(workers.output ==
        "kiln: flag --workers \"0\": workers must be between 1 and 1024, not 0\n");

  auto variable = run({}, {{"KILN_KEEP_ALIVE", "3"}});
  CHECK(variable.status == exited_with(2));
  CHECK(variable.output ==
        "kiln: environment KILN_KEEP_ALIVE: 'KILN_KEEP_ALIVE' names no setting; did you mean "
        "'KILN_KEEPALIVE'?\n");

  auto unknown = run({"--keepalve", "3"});
  CHECK(unknown.status == exited_with(2));
  CHECK(unknown.output == "kiln: flag --keepalve: unknown flag; did you mean '--keepalive'?\n");

  auto argument = run({"app:application", "serve"});
  CHECK(argument.status == exited_with(2));
  CHECK(argument.output ==
        "kiln: argument \"serve\": kiln takes one argument, the app, and already has "
        "\"app:application\"\n");

  auto value = run({"--print-config"}, {{"KILN_WORKERS", "many"}});
  CHECK(value.status == exited_with(2));
  CHECK(value.output ==
        "kiln: environment KILN_WORKERS=\"many\": workers must be a whole number or \"auto\", "
        "not \"many\"\n");

  auto port = run({}, {{"PORT", "http"}});
  CHECK(port.status == exited_with(2));
  CHECK(port.output ==
        "kiln: environment PORT=\"http\": PORT must be a port number from 0 to 65535\n");
}

TEST_CASE("a pod beside a Service named kiln starts: its links are not settings", "[run]") {
  auto checked = run({"--check-config"}, {{"KILN_PORT", "tcp://10.0.0.1:8000"},
                                          {"KILN_SERVICE_HOST", "10.0.0.1"},
                                          {"KILN_SERVICE_PORT", "8000"},
                                          {"KILN_PORT_8000_TCP_ADDR", "10.0.0.1"}});
  CHECK(checked.status == exited_with(0));
  CHECK(checked.output == "kiln: the configuration is valid\n");
}

TEST_CASE("kiln --help prints the help and exits 0", "[run]") {
  for (const char* flag : {"--help", "-h"}) {
    auto help = run({flag});
    CHECK(help.status == exited_with(0));
    CHECK(help.output == help_text());
  }
  // Help wins over a configuration that would not load.
  auto despite = run({"--help", "--workers", "0"}, {{"KILN_KEEP_ALIVE", "3"}});
  CHECK(despite.status == exited_with(0));
  CHECK(despite.output.starts_with("Usage: kiln [-c FILE] [--SETTING VALUE ...] [APP]\n"));
}

TEST_CASE("kiln --version prints the version and exits 0", "[run]") {
  auto version = run({"--version"});
  CHECK(version.status == exited_with(0));
  CHECK(version.output == std::string("kiln ") + KILN_VERSION + "\n");
}

TEST_CASE("kiln --settings-markdown prints the README's table", "[run]") {
  auto table = run({"--settings-markdown"});
  CHECK(table.status == exited_with(0));
  CHECK(table.output == settings_markdown());
}

TEST_CASE("kiln serves with the settings of its file", "[run]") {
  temporary_file file(
      "bind = \"127.0.0.1:${TEST_PORT:-0}\"\n"
      "workers = 1\n"
      "keepalive = \"${TEST_KEEPALIVE:?}\"\n");
  kiln_process kiln(kiln_process::options{.arguments = {"-c", file.path()},
                                          .environment = {{"TEST_KEEPALIVE", "0"}},
                                          .unset = kiln_variables()});
  // keepalive 0: the server closes the connection after its response.
  http_client client(kiln.port());
  REQUIRE(client.send(get("/")));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 404);
  CHECK(client.closed_by_server());
  CHECK(kiln.stop(SIGTERM) == exited_with(0));
}

}  // namespace kiln::test
