// The error log from the real binary: gunicorn's lines, or JSON lines for log pipelines.
#include <nlohmann/json.hpp>
#include <regex>
#include <signal.h>
#include <sstream>
#include <string>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"

namespace kiln::test {
namespace {

std::vector<std::string> lines_in(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);)
    lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("the error log is gunicorn's shape, the time zone written as gunicorn writes it",
          "[log]") {
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1"});
  CHECK(kiln.stop(SIGTERM) == exited_with(0));
  auto lines = lines_in(kiln.output());
  REQUIRE_FALSE(lines.empty());
  std::string pid = std::to_string(kiln.pid());
  // "[2026-11-26 16:07:08 +0000] [4242] [INFO] Starting kiln 0.1.0 (master pid: 4242)", as
  // Python's %z writes the zone: no colon.
  std::regex shape(R"(\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[)" + pid +
                   R"(\] \[INFO\] Starting kiln .* \(master pid: )" + pid + R"(\))");
  CHECK(std::regex_match(lines.front(), shape));
  bool listening = false;
  for (const auto& line : lines) {
    if (line.find("[INFO] Listening at: http://127.0.0.1:" + std::to_string(kiln.port())) !=
        std::string::npos) {
      listening = true;
    }
  }
  CHECK(listening);
}

TEST_CASE("error_log_format = json: an object per line, from the master and the workers", "[log]") {
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1", "--error-log-format", "json",
                     "--log-level", "debug"});
  http_client client(kiln.port());
  REQUIRE(client.send("GET / HTTP/1.1\r\nHost: a\r\nNo colon\r\n\r\n"));  // A worker logs it.
  REQUIRE(client.read_response());
  CHECK(kiln.stop(SIGTERM) == exited_with(0));
  auto lines = lines_in(kiln.output());
  REQUIRE(lines.size() > 3);
  bool master_said = false;
  bool worker_said = false;
  for (const auto& line : lines) {
    INFO(line);
    auto record = nlohmann::json::parse(line);
    CHECK(record.size() == 4);
    CHECK(std::regex_match(record["time"].get<std::string>(),
                           std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
    CHECK(std::regex_match(record["level"].get<std::string>(),
                           std::regex("DEBUG|INFO|WARNING|ERROR|CRITICAL")));
    auto message = record["message"].get<std::string>();
    if (record["pid"] == kiln.pid() && message.starts_with("Listening at: http://127.0.0.1:")) {
      master_said = true;
    }
    if (record["pid"] != kiln.pid() && message.starts_with("rejecting a request with 400")) {
      worker_said = true;
    }
  }
  CHECK(master_said);
  CHECK(worker_said);
}

}  // namespace kiln::test
