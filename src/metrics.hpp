#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "scoreboard.hpp"

namespace kiln {

// Counts one request in a worker's slot: answered, refused, or left by its client (status 499).
void count_request(request_counters& counts, answerer who, int status, std::uint64_t body_bytes,
                   std::uint64_t duration_us) noexcept;

// The server's metrics in Prometheus's text format (version 0.0.4), for metrics_bind: the
// totals of every worker, live and exited, from the scoreboard, so that any worker can answer
// for all; the workers' gauges as of their last heartbeat; the accept queues of listen_fds
// (this worker's listening sockets) from the kernel.
std::string render_metrics(const scoreboard& board, std::span<const int> listen_fds);

}  // namespace kiln
