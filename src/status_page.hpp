#pragma once

#include <string>
#include <string_view>

#include "scoreboard.hpp"

namespace kiln {

// The live status page served at status_path on metrics_bind: one HTML document with its
// script and styles inline (nothing fetched from elsewhere), which polls status_json once a
// second and draws the workers, and requests per second and latency percentiles over the last
// five minutes, from the history the master samples.
std::string_view status_page_html() noexcept;

// The scoreboard as the page reads it: each worker (pid, age, requests, busy Python threads,
// state), the request and duration totals, worker starts and exits by cause, and the history.
std::string status_json(const scoreboard& board);

}  // namespace kiln
