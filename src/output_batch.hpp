#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <uv.h>

namespace kiln {

// Everything a connection answers in one pass over the bytes it received, sent with one writev:
// response heads and small bodies are copied into one buffer, while cached file contents are
// referenced where they live. A worker has one batch and lends it to one connection at a time,
// so that answering a small request allocates nothing.
class output_batch {
 public:
  using shared_bytes = std::shared_ptr<const std::string>;

  output_batch() { text_.reserve(64 * 1024); }

  // The copied bytes; append to it directly.
  std::string& text() noexcept { return text_; }
  // References bytes that owner keeps alive until the batch is cleared.
  void append_shared(shared_bytes owner, std::string_view bytes);

  bool empty() const noexcept { return text_.empty() && shared_size_ == 0; }
  std::size_t size() const noexcept { return text_.size() + shared_size_; }
  // The batch as libuv buffers, in order; valid until the batch changes.
  const std::vector<uv_buf_t>& buffers();
  // The batch from offset on, for a write that has to wait: the copied bytes are copied again
  // (the batch is reused at once), while shared bytes stay where they are, kept alive.
  struct rest {
    std::unique_ptr<char[]> copied;
    std::vector<uv_buf_t> buffers;
    std::vector<shared_bytes> owners;
  };
  rest rest_from(std::size_t offset) const;
  void clear() noexcept;

 private:
  struct shared_piece {
    std::size_t text_offset;  // Where in text_ the piece belongs.
    std::string_view bytes;
  };

  std::string text_;
  std::vector<shared_piece> pieces_;
  std::vector<shared_bytes> owners_;
  std::vector<uv_buf_t> buffers_;
  std::size_t shared_size_ = 0;
};

}  // namespace kiln
