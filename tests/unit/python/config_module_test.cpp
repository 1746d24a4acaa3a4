#include "python/config_module.hpp"

#include <catch2/catch.hpp>

#include "support/temporary.hpp"

namespace kiln::python::test {
namespace {

using kind = config_global::kind;

std::vector<config_global> run_file(std::string_view text) {
  kiln::test::temporary_file file(text, "kiln-config", ".py");
  return run_config_module(file.path(), settings{});
}

std::string error_of(std::string_view text) {
  kiln::test::temporary_file file(text, "kiln-config", ".py");
  try {
    run_config_module(file.path(), settings{});
  } catch (const config_module_error& error) {
    std::string message = error.what();
    return message.replace(0, file.path().size(), "FILE");
  }
  return "no error";
}

const config_global* find(const std::vector<config_global>& globals, std::string_view name) {
  for (const auto& global : globals) {
    if (global.name == name) return &global;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a config module's globals: values, lists, callables, with their lines",
          "[config_module]") {
  auto globals = run_file(R"(import os
from os import path as _path

workers = 2 * 5
keepalive = 1.5
reload = True
pidfile = None
bind = ["127.0.0.1:8000", "unix:/tmp/k.sock"]
raw_env = ("A=1",)
secure_scheme_headers = {"X-Proto": "https"}
workers = workers + 1
_private = 3


def when_ready(server):
    pass


class Settings:
    pass
)");
  auto workers = find(globals, "workers");
  REQUIRE(workers);
  CHECK(workers->what == kind::value);
  CHECK(workers->text == "11");
  CHECK(workers->line == 11);  // Where it was last set.
  CHECK(find(globals, "keepalive")->text == "1.5");
  CHECK(find(globals, "reload")->text == "true");
  CHECK(find(globals, "pidfile")->text == "");
  auto bind = find(globals, "bind");
  CHECK(bind->what == kind::list);
  CHECK(bind->items == std::vector<std::string>{"127.0.0.1:8000", "unix:/tmp/k.sock"});
  CHECK(find(globals, "raw_env")->items == std::vector<std::string>{"A=1"});
  CHECK(find(globals, "secure_scheme_headers")->items ==
        std::vector<std::string>{"X-Proto: https"});
  CHECK(find(globals, "when_ready")->what == kind::callable);
  CHECK(find(globals, "when_ready")->line == 15);
  CHECK(find(globals, "Settings")->what == kind::other);
  CHECK(find(globals, "os")->what == kind::other);
  CHECK(find(globals, "os")->line == 1);
  CHECK(find(globals, "_private") == nullptr);
  CHECK(find(globals, "_path") == nullptr);
}

TEST_CASE("a config module that cannot run is FILE:LINE and the error", "[config_module]") {
  CHECK(error_of("workers = (\n") == "FILE:1: SyntaxError: '(' was never closed");
  CHECK(error_of("workers = 1\nraise RuntimeError('no')\n") == "FILE:2: RuntimeError: no");
  CHECK(error_of("import sys\nsys.exit(3)\n") == "FILE:2: SystemExit: 3");
}

}  // namespace kiln::python::test
