#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

// An IP address range as settings write it: an address ("127.0.0.1", "::1"), a CIDR range
// ("10.0.0.0/8", "fd00::/8"), or "*" for any. IPv4 addresses are kept as IPv6 ones
// (::ffff:a.b.c.d), so that one comparison serves both.
class address_range {
 public:
  static std::optional<address_range> parse(std::string_view text);
  // True when the address (IPv4 or IPv6 text, without port or brackets) is in the range.
  bool contains(std::string_view address) const noexcept;

 private:
  std::array<std::uint8_t, 16> bytes_{};
  unsigned prefix_ = 0;  // Leading bits that must match; 0 with any_ is everything.
  bool any_ = false;
};

// The peers a setting trusts (forwarded_allow_ips, proxy_allow_ips).
class trusted_peers {
 public:
  // Entries that do not parse are skipped: configuration checking refuses them before.
  explicit trusted_peers(std::span<const std::string> entries);
  bool trusts(std::string_view address) const noexcept;

 private:
  std::vector<address_range> ranges_;
};

// The bytes of an address as address_range keeps them, or nullopt when text is none.
std::optional<std::array<std::uint8_t, 16>> address_bytes(std::string_view text) noexcept;

}  // namespace kiln
