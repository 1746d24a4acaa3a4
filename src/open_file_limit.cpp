#include "open_file_limit.hpp"

#include <algorithm>
#include <sys/resource.h>

#include <spdlog/spdlog.h>

namespace kiln {

std::size_t connection_cap(std::int64_t worker_connections) noexcept {
  auto cap = static_cast<std::size_t>(worker_connections);
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return cap;
  auto room = static_cast<std::size_t>(limit.rlim_cur);
  return std::clamp<std::size_t>(room > descriptors_kept ? (room - descriptors_kept) / 2 : 1, 1,
                                 cap);
}

void raise_open_file_limit(std::int64_t worker_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  std::size_t cap = connection_cap(worker_connections);
  if (cap < static_cast<std::size_t>(worker_connections)) {
    spdlog::warn(
        "The open file limit ({}) holds {} connections per worker (two descriptors each, for a "
        "streamed file, and {} to spare), not worker_connections ({}): each worker takes {} at "
        "most. Raise the limit (ulimit -n, LimitNOFILE=) or lower worker_connections",
        limit.rlim_cur, cap, descriptors_kept, worker_connections, cap);
  }
}

}  // namespace kiln
