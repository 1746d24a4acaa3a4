#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <random>
#include <span>
#include <vector>

#include <uv.h>

#include <kiln/app.hpp>

#include "access_log.hpp"
#include "connection.hpp"
#include "dispatcher.hpp"
#include "forwarded.hpp"
#include "http_date.hpp"
#include "output_batch.hpp"
#include "python/app_host.hpp"
#include "python/errands.hpp"
#include "request_parser.hpp"
#include "scoreboard.hpp"
#include "settings.hpp"
#include "timeout_queue.hpp"

namespace kiln {

// How long a worker that got TERM still accepts after shutdown_delay: the master turns new
// clients away then, and those whose connections the kernel had just made still come in.
inline constexpr std::uint64_t last_accept_ms = 250;

// One worker's event loop: it accepts connections on the listening sockets it inherited, serves
// them, and stops gracefully on request. A worker builds its own libuv loop, so that nothing of
// the master's loop (its epoll set, its signal pipe) is shared across fork.
class worker {
 public:
  // The listening sockets are borrowed: the master owns them. The worker reports to its slot on
  // the master's scoreboard, when it has one, and with metrics_bind serves the board's metrics
  // on metrics_fd. Throws std::system_error when a setting cannot be applied (a static root that
  // does not exist), python::app_load_error when the Python app cannot be loaded.
  worker(const settings& config, std::span<const int> listen_fds, worker_slot* slot = nullptr,
         const app* application = nullptr, const scoreboard* board = nullptr, int metrics_fd = -1);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  // Serves until stopped; returns the process exit code.
  int run();
  // TERM: readiness fails at once; after shutdown_delay the worker stops gracefully. run()
  // returns once every connection is closed, or after graceful_timeout.
  void begin_shutdown() noexcept;
  // Answers the connections the kernel has queued, stops accepting, lets requests in flight
  // finish and closes idle connections.
  void stop_gracefully() noexcept;
  // INT, QUIT: stops accepting and closes every connection now.
  void stop_now() noexcept;
  // False once a shutdown has begun: what the readiness endpoint reports.
  bool ready() const noexcept { return !shutting_down_; }
  // True when handlers may want request::peer: computing it costs a system call.
  bool wants_peer() const noexcept { return dispatcher_->wants_peer(); }
  // Where connections count their requests, when the metrics are on; nullptr otherwise.
  request_counters* counters() noexcept { return counting_ ? &slot_->counted : nullptr; }
  // A request on metrics_bind: GET /metrics.
  void answer_metrics(const request& req, responder& out) noexcept;

  // What connections share.
  uv_loop_t* loop() noexcept { return &loop_; }
  const request_limits& limits() const noexcept { return limits_; }
  output_batch& batch() noexcept { return batch_; }
  // The bytes of the buffers files are streamed through, which connections keep to a budget.
  std::size_t& piece_bytes() noexcept { return piece_bytes_; }
  std::string_view date() noexcept { return date_.now(); }
  uv_buf_t read_buffer() noexcept {
    return uv_buf_init(read_buffer_.get(), static_cast<unsigned>(read_buffer_size));
  }
  bool keeps_alive() const noexcept { return keepalive_enabled_ && !shutting_down_; }
  timeout_queue& queue(timeout_kind kind) noexcept {
    return timeouts_[static_cast<std::size_t>(kind)];
  }
  void arm(connection& c, timeout_kind kind) noexcept;
  // body_min_rate: true when a body begun at started_ms (the loop's clock), with received bytes
  // so far, has had more than body_timeout and a second for every body_min_rate bytes.
  bool body_too_slow(std::uint64_t started_ms, std::uint64_t received) noexcept;
  // Has a complete request answered, now or later.
  answerer dispatch(request& req, responder& out) noexcept;
  void connection_opened() noexcept {
    ++connections_;
    busiest_ = std::max(busiest_, connections_);
  }

  // What trusted proxies say of a request: its scheme and client.
  const forwarding& forwarded() const noexcept { return forwarding_; }
  // proxy_protocol: connections start with a PROXY header, from these peers only.
  bool expects_proxy_header() const noexcept { return config_.proxy_protocol; }
  const trusted_peers& proxy_trusted() const noexcept { return proxy_trusted_; }
  // The access log, or nullptr when it is off.
  access_log* access() noexcept { return access_log_.get(); }
  // False for the health checks the access log leaves out.
  bool logs(const request& req) const noexcept {
    return config_.log_health_checks ||
           (req.path != config_.health_path && req.path != config_.ready_path);
  }
  // Writes a new random request ID: 32 hexadecimal digits.
  void make_request_id(char (&id)[32]) noexcept;
  void connection_closed() noexcept;

 private:
  // At worker_connections with a client waiting: closes the connection that holds a slot
  // least usefully, if any does.
  void make_room() noexcept;
  // After shutdown_delay: new clients are turned away, and the worker stops accepting soon.
  void turn_clients_away() noexcept;
  // Returns the allocator's free memory to the system once a flood of connections has gone.
  void return_memory() noexcept;
  // Each heartbeat, with the metrics on: the gauges in the slot.
  void report_gauges() noexcept;
  // How long a request head or body must have stood still to give up its slot to a new client.
  static constexpr std::uint64_t stalled_ms = 1000;
  static constexpr std::size_t read_buffer_size = 64 * 1024;

  struct listening {
    stream_handle handle;
    worker* owner;
    bool waiting = false;  // At worker_connections: libuv holds one accepted socket for later.
    bool metrics = false;  // metrics_bind's socket.
  };

  static void on_connection(uv_stream_t* server, int status) noexcept;
  static void on_timer(uv_timer_t* timer) noexcept;
  static void on_signal(uv_signal_t* signal, int number) noexcept;
  static void on_graceful_deadline(uv_timer_t* timer) noexcept;
  static void on_heartbeat(uv_timer_t* timer) noexcept;
  static void on_accept_gate(uv_check_t* check) noexcept;
  // True while the worker takes new connections: below worker_connections, and the Python
  // app's threads not all busy with more waiting.
  bool accepting() const noexcept;
  void accept_queued(listening& entry) noexcept;
  // Readiness fails from now on, and graceful_timeout starts to run.
  void start_shutdown_clock() noexcept;
  void accept_waiting() noexcept;
  void schedule_timer() noexcept;
  void expire_timeouts() noexcept;
  void finish_if_done() noexcept;
  template <typename Function>
  void for_each_connection(Function function) noexcept;

  const settings& config_;
  request_limits limits_;
  uv_loop_t loop_;
  uv_timer_t timer_;
  uv_timer_t graceful_deadline_;
  uv_timer_t heartbeat_;
  uv_timer_t shutdown_delay_;
  uv_check_t accept_gate_;  // Active while a listener waits: accepts again when there is room.
  std::array<uv_signal_t, 5> signals_;  // TERM, INT, QUIT, USR1, ABRT.
  std::vector<std::unique_ptr<listening>> listeners_;
  std::array<timeout_queue, timeout_kind_count> timeouts_;
  std::uint64_t timer_due_ = 0;  // When timer_ fires next; 0 when it is stopped.
  std::unique_ptr<char[]> read_buffer_;
  output_batch batch_;
  http_date date_;
  std::unique_ptr<python::app_host> python_;
  // With an interpreter in the worker (a Python app, or a Python config file's hooks).
  std::unique_ptr<python::errands> errands_;
  std::unique_ptr<dispatcher> dispatcher_;
  std::unique_ptr<access_log> access_log_;
  forwarding forwarding_;
  trusted_peers proxy_trusted_;
  std::mt19937_64 random_;
  worker_slot* slot_;
  const scoreboard* board_;
  bool counting_;             // With metrics_bind and a slot: requests are counted in it.
  std::string metrics_text_;  // The last scrape's answer, reused.
  pid_t parent_;              // The master; when it is gone, the worker stops.
  std::uint64_t requests_ = 0;
  std::size_t connections_ = 0;
  bool making_room_ = false;  // A connection closed to make room is closing.
  std::size_t piece_bytes_ = 0;
  std::size_t busiest_ = 0;             // The most connections since memory was last returned.
  std::uint64_t made_room_ = 0;         // Connections closed to make room, for the log.
  std::uint64_t room_reported_ms_ = 0;  // When the log last said so.
  bool keepalive_enabled_ = true;
  std::size_t connection_cap_;  // connection_cap(worker_connections).
  bool shutting_down_ = false;  // TERM came: not ready, no more keep-alive.
  bool stopping_ = false;       // Not accepting any more.
};

}  // namespace kiln
