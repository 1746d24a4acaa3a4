#include "python/bridge.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

namespace kiln::python::test {
namespace {

using namespace std::chrono_literals;

// A connection's stand-in: it records what the bridge writes to it.
class recording_connection final : public responder, public response_writer {
 public:
  struct part {
    int status;
    std::string headers;
    std::string body;
    bool last;
    bool complete;
  };
  std::vector<part> parts;
  std::vector<int> failures;
  deferred_response* work = nullptr;

  void send(int, std::string_view, std::string_view, std::string_view) noexcept override {}
  void send_shared(int, std::string_view, std::string_view, output_batch::shared_bytes,
                   std::string_view) noexcept override {}
  void send_file(int, std::string_view, std::string_view, int, std::uint64_t, std::uint64_t,
                 bool) noexcept override {}
  void send_status(int, std::string_view) noexcept override {}
  response_writer& defer(deferred_response& deferred) noexcept override {
    work = &deferred;
    return *this;
  }
  void write(const response_part& p) noexcept override {
    parts.push_back({p.status, std::string(p.headers), std::string(p.body), p.last, p.complete});
  }
  void fail(int status) noexcept override { failures.push_back(status); }
};

// A libuv loop for the test, closed with everything on it at the end.
struct test_loop {
  uv_loop_t loop;
  test_loop() { REQUIRE(uv_loop_init(&loop) == 0); }
  ~test_loop() {
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  // Runs the loop until condition holds (the bridge's async handle keeps it alive).
  template <typename Condition>
  bool run_until(Condition condition) {
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!condition()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      uv_run(&loop, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }
};

request a_request(std::string& body) {
  request req;
  req.method = "GET";
  req.target = req.path = "/x";
  req.body = body;
  return req;
}

}  // namespace

TEST_CASE("the bridge delivers an app thread's parts on the loop, then frees the exchange",
          "[bridge]") {
  test_loop loop;
  bridge to_loop(&loop.loop);
  recording_connection connection;
  std::string body = "uploaded";
  request req = a_request(body);
  exchange& work = to_loop.open(req, connection);
  CHECK(connection.work == &work);
  CHECK(to_loop.live() == 1);
  // The request is the exchange's own now.
  CHECK(work.incoming().req.body == "uploaded");
  CHECK(work.answered_request().path == "/x");

  std::thread app([&] {
    to_loop.post({.to = &work, .status = 200, .headers = "X-A: 1\r\n", .body = "hel"});
    to_loop.post({.to = &work, .body = "lo", .last = true});
  });
  app.join();
  REQUIRE(loop.run_until([&] { return connection.parts.size() == 2; }));
  CHECK(connection.parts[0].status == 200);
  CHECK(connection.parts[0].headers == "X-A: 1\r\n");
  CHECK(connection.parts[0].body == "hel");
  CHECK_FALSE(connection.parts[0].last);
  CHECK(connection.parts[1].body == "lo");
  CHECK(connection.parts[1].last);
  CHECK(to_loop.live() == 0);
  to_loop.close();
}

TEST_CASE("an app thread waits for room while the client is behind, and stops when it leaves",
          "[bridge]") {
  test_loop loop;
  bridge to_loop(&loop.loop);
  recording_connection connection;
  std::string body;
  request req = a_request(body);
  exchange& work = to_loop.open(req, connection);

  REQUIRE(work.wait_for_room(exchange::max_in_flight));  // Up to the allowance at once.
  std::atomic<int> answer{-1};
  std::thread app([&] { answer = work.wait_for_room(1000) ? 1 : 0; });
  std::this_thread::sleep_for(50ms);
  CHECK(answer == -1);  // Still waiting: nothing was taken.
  work.taken(1000);
  app.join();
  CHECK(answer == 1);

  std::thread blocked([&] { answer = work.wait_for_room(1000) ? 1 : 0; });
  std::this_thread::sleep_for(50ms);
  work.abandon();  // The client left.
  blocked.join();
  CHECK(answer == 0);
  CHECK(work.abandoned());
  // Whatever the app still sends goes nowhere, and its last part frees the exchange.
  to_loop.post({.to = &work, .body = "late", .last = true});
  REQUIRE(loop.run_until([&] { return to_loop.live() == 0; }));
  CHECK(connection.parts.empty());
  to_loop.close();
}

TEST_CASE("a hung request gets 504, one not started 503; one that progresses is left alone",
          "[bridge]") {
  test_loop loop;
  bridge to_loop(&loop.loop);
  recording_connection hung, queued, busy;
  std::string body;
  request a = a_request(body), b = a_request(body), c = a_request(body);
  exchange& stuck = to_loop.open(a, hung);
  exchange& waiting = to_loop.open(b, queued);
  exchange& working = to_loop.open(c, busy);
  stuck.started();
  stuck.working(1000);
  working.started();
  working.working(5000);
  CHECK(to_loop.oldest_progress_ms() == 1000);
  CHECK(to_loop.give_up_on_hung(2000) == 1);
  CHECK(hung.failures == std::vector<int>{504});
  CHECK(queued.failures == std::vector<int>{503});
  CHECK(busy.failures.empty());
  CHECK(stuck.abandoned());
  CHECK(waiting.abandoned());
  CHECK_FALSE(working.abandoned());
  for (exchange* done : {&stuck, &waiting, &working})
    to_loop.post({.to = done, .last = true});
  REQUIRE(loop.run_until([&] { return to_loop.live() == 0; }));
  to_loop.close();
}

}  // namespace kiln::python::test
