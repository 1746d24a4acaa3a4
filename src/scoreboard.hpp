#pragma once

#include <array>
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
inline constexpr const char* worker_state_names[] = {"free", "booting", "ready", "stopping"};

// Who answered a request, for the metrics.
enum class answerer : std::uint8_t { health, static_files, route, python, kiln, count };
inline constexpr const char* answerer_names[] = {"health", "static", "route", "python", "kiln"};
// Why a worker exited, for the metrics.
enum class exit_cause : std::uint8_t {
  crash,       // Died unexpectedly, or ran out of memory.
  timeout,     // WORKER TIMEOUT: aborted by the master.
  recycle,     // max_requests reached.
  reload,      // Replaced by HUP (or reload) with a new configuration.
  scale_down,  // TTOU.
  shutdown,    // The server stopped.
  count
};
inline constexpr const char* exit_cause_names[] = {"crash",  "timeout",    "recycle",
                                                   "reload", "scale_down", "shutdown"};

// The upper bounds of the request duration histogram's buckets, in microseconds: Prometheus's
// defaults (5 ms to 10 s), and below them what a file from memory takes (100 us to 1 ms); +Inf
// is the count.
inline constexpr std::array<std::uint64_t, 15> duration_bounds_us = {
    100,    250,    500,    1000,    5000,    10000,   25000,   50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

// Monotonic counters of the requests a worker answered. They live in shared memory; the
// worker adds with relaxed atomics, and anyone may read them.
struct request_counters {
  // By status class (1xx to 5xx) and by who answered.
  std::array<std::array<std::atomic<std::uint64_t>, 5>, static_cast<std::size_t>(answerer::count)>
      requests;
  // Requests whose duration fell in each bucket (not cumulative).
  std::array<std::atomic<std::uint64_t>, duration_bounds_us.size() + 1> durations;
  std::atomic<std::uint64_t> duration_sum_us;
  std::atomic<std::uint64_t> received_bytes;  // Bytes read from clients.
  std::atomic<std::uint64_t> body_bytes;      // Response body bytes sent.

  // Adds other's counts to these (the master, when a worker's slot is freed).
  void add(const request_counters& other) noexcept;
};

// What a worker's loop reports each heartbeat: its gauges.
struct worker_gauges {
  std::atomic<std::uint64_t> connections;       // Open client connections.
  std::atomic<std::uint64_t> idle_connections;  // Of those, waiting for a next request.
  std::atomic<std::uint64_t> python_waiting;    // Requests waiting for a Python thread.
  std::atomic<std::uint64_t> python_busy;       // Python threads working on a request.
  std::atomic<std::uint64_t> started_ms;        // When the worker was forked (monotonic).
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
  std::atomic<pid_t> pid;
  request_counters counted;
  worker_gauges gauges;
};

// The server's totals at one moment, for the status page's charts; the master takes one a second.
struct history_sample {
  std::atomic<std::uint64_t> sequence;  // Odd while the master writes the sample.
  std::atomic<std::uint64_t> unix_ms;
  std::atomic<std::uint64_t> requests;
  std::atomic<std::uint64_t> errors;  // 5xx.
  std::array<std::atomic<std::uint64_t>, duration_bounds_us.size() + 1> durations;
};
// Five minutes of samples.
inline constexpr std::size_t history_length = 300;

// What the master counts, beside the slots.
struct master_counters {
  // Odd while the master folds a freed slot's counts into retired: readers try again.
  std::atomic<std::uint64_t> folding;
  request_counters retired;  // The counts of every worker that has exited.
  std::atomic<std::uint64_t> worker_starts;
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(exit_cause::count)> exits;
  std::atomic<std::uint64_t> started_unix_seconds;
  std::array<history_sample, history_length> history;  // A ring; history_taken % length is next.
  std::atomic<std::uint64_t> history_taken;
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<worker_state>::is_always_lock_free);
static_assert(std::atomic<pid_t>::is_always_lock_free);

// The scoreboard: shared memory the master maps before it forks any worker, one slot per
// worker. Workers prove they are alive through it and count their requests in it; any process
// can read the totals (the metrics).
class scoreboard {
 public:
  // Maps room for this many workers; throws std::system_error.
  explicit scoreboard(std::size_t capacity);
  ~scoreboard();
  scoreboard(const scoreboard&) = delete;
  scoreboard& operator=(const scoreboard&) = delete;

  // A free slot, now marked booting with a fresh heartbeat; nullptr when all are taken.
  worker_slot* claim() noexcept;
  // The worker has exited: its counts join the retired ones, and the slot is free.
  void release(worker_slot& slot) noexcept;

  master_counters& master() noexcept { return *master_; }
  const master_counters& master() const noexcept { return *master_; }
  std::size_t capacity() const noexcept { return capacity_; }
  const worker_slot& slot(std::size_t index) const noexcept { return slots_[index]; }

  // Calls read (which starts afresh each time) until it ran while the master folded no slot
  // into the retired counts, so that no count is missed or taken twice; gives up after a few.
  template <typename Read>
  void read_consistently(Read read) const {
    for (int attempt = 0; attempt < 100; ++attempt) {
      std::uint64_t before = master_->folding.load();
      if (before % 2 != 0) continue;
      read();
      if (master_->folding.load() == before) return;
    }
  }

 private:
  void* memory_ = nullptr;
  std::size_t size_ = 0;
  master_counters* master_ = nullptr;
  worker_slot* slots_ = nullptr;
  std::size_t capacity_ = 0;
};

// Milliseconds on CLOCK_MONOTONIC, the clock every process on the machine shares.
std::uint64_t monotonic_ms() noexcept;

}  // namespace kiln
