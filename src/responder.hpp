#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include <kiln/request.hpp>

#include "output_batch.hpp"

namespace kiln {

class deferred_response;
class response_writer;

// Where a handler puts its answer to the request being handled. The connection implements it:
// it adds Server, Date, Content-Length and Connection, leaves the body out for HEAD, 204 and 304,
// and decides whether the connection stays open.
class responder {
 public:
  virtual ~responder() = default;
  // headers holds preformatted "Name: value\r\n" lines, more_headers more of them. The body is
  // copied.
  virtual void send(int status, std::string_view headers, std::string_view more_headers,
                    std::string_view body) noexcept = 0;
  // The same, but the body is referenced where owner keeps it instead of copied.
  virtual void send_shared(int status, std::string_view headers, std::string_view more_headers,
                           output_batch::shared_bytes owner, std::string_view body) noexcept = 0;
  // A body from a file: length bytes of the open file fd from offset on. The responder owns fd
  // from here on. A file on disk is read and sent in pieces without blocking the loop; a file
  // in_memory (a memfd) goes to the socket by sendfile, which copies nothing and cannot wait
  // for a disk.
  virtual void send_file(int status, std::string_view headers, std::string_view more_headers,
                         int fd, std::uint64_t offset, std::uint64_t length,
                         bool in_memory) noexcept = 0;
  // A short text/plain body that names the status: "404 Not Found".
  virtual void send_status(int status, std::string_view headers = {}) noexcept = 0;
  // The answer comes later, from work done elsewhere (the Python app, on its threads): the
  // connection waits for it, holding back requests pipelined after this one, and tells work
  // what the client does. Returns where work writes its answer.
  virtual response_writer& defer(deferred_response& work) noexcept = 0;
};

// A piece of a deferred response, as the work produced it: a head, body bytes, a file, the
// end, or several of these at once (a small response is all of them, and one write).
struct response_part {
  int status = 0;                       // The head's status; 0 when the part has no head.
  std::string_view reason;              // The head's reason phrase; empty: the standard one.
  std::string_view headers;             // The head's "Name: value\r\n" lines.
  std::optional<std::uint64_t> length;  // The body's Content-Length, if the work gave one.
  std::string_view body;                // Bytes of the body.
  // Then a file's bytes, sent with sendfile, which end the response; the writer owns the
  // descriptor. The head must give the length.
  int file = -1;
  std::uint64_t file_offset = 0;
  std::uint64_t file_length = 0;
  bool last = false;     // The response ends with this part.
  bool complete = true;  // With last: false when the work failed midway.
};

// Where a deferred response is written, on the loop thread, piece by piece as it arrives.
// Without a Content-Length the body is chunked (HTTP/1.1) or ends with the connection
// (HTTP/1.0); bytes past the Content-Length are dropped, and so is every body of a response to
// HEAD or with status 204 or 304. A response that ends short of its Content-Length, or not
// complete, closes the connection, so that no client waits for bytes that never come.
class response_writer {
 public:
  virtual ~response_writer() = default;
  virtual void write(const response_part& part) noexcept = 0;
  // The response cannot be had: the client gets status if nothing was sent yet, and the
  // connection closes. The work must not write again.
  virtual void fail(int status) noexcept = 0;
};

// Work that answers a request later. The connection tells it, on the loop thread, what the
// client does with the answer.
class deferred_response {
 public:
  virtual ~deferred_response() = default;
  // The request being answered: the work owns it until its answer is over.
  virtual const request& answered_request() const noexcept = 0;
  // The client took this many bytes of the body: room for more.
  virtual void taken(std::size_t bytes) noexcept = 0;
  // Nobody waits for the answer any more (the client left): the writer must not be used again.
  virtual void abandon() noexcept = 0;
};

}  // namespace kiln
