#include "output_batch.hpp"

#include <cstring>

namespace kiln {
namespace {

uv_buf_t make_buffer(const char* data, std::size_t size) noexcept {
  // libuv's buffers are writable in type only; uv_write never writes to them.
  return uv_buf_init(const_cast<char*>(data), static_cast<unsigned int>(size));
}

}  // namespace

void output_batch::append_shared(shared_bytes owner, std::string_view bytes) {
  if (bytes.empty()) return;
  pieces_.push_back({text_.size(), bytes});
  owners_.push_back(std::move(owner));
  shared_size_ += bytes.size();
}

const std::vector<uv_buf_t>& output_batch::buffers() {
  buffers_.clear();
  std::size_t copied = 0;
  for (const auto& piece : pieces_) {
    if (piece.text_offset > copied) {
      buffers_.push_back(make_buffer(text_.data() + copied, piece.text_offset - copied));
      copied = piece.text_offset;
    }
    buffers_.push_back(make_buffer(piece.bytes.data(), piece.bytes.size()));
  }
  if (text_.size() > copied) {
    buffers_.push_back(make_buffer(text_.data() + copied, text_.size() - copied));
  }
  return buffers_;
}

std::unique_ptr<char[]> output_batch::copy_from(std::size_t offset, std::size_t& size_out) const {
  size_out = size() - offset;
  auto block = std::make_unique_for_overwrite<char[]>(size_out);
  char* out = block.get();
  std::size_t position = 0;  // Offset of the next byte in the whole batch.
  auto copy = [&](const char* data, std::size_t size) {
    if (position + size > offset) {
      std::size_t skip = offset > position ? offset - position : 0;
      std::memcpy(out, data + skip, size - skip);
      out += size - skip;
    }
    position += size;
  };
  std::size_t copied = 0;
  for (const auto& piece : pieces_) {
    copy(text_.data() + copied, piece.text_offset - copied);
    copied = piece.text_offset;
    copy(piece.bytes.data(), piece.bytes.size());
  }
  copy(text_.data() + copied, text_.size() - copied);
  return block;
}

void output_batch::clear() noexcept {
  text_.clear();
  pieces_.clear();
  owners_.clear();
  shared_size_ = 0;
}

}  // namespace kiln
