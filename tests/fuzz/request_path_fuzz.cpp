// The request path as a connection drives it: bytes arrive in reads of any size, a head cut by
// a read is kept and grown, the parser pauses after a request and resumes on the bytes it kept.
// Every input is replayed several ways (whole, byte by byte, random cuts, pausing or not), and
// every way must find the same requests, and fail or not alike. (Which status a request with two
// faults gets may depend on where a read cut it: llhttp reports a span only when it ends.) Each
// request the parser accepts is checked: tokens are tokens, no control bytes in the target or the
// values, exactly one framing, a body as long as its framing says, every limit held, and a head
// that stays valid until the request is complete.
//
// Input: four control bytes (limits, cutting, pausing), then the bytes a client sends.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "http_syntax.hpp"
#include "request_reader.hpp"

namespace kiln::fuzz {
namespace {

struct seen_request {
  std::string method, target, version, body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool keep_alive = false;
  bool operator==(const seen_request&) const = default;
};

struct outcome {
  std::vector<seen_request> requests;
  int status = 0;  // The error status, or 0.
  bool same_as(const outcome& other) const {
    return requests == other.requests && (status == 0) == (other.status == 0);
  }
};

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// What a complete request must look like whatever bytes produced it.
void check_request(const request& req, const seen_request& head, const request_limits& limits) {
  FUZZ_REQUIRE(is_token(req.method));
  FUZZ_REQUIRE(!req.target.empty());
  FUZZ_REQUIRE(std::none_of(req.target.begin(), req.target.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte == 0x7f;
  }));
  FUZZ_REQUIRE(req.version_major == 1 && req.version_minor <= 1);
  FUZZ_REQUIRE(req.method.size() + 1 + req.target.size() + 9 <= limits.request_line);
  FUZZ_REQUIRE(req.headers.size() <= limits.fields);
  std::size_t hosts = 0;
  std::size_t content_lengths = 0;
  std::size_t transfer_encodings = 0;
  std::string_view content_length;
  std::string_view transfer_encoding;
  for (const auto& field : req.headers) {
    FUZZ_REQUIRE(is_token(field.name));
    FUZZ_REQUIRE(is_field_value(field.value));
    FUZZ_REQUIRE(trim_ows(field.value) == field.value);
    FUZZ_REQUIRE(field.name.size() + 2 + field.value.size() <= limits.field_size);
    if (iequals(field.name, "host")) ++hosts;
    if (iequals(field.name, "content-length")) {
      ++content_lengths;
      content_length = field.value;
    }
    if (iequals(field.name, "transfer-encoding")) {
      ++transfer_encodings;
      transfer_encoding = field.value;
    }
  }
  if (req.version_minor == 1) FUZZ_REQUIRE(hosts == 1);
  FUZZ_REQUIRE(hosts <= 1);
  // Exactly one framing: a single Content-Length, or a single "chunked", or none.
  FUZZ_REQUIRE(content_lengths + transfer_encodings <= 1);
  if (content_lengths == 1) {
    FUZZ_REQUIRE(all_digits(content_length));
    FUZZ_REQUIRE(std::to_string(req.body.size()) ==
                 std::string(content_length.substr(
                     std::min(content_length.find_first_not_of('0'), content_length.size() - 1))));
  } else if (transfer_encodings == 1) {
    FUZZ_REQUIRE(iequals(transfer_encoding, "chunked"));
    if (req.version_minor == 0) FUZZ_REQUIRE(!req.keep_alive);
  } else {
    FUZZ_REQUIRE(req.body.empty());
  }
  if (limits.body != 0) FUZZ_REQUIRE(req.body.size() <= limits.body);
  // The head's views still show what they showed when the head was handed on.
  FUZZ_REQUIRE(req.method == head.method && req.target == head.target);
  FUZZ_REQUIRE(req.headers.size() == head.headers.size());
  for (std::size_t i = 0; i < req.headers.size(); ++i) {
    FUZZ_REQUIRE(req.headers[i].name == head.headers[i].first);
    FUZZ_REQUIRE(req.headers[i].value == head.headers[i].second);
  }
}

class checking_sink final : public request_sink {
 public:
  checking_sink(const request_limits& limits, std::mt19937& random, bool pausing)
      : limits_(limits), random_(random), pausing_(pausing) {}

  void on_request_head(request& req) noexcept override {
    current_ = {};
    current_.method = req.method;
    current_.target = req.target;
    current_.version = req.version_minor == 0 ? "1.0" : "1.1";
    for (const auto& field : req.headers)
      current_.headers.emplace_back(field.name, field.value);
  }
  void on_request_body(request& req, std::string_view chunk) noexcept override {
    req.body.append(chunk);
  }
  bool on_request_complete(request& req) noexcept override {
    check_request(req, current_, limits_);
    current_.body = req.body;
    current_.keep_alive = req.keep_alive;
    seen.requests.push_back(current_);
    req.body.clear();
    return !pausing_ || random_() % 2 == 0;
  }

  outcome seen;

 private:
  const request_limits& limits_;
  std::mt19937& random_;
  bool pausing_;
  seen_request current_;
};

// Replays bytes as reads whose sizes next_size() picks. Each read lands where the reader asks:
// a fresh heap buffer, freed after the read, stands for the worker's shared buffer, so that a
// span left pointing into it is a use after free that AddressSanitizer reports.
template <typename NextSize>
outcome replay(std::string_view bytes, const request_limits& limits, NextSize next_size,
               bool pausing, unsigned seed) {
  std::mt19937 random(seed);
  checking_sink sink(limits, random, pausing);
  request_reader reader(limits, sink);
  std::size_t offset = 0;
  auto failed = [&](request_parser::status state) {
    if (state != request_parser::status::failed) return false;
    sink.seen.status = reader.error().status;
    FUZZ_REQUIRE(sink.seen.status >= 400 && sink.seen.status <= 599);
    return true;
  };
  while (offset < bytes.size()) {
    std::size_t wanted = std::min(bytes.size() - offset, std::max<std::size_t>(1, next_size()));
    auto shared = std::make_unique<char[]>(wanted);
    uv_buf_t target = reader.buffer_for_read(uv_buf_init(shared.get(), wanted));
    FUZZ_REQUIRE(target.base != nullptr && target.len > 0);
    std::size_t size = std::min<std::size_t>(wanted, target.len);
    std::memcpy(target.base, bytes.data() + offset, size);
    offset += size;
    if (failed(reader.parse(target.base, size))) return sink.seen;
    shared.reset();
    // What the connection does once the answers are written: parse what the pause held back.
    while (reader.has_unparsed()) {
      if (failed(reader.parse_kept())) return sink.seen;
    }
  }
  return sink.seen;
}

}  // namespace
}  // namespace kiln::fuzz

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kiln::fuzz;
  if (size < 4) return 0;
  kiln::request_limits limits;
  if (data[0] & 1) {
    // Small limits, so that every limit is reached from short inputs.
    limits.request_line = 16 + data[1] % 64;
    limits.fields = 1 + data[1] % 8;
    limits.field_size = 16 + data[2] % 64;
    limits.body = data[2] % 32;
    limits.head = 1024;
  }
  unsigned seed = data[3];
  std::string_view bytes(reinterpret_cast<const char*>(data + 4), size - 4);

  outcome whole = replay(
      bytes, limits, [&] { return bytes.size(); }, false, seed);
  outcome bytewise = replay(
      bytes, limits, [] { return std::size_t{1}; }, true, seed);
  FUZZ_REQUIRE(bytewise.same_as(whole));
  std::mt19937 random(seed);
  std::uniform_int_distribution<std::size_t> cut(1, 1 + data[0] % 64);
  for (bool pausing : {false, true}) {
    outcome chunked = replay(
        bytes, limits, [&] { return cut(random); }, pausing, seed + 1);
    FUZZ_REQUIRE(chunked.same_as(whole));
  }
  return 0;
}
