#include "config.hpp"

#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>

namespace kiln::test {
namespace {

configuration load(std::vector<const char*> arguments, const environment& env = {}) {
  return load_configuration(parse_command_line(arguments), env);
}

std::string error_of(std::vector<const char*> arguments, const environment& env = {}) {
  try {
    load(std::move(arguments), env);
  } catch (const config_error& error) {
    return error.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("the README's settings table is the registry's", "[config]") {
  std::ifstream file(std::string(KILN_SOURCE_DIR) + "/README.md");
  std::stringstream text;
  text << file.rdbuf();
  std::string readme = text.str();
  const std::string begin = "<!-- settings:begin -->\n";
  auto start = readme.find(begin);
  auto end = readme.find("<!-- settings:end -->");
  REQUIRE(start != std::string::npos);
  REQUIRE(end != std::string::npos);
  INFO("run scripts/update-readme to regenerate the table");
  CHECK(readme.substr(start + begin.size(), end - start - begin.size()) == settings_markdown());
}

TEST_CASE("defaults come from the registry", "[config]") {
  auto config = load({});
  CHECK(config.values.bind == std::vector<std::string>{"127.0.0.1:8000"});
  CHECK(config.values.keepalive == milliseconds(75000));
  CHECK(config.values.limit_request_line == 4094);
  CHECK(config.values.limit_request_body == 1048576);
  CHECK(config.values.workers >= 1);
  CHECK(config.origin("keepalive") == "default");
}

TEST_CASE("flags take values separately or after =, and booleans alone", "[config]") {
  auto config = load({"--keepalive", "90", "--header-timeout=0.5", "--reuse-port", "-w", "3", "-b",
                      "127.0.0.1:1", "--bind", "unix:/tmp/k.sock"});
  CHECK(config.values.keepalive == milliseconds(90000));
  CHECK(config.values.header_timeout == milliseconds(500));
  CHECK(config.values.reuse_port);
  CHECK(config.values.workers == 3);
  CHECK(config.values.bind == std::vector<std::string>{"127.0.0.1:1", "unix:/tmp/k.sock"});
  CHECK(config.origin("keepalive") == "flag --keepalive");
  CHECK_FALSE(load({"--reuse-port", "--no-reuse-port"}).values.reuse_port);
}

TEST_CASE("a bad flag is one clear message", "[config]") {
  CHECK(error_of({"--workers", "0"}) ==
        "flag --workers \"0\": workers must be between 1 and 1024, not 0");
  CHECK(error_of({"--keep-alive", "3"}) ==
        "flag --keep-alive: unknown flag; did you mean '--keepalive'?");
  CHECK(error_of({"--keepalive"}) == "flag --keepalive: needs a value");
  CHECK(error_of({"--keepalive", "soon"}) ==
        "flag --keepalive \"soon\": keepalive must be a number of seconds, not \"soon\"");
  CHECK(error_of({"--reuse-port=maybe"}) ==
        "flag --reuse-port \"maybe\": reuse_port must be true or false, not \"maybe\"");
  CHECK(error_of({"serve"}) ==
        "argument \"serve\": kiln takes no arguments, only flags (see --help)");
}

}  // namespace kiln::test
