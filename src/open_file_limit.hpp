#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln {

// Descriptors a worker keeps for what is not a connection: the loop, logs, the memfds of held
// static files (file_cache::max_memory_files), files the app opens.
inline constexpr std::size_t descriptors_kept = 64;

// How many connections a worker takes at once: worker_connections, or fewer when the open file
// limit cannot hold them. A connection can hold two descriptors (its socket, and a file it
// streams).
std::size_t connection_cap(std::int64_t worker_connections) noexcept;

// At start: the soft limit on open files (often 1024) rises to the hard one, so that every
// worker can hold worker_connections; a limit still too low is said in a warning.
void raise_open_file_limit(std::int64_t worker_connections);

}  // namespace kiln
