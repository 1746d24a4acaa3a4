#include "scoreboard.hpp"

#include <cerrno>
#include <ctime>
#include <new>
#include <sys/mman.h>
#include <system_error>

namespace kiln {

scoreboard::scoreboard(std::size_t capacity) : capacity_(capacity) {
  void* memory = mmap(nullptr, capacity * sizeof(worker_slot), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    throw std::system_error(errno, std::generic_category(), "mmap for the scoreboard");
  }
  slots_ = static_cast<worker_slot*>(memory);
  for (std::size_t i = 0; i < capacity; ++i) {
    new (&slots_[i]) worker_slot{};
    slots_[i].state.store(worker_state::free);
  }
}

scoreboard::~scoreboard() {
  if (slots_ != nullptr) munmap(slots_, capacity_ * sizeof(worker_slot));
}

worker_slot* scoreboard::claim() noexcept {
  for (std::size_t i = 0; i < capacity_; ++i) {
    worker_slot& slot = slots_[i];
    if (slot.state.load() == worker_state::free) {
      slot.heartbeat_ms.store(monotonic_ms());
      slot.requests.store(0);
      slot.oldest_request_ms.store(0);

      slot.state.store(worker_state::booting);
      return &slot;
    }
  }
  return nullptr;
}

void scoreboard::release(worker_slot& slot) noexcept {
  slot.state.store(worker_state::free);
}

std::uint64_t monotonic_ms() noexcept {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1000 +
         static_cast<std::uint64_t>(now.tv_nsec) / 1000000;
}

}  // namespace kiln
