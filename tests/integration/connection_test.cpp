// The HTTP/1.1 engine seen from a client: keep-alive, pipelining, limits and timeouts, against
// the real kiln binary over TCP.
#include <random>
#include <thread>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

// A static root with a few files, made once per test process and removed as it exits.
const std::string& www() {
  static const temporary_directory root("kiln-www");
  [[maybe_unused]] static const bool written = [] {
    root.write("index.html", "<h1>kiln</h1>\n");
    root.write("a.txt", "a");
    root.write("b.txt", "bb");
    root.write("c.txt", "ccc");
    root.write("4k.bin", std::string(4096, 'k'));
    // Bigger than a worker's output batch: the parser pauses after its request.
    root.write("300k.bin", std::string(300 * 1024, 'm'));
    return true;
  }();
  return root.path();
}

std::vector<std::string> serve_www(std::vector<std::string> more = {}) {
  std::vector<std::string> arguments{"--bind", "127.0.0.1:0", "--static-root", www()};
  arguments.insert(arguments.end(), more.begin(), more.end());
  return arguments;
}

// Sends bytes one at a time with a pause between them, so that the server's reads really do
// cut the request everywhere.
void dribble(http_client& client, std::string_view bytes) {
  for (char c : bytes) {
    REQUIRE(client.send(std::string_view(&c, 1)));
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

}  // namespace

TEST_CASE("keep-alive: one connection serves many requests", "[connection]") {
  kiln_process kiln(serve_www());
  http_client client(kiln.port());
  for (int i = 0; i < 20; ++i) {
    REQUIRE(client.send(get("/a.txt")));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->body == "a");
    CHECK(response->keep_alive);
    CHECK_FALSE(response->header("Connection"));
  }
}

TEST_CASE("responses carry Server, Date, Content-Type and Content-Length", "[connection]") {
  kiln_process kiln(serve_www());
  http_client client(kiln.port());
  REQUIRE(client.send(get("/index.html")));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->header("Server") == "kiln");
  REQUIRE(response->header("Date"));
  CHECK(response->header("Date")->size() == 29);
  CHECK(response->header("Date")->ends_with(" GMT"));
  CHECK(response->header("Content-Type") == "text/html; charset=utf-8");
  CHECK(response->header("Content-Length") == "14");
  CHECK(response->body == "<h1>kiln</h1>\n");
}

TEST_CASE("Connection: close is honoured and answered", "[connection]") {
  kiln_process kiln(serve_www());
  http_client client(kiln.port());
  REQUIRE(client.send(get("/a.txt", "Connection: close\r\n")));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->header("Connection") == "close");
  CHECK(client.closed_by_server());
}

TEST_CASE("HTTP/1.0 closes unless it asks for keep-alive", "[connection]") {
  kiln_process kiln(serve_www());
  SECTION("plain 1.0 closes") {
    http_client client(kiln.port());
    REQUIRE(client.send("GET /a.txt HTTP/1.0\r\n\r\n"));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->header("Connection") == "close");
    CHECK(client.closed_by_server());
  }
  SECTION("1.0 with keep-alive stays open") {
    http_client client(kiln.port());
    for (int i = 0; i < 3; ++i) {
      REQUIRE(client.send("GET /b.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
      auto response = client.read_response();
      REQUIRE(response);
      CHECK(response->body == "bb");
      CHECK(response->header("Connection") == "keep-alive");
    }
  }
}

TEST_CASE("pipelined requests are answered in order", "[connection]") {
  kiln_process kiln(serve_www());
  http_client client(kiln.port());
  const std::vector<std::string> names{"a", "b", "c", "nope", "a", "c", "b", "index.html"};
  std::string pipeline;
  std::vector<std::pair<int, std::string>> expected;
  for (int round = 0; round < 4; ++round) {
    for (const auto& name : names) {
      std::string path = name == "index.html" ? "/index.html" : "/" + name + ".txt";
      pipeline += get(path);
      if (name == "nope") {
        expected.emplace_back(404, "");
      } else if (name == "index.html") {
        expected.emplace_back(200, "<h1>kiln</h1>\n");
      } else {
        expected.emplace_back(200, std::string(name.size() == 1 ? name[0] - 'a' + 1 : 0, name[0]));
      }
    }
  }
  SECTION("in one write") {
    REQUIRE(client.send(pipeline));
  }
  SECTION("byte by byte") {
    dribble(client, pipeline);
  }
  SECTION("in random pieces") {
    std::mt19937 random(7);
    std::uniform_int_distribution<std::size_t> size(1, 50);
    std::string_view rest = pipeline;
    while (!rest.empty()) {
      std::size_t n = std::min(rest.size(), size(random));
      REQUIRE(client.send(rest.substr(0, n)));
      rest.remove_prefix(n);
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("response " << i + 1);
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == expected[i].first);
    if (expected[i].first == 200) CHECK(response->body == expected[i].second);
  }
}

TEST_CASE("a deep pipeline of 4 KiB files comes back whole and in order", "[connection]") {
  kiln_process kiln(serve_www());
  http_client client(kiln.port());
  std::string pipeline;
  for (int i = 0; i < 200; ++i)
    pipeline += get(i % 2 ? "/4k.bin" : "/a.txt");
  REQUIRE(client.send(pipeline));
  for (int i = 0; i < 200; ++i) {
    auto response = client.read_response();
    REQUIRE(response);
    REQUIRE(response->status == 200);
    REQUIRE(response->body == (i % 2 ? std::string(4096, 'k') : "a"));
  }
}

TEST_CASE("keep-alive goes on after a response bigger than the output batch", "[connection]") {
  // Regression: the pause after a big response once swallowed the next request on the
  // connection, which then waited for keepalive to expire.
  kiln_process kiln(serve_www());
  http_client client(kiln.port());
  for (int i = 0; i < 3; ++i) {
    REQUIRE(client.send(get("/300k.bin")));
    auto response = client.read_response(false, 5s);
    REQUIRE(response);
    CHECK(response->body.size() == 300 * 1024);
  }
}

TEST_CASE("HEAD gets the headers of GET and no body", "[connection]") {
  kiln_process kiln(serve_www());
  http_client client(kiln.port());
  REQUIRE(client.send("HEAD /4k.bin HTTP/1.1\r\nHost: x\r\n\r\n" + get("/a.txt")));
  auto head = client.read_response(true);
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->header("Content-Length") == "4096");
  CHECK(head->body.empty());
  // The next response starts right after the head: no body bytes were sent.
  auto next = client.read_response();
  REQUIRE(next);
  CHECK(next->body == "a");
}

TEST_CASE("a chunked request body is read and the connection stays usable", "[connection]") {
  kiln_process kiln(serve_www());
  http_client client(kiln.port());
  REQUIRE(
      client.send("POST /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: yes\r\n\r\n" +
                  get("/b.txt")));
  auto post = client.read_response();
  REQUIRE(post);
  CHECK(post->status == 405);
  CHECK(post->header("Allow") == "GET, HEAD");
  auto next = client.read_response();
  REQUIRE(next);
  CHECK(next->body == "bb");
}

TEST_CASE("Expect: 100-continue gets an interim response before the body", "[connection]") {
  kiln_process kiln(serve_www());
  http_client client(kiln.port());
  REQUIRE(client.send(
      "PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  // The interim response arrives while the client still holds the body back.
  REQUIRE(eventually([&] {
    client.closed_by_server(50ms);
    return client.unread().starts_with("HTTP/1.1 100 Continue\r\n\r\n");
  }));
  REQUIRE(client.send("hello"));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 405);
}

TEST_CASE("an unsupported expectation gets 417", "[connection]") {
  kiln_process kiln(serve_www());
  http_client client(kiln.port());
  REQUIRE(client.send("GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n"));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 417);
  CHECK(client.closed_by_server());
}

TEST_CASE("each limit is answered with its status and the connection closes", "[connection]") {
  kiln_process kiln(serve_www());
  struct limit_case {
    std::string name;
    std::string request;
    int status;
  };
  std::vector<limit_case> cases{
      // limit_request_line is 4094 bytes: "GET " + target + " HTTP/1.1".
      {"request line of 4095 bytes", get("/" + std::string(4095 - 14, 'x')), 414},
      {"101 header fields",
       [] {
         std::string fields;
         for (int i = 0; i < 100; ++i)
           fields += "X-Field-" + std::to_string(i) + ": v\r\n";
         return get("/a.txt", fields);
       }(),
       431},
      {"a header field of 8191 bytes",
       get("/a.txt", std::string("X-Big: ").append(8191 - 7, 'v').append("\r\n")), 431},
      {"a Content-Length over 1 MiB",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n", 413},
      {"a chunked body over 1 MiB",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n" +
           std::string(0x100001, 'b') + "\r\n0\r\n\r\n",
       413},
      {"a malformed request line", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"HTTP/2.0 in a request line", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
  };
  for (const auto& test : cases) {
    INFO(test.name);
    http_client client(kiln.port());
    client.send(test.request);  // The server may close before it has read everything.
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == test.status);
    CHECK(response->header("Connection") == "close");
    CHECK(client.closed_by_server());
  }
}

TEST_CASE("requests at each limit are served", "[connection]") {
  kiln_process kiln(serve_www());
  std::string fields;
  for (int i = 0; i < 99; ++i)
    fields += "X-Field-" + std::to_string(i) + ": v\r\n";
  std::vector<std::string> requests{
      get("/a.txt?" + std::string(4094 - 20, 'q')),  // A request line of exactly 4094 bytes.
      get("/a.txt", fields),                         // 100 fields with Host.
      get("/a.txt", std::string("X-Big: ").append(8190 - 7, 'v').append("\r\n")),
  };
  for (const auto& request : requests) {
    http_client client(kiln.port());
    REQUIRE(client.send(request));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->body == "a");
  }
}

TEST_CASE("limits follow their settings", "[connection]") {
  kiln_process kiln(serve_www({"--limit-request-line", "64", "--limit-request-fields", "3",
                               "--limit-request-field-size", "40", "--limit-request-body", "10"}));
  struct limit_case {
    std::string request;
    int status;
  };
  std::vector<limit_case> cases{
      {get("/" + std::string(65 - 14, 'x')), 414},
      {get("/" + std::string(64 - 14, 'x')), 404},
      {get("/a.txt", "A: 1\r\nB: 2\r\nC: 3\r\n"), 431},
      {get("/a.txt", "A: 1\r\nB: 2\r\n"), 200},
      {get("/a.txt", std::string("X: ").append(41 - 3, 'v').append("\r\n")), 431},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n01234567890", 413},
      {"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", 405},
  };
  for (const auto& test : cases) {
    INFO(test.request.substr(0, 80));
    http_client client(kiln.port());
    client.send(test.request);
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == test.status);
  }
}

TEST_CASE("a client that dribbles its head gets 408 after header_timeout",
          "[connection][timeout]") {
  kiln_process kiln(serve_www({"--header-timeout", "1"}));
  http_client client(kiln.port());
  auto started = std::chrono::steady_clock::now();
  // One byte every 100 ms would keep a per-read timeout alive forever; header_timeout counts
  // from the first byte of the head.
  std::string head = "GET /a.txt HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(200, 'z');
  for (char c : head) {
    if (!client.send(std::string(1, c))) break;
    if (client.closed_by_server(100ms) || !client.unread().empty()) break;
  }
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 408);
  CHECK(response->header("Connection") == "close");
  CHECK(client.closed_by_server());
  CHECK(std::chrono::steady_clock::now() - started >= 900ms);
}

TEST_CASE("a connection that sends nothing is closed quietly after header_timeout",
          "[connection][timeout]") {
  kiln_process kiln(serve_www({"--header-timeout", "0.5"}));
  http_client client(kiln.port());
  CHECK(client.closed_by_server());
  CHECK(client.unread().empty());
}

TEST_CASE("an idle keep-alive connection is closed after keepalive", "[connection][timeout]") {
  kiln_process kiln(serve_www({"--keepalive", "1"}));
  http_client client(kiln.port());
  REQUIRE(client.send(get("/a.txt")));
  REQUIRE(client.read_response());
  auto idle_since = std::chrono::steady_clock::now();
  CHECK(client.closed_by_server());
  CHECK(client.unread().empty());
  CHECK(std::chrono::steady_clock::now() - idle_since >= 900ms);
}

TEST_CASE("empty lines between requests do not keep an idle connection open",
          "[connection][timeout]") {
  // llhttp skips empty lines before a request; they must not restart the keepalive clock.
  kiln_process kiln(serve_www({"--keepalive", "1"}));
  http_client client(kiln.port());
  REQUIRE(client.send(get("/a.txt")));
  REQUIRE(client.read_response());
  bool closed = eventually([&] {
    if (!client.send("\r\n")) return true;
    return client.closed_by_server(200ms);
  });
  CHECK(closed);
}

TEST_CASE("a method dribbled a byte at a time gets 408 after header_timeout",
          "[connection][timeout]") {
  // An unknown method keeps the parser busy telling 501 from 400: still a head, still timed.
  kiln_process kiln(serve_www({"--header-timeout", "1"}));
  http_client client(kiln.port());
  bool answered = eventually([&] {
    if (!client.send("Q")) return true;
    return client.closed_by_server(200ms) || !client.unread().empty();
  });
  REQUIRE(answered);
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 408);
}

TEST_CASE("a head larger than limit_request_head gets 431 and the connection closes",
          "[connection]") {
  kiln_process kiln(serve_www({"--limit-request-head", "1024"}));
  std::string fields;
  for (int i = 0; i < 40; ++i)
    fields += "X-Field-" + std::to_string(i) + ": " + std::string(20, 'v') + "\r\n";
  http_client client(kiln.port());
  client.send(get("/a.txt", fields));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 431);
  CHECK(client.closed_by_server());
  http_client small(kiln.port());
  REQUIRE(small.send(get("/a.txt", "X-Field: v\r\n")));
  auto served = small.read_response();
  REQUIRE(served);
  CHECK(served->status == 200);
}

TEST_CASE("keep-alive connections outlive a short header_timeout", "[connection][timeout]") {
  // header_timeout governs a head in progress, keepalive an idle connection: an idle gap longer
  // than header_timeout but shorter than keepalive must not close the connection.
  kiln_process kiln(serve_www({"--header-timeout", "0.3", "--keepalive", "60"}));
  http_client client(kiln.port());
  REQUIRE(client.send(get("/a.txt")));
  REQUIRE(client.read_response());
  CHECK_FALSE(client.closed_by_server(1s));
  REQUIRE(client.send(get("/b.txt")));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->body == "bb");
}

TEST_CASE("a request body that stalls gets 408 after body_timeout", "[connection][timeout]") {
  kiln_process kiln(serve_www({"--body-timeout", "0.5"}));
  http_client client(kiln.port());
  REQUIRE(client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234"));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 408);
  CHECK(client.closed_by_server());
}

TEST_CASE("a body sent a byte now and then gets 408 once body_min_rate is not kept",
          "[connection][timeout]") {
  // A second to start with, and 10 ms more for each byte: 20 bytes in 0.2 s each never keep up.
  kiln_process kiln(serve_www({"--body-timeout", "1", "--body-min-rate", "100"}));
  http_client client(kiln.port());
  REQUIRE(client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"));
  auto started = std::chrono::steady_clock::now();
  std::optional<http_response> response;
  for (int sent = 0; sent < 100 && !response; ++sent) {
    if (!client.send("x")) break;
    response = client.read_response(false, 200ms);
  }
  if (!response) response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 408);
  CHECK(std::chrono::steady_clock::now() - started < 10s);
  CHECK(client.closed_by_server());

  // A body that keeps the rate is read whole, however long it takes (here, a 1.5 s body).
  http_client steady(kiln.port());
  REQUIRE(steady.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1500\r\n\r\n"));
  for (int piece = 0; piece < 10; ++piece) {
    REQUIRE(steady.send(std::string(150, 'y')));
    std::this_thread::sleep_for(150ms);
  }
  auto answered = steady.read_response();
  REQUIRE(answered);
  CHECK(answered->status == 405);  // POST to static files: the body came whole, then the answer.
}

TEST_CASE("keepalive 0 closes every connection after its response", "[connection]") {
  kiln_process kiln(serve_www({"--keepalive", "0"}));
  http_client client(kiln.port());
  REQUIRE(client.send(get("/a.txt")));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->header("Connection") == "close");
  CHECK(client.closed_by_server());
}

TEST_CASE("a client that half-closes after its requests still gets every response",
          "[connection]") {
  kiln_process kiln(serve_www());
  http_client client(kiln.port());
  REQUIRE(client.send(get("/a.txt") + get("/4k.bin") + get("/c.txt")));
  client.shutdown_sending();
  for (std::string body : {std::string("a"), std::string(4096, 'k'), std::string("ccc")}) {
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->body == body);
  }
  CHECK(client.closed_by_server());
}

}  // namespace kiln::test

namespace kiln::test {

TEST_CASE("a client that stops reading is dropped after send_timeout", "[connection][timeout]") {
  // Far more response bytes than the socket buffers of both ends can hold.
  std::string pipeline;
  for (int i = 0; i < 6000; ++i)
    pipeline += get("/4k.bin");
  auto answers_after_a_stall = [&](const std::string& send_timeout) {
    kiln_process kiln(serve_www({"--send-timeout", send_timeout}));
    http_client client(kiln.port());
    REQUIRE(client.send(pipeline));
    // The server's writes stall while the client does not read. This pause is what the test
    // is about, not a guess at how fast anything runs.
    std::this_thread::sleep_for(1500ms);
    int answered = 0;
    while (answered < 6000 && client.read_response(false, 5s))
      ++answered;
    return answered;
  };
  CHECK(answers_after_a_stall("1") < 6000);
  CHECK(answers_after_a_stall("60") == 6000);
}

}  // namespace kiln::test
