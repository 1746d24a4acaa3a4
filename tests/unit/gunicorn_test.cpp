#include "gunicorn.hpp"

#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "settings.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

// The README's table of gunicorn settings kiln does without: one row per piece of advice, for
// the settings next to each other in the list that share it.
std::string gunicorn_only_table() {
  std::string table = "| gunicorn setting | In kiln instead |\n|---|---|\n";
  auto settings = gunicorn_only_settings();
  for (std::size_t i = 0; i < settings.size();) {
    std::string names;
    std::size_t j = i;
    for (; j < settings.size() && settings[j].advice == settings[i].advice; ++j) {
      names += (j == i ? "`" : ", `") + std::string(settings[j].name) + "`";
    }
    table += "| " + names + " | " + std::string(settings[i].advice) + " |\n";
    i = j;
  }
  return table;
}

}  // namespace

TEST_CASE("a gunicorn name is a shared setting, a setting kiln does without, or a hook",
          "[gunicorn]") {
  std::set<std::string_view> names;
  for (const auto& info : setting_registry()) {
    if (info.gunicorn.empty()) continue;
    INFO(info.gunicorn);
    CHECK(names.insert(info.gunicorn).second);
    CHECK(find_gunicorn_setting(info.gunicorn) == &info);
  }
  for (const auto& only : gunicorn_only_settings()) {
    INFO(only.name);
    CHECK(names.insert(only.name).second);
    CHECK_FALSE(only.advice.empty());
    CHECK(find_gunicorn_only_setting(only.name) == &only);
  }
  for (std::string_view hook : gunicorn_hooks()) {
    INFO(hook);
    CHECK(names.insert(hook).second);
    CHECK(is_gunicorn_hook(hook));
  }
  CHECK(gunicorn_hooks().size() == 15);
  CHECK_FALSE(is_gunicorn_hook("workers"));
  CHECK(find_gunicorn_only_setting("workers") == nullptr);
}

TEST_CASE("the README lists the gunicorn settings kiln does without, with the advice",
          "[gunicorn]") {
  INFO("the table the README should have, from src/gunicorn.cpp");
  CHECK(readme_section("gunicorn-only") == gunicorn_only_table());
}

TEST_CASE("gunicorn's names for kiln's settings, where they differ", "[gunicorn]") {
  CHECK(find_gunicorn_setting("loglevel")->name == "log_level");
  CHECK(find_gunicorn_setting("errorlog")->name == "error_log");
  CHECK(find_gunicorn_setting("accesslog")->name == "access_log");
  CHECK(find_gunicorn_setting("pidfile")->name == "pid");
  CHECK(find_gunicorn_setting("log_level") == nullptr);  // kiln's own name is not gunicorn's.
}

}  // namespace kiln::test
