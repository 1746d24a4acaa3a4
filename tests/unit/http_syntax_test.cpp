#include "http_syntax.hpp"

#include <string>

#include <catch2/catch.hpp>

namespace kiln::test {

TEST_CASE("tokens are RFC 9110's tchar, and nothing else", "[http_syntax]") {
  CHECK(is_token("GET"));
  CHECK(is_token("X-Request-ID"));
  CHECK(is_token("!#$%&'*+-.^_`|~09azAZ"));
  CHECK_FALSE(is_token(""));
  for (char c : std::string("()<>@,;:\\\"/[]?={} \t\r\n\x7f\0", 21)) {
    INFO(static_cast<int>(c));
    CHECK_FALSE(is_tchar(c));
  }
}

TEST_CASE("a field value kiln sends has no control character but tab", "[http_syntax]") {
  CHECK(is_field_value(""));
  CHECK(is_field_value("text/html; charset=utf-8"));
  CHECK(is_field_value("a\tb"));
  CHECK(is_field_value("caf\xc3\xa9"));  // obs-text passes; it cannot end a line.
  CHECK_FALSE(is_field_value("a\r\nInjected: yes"));
  CHECK_FALSE(is_field_value("a\nb"));
  CHECK_FALSE(is_field_value(std::string("a\0b", 3)));
  CHECK_FALSE(is_field_value("a\x7f"));
}

TEST_CASE("optional whitespace is spaces and tabs", "[http_syntax]") {
  CHECK(trim_ows(" \t gzip \t") == "gzip");
  CHECK(trim_ows("\r\nvalue") == "\r\nvalue");
  CHECK(trim_ows("  ").empty());
}

TEST_CASE("percent-decoding refuses a malformed escape", "[http_syntax]") {
  std::string out;
  CHECK(percent_decode("/a%20b%2Fc%e2%82%ac", out));
  CHECK(out == "/a b/c\xe2\x82\xac");
  CHECK(percent_decode("100%25", out));
  CHECK(out == "100%");
  CHECK_FALSE(percent_decode("%4", out));
  CHECK_FALSE(percent_decode("%zz", out));
  CHECK_FALSE(percent_decode("%", out));
}

}  // namespace kiln::test
