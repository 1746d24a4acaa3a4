// Every request fixture, sent to the real server over TCP: the valid ones are all answered on
// one connection, the invalid ones get their status and a closed connection.
#include <catch2/catch.hpp>

#include "support/fixtures.hpp"
#include "support/http_client.hpp"
#include "support/kiln_process.hpp"

namespace kiln::test {
namespace {

std::vector<std::string> limit_flags(const request_fixture& fixture) {
  if (!fixture.limits_overridden) return {};
  return {"--limit-request-line",       std::to_string(fixture.limits.request_line),
          "--limit-request-fields",     std::to_string(fixture.limits.fields),
          "--limit-request-field-size", std::to_string(fixture.limits.field_size),
          "--limit-request-body",       std::to_string(fixture.limits.body)};
}

// Fixtures with their own limits need a server of their own; the rest share one.
template <typename Check>
void for_each_fixture(std::string_view kind, Check check) {
  auto fixtures = load_request_fixtures(kind);
  std::unique_ptr<kiln_process> shared;
  for (const auto& fixture : fixtures) {
    INFO(fixture.name << ": " << fixture.description);
    std::vector<std::string> arguments{"--bind", "127.0.0.1:0"};
    if (fixture.limits_overridden) {
      auto flags = limit_flags(fixture);
      arguments.insert(arguments.end(), flags.begin(), flags.end());
      kiln_process own(arguments);
      check(fixture, own);
      continue;
    }
    if (!shared) shared = std::make_unique<kiln_process>(arguments);
    check(fixture, *shared);
  }
}

}  // namespace

TEST_CASE("the server answers every request of every valid fixture", "[fixtures]") {
  for_each_fixture("valid", [](const request_fixture& fixture, kiln_process& kiln) {
    http_client client(kiln.port());
    REQUIRE(client.send(fixture.raw));
    for (std::size_t i = 0; i < fixture.requests.size(); ++i) {
      INFO("response " << i + 1);
      const auto& expected = fixture.requests[i];
      auto response = client.read_response(expected.method == "HEAD");
      REQUIRE(response);
      // No static root: every well-formed GET or HEAD is a 404, anything else a 404 too.
      CHECK(response->status == 404);
      CHECK(response->keep_alive == expected.keep_alive);
    }
    if (!fixture.requests.back().keep_alive) CHECK(client.closed_by_server());
  });
}

TEST_CASE("the server rejects every invalid fixture with its status and closes", "[fixtures]") {
  for_each_fixture("invalid", [](const request_fixture& fixture, kiln_process& kiln) {
    http_client client(kiln.port());
    client.send(fixture.raw);  // The server may close before it has read everything.
    for (std::size_t i = 0; i < fixture.requests.size(); ++i) {
      INFO("response " << i + 1 << " (before the bad request)");
      auto response = client.read_response(fixture.requests[i].method == "HEAD");
      REQUIRE(response);
      CHECK(response->status == 404);
    }
    // The rejection is the first thing sent for the bad request: no 100 Continue before it,
    // which would have the client send a body the server then reads as something else.
    std::string status_line = "HTTP/1.1 " + std::to_string(fixture.status) + " ";
    REQUIRE(client.wait_for_bytes(status_line.size()));
    CHECK(client.unread().starts_with(status_line));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == fixture.status);
    CHECK(response->header("Connection") == "close");
    CHECK(client.closed_by_server());
  });
}

}  // namespace kiln::test
