// The worker's loop as a whole: its connection cap and how it stops.
#include <memory>
#include <signal.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"

namespace kiln::test {

TEST_CASE("at worker_connections the longest idle connection makes room for a new client",
          "[worker]") {
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1", "--worker-connections", "3"});
  std::vector<std::unique_ptr<http_client>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(std::make_unique<http_client>(kiln.port()));
    REQUIRE(open.back()->send(get("/")));
    auto response = open.back()->read_response();
    REQUIRE(response);
    CHECK(response->status == 404);
  }
  // All three are idle on keep-alive: the first to have gone idle gives its slot up.
  http_client fourth(kiln.port());
  REQUIRE(fourth.send(get("/")));
  auto response = fourth.read_response();
  REQUIRE(response);
  CHECK(response->status == 404);
  CHECK(open.front()->closed_by_server());
  CHECK(
      kiln.wait_for_output("worker_connections (3) reached: closing idle and stalled "
                           "connections to make room (1 so far)"));
  // The others still work.
  for (std::size_t i = 1; i < open.size(); ++i) {
    REQUIRE(open[i]->send(get("/")));
    CHECK(open[i]->read_response());
  }
}

TEST_CASE("at worker_connections a head that stands still gives its slot up after a second",
          "[worker]") {
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1", "--worker-connections", "2"});
  http_client slow(kiln.port());
  REQUIRE(slow.send("GET / HTTP/1.1\r\nHost: ki"));
  http_client busy(kiln.port());
  REQUIRE(busy.send("GET / HTTP/1.1\r\nHost: ki"));
  // Both slots hold heads that started just now: the third client waits its turn...
  http_client third(kiln.port());
  REQUIRE(third.send(get("/")));
  // ...until the first head has stood still for a second, and is closed to make room.
  auto response = third.read_response();
  REQUIRE(response);
  CHECK(response->status == 404);
  CHECK(slow.closed_by_server());
}

TEST_CASE("at worker_connections with every slot busy the worker stops accepting until one frees",
          "[worker]") {
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1", "--worker-connections", "2",
                     "--threads", "2", "--chdir", std::string(KILN_FIXTURES) + "/wsgi",
                     "probe:application"});
  std::vector<std::unique_ptr<http_client>> busy;
  for (int i = 0; i < 2; ++i) {
    busy.push_back(std::make_unique<http_client>(kiln.port()));
    REQUIRE(busy.back()->send(get("/sleep?s=2")));
  }
  // The kernel completes the handshake, but the worker does not take the connection: no slot
  // is idle or stalled, both answer.
  http_client third(kiln.port());
  REQUIRE(third.send(get("/hello")));
  CHECK_FALSE(third.read_response(false, 700ms));
  for (auto& client : busy) {
    auto slept = client->read_response();
    REQUIRE(slept);
    CHECK(slept->body == "slept\n");
  }
  // A slot is free once a sleeper's connection is idle (and so can be given up): the third is
  // answered.
  auto response = third.read_response();
  REQUIRE(response);
  CHECK(response->body == "Hello, World!\n");
}

TEST_CASE("TERM lets a request in flight finish and exits 0", "[worker]") {
  // One worker, so that the idle connection closing shows that the busy one's worker has the
  // TERM too.
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1"});
  http_client idle(kiln.port());
  REQUIRE(idle.send(get("/")));
  REQUIRE(idle.read_response());

  http_client busy(kiln.port());
  REQUIRE(busy.send("GET / HTTP/1.1\r\nHost: x\r\n"));  // Half a head.
  kiln.signal(SIGTERM);
  // The idle keep-alive connection is closed at once...
  CHECK(idle.closed_by_server());
  // ...the busy one gets its answer, with Connection: close.
  REQUIRE(busy.send("\r\n"));
  auto response = busy.read_response();
  REQUIRE(response);
  CHECK(response->status == 404);
  CHECK(response->header("Connection") == "close");
  CHECK(busy.closed_by_server());
  CHECK(kiln.wait() == exited_with(0));
}

TEST_CASE("INT stops at once and exits 0", "[worker]") {
  kiln_process kiln({"--bind", "127.0.0.1:0"});
  http_client busy(kiln.port());
  REQUIRE(busy.send("GET / HTTP/1.1\r\n"));
  CHECK(kiln.stop(SIGINT) == exited_with(0));
  CHECK(busy.closed_by_server());
}

}  // namespace kiln::test
