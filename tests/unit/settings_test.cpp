#include "settings.hpp"

#include <catch2/catch.hpp>

namespace kiln::test {

TEST_CASE("find_setting finds a setting by its exact name only", "[settings]") {
  const auto registry = setting_registry();
  for (const auto& info : registry)
    CHECK(find_setting(info.name) == &info);
  CHECK(find_setting("bind") == &registry.front());
  CHECK(find_setting("keep_alive") == nullptr);
  CHECK(find_setting("KEEPALIVE") == nullptr);
  CHECK(find_setting("--keepalive") == nullptr);
  CHECK(find_setting("") == nullptr);
}

TEST_CASE("the registry names each setting's type", "[settings]") {
  CHECK(find_setting("bind")->type_name() == "list of strings");
  CHECK(find_setting("reuse_port")->type_name() == "boolean");
  CHECK(find_setting("workers")->type_name() == "integer or \"auto\"");
  CHECK(find_setting("backlog")->type_name() == "integer");
  CHECK(find_setting("keepalive")->type_name() == "seconds");
  CHECK(find_setting("pid")->type_name() == "string");
  CHECK(find_setting("log_level")->type_name() == "one of debug|info|warning|error|critical");
}

// Each source.

TEST_CASE("the workers maximum is the registry's and TTIN's", "[settings]") {
  CHECK(find_setting("workers")->maximum == static_cast<double>(max_workers));
  CHECK(find_setting("workers")->allows_auto);
  CHECK(find_setting("workers")->short_flag == 'w');
}

}  // namespace kiln::test
