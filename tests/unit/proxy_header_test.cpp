#include "proxy_header.hpp"

#include <string>

#include <catch2/catch.hpp>

namespace kiln::test {
namespace {

using status = proxy_header::status;

// A v2 header: signature, version 2 and command, family and protocol, length, then body.
std::string v2(std::uint8_t command, std::uint8_t family, std::string body) {
  std::string header("\r\n\r\n\0\r\nQUIT\n", 12);
  header.push_back(static_cast<char>(0x20 | command));
  header.push_back(static_cast<char>(family));
  header.push_back(static_cast<char>(body.size() >> 8));
  header.push_back(static_cast<char>(body.size() & 0xff));
  return header + body;
}

std::string bytes(std::initializer_list<int> values) {
  std::string result;
  for (int value : values)
    result.push_back(static_cast<char>(value));
  return result;
}

}  // namespace

TEST_CASE("PROXY v1 names the client over TCP4 and TCP6", "[proxy_header]") {
  std::string line = "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n";
  auto four = parse_proxy_header(line + "GET / HTTP/1.1\r\n");
  CHECK(four.state == status::complete);
  CHECK(four.consumed == line.size());
  CHECK(four.source == "203.0.113.7:56324");
  auto six = parse_proxy_header("PROXY TCP6 2001:db8::7 2001:db8::1 443 8443\r\n");
  CHECK(six.state == status::complete);
  CHECK(six.source == "[2001:db8::7]:443");
  // UNKNOWN: the balancer's own connection, a health check; the peer stays.
  auto unknown = parse_proxy_header("PROXY UNKNOWN\r\n");
  CHECK(unknown.state == status::complete);
  CHECK(unknown.consumed == 15);
  CHECK(unknown.source.empty());
}

TEST_CASE("a PROXY v1 header that has not all arrived waits for more", "[proxy_header]") {
  std::string line = "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\r\n";
  for (std::size_t size = 0; size < line.size(); ++size) {
    INFO(size);
    CHECK(parse_proxy_header(line.substr(0, size)).state == status::need_more);
  }
}

TEST_CASE("a malformed PROXY v1 header is refused", "[proxy_header]") {
  for (std::string bad : {
           "GET / HTTP/1.1\r\n\r\n",
           "PROXY TCP4 203.0.113.7 10.0.0.1 56324\r\n",
           "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443 extra\r\n",
           "PROXY TCP5 203.0.113.7 10.0.0.1 56324 443\r\n",
           "PROXY TCP4 2001:db8::7 10.0.0.1 56324 443\r\n",
           "PROXY TCP6 203.0.113.7 2001:db8::1 56324 443\r\n",
           "PROXY TCP4 203.0.113.300 10.0.0.1 56324 443\r\n",
           "PROXY TCP4 203.0.113.7 10.0.0.1 65536 443\r\n",
           "PROXY TCP4 203.0.113.7 10.0.0.1 056324 443\r\n",
           "PROXY TCP4 203.0.113.7 10.0.0.1 -1 443\r\n",
           "PROXY TCP4  203.0.113.7 10.0.0.1 56324 443\r\n",
           "proxy TCP4 203.0.113.7 10.0.0.1 56324 443\r\n",
           "PROXY TCP4 203.0.113.7 10.0.0.1 56324 443\n",
       }) {
    INFO(bad);
    CHECK(parse_proxy_header(bad).state == status::invalid);
  }
  // No line end within the longest header v1 allows (107 bytes).
  CHECK(parse_proxy_header("PROXY TCP6 " + std::string(120, '1')).state == status::invalid);
}

TEST_CASE("PROXY v2 names the client over IPv4 and IPv6, and skips extensions", "[proxy_header]") {
  // 203.0.113.7:56324 to 10.0.0.1:443, then a 4-byte TLV kiln does not read.
  std::string four =
      v2(1, 0x11, bytes({203, 0, 113, 7, 10, 0, 0, 1, 0xdc, 0x04, 0x01, 0xbb, 0x04, 0, 1, 'x'}));
  auto parsed = parse_proxy_header(four + "GET /");
  CHECK(parsed.state == status::complete);
  CHECK(parsed.consumed == four.size());
  CHECK(parsed.source == "203.0.113.7:56324");

  std::string addresses = bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7});
  addresses += std::string(15, '\0') + "\x01";  // ::1
  addresses += bytes({0x01, 0xbb, 0x20, 0xfb});
  auto six = parse_proxy_header(v2(1, 0x21, addresses));
  CHECK(six.state == status::complete);
  CHECK(six.source == "[2001:db8::7]:443");
}

TEST_CASE("PROXY v2 LOCAL, and families without an IP, name no client", "[proxy_header]") {
  auto local = parse_proxy_header(v2(0, 0x00, ""));
  CHECK(local.state == status::complete);
  CHECK(local.consumed == 16);
  CHECK(local.source.empty());
  auto unspecified = parse_proxy_header(v2(1, 0x00, ""));
  CHECK(unspecified.state == status::complete);
  CHECK(unspecified.source.empty());
  auto unix_socket = parse_proxy_header(v2(1, 0x31, std::string(216, 'u')));
  CHECK(unix_socket.state == status::complete);
  CHECK(unix_socket.source.empty());
}

TEST_CASE("a PROXY v2 header in pieces waits; a malformed one is refused", "[proxy_header]") {
  std::string four = v2(1, 0x11, bytes({203, 0, 113, 7, 10, 0, 0, 1, 0xdc, 0x04, 0x01, 0xbb}));
  for (std::size_t size = 0; size < four.size(); ++size) {
    INFO(size);
    CHECK(parse_proxy_header(four.substr(0, size)).state == status::need_more);
  }
  std::string wrong_version = four;
  wrong_version[12] = 0x31;
  CHECK(parse_proxy_header(wrong_version).state == status::invalid);
  std::string wrong_command = four;
  wrong_command[12] = 0x22;
  CHECK(parse_proxy_header(wrong_command).state == status::invalid);
  // Too short for the addresses its family has.
  CHECK(parse_proxy_header(v2(1, 0x11, bytes({203, 0, 113, 7}))).state == status::invalid);
  CHECK(parse_proxy_header(v2(1, 0x21, std::string(12, '\0'))).state == status::invalid);
  // Longer than kiln waits for.
  CHECK(parse_proxy_header(v2(1, 0x11, std::string(max_proxy_header, '\0'))).state ==
        status::invalid);
  // A signature that goes wrong part way.
  CHECK(parse_proxy_header(std::string("\r\n\r\n\0\r\nQUIX\n", 12)).state == status::invalid);
}

}  // namespace kiln::test
