#include "proxy_header.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <netinet/in.h>

#include <fmt/format.h>

#include "address_range.hpp"
#include "socket_address.hpp"

namespace kiln {
namespace {

constexpr std::string_view v1_prefix = "PROXY ";
constexpr std::string_view v2_signature{"\r\n\r\n\0\r\nQUIT\n", 12};
constexpr std::size_t v1_longest = 107;  // "PROXY TCP6 " and two full IPv6 addresses and ports.

bool is_port(std::string_view text, unsigned& port) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text.front() == '0')) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
  return error == std::errc{} && end == text.data() + text.size() && port <= 65535;
}

proxy_header invalid() {
  return {.state = proxy_header::status::invalid};
}

// "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n", or "PROXY UNKNOWN ...\r\n".
proxy_header parse_v1(std::string_view data) {
  auto line_feed = data.find('\n');
  if (line_feed == std::string_view::npos) {
    return data.size() < v1_longest ? proxy_header{} : invalid();
  }
  if (data[line_feed - 1] != '\r' || line_feed + 1 > v1_longest) return invalid();
  auto end = line_feed - 1;
  std::string_view line = data.substr(v1_prefix.size(), end - v1_prefix.size());
  proxy_header result{.state = proxy_header::status::complete, .consumed = end + 2};
  if (line.starts_with("UNKNOWN")) return result;
  std::string_view fields[5];
  for (auto& field : fields) {
    auto space = line.find(' ');
    field = line.substr(0, space);
    line = space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
  }
  if (!line.empty()) return invalid();
  bool v4 = fields[0] == "TCP4";
  if (!v4 && fields[0] != "TCP6") return invalid();
  unsigned source_port = 0;
  unsigned destination_port = 0;
  for (std::string_view address : {fields[1], fields[2]}) {
    auto bytes = address_bytes(address);
    if (!bytes || (address.find(':') == std::string_view::npos) != v4) return invalid();
  }
  if (!is_port(fields[3], source_port) || !is_port(fields[4], destination_port)) return invalid();
  result.source = v4 ? fmt::format("{}:{}", fields[1], source_port)
                     : fmt::format("[{}]:{}", fields[1], source_port);
  return result;
}

// The binary version: the signature, a version and command, a family, a length, the addresses.
proxy_header parse_v2(std::string_view data) {
  if (data.size() < 16) return {};
  auto byte = [&](std::size_t at) { return static_cast<std::uint8_t>(data[at]); };
  std::uint8_t version_command = byte(12);
  std::uint8_t family = byte(13);
  std::size_t length = (std::size_t{byte(14)} << 8) | byte(15);
  if ((version_command >> 4) != 2 || (version_command & 0x0f) > 1) return invalid();
  if (16 + length > max_proxy_header) return invalid();
  if (data.size() < 16 + length) return {};
  proxy_header result{.state = proxy_header::status::complete, .consumed = 16 + length};
  bool local = (version_command & 0x0f) == 0;
  std::uint8_t address_family = family >> 4;
  if (local || address_family == 0) return result;  // The balancer's own connection.
  // Addresses and ports come in network byte order, as a sockaddr holds them.
  const char* addresses = data.data() + 16;
  sockaddr_storage source{};
  if (address_family == 1) {  // IPv4: source, destination, source port, destination port.
    if (length < 12) return invalid();
    auto& v4 = reinterpret_cast<sockaddr_in&>(source);
    v4.sin_family = AF_INET;
    std::memcpy(&v4.sin_addr, addresses, 4);
    std::memcpy(&v4.sin_port, addresses + 8, 2);
    result.source = address_text(source);
  } else if (address_family == 2) {  // IPv6.
    if (length < 36) return invalid();
    auto& v6 = reinterpret_cast<sockaddr_in6&>(source);
    v6.sin6_family = AF_INET6;
    std::memcpy(&v6.sin6_addr, addresses, 16);
    std::memcpy(&v6.sin6_port, addresses + 32, 2);
    result.source = address_text(source);
  }
  // A unix address (family 3) names no IP client: as LOCAL.
  return result;
}

}  // namespace

proxy_header parse_proxy_header(std::string_view data) {
  std::size_t v1_seen = std::min(data.size(), v1_prefix.size());
  if (data.substr(0, v1_seen) == v1_prefix.substr(0, v1_seen)) {
    return v1_seen < v1_prefix.size() ? proxy_header{} : parse_v1(data);
  }
  std::size_t v2_seen = std::min(data.size(), v2_signature.size());
  if (data.substr(0, v2_seen) == v2_signature.substr(0, v2_seen)) {
    return v2_seen < v2_signature.size() ? proxy_header{} : parse_v2(data);
  }
  return invalid();
}

}  // namespace kiln
