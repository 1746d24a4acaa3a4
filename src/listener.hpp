#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <vector>

namespace kiln {

// Where to listen, as a bind setting names it.
struct listen_address {
  enum class kind { tcp, unix_socket, inherited };
  kind type = kind::tcp;
  std::string host;        // tcp: an IPv4 or IPv6 literal, or a name such as "localhost".
  std::uint16_t port = 0;  // tcp: 0 lets the kernel choose.
  std::string path;        // unix_socket.
  int fd = -1;             // inherited: a socket this process was given (fd://N).
};

// Parses HOST:PORT, [IPv6]:PORT, :PORT, unix:PATH or fd://N; throws std::invalid_argument.
listen_address parse_listen_address(std::string_view text);

struct listen_options {
  int backlog = 2048;
  bool reuse_port = false;
};

// A socket this process was handed at start (systemd socket activation, or the master that
// re-executed kiln on USR2), with the name it was given.
struct inherited_socket {
  int fd;
  std::string name;
};

// Takes the sockets described by LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES, and removes those
// variables so that no child mistakes them for its own.
std::vector<inherited_socket> take_inherited_sockets();

// A bind setting as a LISTEN_FDNAMES entry, in which ':' separates names: "%" and ":" are
// percent-encoded. take_inherited_sockets() decodes the names.
std::string encode_socket_name(std::string_view bind_text);

// Makes the kernel drop new clients' SYNs on a listening TCP socket (in every process holding
// it) while the connections it has made still reach its accept queue; false when it cannot.
bool turn_away_new_clients(int fd) noexcept;

// One bind setting's socket, made with plain socket/bind/listen. The master owns it; workers
// inherit it across fork. With reuse_port, the master's socket is bound but not listening: it
// holds the port, and each worker gets a listening socket of its own on the same address, so
// that the kernel spreads connections over the workers. Closed when destroyed.
class listener {
 public:
  // Creates and binds the socket for a bind setting; throws std::system_error naming the call
  // and the address, or std::invalid_argument for an address that does not parse.
  static listener open(const std::string& bind_text, const listen_options& options);
  // Takes over a socket this process inherited, to serve bind_text.
  static listener adopt(int fd, const std::string& bind_text, const listen_options& options);

  listener(listener&& other) noexcept;
  listener& operator=(listener&& other) noexcept;
  ~listener();

  // The socket workers inherit, or with reuse_port the one that holds the port.
  int fd() const noexcept { return fd_; }
  // True when every worker accepts from fd(); false when each needs socket_for_worker().
  bool shared() const noexcept { return !reserve_; }
  // True when this socket can serve its bind setting with reuse_port on or off: a TCP socket
  // is made one way or the other, a unix socket or an inherited one either way.
  bool suits(bool reuse_port) const noexcept {
    bool tcp = bound_.ss_family == AF_INET || bound_.ss_family == AF_INET6;
    return !tcp || shared() != reuse_port;
  }
  // reuse_port: a new listening socket on the same address for one worker; throws.
  int socket_for_worker() const;
  // The bind setting this socket serves: "127.0.0.1:0".
  const std::string& bind_text() const noexcept { return bind_text_; }
  // The address as a URL with the real port: "http://127.0.0.1:8000", "unix:/run/kiln.sock".
  const std::string& url() const noexcept { return url_; }
  // True when the socket is bound to what address names.
  bool bound_to(const listen_address& address) const;
  // Leaves the unix socket file in place on close: another process serves it now.
  void keep_socket_file() noexcept { unix_path_.clear(); }
  // Closes this process's descriptor now; the socket file, if any, goes with the object. The
  // socket itself closes when the last process holding it does.
  void close_socket() noexcept;
  // Makes the kernel ignore new clients' SYNs on this TCP socket, in every process holding it,
  // while the connections already made still reach the accept queue. Only for a socket this
  // process made, and shares with no other server; false when it does nothing.
  bool refuse_new_clients() noexcept;

 private:
  listener() = default;
  void describe();

  int fd_ = -1;
  std::string bind_text_;
  std::string url_;
  std::string unix_path_;  // A socket file this process created, removed on close.
  sockaddr_storage bound_{};
  socklen_t bound_length_ = 0;
  int backlog_ = 2048;
  bool reserve_ = false;
  bool made_here_ = false;  // Made by open(), not handed over.
};

}  // namespace kiln
