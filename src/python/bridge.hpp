#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <uv.h>

#include "owned_request.hpp"
#include "responder.hpp"

// The boundary between a worker's event loop and the threads that run the Python app. Nothing
// here touches Python: the loop hands a request over as an exchange, and the app's threads send
// the answer back as outbound messages, plain bytes, which the loop drains on a uv_async_t. The
// loop never takes the GIL, and never waits for an app thread.
namespace kiln::python {

class bridge;

// One request on its way through the app, and its answer on the way back. The loop makes it and
// frees it once the app's last message for it is delivered, whether or not anyone still waits
// for the answer; the app thread must not touch it after posting that message.
class exchange final : public deferred_response {
 public:
  // How much of a streamed body may be on its way to the client before the app thread waits.
  static constexpr std::size_t max_in_flight = 256 * 1024;

  // Takes over req (a copy of its views, its body).
  exchange(request& req, bridge& owner);
  exchange(const exchange&) = delete;
  exchange& operator=(const exchange&) = delete;
  ~exchange() override;

  // For the app thread: the request, and whether anyone still waits for the answer.
  const owned_request& incoming() const noexcept { return request_; }
  bool abandoned() const noexcept { return abandoned_.load(std::memory_order_acquire); }
  // Waits until bytes more of the body may be sent (the client has taken enough of what was
  // sent), with nothing held; false when the client is gone.
  bool wait_for_room(std::size_t bytes) noexcept;
  // The app is at work on it (at start, and whenever it produces something), or not: the clock
  // a request that produces nothing for timeout seconds is judged by.
  void working(std::uint64_t now_ms) noexcept { progress_ms_.store(now_ms); }
  void started() noexcept { started_.store(true, std::memory_order_release); }

  // deferred_response, for the connection, on the loop thread.
  const kiln::request& answered_request() const noexcept override { return request_.req; }
  void taken(std::size_t bytes) noexcept override;
  void abandon() noexcept override;

 private:
  friend class bridge;

  owned_request request_;
  bridge& bridge_;
  response_writer* writer_ = nullptr;  // Loop thread only; null once abandoned.
  exchange* previous_ = nullptr;       // The bridge's list of live exchanges (loop thread).
  exchange* next_ = nullptr;
  std::mutex mutex_;
  std::condition_variable room_;
  std::size_t in_flight_ = 0;  // Guarded by mutex_.
  std::atomic<bool> abandoned_{false};
  std::atomic<bool> started_{false};
  std::atomic<std::uint64_t> progress_ms_{0};  // 0 while the app does not work on it.
};

// A part of an answer, from an app thread to the loop. It owns its bytes.
struct outbound {
  exchange* to = nullptr;
  int status = 0;  // With a head; 0 without.
  std::string reason;
  std::string headers;
  std::optional<std::uint64_t> length;
  std::string body;
  int file = -1;
  std::uint64_t file_offset = 0;
  std::uint64_t file_length = 0;
  bool last = false;
  bool complete = true;
};

// The loop's side of the boundary: the live exchanges, and the queue of messages the app's
// threads post, delivered on the loop to each exchange's writer (the connection).
class bridge {
 public:
  // Throws std::system_error when the async handle cannot be made.
  explicit bridge(uv_loop_t* loop);
  ~bridge();
  bridge(const bridge&) = delete;
  bridge& operator=(const bridge&) = delete;

  // Loop thread: a new exchange for req, answered through out.
  exchange& open(request& req, responder& out);
  // Any thread: hands a message to the loop. After close(), messages are dropped.
  void post(outbound message) noexcept;
  // Loop thread: no more deliveries; the handle closes with the loop.
  void close() noexcept;

  // Loop thread: when the oldest request the app works on began producing nothing (0: none),
  // and how many exchanges are live.
  std::uint64_t oldest_progress_ms() const noexcept;
  std::size_t live() const noexcept { return live_; }
  // Loop thread, when the master says the worker is hung: a request the app has produced
  // nothing for since before deadline_ms gets 504, one not started yet 503 (another worker can
  // take it when the client retries); both are abandoned. Returns how many got 504.
  std::size_t give_up_on_hung(std::uint64_t deadline_ms) noexcept;

 private:
  static void on_async(uv_async_t* handle) noexcept;
  void deliver() noexcept;
  void forget(exchange& done) noexcept;

  uv_async_t async_;
  std::mutex mutex_;
  std::vector<outbound> inbox_;     // Guarded by mutex_.
  std::vector<outbound> delivery_;  // Loop thread: the batch being delivered.
  bool closed_ = false;             // Guarded by mutex_.
  exchange* first_ = nullptr;       // Live exchanges, oldest first.
  exchange* last_ = nullptr;
  std::size_t live_ = 0;
};

}  // namespace kiln::python
