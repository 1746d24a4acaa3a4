#include "text.hpp"

#include <catch2/catch.hpp>

namespace kiln::test {

TEST_CASE("trim drops the blanks at either end and nothing else", "[text]") {
  CHECK(trim("  a b \t\r\n") == "a b");
  CHECK(trim("\f\vvalue") == "value");
  CHECK(trim("   ").empty());
  CHECK(trim("").empty());
  CHECK(trim("x") == "x");
  // HTTP's optional whitespace is spaces and tabs only.
  CHECK(trim(" \tvalue\r ", " \t") == "value\r");
  static_assert(trim(" constant ") == "constant");
}

}  // namespace kiln::test
