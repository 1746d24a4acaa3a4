#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "scoreboard.hpp"

namespace kiln {

// Counts one request in a worker's slot: answered, refused, or left by its client (status 499).
void count_request(request_counters& counts, answerer who, int status, std::uint64_t body_bytes,
                   std::uint64_t duration_us) noexcept;

// The sums of every worker's counts, live and exited, and of the live workers' gauges.
struct board_totals {
  std::uint64_t requests[static_cast<std::size_t>(answerer::count)][5] = {};
  std::uint64_t durations[duration_bounds_us.size() + 1] = {};
  std::uint64_t duration_sum_us = 0;
  std::uint64_t received_bytes = 0;
  std::uint64_t body_bytes = 0;
  std::uint64_t connections = 0;
  std::uint64_t idle_connections = 0;
  std::uint64_t python_waiting = 0;
  std::uint64_t python_busy = 0;
  std::uint64_t workers[4] = {};  // By worker_state.

  void add(const request_counters& counts) noexcept;
  // Requests of every class and answerer; those of them that were 5xx.
  std::uint64_t all_requests() const noexcept;
  std::uint64_t server_errors() const noexcept;
};
board_totals read_totals(const scoreboard& board);

// The master, once a second with metrics_bind: the totals into the board's history ring.
void record_history(scoreboard& board, std::uint64_t unix_ms) noexcept;

// The server's metrics in Prometheus's text format (version 0.0.4), for metrics_bind: the
// totals of every worker, live and exited, from the scoreboard, so that any worker can answer
// for all; the workers' gauges as of their last heartbeat; the accept queues of listen_fds
// (this worker's listening sockets) from the kernel.
std::string render_metrics(const scoreboard& board, std::span<const int> listen_fds);

}  // namespace kiln
