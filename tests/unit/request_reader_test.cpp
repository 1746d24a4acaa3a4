#include "request_reader.hpp"

#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace kiln::test {
namespace {

// Pauses after every request, as a connection does while an answer is being made.
struct pausing_sink final : request_sink {
  std::vector<std::string> targets;
  void on_request_head(request&) noexcept override {}
  void on_request_body(request&, std::string_view) noexcept override {}
  bool on_request_complete(request& req) noexcept override {
    targets.emplace_back(req.target);
    return false;
  }
};

// Reads text into where the reader asks, as libuv would.
request_parser::status read(request_reader& reader, std::string& shared, std::string_view text) {
  uv_buf_t into = reader.buffer_for_read(uv_buf_init(shared.data(), shared.size()));
  REQUIRE(into.len >= text.size());
  std::memcpy(into.base, text.data(), text.size());
  return reader.parse(into.base, text.size());
}

}  // namespace

TEST_CASE("a head cut by a read is kept, and the next read lands after it", "[request_reader]") {
  pausing_sink sink;
  request_limits limits;
  request_reader reader(limits, sink);
  std::string shared(4096, '\0');
  CHECK(read(reader, shared, "GET /one HTTP/1.1\r\nHo") == request_parser::status::need_more);
  CHECK(reader.holds_bytes());
  CHECK(reader.reading_head());
  shared.assign(shared.size(), 'X');  // The shared buffer is someone else's now.
  CHECK(read(reader, shared, "st: k\r\n\r\n") == request_parser::status::paused);
  CHECK(sink.targets == std::vector<std::string>{"/one"});
  CHECK_FALSE(reader.holds_bytes());
}

TEST_CASE("what arrives while an answer is made is held, then parsed in order",
          "[request_reader]") {
  pausing_sink sink;
  request_limits limits;
  request_reader reader(limits, sink);
  std::string shared(4096, '\0');
  CHECK(read(reader, shared, "GET /1 HTTP/1.1\r\nHost: k\r\n\r\nGET /2 HTTP/1.1\r\n") ==
        request_parser::status::paused);
  CHECK(reader.has_unparsed());
  // The answer to /1 is not out yet: the rest of /2 and all of /3 wait, unparsed.
  std::string more = "Host: k\r\n\r\nGET /3 HTTP/1.1\r\nHost: k\r\n\r\n";
  reader.hold(more.data(), more.size());
  CHECK(reader.unparsed() == std::string("GET /2 HTTP/1.1\r\n").size() + more.size());
  CHECK(sink.targets == std::vector<std::string>{"/1"});
  CHECK(reader.parse_kept() == request_parser::status::paused);
  CHECK(sink.targets == std::vector<std::string>{"/1", "/2"});
  CHECK(reader.parse_kept() == request_parser::status::paused);
  CHECK(sink.targets == std::vector<std::string>{"/1", "/2", "/3"});
  CHECK_FALSE(reader.has_unparsed());
}

TEST_CASE("a failure drops what was kept, and says why", "[request_reader]") {
  pausing_sink sink;
  request_limits limits;
  request_reader reader(limits, sink);
  std::string shared(4096, '\0');
  CHECK(read(reader, shared, "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n") ==
        request_parser::status::failed);
  CHECK(reader.error().status == 400);
  CHECK_FALSE(reader.holds_bytes());
}

}  // namespace kiln::test
