#include "connection.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <new>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "log.hpp"
#include "worker.hpp"

namespace kiln {
namespace {

// Past this much unsent output, parsing pauses until the client has taken it: pipelined
// requests cannot make a worker buffer without bound.
constexpr std::size_t batch_high_water = 256 * 1024;

constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

// A write libuv could not finish at once. It owns its bytes and frees itself in its callback,
// which libuv also calls (with UV_ECANCELED) for writes still queued when the handle closes.
struct connection::pending_write {
  uv_write_t request;
  connection* owner;
  output_batch::rest bytes;  // Empty when the bytes belong to a file_stream.
};

// A response body read from a file piece by piece on libuv's thread pool, so that a slow disk
// never blocks the loop, and written as each piece arrives. A read still in flight when the
// connection closes keeps the stream alive until its callback, which then frees it.
struct connection::file_stream {
  static constexpr std::size_t piece_size = 256 * 1024;

  uv_fs_t request;
  connection* owner;
  int fd;
  std::uint64_t offset;
  std::uint64_t remaining;
  std::unique_ptr<char[]> buffer = std::make_unique_for_overwrite<char[]>(piece_size);
  bool reading = false;

  file_stream(connection* o, int file, std::uint64_t from, std::uint64_t length) noexcept
      : owner(o), fd(file), offset(from), remaining(length) {
    request.data = this;
  }
  file_stream(const file_stream&) = delete;
  file_stream& operator=(const file_stream&) = delete;
  ~file_stream() { ::close(fd); }
};

connection::connection(worker& owner) noexcept : worker_(owner), reader_(owner.limits(), *this) {}

connection::~connection() = default;

bool connection::init_handle(bool unix_socket) noexcept {
  int error = unix_socket ? uv_pipe_init(worker_.loop(), &handle_.pipe, 0)
                          : uv_tcp_init(worker_.loop(), &handle_.tcp);
  if (error != 0) {
    // Without an initialized handle there is no close callback to free this connection.
    spdlog::error("uv_tcp_init: {}", uv_error(error));
    delete this;
    return false;
  }
  handle_.handle.data = this;
  worker_.connection_opened();
  return true;
}

bool connection::start(uv_stream_t* listener) noexcept {
  if (!init_handle(listener->type == UV_NAMED_PIPE)) return false;
  if (int error = uv_accept(listener, &handle_.stream); error != 0) {
    spdlog::debug("uv_accept: {}", uv_error(error));
    close();
    return false;
  }
  begin();
  return true;
}

bool connection::start(int fd, bool unix_socket) noexcept {
  if (!init_handle(unix_socket)) {
    ::close(fd);
    return false;
  }
  int error = unix_socket ? uv_pipe_open(&handle_.pipe, fd) : uv_tcp_open(&handle_.tcp, fd);
  if (error != 0) {
    spdlog::debug("uv_tcp_open: {}", uv_error(error));
    ::close(fd);
    close();
    return false;
  }
  begin();
  return true;
}

void connection::begin() noexcept {
  // A new connection gets header_timeout for its first request, not keepalive: a client that
  // connects and sends nothing is a slow client.
  worker_.arm(*this, timeout_kind::header);
  // Listeners defer accept() until the client has sent something, so the request is usually
  // here already: reading it now saves registering the socket with epoll and waiting a loop
  // iteration. A one-request (Connection: close) client never touches epoll at all.
  if (read_available()) start_reading();
}

bool connection::read_available() noexcept {
  uv_os_fd_t fd = -1;
  if (uv_fileno(&handle_.handle, &fd) != 0) return true;
  uv_buf_t buffer = worker_.read_buffer();
  ssize_t size = ::recv(fd, buffer.base, buffer.len, 0);
  if (size > 0) {
    received(buffer.base, static_cast<std::size_t>(size));
    return false;
  }
  if (size < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return true;
  close();  // The client is gone already.
  return false;
}

void connection::start_reading() noexcept {
  if (reading_ || closing_) return;
  if (int error = uv_read_start(&handle_.stream, on_alloc, on_read); error != 0) {
    spdlog::debug("uv_read_start: {}", uv_error(error));
    close();
    return;
  }
  reading_ = true;
}

void connection::stop_reading() noexcept {
  if (!reading_) return;
  uv_read_stop(&handle_.stream);
  reading_ = false;
}

void connection::on_alloc(uv_handle_t* handle, std::size_t, uv_buf_t* buffer) noexcept {
  auto& self = *static_cast<connection*>(handle->data);
  *buffer = self.reader_.buffer_for_read(self.worker_.read_buffer());
}

void connection::on_read(uv_stream_t* stream, ssize_t size, const uv_buf_t* buffer) noexcept {
  auto& self = *static_cast<connection*>(stream->data);
  if (size > 0) {
    self.received(buffer->base, static_cast<std::size_t>(size));
  } else if (size < 0) {
    // The client closed its side (UV_EOF) or the connection failed. Responses still being
    // written to a client that only half-closed are finished first.
    if (size != UV_EOF) spdlog::debug("read: {}", uv_error(static_cast<int>(size)));
    self.stop_reading();
    bool cut_short = !self.reader_.finish() && !self.lingering_;
    if (size == UV_EOF && self.pending_writes_ > 0 && !cut_short) {
      self.close_after_write_ = true;
      self.linger_ = false;
      return;
    }
    self.close();
  }
}

void connection::received(const char* data, std::size_t size) noexcept {
  if (lingering_) return;  // Whatever arrives after an error response is read and dropped.
  if (!reader_.inside_request() && worker_.access() != nullptr) request_started_ns_ = uv_hrtime();
  parsed(reader_.parse(data, size));
  flush();
}

void connection::parsed(request_parser::status state) noexcept {
  if (state == request_parser::status::failed) {
    reject(reader_.error().status, reader_.error().reason);
  }
}

void connection::on_request_head(request& req) noexcept {
  // The client waits for this before it sends the body; it goes out with this read's answers.
  if (req.expects_continue) worker_.batch().text().append(continue_response);
}

void connection::on_request_body(request& req, std::string_view chunk) noexcept {
  // Handlers get the whole body; the parser has already held it to limit_request_body.
  req.body.append(chunk);
}

bool connection::on_request_complete(request& req) noexcept {
  ++requests_;
  // The next request's head gets header_timeout from its own first byte.
  unlink();
  bool keep_alive = req.keep_alive && !draining_ && worker_.keeps_alive();
  if (!keep_alive) {
    mode_ = connection_mode::close;
  } else {
    mode_ = req.version_minor == 0 ? connection_mode::keep_alive_1_0 : connection_mode::keep_alive;
  }
  head_request_ = req.method == "HEAD";
  access_log* log = worker_.access();
  if (log != nullptr || worker_.wants_peer()) req.peer = peer();
  if (log != nullptr) worker_.assign_request_id(req);
  worker_.handle(req, *this);
  if (log != nullptr) {
    std::uint64_t now = uv_hrtime();
    if (worker_.logs(req)) {
      log->write({.req = req,
                  .peer = req.peer,
                  .request_id = req.request_id,
                  .status = response_status_,
                  .bytes = response_bytes_,
                  .duration_us = (now - request_started_ns_) / 1000,
                  .response_headers = response_headers_});
    }
    worker_.clear_request_id();
    request_started_ns_ = now;  // A request pipelined behind this one has begun.
  }
  // A large upload's buffer is not kept for the idle connection's whole life.
  if (req.body.capacity() > 64 * 1024) std::string().swap(req.body);
  // A streamed body goes out before anything pipelined after it is even parsed.
  if (stream_) {
    close_after_write_ = mode_ == connection_mode::close;
    return false;
  }
  if (mode_ == connection_mode::close) {
    // Nothing after this request is parsed. If the client sent more, linger so that the kernel
    // does not answer those bytes with a reset that could destroy this response in transit.
    close_after_write_ = true;
    return false;
  }
  return worker_.batch().size() < batch_high_water;
}

void connection::append_head(int status, std::string_view headers, std::string_view more_headers,
                             std::size_t body_size) noexcept {
  bool has_body = status_has_body(status);
  append_response_head(
      worker_.batch().text(), status, {headers, more_headers, worker_.request_id_line()},
      has_body ? std::optional<std::uint64_t>(body_size) : std::nullopt, mode_, worker_.date());
  // What the access log says of this response.
  response_status_ = status;
  response_bytes_ = has_body && !head_request_ ? body_size : 0;
  response_headers_ = {headers, more_headers, worker_.request_id_line()};
}

void connection::send(int status, std::string_view headers, std::string_view more_headers,
                      std::string_view body) noexcept {
  append_head(status, headers, more_headers, body.size());
  if (status_has_body(status) && !head_request_) worker_.batch().text().append(body);
}

void connection::send_shared(int status, std::string_view headers, std::string_view more_headers,
                             output_batch::shared_bytes owner, std::string_view body) noexcept {
  append_head(status, headers, more_headers, body.size());
  if (status_has_body(status) && !head_request_) {
    worker_.batch().append_shared(std::move(owner), body);
  }
}

void connection::send_file(int status, std::string_view headers, std::string_view more_headers,
                           int fd, std::uint64_t offset, std::uint64_t length) noexcept {
  append_head(status, headers, more_headers, length);
  if (!status_has_body(status) || head_request_ || length == 0) {
    ::close(fd);
    return;
  }
  stream_.reset(new (std::nothrow) file_stream(this, fd, offset, length));
  if (!stream_) {
    ::close(fd);
    close();
  }
}

void connection::send_status(int status, std::string_view headers) noexcept {
  char body[64];
  std::string_view reason = reason_phrase(status);
  int length = std::snprintf(body, sizeof body, "%d %.*s\n", status,
                             static_cast<int>(reason.size()), reason.data());
  append_head(status, "Content-Type: text/plain; charset=utf-8\r\n", headers,
              static_cast<std::size_t>(length));
  if (status_has_body(status) && !head_request_) worker_.batch().text().append(body, length);
}

void connection::reject(int status, std::string_view reason) noexcept {
  spdlog::debug("rejecting a request with {}: {}", status, reason);
  mode_ = connection_mode::close;
  head_request_ = false;
  close_after_write_ = true;
  linger_ = true;
  send_status(status, {});
}

void connection::flush() noexcept {
  write_batch();
  settle();
}

void connection::write_batch() noexcept {
  auto& batch = worker_.batch();
  if (batch.empty() || closing_) {
    batch.clear();
    return;
  }
  const auto& buffers = batch.buffers();
  std::size_t written = 0;
  if (pending_writes_ == 0) {
    int result =
        uv_try_write(&handle_.stream, buffers.data(), static_cast<unsigned>(buffers.size()));
    if (result < 0 && result != UV_EAGAIN) {
      spdlog::debug("write: {}", uv_error(result));
      batch.clear();
      close();
      return;
    }
    written = result > 0 ? static_cast<std::size_t>(result) : 0;
  }
  if (written < batch.size()) {
    // The socket is full: libuv sends the rest when it can, from a copy this connection owns.
    auto pending = std::make_unique<pending_write>();
    pending->bytes = batch.rest_from(written);
    std::vector<uv_buf_t> rest = pending->bytes.buffers;
    queue_write(std::move(pending), rest.data(), rest.size());
  }
  batch.clear();
}

void connection::on_write(uv_write_t* request, int status) noexcept {
  std::unique_ptr<pending_write> done(static_cast<pending_write*>(request->data));
  auto& self = *done->owner;
  --self.pending_writes_;
  if (status < 0) {
    // UV_ECANCELED means the connection is closing already.
    if (status != UV_ECANCELED) spdlog::debug("write: {}", uv_error(status));
    self.close();
    return;
  }
  self.settle();
}

void connection::settle() noexcept {
  // Pipelined requests that waited for the client to take earlier answers go first.
  while (!closing_ && pending_writes_ == 0 && !stream_ && !close_after_write_ &&
         reader_.has_unparsed()) {
    parsed(reader_.parse_kept());
    write_batch();
  }
  if (closing_) return;
  if (pending_writes_ > 0) {
    stop_reading();
    worker_.arm(*this, timeout_kind::send);
    return;
  }
  if (stream_) {
    stop_reading();
    // A client that stops taking the file, and a read that never returns, both end here.
    worker_.arm(*this, timeout_kind::send);
    if (!stream_->reading) stream_file();
    return;
  }
  if (close_after_write_) {
    if (linger_ || reader_.has_unparsed() || reader_.inside_request()) {
      start_lingering();
    } else {
      close();
    }
    return;
  }
  if (reader_.reading_head()) {
    // A head's time runs from its first byte: slow clients cannot extend it by dribbling.
    if (queue() != &worker_.queue(timeout_kind::header)) worker_.arm(*this, timeout_kind::header);
  } else if (reader_.inside_request()) {
    worker_.arm(*this, timeout_kind::body);
  } else if (requests_ > 0) {
    if (draining_) {
      close();
      return;
    }
    // Idle time runs from the last response, not the last byte: stray empty lines between
    // requests, which llhttp skips, do not keep a connection open.
    if (queue() != &worker_.queue(timeout_kind::keepalive)) {
      worker_.arm(*this, timeout_kind::keepalive);
    }
  }
  start_reading();
}

void connection::stream_file() noexcept {
  file_stream& stream = *stream_;
  if (stream.remaining == 0) {
    stream_.reset();
    settle();
    return;
  }
  auto size =
      static_cast<unsigned>(std::min<std::uint64_t>(stream.remaining, file_stream::piece_size));
  uv_buf_t piece = uv_buf_init(stream.buffer.get(), size);
  int error = uv_fs_read(worker_.loop(), &stream.request, stream.fd, &piece, 1,
                         static_cast<std::int64_t>(stream.offset), on_file_read);
  if (error != 0) {
    spdlog::error("uv_fs_read: {}", uv_error(error));
    close();
    return;
  }
  stream.reading = true;
}

void connection::on_file_read(uv_fs_t* request) noexcept {
  auto* stream = static_cast<file_stream*>(request->data);
  ssize_t size = request->result;
  uv_fs_req_cleanup(request);
  stream->reading = false;
  if (stream->owner == nullptr) {
    delete stream;  // The connection closed while the read was in flight.
    return;
  }
  connection& self = *stream->owner;
  if (size <= 0) {
    // The file shrank or failed under us: the promised Content-Length cannot be kept.
    spdlog::error("read of a static file (uv_fs_read): {}",
                  size == 0 ? std::string("it ended early") : uv_error(static_cast<int>(size)));
    self.close();
    return;
  }
  stream->offset += static_cast<std::uint64_t>(size);
  stream->remaining -= static_cast<std::uint64_t>(size);
  self.write_borrowed(stream->buffer.get(), static_cast<std::size_t>(size));
  self.settle();
}

void connection::write_borrowed(const char* data, std::size_t size) noexcept {
  uv_buf_t piece = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(size));
  queue_write(std::make_unique<pending_write>(), &piece, 1);
}

void connection::queue_write(std::unique_ptr<pending_write> pending, const uv_buf_t* buffers,
                             std::size_t count) noexcept {
  pending->owner = this;
  pending->request.data = pending.get();
  int error =
      uv_write(&pending->request, &handle_.stream, buffers, static_cast<unsigned>(count), on_write);
  if (error != 0) {
    spdlog::debug("uv_write: {}", uv_error(error));
    close();
    return;
  }
  pending.release();  // libuv holds it until on_write.
  ++pending_writes_;
}

void connection::start_lingering() noexcept {
  lingering_ = true;
  reader_.discard();
  auto request = std::make_unique<uv_shutdown_t>();
  request->data = this;
  if (uv_shutdown(request.get(), &handle_.stream, on_shutdown) != 0) {
    close();
    return;
  }
  shutdown_ = std::move(request);
  worker_.arm(*this, timeout_kind::linger);
  start_reading();
}

void connection::on_shutdown(uv_shutdown_t* request, int) noexcept {
  // Nothing to do: the connection closes when the client does, or when lingering times out.
  static_cast<connection*>(request->data)->shutdown_.reset();
}

void connection::on_timeout(timeout_kind kind) noexcept {
  switch (kind) {
    case timeout_kind::header:
      // A connection that never sent a byte is closed quietly; one that started a request
      // learns why it is being closed.
      if (reader_.inside_request() || reader_.holds_bytes()) {
        spdlog::debug("header_timeout expired");
        reject(408, "header_timeout expired");
        flush();
      } else {
        close();
      }
      break;
    case timeout_kind::body:
      reject(408, "body_timeout expired");
      flush();
      break;
    case timeout_kind::keepalive:
    case timeout_kind::send:
    case timeout_kind::linger:
      close();
      break;
  }
}

void connection::drain() noexcept {
  draining_ = true;
  bool idle = pending_writes_ == 0 && !stream_ && !reader_.inside_request() &&
              !reader_.holds_bytes() && !lingering_;
  if (!idle) return;  // It closes after its response.
  // A client may have sent a request the moment before: answer it (with Connection: close)
  // rather than close a connection with a request in it.
  if (read_available()) close();
}

void connection::close() noexcept {
  if (closing_) return;
  closing_ = true;
  unlink();
  uv_close(&handle_.handle, on_close);
}

std::string_view connection::peer() noexcept {
  if (!peer_.empty()) return peer_;
  sockaddr_storage address{};
  int length = sizeof address;
  if (handle_.handle.type != UV_TCP ||
      uv_tcp_getpeername(&handle_.tcp, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    peer_ = "-";  // A unix socket's peer has no address.
    return peer_;
  }
  char host[INET6_ADDRSTRLEN] = {};
  try {
    if (address.ss_family == AF_INET6) {
      const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
      uv_ip6_name(&v6, host, sizeof host);
      peer_ = fmt::format("[{}]:{}", host, ntohs(v6.sin6_port));
    } else {
      const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
      uv_ip4_name(&v4, host, sizeof host);
      peer_ = fmt::format("{}:{}", host, ntohs(v4.sin_port));
    }
  } catch (const std::bad_alloc&) {
    peer_.clear();
  }
  return peer_;
}

void connection::on_close(uv_handle_t* handle) noexcept {
  std::unique_ptr<connection> self(static_cast<connection*>(handle->data));
  if (self->stream_ && self->stream_->reading) {
    // libuv still owns the stream's request: its callback frees the stream.
    self->stream_->owner = nullptr;
    self->stream_.release();
  }
  self->worker_.connection_closed();
}

}  // namespace kiln
