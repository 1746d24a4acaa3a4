#include "request_parser.hpp"

#include <cstring>
#include <random>

#include <catch2/catch.hpp>

#include "support/fixtures.hpp"

namespace kiln::test {
namespace {

// What the parser reported, copied out of the buffers it points into.
struct parsed_request {
  std::string method;
  std::string target;
  std::string path;
  std::string query;
  std::string version;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = false;
  bool expects_continue = false;
};

class recording_sink final : public request_sink {
 public:
  explicit recording_sink(bool pause_after_each) : pause_after_each_(pause_after_each) {}

  void on_request_head(request& req) noexcept override {
    current_ = {};
    current_.method = req.method;
    current_.target = req.target;
    current_.path = req.path;
    current_.query = req.query;
    current_.version = std::to_string(req.version_major) + "." + std::to_string(req.version_minor);
    for (const auto& field : req.headers)
      current_.headers.emplace_back(field.name, field.value);
    current_.expects_continue = req.expects_continue;
    heads_ += 1;
  }
  void on_request_body(request&, std::string_view chunk) noexcept override {
    current_.body.append(chunk);
  }
  bool on_request_complete(request& req) noexcept override {
    current_.keep_alive = req.keep_alive;
    requests.push_back(current_);
    return !pause_after_each_;
  }

  std::vector<parsed_request> requests;

 private:
  bool pause_after_each_;
  parsed_request current_;
  int heads_ = 0;
};

struct replay_result {
  std::vector<parsed_request> requests;
  int status = 0;  // The error status, or 0.
  std::string reason;
  bool inside_request = false;
};

// Feeds raw to a parser in chunks whose sizes next_size() picks. All bytes stay in one stable
// buffer, so the spans of a head cut between chunks stay contiguous, as the connection keeps them.
template <typename NextSize>
replay_result replay(const request_fixture& fixture, NextSize next_size, bool pause_after_each) {
  recording_sink sink(pause_after_each);
  request_parser parser(fixture.limits, sink);
  const std::string& bytes = fixture.raw;
  replay_result result;
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    std::size_t end = std::min(bytes.size(), offset + std::max<std::size_t>(1, next_size()));
    while (offset < end) {
      auto fed = parser.feed(bytes.data() + offset, end - offset);
      if (fed.state == request_parser::status::failed) {
        result.requests = sink.requests;
        result.status = parser.error().status;
        result.reason = std::string(parser.error().reason);
        return result;
      }
      if (fed.state == request_parser::status::paused) {
        offset += fed.consumed;
        parser.resume();
      } else {
        offset = end;
      }
    }
  }
  result.requests = sink.requests;
  result.inside_request = parser.inside_request();
  return result;
}

void check_requests(const std::vector<expected_request>& expected,
                    const std::vector<parsed_request>& actual) {
  CHECK(actual.size() == expected.size());
  if (actual.size() != expected.size()) return;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("request " << i + 1);
    CHECK(actual[i].method == expected[i].method);
    CHECK(actual[i].target == expected[i].target);
    if (expected[i].path) CHECK(actual[i].path == *expected[i].path);
    if (expected[i].query) CHECK(actual[i].query == *expected[i].query);
    CHECK(actual[i].version == expected[i].version);
    if (expected[i].headers) CHECK(actual[i].headers == *expected[i].headers);
    CHECK(actual[i].body == expected[i].body);
    CHECK(actual[i].keep_alive == expected[i].keep_alive);
  }
}

// The three ways every fixture is fed: whole, byte by byte, and in random chunks (seeded, so
// that a failure can be replayed).
template <typename Check>
void for_each_feeding(const request_fixture& fixture, Check check) {
  for (bool pause : {false, true}) {
    INFO("pausing after each request: " << pause);
    {
      INFO("fed whole");
      check(replay(
          fixture, [&] { return fixture.raw.size(); }, pause));
    }
    {
      INFO("fed byte by byte");
      check(replay(
          fixture, [] { return std::size_t{1}; }, pause));
    }
    for (unsigned seed = 1; seed <= 8; ++seed) {
      INFO("fed in random chunks, seed " << seed);
      std::mt19937 random(seed);
      std::uniform_int_distribution<std::size_t> size(1, 24);
      check(replay(
          fixture, [&] { return size(random); }, pause));
    }
  }
}

}  // namespace

TEST_CASE("every valid fixture parses to the requests it lists", "[request_parser][fixtures]") {
  for (const auto& fixture : load_request_fixtures("valid")) {
    INFO(fixture.name << ": " << fixture.description);
    for_each_feeding(fixture, [&](const replay_result& result) {
      INFO("error " << result.status << ": " << result.reason);
      CHECK(result.status == 0);
      CHECK_FALSE(result.inside_request);
      check_requests(fixture.requests, result.requests);
    });
  }
}

TEST_CASE("every invalid fixture fails with its status", "[request_parser][fixtures]") {
  for (const auto& fixture : load_request_fixtures("invalid")) {
    INFO(fixture.name << ": " << fixture.description);
    for_each_feeding(fixture, [&](const replay_result& result) {
      INFO("reason: " << result.reason);
      CHECK(result.status == fixture.status);
      check_requests(fixture.requests, result.requests);
    });
  }
}

TEST_CASE("rebase moves an unfinished head to another buffer", "[request_parser]") {
  recording_sink sink(false);
  request_limits limits;
  request_parser parser(limits, sink);
  std::string first = "GET /a/long/path HTTP/1.1\r\nHost: exam";
  REQUIRE(parser.feed(first.data(), first.size()).state == request_parser::status::need_more);
  REQUIRE(parser.head_start() == first.data());

  // What the connection does: copy the head into its own buffer, rebase, read on after it.
  std::string carry = first + "ple.com\r\nAccept: */*\r\n\r\n";
  parser.rebase(first.data(), first.size(), carry.data());
  first.assign(first.size(), 'X');  // The old buffer is reused for something else.
  const char* rest = carry.data() + first.size();
  auto result = parser.feed(rest, carry.size() - first.size());
  REQUIRE(result.state == request_parser::status::need_more);
  REQUIRE(sink.requests.size() == 1);
  CHECK(sink.requests[0].target == "/a/long/path");
  CHECK(sink.requests[0].headers == std::vector<std::pair<std::string, std::string>>{
                                        {"Host", "example.com"}, {"Accept", "*/*"}});
  CHECK(parser.head_start() == nullptr);
}

TEST_CASE("a head whose body comes in later reads stays valid until the request completes",
          "[request_parser]") {
  // Reads what it needs only when the request is complete, as handlers do.
  struct late_reader final : request_sink {
    std::string method, path, query, host, body;
    void on_request_head(request&) noexcept override {}
    void on_request_body(request& req, std::string_view chunk) noexcept override {
      req.body.append(chunk);
    }
    bool on_request_complete(request& req) noexcept override {
      method = req.method;
      path = req.path;
      query = req.query;
      host = req.header_value("Host").value_or("");
      body = req.body;
      return true;
    }
  } sink;
  request_limits limits;
  request_parser parser(limits, sink);
  std::string read =
      "POST /upload?x=1 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 10\r\n\r\n01234";
  REQUIRE(parser.feed(read.data(), read.size()).state == request_parser::status::need_more);
  // The buffer is reused for the next read, as the worker's shared read buffer is.
  read.assign(read.size(), 'X');
  std::string rest = "56789";
  REQUIRE(parser.feed(rest.data(), rest.size()).state == request_parser::status::need_more);
  CHECK(sink.method == "POST");
  CHECK(sink.path == "/upload");
  CHECK(sink.query == "x=1");
  CHECK(sink.host == "example.com");
  CHECK(sink.body == "0123456789");
}

TEST_CASE("a head larger than limit_request_head is refused", "[request_parser]") {
  recording_sink sink(false);
  request_limits limits;
  limits.head = 1024;
  request_parser parser(limits, sink);
  std::string head = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 40; ++i)
    head += "X-Field-" + std::to_string(i) + ": " + std::string(20, 'v') + "\r\n";
  auto result = parser.feed(head.data(), head.size());
  CHECK(result.state == request_parser::status::failed);
  CHECK(parser.error().status == 431);
}

TEST_CASE("feeding after a pause goes on without an explicit resume", "[request_parser]") {
  recording_sink sink(true);
  request_limits limits;
  request_parser parser(limits, sink);
  std::string first = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n";
  auto result = parser.feed(first.data(), first.size());
  REQUIRE(result.state == request_parser::status::paused);
  CHECK(result.consumed == first.size());
  // The next read arrives in the same place in memory, as reads into a shared buffer do.
  std::string second = "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n";
  result = parser.feed(second.data(), second.size());
  CHECK(result.consumed == second.size());
  REQUIRE(sink.requests.size() == 2);
  CHECK(sink.requests[1].target == "/2");
}

TEST_CASE("errors are sticky", "[request_parser]") {
  recording_sink sink(false);
  request_limits limits;
  request_parser parser(limits, sink);
  std::string bad = "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n";
  REQUIRE(parser.feed(bad.data(), bad.size()).state == request_parser::status::failed);
  CHECK(parser.error().status == 400);
  std::string good = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  CHECK(parser.feed(good.data(), good.size()).state == request_parser::status::failed);
  CHECK(sink.requests.empty());
}

TEST_CASE("finish tells a request cut short from a clean end", "[request_parser]") {
  recording_sink sink(false);
  request_limits limits;
  {
    request_parser parser(limits, sink);
    std::string whole = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    parser.feed(whole.data(), whole.size());
    CHECK(parser.finish());
  }
  {
    request_parser parser(limits, sink);
    std::string cut = "GET / HTTP/1.1\r\nHo";
    parser.feed(cut.data(), cut.size());
    CHECK_FALSE(parser.finish());
  }
  {
    request_parser parser(limits, sink);
    std::string cut = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab";
    parser.feed(cut.data(), cut.size());
    CHECK_FALSE(parser.finish());
  }
}

TEST_CASE("Expect: 100-continue is reported for HTTP/1.1 only", "[request_parser]") {
  recording_sink sink(false);
  request_limits limits;
  request_parser parser(limits, sink);
  std::string requests =
      "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\na"
      "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nb";
  REQUIRE(parser.feed(requests.data(), requests.size()).state == request_parser::status::need_more);
  REQUIRE(sink.requests.size() == 2);
  CHECK(sink.requests[0].expects_continue);
  CHECK_FALSE(sink.requests[1].expects_continue);
}

}  // namespace kiln::test
