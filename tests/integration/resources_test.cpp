// Honest answers when resources run out: an open file limit too low for worker_connections, a
// file kiln may not read, a static root that becomes unreadable.
#include <filesystem>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

// Permissions mean nothing to root: as root, the workers run as nobody.
std::vector<std::string> unprivileged() {
  if (::geteuid() != 0) return {};
  return {"--user", "nobody", "--group", "nogroup"};
}

}  // namespace

TEST_CASE("under a low open file limit a worker takes what it can hold and turns no one away",
          "[resources]") {
  temporary_directory root("kiln-resources");
  root.write("a.txt", "a\n");
  // prlimit runs kiln with at most 100 descriptors: room for (100 - 64) / 2 = 18 connections.
  kiln_process kiln({.arguments = {"--nofile=100:100", KILN_BINARY, "--bind", "127.0.0.1:0",
                                   "--workers", "1", "--static-root", root.path()},
                     .unset = kiln_variables(),
                     .binary = "/usr/bin/prlimit"});
  CHECK(
      kiln.wait_for_output("The open file limit (100) holds 18 connections per worker (two "
                           "descriptors each, for a streamed file, and 64 to spare), not "
                           "worker_connections (1000): each worker takes 18 at most."));
  // Forty clients that each keep their connection: every one is answered, the idle ones give
  // their slots up, none is reset.
  std::vector<std::unique_ptr<http_client>> clients;
  for (int i = 0; i < 40; ++i) {
    clients.push_back(std::make_unique<http_client>(kiln.port()));
    REQUIRE(clients.back()->send(get("/a.txt")));
    auto response = clients.back()->read_response();
    REQUIRE(response);
    CHECK(response->status == 200);
  }
  CHECK(kiln.wait_for_output("worker_connections (18) reached"));
  CHECK(kiln.output().find("Too many open files") == std::string::npos);
}

TEST_CASE("a file kiln may not read is 403; an unreadable root is 503 and not ready",
          "[resources]") {
  temporary_directory root("kiln-resources");
  root.write("a.txt", "a\n");
  root.write("secret.txt", "s\n");
  ::chmod(root.path().c_str(), 0755);
  ::chmod((root / "a.txt").c_str(), 0644);
  ::chmod((root / "secret.txt").c_str(), 0);
  auto arguments = unprivileged();
  for (std::string more : {"--bind", "127.0.0.1:0", "--workers", "1", "--static-root"})
    arguments.push_back(more);
  arguments.push_back(root.path());
  kiln_process kiln(arguments);
  CHECK(fetch(kiln.port(), "/a.txt").status == 200);
  CHECK(fetch(kiln.port(), "/secret.txt").status == 403);
  CHECK(fetch(kiln.port(), "/readyz").status == 200);

  // The root itself becomes unreadable: files are 503, readiness fails, the log says why.
  ::chmod(root.path().c_str(), 0);
  REQUIRE(eventually([&] { return fetch(kiln.port(), "/a.txt").status == 503; }));
  auto refused = fetch(kiln.port(), "/a.txt");
  CHECK(refused.header("Retry-After") == "1");
  auto readiness = fetch(kiln.port(), "/readyz");
  CHECK(readiness.status == 503);
  CHECK(readiness.body == "static_root cannot be read\n");
  CHECK(fetch(kiln.port(), "/healthz").status == 200);  // Alive all the same.
  CHECK(kiln.wait_for_output("static_root \"" + root.path() +
                             "\" cannot be read: Permission denied; answering 503, not ready"));

  // And back.
  ::chmod(root.path().c_str(), 0755);
  REQUIRE(eventually([&] { return fetch(kiln.port(), "/a.txt").status == 200; }));
  CHECK(fetch(kiln.port(), "/readyz").status == 200);
  CHECK(kiln.wait_for_output("static_root \"" + root.path() + "\" can be read again"));
}

}  // namespace kiln::test
