#include "metrics.hpp"

#include <ctime>
#include <iterator>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <tuple>

#include <fmt/format.h>

#include "python/build_info.hpp"
#include "socket_address.hpp"

namespace kiln {
namespace {

void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

std::string seconds(std::uint64_t microseconds) {
  return fmt::format("{}", static_cast<double>(microseconds) / 1e6);
}

}  // namespace

void board_totals::add(const request_counters& counts) noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  for (std::size_t who = 0; who < counts.requests.size(); ++who) {
    for (std::size_t type = 0; type < 5; ++type)
      requests[who][type] += counts.requests[who][type].load(relaxed);
  }
  for (std::size_t bucket = 0; bucket < counts.durations.size(); ++bucket)
    durations[bucket] += counts.durations[bucket].load(relaxed);
  duration_sum_us += counts.duration_sum_us.load(relaxed);
  received_bytes += counts.received_bytes.load(relaxed);
  body_bytes += counts.body_bytes.load(relaxed);
}

std::uint64_t board_totals::all_requests() const noexcept {
  std::uint64_t sum = 0;
  for (const auto& by_class : requests) {
    for (std::uint64_t count : by_class)
      sum += count;
  }
  return sum;
}

std::uint64_t board_totals::server_errors() const noexcept {
  std::uint64_t sum = 0;
  for (const auto& by_class : requests)
    sum += by_class[4];
  return sum;
}

// Every live slot and the retired counts.
board_totals read_totals(const scoreboard& board) {
  board_totals sum;
  board.read_consistently([&] {
    sum = {};
    sum.add(board.master().retired);
    for (std::size_t i = 0; i < board.capacity(); ++i) {
      const worker_slot& slot = board.slot(i);
      auto state = slot.state.load();
      if (state == worker_state::free) continue;
      sum.add(slot.counted);
      sum.workers[static_cast<std::size_t>(state)] += 1;
      sum.connections += slot.gauges.connections.load(std::memory_order_relaxed);
      sum.idle_connections += slot.gauges.idle_connections.load(std::memory_order_relaxed);
      sum.python_waiting += slot.gauges.python_waiting.load(std::memory_order_relaxed);
      sum.python_busy += slot.gauges.python_busy.load(std::memory_order_relaxed);
    }
  });
  return sum;
}

void record_history(scoreboard& board, std::uint64_t unix_ms) noexcept {
  board_totals totals = read_totals(board);
  master_counters& master = board.master();
  std::uint64_t taken = master.history_taken.load();
  history_sample& sample = master.history[taken % history_length];
  sample.sequence.fetch_add(1);
  sample.unix_ms.store(unix_ms);
  sample.requests.store(totals.all_requests());
  sample.errors.store(totals.server_errors());
  for (std::size_t bucket = 0; bucket < sample.durations.size(); ++bucket)
    sample.durations[bucket].store(totals.durations[bucket]);
  sample.sequence.fetch_add(1);
  master.history_taken.store(taken + 1);
}

void count_request(request_counters& counts, answerer who, int status, std::uint64_t body_bytes,
                   std::uint64_t duration_us) noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  std::size_t type = status >= 100 && status < 600 ? static_cast<std::size_t>(status / 100 - 1) : 4;
  counts.requests[static_cast<std::size_t>(who)][type].fetch_add(1, relaxed);
  std::size_t bucket = 0;
  while (bucket < duration_bounds_us.size() && duration_us > duration_bounds_us[bucket])
    ++bucket;
  counts.durations[bucket].fetch_add(1, relaxed);
  counts.duration_sum_us.fetch_add(duration_us, relaxed);
  counts.body_bytes.fetch_add(body_bytes, relaxed);
}

std::string render_metrics(const scoreboard& board, std::span<const int> listen_fds) {
  board_totals sum = read_totals(board);
  const master_counters& master = board.master();
  std::string out;
  auto line = [&](std::string_view name, std::string_view labels, const auto& value) {
    if (labels.empty()) {
      fmt::format_to(std::back_inserter(out), "{} {}\n", name, value);
    } else {
      fmt::format_to(std::back_inserter(out), "{}{{{}}} {}\n", name, labels, value);
    }
  };

  family(out, "kiln_build_info", "gauge", "kiln's version and the Python it embeds.");
  line("kiln_build_info",
       fmt::format("version=\"{}\",python=\"{}\"", KILN_VERSION, python::built_version), 1);
  family(out, "kiln_start_time_seconds", "gauge", "When the master started, in Unix time.");
  line("kiln_start_time_seconds", "", master.started_unix_seconds.load());
  family(out, "kiln_uptime_seconds", "gauge", "Seconds since the master started.");
  line("kiln_uptime_seconds", "",
       static_cast<std::uint64_t>(std::time(nullptr)) - master.started_unix_seconds.load());

  family(out, "kiln_http_requests_total", "counter",
         "Requests by status class and by who answered them (kiln: refused, or left by the "
         "client, as 499).");
  for (std::size_t who = 0; who < std::size(answerer_names); ++who) {
    for (std::size_t type = 0; type < 5; ++type) {
      line("kiln_http_requests_total",
           fmt::format("code=\"{}xx\",handler=\"{}\"", type + 1, answerer_names[who]),
           sum.requests[who][type]);
    }
  }
  family(out, "kiln_http_request_duration_seconds", "histogram",
         "From a request's first byte to the end of its response.");
  std::uint64_t cumulative = 0;
  for (std::size_t bucket = 0; bucket < duration_bounds_us.size(); ++bucket) {
    cumulative += sum.durations[bucket];
    line("kiln_http_request_duration_seconds_bucket",
         fmt::format("le=\"{}\"", seconds(duration_bounds_us[bucket])), cumulative);
  }
  cumulative += sum.durations[duration_bounds_us.size()];
  line("kiln_http_request_duration_seconds_bucket", "le=\"+Inf\"", cumulative);
  line("kiln_http_request_duration_seconds_sum", "", seconds(sum.duration_sum_us));
  line("kiln_http_request_duration_seconds_count", "", cumulative);
  family(out, "kiln_http_received_bytes_total", "counter", "Bytes read from clients.");
  line("kiln_http_received_bytes_total", "", sum.received_bytes);
  family(out, "kiln_http_response_body_bytes_total", "counter", "Response body bytes sent.");
  line("kiln_http_response_body_bytes_total", "", sum.body_bytes);

  // The workers' gauges, as of each one's last heartbeat.
  for (auto [name, help, value] : {
           std::tuple{"kiln_connections_open", "Client connections open.", sum.connections},
           std::tuple{"kiln_connections_idle", "Keep-alive connections waiting for a next request.",
                      sum.idle_connections},
           std::tuple{"kiln_python_requests_waiting", "Requests waiting for a Python thread.",
                      sum.python_waiting},
           std::tuple{"kiln_python_threads_busy", "Python threads working on a request.",
                      sum.python_busy},
       }) {
    family(out, name, "gauge", fmt::format("{} As of each worker's last heartbeat.", help));
    line(name, "", value);
  }

  family(out, "kiln_listen_queue_length", "gauge",
         "Connections the kernel has queued for accept() on a listening TCP socket.");
  std::string limits;
  for (int fd : listen_fds) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    tcp_info info{};
    socklen_t info_length = sizeof info;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        (address.ss_family != AF_INET && address.ss_family != AF_INET6) ||
        ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &info_length) != 0) {
      continue;
    }
    // On a listening socket, the kernel reports its accept queue here.
    std::string label = fmt::format("listener=\"{}\"", address_text(address));
    line("kiln_listen_queue_length", label, info.tcpi_unacked);
    limits += fmt::format("kiln_listen_queue_limit{{{}}} {}\n", label, info.tcpi_sacked);
  }
  family(out, "kiln_listen_queue_limit", "gauge", "The accept queue's length limit (backlog).");
  out += limits;

  family(out, "kiln_workers", "gauge", "Worker processes by state.");
  for (std::size_t state = 1; state < std::size(worker_state_names); ++state)
    line("kiln_workers", fmt::format("state=\"{}\"", worker_state_names[state]),
         sum.workers[state]);
  family(out, "kiln_worker_starts_total", "counter", "Worker processes started.");
  line("kiln_worker_starts_total", "", master.worker_starts.load());
  family(out, "kiln_worker_exits_total", "counter", "Worker processes that exited, by cause.");
  for (std::size_t cause = 0; cause < std::size(exit_cause_names); ++cause) {
    line("kiln_worker_exits_total", fmt::format("cause=\"{}\"", exit_cause_names[cause]),
         master.exits[cause].load());
  }
  return out;
}

}  // namespace kiln
