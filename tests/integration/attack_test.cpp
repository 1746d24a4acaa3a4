// Connection slots that cannot be starved: a thousand clients that hold a worker's connections
// without using them (idle on keep-alive, uploading a byte a second, not reading a response)
// against one worker with the default worker_connections (1000), while normal clients, one
// request per connection, keep being served. The ratio of their throughput during the attack to
// before it is printed; the tests assert that they are served, and that nothing fails.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/load_generator.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

// AddressSanitizer's allocator keeps freed memory in quarantine and never gives it back: under
// it the worker's RSS is printed, but says nothing about kiln's own memory.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool rss_is_kilns = false;
#else
constexpr bool rss_is_kilns = true;
#endif

// A thousand attackers, as the issue measured; fewer only where the test itself cannot hold
// that many sockets (the hard limit on descriptors), which it says.
int attackers = 1000;

// The test holds a thousand sockets and more: as many descriptors as the hard limit allows.
void raise_descriptor_limit() {
  rlimit limit{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &limit) == 0);
  limit.rlim_cur = limit.rlim_max;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &limit) == 0);
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < 1200) {
    attackers = static_cast<int>(limit.rlim_cur) - 200;
    WARN("the descriptor limit (" << limit.rlim_cur << ") allows " << attackers
                                  << " attackers only");
  }
  REQUIRE(attackers >= 100);
}

const std::string& site() {
  static const temporary_directory root("kiln-attack");
  [[maybe_unused]] static const bool written =
      (root.write("small.txt", "ok\n"), root.write("big.bin", std::string(1 << 20, 'b')),
       root.write("huge.bin", std::string(50 << 20, 'h')), true);
  return root.path();
}

// The resident memory of the master's only worker, in MiB.
double worker_rss_mib(pid_t master) {
  auto workers = children_of(master);
  REQUIRE(workers.size() == 1);
  std::ifstream status("/proc/" + std::to_string(workers.front()) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) return std::stod(line.substr(6)) / 1024;
  }
  FAIL("no VmRSS");
  return 0;
}

int connect_to(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  return fd;
}

void send_all(int fd, const std::string& bytes) {
  REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(bytes.size()));
}

// Reads until a response to a small request has come (the headers' blank line and a body of a
// few bytes): enough for a keep-alive connection to be idle afterwards.
void read_small_response(int fd) {
  std::string seen;
  char buffer[4096];
  while (seen.find("\r\n\r\nok\n") == std::string::npos) {
    ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    REQUIRE(got > 0);
    seen.append(buffer, static_cast<std::size_t>(got));
  }
}

enum class attack { idle_keep_alive, slow_upload, slow_reader, slow_huge_reader };

const char* name_of(attack kind) {
  switch (kind) {
    case attack::idle_keep_alive:
      return "idle keep-alive connections";
    case attack::slow_upload:
      return "uploads at a byte a second";
    case attack::slow_reader:
      return "readers that never read a 1 MiB response";
    case attack::slow_huge_reader:
      return "readers that never read a 50 MiB response";
  }
  return "?";
}

// A thousand connections of one kind, and for uploads a thread that sends each a byte a second.
class attack_clients {
 public:
  attack_clients(attack kind, std::uint16_t port) : kind_(kind) {
    for (int i = 0; i < attackers; ++i) {
      int fd = connect_to(port);
      fds_.push_back(fd);
      switch (kind) {
        case attack::idle_keep_alive:
          send_all(fd, "GET /small.txt HTTP/1.1\r\nHost: a\r\n\r\n");
          read_small_response(fd);
          break;
        case attack::slow_upload:
          send_all(fd, "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\nx");
          break;
        case attack::slow_reader:
          // Never read: what kiln sent waits in the kernel's buffers.
          send_all(fd, "GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n");
          break;
        case attack::slow_huge_reader:
          // Never read, and more than the kernel's buffers hold: kiln streams the rest.
          send_all(fd, "GET /huge.bin HTTP/1.1\r\nHost: a\r\n\r\n");
          break;
      }
    }
    if (kind == attack::slow_upload) {
      trickle_ = std::thread([this] {
        while (!stopping_) {
          for (int fd : fds_)
            ::send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
          for (int i = 0; i < 10 && !stopping_; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      });
    }
  }
  ~attack_clients() {
    stopping_ = true;
    if (trickle_.joinable()) trickle_.join();
    for (int fd : fds_)
      ::close(fd);
  }
  attack_clients(const attack_clients&) = delete;
  attack_clients& operator=(const attack_clients&) = delete;

 private:
  attack kind_;
  std::vector<int> fds_;
  std::atomic<bool> stopping_{false};
  std::thread trickle_;
};

// Requests answered per second over a short window.
double rate(const load_generator& load) {
  auto before = load.succeeded();
  auto started = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return static_cast<double>(load.succeeded() - before) / seconds;
}

// Normal clients' throughput and the worker's memory before, during and after the attack.
struct measured {
  double rate_before, rate_during;
  double memory_before, memory_during, memory_after;
};

measured withstand(attack kind) {
  raise_descriptor_limit();
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1", "--static-root", site()});
  load_generator normal({.port = kiln.port(),
                         .path = "/small.txt",
                         .connections = 4,
                         .keep_alive = false,
                         .strict = true});
  REQUIRE(normal.wait_for_more(200));
  measured result{};
  result.rate_before = rate(normal);
  result.memory_before = worker_rss_mib(kiln.pid());
  {
    attack_clients attack(kind, kiln.port());
    // Whatever the attackers hold, new clients get their answers.
    REQUIRE(normal.wait_for_more(200));
    result.rate_during = rate(normal);
    result.memory_during = worker_rss_mib(kiln.pid());
  }
  // The attackers gone, their memory goes back (the worker looks once a heartbeat).
  REQUIRE(normal.wait_for_more(200));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  result.memory_after = worker_rss_mib(kiln.pid());
  std::printf(
      "%s: normal clients %.0f requests/s before, %.0f during the attack (%.2f); worker RSS "
      "%.1f MiB before, %.1f during, %.1f after\n",
      name_of(kind), result.rate_before, result.rate_during,
      result.rate_during / result.rate_before, result.memory_before, result.memory_during,
      result.memory_after);
  normal.stop();
  std::string listed;
  for (const auto& failure : normal.failures())
    listed += "  " + failure + "\n";
  INFO(name_of(kind) << "; failures:\n" << listed);
  CHECK(normal.failed() == 0);
  CHECK(result.rate_during > 0);
  // What the attack made the worker allocate is returned once it has gone.
  if (rss_is_kilns) CHECK(result.memory_after < result.memory_before + 16);
  return result;
}

}  // namespace

TEST_CASE("a thousand idle keep-alive connections do not starve new clients", "[attack]") {
  withstand(attack::idle_keep_alive);
}

TEST_CASE("a thousand uploads at a byte a second do not starve new clients", "[attack]") {
  withstand(attack::slow_upload);
}

TEST_CASE("a thousand clients that never read their response do not starve new clients",
          "[attack]") {
  withstand(attack::slow_reader);
}

TEST_CASE("a thousand clients that never read a long response cost little memory", "[attack]") {
  // Each stream's buffer is what its socket can take: a slow reader's is small.
  auto result = withstand(attack::slow_huge_reader);
  if (rss_is_kilns) CHECK(result.memory_during < result.memory_before + 64);
}

TEST_CASE("the memory of a flood of partial request heads goes back once it is over", "[attack]") {
  raise_descriptor_limit();
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "1", "--static-root", site()});
  CHECK(fetch(kiln.port(), "/small.txt").status == 200);
  double before = worker_rss_mib(kiln.pid());
  // Three waves of a thousand heads of 60 KiB, each left unfinished, then dropped.
  std::string partial = "GET /small.txt HTTP/1.1\r\nHost: a\r\n";
  for (int field = 0; field < 8; ++field)
    partial += "X-Padding-" + std::to_string(field) + ": " + std::string(7500, 'p') + "\r\n";
  double peak = before;
  for (int wave = 0; wave < 3; ++wave) {
    std::vector<int> fds;
    for (int i = 0; i < attackers; ++i) {
      fds.push_back(connect_to(kiln.port()));
      send_all(fds.back(), partial);
    }
    REQUIRE(fetch(kiln.port(), "/small.txt").status == 200);  // They are all in.
    peak = std::max(peak, worker_rss_mib(kiln.pid()));
    for (int fd : fds)
      ::close(fd);
  }
  double after = 0;
  bool returned = eventually(
      [&] {
        after = worker_rss_mib(kiln.pid());
        return after < before + 16;
      },
      rss_is_kilns ? patience : 0ms);
  std::printf("partial heads: worker RSS %.1f MiB before, %.1f at the peak, %.1f after\n", before,
              peak, after);
  if (rss_is_kilns) {
    CHECK(returned);
    CHECK(peak > before + 16);  // The flood did cost memory: the test measures something.
  }
}

}  // namespace kiln::test
