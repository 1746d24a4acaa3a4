#include "access_log.hpp"

#include <nlohmann/json.hpp>
#include <regex>
#include <unistd.h>

#include <catch2/catch.hpp>

namespace kiln::test {
namespace {

request make_request() {
  request req;
  req.method = "GET";
  req.target = "/books?id=7";
  req.path = "/books";
  req.query = "id=7";
  req.headers = {{"Host", "example.com"},
                 {"Referer", "https://example.com/"},
                 {"User-Agent", "curl/8"},
                 {"X-Trace", "t-1"}};
  return req;
}

std::string line(std::string_view format, const access_entry& entry) {
  return access_log("-", std::string(format)).format(entry);
}

}  // namespace

TEST_CASE("the default format is gunicorn's", "[access_log]") {
  request req = make_request();
  access_entry entry{.req = req, .peer = "127.0.0.1:5000", .status = 200, .bytes = 42};
  std::string text = line(default_access_log_format, entry);
  std::regex expected(
      R"(127\.0\.0\.1:5000 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /books\?id=7 HTTP/1\.1" 200 42 "https://example\.com/" "curl/8")");
  INFO(text);
  CHECK(std::regex_match(text, expected));
}

TEST_CASE("a connection cut before a method arrived has no request line: -", "[access_log]") {
  request nothing;
  access_entry entry{.req = nothing, .peer = "10.0.0.1", .status = 499};
  CHECK(line("%(h)s \"%(r)s\" %(s)s %(b)s", entry) == "10.0.0.1 \"-\" 499 -");
}

TEST_CASE("every atom has its value", "[access_log]") {
  request req = make_request();
  access_entry entry{.req = req,
                     .peer = "10.0.0.1:1",
                     .request_id = "abc",
                     .status = 404,
                     .bytes = 0,
                     .duration_us = 1234567,
                     .response_headers = {"Content-Type: text/plain\r\n", "ETag: \"x\"\r\n", ""}};
  CHECK(line("%(m)s %(U)s %(q)s %(H)s %(s)s %(B)s %(b)s", entry) ==
        "GET /books id=7 HTTP/1.1 404 0 -");
  CHECK(line("%(T)s %(M)s %(D)s %(L)s", entry) == "1 1234 1234567 1.234567");
  CHECK(line("%(i)s %({x-trace}i)s %({etag}o)s %({missing}i)s", entry) == "abc t-1 \\\"x\\\" -");
  CHECK(line("%(p)s", entry) == std::to_string(getpid()));
  CHECK(line("100%% %(s)s", entry) == "100% 404");
}

TEST_CASE("text lines escape what could break or forge a record", "[access_log]") {
  request req = make_request();
  req.headers = {{"User-Agent", "evil\"agent\n127.0.0.1 - - forged"}, {"Referer", "a\\b\x01\xff"}};
  access_entry entry{.req = req, .peer = "p", .status = 200};
  std::string text = line("\"%(a)s\" \"%(f)s\"", entry);
  CHECK(text == "\"evil\\\"agent\\x0a127.0.0.1 - - forged\" \"a\\\\b\\x01\\xff\"");
  CHECK(text.find('\n') == std::string::npos);
}

TEST_CASE("JSON lines escape every value and stay valid JSON", "[access_log]") {
  request req = make_request();
  req.headers = {{"User-Agent", "a\"b\nc\x01\xff"}};
  access_entry entry{.req = req,
                     .peer = "1.2.3.4:5",
                     .request_id = "id-1",
                     .status = 201,
                     .bytes = 9,
                     .duration_us = 1500};
  std::string text = line("json", entry);
  CHECK(text.find('\n') == std::string::npos);
  auto record = nlohmann::json::parse(text);
  CHECK(record["user_agent"] == "a\"b\nc\x01\xef\xbf\xbd");  // Invalid UTF-8 becomes U+FFFD.
  CHECK(record["status"] == 201);
  CHECK(record["bytes"] == 9);
  CHECK(record["duration_ms"] == 1.5);
  CHECK(record["method"] == "GET");
  CHECK(record["path"] == "/books");
  CHECK(record["query"] == "id=7");
  CHECK(record["remote"] == "1.2.3.4:5");
  CHECK(record["request_id"] == "id-1");
  CHECK(record["protocol"] == "HTTP/1.1");
}

TEST_CASE("a bad format is refused with what is wrong", "[access_log]") {
  CHECK_THROWS_WITH(access_log::check_format("%(z)s"), "%(z)s is not an access log atom");
  CHECK_THROWS_WITH(access_log::check_format("%(h"), "\"%(h\" has a %( without )s");
  CHECK_NOTHROW(access_log::check_format("json"));
  CHECK_NOTHROW(access_log::check_format(default_access_log_format));
}

}  // namespace kiln::test
