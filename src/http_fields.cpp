#include "http_fields.hpp"

#include <charconv>

#include <kiln/request.hpp>

#include "http_syntax.hpp"

namespace kiln {
namespace {

// Calls visit for each comma-separated element of a list-valued field, trimmed and non-empty.
template <typename Visit>
void for_each_element(std::string_view list, Visit visit) noexcept {
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view element = trim_ows(list.substr(0, comma));
    if (!element.empty() && visit(element)) return;
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

// The weight of an element such as "br;q=0.5": 1 without a q parameter, 0 for "q=0".
bool weight_is_zero(std::string_view parameters) noexcept {
  bool zero = false;
  // Parameters are ";"-separated, and their names case-insensitive: "Q=0" refuses too.
  while (!parameters.empty()) {
    auto semicolon = parameters.find(';');
    std::string_view parameter = trim_ows(parameters.substr(0, semicolon));
    if (parameter.size() >= 2 && (parameter[0] == 'q' || parameter[0] == 'Q') &&
        parameter[1] == '=') {
      std::string_view value = parameter.substr(2);
      // "0", "0.", "0.0", "0.00", "0.000" all mean never.
      zero = !value.empty() && value.front() == '0' &&
             value.substr(1).find_first_not_of(".0") == std::string_view::npos;
    }
    if (semicolon == std::string_view::npos) break;
    parameters.remove_prefix(semicolon + 1);
  }
  return zero;
}

std::string_view strip_weak(std::string_view tag) noexcept {
  return tag.starts_with("W/") ? tag.substr(2) : tag;
}

bool parse_number(std::string_view text, std::uint64_t& value) noexcept {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc{} && end == text.data() + text.size();
}

}  // namespace

bool accepts_encoding(std::string_view accept_encoding, std::string_view coding) noexcept {
  bool accepted = false;
  bool wildcard = false;
  bool named = false;
  for_each_element(accept_encoding, [&](std::string_view element) {
    auto semicolon = element.find(';');
    std::string_view name = trim_ows(element.substr(0, semicolon));
    std::string_view parameters =
        semicolon == std::string_view::npos ? std::string_view{} : element.substr(semicolon + 1);
    if (iequals(name, coding)) {
      named = true;
      accepted = !weight_is_zero(parameters);
      return true;
    }
    if (name == "*") wildcard = !weight_is_zero(parameters);
    return false;
  });
  return named ? accepted : wildcard;
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) noexcept {
  if (trim_ows(if_none_match) == "*") return true;
  bool matched = false;
  for_each_element(if_none_match, [&](std::string_view tag) {
    matched = strip_weak(tag) == strip_weak(etag);
    return matched;
  });
  return matched;
}

std::optional<std::time_t> parse_http_date(std::string_view text) noexcept {
  // "Sun, 06 Nov 1994 08:49:37 GMT": fixed positions.
  text = trim_ows(text);
  if (text.size() != 29 || text[3] != ',' || text[4] != ' ' || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  // A name from a table: found at a multiple of three ("anF" straddles two months).
  auto index_in = [&](std::string_view table, std::size_t at) {
    auto found = table.find(text.substr(at, 3));
    return found != std::string_view::npos && found % 3 == 0 ? static_cast<int>(found / 3) : -1;
  };
  int month = index_in("JanFebMarAprMayJunJulAugSepOctNovDec", 8);
  if (index_in("MonTueWedThuFriSatSun", 0) < 0 || month < 0) return std::nullopt;
  // Digits only: from_chars alone would take "-1" for an hour.
  auto number = [&](std::size_t at, std::size_t length, int& out) {
    std::string_view digits = text.substr(at, length);
    if (digits.find_first_not_of("0123456789") != std::string_view::npos) return false;
    std::from_chars(digits.data(), digits.data() + digits.size(), out);
    return true;
  };
  std::tm utc{};
  if (!number(5, 2, utc.tm_mday) || !number(12, 4, utc.tm_year) || !number(17, 2, utc.tm_hour) ||
      !number(20, 2, utc.tm_min) || !number(23, 2, utc.tm_sec)) {
    return std::nullopt;
  }
  int year = utc.tm_year;
  bool leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
  constexpr int days_in_month[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int days = days_in_month[month] + (month == 1 && leap ? 1 : 0);
  // timegm would quietly turn 31 November into 1 December.
  if (utc.tm_mday < 1 || utc.tm_mday > days || utc.tm_hour > 23 || utc.tm_min > 59 ||
      utc.tm_sec > 60) {
    return std::nullopt;
  }
  utc.tm_mon = month;
  utc.tm_year -= 1900;
  return timegm(&utc);
}

range_verdict parse_range(std::string_view range, std::uint64_t size, byte_range& out) noexcept {
  range = trim_ows(range);
  // Range units are compared without regard to case (RFC 9110, 14.1).
  if (range.size() < 6 || !iequals(range.substr(0, 6), "bytes=")) return range_verdict::whole;
  std::string_view spec = trim_ows(range.substr(6));
  // Several ranges would need multipart/byteranges; RFC 9110 lets a server ignore Range.
  if (spec.find(',') != std::string_view::npos) return range_verdict::whole;
  auto dash = spec.find('-');
  if (dash == std::string_view::npos) return range_verdict::whole;
  std::string_view first_text = trim_ows(spec.substr(0, dash));
  std::string_view last_text = trim_ows(spec.substr(dash + 1));
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  if (first_text.empty()) {
    // A suffix: the last N bytes.
    std::uint64_t suffix = 0;
    if (!parse_number(last_text, suffix)) return range_verdict::whole;
    if (suffix == 0 || size == 0) return range_verdict::unsatisfiable;
    out = {suffix >= size ? 0 : size - suffix, size - 1};
    return range_verdict::partial;
  }
  if (!parse_number(first_text, first)) return range_verdict::whole;
  if (last_text.empty()) {
    last = size == 0 ? 0 : size - 1;
  } else if (!parse_number(last_text, last) || last < first) {
    return range_verdict::whole;
  }
  if (first >= size) return range_verdict::unsatisfiable;
  out = {first, last >= size ? size - 1 : last};
  return range_verdict::partial;
}

}  // namespace kiln
