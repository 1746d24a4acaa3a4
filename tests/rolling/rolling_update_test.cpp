// A rolling update as Kubernetes does one, proven on loopback: three kiln instances behind
// Debian's nginx as the load balancer (an upstream with passive health checks, as an ingress
// controller configures it), replaced one at a time while clients keep sending. For each: it
// leaves the balancer's endpoints (nginx reloaded without it), it gets TERM (its readiness
// fails, it finishes what it accepted), a new instance starts, becomes ready and joins. No
// request may fail. Labelled rolling: ctest -L rolling.
#include <arpa/inet.h>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/load_generator.hpp"
#include "support/temporary.hpp"

extern char** environ;

namespace kiln::test {
namespace {

// A port nobody listens on now, for nginx, which cannot say which one it chose.
std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// Debian's nginx, balancing over the instances it is told of; reload() tells it anew, as an
// ingress controller does when a Service's endpoints change.
class balancer {
 public:
  explicit balancer(const std::vector<std::uint16_t>& upstreams) {
    write_config(upstreams);
    std::vector<std::string> arguments = {"/usr/sbin/nginx", "-p", directory_.path(),       "-c",
                                          config_path(),     "-e", directory_ / "error.log"};
    std::vector<char*> argv;
    for (auto& argument : arguments)
      argv.push_back(argument.data());
    argv.push_back(nullptr);
    REQUIRE(::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
    REQUIRE(eventually([&] { return listening(); }));
    CHECK(fetch(port_, "/readyz").status == 200);  // Through nginx, from an instance.
  }
  ~balancer() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGQUIT);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  balancer(const balancer&) = delete;
  balancer& operator=(const balancer&) = delete;

  std::uint16_t port() const noexcept { return port_; }

  // Rewrites the upstream and reloads; returns once nginx has started its new workers.
  void reload(const std::vector<std::uint16_t>& upstreams) {
    write_config(upstreams);
    auto before = children_of(pid_);
    REQUIRE(::kill(pid_, SIGHUP) == 0);
    REQUIRE(eventually([&] {
      for (pid_t child : children_of(pid_)) {
        if (std::find(before.begin(), before.end(), child) == before.end()) return true;
      }
      return false;
    }));
  }

 private:
  std::string config_path() const { return directory_ / "nginx.conf"; }
  // True once nginx listens: a plain connect, which may fail while it starts.
  bool listening() const {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port_);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return connected;
  }
  void write_config(const std::vector<std::uint16_t>& upstreams) {
    std::string servers;
    for (auto upstream : upstreams) {
      servers +=
          "    server 127.0.0.1:" + std::to_string(upstream) + " max_fails=1 fail_timeout=2s;\n";
    }
    std::ofstream(config_path()) << "daemon off;\n"
                                    "worker_processes 1;\n"
                                    "pid nginx.pid;\n"
                                    "events { worker_connections 1024; }\n"
                                    "http {\n"
                                    "  access_log off;\n"
                                    "  client_body_temp_path body; proxy_temp_path proxy;\n"
                                    "  fastcgi_temp_path fastcgi; uwsgi_temp_path uwsgi;\n"
                                    "  scgi_temp_path scgi;\n"
                                    "  upstream kiln {\n"
                                 << servers
                                 << "    keepalive 32;\n"
                                    "  }\n"
                                    "  server {\n"
                                    "    listen 127.0.0.1:"
                                 << port_
                                 << ";\n"
                                    "    location / {\n"
                                    "      proxy_pass http://kiln;\n"
                                    "      proxy_http_version 1.1;\n"
                                    "      proxy_set_header Connection \"\";\n"
                                    "      proxy_next_upstream error timeout http_502 http_503;\n"
                                    "    }\n"
                                    "  }\n"
                                    "}\n";
  }

  temporary_directory directory_{"kiln-rolling"};
  std::uint16_t port_ = free_port();
  pid_t pid_ = 0;
};

// How long the balancer takes to notice a failing readiness probe. Shorter than the instances'
// shutdown_delay (2 s), as deployment.yaml's readiness period is shorter than its delay.
constexpr std::chrono::milliseconds probe_period(1000);

// An instance of the test app (kiln with C++ routes): its files, and POST /echo/NAME.
std::unique_ptr<kiln_process> start_instance(const std::string& root) {
  return std::make_unique<kiln_process>(kiln_process::options{
      .arguments = {"--bind", "127.0.0.1:0", "--workers", "2", "--static-root", root,
                    "--shutdown-delay", "2", "--graceful-timeout", "10"},
      .binary = KILN_TEST_APP});
}

}  // namespace

TEST_CASE("a rolling update of three instances behind nginx fails no request", "[rolling]") {
  if (::access("/usr/sbin/nginx", X_OK) != 0) {
    FAIL("nginx is not installed: scripts/test installs nginx-light");
  }
  temporary_directory root("kiln-rolling-site");
  root.write("index.html", "the same page from every instance\n");
  std::vector<std::unique_ptr<kiln_process>> instances;
  for (int i = 0; i < 3; ++i)
    instances.push_back(start_instance(root.path()));
  auto ports = [&] {
    std::vector<std::uint16_t> result;
    for (const auto& instance : instances)
      result.push_back(instance->port());
    return result;
  };
  balancer nginx(ports());
  // Clients as browsers are: keep-alive connections to the balancer, a request retried once
  // when the balancer closed an idle connection just as it was sent (its own reloads do).
  // nginx sends a GET that failed to another instance, which would hide an instance that
  // drops requests; a POST it never sends twice, so a POST lost by kiln is a failure here.
  load_generator kept({.port = nginx.port(), .path = "/index.html", .connections = 4});
  load_generator posting(
      {.port = nginx.port(), .path = "/echo/order", .body = "{\"n\": 1}", .connections = 4});
  load_generator churning(
      {.port = nginx.port(), .path = "/index.html", .connections = 2, .keep_alive = false});
  REQUIRE(kept.wait_for_more(300));
  REQUIRE(posting.wait_for_more(300));
  REQUIRE(churning.wait_for_more(100));

  for (std::size_t replaced = 0; replaced < 3; ++replaced) {
    // maxSurge 1: the new instance starts, becomes ready and joins first.
    instances.push_back(start_instance(root.path()));
    REQUIRE(eventually([&] { return fetch(instances.back()->port(), "/readyz").status == 200; }));
    nginx.reload(ports());
    // The oldest gets TERM while the balancer still sends it requests, as the kubelet's TERM
    // races the endpoints' update. Its readiness fails at once; the balancer takes it out a
    // probe period later, while it still serves (shutdown_delay); then it finishes what it
    // accepted and exits.
    auto leaving = std::move(instances.front());
    instances.erase(instances.begin());
    leaving->signal(SIGTERM);
    REQUIRE(eventually([&] { return fetch(leaving->port(), "/readyz").status == 503; }));
    std::this_thread::sleep_for(probe_period);
    nginx.reload(ports());
    CHECK(leaving->wait() == exited_with(0));
    REQUIRE(kept.wait_for_more(300));
    REQUIRE(posting.wait_for_more(300));
    REQUIRE(churning.wait_for_more(100));
  }
  kept.stop();
  posting.stop();
  churning.stop();
  for (auto* load : {&kept, &posting, &churning}) {
    std::string listed;
    for (const auto& failure : load->failures())
      listed += "  " + failure + "\n";
    std::printf("rolling update, %s clients: %llu answered, %llu failed\n",
                load == &kept      ? "keep-alive GET"
                : load == &posting ? "keep-alive POST"
                                   : "connect-per-request GET",
                static_cast<unsigned long long>(load->succeeded()),
                static_cast<unsigned long long>(load->failed()));
    INFO("failures:\n" << listed);
    CHECK(load->failed() == 0);
  }
}

}  // namespace kiln::test
