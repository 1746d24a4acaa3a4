// The live status page on metrics_bind, from the real binary: its data as JSON, and the page as
// Debian's headless Chromium runs it (its DOM, and a screenshot kept in the build directory's
// test-output/ for people to look at).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "support/chromium.hpp"
#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/load_generator.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {}  // namespace

TEST_CASE("the status page shows the workers, the traffic and the restarts", "[status]") {
  require_chromium();
  temporary_directory root("kiln-status");
  root.write("index.html", "home\n");
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "2", "--static-root", root.path(),
                     "--metrics-bind", "127.0.0.1:0"});
  std::uint16_t port = kiln.metrics_port();
  std::set<pid_t> workers;
  REQUIRE(eventually([&] {
    auto children = children_of(kiln.pid());
    workers = {children.begin(), children.end()};
    return workers.size() == 2;
  }));
  for (int i = 0; i < 40; ++i)
    REQUIRE(fetch(kiln.port(), "/index.html").status == 200);

  // The data the page polls.
  nlohmann::json status;
  REQUIRE(eventually([&] {
    auto answer = fetch(port, "/status.json");
    if (answer.status != 200) return false;
    status = nlohmann::json::parse(answer.body);
    return status["requests"] == 40;
  }));
  REQUIRE(status["workers"].size() == 2);
  std::uint64_t answered = 0;
  for (const auto& worker : status["workers"]) {
    CHECK(workers.contains(worker["pid"].get<pid_t>()));
    CHECK(worker["state"] == "ready");
    answered += worker["requests"].get<std::uint64_t>();
  }
  CHECK(answered == 40);
  CHECK(status["worker_starts"] == 2);
  CHECK(status["exits"]["crash"] == 0);
  CHECK(status["durations"].size() == status["bounds"].size() + 1);

  // The page, with traffic while it watches, as Chromium runs it, once the master has taken a
  // few samples of its history (one a second) for the charts.
  load_generator traffic({.port = kiln.port(), .path = "/index.html", .connections = 2});
  REQUIRE(traffic.wait_for_more(100));
  REQUIRE(eventually([&] {
    status = nlohmann::json::parse(fetch(port, "/status.json").body);
    return status["history"].size() >= 4;
  }));
  const auto& history = status["history"];
  for (std::size_t i = 1; i < history.size(); ++i) {
    CHECK(history[i]["time"].get<double>() > history[i - 1]["time"].get<double>());
    CHECK(history[i]["requests"] >= history[i - 1]["requests"]);
  }
  CHECK(history.back()["requests"].get<std::uint64_t>() > 40);
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/status";
  std::string dom = dump_dom(url);
  INFO(dom);
  for (pid_t pid : workers)
    CHECK(dom.find("<tr data-pid=\"" + std::to_string(pid) + "\">") != std::string::npos);
  CHECK(std::regex_search(dom, std::regex(R"(id="worker-count">2<)")));
  CHECK(std::regex_search(dom, std::regex(R"(id="requests-total">[\d,]+<)")));
  // Requests per second and latency, drawn from the polls' differences.
  CHECK(std::regex_search(dom, std::regex(R"(<polyline class="series" data-name="all")")));
  CHECK(std::regex_search(dom, std::regex(R"(<polyline class="series" data-name="p99")")));
  CHECK(std::regex_search(dom, std::regex(R"(id="rate">[\d.]+<)")));
  CHECK(dom.find("<span data-cause=\"crash\">") != std::string::npos);

  // A screenshot, for people: a PNG of the page as a laptop shows it.
  std::filesystem::create_directories(KILN_TEST_OUTPUT);
  std::string png = std::string(KILN_TEST_OUTPUT) + "/status-page.png";
  std::filesystem::remove(png);
  screenshot(url, png, 1280, 900);
  std::string bytes = read_file(png);
  CHECK(bytes.starts_with("\x89PNG\r\n\x1a\n"));
  CHECK(bytes.size() > 20000);  // A page with tables and charts, not a blank one.
  WARN("status page screenshot: " << png);
  traffic.stop();
  CHECK(traffic.failed() == 0);
}

TEST_CASE("the status page is where status_path says, and only on metrics_bind", "[status]") {
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1", "--metrics-bind", "127.0.0.1:0",
                     "--status-path", "/ops/kiln"});
  std::uint16_t port = kiln.metrics_port();
  auto page = fetch(port, "/ops/kiln");
  CHECK(page.status == 200);
  CHECK(page.header("Content-Type") == "text/html; charset=utf-8");
  CHECK(page.body.find("<title>kiln status</title>") != std::string::npos);
  CHECK(fetch(port, "/ops/kiln.json").status == 200);
  CHECK(fetch(port, "/status").status == 404);
  CHECK(fetch(kiln.port(), "/ops/kiln").status == 404);
  auto bad = run({"--metrics-bind", "127.0.0.1:0", "--status-path", "status/"});
  CHECK(bad.status == exited_with(2));
  CHECK(bad.output ==
        "kiln: flag --status-path: status_path \"status/\" must start with '/', "
        "not end with one, and not be /metrics\n");
}

}  // namespace kiln::test
