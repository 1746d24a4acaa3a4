#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

namespace kiln {

// text without the blanks at either end: any whitespace by default, or only the characters
// given (HTTP's optional whitespace is " \t").
constexpr std::string_view trim(std::string_view text,
                                std::string_view blanks = " \t\r\n\f\v") noexcept {
  auto first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(blanks) - first + 1);
}

// Appends value's digits to out, in base (10, or 16 for an ETag), without allocating for them.
inline void append_number(std::string& out, std::uint64_t value, int base = 10) {
  char digits[24];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, value, base).ptr);
}

}  // namespace kiln
