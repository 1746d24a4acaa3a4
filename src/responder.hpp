#pragma once

#include <cstdint>
#include <string_view>

#include "output_batch.hpp"

namespace kiln {

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
  // A body too big to hold in memory: length bytes of the open file fd from offset on, read
  // and sent in pieces without blocking the loop. The responder owns fd from here on.
  virtual void send_file(int status, std::string_view headers, std::string_view more_headers,
                         int fd, std::uint64_t offset, std::uint64_t length) noexcept = 0;
  // A short text/plain body that names the status: "404 Not Found".
  virtual void send_status(int status, std::string_view headers = {}) noexcept = 0;
};

}  // namespace kiln
