#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kiln {

// Where to listen, as a bind setting names it.
struct listen_address {
  enum class kind { tcp, unix_socket, inherited };
  kind type = kind::tcp;
  std::string host;        // tcp: an IPv4 or IPv6 literal, or a name such as "localhost".
  std::uint16_t port = 0;  // tcp: 0 lets the kernel choose.
  std::string path;        // unix_socket.
  int fd = -1;             // inherited: a listening socket this process was given.
};

// Parses HOST:PORT, [IPv6]:PORT, :PORT, unix:PATH or fd://N; throws std::invalid_argument.
listen_address parse_listen_address(std::string_view text);

struct listen_options {
  int backlog = 2048;
  bool reuse_port = false;
};

// A listening socket, made with plain socket/bind/listen: the master owns it and the workers
// inherit it across fork. Closed when destroyed.
class listener {
 public:
  // Creates, binds and listens; throws std::system_error naming the call and the address.
  static listener open(const listen_address& address, const listen_options& options);

  listener(listener&& other) noexcept;
  listener& operator=(listener&& other) noexcept;
  ~listener();

  int fd() const noexcept { return fd_; }
  // The address as a URL with the real port: "http://127.0.0.1:8000", "unix:/run/kiln.sock".
  const std::string& url() const noexcept { return url_; }
  // The bound address, with the port the kernel chose.
  const listen_address& address() const noexcept { return address_; }

 private:
  listener() = default;
  int fd_ = -1;
  std::string url_;
  listen_address address_;
  bool owns_path_ = false;  // A unix socket file this process created, removed on close.
};

}  // namespace kiln
