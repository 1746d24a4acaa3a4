#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <sys/types.h>

namespace kiln {

// What a worker is doing, as its slot tells the master.
enum class worker_state : std::uint32_t {
  free,      // The slot belongs to no worker.
  booting,   // Forked; not serving yet.
  ready,     // Accepting and serving.
  stopping,  // Draining after TERM: no longer accepting.
};

// One worker's slot. The worker writes it; the master reads it. The fields are lock-free
// atomics, which work across processes in shared memory.
struct worker_slot {
  std::atomic<std::uint64_t> heartbeat_ms;  // CLOCK_MONOTONIC, written from the worker's loop.
  std::atomic<std::uint64_t> requests;      // Requests answered.
  // When the oldest request the Python app works on last produced something; 0: none. The loop
  // beats whatever the app's threads do, so a hung request is found by this.
  std::atomic<std::uint64_t> oldest_request_ms;
  std::atomic<worker_state> state;
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<worker_state>::is_always_lock_free);

// The scoreboard: shared memory the master maps before it forks any worker, one slot per
// worker. Workers prove they are alive through it, and count their requests in it.
class scoreboard {
 public:
  // Maps room for this many workers; throws std::system_error.
  explicit scoreboard(std::size_t capacity);
  ~scoreboard();
  scoreboard(const scoreboard&) = delete;
  scoreboard& operator=(const scoreboard&) = delete;

  // A free slot, now marked booting with a fresh heartbeat; nullptr when all are taken.
  worker_slot* claim() noexcept;
  void release(worker_slot& slot) noexcept;

 private:
  worker_slot* slots_ = nullptr;
  std::size_t capacity_ = 0;
};

// Milliseconds on CLOCK_MONOTONIC, the clock every process on the machine shares.
std::uint64_t monotonic_ms() noexcept;

}  // namespace kiln
