#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln {

class timeout_queue;

// The hook an object needs to wait in a timeout_queue. An object waits in at most one queue.
class timeout_link {
 public:
  timeout_link() = default;
  timeout_link(const timeout_link&) = delete;
  timeout_link& operator=(const timeout_link&) = delete;
  ~timeout_link() { unlink(); }

  // Leaves whatever queue the object is waiting in.
  void unlink() noexcept;
  timeout_queue* queue() const noexcept { return queue_; }
  std::uint64_t deadline() const noexcept { return deadline_; }

 private:
  friend class timeout_queue;
  timeout_link* previous_ = nullptr;
  timeout_link* next_ = nullptr;
  timeout_queue* queue_ = nullptr;
  std::uint64_t deadline_ = 0;
};

// Objects that all wait the same duration. Because each one is appended with the current time
// plus that duration, the queue stays sorted by deadline: arming, disarming and finding what
// expired are all O(1), with no timer per object. The worker keeps one queue per kind of timeout
// and one libuv timer for all of them.
class timeout_queue {
 public:
  explicit timeout_queue(std::uint64_t duration_ms) noexcept : duration_ms_(duration_ms) {
    sentinel_.previous_ = &sentinel_;
    sentinel_.next_ = &sentinel_;
  }
  timeout_queue(const timeout_queue&) = delete;
  timeout_queue& operator=(const timeout_queue&) = delete;
  ~timeout_queue() {
    while (!empty())
      sentinel_.next_->unlink();
  }

  // (Re)starts the link's wait at now; returns its deadline.
  std::uint64_t arm(timeout_link& link, std::uint64_t now_ms) noexcept {
    link.unlink();
    ++size_;
    link.deadline_ = now_ms + duration_ms_;
    link.queue_ = this;
    link.previous_ = sentinel_.previous_;
    link.next_ = &sentinel_;
    sentinel_.previous_->next_ = &link;
    sentinel_.previous_ = &link;
    return link.deadline_;
  }

  bool empty() const noexcept { return sentinel_.next_ == &sentinel_; }
  // How many wait.
  std::size_t size() const noexcept { return size_; }
  // The earliest waiter, or nullptr.
  timeout_link* front() noexcept { return empty() ? nullptr : sentinel_.next_; }
  // The waiter after link, or nullptr.
  timeout_link* next(const timeout_link& link) noexcept {
    return link.next_ == &sentinel_ ? nullptr : link.next_;
  }
  // The earliest waiter whose deadline has passed, taken out of the queue, or nullptr.
  timeout_link* pop_expired(std::uint64_t now_ms) noexcept {
    timeout_link* first = front();
    if (first == nullptr || first->deadline_ > now_ms) return nullptr;
    first->unlink();
    return first;
  }

 private:
  friend class timeout_link;
  std::uint64_t duration_ms_;
  std::size_t size_ = 0;
  timeout_link sentinel_;
};

inline void timeout_link::unlink() noexcept {
  if (queue_ == nullptr) return;
  --queue_->size_;
  previous_->next_ = next_;
  next_->previous_ = previous_;
  previous_ = next_ = nullptr;
  queue_ = nullptr;
}

}  // namespace kiln
