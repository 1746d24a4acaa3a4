#include "socket_address.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <sys/un.h>

#include <catch2/catch.hpp>

namespace kiln::test {

TEST_CASE("an address is written as logs and URLs write it", "[socket_address]") {
  sockaddr_storage address{};
  SECTION("IPv4: host:port") {
    auto& v4 = reinterpret_cast<sockaddr_in&>(address);
    v4.sin_family = AF_INET;
    v4.sin_port = htons(8080);
    inet_pton(AF_INET, "10.1.2.3", &v4.sin_addr);
    CHECK(address_text(address) == "10.1.2.3:8080");
  }
  SECTION("IPv6: [host]:port, in the shortest form") {
    auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(443);
    inet_pton(AF_INET6, "2001:db8:0:0:0:0:0:1", &v6.sin6_addr);
    CHECK(address_text(address) == "[2001:db8::1]:443");
  }
  SECTION("a unix socket: its path") {
    auto& local = reinterpret_cast<sockaddr_un&>(address);
    local.sun_family = AF_UNIX;
    std::strcpy(local.sun_path, "/run/kiln.sock");
    CHECK(address_text(address) == "/run/kiln.sock");
  }
  SECTION("anything else: a dash, as an access log writes what it does not know") {
    address.ss_family = AF_UNSPEC;
    CHECK(address_text(address) == "-");
  }
}

}  // namespace kiln::test
