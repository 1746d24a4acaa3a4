#include "address_range.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>

namespace kiln {

std::optional<std::array<std::uint8_t, 16>> address_bytes(std::string_view text) noexcept {
  char buffer[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buffer) return std::nullopt;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  std::array<std::uint8_t, 16> bytes{};
  in_addr v4{};
  if (inet_pton(AF_INET, buffer, &v4) == 1) {
    bytes[10] = bytes[11] = 0xff;
    std::memcpy(bytes.data() + 12, &v4, 4);
    return bytes;
  }
  if (inet_pton(AF_INET6, buffer, bytes.data()) == 1) return bytes;
  return std::nullopt;
}

std::optional<address_range> address_range::parse(std::string_view text) {
  address_range range;
  if (text == "*") {
    range.any_ = true;
    return range;
  }
  auto slash = text.find('/');
  auto bytes = address_bytes(text.substr(0, slash));
  if (!bytes) return std::nullopt;
  range.bytes_ = *bytes;
  bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  unsigned width = v4 ? 32 : 128;
  unsigned prefix = width;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || error != std::errc{} || end != digits.data() + digits.size() ||
        prefix > width) {
      return std::nullopt;
    }
  }
  range.prefix_ = prefix + (v4 ? 96 : 0);
  return range;
}

bool address_range::contains(std::string_view address) const noexcept {
  if (any_) return true;
  auto bytes = address_bytes(address);
  if (!bytes) return false;
  unsigned whole = prefix_ / 8;
  if (std::memcmp(bytes->data(), bytes_.data(), whole) != 0) return false;
  unsigned rest = prefix_ % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return ((*bytes)[whole] & mask) == (bytes_[whole] & mask);
}

trusted_peers::trusted_peers(std::span<const std::string> entries) {
  for (const auto& entry : entries) {
    if (auto range = address_range::parse(entry)) ranges_.push_back(*range);
  }
}

bool trusted_peers::trusts(std::string_view address) const noexcept {
  for (const auto& range : ranges_) {
    if (range.contains(address)) return true;
  }
  return false;
}

}  // namespace kiln
