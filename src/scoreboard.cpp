#include "scoreboard.hpp"

#include <cerrno>
#include <ctime>
#include <new>
#include <sys/mman.h>
#include <system_error>

namespace kiln {

void request_counters::add(const request_counters& other) noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  for (std::size_t who = 0; who < requests.size(); ++who) {
    for (std::size_t type = 0; type < requests[who].size(); ++type)
      requests[who][type].fetch_add(other.requests[who][type].load(relaxed), relaxed);
  }
  for (std::size_t bucket = 0; bucket < durations.size(); ++bucket)
    durations[bucket].fetch_add(other.durations[bucket].load(relaxed), relaxed);
  duration_sum_us.fetch_add(other.duration_sum_us.load(relaxed), relaxed);
  received_bytes.fetch_add(other.received_bytes.load(relaxed), relaxed);
  body_bytes.fetch_add(other.body_bytes.load(relaxed), relaxed);
}

scoreboard::scoreboard(std::size_t capacity) : capacity_(capacity) {
  size_ = sizeof(master_counters) + capacity * sizeof(worker_slot);
  memory_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory_ == MAP_FAILED) {
    memory_ = nullptr;
    throw std::system_error(errno, std::generic_category(), "mmap for the scoreboard");
  }
  // Anonymous memory is zeroed: every counter starts at 0 and every slot is free.
  master_ = new (memory_) master_counters{};
  master_->started_unix_seconds.store(static_cast<std::uint64_t>(std::time(nullptr)));
  slots_ = reinterpret_cast<worker_slot*>(static_cast<char*>(memory_) + sizeof(master_counters));
  for (std::size_t i = 0; i < capacity; ++i) {
    new (&slots_[i]) worker_slot{};
    slots_[i].state.store(worker_state::free);
  }
}

scoreboard::~scoreboard() {
  if (memory_ != nullptr) munmap(memory_, size_);
}

worker_slot* scoreboard::claim() noexcept {
  for (std::size_t i = 0; i < capacity_; ++i) {
    worker_slot& slot = slots_[i];
    if (slot.state.load() == worker_state::free) {
      slot.heartbeat_ms.store(monotonic_ms());
      slot.requests.store(0);
      slot.oldest_request_ms.store(0);
      slot.pid.store(0);
      // The slot's counts went to retired when it was freed: it starts from nothing.
      slot.counted.~request_counters();
      new (&slot.counted) request_counters{};
      slot.gauges.~worker_gauges();
      new (&slot.gauges) worker_gauges{};
      slot.gauges.started_ms.store(monotonic_ms());
      slot.state.store(worker_state::booting);
      return &slot;
    }
  }
  return nullptr;
}

void scoreboard::release(worker_slot& slot) noexcept {
  // Readers see either the slot's counts or the retired ones that include them, never both:
  // they read again while folding is odd, or when it changed under them.
  master_->folding.fetch_add(1);
  master_->retired.add(slot.counted);
  slot.state.store(worker_state::free);
  master_->folding.fetch_add(1);
}

std::uint64_t monotonic_ms() noexcept {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000 +
         static_cast<std::uint64_t>(now.tv_nsec) / 1000000;
}

}  // namespace kiln
