#include "http_date.hpp"

#include <ctime>
#include <string>

#include <catch2/catch.hpp>

#include "http_fields.hpp"

namespace kiln::test {

TEST_CASE("an HTTP date is IMF-fixdate, in GMT", "[http_date]") {
  char text[http_date::length];
  http_date::format(784111777, text);
  CHECK(std::string(text, sizeof text) == "Sun, 06 Nov 1994 08:49:37 GMT");
  http_date::format(0, text);
  CHECK(std::string(text, sizeof text) == "Thu, 01 Jan 1970 00:00:00 GMT");
  // What kiln writes, it reads back.
  http_date::format(1795622828, text);
  CHECK(parse_http_date(std::string_view(text, sizeof text)) == 1795622828);
}

TEST_CASE("the current date is the clock's, formatted once a second", "[http_date]") {
  http_date date;
  std::time_t before = std::time(nullptr);
  std::string_view now = date.now();
  std::time_t after = std::time(nullptr);
  REQUIRE(now.size() == http_date::length);
  auto parsed = parse_http_date(now);
  REQUIRE(parsed);
  CHECK(*parsed >= before);
  CHECK(*parsed <= after);
  // The same buffer for the same second: what a response holds stays valid.
  CHECK(date.now().data() == now.data());
}

}  // namespace kiln::test
