#pragma once

#include <ctime>
#include <string_view>

namespace kiln {

// Formats times as HTTP dates (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT").
class http_date {
 public:
  static constexpr std::size_t length = 29;

  // The current time, formatted again only when the second changes: every response carries a
  // Date header, and formatting one is far dearer than comparing two integers.
  std::string_view now() noexcept;

  // Writes the date for time into out, which must hold length characters.
  static void format(std::time_t time, char* out) noexcept;

 private:
  std::time_t second_ = -1;
  char text_[length + 1] = {};
};

}  // namespace kiln
