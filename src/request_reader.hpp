#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <uv.h>

#include "request_parser.hpp"

namespace kiln {

// Reads the requests out of the bytes a connection receives. Reads usually land in the worker's
// shared buffer and are parsed there at once; only what must outlive a read is kept here: the
// start of a head that a read cut short (later reads land right after it, so that the head's
// spans stay contiguous), or pipelined requests the parser has not seen yet because the
// connection paused it. An idle keep-alive connection keeps nothing.
class request_reader {
 public:
  request_reader(const request_limits& limits, request_sink& sink) noexcept;
  request_reader(const request_reader&) = delete;
  request_reader& operator=(const request_reader&) = delete;

  // Where the next read goes: after the unfinished head kept here, or else into shared.
  uv_buf_t buffer_for_read(uv_buf_t shared) noexcept;
  // Parses the bytes a read put where buffer_for_read() said.
  request_parser::status parse(const char* data, std::size_t size) noexcept;
  // Parses the pipelined bytes kept while the parser was paused.
  request_parser::status parse_kept() noexcept;
  // Keeps bytes that arrive while the parser is paused, unparsed, after those kept already: a
  // connection reads on while its answer is being made, to notice a client that leaves.
  void hold(const char* data, std::size_t size) noexcept;
  // How many received bytes wait for parse_kept().
  std::size_t unparsed() const noexcept { return unparsed_ ? size_ : 0; }
  // True while pipelined bytes wait for parse_kept().
  bool has_unparsed() const noexcept { return unparsed_ && size_ > 0; }
  // True when any received byte is kept: a request has begun.
  bool holds_bytes() const noexcept { return size_ > 0; }
  // Drops whatever is kept; nothing more will be parsed.
  void discard() noexcept;

  // Why parsing failed.
  const parse_error& error() const noexcept { return parser_.error(); }
  // For the access log: the request as far as it arrived, even after parsing failed (its
  // method, target and version were copied then; the rest of its head is gone).
  request partial_request() const;
  bool finish() noexcept { return parser_.finish(); }
  bool inside_request() const noexcept { return parser_.inside_request(); }
  bool reading_head() const noexcept { return parser_.reading_head(); }

 private:
  // Keeps the bytes [from, end) at the start of the buffer: fed bytes of an unfinished head
  // (fed == true) or bytes the parser has not seen yet.
  void keep(const char* from, const char* end, bool fed) noexcept;
  void reserve(std::size_t size) noexcept;

  request_parser parser_;
  // A failed request's first line, copied before its bytes are dropped.
  std::string failed_method_;
  std::string failed_target_;
  std::uint8_t failed_minor_ = 1;
  bool failed_ = false;
  std::unique_ptr<char[]> buffer_;
  std::uint32_t capacity_ = 0;
  std::uint32_t size_ = 0;
  bool unparsed_ = false;
};

}  // namespace kiln
