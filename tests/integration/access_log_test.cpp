// The access log and request IDs, from the real binary.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sstream>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {}  // namespace

TEST_CASE("each request is one JSON line; health checks are left out", "[access_log]") {
  temporary_directory directory("kiln-access");
  std::string log = directory / "access.json";
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1", "--access-log", log,
                     "--access-log-format", "json"});
  http_client client(kiln.port());
  REQUIRE(client.send(
      get("/nothing?x=1", "User-Agent: a\"b\r\nReferer: r\r\nX-Request-ID: req-42\r\n") +
      get("/healthz") + get("/readyz") + get("/other")));
  for (int i = 0; i < 4; ++i)
    REQUIRE(client.read_response());
  REQUIRE(eventually([&] { return lines_of(log).size() == 2; }));
  auto first = nlohmann::json::parse(lines_of(log)[0]);
  CHECK(first["path"] == "/nothing");
  CHECK(first["query"] == "x=1");
  CHECK(first["status"] == 404);
  CHECK(first["user_agent"] == "a\"b");
  CHECK(first["referer"] == "r");
  CHECK(first["request_id"] == "req-42");
  auto second = nlohmann::json::parse(lines_of(log)[1]);
  CHECK(second["path"] == "/other");
  CHECK(second["request_id"].get<std::string>().size() == 32);
}

TEST_CASE("with log_health_checks the probes are logged too", "[access_log]") {
  temporary_directory directory("kiln-access");
  std::string log = directory / "access.log";
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1", "--access-log", log,
                     "--access-log-format", "%(U)s %(s)s", "--log-health-checks"});
  http_client client(kiln.port());
  REQUIRE(client.send(get("/healthz")));
  REQUIRE(client.read_response());
  REQUIRE(eventually([&] { return lines_of(log) == std::vector<std::string>{"/healthz 200"}; }));
}

TEST_CASE("the request ID is passed through or made, and echoed", "[access_log]") {
  temporary_directory directory("kiln-access");
  std::string log = directory / "access.log";
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1", "--access-log", log,
                     "--access-log-format", "%(i)s %({x-request-id}o)s"});
  http_client client(kiln.port());
  REQUIRE(client.send(get("/a", "X-Request-ID: abc-123\r\n")));
  auto given = client.read_response();
  REQUIRE(given);
  CHECK(given->header("X-Request-ID") == "abc-123");
  REQUIRE(client.send(get("/b", "X-Request-ID: has space\r\n")));
  auto made = client.read_response();
  REQUIRE(made);
  std::string id = made->header("X-Request-ID").value_or("");
  CHECK(id.size() == 32);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  REQUIRE(eventually([&] { return lines_of(log).size() == 2; }));
  CHECK(lines_of(log)[0] == "abc-123 abc-123");
  CHECK(lines_of(log)[1] == id + " " + id);
}

TEST_CASE("without an access log there are no request IDs", "[access_log]") {
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1"});
  http_client client(kiln.port());
  REQUIRE(client.send(get("/", "X-Request-ID: abc\r\n")));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK_FALSE(response->header("X-Request-ID"));
}

TEST_CASE("every request that arrived is logged: refused ones and ones cut short too",
          "[access_log]") {
  temporary_directory directory("kiln-access");
  std::string log = directory / "access.log";
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1", "--access-log", log,
                     "--access-log-format", "%(h)s \"%(r)s\" %(s)s", "--header-timeout", "1",
                     "--limit-request-line", "64", "--limit-request-body", "10",
                     "--limit-request-fields", "4"});
  auto answered = [&](const std::string& bytes) {
    http_client client(kiln.port());
    REQUIRE(client.send(bytes));
    auto response = client.read_response();
    REQUIRE(response);
    return response->status;
  };
  // Malformed (400), a target over the limit (414), a body over it (413), too many fields (431).
  CHECK(answered("GET /bad HTTP/1.1\r\nHost: a\r\nNo colon here\r\n\r\n") == 400);
  CHECK(answered("GET /" + std::string(100, 'x') + " HTTP/1.1\r\nHost: a\r\n\r\n") == 414);
  CHECK(answered("POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n") == 413);
  CHECK(answered("GET /many HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n") == 431);
  // A head that stops coming (408 after header_timeout).
  CHECK(answered("GET /slow HTTP/1.1\r\nHost: a\r\n") == 408);
  // A client that leaves in the middle of its head, and one in the middle of its body.
  {
    http_client leaving(kiln.port());
    REQUIRE(leaving.send("GET /gone HTTP/1.1\r\nHost:"));
  }
  {
    http_client leaving(kiln.port());
    REQUIRE(leaving.send("PUT /half HTTP/1.1\r\nHost: a\r\nContent-Length: 8\r\n\r\nabc"));
    REQUIRE(eventually([&] { return lines_of(log).size() >= 6; }));
  }
  REQUIRE(eventually([&] { return lines_of(log).size() == 7; }));
  auto lines = lines_of(log);
  // The target as far as it was read when it went over the limit.
  CHECK(lines[1].starts_with("127.0.0.1 \"GET /xxxxxxxxxxxxxxxx"));
  CHECK(lines[1].ends_with(" 414"));
  lines[1] = "(the 414)";
  std::vector<std::string> expected = {
      "127.0.0.1 \"GET /bad HTTP/1.1\" 400",  "(the 414)",
      "127.0.0.1 \"POST /big HTTP/1.1\" 413", "127.0.0.1 \"GET /many HTTP/1.1\" 431",
      "127.0.0.1 \"GET /slow HTTP/1.1\" 408", "127.0.0.1 \"GET /gone HTTP/1.1\" 499",
      "127.0.0.1 \"PUT /half HTTP/1.1\" 499",
  };
  CHECK(lines == expected);
  // A connection that sent nothing is no request.
  { http_client silent(kiln.port()); }
  CHECK(fetch(kiln.port(), "/after").status == 404);
  REQUIRE(eventually([&] { return lines_of(log).size() == 8; }));
  CHECK(lines_of(log).back() == "127.0.0.1 \"GET /after HTTP/1.1\" 404");
}

TEST_CASE("USR1 reopens the log files after logrotate moved them", "[access_log]") {
  temporary_directory directory("kiln-access");
  std::string access = directory / "access.log";
  std::string errors = directory / "error.log";
  kiln_process kiln({.arguments = {"--bind", "127.0.0.1:0", "--workers", "1", "--access-log",
                                   access, "--access-log-format", "%(U)s", "--error-log", errors},
                     .wait_until_listening = false});
  REQUIRE(eventually([&] {
    std::ifstream file(errors);
    std::stringstream text;
    text << file.rdbuf();
    return text.str().find("Booting worker") != std::string::npos;
  }));
  std::string text;
  {
    std::ifstream file(errors);
    std::stringstream all;
    all << file.rdbuf();
    text = all.str();
  }
  auto at = text.find("Listening at: http://127.0.0.1:");
  REQUIRE(at != std::string::npos);
  auto port = static_cast<std::uint16_t>(std::stoi(text.substr(at + 31)));
  {
    http_client client(port);
    REQUIRE(client.send(get("/before")));
    REQUIRE(client.read_response());
  }
  REQUIRE(eventually([&] { return lines_of(access) == std::vector<std::string>{"/before"}; }));
  std::filesystem::rename(access, access + ".1");
  std::filesystem::rename(errors, errors + ".1");
  kiln.signal(SIGUSR1);
  // The master reopens its error log, and logs the signal in the new file.
  REQUIRE(eventually([&] { return std::filesystem::exists(errors); }));
  REQUIRE(eventually([&] { return std::filesystem::exists(access); }));
  {
    http_client client(port);
    REQUIRE(client.send(get("/after")));
    REQUIRE(client.read_response());
  }
  CHECK(eventually([&] { return lines_of(access) == std::vector<std::string>{"/after"}; }));
  CHECK(lines_of(access + ".1") == std::vector<std::string>{"/before"});
  CHECK(kiln.stop(SIGTERM) == exited_with(0));
}

TEST_CASE("a log file that cannot be opened is a configuration error", "[access_log]") {
  kiln_process kiln({.arguments = {"--access-log", "/nonexistent/dir/access.log"},
                     .wait_until_listening = false});
  CHECK(kiln.wait() == exited_with(2));
  CHECK(kiln.output() ==
        "kiln: flag --access-log: access_log \"/nonexistent/dir/access.log\" cannot be opened: No "
        "such file or directory\n");
}

}  // namespace kiln::test
