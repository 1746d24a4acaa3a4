// The worker's loop as a whole: its connection cap and how it stops.
#include <memory>
#include <signal.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"

namespace kiln::test {

TEST_CASE("at worker_connections the worker stops accepting until a connection closes",
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
  // The kernel completes the handshake, but the worker does not take the connection.
  http_client fourth(kiln.port());
  REQUIRE(fourth.send(get("/")));
  CHECK_FALSE(fourth.read_response(false, 700ms));

  // One closes: the fourth is accepted and answered.
  open.front().reset();
  auto response = fourth.read_response();
  REQUIRE(response);
  CHECK(response->status == 404);

  // The others still work.
  REQUIRE(open.back()->send(get("/")));
  CHECK(open.back()->read_response());
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
