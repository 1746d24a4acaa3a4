#pragma once

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

}  // namespace kiln
