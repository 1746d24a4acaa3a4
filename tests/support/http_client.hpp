#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kiln_process.hpp"

namespace kiln::test {

// A response as a client saw it.
struct http_response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = true;  // What llhttp concludes from the response's version and headers.

  // The first header with this name (any case), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
  std::size_t count(std::string_view name) const;
};

// A plain TCP connection to 127.0.0.1 (or a unix socket) that sends exactly the bytes a test
// gives it, and reads responses with llhttp in response mode.
class http_client {
 public:
  explicit http_client(std::uint16_t port);
  // Connects to ::1 when family is AF_INET6, 127.0.0.1 when it is AF_INET.
  http_client(std::uint16_t port, int family);
  // Connects to a unix socket.
  explicit http_client(const std::string& unix_path);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  int fd() const noexcept { return fd_; }
  // Sends every byte; false when the server has closed or reset the connection.
  bool send(std::string_view bytes);
  // Reads the next complete response; nullopt when the connection ends first or the time runs
  // out. A response to HEAD has no body whatever its Content-Length says.
  std::optional<http_response> read_response(bool to_head = false,
                                             std::chrono::milliseconds limit = patience);
  // True when the server closes the connection (EOF or reset) before limit, with no more
  // bytes than those already read. Bytes that arrive are kept for read_response.
  bool closed_by_server(std::chrono::milliseconds limit = patience);
  // Waits until at least count bytes have arrived and not been read as responses; false when
  // the connection ends first or the time runs out.
  bool wait_for_bytes(std::size_t count, std::chrono::milliseconds limit = patience);
  // Everything until the server closes the connection.
  std::string read_until_closed(std::chrono::milliseconds limit = patience);
  // Bytes received but not yet parsed as responses.
  const std::string& unread() const noexcept { return buffer_; }
  // Closes the sending side only (shutdown SHUT_WR).
  void shutdown_sending();

 private:
  // Waits for bytes; false on EOF, error or timeout (eof_ says which).
  bool receive(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
};

// A request line and headers with CRLF line ends: get("/a") is "GET /a HTTP/1.1\r\nHost:
// kiln\r\n\r\n".
std::string get(std::string_view target, std::string_view extra_headers = "");

// GETs target on a connection of its own, and returns the response; fails the test when none
// comes.
http_response fetch(std::uint16_t port, std::string_view target,
                    std::string_view extra_headers = "");

}  // namespace kiln::test
