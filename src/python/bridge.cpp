#include "python/bridge.hpp"

#include <system_error>
#include <unistd.h>

#include <spdlog/spdlog.h>

namespace kiln::python {

exchange::exchange(request& req, bridge& owner) : request_(req), bridge_(owner) {}

exchange::~exchange() = default;

bool exchange::wait_for_room(std::size_t bytes) noexcept {
  std::unique_lock lock(mutex_);
  if (in_flight_ >= max_in_flight && !abandoned()) {
    // A slow client is not the app's fault: its clock stops while it waits.
    std::uint64_t progress = progress_ms_.exchange(0);
    room_.wait(lock, [&] { return in_flight_ < max_in_flight || abandoned(); });
    progress_ms_.store(progress);
  }
  in_flight_ += bytes;
  return !abandoned();
}

void exchange::taken(std::size_t bytes) noexcept {
  {
    std::lock_guard lock(mutex_);
    in_flight_ -= std::min(bytes, in_flight_);
  }
  room_.notify_one();
}

void exchange::abandon() noexcept {
  writer_ = nullptr;
  {
    std::lock_guard lock(mutex_);
    abandoned_.store(true, std::memory_order_release);
  }
  room_.notify_one();
}

bridge::bridge(uv_loop_t* loop) {
  if (int error = uv_async_init(loop, &async_, on_async); error != 0) {
    throw std::system_error(-error, std::generic_category(), "uv_async_init");
  }
  async_.data = this;
}

bridge::~bridge() {
  // Exchanges still live belong to app threads that never finished; the process is ending.
  for (exchange* e = first_; e != nullptr; e = e->next_)
    e->writer_ = nullptr;
}

exchange& bridge::open(request& req, responder& out) {
  auto* made = new exchange(req, *this);
  made->writer_ = &out.defer(*made);
  made->previous_ = last_;
  (last_ != nullptr ? last_->next_ : first_) = made;
  last_ = made;
  ++live_;
  return *made;
}

void bridge::post(outbound message) noexcept {
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      if (message.file >= 0) ::close(message.file);
      return;
    }
    inbox_.push_back(std::move(message));
  }
  uv_async_send(&async_);
}

void bridge::close() noexcept {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&async_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  }
}

void bridge::on_async(uv_async_t* handle) noexcept {
  static_cast<bridge*>(handle->data)->deliver();
}

void bridge::deliver() noexcept {
  // uv_async_send coalesces wake-ups: everything posted so far is taken in one go.
  {
    std::lock_guard lock(mutex_);
    delivery_.swap(inbox_);
  }
  for (auto& message : delivery_) {
    exchange& to = *message.to;
    if (to.writer_ != nullptr) {
      to.writer_->write({.status = message.status,
                         .reason = message.reason,
                         .headers = message.headers,
                         .length = message.length,
                         .body = message.body,
                         .file = message.file,
                         .file_offset = message.file_offset,
                         .file_length = message.file_length,
                         .last = message.last,
                         .complete = message.complete});
    } else if (message.file >= 0) {
      ::close(message.file);
    }
    if (message.last) forget(to);
  }
  delivery_.clear();
}

void bridge::forget(exchange& done) noexcept {
  (done.previous_ != nullptr ? done.previous_->next_ : first_) = done.next_;
  (done.next_ != nullptr ? done.next_->previous_ : last_) = done.previous_;
  --live_;
  delete &done;
}

std::uint64_t bridge::oldest_progress_ms() const noexcept {
  std::uint64_t oldest = 0;
  for (const exchange* e = first_; e != nullptr; e = e->next_) {
    std::uint64_t progress = e->progress_ms_.load(std::memory_order_relaxed);
    if (progress != 0 && (oldest == 0 || progress < oldest)) oldest = progress;
  }
  return oldest;
}

std::size_t bridge::give_up_on_hung(std::uint64_t deadline_ms) noexcept {
  std::size_t hung = 0;
  for (exchange* e = first_; e != nullptr; e = e->next_) {
    if (e->writer_ == nullptr) continue;
    std::uint64_t progress = e->progress_ms_.load(std::memory_order_relaxed);
    bool started = e->started_.load(std::memory_order_acquire);
    if (started && (progress == 0 || progress > deadline_ms)) continue;
    if (started) ++hung;
    // The connection forgets the work in fail(); abandoning then lets the app's thread stop.
    e->writer_->fail(started ? 504 : 503);
    e->abandon();
  }
  return hung;
}

}  // namespace kiln::python
