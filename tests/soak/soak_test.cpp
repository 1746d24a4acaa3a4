// A minute of everything an operator does to a running kiln, under load: HUP, TTIN and TTOU
// every few seconds and max_requests recycling all along, with keep-alive clients and clients
// that connect for each request, counted by a client that retries nothing. No request may
// fail, and the master's descriptors and memory stay flat. Labelled soak: ctest -L soak.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <signal.h>
#include <thread>

#include <catch2/catch.hpp>

#include "support/kiln_process.hpp"
#include "support/load_generator.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

std::size_t descriptors_of(pid_t pid) {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++count;
  }
  return count;
}

double rss_mib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) return std::stod(line.substr(6)) / 1024;
  }
  return 0;
}

void report(const char* name, load_generator& load) {
  std::string listed;
  for (const auto& failure : load.failures())
    listed += "  " + failure + "\n";
  std::printf("%s clients: %llu answered, %llu failed\n", name,
              static_cast<unsigned long long>(load.succeeded()),
              static_cast<unsigned long long>(load.failed()));
  INFO(name << " clients; failures:\n" << listed);
  CHECK(load.failed() == 0);
  CHECK(load.succeeded() > 0);
}

}  // namespace

TEST_CASE("a minute of reloads, scaling and recycling under load fails no request", "[soak]") {
  using clock = std::chrono::steady_clock;
  temporary_directory root("kiln-soak");
  root.write("index.html", "ok\n");
  kiln_process kiln({"--bind", "127.0.0.1:0", "--workers", "2", "--static-root", root.path(),
                     "--max-requests", "3000", "--max-requests-jitter", "500"});
  load_generator kept({.port = kiln.port(), .connections = 6, .strict = true});
  load_generator churning(
      {.port = kiln.port(), .connections = 3, .keep_alive = false, .strict = true});
  REQUIRE(kept.wait_for_more(500));
  REQUIRE(churning.wait_for_more(500));
  // The master's footprint once it runs, to compare with at the end.
  std::size_t descriptors_before = descriptors_of(kiln.pid());
  double memory_before = rss_mib(kiln.pid());

  const int signals[] = {SIGHUP, SIGTTIN, SIGTTOU};
  auto end = clock::now() + std::chrono::seconds(60);
  int sent = 0;
  while (clock::now() < end) {
    kiln.signal(signals[sent % 3]);
    ++sent;
    // Three seconds between signals, with requests answered in each.
    auto next = clock::now() + std::chrono::seconds(3);
    REQUIRE(kept.wait_for_more(100));
    while (clock::now() < next)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kept.stop();
  churning.stop();
  std::printf("%d signals, %zu workers recycled by max_requests\n", sent,
              kiln.count_in_output("reached max_requests"));
  report("keep-alive", kept);
  report("connect-per-request", churning);

  // Every worker replaced many times over: the master holds what it held.
  std::size_t descriptors_after = descriptors_of(kiln.pid());
  double memory_after = rss_mib(kiln.pid());
  std::printf("master: %zu descriptors before, %zu after; RSS %.1f MiB before, %.1f after\n",
              descriptors_before, descriptors_after, memory_before, memory_after);
  CHECK(descriptors_after == descriptors_before);
  CHECK(memory_after < memory_before + 4);
  CHECK(kiln.stop(SIGTERM) == exited_with(0));
}

}  // namespace kiln::test
