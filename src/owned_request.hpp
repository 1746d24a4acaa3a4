#pragma once

#include <string>

#include <kiln/request.hpp>

namespace kiln {

// A request that owns its bytes, for an answer that comes after the connection has gone on and
// reused the buffers the request's views point into: the Python app's, on another thread. One
// copy of the head holds every view; the body is moved, not copied.
struct owned_request {
  // Copies from's views and moves its body.
  explicit owned_request(request& from);
  owned_request(const owned_request&) = delete;
  owned_request& operator=(const owned_request&) = delete;

  std::string bytes;  // The head's text, then peer, server and request ID.
  request req;        // Its views point into bytes.
};

}  // namespace kiln
