#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <llhttp.h>

#include <kiln/request.hpp>

namespace kiln {

// The request limits, each a setting; a request beyond one is answered with the status named.
struct request_limits {
  std::size_t request_line = 4094;   // 414 URI Too Long
  std::size_t fields = 100;          // 431 Request Header Fields Too Large
  std::size_t field_size = 8190;     // 431
  std::uint64_t body = 1024 * 1024;  // 413 Content Too Large; 0 means no limit
  std::size_t head = 64 * 1024;      // 431, for the whole head
};

// The owner of a request_parser hears about each request through this interface. The calls are
// made from inside llhttp's callbacks, so they must not throw.
class request_sink {
 public:
  virtual ~request_sink() = default;
  // The head is complete and valid; the body, if any, follows.
  virtual void on_request_head(request& req) noexcept = 0;
  virtual void on_request_body(request& req, std::string_view chunk) noexcept = 0;
  // The request is complete. Returning false pauses the parser after this request, leaving the
  // bytes of any pipelined requests unconsumed until resume().
  virtual bool on_request_complete(request& req) noexcept = 0;
};

// Why parsing stopped with an error: the status to answer with and a reason for the log.
struct parse_error {
  int status = 0;
  std::string_view reason;
};

// Adapts llhttp to kiln: collects the spans llhttp reports into a kiln::request, enforces the
// request limits and the rules llhttp leaves to the server (Host, version, Expect), and maps
// every error to the status a client should get. Errors are sticky: once failed, it stays failed.
//
// The spans of a head that is not complete yet point into the caller's buffer. A caller that
// must keep such a head across reads copies the bytes from head_start() on and calls rebase();
// later bytes of the same head must then follow them in the same buffer. Once a head is
// complete, the parser copies it when the body is still to come, so that the request's views
// stay valid until on_request_complete whatever happens to the caller's buffers.
class request_parser {
 public:
  enum class status {
    need_more,  // Every byte was consumed; feed more when it arrives.
    paused,     // The sink asked to pause; bytes after consumed are the next requests.
    failed,     // A malformed or over-limit request: answer error() and close.
  };
  struct result {
    status state;
    std::size_t consumed;
  };

  request_parser(const request_limits& limits, request_sink& sink) noexcept;
  request_parser(const request_parser&) = delete;
  request_parser& operator=(const request_parser&) = delete;

  result feed(const char* data, std::size_t size) noexcept;
  // Continues after a pause; feed() does it too.
  void resume() noexcept;
  // Tells llhttp the peer closed the connection; false when that cut a request short.
  bool finish() noexcept;

  const parse_error& error() const noexcept { return error_; }
  // The request being parsed, as far as it has arrived; its views are valid until the bytes
  // they point into move or go.
  const request& current() const noexcept { return request_; }
  // The first byte of a head that is still being received, or nullptr.
  const char* head_start() const noexcept { return head_start_; }
  // The caller moved the bytes [from, from + size) to to: spans into them follow.
  void rebase(const char* from, std::size_t size, const char* to) noexcept;
  // True between the first byte of a request and its end.
  bool inside_request() const noexcept { return inside_request_; }
  // True from the first byte of a request until its head is complete.
  bool reading_head() const noexcept { return inside_request_ && !head_done_; }

 private:
  friend struct llhttp_callbacks;

  int fail(int code, std::string_view reason) noexcept;
  result sniff_method(const char* data, const char* from, std::size_t size) noexcept;
  int check_request_line() noexcept;
  int count_field_bytes(std::size_t length) noexcept;
  int check_head() noexcept;
  // Copies a complete head whose body is still to come into owned_head_.
  void keep_head() noexcept;

  llhttp_t parser_;
  const request_limits& limits_;
  request_sink& sink_;
  request request_;
  parse_error error_;
  const char* head_start_ = nullptr;
  const char* head_end_ = nullptr;  // Set when the head is complete, until it is kept.
  std::string owned_head_;
  std::string_view field_name_;
  std::string_view field_value_;
  std::string_view version_;
  std::size_t field_count_ = 0;
  std::size_t field_size_ = 0;  // Bytes of the current field: name, ": " and value.
  std::size_t field_name_length_ = 0;
  std::size_t sniffed_ = 0;  // Bytes of a method llhttp does not know.
  std::size_t chunk_extension_name_length_ = 0;
  std::uint64_t body_size_ = 0;
  bool inside_request_ = false;
  bool in_trailers_ = false;
  bool paused_ = false;           // The sink paused llhttp; the next feed resumes it.
  bool head_complete_ = false;    // Paused at the end of a head, to check it (see feed()).
  bool head_done_ = false;        // The current request's head is complete.
  bool sniffing_method_ = false;  // Telling an unknown method (501) from garbage (400).
};

}  // namespace kiln
