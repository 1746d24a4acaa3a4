// The request fields static files negotiate on: Range, If-None-Match, If-Modified-Since and
// Accept-Encoding. A range that parses lies inside the representation; a date that parses is
// a real instant, written back the same way.
//
// Input: eight bytes of a representation size, then the field value.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "http_date.hpp"
#include "http_fields.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 8) return 0;
  std::uint64_t representation = 0;
  std::memcpy(&representation, data, 8);
  std::string_view text(reinterpret_cast<const char*>(data + 8), size - 8);

  kiln::byte_range range;
  if (kiln::parse_range(text, representation, range) == kiln::range_verdict::partial) {
    FUZZ_REQUIRE(representation > 0);
    FUZZ_REQUIRE(range.first <= range.last && range.last < representation);
  }

  if (auto time = kiln::parse_http_date(text)) {
    char written[kiln::http_date::length];
    kiln::http_date::format(*time, written);
    std::string_view trimmed = text.substr(text.find_first_not_of(" \t"));
    // The weekday is not checked against the date; every other field must come back. A leap
    // second (:60) is the next minute's :00.
    if (trimmed.substr(23, 2) != "60") {
      FUZZ_REQUIRE(std::string_view(written + 5, 24) == trimmed.substr(5, 24));
    }
  }
  // Any instant from year 1970 to 9999 survives being written and read back.
  std::time_t instant = static_cast<std::time_t>(representation % 253402300800ULL);
  char written[kiln::http_date::length];
  kiln::http_date::format(instant, written);
  FUZZ_REQUIRE(kiln::parse_http_date({written, sizeof written}) == instant);

  kiln::etag_matches(text, "\"abc\"");
  kiln::accepts_encoding(text, "br");
  kiln::accepts_encoding(text, "gzip");
  return 0;
}
