// Prometheus metrics on metrics_bind, from the real binary, read with Prometheus's own Python
// parser (Debian's python3-prometheus-client): the counts add up after a known load, survive
// the workers that made them, and say why workers exited.
#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <signal.h>
#include <string>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/load_generator.hpp"
#include "support/shell.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

// One sample: its name and labels as "name{a=x,b=y}" (labels sorted), and its value.
using samples = std::map<std::string, double>;

// Parses a scrape with prometheus_client's parser, which refuses what Prometheus would.
samples parse(const std::string& text) {
  temporary_file scrape(text);
  std::string command =
      "/usr/bin/python3 -c 'import json, sys\n"
      "from prometheus_client.parser import text_string_to_metric_families\n"
      "out = {}\n"
      "for family in text_string_to_metric_families(open(sys.argv[1]).read()):\n"
      "    for s in family.samples:\n"
      "        labels = \",\".join(f\"{k}={v}\" for k, v in sorted(s.labels.items()))\n"
      "        out[s.name + (\"{\" + labels + \"}\" if labels else \"\")] = s.value\n"
      "print(json.dumps(out))' " +
      scrape.path();
  auto parsed = shell(command);
  INFO(parsed.output);
  REQUIRE(parsed.status == 0);
  return nlohmann::json::parse(parsed.output).get<samples>();
}

samples scrape(std::uint16_t port) {
  auto response = fetch(port, "/metrics");
  REQUIRE(response.status == 200);
  CHECK(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  return parse(response.body);
}

double total_requests(const samples& sampled) {
  double sum = 0;
  for (const auto& [name, value] : sampled) {
    if (name.starts_with("kiln_http_requests_total{")) sum += value;
  }
  return sum;
}

std::set<pid_t> workers_of(pid_t master) {
  auto children = children_of(master);
  return {children.begin(), children.end()};
}

}  // namespace

TEST_CASE("the metrics add up after a known load, and outlive the workers that counted them",
          "[metrics]") {
  temporary_directory root("kiln-metrics");
  root.write("a.txt", "twelve bytes");
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "2", "--static-root", root.path(),
                     "--metrics-bind", "127.0.0.1:0"});
  std::uint16_t port = kiln.metrics_port();
  REQUIRE(eventually([&] { return workers_of(kiln.pid()).size() == 2; }));

  // 20 files, 5 misses, 3 health checks, one malformed request.
  std::uint64_t body_bytes = 0;
  for (int i = 0; i < 20; ++i)
    body_bytes += fetch(kiln.port(), "/a.txt").body.size();
  for (int i = 0; i < 5; ++i)
    body_bytes += fetch(kiln.port(), "/missing").body.size();
  for (int i = 0; i < 3; ++i)
    body_bytes += fetch(kiln.port(), "/healthz").body.size();
  {
    http_client bad(kiln.port());
    REQUIRE(bad.send("GET / HTTP/1.1\r\nNo colon\r\n\r\n"));
    auto refused = bad.read_response();
    REQUIRE(refused);
    CHECK(refused->status == 400);
    body_bytes += refused->body.size();
  }
  // A request is counted once its response is out: wait for the last.
  samples sampled;
  REQUIRE(eventually([&] {
    sampled = scrape(port);
    return total_requests(sampled) == 29;
  }));
  CHECK(sampled["kiln_http_requests_total{code=2xx,handler=static}"] == 20);
  CHECK(sampled["kiln_http_requests_total{code=4xx,handler=static}"] == 5);
  CHECK(sampled["kiln_http_requests_total{code=2xx,handler=health}"] == 3);
  CHECK(sampled["kiln_http_requests_total{code=4xx,handler=kiln}"] == 1);
  CHECK(sampled["kiln_http_request_duration_seconds_count"] == 29);
  CHECK(sampled["kiln_http_request_duration_seconds_bucket{le=+Inf}"] == 29);
  CHECK(sampled["kiln_http_request_duration_seconds_bucket{le=0.001}"] <=
        sampled["kiln_http_request_duration_seconds_bucket{le=10}"]);
  CHECK(sampled["kiln_http_response_body_bytes_total"] == static_cast<double>(body_bytes));
  CHECK(sampled["kiln_http_received_bytes_total"] > 29 * 16);
  CHECK(sampled["kiln_workers{state=ready}"] == 2);
  CHECK(sampled["kiln_worker_starts_total"] == 2);
  CHECK(sampled["kiln_build_info{python=" + std::string(KILN_PYTHON_VERSION) +
                ",version=" + std::string(KILN_VERSION) + "}"] == 1);
  CHECK(
      sampled["kiln_listen_queue_limit{listener=127.0.0.1:" + std::to_string(kiln.port()) + "}"] ==
      2048);
  CHECK(sampled.contains(
      "kiln_listen_queue_length{listener=127.0.0.1:" + std::to_string(kiln.port()) + "}"));
  // Scrapes are not requests of the site, and the metrics are not on the site's port.
  CHECK(total_requests(scrape(port)) == 29);
  CHECK(fetch(port, "/other").status == 404);
  CHECK(fetch(kiln.port(), "/metrics").status == 404);
  REQUIRE(eventually([&] { return total_requests(scrape(port)) == 30; }));

  SECTION("a worker that exits leaves its counts, and the reason it went") {
    auto before = workers_of(kiln.pid());
    kiln.signal(SIGHUP);
    REQUIRE(eventually([&] {
      auto now = workers_of(kiln.pid());
      return now.size() == 2 &&
             std::none_of(now.begin(), now.end(), [&](pid_t pid) { return before.contains(pid); });
    }));
    REQUIRE(eventually([&] { return scrape(port)["kiln_worker_exits_total{cause=reload}"] == 2; }));
    kiln.signal(SIGTTOU);
    REQUIRE(eventually([&] {
      sampled = scrape(port);
      return sampled["kiln_worker_exits_total{cause=scale_down}"] == 1;
    }));
    CHECK(sampled["kiln_worker_exits_total{cause=reload}"] == 2);
    CHECK(sampled["kiln_worker_exits_total{cause=crash}"] == 0);
    CHECK(sampled["kiln_worker_starts_total"] == 4);
    // Every request, though the workers that answered them are gone.
    CHECK(total_requests(sampled) == 30);
    CHECK(sampled["kiln_http_requests_total{code=2xx,handler=static}"] == 20);
  }
  SECTION("a worker killed is a crash") {
    pid_t victim = *workers_of(kiln.pid()).begin();
    ::kill(victim, SIGKILL);
    REQUIRE(eventually([&] { return scrape(port)["kiln_worker_exits_total{cause=crash}"] == 1; }));
    REQUIRE(eventually([&] { return scrape(port)["kiln_worker_starts_total"] == 3; }));
  }
  SECTION("an idle keep-alive connection is a gauge") {
    http_client idle(kiln.port());
    REQUIRE(idle.send(get("/a.txt")));
    REQUIRE(idle.read_response());
    REQUIRE(eventually([&] {
      auto now = scrape(port);
      return now["kiln_connections_open"] >= 1 && now["kiln_connections_idle"] >= 1;
    }));
  }
}

TEST_CASE("after USR2 the new master serves the metrics on the same address", "[metrics]") {
  temporary_directory directory("kiln-metrics");
  std::string pidfile = directory / "kiln.pid";
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1", "--metrics-bind", "127.0.0.1:0",
                     "--pid", pidfile});
  std::uint16_t port = kiln.metrics_port();
  CHECK(fetch(kiln.port(), "/healthz").status == 200);
  REQUIRE(eventually([&] { return total_requests(scrape(port)) == 1; }));
  upgraded_master upgraded(kiln, pidfile);
  REQUIRE(eventually([&] { return children_of(upgraded.pid()).size() == 1; }));
  kiln.signal(SIGTERM);
  CHECK(kiln.wait() == exited_with(0));
  // The new master's board starts from nothing, as a restarted process's counters do.
  auto sampled = scrape(port);
  CHECK(sampled["kiln_worker_starts_total"] == 1);
  CHECK(total_requests(sampled) == 0);
  CHECK(fetch(kiln.port(), "/healthz").status == 200);
  REQUIRE(eventually([&] { return total_requests(scrape(port)) == 1; }));
  REQUIRE(::kill(upgraded.pid(), SIGTERM) == 0);
  CHECK(eventually([&] { return !process_alive(upgraded.pid()); }));
}

TEST_CASE("metrics_bind is off by default, and never the site's own address", "[metrics]") {
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1"});
  CHECK(kiln.output().find("Serving metrics") == std::string::npos);
  auto same = run({"--bind", "127.0.0.1:8123", "--metrics-bind", "127.0.0.1:8123"});
  CHECK(same.status == exited_with(2));
  CHECK(same.output ==
        "kiln: flag --metrics-bind: metrics_bind "
        "\"127.0.0.1:8123\" is also a bind: metrics need an address of their "
        "own\n");
  auto unix_socket = run({"--metrics-bind", "unix:/tmp/kiln-metrics.sock"});
  CHECK(unix_socket.status == exited_with(2));
  CHECK(unix_socket.output.find("metrics_bind \"unix:/tmp/kiln-metrics.sock\" must be HOST:PORT") !=
        std::string::npos);
}

}  // namespace kiln::test
