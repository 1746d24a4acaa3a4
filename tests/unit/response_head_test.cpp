#include "response_head.hpp"

#include <string>

#include <catch2/catch.hpp>

namespace kiln::test {
namespace {

constexpr std::string_view date = "Thu, 26 Nov 2026 16:07:08 GMT";

}  // namespace

TEST_CASE("a response head is the status line, kiln's headers, the given ones and the framing",
          "[response_head]") {
  std::string out = "already there|";
  append_response_head(out, 200, {"Content-Type: text/plain\r\n", "", "X-A: 1\r\nX-B: 2\r\n"}, 5,
                       connection_mode::keep_alive, date);
  CHECK(out ==
        "already there|HTTP/1.1 200 OK\r\nServer: kiln\r\nDate: Thu, 26 Nov 2026 16:07:08 GMT\r\n"
        "Content-Type: text/plain\r\nX-A: 1\r\nX-B: 2\r\nContent-Length: 5\r\n\r\n");
}

TEST_CASE("the Connection header says what HTTP/1.1's default does not", "[response_head]") {
  auto head = [](connection_mode mode) {
    std::string out;
    append_response_head(out, 204, {}, std::nullopt, mode, date);
    return out;
  };
  std::string start =
      "HTTP/1.1 204 No Content\r\nServer: kiln\r\nDate: Thu, 26 Nov 2026 16:07:08 GMT\r\n";
  CHECK(head(connection_mode::keep_alive) == start + "\r\n");
  CHECK(head(connection_mode::keep_alive_1_0) == start + "Connection: keep-alive\r\n\r\n");
  CHECK(head(connection_mode::close) == start + "Connection: close\r\n\r\n");
}

TEST_CASE("a length of zero is written, a missing one is not", "[response_head]") {
  std::string with_zero;
  append_response_head(with_zero, 200, {}, 0, connection_mode::keep_alive, date);
  CHECK(with_zero.find("\r\nContent-Length: 0\r\n") != std::string::npos);
  std::string without;
  append_response_head(without, 200, {}, std::nullopt, connection_mode::keep_alive, date);
  CHECK(without.find("Content-Length") == std::string::npos);
  std::string huge;
  append_response_head(huge, 200, {}, 18446744073709551615ull, connection_mode::close, date);
  CHECK(huge.find("\r\nContent-Length: 18446744073709551615\r\n") != std::string::npos);
}

TEST_CASE("a reason is the status's own phrase unless one is given", "[response_head]") {
  std::string out;
  append_response_head(out, 418, {}, 0, connection_mode::close, date, "I'm a teapot");
  CHECK(out.starts_with("HTTP/1.1 418 I'm a teapot\r\n"));
  out.clear();
  append_response_head(out, 599, {}, 0, connection_mode::close, date);
  CHECK(out.starts_with("HTTP/1.1 599 Unknown\r\n"));
  CHECK(reason_phrase(200) == "OK");
  CHECK(reason_phrase(304) == "Not Modified");
  CHECK(reason_phrase(404) == "Not Found");
  CHECK(reason_phrase(413) == "Content Too Large");
  CHECK(reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(reason_phrase(503) == "Service Unavailable");
  CHECK(reason_phrase(505) == "HTTP Version Not Supported");
  CHECK(reason_phrase(1000) == "Unknown");
}

TEST_CASE("1xx, 204 and 304 never have a body", "[response_head]") {
  for (int status : {100, 101, 103, 204, 304})
    CHECK_FALSE(status_has_body(status));
  for (int status : {200, 201, 206, 301, 400, 404, 500})
    CHECK(status_has_body(status));
}

}  // namespace kiln::test
