#include "request_reader.hpp"

#include <algorithm>
#include <cstring>

namespace kiln {
namespace {

// Room a kept head gets to grow into before the next read.
constexpr std::size_t read_room = 4096;

}  // namespace

request_reader::request_reader(const request_limits& limits, request_sink& sink) noexcept
    : parser_(limits, sink) {}

uv_buf_t request_reader::buffer_for_read(uv_buf_t shared) noexcept {
  if (size_ == 0 || unparsed_) return shared;
  reserve(size_ + read_room);
  return uv_buf_init(buffer_.get() + size_, capacity_ - size_);
}

request_parser::status request_reader::parse(const char* data, std::size_t size) noexcept {
  // A read that went after a kept head makes the head longer.
  if (buffer_ && data == buffer_.get() + size_) size_ += static_cast<std::uint32_t>(size);
  auto result = parser_.feed(data, size);
  const char* end = data + size;
  switch (result.state) {
    case request_parser::status::need_more:
      keep(parser_.head_start(), end, true);
      break;
    case request_parser::status::paused:
      keep(data + result.consumed, end, false);
      break;
    case request_parser::status::failed: {
      // The parser's views are the failed request's only once it has begun; before, they may
      // still name an earlier request's bytes, long gone.
      request cut = partial_request();
      failed_method_.assign(cut.method);
      failed_target_.assign(cut.target);
      failed_minor_ = cut.version_minor;
      failed_ = true;
      discard();
      break;
    }
  }
  return result.state;
}

request_parser::status request_reader::parse_kept() noexcept {
  parser_.resume();
  return parse(buffer_.get(), size_);
}

void request_reader::hold(const char* data, std::size_t size) noexcept {
  if (size_ == 0) {
    keep(data, data + size, false);
    return;
  }
  reserve(std::size_t{size_} + size);
  std::memcpy(buffer_.get() + size_, data, size);
  size_ += static_cast<std::uint32_t>(size);
}

void request_reader::keep(const char* from, const char* end, bool fed) noexcept {
  if (from == nullptr || from == end) {
    discard();
    return;
  }
  auto size = static_cast<std::size_t>(end - from);
  bool inside = buffer_ && from >= buffer_.get() && from < buffer_.get() + capacity_;
  if (inside) {
    std::memmove(buffer_.get(), from, size);
  } else {
    reserve(size + read_room);
    std::memcpy(buffer_.get(), from, size);
  }
  if (fed) parser_.rebase(from, size, buffer_.get());
  size_ = static_cast<std::uint32_t>(size);
  unparsed_ = !fed;
}

void request_reader::reserve(std::size_t size) noexcept {
  if (size <= capacity_) return;
  std::size_t capacity = std::max<std::size_t>(size, std::size_t{capacity_} * 2);
  auto bigger = std::make_unique<char[]>(capacity);
  if (size_ > 0) {
    std::memcpy(bigger.get(), buffer_.get(), size_);
    if (!unparsed_) parser_.rebase(buffer_.get(), size_, bigger.get());
  }
  buffer_ = std::move(bigger);
  capacity_ = static_cast<std::uint32_t>(capacity);
}

request request_reader::partial_request() const {
  if (!failed_) {
    if (!parser_.inside_request()) return {};
    const request& current = parser_.current();
    request copy;
    copy.method = current.method;
    copy.target = current.target;
    copy.path = current.path;
    copy.query = current.query;
    copy.version_minor = current.version_minor;
    copy.headers = current.headers;
    return copy;
  }
  request copy;
  copy.method = failed_method_;
  copy.target = failed_target_;
  copy.version_minor = failed_minor_;
  return copy;
}

void request_reader::discard() noexcept {
  buffer_.reset();
  capacity_ = size_ = 0;
  unparsed_ = false;
}

}  // namespace kiln
