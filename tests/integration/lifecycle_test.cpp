// No request fails because of the server's own lifecycle: HUP, TTOU, max_requests recycling,
// USR2 followed by TERM to the old master, and TERM, each under keep-alive load and under
// connection churn, counted by a client that retries nothing (as wrk counts).
#include <cstdio>
#include <netinet/in.h>
#include <set>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/load_generator.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

enum class traffic { keep_alive, churn };

const char* name_of(traffic kind) {
  return kind == traffic::keep_alive ? "keep-alive" : "churn";
}

// A directory with a small file, for load that wants 200s.
const std::string& site() {
  static const temporary_directory root("kiln-lifecycle");
  [[maybe_unused]] static const bool written = (root.write("index.html", "ok\n"), true);
  return root.path();
}

std::vector<std::string> serving(int workers, std::vector<std::string> more = {}) {
  std::vector<std::string> arguments{
      "--bind", "127.0.0.1:0", "--workers", std::to_string(workers), "--static-root", site()};
  arguments.insert(arguments.end(), more.begin(), more.end());
  return arguments;
}

load_generator::options strict(std::uint16_t port, traffic kind, bool refusal_expected = false) {
  return {.port = port,
          .connections = 8,
          .keep_alive = kind == traffic::keep_alive,
          .strict = true,
          .refusal_expected = refusal_expected};
}

std::set<pid_t> workers_of(pid_t master) {
  auto children = children_of(master);
  return {children.begin(), children.end()};
}

// Waits until the master has all count workers it starts with.
std::set<pid_t> started_workers(pid_t master, std::size_t count) {
  std::set<pid_t> now;
  REQUIRE(eventually([&] {
    now = workers_of(master);
    return now.size() == count;
  }));
  return now;
}

// Waits until the master has count workers, none of them in old.
std::set<pid_t> wait_for_new_workers(pid_t master, std::size_t count, const std::set<pid_t>& old) {
  std::set<pid_t> now;
  REQUIRE(eventually([&] {
    now = workers_of(master);
    return now.size() == count &&
           std::none_of(now.begin(), now.end(), [&](pid_t pid) { return old.contains(pid); });
  }));
  return now;
}

// Stops the load and checks that nothing failed; says what was counted.
void check_nothing_failed(load_generator& load, const char* event, traffic kind) {
  load.stop();
  std::string listed;
  for (const auto& failure : load.failures())
    listed += "  " + failure + "\n";
  std::printf("%s under %s load: %llu answered, %llu failed, %llu refused after the stop\n", event,
              name_of(kind), static_cast<unsigned long long>(load.succeeded()),
              static_cast<unsigned long long>(load.failed()),
              static_cast<unsigned long long>(load.refused()));
  INFO(event << " under " << name_of(kind) << " load; failures:\n" << listed);
  CHECK(load.failed() == 0);
  CHECK(load.succeeded() > 0);
}

const traffic both[] = {traffic::keep_alive, traffic::churn};

}  // namespace

TEST_CASE("HUP fails no request", "[lifecycle]") {
  for (traffic kind : both) {
    kiln_process kiln(serving(2));
    auto before = started_workers(kiln.pid(), 2);
    load_generator load(strict(kiln.port(), kind));
    REQUIRE(load.wait_for_more(300));
    for (int round = 0; round < 2; ++round) {
      kiln.signal(SIGHUP);
      before = wait_for_new_workers(kiln.pid(), 2, before);
      REQUIRE(load.wait_for_more(300));
    }
    check_nothing_failed(load, "HUP", kind);
  }
}

TEST_CASE("TTOU fails no request", "[lifecycle]") {
  for (traffic kind : both) {
    kiln_process kiln(serving(3));
    REQUIRE(eventually([&] { return workers_of(kiln.pid()).size() == 3; }));
    load_generator load(strict(kiln.port(), kind));
    REQUIRE(load.wait_for_more(300));
    kiln.signal(SIGTTOU);
    REQUIRE(eventually([&] { return workers_of(kiln.pid()).size() == 2; }));
    REQUIRE(kiln.wait_for_output("Worker exited"));
    REQUIRE(load.wait_for_more(300));
    check_nothing_failed(load, "TTOU", kind);
  }
}

TEST_CASE("max_requests recycling fails no request", "[lifecycle]") {
  for (traffic kind : both) {
    kiln_process kiln(serving(2, {"--max-requests", "400", "--max-requests-jitter", "50"}));
    load_generator load(strict(kiln.port(), kind));
    REQUIRE(eventually([&] { return kiln.count_in_output("reached max_requests") >= 4; }));
    REQUIRE(load.wait_for_more(300));
    check_nothing_failed(load, "max_requests", kind);
  }
}

TEST_CASE("USR2 and then TERM to the old master fail no request", "[lifecycle]") {
  for (traffic kind : both) {
    temporary_directory directory("kiln-lifecycle");
    std::string pidfile = directory / "kiln.pid";
    kiln_process kiln(serving(2, {"--pid", pidfile}));
    load_generator load(strict(kiln.port(), kind));
    REQUIRE(load.wait_for_more(300));
    upgraded_master upgraded(kiln, pidfile);
    REQUIRE(eventually([&] { return workers_of(upgraded.pid()).size() == 2; }));
    REQUIRE(load.wait_for_more(300));
    kiln.signal(SIGTERM);
    CHECK(kiln.wait() == exited_with(0));
    REQUIRE(load.wait_for_more(300));
    check_nothing_failed(load, "USR2 then TERM", kind);
    // The new master serves on, and stops by itself on TERM.
    CHECK(fetch(kiln.port(), "/index.html").status == 200);
    REQUIRE(::kill(upgraded.pid(), SIGTERM) == 0);
    CHECK(eventually([&] { return !process_alive(upgraded.pid()); }));
  }
}

TEST_CASE("TERM answers every connection the kernel accepted, then refuses", "[lifecycle]") {
  for (traffic kind : both) {
    kiln_process kiln(serving(2));
    load_generator load(strict(kiln.port(), kind, true));
    REQUIRE(load.wait_for_more(300));
    kiln.signal(SIGTERM);
    CHECK(kiln.wait() == exited_with(0));
    REQUIRE(eventually([&] { return load.refused() > 0; }));
    check_nothing_failed(load, "TERM", kind);
  }
}

TEST_CASE("with reuse_port, HUP, TTOU and TERM fail no request either", "[lifecycle]") {
  for (traffic kind : both) {
    kiln_process kiln(serving(3, {"--reuse-port"}));
    auto before = started_workers(kiln.pid(), 3);
    load_generator load(strict(kiln.port(), kind, true));
    REQUIRE(load.wait_for_more(300));
    kiln.signal(SIGHUP);
    before = wait_for_new_workers(kiln.pid(), 3, before);
    REQUIRE(load.wait_for_more(300));
    kiln.signal(SIGTTOU);
    REQUIRE(eventually([&] { return workers_of(kiln.pid()).size() == 2; }));
    REQUIRE(load.wait_for_more(300));
    kiln.signal(SIGTERM);
    CHECK(kiln.wait() == exited_with(0));
    REQUIRE(eventually([&] { return load.refused() > 0; }));
    check_nothing_failed(load, "reuse_port: HUP, TTOU, TERM", kind);
  }
}

TEST_CASE("once kiln has stopped, or its master was killed, new clients are refused at once",
          "[lifecycle]") {
  auto refused = [](std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool result = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 &&
                  errno == ECONNREFUSED;
    ::close(fd);
    return result;
  };
  {
    kiln_process kiln(serving(2));
    std::uint16_t port = kiln.port();
    CHECK(kiln.stop(SIGTERM) == exited_with(0));
    CHECK(refused(port));
  }
  {
    // The workers notice their master is gone and stop; the last to let go closes the socket.
    kiln_process kiln(serving(2));
    std::uint16_t port = kiln.port();
    auto workers = started_workers(kiln.pid(), 2);
    CHECK(kiln.stop(SIGKILL) == killed_by(SIGKILL));
    for (pid_t worker : workers)
      CHECK(eventually([&] { return !process_alive(worker); }));
    CHECK(refused(port));
  }
}

}  // namespace kiln::test
