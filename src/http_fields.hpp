#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string_view>

namespace kiln {

// Readers for the request header fields that static files negotiate on. Each is a pure
// function of the field's value, so that the tests can check them one by one.

// True when an Accept-Encoding value accepts coding ("br", "gzip") with a non-zero weight,
// directly or through "*".
bool accepts_encoding(std::string_view accept_encoding, std::string_view coding) noexcept;

// True when an If-None-Match value ("*", or a list of entity tags) matches etag, compared
// weakly as RFC 9110, 13.1.2 requires.
bool etag_matches(std::string_view if_none_match, std::string_view etag) noexcept;

// Parses an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"); nullopt for anything else.
std::optional<std::time_t> parse_http_date(std::string_view text) noexcept;

// One byte range of a representation, both ends included.
struct byte_range {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::uint64_t length() const noexcept { return last - first + 1; }
};

enum class range_verdict {
  whole,          // No usable Range: send everything (200). Several ranges count as none.
  partial,        // One satisfiable range (206).
  unsatisfiable,  // Nothing of the representation is in range (416).
};

// Reads a Range value ("bytes=0-499", "bytes=500-", "bytes=-500") against a representation of
// size bytes.
range_verdict parse_range(std::string_view range, std::uint64_t size, byte_range& out) noexcept;

}  // namespace kiln
