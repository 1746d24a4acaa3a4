#include "http_date.hpp"

#include <cstdio>

namespace kiln {

std::string_view http_date::now() noexcept {
  std::time_t second = std::time(nullptr);
  if (second != second_) {
    format(second, text_);
    second_ = second;
  }
  return {text_, length};
}

void http_date::format(std::time_t time, char* out) noexcept {
  static constexpr const char* day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::tm utc{};
  gmtime_r(&time, &utc);
  char text[64];
  std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", day_names[utc.tm_wday],
                utc.tm_mday, month_names[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min,
                utc.tm_sec);
  for (std::size_t i = 0; i < length; ++i)
    out[i] = text[i];
}

}  // namespace kiln
