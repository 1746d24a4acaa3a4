#include "connection.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <new>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "forwarded.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "proxy_header.hpp"
#include "socket_address.hpp"
#include "worker.hpp"

namespace kiln {
namespace {

// Past this much unsent output, parsing pauses until the client has taken it: pipelined
// requests cannot make a worker buffer without bound.
constexpr std::size_t batch_high_water = 256 * 1024;
// While an answer is being made the connection reads on, to notice a client that leaves; it
// keeps at most this much of what the client sends meanwhile, then waits.
constexpr std::size_t held_while_answering = 64 * 1024;
// The most one sendfile call sends: a fast client cannot keep the loop to itself.
constexpr std::size_t sendfile_slice = 1024 * 1024;

constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view chunked_header = "Transfer-Encoding: chunked\r\n";
constexpr std::string_view last_chunk = "0\r\n\r\n";

}  // namespace

// A write libuv could not finish at once. It owns its bytes and frees itself in its callback,
// which libuv also calls (with UV_ECANCELED) for writes still queued when the handle closes.
struct connection::pending_write {
  uv_write_t request;
  connection* owner;
  output_batch::rest bytes;  // Empty when the bytes belong to a file_stream.
};

// A response body sent from a file. A static file on disk is read on libuv's thread pool piece
// by piece, so that a slow disk never blocks the loop, and each piece written as it arrives. A
// static file held in a memfd, and a deferred response's file (WSGI's file_wrapper), go by
// sendfile, as much as the socket takes, and a piece is read and written only when the socket
// is full, to learn when it has room again.
// A read still in flight when the connection closes keeps the stream alive until its callback,
// which then frees it.
struct connection::file_stream {
  // Pieces grow while the socket takes them whole, as a fast client does, and are small again
  // once it does not. What a full socket does not take is not kept: it is read again from the
  // file later, but for a small tail whose write says when the socket has room. Pieces above
  // the smallest come out of the worker's budget: a thousand readers in flight at once cannot
  // make it hold a quarter of a gigabyte.
  static constexpr std::size_t largest_piece = 256 * 1024;
  static constexpr std::size_t smallest_piece = 16 * 1024;
  static constexpr std::size_t budget = 16 * 1024 * 1024;

  uv_fs_t request;
  connection* owner;
  std::size_t& held;  // The worker's piece buffers, in bytes.
  int fd;
  std::uint64_t offset;
  std::uint64_t remaining;
  bool zero_copy;       // Sent by sendfile, and read in pieces only to wait for room.
  bool in_memory;       // A memfd: read on the loop, which its pages cannot keep waiting.
  bool corked = false;  // TCP_CORK holds the head back until the file's first bytes join it.
  std::unique_ptr<char[]> buffer;
  std::size_t buffer_size = 0;
  std::size_t next_piece = smallest_piece;
  bool reading = false;

  file_stream(connection* o, std::size_t& pieces, int file, std::uint64_t from,
              std::uint64_t length, bool sendfile, bool memory) noexcept
      : owner(o),
        held(pieces),
        fd(file),
        offset(from),
        remaining(length),
        zero_copy(sendfile),
        in_memory(memory) {
    request.data = this;
  }
  file_stream(const file_stream&) = delete;
  file_stream& operator=(const file_stream&) = delete;
  ~file_stream() {
    held -= buffer_size;
    ::close(fd);
  }

  // A buffer of size bytes in place of the current one, keeping its first kept bytes.
  void resize(std::size_t size, std::size_t kept = 0) noexcept {
    std::unique_ptr<char[]> fresh(new char[size]);
    if (kept > 0) std::memcpy(fresh.get(), buffer.get(), kept);
    held = held - buffer_size + size;
    buffer = std::move(fresh);
    buffer_size = size;
  }
  // The piece to read next: as big as the client has shown it takes, within the budget.
  std::size_t piece_wanted() const noexcept {
    return held - buffer_size + next_piece > budget ? smallest_piece : next_piece;
  }
};

connection::connection(worker& owner, bool metrics) noexcept
    : worker_(owner), reader_(owner.limits(), *this), metrics_(metrics) {}

connection::~connection() = default;

// Starting.

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
  if (worker_.expects_proxy_header() && !metrics_) {
    // Only a trusted load balancer may say who the client is (a unix socket's peer is local).
    std::string_view host = host_of(peer());
    if (peer() != "-" && !worker_.proxy_trusted().trusts(host)) {
      spdlog::debug("a connection from {}, which proxy_allow_ips does not trust: closed", host);
      close();
      return;
    }
    proxy_bytes_ = std::make_unique<std::string>();
  }
  // A new connection gets header_timeout for its first request, not keepalive: a client that
  // connects and sends nothing is a slow client.
  worker_.arm(*this, timeout_kind::header);
  // Listeners defer accept() until the client has sent something, so the request is usually
  // here already: reading it now saves registering the socket with epoll and waiting a loop
  // iteration. A one-request (Connection: close) client never touches epoll at all.
  if (read_available()) start_reading();
}

// Reading.

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
  if (reading_ || phase_ == phase::closed) return;
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
    return;
  }
  if (size == 0) return;
  // The client closed its side (UV_EOF) or the connection failed. A client that only
  // half-closed after a whole request still gets its answer, and then the connection closes.
  if (size != UV_EOF) spdlog::debug("read: {}", uv_error(static_cast<int>(size)));
  self.stop_reading();
  bool cut_short = !self.reader_.finish() && self.phase_ != phase::lingering;
  bool answer_due = self.pending_writes_ > 0 || self.phase_ == phase::answering;
  if (size == UV_EOF && answer_due && !cut_short) {
    self.mode_ = connection_mode::close;
    self.linger_ = false;
    if (self.phase_ == phase::reading) self.phase_ = phase::closing;
    return;
  }
  self.close();
}

void connection::received(const char* data, std::size_t size) noexcept {
  switch (phase_) {
    case phase::lingering:
      return;  // Whatever arrives after an error response is read and dropped.
    case phase::answering:
    case phase::closing:
      // Requests pipelined behind one still being answered wait, unparsed.
      reader_.hold(data, size);
      if (reader_.unparsed() > held_while_answering) stop_reading();
      return;
    case phase::reading:
      break;
    case phase::closed:
      return;
  }
  if (proxy_bytes_ && !take_proxy_header(data, size)) {
    start_reading();  // For the rest of the header, or the request after it.
    return;
  }
  if (request_counters* counts = counters()) {
    counts->received_bytes.fetch_add(size, std::memory_order_relaxed);
  }
  if (!reader_.inside_request() && measures()) request_started_ns_ = uv_hrtime();
  parsed(reader_.parse(data, size));
  flush();
}

bool connection::take_proxy_header(const char*& data, std::size_t& size) noexcept {
  std::size_t before = proxy_bytes_->size();
  std::size_t taken = std::min(size, max_proxy_header - before);
  proxy_bytes_->append(data, taken);
  auto header = parse_proxy_header(*proxy_bytes_);
  if (header.state == proxy_header::status::need_more && proxy_bytes_->size() < max_proxy_header) {
    return false;
  }
  if (header.state != proxy_header::status::complete) {
    spdlog::debug("a connection without a valid PROXY header: closed");
    close();
    return false;
  }
  // The client the load balancer stands for; its own connection (a health check) says none.
  if (!header.source.empty()) peer_ = std::move(header.source);
  proxy_bytes_.reset();
  std::size_t used = header.consumed - before;
  data += used;
  size -= used;
  return size > 0;
}

void connection::parsed(request_parser::status state) noexcept {
  if (state == request_parser::status::failed) {
    reject(reader_.error().status, reader_.error().reason);
  }
}

void connection::on_request_head(request& req) noexcept {
  // The client waits for this before it sends the body; it goes out with this read's answers.
  if (req.expects_continue) worker_.batch().text().append(continue_response);
  body_started_ms_ = uv_now(worker_.loop());
  body_received_ = 0;
}

void connection::on_request_body(request& req, std::string_view chunk) noexcept {
  // Handlers get the whole body; the parser has already held it to limit_request_body.
  req.body.append(chunk);
  body_received_ += chunk.size();
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
  framing_ = framing::none;
  if (worker_.access() != nullptr || worker_.wants_peer()) {
    req.peer = peer();
    req.server = server();
    if (!worker_.forwarded().resolve(req)) {
      reject(400, "secure_scheme_headers that contradict each other");
      return false;
    }
  }
  if (worker_.access() != nullptr) assign_request_id(req);
  if (metrics_) {
    worker_.answer_metrics(req, *this);
  } else {
    answered_by_ = worker_.dispatch(req, *this);
  }
  // A large upload's buffer is not kept for the idle connection's whole life.
  if (req.body.capacity() > 64 * 1024) std::string().swap(req.body);
  if (phase_ == phase::answering) {
    // Nothing after this request is parsed before its answer is out. A deferred answer is
    // logged when it ends; a file's now.
    if (deferred_ == nullptr) record_request(req);
    return false;
  }
  record_request(req);
  if (mode_ == connection_mode::close) {
    // Nothing after this request is parsed. If the client sent more, linger so that the kernel
    // does not answer those bytes with a reset that could destroy this response in transit.
    phase_ = phase::closing;
    return false;
  }
  return worker_.batch().size() < batch_high_water;
}

// Answering at once.

void connection::append_head(int status, std::string_view headers, std::string_view more_headers,
                             std::optional<std::uint64_t> body_size,
                             std::string_view reason) noexcept {
  bool has_body = status_has_body(status);
  append_response_head(worker_.batch().text(), status, {headers, more_headers, request_id_line_},
                       has_body ? body_size : std::nullopt, mode_, worker_.date(), reason);
  // What the access log says of this response.
  response_status_ = status;
  response_bytes_ = has_body && !head_request_ && body_size ? *body_size : 0;
  response_headers_ = {headers, more_headers, request_id_line_};
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
                           int fd, std::uint64_t offset, std::uint64_t length,
                           bool in_memory) noexcept {
  append_head(status, headers, more_headers, length);
  if (!status_has_body(status) || head_request_ || length == 0) {
    ::close(fd);
    return;
  }
  file_ = std::make_unique<file_stream>(this, worker_.piece_bytes(), fd, offset, length, in_memory,
                                        in_memory);
  if (in_memory && handle_.handle.type == UV_TCP) file_->corked = set_cork(true);
  phase_ = phase::answering;
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
  phase_ = phase::closing;
  linger_ = true;
  send_status(status, {});
  log_unfinished();
}

// Answering later: the deferred response's parts, as the bridge delivers them.

response_writer& connection::defer(deferred_response& work) noexcept {
  deferred_ = &work;
  phase_ = phase::answering;
  head_written_ = false;
  untaken_ = 0;
  return *this;
}

void connection::write(const response_part& part) noexcept {
  if (deferred_ == nullptr || phase_ == phase::closed) {
    if (part.file >= 0) ::close(part.file);
    return;
  }
  if (part.status != 0 && !head_written_) write_deferred_head(part);
  if (!part.body.empty()) write_deferred_body(part.body);
  if (part.file >= 0) {
    // A file ends the response. Its length is known (the work gives one), so it needs no chunk
    // lines around it and can go by sendfile.
    bool counted = framing_ == framing::content_length;
    std::uint64_t length = counted ? std::min(part.file_length, body_left_) : part.file_length;
    bool sendable = counted || framing_ == framing::until_close;
    if (!sendable || length == 0) {
      ::close(part.file);
      end_deferred(framing_ != framing::chunked);
    } else {
      if (counted) body_left_ -= length;
      response_bytes_ += length;
      file_ = std::make_unique<file_stream>(this, worker_.piece_bytes(), part.file,
                                            part.file_offset, length, true, false);
    }
  } else if (part.last) {
    end_deferred(part.complete);
  }
  flush();
}

void connection::write_deferred_head(const response_part& part) noexcept {
  head_written_ = true;
  // A graceful stop that began while the app worked closes the connection after this answer.
  if (draining_ || !worker_.keeps_alive()) mode_ = connection_mode::close;
  std::string_view framing_line;
  if (!status_has_body(part.status) || head_request_) {
    framing_ = framing::none;
  } else if (part.length) {
    framing_ = framing::content_length;
    body_left_ = *part.length;
  } else if (deferred_->answered_request().version_minor >= 1) {
    framing_ = framing::chunked;
    framing_line = chunked_header;
  } else {
    // HTTP/1.0 has no chunks: the body ends when the connection does.
    framing_ = framing::until_close;
    mode_ = connection_mode::close;
  }
  // A HEAD response keeps the length the app gave; a 204 or 304 has none.
  std::optional<std::uint64_t> length = status_has_body(part.status) ? part.length : std::nullopt;
  append_response_head(worker_.batch().text(), part.status,
                       {part.headers, framing_line, request_id_line_}, length, mode_,
                       worker_.date(), part.reason);
  response_status_ = part.status;
  response_bytes_ = 0;
  if (worker_.access() != nullptr) {
    deferred_headers_.assign(part.headers);
    response_headers_ = {deferred_headers_, framing_line, request_id_line_};
  }
}

void connection::write_deferred_body(std::string_view bytes) noexcept {
  // Counted as taken only once written, whatever happens to them: the work's room to go on.
  untaken_ += bytes.size();
  auto& out = worker_.batch().text();
  switch (framing_) {
    case framing::none:
      return;
    case framing::content_length:
      // Bytes beyond the promised length would be read as the next response.
      bytes = bytes.substr(
          0, static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), body_left_)));
      body_left_ -= bytes.size();
      out.append(bytes);
      break;
    case framing::chunked: {
      char size[24];
      auto end = std::to_chars(size, size + sizeof size, bytes.size(), 16).ptr;
      out.append(size, end).append("\r\n").append(bytes).append("\r\n");
      break;
    }
    case framing::until_close:
      out.append(bytes);
      break;
  }
  response_bytes_ += bytes.size();
}

void connection::end_deferred(bool complete) noexcept {
  const request& req = deferred_->answered_request();
  if (!head_written_) {
    // The work ended without an answer: the client gets one all the same.
    head_request_ = false;
    mode_ = connection_mode::close;
    send_status(500, {});
  }
  if (framing_ == framing::chunked && complete) worker_.batch().text().append(last_chunk);
  bool short_body = framing_ == framing::content_length && body_left_ > 0;
  if (short_body) {
    spdlog::error(
        "{} {}: the app sent {} bytes less than its Content-Length; closing the "
        "connection",
        req.method, req.path, body_left_);
  }
  // The client cannot tell a cut body from a whole one unless the connection ends.
  if (!complete || short_body) mode_ = connection_mode::close;
  record_request(req);
  deferred_ = nullptr;
  answered();
}

void connection::fail(int status) noexcept {
  if (deferred_ == nullptr) return;
  const request& req = deferred_->answered_request();
  if (head_written_) {
    // Part of the answer is out: only closing tells the client it is not all.
    record_request(req);
    deferred_ = nullptr;
    close();
    return;
  }
  mode_ = connection_mode::close;
  head_request_ = false;
  send_status(status, {});
  record_request(req);
  deferred_ = nullptr;
  phase_ = phase::closing;
  flush();
}

void connection::answered() noexcept {
  phase_ = mode_ == connection_mode::close ? phase::closing : phase::reading;
}

// Writing.

void connection::flush() noexcept {
  write_batch();
  settle();
}

void connection::write_batch() noexcept {
  auto& batch = worker_.batch();
  if (batch.empty() || phase_ == phase::closed) {
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
  // A file sent whole ends its response here: the loop, not recursion, goes on to the next
  // request, however many a client pipelined.
  while (settle_step()) {
  }
}

bool connection::settle_step() noexcept {
  // Pipelined requests that waited for the client to take earlier answers go first.
  while (phase_ == phase::reading && pending_writes_ == 0 && reader_.has_unparsed()) {
    parsed(reader_.parse_kept());
    write_batch();
  }
  if (phase_ == phase::closed) return false;
  if (pending_writes_ > 0) {
    stop_reading();
    worker_.arm(*this, timeout_kind::send);
    return false;
  }
  if (untaken_ > 0 && deferred_ != nullptr) {
    // Everything written is with the kernel: the app may produce more.
    deferred_->taken(std::exchange(untaken_, 0));
  }
  switch (phase_) {
    case phase::answering:
      if (file_) {
        if (file_->zero_copy && !file_->reading) {
          // Most files go whole in one sendfile: reads pause only for one that does not.
          if (stream_file()) return true;
          if (!file_ || !file_->reading) return false;  // Closed, or settled since.
        }
        stop_reading();
        // A client that stops taking the file, and a read that never returns, both end here.
        worker_.arm(*this, timeout_kind::send);
        return !file_->reading && stream_file();
      }
      // Waiting for the app, which has its own deadline (timeout). Reading goes on, to notice
      // a client that leaves, unless it has sent a lot meanwhile.
      unlink();
      if (reader_.unparsed() <= held_while_answering) start_reading();
      return false;
    case phase::closing:
      if (linger_ || reader_.has_unparsed() || reader_.inside_request()) {
        start_lingering();
      } else {
        close();
      }
      return false;
    case phase::lingering:
    case phase::closed:
      return false;
    case phase::reading:
      break;
  }
  if (reader_.reading_head()) {
    // A head's time runs from its first byte: slow clients cannot extend it by dribbling.
    if (queue() != &worker_.queue(timeout_kind::header)) worker_.arm(*this, timeout_kind::header);
  } else if (reader_.inside_request()) {
    // A pause between reads has body_timeout; the body as a whole must keep body_min_rate, or
    // a client sending a byte now and then would hold the connection for ever.
    if (worker_.body_too_slow(body_started_ms_, body_received_)) {
      reject(408, "body_min_rate not kept");
      flush();
      return false;
    }
    worker_.arm(*this, timeout_kind::body);
  } else if (requests_ > 0) {
    // Idle time runs from the last response, not the last byte: stray empty lines between
    // requests, which llhttp skips, do not keep a connection open. A stopping worker waits for
    // the next request briefly: its client may be sending it already.
    timeout_kind idle = draining_ ? timeout_kind::last_call : timeout_kind::keepalive;
    if (queue() != &worker_.queue(idle)) worker_.arm(*this, idle);
  }
  start_reading();
  return false;
}

bool connection::stream_file() noexcept {
  file_stream& file = *file_;
  if (file.remaining > 0 && file.zero_copy) {
    bool sent = send_file_directly(file);
    if (file.corked) file.corked = !set_cork(false);
    if (!sent) {
      close();
      return false;
    }
  }
  if (file.remaining == 0) {
    file_.reset();
    if (deferred_ != nullptr) {
      end_deferred(true);
      flush();
      return false;
    }
    answered();
    return true;
  }
  read_file_piece(file);
  return false;
}

bool connection::set_cork(bool on) noexcept {
  uv_os_fd_t socket = -1;
  int value = on ? 1 : 0;
  return uv_fileno(&handle_.handle, &socket) == 0 &&
         ::setsockopt(socket, IPPROTO_TCP, TCP_CORK, &value, sizeof value) == 0;
}

bool connection::send_file_directly(file_stream& file) noexcept {
  uv_os_fd_t socket = -1;
  if (uv_fileno(&handle_.handle, &socket) != 0) return false;
  while (file.remaining > 0) {
    auto offset = static_cast<off_t>(file.offset);
    std::size_t slice =
        static_cast<std::size_t>(std::min<std::uint64_t>(file.remaining, sendfile_slice));
    ssize_t sent = ::sendfile(socket, file.fd, &offset, slice);
    if (sent > 0) {
      file.offset += static_cast<std::uint64_t>(sent);
      file.remaining -= static_cast<std::uint64_t>(sent);
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    // The file shrank under us, or the client left: the promised length cannot be kept.
    spdlog::debug("sendfile: {}",
                  sent == 0 ? std::string("the file ended early") : errno_text(errno));
    return false;
  }
  return true;
}

void connection::read_file_piece(file_stream& file) noexcept {
  // After sendfile, a piece only waits for the socket to have room again: a small one does.
  std::size_t wanted = file.zero_copy ? file_stream::smallest_piece : file.piece_wanted();
  if (file.buffer_size != wanted) file.resize(wanted);
  auto size = static_cast<unsigned>(std::min<std::uint64_t>(file.remaining, wanted));
  if (file.in_memory) {
    // A memfd's pages are in memory: reading them here cannot wait for a disk.
    ssize_t read;
    do {
      read = ::pread(file.fd, file.buffer.get(), size, static_cast<off_t>(file.offset));
    } while (read < 0 && errno == EINTR);
    piece_read(file, read < 0 ? -errno : read);
    return;
  }
  uv_buf_t piece = uv_buf_init(file.buffer.get(), size);
  int error = uv_fs_read(worker_.loop(), &file.request, file.fd, &piece, 1,
                         static_cast<std::int64_t>(file.offset), on_file_read);
  if (error != 0) {
    spdlog::error("uv_fs_read: {}", uv_error(error));
    close();
    return;
  }
  file.reading = true;
}

void connection::on_file_read(uv_fs_t* request) noexcept {
  auto* file = static_cast<file_stream*>(request->data);
  ssize_t size = request->result;
  uv_fs_req_cleanup(request);
  file->reading = false;
  if (file->owner == nullptr) {
    delete file;  // The connection closed while the read was in flight.
    return;
  }
  file->owner->piece_read(*file, size);
}

void connection::piece_read(file_stream& file, ssize_t size) noexcept {
  if (size <= 0) {
    // The file shrank or failed under us: the promised Content-Length cannot be kept.
    spdlog::error("read of a file being sent: {}",
                  size == 0 ? std::string("it ended early") : uv_error(static_cast<int>(size)));
    close();
    return;
  }
  file.offset += static_cast<std::uint64_t>(size);
  file.remaining -= static_cast<std::uint64_t>(size);
  send_piece(file, static_cast<std::size_t>(size));
}

void connection::send_piece(file_stream& file, std::size_t size) noexcept {
  uv_buf_t piece = uv_buf_init(file.buffer.get(), static_cast<unsigned>(size));
  int taken = uv_try_write(&handle_.stream, &piece, 1);
  if (taken >= 0 && static_cast<std::size_t>(taken) == size) {
    file.next_piece = std::min(file.next_piece * 2, file_stream::largest_piece);
    settle();
    return;
  }
  if (taken < 0 && taken != UV_EAGAIN) {
    close();  // The client is gone.
    return;
  }
  // The socket is full: a small tail waits in memory, and the rest is read again later.
  std::size_t sent = taken > 0 ? static_cast<std::size_t>(taken) : 0;
  std::size_t tail = std::min(size - sent, file_stream::smallest_piece);
  std::uint64_t unsent = size - sent - tail;
  file.offset -= unsent;
  file.remaining += unsent;
  file.next_piece = file_stream::smallest_piece;
  if (sent > 0) std::memmove(file.buffer.get(), file.buffer.get() + sent, tail);
  if (file.buffer_size != file_stream::smallest_piece) {
    file.resize(file_stream::smallest_piece, tail);
  }
  write_borrowed(file.buffer.get(), tail);
  settle();
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

// Ending.

void connection::start_lingering() noexcept {
  phase_ = phase::lingering;
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
    case timeout_kind::last_call:
      close();
      break;
  }
}

void connection::drain() noexcept {
  draining_ = true;
  bool idle = phase_ == phase::reading && pending_writes_ == 0 && !reader_.inside_request() &&
              !reader_.holds_bytes();
  if (!idle) return;  // It closes after its response.
  // A client may have sent a request the moment before, or be sending it: answer it (with
  // Connection: close) rather than close a connection with a request on its way.
  if (read_available() && phase_ != phase::closed) worker_.arm(*this, timeout_kind::last_call);
}

void connection::close() noexcept {
  if (phase_ == phase::closed) return;
  if (phase_ == phase::reading && (reader_.inside_request() || reader_.holds_bytes())) {
    // A request begun and never answered: the client left, or gave up its slot when stalled.
    // Logged as nginx logs it, 499, so that every request that arrived is in the log.
    response_status_ = 499;
    response_bytes_ = 0;
    response_headers_ = {};
    log_unfinished();
  }
  if (deferred_ != nullptr) {
    // The answer is still being made: it is logged with what was sent of it, and abandoned.
    if (!head_written_) response_status_ = 0;
    record_request(deferred_->answered_request());
    std::exchange(deferred_, nullptr)->abandon();
  }
  phase_ = phase::closed;
  unlink();
  uv_close(&handle_.handle, on_close);
}

void connection::on_close(uv_handle_t* handle) noexcept {
  std::unique_ptr<connection> self(static_cast<connection*>(handle->data));
  if (self->file_ && self->file_->reading) {
    // libuv still owns the file's request: its callback frees the stream.
    self->file_->owner = nullptr;
    self->file_.release();
  }
  self->worker_.connection_closed();
}

// What the access log and the app learn about the request.

void connection::record_request(const request& req) noexcept {
  if (!measures()) return;
  std::uint64_t now = uv_hrtime();
  std::uint64_t duration_us = (now - request_started_ns_) / 1000;
  if (request_counters* counts = counters()) {
    count_request(*counts, answered_by_, response_status_, response_bytes_, duration_us);
  }
  access_log* log = worker_.access();
  if (log != nullptr && worker_.logs(req)) {
    log->write({.req = req,
                .peer = req.client,
                .request_id = req.request_id,
                .status = response_status_,
                .bytes = response_bytes_,
                .duration_us = duration_us,
                .response_headers = response_headers_});
  }
  request_started_ns_ = now;  // A request pipelined behind this one has begun.
  answered_by_ = answerer::kiln;
}

request_counters* connection::counters() noexcept {
  return metrics_ ? nullptr : worker_.counters();
}

bool connection::measures() noexcept {
  return !metrics_ && (worker_.access() != nullptr || worker_.counters() != nullptr);
}

void connection::log_unfinished() noexcept {
  if (!measures()) return;
  answered_by_ = answerer::kiln;
  request req = reader_.partial_request();
  req.peer = peer();
  req.client = host_of(req.peer);
  record_request(req);
}

void connection::assign_request_id(request& req) noexcept {
  // A client's (or a proxy's) id is kept when it is safe to echo and to log: visible ASCII.
  auto given = req.header_value("X-Request-ID");
  bool usable =
      given && !given->empty() && given->size() <= 200 &&
      std::all_of(given->begin(), given->end(), [](char c) { return c > ' ' && c < 0x7f; });
  request_id_line_.assign("X-Request-ID: ");
  std::size_t start = request_id_line_.size();
  if (usable) {
    request_id_line_.append(*given);
  } else {
    char id[32];
    worker_.make_request_id(id);
    request_id_line_.append(id, sizeof id);
  }
  std::size_t length = request_id_line_.size() - start;
  request_id_line_.append("\r\n");
  req.request_id = std::string_view(request_id_line_).substr(start, length);
}

std::string_view connection::peer() noexcept {
  if (!peer_.empty()) return peer_;
  sockaddr_storage address{};
  int length = sizeof address;
  if (handle_.handle.type != UV_TCP ||
      uv_tcp_getpeername(&handle_.tcp, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    peer_.assign(1, '-');  // A unix socket's peer has no address.
  } else {
    peer_ = address_text(address);
  }
  return peer_;
}

std::string_view connection::server() noexcept {
  if (!server_.empty()) return server_;
  sockaddr_storage address{};
  int length = sizeof address;
  if (handle_.handle.type != UV_TCP ||
      uv_tcp_getsockname(&handle_.tcp, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    server_.assign(1, '-');
  } else {
    server_ = address_text(address);
  }
  return server_;
}

}  // namespace kiln
