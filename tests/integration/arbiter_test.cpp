// The master process: supervision, signals and zero-downtime changes, against the real binary
// with real clients under load.
#include <filesystem>
#include <fstream>
#include <set>
#include <signal.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/load_generator.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

std::vector<std::string> with_workers(int workers, std::vector<std::string> more = {}) {
  std::vector<std::string> arguments{"--bind", "127.0.0.1:0", "--workers", std::to_string(workers)};
  arguments.insert(arguments.end(), more.begin(), more.end());
  return arguments;
}

// Waits until the master has exactly count workers, and returns them.
std::set<pid_t> wait_for_workers(pid_t master, std::size_t count) {
  std::set<pid_t> workers;
  bool reached = eventually([&] {
    auto children = children_of(master);
    workers = std::set<pid_t>(children.begin(), children.end());
    return workers.size() == count;
  });
  INFO("workers: " << workers.size() << ", expected " << count);
  REQUIRE(reached);
  return workers;
}

// A directory with index.html, for load tests that want 200s; removed as the test process exits.
const std::string& site() {
  static const temporary_directory root("kiln-arbiter");
  [[maybe_unused]] static const bool written = (root.write("index.html", "ok\n"), true);
  return root.path();
}

void check_no_failures(const load_generator& load) {
  auto failures = load.failures();
  std::string listed;
  for (const auto& failure : failures)
    listed += "  " + failure + "\n";
  INFO("failures:\n" << listed);
  CHECK(load.failed() == 0);
  CHECK(load.succeeded() > 0);
}

}  // namespace

TEST_CASE("the master forks the configured workers and names every process", "[arbiter]") {
  kiln_process kiln(with_workers(3));
  auto workers = wait_for_workers(kiln.pid(), 3);
  CHECK(process_title(kiln.pid()) == "kiln: master");
  // A worker names itself right after fork: until then it still reads as the master.
  const std::set<std::string> expected{"kiln: worker 1", "kiln: worker 2", "kiln: worker 3"};
  std::set<std::string> titles;
  CHECK(eventually([&] {
    titles.clear();
    for (pid_t pid : workers)
      titles.insert(process_title(pid));
    return titles == expected;
  }));
  CHECK(titles == expected);
  CHECK(kiln.stop(SIGTERM) == exited_with(0));
}

TEST_CASE("WEB_CONCURRENCY sets the number of workers", "[arbiter]") {
  kiln_process kiln(
      {.arguments = {"--bind", "127.0.0.1:0"}, .environment = {{"WEB_CONCURRENCY", "3"}}});
  wait_for_workers(kiln.pid(), 3);
}

TEST_CASE("TTIN adds a worker and TTOU removes one", "[arbiter]") {
  kiln_process kiln(with_workers(2));
  auto before = wait_for_workers(kiln.pid(), 2);
  kiln.signal(SIGTTIN);
  auto grown = wait_for_workers(kiln.pid(), 3);
  kiln.signal(SIGTTOU);
  auto shrunk = wait_for_workers(kiln.pid(), 2);
  // TTOU retires the oldest worker.
  CHECK(shrunk != before);
  kiln.signal(SIGTTOU);
  wait_for_workers(kiln.pid(), 1);
  kiln.signal(SIGTTOU);  // Never below one.
  CHECK(kiln.wait_for_output("Number of workers: 1\n"));
  CHECK(children_of(kiln.pid()).size() == 1);
}

TEST_CASE("a worker killed with KILL is replaced within a second", "[arbiter]") {
  kiln_process kiln(with_workers(2));
  auto workers = wait_for_workers(kiln.pid(), 2);
  pid_t victim = *workers.begin();
  auto killed_at = std::chrono::steady_clock::now();
  REQUIRE(::kill(victim, SIGKILL) == 0);
  std::set<pid_t> now;
  REQUIRE(eventually([&] {
    auto children = children_of(kiln.pid());
    now = std::set<pid_t>(children.begin(), children.end());
    return now.size() == 2 && !now.contains(victim);
  }));
  CHECK(std::chrono::steady_clock::now() - killed_at < 1s);
  CHECK(kiln.wait_for_output("died unexpectedly: signal 9"));
  http_client client(kiln.port());
  REQUIRE(client.send(get("/")));
  CHECK(client.read_response());
}

TEST_CASE("a worker that stops beating is aborted after timeout and replaced", "[arbiter]") {
  kiln_process kiln(with_workers(2, {"--timeout", "1"}));
  auto workers = wait_for_workers(kiln.pid(), 2);
  pid_t victim = *workers.begin();
  REQUIRE(::kill(victim, SIGSTOP) == 0);
  CHECK(kiln.wait_for_output("WORKER TIMEOUT (pid:" + std::to_string(victim) + ")"));
  REQUIRE(eventually([&] {
    auto children = children_of(kiln.pid());
    return children.size() == 2 &&
           std::find(children.begin(), children.end(), victim) == children.end();
  }));
  CHECK_FALSE(process_alive(victim));
}

TEST_CASE("a worker stopped with TERM is replaced and the master lives on", "[arbiter]") {
  kiln_process kiln(with_workers(2));
  auto workers = wait_for_workers(kiln.pid(), 2);
  pid_t victim = *workers.begin();
  REQUIRE(::kill(victim, SIGTERM) == 0);
  REQUIRE(eventually([&] {
    auto children = children_of(kiln.pid());
    return children.size() == 2 &&
           std::find(children.begin(), children.end(), victim) == children.end();
  }));
  CHECK(kiln.running());
  http_client client(kiln.port());
  REQUIRE(client.send(get("/")));
  CHECK(client.read_response());
}

TEST_CASE("signals meant for the master leave a worker alone", "[arbiter]") {
  // `pkill -HUP kiln` matches "kiln: worker" too: workers ignore HUP, TTIN, TTOU and USR2.
  kiln_process kiln(with_workers(1));
  auto workers = wait_for_workers(kiln.pid(), 1);
  pid_t worker = *workers.begin();
  for (int number : {SIGHUP, SIGTTIN, SIGTTOU, SIGUSR2})
    REQUIRE(::kill(worker, number) == 0);
  http_client client(kiln.port());
  REQUIRE(client.send(get("/healthz")));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(process_alive(worker));
  CHECK(children_of(kiln.pid()) == std::vector<pid_t>{worker});
  CHECK(kiln.output().find("died unexpectedly") == std::string::npos);
}

TEST_CASE("workers exit when the master dies", "[arbiter]") {
  kiln_process kiln(with_workers(2));
  auto workers = wait_for_workers(kiln.pid(), 2);
  kiln.signal(SIGKILL);
  CHECK(kiln.wait() == killed_by(SIGKILL));
  for (pid_t worker : workers) {
    INFO("worker " << worker);
    CHECK(eventually([&] { return !process_alive(worker); }));
  }
}

TEST_CASE("HUP under load replaces every worker with no failed request", "[arbiter]") {
  kiln_process kiln(with_workers(2, {"--static-root", site()}));
  auto before = wait_for_workers(kiln.pid(), 2);
  load_generator load({.port = kiln.port(), .connections = 8});
  REQUIRE(load.wait_for_more(200));
  kiln.signal(SIGHUP);
  std::set<pid_t> after;
  REQUIRE(eventually([&] {
    auto children = children_of(kiln.pid());
    after = std::set<pid_t>(children.begin(), children.end());
    bool all_new =
        std::none_of(after.begin(), after.end(), [&](pid_t p) { return before.contains(p); });
    return after.size() == 2 && all_new;
  }));
  REQUIRE(load.wait_for_more(200));
  load.stop();
  check_no_failures(load);
}

TEST_CASE("HUP with one request per connection fails none either", "[arbiter]") {
  kiln_process kiln(with_workers(2, {"--static-root", site()}));
  wait_for_workers(kiln.pid(), 2);
  load_generator load({.port = kiln.port(), .connections = 8, .keep_alive = false});
  REQUIRE(load.wait_for_more(200));
  for (std::size_t i = 1; i <= 3; ++i) {
    kiln.signal(SIGHUP);
    REQUIRE(eventually([&] { return kiln.count_in_output("Reloaded the configuration") == i; }));
    REQUIRE(load.wait_for_more(200));
  }
  load.stop();
  check_no_failures(load);
}

TEST_CASE("HUP with a broken configuration keeps the old one running", "[arbiter]") {
  temporary_directory directory("kiln-arbiter");
  std::string file = directory / "kiln.toml";
  std::ofstream(file) << "workers = 2\nkeepalive = 9\n";
  kiln_process kiln({"-c", file, "--bind", "127.0.0.1:0"});
  auto workers = wait_for_workers(kiln.pid(), 2);
  std::ofstream(file) << "workers = 2\nkeep_alive = 9\n";
  kiln.signal(SIGHUP);
  CHECK(kiln.wait_for_output("Reload failed, still running the previous configuration: " + file +
                             ":2: 'keep_alive' is not a setting; did you mean 'keepalive'?"));
  auto children = children_of(kiln.pid());
  CHECK(std::set<pid_t>(children.begin(), children.end()) == workers);
  http_client client(kiln.port());
  REQUIRE(client.send(get("/")));
  CHECK(client.read_response());
  // A good file again: the reload goes through.
  std::ofstream(file) << "workers = 3\n";
  kiln.signal(SIGHUP);
  wait_for_workers(kiln.pid(), 3);
}

TEST_CASE("HUP whose workers cannot boot goes back to the old configuration", "[arbiter]") {
  if (geteuid() != 0) {
    SUCCEED("not root: a worker that cannot open its log needs a user to switch to");
    return;
  }
  temporary_directory directory("kiln-arbiter");
  std::string file = directory / "kiln.toml";
  std::ofstream(file) << "workers = 3\n";
  kiln_process kiln({"-c", file, "--bind", "127.0.0.1:0"});
  auto workers = wait_for_workers(kiln.pid(), 3);
  // Valid for the master (root may write there), fatal for every new worker (nobody may not).
  std::ofstream(file) << "workers = 3\nuser = \"nobody\"\naccess_log = \"" << directory.path()
                      << "/access.log\"\n";
  kiln.signal(SIGHUP);
  CHECK(kiln.wait_for_output("of the new configuration failed to boot: keeping the old one"));
  // The other new workers fail too, and must not stop kiln.
  REQUIRE(eventually([&] { return kiln.count_in_output("Worker failed to boot") == 3; }));
  REQUIRE(eventually([&] {
    auto children = children_of(kiln.pid());
    return std::set<pid_t>(children.begin(), children.end()) == workers;
  }));
  CHECK(kiln.running());
  CHECK(kiln.output().find("stopping kiln") == std::string::npos);
  http_client client(kiln.port());
  REQUIRE(client.send(get("/healthz")));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
  // A scaling signal after the rollback uses the old configuration's sockets and settings.
  kiln.signal(SIGTTIN);
  wait_for_workers(kiln.pid(), 4);
  CHECK(kiln.stop(SIGTERM) == exited_with(0));
}

TEST_CASE("TERM lets a slow download finish and the master exits 0", "[arbiter]") {
  temporary_directory root("kiln-arbiter");
  std::string big(4 * 1024 * 1024, 'x');
  root.write("big.bin", big);
  kiln_process kiln(with_workers(1, {"--static-root", root.path(), "--graceful-timeout", "20"}));
  wait_for_workers(kiln.pid(), 1);
  http_client client(kiln.port());
  REQUIRE(client.send(get("/big.bin")));
  // Take only a little, so that most of the response is still on its way at TERM.
  REQUIRE(eventually([&] {
    client.closed_by_server(10ms);
    return client.unread().size() > 1000;
  }));
  auto stopped_at = std::chrono::steady_clock::now();
  kiln.signal(SIGTERM);
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
  CHECK(response->body.size() == big.size());
  CHECK(kiln.wait() == exited_with(0));
  CHECK(std::chrono::steady_clock::now() - stopped_at < 20s);
}

TEST_CASE("connections queued in the backlog at TERM are answered", "[arbiter]") {
  kiln_process kiln(with_workers(1, {"--static-root", site()}));
  auto workers = wait_for_workers(kiln.pid(), 1);
  pid_t worker = *workers.begin();
  // A stopped worker accepts nothing: these connections wait in the kernel's queue.
  REQUIRE(::kill(worker, SIGSTOP) == 0);
  std::vector<std::unique_ptr<http_client>> queued;
  for (int i = 0; i < 5; ++i) {
    queued.push_back(std::make_unique<http_client>(kiln.port()));
    REQUIRE(queued.back()->send(get("/index.html")));
  }
  kiln.signal(SIGTERM);
  REQUIRE(kiln.wait_for_output("Handling signal: TERM"));
  REQUIRE(::kill(worker, SIGCONT) == 0);
  for (auto& client : queued) {
    auto response = client->read_response();
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->body == "ok\n");
    // Answered, then closed as the worker stops (whether the worker saw the connections or the
    // TERM first, once it runs again, is up to the kernel).
    CHECK(client->closed_by_server());
  }
  CHECK(kiln.wait() == exited_with(0));
}

TEST_CASE("INT stops the master and its workers at once", "[arbiter]") {
  kiln_process kiln(with_workers(2));
  auto workers = wait_for_workers(kiln.pid(), 2);
  http_client busy(kiln.port());
  REQUIRE(busy.send("GET / HTTP/1.1\r\nHost: x\r\n"));
  CHECK(kiln.stop(SIGINT) == exited_with(0));
  for (pid_t worker : workers)
    CHECK_FALSE(process_alive(worker));
  CHECK(busy.closed_by_server());
}

TEST_CASE("max_requests retires workers one at a time with no failed request", "[arbiter]") {
  kiln_process kiln(with_workers(
      2, {"--static-root", site(), "--max-requests", "100", "--max-requests-jitter", "20"}));
  wait_for_workers(kiln.pid(), 2);
  load_generator load({.port = kiln.port(), .connections = 6});
  REQUIRE(eventually([&] { return kiln.count_in_output("reached max_requests") >= 4; }));
  load.stop();
  check_no_failures(load);
}

TEST_CASE("a worker that cannot boot stops kiln instead of respawning", "[arbiter]") {
  temporary_directory root("kiln-arbiter");
  kiln_process kiln(with_workers(1, {"--static-root", root.path()}));
  auto workers = wait_for_workers(kiln.pid(), 1);
  // The static root disappears; the next worker cannot start.
  std::filesystem::remove_all(root.path());
  REQUIRE(::kill(*workers.begin(), SIGKILL) == 0);
  CHECK(kiln.wait() == exited_with(3));
  CHECK(kiln.output().find("Worker failed to boot") != std::string::npos);
  CHECK(kiln.output().find("failed to boot: stopping kiln") != std::string::npos);
}

TEST_CASE("workers that keep crashing are respawned with a back-off", "[arbiter]") {
  kiln_process kiln(with_workers(1));
  for (int i = 0; i < 7; ++i) {
    auto workers = wait_for_workers(kiln.pid(), 1);
    REQUIRE(::kill(*workers.begin(), SIGKILL) == 0);
    REQUIRE(eventually([&] {
      auto children = children_of(kiln.pid());
      return children.empty() || children.front() != *workers.begin();
    }));
  }
  CHECK(kiln.wait_for_output("before starting another"));
}

TEST_CASE("the pidfile holds the master's pid while it runs", "[arbiter]") {
  temporary_directory directory("kiln-arbiter");
  std::string pidfile = directory / "kiln.pid";
  kiln_process kiln(with_workers(1, {"--pid", pidfile}));
  std::ifstream file(pidfile);
  pid_t written = 0;
  REQUIRE(file >> written);
  CHECK(written == kiln.pid());
  CHECK(kiln.stop(SIGTERM) == exited_with(0));
  CHECK_FALSE(std::filesystem::exists(pidfile));
}

TEST_CASE("USR2 starts a new master on the same sockets with no failed request", "[arbiter]") {
  temporary_directory directory("kiln-arbiter");
  std::string pidfile = directory / "kiln.pid";
  kiln_process kiln(with_workers(2, {"--static-root", site(), "--pid", pidfile}));
  wait_for_workers(kiln.pid(), 2);
  load_generator load({.port = kiln.port(), .connections = 6});
  REQUIRE(load.wait_for_more(200));

  upgraded_master upgraded(kiln, pidfile);
  pid_t new_master = upgraded.pid();
  CHECK(process_title(new_master) == "kiln: master");
  wait_for_workers(new_master, 2);
  REQUIRE(load.wait_for_more(200));

  kiln.signal(SIGTERM);
  CHECK(kiln.wait() == exited_with(0));
  REQUIRE(load.wait_for_more(200));
  load.stop();
  check_no_failures(load);

  // The new master serves on the same port, and stops like any other.
  http_client client(kiln.port());
  REQUIRE(client.send(get("/index.html")));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 200);
  REQUIRE(::kill(new_master, SIGTERM) == 0);
  CHECK(eventually([&] { return !process_alive(new_master); }));
}

TEST_CASE("sockets handed over by systemd (LISTEN_FDS) are served", "[arbiter]") {
  std::uint16_t port = 0;
  int fd = listening_socket(&port);
  kiln_process kiln({.arguments = {"--workers", "1"}, .listen_fds = {fd}});
  close(fd);
  CHECK(kiln.port() == port);
  http_client client(kiln.port());
  REQUIRE(client.send(get("/")));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 404);
}

TEST_CASE("kiln listens on a unix socket", "[arbiter]") {
  temporary_directory directory("kiln-arbiter");
  std::string path = directory / "kiln.sock";
  kiln_process kiln(
      {.arguments = {"--bind", "unix:" + path, "--workers", "1"}, .wait_until_listening = false});
  REQUIRE(kiln.wait_for_output("Listening at: unix:" + path));
  REQUIRE(kiln.wait_for_output("Booting worker"));
  http_client client(path);
  REQUIRE(client.send(get("/")));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 404);
  CHECK(kiln.stop(SIGTERM) == exited_with(0));
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("with reuse_port every worker has a socket of its own and gets connections",
          "[arbiter]") {
  kiln_process kiln(with_workers(2, {"--reuse-port"}));
  auto workers = wait_for_workers(kiln.pid(), 2);
  for (int i = 0; i < 200; ++i) {
    http_client client(kiln.port());
    REQUIRE(client.send(get("/", "Connection: close\r\n")));
    REQUIRE(client.read_response());
  }
  CHECK(kiln.stop(SIGTERM) == exited_with(0));
  // Each worker says how many requests it answered as it exits.
  for (pid_t worker : workers) {
    std::string prefix = "Worker exiting (pid: " + std::to_string(worker) + ") after ";
    std::string text = kiln.output();
    auto at = text.find(prefix);
    REQUIRE(at != std::string::npos);
    int answered = std::stoi(text.substr(at + prefix.size()));
    INFO("worker " << worker << " answered " << answered);
    CHECK(answered > 0);
  }
}

TEST_CASE("with reuse_port a second server on the same port is refused, not silently sharing",
          "[arbiter]") {
  kiln_process first(with_workers(2, {"--reuse-port"}));
  std::string address = "127.0.0.1:" + std::to_string(first.port());
  auto second = run({"--bind", address, "--workers", "2", "--reuse-port"});
  CHECK(second.status == exited_with(1));
  CHECK(second.output == "kiln: bind (another server may hold the port with SO_REUSEPORT) for " +
                             address + ": Address already in use\n");
  // What reuse_port does with a worker's queue depends on the kernel's setting: kiln says so.
  std::ifstream setting("/proc/sys/net/ipv4/tcp_migrate_req");
  int migrate = 0;
  setting >> migrate;
  bool warned =
      first.output().find("reuse_port: each worker has its own accept queue") != std::string::npos;
  CHECK(warned == (migrate != 1));
  http_client client(first.port());
  REQUIRE(client.send(get("/")));
  CHECK(client.read_response());
}

TEST_CASE("workers run as --user when kiln starts as root", "[arbiter]") {
  if (geteuid() != 0) {
    SUCCEED("not root: nothing to drop");
    return;
  }
  kiln_process kiln(with_workers(1, {"--user", "nobody", "--group", "nogroup"}));
  auto workers = wait_for_workers(kiln.pid(), 1);
  // The worker switches users right after fork: look until it has.
  std::string uid_line;
  CHECK(eventually([&] {
    std::ifstream status("/proc/" + std::to_string(*workers.begin()) + "/status");
    for (std::string line; std::getline(status, line);) {
      if (line.starts_with("Uid:")) uid_line = line;
    }
    return uid_line.find("65534") != std::string::npos;
  }));
  INFO(uid_line);
  // The master stays root, to bind and to reload.
  CHECK(geteuid() == 0);
  http_client client(kiln.port());
  REQUIRE(client.send(get("/")));
  CHECK(client.read_response());
}

}  // namespace kiln::test
