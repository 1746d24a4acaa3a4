// PEP 3333 through the real server: tests/fixtures/wsgi/probe.py, whose routes run under
// wsgiref.validate (any violation by either side is an AssertionError and a 500), served by
// kiln's embedded Python, talked to over raw TCP.
#include <fstream>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/load_generator.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

const std::string wsgi_fixtures = std::string(KILN_FIXTURES) + "/wsgi";

// The probe app with one worker, so that /stats sees every request.
kiln_process::options probe(std::vector<std::string> more = {}) {
  std::vector<std::string> arguments{"--bind", "127.0.0.1:0", "--workers",
                                     "1",      "--chdir",     wsgi_fixtures};
  arguments.insert(arguments.end(), more.begin(), more.end());
  arguments.push_back("probe");
  return {.arguments = std::move(arguments)};
}

http_response ask(http_client& client, const std::string& request, bool to_head = false) {
  REQUIRE(client.send(request));
  auto response = client.read_response(to_head);
  REQUIRE(response);
  return *response;
}

nlohmann::json stats(std::uint16_t port) {
  http_client client(port);
  return nlohmann::json::parse(ask(client, get("/stats")).body);
}

// The validator reports what the server did wrong as an AssertionError, and an iterable never
// closed as a line of its own: neither may appear.
void check_clean_log(const kiln_process& kiln) {
  CHECK(kiln.output().find("AssertionError") == std::string::npos);
  CHECK(kiln.output().find("garbage collected without being closed") == std::string::npos);
}

}  // namespace

TEST_CASE("a WSGI app answers through kiln, on a kept-alive connection", "[wsgi]") {
  kiln_process kiln(probe());
  http_client client(kiln.port());
  auto hello = ask(client, get("/hello"));
  CHECK(hello.status == 200);
  CHECK(hello.header("Content-Type") == "text/plain; charset=utf-8");
  CHECK(hello.header("Content-Length") == "14");
  CHECK(hello.header("Server") == "kiln");
  CHECK(hello.count("Date") == 1);
  CHECK(hello.body == "Hello, World!\n");
  CHECK(hello.keep_alive);
  auto again = ask(client, get("/hello"));
  CHECK(again.body == "Hello, World!\n");
  // Pipelined requests are answered in order, each once the app is done with the one before.
  REQUIRE(client.send(get("/generator?n=2&size=3") + get("/hello") + get("/raw/list")));
  auto first = client.read_response();
  auto second = client.read_response();
  auto third = client.read_response();
  REQUIRE((first && second && third));
  CHECK(first->body == "AAABBB");
  CHECK(second->body == "Hello, World!\n");
  CHECK(third->body == "one two");
  check_clean_log(kiln);
}

TEST_CASE("the environ holds what PEP 3333 asks, from the request as sent", "[wsgi]") {
  kiln_process kiln(probe());
  http_client client(kiln.port());
  std::string body = "name=k%C3%AFln";
  auto response = ask(client,
                      "POST /echo/caf%C3%A9/a%2Fb?x=1&y=%20 HTTP/1.1\r\nHost: example.com:8080\r\n"
                      "Content-Type: application/x-www-form-urlencoded\r\n"
                      "Content-Length: " +
                          std::to_string(body.size()) +
                          "\r\n"
                          "X-Repeated: one\r\nX-Repeated: two\r\nCookie: a=1\r\nCookie: b=2\r\n"
                          "X_Forwarded_For: 6.6.6.6\r\n\r\n" +
                          body);
  REQUIRE(response.status == 200);
  auto environ = nlohmann::json::parse(response.body);
  CHECK(environ["REQUEST_METHOD"] == "POST");
  // Percent-decoded, each byte one code point (latin-1); %2F decoded too, as gunicorn does.
  CHECK(environ["PATH_INFO"] == "/echo/caf\u00c3\u00a9/a/b");
  CHECK(environ["QUERY_STRING"] == "x=1&y=%20");
  CHECK(environ["RAW_URI"] == "/echo/caf%C3%A9/a%2Fb?x=1&y=%20");
  CHECK(environ["SCRIPT_NAME"] == "");
  CHECK(environ["SERVER_PROTOCOL"] == "HTTP/1.1");
  CHECK(environ["SERVER_NAME"] == "127.0.0.1");
  CHECK(environ["SERVER_PORT"] == std::to_string(kiln.port()));
  CHECK(environ["REMOTE_ADDR"] == "127.0.0.1");
  CHECK(std::stoi(environ["REMOTE_PORT"].get<std::string>()) > 0);
  CHECK(environ["HTTP_HOST"] == "example.com:8080");
  CHECK(environ["CONTENT_TYPE"] == "application/x-www-form-urlencoded");
  CHECK(environ["CONTENT_LENGTH"] == std::to_string(body.size()));
  CHECK_FALSE(environ.contains("HTTP_CONTENT_TYPE"));
  CHECK_FALSE(environ.contains("HTTP_CONTENT_LENGTH"));
  CHECK(environ["HTTP_X_REPEATED"] == "one,two");
  CHECK(environ["HTTP_COOKIE"] == "a=1; b=2");
  // A name with '_' would pass for X-Forwarded-For after the mapping: dropped.
  CHECK_FALSE(environ.contains("HTTP_X_FORWARDED_FOR"));
  CHECK(environ["body"] == body);
  CHECK(environ["wsgi.version"] == nlohmann::json::array({1, 0}));
  CHECK(environ["wsgi.url_scheme"] == "http");
  CHECK(environ["wsgi.multithread"] == true);  // Four threads by default.
  CHECK(environ["wsgi.multiprocess"] == false);
  CHECK(environ["wsgi.run_once"] == false);
  CHECK(environ["wsgi.input_terminated"] == true);
  CHECK(environ["SERVER_SOFTWARE"].get<std::string>().starts_with("kiln/"));

  SECTION("a chunked body arrives whole, with its decoded CONTENT_LENGTH (Django needs it)") {
    auto chunked = ask(client,
                       "PUT /environ HTTP/1.1\r\nHost: k\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    auto view = nlohmann::json::parse(chunked.body);
    CHECK(view["CONTENT_LENGTH"] == "11");
    CHECK(view["body"] == "hello world");
  }
  SECTION("no body, no CONTENT_LENGTH; HTTP/1.0 says so") {
    auto plain = ask(client, "GET /environ HTTP/1.0\r\n\r\n");
    auto view = nlohmann::json::parse(plain.body);
    CHECK_FALSE(view.contains("CONTENT_LENGTH"));
    CHECK(view["SERVER_PROTOCOL"] == "HTTP/1.0");
    CHECK(view["PATH_INFO"] == "/environ");
    CHECK(view["QUERY_STRING"] == "");
  }
  SECTION("an absolute-form target's authority is the host (RFC 9112, 3.2.2)") {
    auto absolute = ask(client,
                        "GET http://other.example:1337/environ?q HTTP/1.1\r\n"
                        "Host: ignored.example\r\n\r\n");
    auto view = nlohmann::json::parse(absolute.body);
    CHECK(view["HTTP_HOST"] == "other.example:1337");
    CHECK(view["PATH_INFO"] == "/environ");
    CHECK(view["QUERY_STRING"] == "q");
  }
  check_clean_log(kiln);
}

TEST_CASE("root_path is SCRIPT_NAME, taken off PATH_INFO", "[wsgi]") {
  kiln_process kiln(probe({"--root-path", "/shop"}));
  http_client client(kiln.port());
  auto under = nlohmann::json::parse(ask(client, get("/shop/environ")).body);
  CHECK(under["SCRIPT_NAME"] == "/shop");
  CHECK(under["PATH_INFO"] == "/environ");
  // A proxy that already took the prefix off: the path stays, SCRIPT_NAME still says it.
  auto stripped = nlohmann::json::parse(ask(client, get("/environ")).body);
  CHECK(stripped["SCRIPT_NAME"] == "/shop");
  CHECK(stripped["PATH_INFO"] == "/environ");
  check_clean_log(kiln);
}

TEST_CASE("wsgi.input reads, reads lines, and iterates", "[wsgi]") {
  kiln_process kiln(probe({"--worker-class", "sync"}));
  http_client client(kiln.port());
  std::string body = "abcdef\nline2\nline3\n";
  auto response = ask(client, "POST /input HTTP/1.1\r\nHost: k\r\nContent-Length: " +
                                  std::to_string(body.size()) + "\r\n\r\n" + body);
  auto read = nlohmann::json::parse(response.body);
  CHECK(read["first"] == "abc");
  CHECK(read["line"] == "def\n");
  CHECK(read["rest"] == nlohmann::json::array({"line2\n", "line3\n"}));
  CHECK(read["after"] == "");
  // One thread: the environ says so.
  auto environ = nlohmann::json::parse(ask(client, get("/environ")).body);
  CHECK(environ["wsgi.multithread"] == false);
  check_clean_log(kiln);
}

TEST_CASE("bodies: lists with their length, generators chunked or until close", "[wsgi]") {
  kiln_process kiln(probe());
  http_client client(kiln.port());
  SECTION("a list without Content-Length gets kiln's, and one write") {
    auto list = ask(client, get("/raw/list"));
    CHECK(list.header("Content-Length") == "7");
    CHECK_FALSE(list.header("Transfer-Encoding"));
    CHECK(list.body == "one two");
  }
  SECTION("a generator without Content-Length is chunked on HTTP/1.1") {
    auto generated = ask(client, get("/generator?n=3&size=4"));
    CHECK(generated.header("Transfer-Encoding") == "chunked");
    CHECK_FALSE(generated.header("Content-Length"));
    CHECK(generated.body == "AAAABBBBCCCC");
    CHECK(generated.keep_alive);
  }
  SECTION("a generator with Content-Length is sent as it is") {
    auto counted = ask(client, get("/generator-length"));
    CHECK(counted.header("Content-Length") == "12");
    CHECK(counted.body == "abcdefghijkl");
  }
  SECTION("HTTP/1.0 has no chunks: the body ends with the connection") {
    REQUIRE(client.send("GET /generator?n=2&size=5 HTTP/1.0\r\n\r\n"));
    std::string raw = client.read_until_closed();
    CHECK(raw.starts_with("HTTP/1.1 200 OK\r\n"));
    CHECK(raw.find("Connection: close\r\n") != std::string::npos);
    CHECK(raw.find("Transfer-Encoding") == std::string::npos);
    CHECK(raw.ends_with("\r\n\r\nAAAAABBBBB"));
  }
  SECTION("start_response may wait for the first piece that is not empty") {
    auto lazy = ask(client, get("/raw/lazy"));
    CHECK(lazy.status == 201);
    CHECK(lazy.body == "made lazily\n");
  }
  SECTION("write() sends before the iterable") {
    auto written = ask(client, get("/write"));
    CHECK(written.body == "written, then returned\n");
  }
  SECTION("an app's reason phrase is kept") {
    REQUIRE(client.send(get("/custom-reason")));
    REQUIRE(client.wait_for_bytes(24));
    CHECK(client.unread().starts_with("HTTP/1.1 299 Quite Fine\r\n"));
  }
  check_clean_log(kiln);
}

TEST_CASE("HEAD, 204 and 304 have no body, whatever the app yields", "[wsgi]") {
  kiln_process kiln(probe());
  http_client client(kiln.port());
  auto head = ask(client, "HEAD /hello HTTP/1.1\r\nHost: k\r\n\r\n", true);
  CHECK(head.status == 200);
  CHECK(head.header("Content-Length") == "14");
  CHECK(head.body.empty());
  for (const char* status : {"204", "304"}) {
    INFO(status);
    REQUIRE(client.send(get(std::string("/status/") + status)));
    auto response = client.read_response();
    REQUIRE(response);
    CHECK(response->status == std::stoi(status));
    CHECK_FALSE(response->header("Content-Length"));
    CHECK_FALSE(response->header("Transfer-Encoding"));
  }
  // Nothing stray was left on the connection: the next response parses.
  REQUIRE(client.send(get("/hello")));
  auto next = client.read_response();
  REQUIRE(next);
  CHECK(next->body == "Hello, World!\n");
  CHECK(client.unread().empty());
  check_clean_log(kiln);
}

TEST_CASE("a Content-Length the body does not keep never leaves a client waiting", "[wsgi]") {
  kiln_process kiln(probe());
  SECTION("fewer bytes than promised: the connection closes after them") {
    http_client client(kiln.port());
    REQUIRE(client.send(get("/short-length")));
    std::string raw = client.read_until_closed();
    CHECK(raw.find("Content-Length: 10\r\n") != std::string::npos);
    CHECK(raw.ends_with("\r\n\r\n12345"));
    CHECK(
        kiln.wait_for_output("GET /short-length: the app sent 5 bytes less than its "
                             "Content-Length; closing the connection"));
  }
  SECTION("more bytes than promised: the rest is dropped, and the connection lives on") {
    http_client client(kiln.port());
    auto long_body = ask(client, get("/long-length"));
    CHECK(long_body.body == "123");
    CHECK(ask(client, get("/hello")).body == "Hello, World!\n");
  }
}

TEST_CASE("exc_info replaces the head until it is sent, and is raised after", "[wsgi]") {
  kiln_process kiln(probe());
  http_client client(kiln.port());
  auto replaced = ask(client, get("/exc-info"));
  CHECK(replaced.status == 503);
  CHECK(replaced.header("Retry-After") == "7");
  CHECK(replaced.body == "try later\n");

  http_client late(kiln.port());
  REQUIRE(late.send(get("/exc-info-too-late")));
  std::string raw = late.read_until_closed();
  CHECK(raw.starts_with("HTTP/1.1 200 OK\r\n"));
  // The head went out: the only way to say "not all of it" is a body cut short.
  CHECK(raw.find("half of it\n") != std::string::npos);
  CHECK(raw.find("never sent") == std::string::npos);
  CHECK_FALSE(raw.ends_with("0\r\n\r\n"));
  CHECK(kiln.wait_for_output("ValueError: failed after the head went out"));
}

TEST_CASE("an exception is a 500 and a traceback, and the worker serves on", "[wsgi]") {
  kiln_process kiln(probe());
  http_client client(kiln.port());
  auto before = ask(client, get("/hello"));
  auto workers = children_of(kiln.pid());
  REQUIRE(workers.size() == 1);
  auto failed = ask(client, get("/raise"));
  CHECK(failed.status == 500);
  CHECK(failed.body == "500 Internal Server Error\n");
  CHECK(
      kiln.wait_for_output("Error handling request GET /raise:\nTraceback (most recent call "
                           "last):\n"));
  CHECK(kiln.wait_for_output("RuntimeError: the app failed before answering"));
  CHECK(kiln.output().find("probe.py\", line") != std::string::npos);
  CHECK(ask(client, get("/hello")).status == 200);
  CHECK(children_of(kiln.pid()) == workers);

  SECTION("after the head, the connection is cut and close() still called") {
    auto closed_before = stats(kiln.port())["closed"].get<int>();
    http_client midway(kiln.port());
    REQUIRE(midway.send(get("/raise-midway")));
    std::string raw = midway.read_until_closed();
    CHECK(raw.find("first\n") != std::string::npos);
    CHECK(raw.find("third") == std::string::npos);
    CHECK_FALSE(raw.ends_with("0\r\n\r\n"));
    CHECK(kiln.wait_for_output("RuntimeError: the app failed midway"));
    CHECK(stats(kiln.port())["closed"].get<int>() == closed_before + 1);
  }
}

TEST_CASE("a status or headers that would make a bad response are a 500, named in the log",
          "[wsgi]") {
  kiln_process kiln(probe());
  http_client client(kiln.port());
  const std::pair<const char*, const char*> cases[] = {
      {"/raw/bad-status", "OK is not a final status line"},
      {"/raw/interim-status", "100 Continue is not a final status line"},
      {"/raw/bad-header-name", "header name 'Content Type' is not a token"},
      {"/raw/header-crlf", "the value of header X-Injected holds a control character"},
      {"/raw/hop-by-hop", "Connection is a hop-by-hop header, which a WSGI app must not send"},
      {"/raw/transfer-encoding",
       "Transfer-Encoding is a hop-by-hop header, which a WSGI app must not send"},
      {"/raw/not-bytes", "TypeError: the app's body must be bytes, not str"},
      {"/raw/no-start-response", "the app returned without calling start_response"},
      {"/raw/twice", "start_response was called a second time without exc_info"},
  };
  for (const auto& [path, logged] : cases) {
    INFO(path);
    auto response = ask(client, get(path));
    CHECK(response.status == 500);
    CHECK(response.header("X-Injected") == std::nullopt);
    CHECK(response.header("Set-Cookie") == std::nullopt);
    CHECK(kiln.wait_for_output(logged));
  }
}

TEST_CASE("wsgi.file_wrapper goes by sendfile from the file's position", "[wsgi]") {
  kiln_process kiln(probe());
  http_client client(kiln.port());
  auto whole = ask(client, get("/raw/file"));
  CHECK(whole.header("Content-Length") == "29");
  CHECK(whole.body == "line one\nline two\nline three\n");
  auto offset = ask(client, get("/raw/file?offset=9"));
  CHECK(offset.header("Content-Length") == "20");
  CHECK(offset.body == "line two\nline three\n");
  // The app's Content-Length is honoured.
  auto limited = ask(client, get("/raw/file?offset=9&length=4"));
  CHECK(limited.header("Content-Length") == "4");
  CHECK(limited.body == "line");
  auto head = ask(client, "HEAD /raw/file HTTP/1.1\r\nHost: k\r\n\r\n", true);
  CHECK(head.header("Content-Length") == "29");
  // A file-like without a descriptor is iterated instead.
  auto memory = ask(client, get("/raw/file-bytesio"));
  CHECK(memory.body == "from memory\n");
  CHECK(ask(client, get("/hello")).body == "Hello, World!\n");
}

TEST_CASE("wsgi.errors writes to the error log a line at a time", "[wsgi]") {
  kiln_process kiln(probe());
  http_client client(kiln.port());
  CHECK(ask(client, get("/errors")).body == "logged\n");
  CHECK(kiln.wait_for_output("[ERROR] a line for the error log\n"));
  CHECK(kiln.wait_for_output("[ERROR] and a second one\n"));
}

TEST_CASE("a stream goes at the client's pace: the app waits, kiln buffers little", "[wsgi]") {
  kiln_process kiln(probe());
  http_client slow(kiln.port());
  // 400 pieces of 256 KiB, 100 MiB in all, to a client that reads nothing for now.
  REQUIRE(slow.send(get("/big?n=400")));
  // The app makes pieces until what is on its way fills the socket and kiln's allowance; then
  // its thread waits. Wait until it has stopped making them.
  int made = 0;
  REQUIRE(eventually([&] {
    int now = stats(kiln.port())["chunks"].get<int>();
    bool settled = now > 0 && now == made;
    made = now;
    std::this_thread::sleep_for(200ms);
    return settled;
  }));
  INFO("pieces made while the client read nothing: " << made);
  CHECK(made < 80);  // 20 MiB at most: socket buffers and kiln's 256 KiB, not 100 MiB.
  // Then everything arrives, as it was made: 100 MiB in 400 chunks, and the last chunk.
  std::size_t framing = 400 * std::string("40000\r\n\r\n").size() + 5;
  REQUIRE(slow.wait_for_bytes(400u * 262144u + framing, 60s));
  // The head is there too: the last few bytes follow.
  CHECK(eventually([&] {
    slow.wait_for_bytes(slow.unread().size() + 1, 50ms);
    return slow.unread().ends_with("xxxx\r\n0\r\n\r\n");
  }));
  CHECK(stats(kiln.port())["chunks"].get<int>() == 400);
  CHECK(eventually([&] { return stats(kiln.port())["closed"].get<int>() == 1; }));
}

TEST_CASE("a client that leaves mid-stream: the app stops and close() is called", "[wsgi]") {
  kiln_process kiln(probe());
  {
    http_client leaving(kiln.port());
    REQUIRE(leaving.send(get("/big?n=400")));
    REQUIRE(leaving.wait_for_bytes(1024 * 1024));
  }  // Closed here, 1 MiB into 100.
  REQUIRE(eventually([&] { return stats(kiln.port())["closed"].get<int>() == 1; }));
  CHECK(stats(kiln.port())["chunks"].get<int>() < 400);
  check_clean_log(kiln);
}

TEST_CASE("a slow client costs a connection, never one of the app's threads", "[wsgi]") {
  // One thread: if a client that dribbles its body held it, nobody else would be answered.
  kiln_process kiln(probe({"--worker-class", "sync"}));
  http_client dribbling(kiln.port());
  REQUIRE(dribbling.send("POST /environ HTTP/1.1\r\nHost: k\r\nContent-Length: 10\r\n\r\nabc"));
  std::vector<std::unique_ptr<http_client>> others;
  for (int i = 0; i < 5; ++i) {
    others.push_back(std::make_unique<http_client>(kiln.port()));
    CHECK(ask(*others.back(), get("/hello")).body == "Hello, World!\n");
  }
  // The slow one is answered once its body is whole.
  REQUIRE(dribbling.send("defghij"));
  auto response = dribbling.read_response();
  REQUIRE(response);
  CHECK(nlohmann::json::parse(response->body)["body"] == "abcdefghij");
}

TEST_CASE("a slow reader of a whole answer holds no thread", "[wsgi]") {
  // One thread. An 8 MiB list is handed to the loop whole, so the thread is free at once, however
  // slowly the client reads. (A generator's pieces go at the client's pace: the thread waits
  // once 256 KiB are on their way, as the test above shows.)
  kiln_process kiln(probe({"--worker-class", "sync"}));
  http_client reader(kiln.port());
  REQUIRE(reader.send(get("/raw/big-list?size=8388608")));
  REQUIRE(reader.wait_for_bytes(64 * 1024));
  for (int i = 0; i < 5; ++i) {
    http_client other(kiln.port());
    CHECK(ask(other, get("/hello")).body == "Hello, World!\n");
  }
  auto whole = reader.read_response();
  REQUIRE(whole);
  CHECK(whole->body == std::string(8388608, 'y'));
}

TEST_CASE("the access log has the app's answers, and the request ID reaches the app", "[wsgi]") {
  temporary_directory directory("kiln-wsgi-access");
  std::string log = directory / "access.log";
  kiln_process kiln(probe({"--access-log", log, "--access-log-format", "%(r)s %(s)s %(b)s %(i)s"}));
  http_client client(kiln.port());
  auto hello = ask(client, get("/hello", "X-Request-ID: from-the-client\r\n"));
  CHECK(hello.header("X-Request-ID") == "from-the-client");
  auto streamed = ask(client, get("/generator?n=2&size=5"));
  CHECK(streamed.header("X-Request-ID").has_value());
  auto environ = nlohmann::json::parse(ask(client, get("/environ", "X-Request-ID: r2\r\n")).body);
  CHECK(environ["HTTP_X_REQUEST_ID"] == "r2");
  std::vector<std::string> lines;
  REQUIRE(eventually([&] {
    std::ifstream file(log);
    lines.clear();
    for (std::string line; std::getline(file, line);)
      lines.push_back(line);
    return lines.size() == 3;
  }));
  CHECK(lines[0] == "GET /hello HTTP/1.1 200 14 from-the-client");
  CHECK(lines[1].starts_with("GET /generator?n=2&size=5 HTTP/1.1 200 10 "));
  CHECK(lines[2].starts_with("GET /environ HTTP/1.1 200 "));
  CHECK(lines[2].ends_with(" r2"));
}

}  // namespace kiln::test
