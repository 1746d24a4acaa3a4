// Application handlers in the real server: what they are given, and what happens when they
// throw, build a bad response, or block the loop.
#include <nlohmann/json.hpp>
#include <signal.h>
#include <thread>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/load_generator.hpp"

namespace kiln::test {
namespace {

kiln_process::options test_app(std::vector<std::string> more = {}) {
  std::vector<std::string> arguments{"--bind", "127.0.0.1:0", "--workers", "1"};
  arguments.insert(arguments.end(), more.begin(), more.end());
  return {.arguments = std::move(arguments), .binary = KILN_TEST_APP};
}

http_response ask(http_client& client, const std::string& request) {
  REQUIRE(client.send(request));
  auto response = client.read_response();
  REQUIRE(response);
  return *response;
}

}  // namespace

TEST_CASE("a handler is given the method, path, query, parameters, body and headers", "[handler]") {
  kiln_process kiln(test_app({"--access-log", "/dev/null"}));
  http_client client(kiln.port());
  std::string body = R"({"x": [1, 2]})";
  auto response =
      ask(client, "POST /echo/b%20c?q=1 HTTP/1.1\r\nHost: k\r\nX-Test: yes\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body);
  CHECK(response.status == 200);
  CHECK(response.header("Content-Type") == "application/json");
  auto given = nlohmann::json::parse(response.body);
  CHECK(given["method"] == "POST");
  CHECK(given["path"] == "/echo/b%20c");
  CHECK(given["query"] == "q=1");
  CHECK(given["name"] == "b c");
  CHECK(given["body"] == body);
  CHECK(given["x_test"] == "yes");
  CHECK(given["peer"].get<std::string>().starts_with("127.0.0.1:"));
  CHECK(given["request_id"] == response.header("X-Request-ID"));

  SECTION("a chunked body arrives whole") {
    auto chunked = ask(client,
                       "PUT /echo/x HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\n{\"a\r\n5\r\n\": 1}\r\n0\r\n\r\n");
    CHECK(chunked.status == 200);
    CHECK(nlohmann::json::parse(chunked.body) == nlohmann::json{{"a", 1}});
  }
  SECTION("a body that is not JSON is a 400 with a JSON error") {
    auto bad = ask(client, "PUT /echo/x HTTP/1.1\r\nHost: k\r\nContent-Length: 3\r\n\r\n{{{");
    CHECK(bad.status == 400);
    CHECK(nlohmann::json::parse(bad.body)["error"].get<std::string>().starts_with(
        "the body is not JSON"));
  }
  SECTION("a path with other methods only is a 405 with Allow") {
    auto wrong = ask(client, "DELETE /echo/x HTTP/1.1\r\nHost: k\r\n\r\n");
    CHECK(wrong.status == 405);
    CHECK(wrong.header("Allow") == "POST, PUT");
  }
}

TEST_CASE("a handler sees the head whole when the body arrives in later reads", "[handler]") {
  kiln_process kiln(test_app());
  http_client client(kiln.port());
  SECTION("Expect: 100-continue: the body waits for the interim response") {
    REQUIRE(client.send(
        "POST /echo/late?q=2 HTTP/1.1\r\nHost: k\r\nX-Test: t\r\nExpect: 100-continue\r\n"
        "Content-Length: 5\r\n\r\n"));
    REQUIRE(eventually([&] {
      client.closed_by_server(20ms);
      return client.unread().starts_with("HTTP/1.1 100 Continue\r\n\r\n");
    }));
    REQUIRE(client.send("hello"));
  }
  SECTION("the head cut in two, then the body") {
    REQUIRE(client.send("POST /echo/late?q=2 HTTP/1.1\r\nHost: k\r\nX-Te"));
    std::this_thread::sleep_for(50ms);  // Separate reads, not a speed assumption.
    REQUIRE(client.send("st: t\r\nContent-Length: 5\r\n\r\n"));
    std::this_thread::sleep_for(50ms);
    REQUIRE(client.send("hel"));
    std::this_thread::sleep_for(50ms);
    REQUIRE(client.send("lo"));
  }
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
  auto given = nlohmann::json::parse(response->body);
  CHECK(given["method"] == "POST");
  CHECK(given["path"] == "/echo/late");
  CHECK(given["query"] == "q=2");
  CHECK(given["name"] == "late");
  CHECK(given["x_test"] == "t");
  CHECK(given["body"] == "hello");
}

TEST_CASE("a handler that throws is a 500 and a log line, and the worker lives on", "[handler]") {
  kiln_process kiln(test_app());
  pid_t worker = 0;
  REQUIRE(eventually([&] {
    auto children = children_of(kiln.pid());
    if (children.size() == 1) worker = children.front();
    return worker != 0;
  }));
  http_client client(kiln.port());
  auto thrown = ask(client, get("/throw"));
  CHECK(thrown.status == 500);
  CHECK(thrown.body == "500 Internal Server Error\n");
  CHECK(kiln.wait_for_output("GET /throw: the handler failed: boom"));
  auto other = ask(client, get("/throw-other"));
  CHECK(other.status == 500);
  CHECK(kiln.wait_for_output(
      "GET /throw-other: the handler threw something that is not a std::exception"));
  auto teapot = ask(client, get("/http-error"));
  CHECK(teapot.status == 418);
  CHECK(nlohmann::json::parse(teapot.body) == nlohmann::json{{"error", "short and stout"}});
  // An "error" status that is not one would leave the client waiting for a final response.
  CHECK(ask(client, get("/http-error-100")).status == 500);
  // The same connection, the same worker: nothing was restarted.
  CHECK(ask(client, get("/healthz")).status == 200);
  CHECK(children_of(kiln.pid()) == std::vector<pid_t>{worker});
}

TEST_CASE("a header with CR or LF from a handler never reaches the client", "[handler]") {
  kiln_process kiln(test_app());
  http_client client(kiln.port());
  auto response = ask(client, get("/bad-header"));
  CHECK(response.status == 500);
  CHECK_FALSE(response.header("Injected"));
  CHECK_FALSE(response.header("X-Split"));
}

TEST_CASE("a handler that blocks the loop is killed after timeout and its worker replaced",
          "[handler]") {
  kiln_process kiln(test_app({"--timeout", "1"}));
  std::vector<pid_t> before;
  REQUIRE(eventually([&] {
    before = children_of(kiln.pid());
    return before.size() == 1;
  }));
  http_client blocked(kiln.port());
  REQUIRE(blocked.send(get("/block/30")));
  CHECK(kiln.wait_for_output("WORKER TIMEOUT (pid:" + std::to_string(before.front()) + ")"));
  CHECK(blocked.closed_by_server());
  REQUIRE(eventually([&] {
    auto now = children_of(kiln.pid());
    return now.size() == 1 && now.front() != before.front();
  }));
  http_client client(kiln.port());
  CHECK(ask(client, get("/healthz")).status == 200);
}

TEST_CASE("a worker whose memory runs out exits, and the master says so and replaces it",
          "[handler]") {
#if defined(__SANITIZE_ADDRESS__)
  SUCCEED("AddressSanitizer's operator new reports running out of memory itself");
  return;
#endif
  kiln_process kiln(test_app());
  std::vector<pid_t> before;
  REQUIRE(eventually([&] {
    before = children_of(kiln.pid());
    return before.size() == 1;
  }));
  http_client exhausting(kiln.port());
  REQUIRE(exhausting.send(get("/exhaust-memory")));
  CHECK(exhausting.closed_by_server());
  CHECK(kiln.wait_for_output("kiln: worker out of memory: exiting\n"));
  CHECK(kiln.wait_for_output("Worker (pid: " + std::to_string(before.front()) +
                             ") ran out of memory and exited: replacing it"));
  REQUIRE(eventually([&] {
    auto now = children_of(kiln.pid());
    return now.size() == 1 && now.front() != before.front();
  }));
  http_client client(kiln.port());
  CHECK(ask(client, get("/healthz")).status == 200);
}

}  // namespace kiln::test
