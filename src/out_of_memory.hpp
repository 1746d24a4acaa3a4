#pragma once

namespace kiln {

// A worker that runs out of memory exits with this code, and the master replaces it.
inline constexpr int worker_out_of_memory = 5;

// The one policy for memory on a worker's data path: an allocation that fails ends the worker
// at once (a line on stderr, exit code worker_out_of_memory) instead of being handled where it
// happens. Half-served requests cannot be answered well without memory, and a fresh worker
// starts with none of what exhausted this one; the master logs it and starts one. Python's own
// MemoryError is the app's, and stays an exception in the request that raised it.
void end_worker_when_memory_runs_out() noexcept;

}  // namespace kiln
