// Every form of the bind setting, against the real binary.
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "support/http_client.hpp"
#include "support/kiln_process.hpp"
#include "support/temporary.hpp"

namespace kiln::test {
namespace {

void check_serves(std::uint16_t port, int family) {
  http_client client(port, family);
  REQUIRE(client.send(get("/")));
  auto response = client.read_response();
  REQUIRE(response);
  CHECK(response->status == 404);
}

}  // namespace

TEST_CASE("kiln listens on IPv4 and IPv6 at once", "[listener]") {
  kiln_process kiln({"--bind", "127.0.0.1:0", "--bind", "[::1]:0", "--workers", "1"});
  REQUIRE(kiln.ports().size() == 2);
  CHECK(kiln.output().find("Listening at: http://[::1]:") != std::string::npos);
  check_serves(kiln.ports()[0], AF_INET);
  check_serves(kiln.ports()[1], AF_INET6);
}

TEST_CASE("binds can come from KILN_BIND as a comma-separated list", "[listener]") {
  kiln_process kiln(
      {.arguments = {"--workers", "1"}, .environment = {{"KILN_BIND", "127.0.0.1:0, [::1]:0"}}});
  REQUIRE(kiln.ports().size() == 2);
  check_serves(kiln.ports()[1], AF_INET6);
}

TEST_CASE("fd://N serves a listening socket kiln was given", "[listener]") {
  std::uint16_t port = 0;
  int fd = listening_socket(&port);
  // It arrives as descriptor 3, without the LISTEN_ variables: only the bind setting names it.
  kiln_process kiln({.arguments = {"--bind", "fd://3", "--workers", "1"},
                     .listen_fds = {fd},
                     .announce_listen_fds = false});
  close(fd);
  CHECK(kiln.port() == port);
  check_serves(kiln.port(), AF_INET);
}

TEST_CASE("a port in use is one clear message and exit code 1", "[listener]") {
  kiln_process first({"--bind", "127.0.0.1:0", "--workers", "1"});
  std::string taken = "127.0.0.1:" + std::to_string(first.port());
  kiln_process second({.arguments = {"--bind", taken}, .wait_until_listening = false});
  CHECK(second.wait() == exited_with(1));
  CHECK(second.output() == "kiln: bind for " + taken + ": Address already in use\n");
}

TEST_CASE("a malformed bind is a configuration error naming its source", "[listener]") {
  kiln_process kiln({.arguments = {"--bind", "localhost"}, .wait_until_listening = false});
  CHECK(kiln.wait() == exited_with(2));
  CHECK(
      kiln.output() ==
      "kiln: flag --bind: bind \"localhost\" is not HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N\n");
}

}  // namespace kiln::test
