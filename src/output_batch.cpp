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

output_batch::rest output_batch::rest_from(std::size_t offset) const {
  rest result;
  result.copied = std::make_unique_for_overwrite<char[]>(text_.size());
  char* out = result.copied.get();
  std::size_t position = 0;  // Offset of the next byte in the whole batch.
  // Adds what of [data, data + size) lies at or after offset.
  auto keep = [&](const char* data, std::size_t size, const shared_bytes* owner) {
    if (position + size > offset) {
      std::size_t skip = offset > position ? offset - position : 0;
      if (owner == nullptr) {
        std::memcpy(out, data + skip, size - skip);
        result.buffers.push_back(make_buffer(out, size - skip));
        out += size - skip;
      } else {
        result.buffers.push_back(make_buffer(data + skip, size - skip));
        result.owners.push_back(*owner);
      }
    }
    position += size;
  };
  std::size_t copied = 0;
  for (std::size_t i = 0; i < pieces_.size(); ++i) {
    const auto& piece = pieces_[i];
    keep(text_.data() + copied, piece.text_offset - copied, nullptr);
    copied = piece.text_offset;
    keep(piece.bytes.data(), piece.bytes.size(), &owners_[i]);
  }
  keep(text_.data() + copied, text_.size() - copied, nullptr);
  std::erase_if(result.buffers, [](const uv_buf_t& buffer) { return buffer.len == 0; });
  return result;
}

void output_batch::clear() noexcept {
  text_.clear();
  pieces_.clear();
  owners_.clear();
  shared_size_ = 0;
}

}  // namespace kiln
