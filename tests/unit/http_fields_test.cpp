#include "http_fields.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace kiln::test {
namespace {

// "Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110's own example.
constexpr std::time_t rfc_example = 784111777;

struct range_result {
  range_verdict verdict;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

range_result range_of(std::string_view value, std::uint64_t size) {
  byte_range out{12345, 67890};  // Must be left alone unless the verdict is partial.
  auto verdict = parse_range(value, size, out);
  if (verdict != range_verdict::partial) {
    CHECK(out.first == 12345);
    CHECK(out.last == 67890);
    return {verdict};
  }
  return {verdict, out.first, out.last};
}

}  // namespace

TEST_CASE("accepts_encoding: named codings, with and without weights", "[http_fields]") {
  CHECK(accepts_encoding("br", "br"));
  CHECK(accepts_encoding("gzip, deflate, br", "br"));
  CHECK(accepts_encoding("gzip, deflate, br", "gzip"));
  CHECK_FALSE(accepts_encoding("gzip, deflate", "br"));
  CHECK_FALSE(accepts_encoding("", "br"));
  CHECK_FALSE(accepts_encoding("identity", "gzip"));
  // A coding is its whole name, not a part of another one.
  CHECK_FALSE(accepts_encoding("xbr, gzipped", "br"));
  CHECK_FALSE(accepts_encoding("xbr, gzipped", "gzip"));
  CHECK(accepts_encoding("br;q=1", "br"));
  CHECK(accepts_encoding("br;q=0.5", "br"));
  CHECK(accepts_encoding("br;q=0.001", "br"));
  CHECK(accepts_encoding("br;q=1.000", "br"));
}

TEST_CASE("accepts_encoding: q=0 refuses, in every spelling", "[http_fields]") {
  for (const char* value : {"br;q=0", "br;q=0.", "br;q=0.0", "br;q=0.00", "br;q=0.000", "br; q=0",
                            "br ;q=0", "br ; q=0 ", "br;Q=0", "gzip, br;q=0"}) {
    INFO(value);
    CHECK_FALSE(accepts_encoding(value, "br"));
  }
  CHECK(accepts_encoding("br;q=0, gzip", "gzip"));
  CHECK_FALSE(accepts_encoding("br;q=0, gzip", "br"));
}

TEST_CASE("accepts_encoding: the wildcard covers codings not named", "[http_fields]") {
  CHECK(accepts_encoding("*", "br"));
  CHECK(accepts_encoding("*", "gzip"));
  CHECK(accepts_encoding("*;q=0.1", "br"));
  CHECK_FALSE(accepts_encoding("*;q=0", "br"));
  // A named coding overrides the wildcard, wherever either stands.
  CHECK_FALSE(accepts_encoding("*, br;q=0", "br"));
  CHECK_FALSE(accepts_encoding("br;q=0, *", "br"));
  CHECK(accepts_encoding("*, br;q=0", "gzip"));
  CHECK(accepts_encoding("*;q=0, gzip", "gzip"));
  CHECK_FALSE(accepts_encoding("*;q=0, gzip", "br"));
}

TEST_CASE("accepts_encoding: names without regard to case, spaces around elements",
          "[http_fields]") {
  CHECK(accepts_encoding("BR", "br"));
  CHECK(accepts_encoding("GZip", "gzip"));
  CHECK(accepts_encoding("  gzip  ,   br  ", "br"));
  CHECK(accepts_encoding("\tgzip,\tbr\t", "gzip"));
  CHECK(accepts_encoding(",, ,br,", "br"));
  CHECK_FALSE(accepts_encoding(" , , ", "br"));
}

TEST_CASE("etag_matches: weak comparison of lists and the wildcard", "[http_fields]") {
  const std::string_view etag = "\"5f-1a\"";
  CHECK(etag_matches("\"5f-1a\"", etag));
  CHECK(etag_matches("W/\"5f-1a\"", etag));
  CHECK(etag_matches("\"5f-1a\"", "W/\"5f-1a\""));
  CHECK(etag_matches("\"other\", \"5f-1a\"", etag));
  CHECK(etag_matches("\"other\",W/\"5f-1a\" , \"third\"", etag));
  CHECK(etag_matches("*", etag));
  CHECK(etag_matches("  *  ", etag));

  CHECK_FALSE(etag_matches("\"other\"", etag));
  CHECK_FALSE(etag_matches("\"other\", \"third\"", etag));
  CHECK_FALSE(etag_matches("", etag));
  // Entity tags are opaque: case matters, quotes matter, and only "W/" marks a weak tag.
  CHECK_FALSE(etag_matches("\"5F-1A\"", etag));
  CHECK_FALSE(etag_matches("5f-1a", etag));
  CHECK_FALSE(etag_matches("w/\"5f-1a\"", etag));
  CHECK_FALSE(etag_matches("\"5f-1a", etag));
}

TEST_CASE("parse_http_date reads IMF-fixdate", "[http_fields]") {
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == rfc_example);
  CHECK(parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT\t") == rfc_example);
  CHECK(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT") == 0);
  CHECK(parse_http_date("Fri, 01 Jan 2021 00:00:00 GMT") == 1609459200);
  CHECK(parse_http_date("Tue, 29 Feb 2028 23:59:59 GMT") == 1835481599);
  CHECK(parse_http_date("Fri, 31 Dec 1999 23:59:59 GMT") == 946684799);
  // Every month name.
  const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t previous = 0;
  for (const char* month : months) {
    INFO(month);
    auto date = parse_http_date(std::string("Mon, 01 ") + month + " 2024 00:00:00 GMT");
    REQUIRE(date);
    CHECK(*date > previous);
    previous = *date;
  }
  CHECK(previous == 1733011200);  // 1 December 2024.
}

TEST_CASE("parse_http_date refuses everything that is not IMF-fixdate", "[http_fields]") {
  for (std::string text : std::vector<std::string>{
           "",
           "   ",
           "0",
           "784111777",
           // The two obsolete formats.
           "Sunday, 06-Nov-94 08:49:37 GMT",
           "Sun Nov  6 08:49:37 1994",
           // Another zone, or none.
           "Sun, 06 Nov 1994 08:49:37 UTC",
           "Sun, 06 Nov 1994 08:49:37 +0000",
           "Sun, 06 Nov 1994 08:49:37 gmt",
           "Sun, 06 Nov 1994 08:49:37",
           // Separators missing or moved.
           "Sun 06 Nov 1994 08:49:37 GMT",
           "Sun,06 Nov 1994 08:49:37 GMT",
           "Sun, 06-Nov-1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 08.49.37 GMT",
           "Sun, 06 Nov 1994T08:49:37 GMT",
           "Sun, 6 Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 94 08:49:37 GMT",
           "Sun, 06 Nov 1994 8:49:37 GMT",
           "Sun, 06 Nov 1994 08:49:37 GMT extra",
           // Month names: case, alignment in the table, nonsense.
           "Sun, 06 nov 1994 08:49:37 GMT",
           "Sun, 06 NOV 1994 08:49:37 GMT",
           "Sun, 06 anF 1994 08:49:37 GMT",
           "Sun, 06 Foo 1994 08:49:37 GMT",
           std::string("Sun, 06 J\0\0 1994 08:49:37 GMT", 29),
           std::string("Sun, 06 \0\0\0 1994 08:49:37 GMT", 29),
           // Day names.
           "Xyz, 06 Nov 1994 08:49:37 GMT",
           "sun, 06 Nov 1994 08:49:37 GMT",
           // Numbers out of range, signed or not numbers at all.
           "Sun, 00 Nov 1994 08:49:37 GMT",
           "Sun, 32 Nov 1994 08:49:37 GMT",
           "Wed, 31 Nov 1994 08:49:37 GMT",
           "Thu, 30 Feb 1995 08:49:37 GMT",
           "Sun, 29 Feb 1900 08:49:37 GMT",
           "Sun, 06 Nov 1994 24:00:00 GMT",
           "Sun, 06 Nov 1994 08:60:37 GMT",
           "Sun, 06 Nov 1994 08:49:61 GMT",
           "Sun, -6 Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 -1:49:37 GMT",
           "Sun, 06 Nov 1994 08:-1:37 GMT",
           "Sun, 06 Nov 1994 08:49:-1 GMT",
           "Sun, 06 Nov -994 08:49:37 GMT",
           "Sun, +6 Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 +8:49:37 GMT",
           "Sun, 0a Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 19x4 08:49:37 GMT",
           "Sun, 06 Nov 1994 08:4 :37 GMT",
           "Sun, 06 Nov 1994 08:49: 7 GMT",
       }) {
    INFO('"' << text << '"');
    CHECK_FALSE(parse_http_date(text));
  }
}

TEST_CASE("parse_range: one range of each form", "[http_fields]") {
  auto r = range_of("bytes=0-499", 1000);
  CHECK(r.verdict == range_verdict::partial);
  CHECK(r.first == 0);
  CHECK(r.last == 499);

  r = range_of("bytes=500-999", 1000);
  CHECK(r.verdict == range_verdict::partial);
  CHECK(r.first == 500);
  CHECK(r.last == 999);

  r = range_of("bytes=500-", 1000);
  CHECK(r.verdict == range_verdict::partial);
  CHECK(r.first == 500);
  CHECK(r.last == 999);

  r = range_of("bytes=-300", 1000);
  CHECK(r.verdict == range_verdict::partial);
  CHECK(r.first == 700);
  CHECK(r.last == 999);

  r = range_of("bytes=0-0", 1000);
  CHECK(r.verdict == range_verdict::partial);
  CHECK(r.first == 0);
  CHECK(r.last == 0);

  r = range_of("bytes=999-999", 1000);
  CHECK(r.verdict == range_verdict::partial);
  CHECK(r.first == 999);
  CHECK(r.last == 999);

  r = range_of("bytes=-1", 1000);
  CHECK(r.verdict == range_verdict::partial);
  CHECK(r.first == 999);
  CHECK(r.last == 999);

  // The unit is a token, compared without regard to case; spaces around the value are fine.
  r = range_of("  Bytes=5-9  ", 1000);
  CHECK(r.verdict == range_verdict::partial);
  CHECK(r.first == 5);
  CHECK(r.last == 9);
}

TEST_CASE("parse_range: the end is clipped to the representation", "[http_fields]") {
  auto r = range_of("bytes=500-5000", 1000);
  CHECK(r.verdict == range_verdict::partial);
  CHECK(r.first == 500);
  CHECK(r.last == 999);

  // A suffix longer than the representation is all of it.
  r = range_of("bytes=-5000", 1000);
  CHECK(r.verdict == range_verdict::partial);
  CHECK(r.first == 0);
  CHECK(r.last == 999);

  r = range_of("bytes=-1000", 1000);
  CHECK(r.verdict == range_verdict::partial);
  CHECK(r.first == 0);
  CHECK(r.last == 999);

  r = range_of("bytes=0-18446744073709551615", 10);
  CHECK(r.verdict == range_verdict::partial);
  CHECK(r.first == 0);
  CHECK(r.last == 9);
}

TEST_CASE("parse_range: ranges that start beyond the end are unsatisfiable", "[http_fields]") {
  CHECK(range_of("bytes=1000-", 1000).verdict == range_verdict::unsatisfiable);
  CHECK(range_of("bytes=1000-1999", 1000).verdict == range_verdict::unsatisfiable);
  CHECK(range_of("bytes=5000-6000", 1000).verdict == range_verdict::unsatisfiable);
  // A suffix of nothing selects nothing.
  CHECK(range_of("bytes=-0", 1000).verdict == range_verdict::unsatisfiable);
  // An empty representation has no bytes to select.
  CHECK(range_of("bytes=0-", 0).verdict == range_verdict::unsatisfiable);
  CHECK(range_of("bytes=0-0", 0).verdict == range_verdict::unsatisfiable);
  CHECK(range_of("bytes=-5", 0).verdict == range_verdict::unsatisfiable);
}

TEST_CASE("parse_range: what is not one valid byte range is ignored", "[http_fields]") {
  for (const char* value : {
           "",
           "bytes",
           "bytes=",
           "bytes=-",
           "bytes=abc",
           "bytes=5",
           "bytes=a-b",
           "bytes=1-x",
           "bytes=x-1",
           "bytes=-x",
           "bytes=--5",
           "bytes=+1-2",
           "bytes=1-+2",
           "bytes=-+2",
           "bytes=1-2-3",
           "bytes=0x10-0x20",
           "bytes=1.5-2",
           // The last position before the first: invalid, so the whole representation.
           "bytes=500-499",
           "bytes=10-0",
           // Several ranges would need multipart/byteranges.
           "bytes=0-1,3-4",
           "bytes=0-1, 3-4",
           "bytes=-1,-2",
           "bytes=0-1,",
           "bytes=2000-,3000-",
           // Other units.
           "items=0-5",
           "bits=0-5",
           "none",
           "bytes 0-5",
           "bytes:0-5",
           "=0-5",
           // Numbers too big for 64 bits.
           "bytes=18446744073709551616-",
           "bytes=-18446744073709551616",
       }) {
    INFO('"' << value << '"');
    CHECK(range_of(value, 1000).verdict == range_verdict::whole);
  }
}

TEST_CASE("byte_range::length counts both ends", "[http_fields]") {
  CHECK(byte_range{0, 0}.length() == 1);
  CHECK(byte_range{0, 499}.length() == 500);
  CHECK(byte_range{10, 19}.length() == 10);
}

}  // namespace kiln::test
