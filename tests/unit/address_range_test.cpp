#include "address_range.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace kiln::test {
namespace {

bool in(std::string_view range, std::string_view address) {
  auto parsed = address_range::parse(range);
  REQUIRE(parsed);
  return parsed->contains(address);
}

}  // namespace

TEST_CASE("an address range is an address, a CIDR range, or *", "[address_range]") {
  CHECK(in("127.0.0.1", "127.0.0.1"));
  CHECK_FALSE(in("127.0.0.1", "127.0.0.2"));
  CHECK(in("10.0.0.0/8", "10.255.3.4"));
  CHECK_FALSE(in("10.0.0.0/8", "11.0.0.1"));
  CHECK(in("192.168.1.0/25", "192.168.1.127"));
  CHECK_FALSE(in("192.168.1.0/25", "192.168.1.128"));
  CHECK(in("0.0.0.0/0", "203.0.113.9"));
  CHECK(in("::1", "::1"));
  CHECK_FALSE(in("::1", "::2"));
  CHECK(in("fd00::/8", "fd12:3456::1"));
  CHECK_FALSE(in("fd00::/8", "fe80::1"));
  CHECK(in("2001:db8::/127", "2001:db8::1"));
  CHECK_FALSE(in("2001:db8::/127", "2001:db8::2"));
  CHECK(in("*", "198.51.100.7"));
  CHECK(in("*", "2001:db8::5"));
}

TEST_CASE("IPv4 ranges hold IPv4-mapped IPv6 addresses, and only those", "[address_range]") {
  CHECK(in("127.0.0.1", "::ffff:127.0.0.1"));
  CHECK(in("10.0.0.0/8", "::ffff:10.1.2.3"));
  CHECK(in("::ffff:10.0.0.0/104", "10.9.9.9"));
  // An IPv4 /0 is all of IPv4, not all of IPv6.
  CHECK_FALSE(in("0.0.0.0/0", "2001:db8::1"));
  CHECK_FALSE(in("::/96", "10.0.0.1"));
}

TEST_CASE("what is not an address or a range does not parse, nor match", "[address_range]") {
  for (std::string_view bad :
       {"", "localhost", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x", "::1/129",
        "1.2.3", "1.2.3.4.5", "[::1]", "10.0.0.1:80", "**"}) {
    INFO(bad);
    CHECK_FALSE(address_range::parse(bad));
  }
  CHECK_FALSE(in("10.0.0.0/8", "10.x.0.1"));
  CHECK_FALSE(in("10.0.0.0/8", ""));
  CHECK_FALSE(address_bytes("example.com"));
  CHECK(address_bytes("1.2.3.4") == address_bytes("::ffff:1.2.3.4"));
}

TEST_CASE("trusted peers: any of the ranges", "[address_range]") {
  std::vector<std::string> entries{"127.0.0.1", "::1", "10.0.0.0/8"};
  trusted_peers peers(entries);
  CHECK(peers.trusts("127.0.0.1"));
  CHECK(peers.trusts("::1"));
  CHECK(peers.trusts("10.20.30.40"));
  CHECK_FALSE(peers.trusts("127.0.0.2"));
  CHECK_FALSE(peers.trusts("192.0.2.1"));
  CHECK_FALSE(trusted_peers({}).trusts("127.0.0.1"));
}

}  // namespace kiln::test
