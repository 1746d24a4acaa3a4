#include "config_error.hpp"

#include <catch2/catch.hpp>

namespace kiln::test {

TEST_CASE("a configuration error is one line, whatever the value it quotes holds",
          "[config_error]") {
  CHECK_THROWS_MATCHES(fail("kiln.toml:3", "bind \"a\nb\tc\x7f\" is bad"), config_error,
                       Catch::Message("kiln.toml:3: bind \"a\\nb\\x09c\\x7f\" is bad"));
}

TEST_CASE("a near miss of a setting's name is suggested, a far one is not", "[config_error]") {
  auto toml_key = [](const setting_info& info) { return std::string(info.name); };
  auto variable = [](const setting_info& info) { return info.environment_variable(); };
  CHECK(suggestion("keep_alive", toml_key) == "; did you mean 'keepalive'?");
  CHECK(suggestion("KILN_WORKER", variable) == "; did you mean 'KILN_WORKERS'?");
  CHECK(suggestion("port", toml_key).empty());  // Not "pid": the allowance is the name's.
  CHECK(suggestion("completely_different", toml_key).empty());
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("same", "same") == 0);
}

}  // namespace kiln::test
