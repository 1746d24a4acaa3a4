#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <uv.h>

#include "request_reader.hpp"
#include "responder.hpp"
#include "response_head.hpp"
#include "scoreboard.hpp"
#include "timeout_queue.hpp"

namespace kiln {

class worker;

// The kinds of waiting a connection does, each with its own timeout setting.
enum class timeout_kind : std::uint8_t {
  header,     // For the rest of a request head (header_timeout); slow clients get 408.
  body,       // Between two reads of a request body (body_timeout); 408.
  keepalive,  // Idle between requests (keepalive); closed quietly.
  send,       // For the client to take a response (send_timeout); dropped.
  linger,     // After an error response, reading what the client still sends, so that the kernel
              // does not reset the connection before the client has read the response.
  last_call,  // Idle on a stopping worker: a request that comes now is answered, with
              // Connection: close; after it, the connection closes.
};
inline constexpr std::size_t timeout_kind_count = 6;

// How long an idle connection of a stopping worker waits for its next request. A client that
// has sent nothing for this long after its last answer is not answering it: closing then risks
// only the race every keep-alive close has, which clients retry (RFC 9112, 9.3.1). Closing at
// once would reset the requests of clients that were already sending their next one.
inline constexpr std::uint64_t last_call_ms = 1000;

// A libuv stream of either kind a listener can accept: TCP or a unix socket.
union stream_handle {
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
  uv_handle_t handle;
};

// One client connection. It reads requests, has each answered in order (at once, or later by
// the Python app), and writes every answer produced by one read with a single writev. It reads
// into the worker's shared buffer (see request_reader), so an idle keep-alive connection costs
// little.
//
// A connection frees itself in its uv_close callback.
class connection final : public timeout_link,
                         private request_sink,
                         private responder,
                         private response_writer {
 public:
  // metrics: accepted on metrics_bind, where only the metrics are served.
  explicit connection(worker& owner, bool metrics = false) noexcept;
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() override;

  // Takes the listener's next connection and starts serving it. On failure the connection is
  // closed (and freed) and false is returned.
  bool start(uv_stream_t* listener) noexcept;
  // Serves a socket accepted outside libuv; the connection owns fd from now on.
  bool start(int fd, bool unix_socket) noexcept;
  // The timeout it waited in has expired; the worker has already taken it out of the queue.
  void on_timeout(timeout_kind kind) noexcept;
  // The worker is stopping: an idle connection closes now, a busy one after its response.
  void drain() noexcept;
  // Closes at once, dropping whatever is unsent; an answer still being made is abandoned.
  void close() noexcept;

 private:
  // Where the connection is in its life. What it waits for in each phase follows from the
  // phase and from what is pending (writes, a file, the reader's state): see settle().
  enum class phase : std::uint8_t {
    reading,    // Between requests, or reading one: the reader knows which.
    answering,  // A response is still coming: from the app (deferred_) or a file (file_).
    closing,    // The last response is being written; then the connection closes or lingers.
    lingering,  // Half-closed after an error response, dropping what the client still sends.
    closed,     // uv_close was called; the close callback frees the connection.
  };
  // How the body of a response being written is delimited.
  enum class framing : std::uint8_t {
    none,            // No body: HEAD, 204, 304.
    content_length,  // body_left_ more bytes.
    chunked,         // HTTP/1.1 without a Content-Length.
    until_close,     // HTTP/1.0 without a Content-Length: the connection's end ends the body.
  };
  struct pending_write;
  struct file_stream;

  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buffer) noexcept;
  static void on_read(uv_stream_t* stream, ssize_t size, const uv_buf_t* buffer) noexcept;
  static void on_write(uv_write_t* request, int status) noexcept;
  static void on_shutdown(uv_shutdown_t* request, int status) noexcept;
  static void on_close(uv_handle_t* handle) noexcept;
  static void on_file_read(uv_fs_t* request) noexcept;

  bool init_handle(bool unix_socket) noexcept;
  void begin() noexcept;
  // Reads and answers what the socket holds now, without waiting; true when it held nothing.
  bool read_available() noexcept;
  void received(const char* data, std::size_t size) noexcept;
  // With proxy_protocol: takes the PROXY header from the bytes first received, and leaves the
  // rest for the reader; false when the rest must wait (or the connection closed).
  bool take_proxy_header(const char*& data, std::size_t& size) noexcept;
  // Rejects the request when parsing failed.
  void parsed(request_parser::status state) noexcept;

  // Writes what the worker's batch holds, then decides what comes next.
  void flush() noexcept;
  void write_batch() noexcept;
  void settle() noexcept;
  // One step of settle(); true when a response ended in it and the connection must settle again.
  bool settle_step() noexcept;
  // What comes after a response is complete: the next request, or the end.
  void answered() noexcept;
  // Sends the next piece of a file being streamed, or finishes it when it is all sent. True when
  // a static file's response is over and the caller must settle the connection again.
  bool stream_file() noexcept;
  // Sends what of the file the socket takes now with sendfile; false when it failed.
  bool send_file_directly(file_stream& file) noexcept;
  // Sets or clears TCP_CORK; false when it could not.
  bool set_cork(bool on) noexcept;
  void read_file_piece(file_stream& file) noexcept;
  // A piece of size bytes was read (or, negative, a libuv error): it goes to the socket.
  void piece_read(file_stream& file, ssize_t size) noexcept;
  // Writes a piece just read; what a full socket does not take goes back to the file.
  void send_piece(file_stream& file, std::size_t size) noexcept;
  // Writes bytes that stay valid until the write completes (a streamed file's buffer).
  void write_borrowed(const char* data, std::size_t size) noexcept;
  // Hands a write to libuv, which calls on_write when it is done; closes on failure.
  void queue_write(std::unique_ptr<pending_write> pending, const uv_buf_t* buffers,
                   std::size_t count) noexcept;
  void start_reading() noexcept;
  void stop_reading() noexcept;
  void start_lingering() noexcept;
  // Answers a request that cannot be served (malformed, over a limit, too slow) and closes.
  void reject(int status, std::string_view reason) noexcept;

  // request_sink
  void on_request_head(request& req) noexcept override;
  void on_request_body(request& req, std::string_view chunk) noexcept override;
  bool on_request_complete(request& req) noexcept override;

  // responder
  void send(int status, std::string_view headers, std::string_view more_headers,
            std::string_view body) noexcept override;
  void send_shared(int status, std::string_view headers, std::string_view more_headers,
                   output_batch::shared_bytes owner, std::string_view body) noexcept override;
  void send_file(int status, std::string_view headers, std::string_view more_headers, int fd,
                 std::uint64_t offset, std::uint64_t length, bool in_memory) noexcept override;
  void send_status(int status, std::string_view headers) noexcept override;
  response_writer& defer(deferred_response& work) noexcept override;
  void append_head(int status, std::string_view headers, std::string_view more_headers,
                   std::optional<std::uint64_t> body_size, std::string_view reason = {}) noexcept;

  // response_writer: a deferred response's pieces, as they arrive.
  void write(const response_part& part) noexcept override;
  void fail(int status) noexcept override;
  void write_deferred_head(const response_part& part) noexcept;
  void write_deferred_body(std::string_view bytes) noexcept;
  void end_deferred(bool complete) noexcept;

  // The access log's line for the request just answered, when the log is on.
  // Counts the request in the metrics and writes its access log line, when either is on.
  void record_request(const request& req) noexcept;
  // The worker's counters, unless this connection serves the metrics (scrapes are not counted).
  request_counters* counters() noexcept;
  // True when requests are timed: for the access log, or the metrics.
  bool measures() noexcept;
  // Logs a request that was refused (4xx) or cut short before it was complete, with what had
  // arrived of it.
  void log_unfinished() noexcept;
  // Takes the client's X-Request-ID, or makes one, for the request being answered.
  void assign_request_id(request& req) noexcept;
  // The client's address, "127.0.0.1:50312", and the one it connected to, looked up once.
  std::string_view peer() noexcept;
  std::string_view server() noexcept;

  worker& worker_;
  stream_handle handle_;
  request_reader reader_;
  std::unique_ptr<uv_shutdown_t> shutdown_;
  std::unique_ptr<file_stream> file_;         // A response body being sent from a file.
  std::unique_ptr<std::string> proxy_bytes_;  // While a PROXY header is awaited: what came.
  deferred_response* deferred_ = nullptr;     // Work whose answer is awaited.
  std::string peer_;
  std::string server_;
  std::string request_id_line_;  // "X-Request-ID: ...\r\n" for the response being written.
  // For the access log: when the request began, and what its response was.
  std::uint64_t request_started_ns_ = 0;
  answerer answered_by_ = answerer::kiln;  // Who answers the request being recorded.
  bool metrics_ = false;
  std::uint64_t body_started_ms_ = 0;  // When the head was complete, on the loop's clock.
  std::uint64_t body_received_ = 0;    // Body bytes of the current request so far.
  std::uint64_t response_bytes_ = 0;
  std::array<std::string_view, 3> response_headers_;
  std::string deferred_headers_;  // A deferred response's header lines, kept for the log.
  int response_status_ = 0;
  // The body of a deferred response being written.
  std::uint64_t body_left_ = 0;  // With framing::content_length.
  std::size_t untaken_ = 0;      // Body bytes written but not yet reported taken.
  std::uint32_t requests_ = 0;
  std::uint32_t pending_writes_ = 0;
  connection_mode mode_ = connection_mode::keep_alive;  // For the response being written.
  phase phase_ = phase::reading;
  framing framing_ = framing::none;
  bool head_request_ = false;  // The response has no body: HEAD.
  bool reading_ = false;
  bool linger_ = false;  // Closing lingers: the client may still be sending.
  bool draining_ = false;
  bool head_written_ = false;  // A deferred response's head went out.
};

}  // namespace kiln
