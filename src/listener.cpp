#include "listener.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <linux/filter.h>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/un.h>
#include <system_error>
#include <unistd.h>
#include <utility>

#include <fmt/format.h>

#include "http_syntax.hpp"
#include "socket_address.hpp"

namespace kiln {
namespace {

std::uint16_t parse_port(std::string_view text, std::string_view whole) {
  unsigned value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || value > 65535) {
    throw std::invalid_argument(fmt::format("\"{}\" has no valid port (0 to 65535)", whole));
  }
  return static_cast<std::uint16_t>(value);
}

[[noreturn]] void throw_errno(std::string_view call, std::string_view address) {
  throw std::system_error(errno, std::generic_category(), fmt::format("{} for {}", call, address));
}

void set_option(int fd, int level, int name, int value, std::string_view call,
                std::string_view address) {
  if (setsockopt(fd, level, name, &value, sizeof value) != 0) throw_errno(call, address);
}

// Sets up a TCP socket the way every kiln listener is: address reuse, IPv6 only for [::],
// TCP_NODELAY (which accepted sockets inherit on Linux, saving a call per connection) and
// deferred accept (the kernel hands a connection over once its first bytes have arrived, so a
// worker can read the request straight after accept()).
int tcp_socket(int family, bool reuse_port, std::string_view name) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("socket", name);
  try {
    set_option(fd, SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)", name);
    if (reuse_port) set_option(fd, SOL_SOCKET, SO_REUSEPORT, 1, "setsockopt(SO_REUSEPORT)", name);
    if (family == AF_INET6) {
      set_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "setsockopt(IPV6_V6ONLY)", name);
    }
    set_option(fd, IPPROTO_TCP, TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)", name);
    set_option(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, 1, "setsockopt(TCP_DEFER_ACCEPT)", name);
  } catch (...) {
    ::close(fd);
    throw;
  }
  return fd;
}

bool int_option(int fd, int level, int name) {
  int value = 0;
  socklen_t length = sizeof value;
  return getsockopt(fd, level, name, &value, &length) == 0 && value != 0;
}

using address_list = std::unique_ptr<addrinfo, decltype(&freeaddrinfo)>;

// The addresses a TCP bind setting's host and port name, of family (or any, AF_UNSPEC); empty
// with getaddrinfo's error code when there are none.
address_list resolve(const listen_address& address, int family, int& error) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string service = std::to_string(address.port);
  error = getaddrinfo(address.host.c_str(), service.c_str(), &hints, &found);
  return address_list(error == 0 ? found : nullptr, freeaddrinfo);
}

}  // namespace

listen_address parse_listen_address(std::string_view text) {
  listen_address address;
  if (text.starts_with("unix:")) {
    address.type = listen_address::kind::unix_socket;
    address.path = std::string(text.substr(5));
    if (address.path.empty()) throw std::invalid_argument("\"unix:\" needs a path");
    if (address.path.size() >= sizeof(sockaddr_un::sun_path)) {
      throw std::invalid_argument(fmt::format("the socket path in \"{}\" is too long", text));
    }
    return address;
  }
  if (text.starts_with("fd://")) {
    address.type = listen_address::kind::inherited;
    std::string_view number = text.substr(5);
    auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), address.fd);
    if (number.empty() || error != std::errc{} || end != number.data() + number.size() ||
        address.fd < 0) {
      throw std::invalid_argument(fmt::format("\"{}\" has no valid file descriptor", text));
    }
    return address;
  }
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw std::invalid_argument(fmt::format("\"{}\" is not [IPv6]:PORT", text));
    }
    address.host = std::string(text.substr(1, close - 1));
    address.port = parse_port(text.substr(close + 2), text);
    return address;
  }
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    throw std::invalid_argument(
        fmt::format("\"{}\" is not HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N", text));
  }
  if (text.substr(0, colon).find(':') != std::string_view::npos) {
    throw std::invalid_argument(
        fmt::format("\"{}\": write IPv6 addresses as [ADDRESS]:PORT", text));
  }
  address.host = std::string(text.substr(0, colon));
  if (address.host.empty()) address.host = "0.0.0.0";
  address.port = parse_port(text.substr(colon + 1), text);
  return address;
}

std::vector<inherited_socket> take_inherited_sockets() {
  std::vector<inherited_socket> sockets;
  const char* pid = std::getenv("LISTEN_PID");
  const char* count = std::getenv("LISTEN_FDS");
  const char* names = std::getenv("LISTEN_FDNAMES");
  if (pid != nullptr && count != nullptr && std::atol(pid) == static_cast<long>(getpid())) {
    int n = std::atoi(count);
    std::string_view rest = names != nullptr ? names : "";
    for (int i = 0; i < n; ++i) {
      auto colon = rest.find(':');
      std::string name;
      if (!percent_decode(rest.substr(0, colon), name)) name = rest.substr(0, colon);
      rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
      int fd = 3 + i;  // SD_LISTEN_FDS_START.
      fcntl(fd, F_SETFD, FD_CLOEXEC);
      sockets.push_back({fd, std::move(name)});
    }
  }
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  return sockets;
}

std::string encode_socket_name(std::string_view bind_text) {
  std::string name;
  for (char c : bind_text) {
    if (c == ':' || c == '%') {
      name += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    } else {
      name.push_back(c);
    }
  }
  return name;
}

listener listener::open(const std::string& bind_text, const listen_options& options) {
  listen_address address = parse_listen_address(bind_text);
  if (address.type == listen_address::kind::inherited) {
    return adopt(address.fd, bind_text, options);
  }
  listener result;
  result.bind_text_ = bind_text;
  result.backlog_ = options.backlog;
  result.made_here_ = true;
  if (address.type == listen_address::kind::unix_socket) {
    result.fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (result.fd_ < 0) throw_errno("socket", address.path);
    // A socket file left behind by an earlier run would make bind fail; anything else there
    // is not kiln's to remove.
    struct stat existing {};
    if (lstat(address.path.c_str(), &existing) == 0 && S_ISSOCK(existing.st_mode)) {
      unlink(address.path.c_str());
    }
    sockaddr_un local{};
    local.sun_family = AF_UNIX;
    std::memcpy(local.sun_path, address.path.c_str(), address.path.size() + 1);
    if (bind(result.fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      throw_errno("bind", address.path);
    }
    result.unix_path_ = address.path;
    if (listen(result.fd_, options.backlog) != 0) throw_errno("listen", address.path);
    result.describe();
    return result;
  }

  int unresolved = 0;
  auto addresses = resolve(address, AF_UNSPEC, unresolved);
  if (!addresses) {
    throw std::system_error(
        EINVAL, std::generic_category(),
        fmt::format("getaddrinfo for {}: {}", bind_text, gai_strerror(unresolved)));
  }
  const addrinfo* found = addresses.get();
  sockaddr_storage chosen{};
  std::memcpy(&chosen, found->ai_addr, found->ai_addrlen);
  socklen_t chosen_length = found->ai_addrlen;
  if (options.reuse_port) {
    // SO_REUSEPORT lets any process of this user bind the port too, and take a share of its
    // clients: a second server started by mistake would serve half of them, silently. A plain
    // socket bound first finds it out, and learns the port when the setting says 0.
    int probe = tcp_socket(found->ai_family, false, bind_text);
    if (bind(probe, found->ai_addr, found->ai_addrlen) != 0) {
      int error = errno;
      ::close(probe);
      errno = error;
      throw_errno("bind (another server may hold the port with SO_REUSEPORT)", bind_text);
    }
    getsockname(probe, reinterpret_cast<sockaddr*>(&chosen), &chosen_length);
    ::close(probe);
  }
  result.fd_ = tcp_socket(found->ai_family, options.reuse_port, bind_text);
  if (bind(result.fd_, reinterpret_cast<sockaddr*>(&chosen), chosen_length) != 0) {
    throw_errno("bind", bind_text);
  }
  if (options.reuse_port) {
    // This socket only holds the port; listening on it would make the kernel send it a share
    // of the connections that nobody accepts.
    result.reserve_ = true;
  } else if (listen(result.fd_, options.backlog) != 0) {
    throw_errno("listen", bind_text);
  }
  result.describe();
  return result;
}

listener listener::adopt(int fd, const std::string& bind_text, const listen_options& options) {
  listener result;
  result.bind_text_ = bind_text;
  result.backlog_ = options.backlog;
  std::string name = fmt::format("inherited socket {}", fd);
  int type = 0;
  socklen_t length = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0) throw_errno("getsockopt", name);
  if (type != SOCK_STREAM) {
    throw std::system_error(EINVAL, std::generic_category(), name + " is not a stream socket");
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  result.fd_ = fd;
  if (!int_option(fd, SOL_SOCKET, SO_ACCEPTCONN)) {
    if (!int_option(fd, SOL_SOCKET, SO_REUSEPORT)) {
      throw std::system_error(EINVAL, std::generic_category(), name + " is not listening");
    }
    result.reserve_ = true;  // A reuse_port master's socket that holds the port.
  }
  result.describe();
  return result;
}

void listener::describe() {
  bound_length_ = sizeof bound_;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&bound_), &bound_length_) != 0) {
    throw_errno("getsockname", bind_text_);
  }
  url_ = (bound_.ss_family == AF_UNIX ? "unix:" : "http://") + address_text(bound_);
}

int listener::socket_for_worker() const {
  int fd = tcp_socket(bound_.ss_family, true, bind_text_);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&bound_), bound_length_) != 0 ||
      listen(fd, backlog_) != 0) {
    int error = errno;
    ::close(fd);
    errno = error;
    throw_errno("bind and listen with SO_REUSEPORT", bind_text_);
  }
  return fd;
}

bool listener::bound_to(const listen_address& address) const {
  switch (address.type) {
    case listen_address::kind::unix_socket:
      return bound_.ss_family == AF_UNIX &&
             address.path == reinterpret_cast<const sockaddr_un&>(bound_).sun_path;
    case listen_address::kind::inherited:
      return address.fd == fd_;
    case listen_address::kind::tcp:
      break;
  }
  if (address.port == 0) return false;
  int error = 0;
  auto found = resolve(address, bound_.ss_family, error);
  return found && found->ai_addrlen == bound_length_ &&
         std::memcmp(found->ai_addr, &bound_, bound_length_) == 0;
}

listener::listener(listener&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      bind_text_(std::move(other.bind_text_)),
      url_(std::move(other.url_)),
      unix_path_(std::exchange(other.unix_path_, {})),
      bound_(other.bound_),
      bound_length_(other.bound_length_),
      backlog_(other.backlog_),
      reserve_(other.reserve_),
      made_here_(other.made_here_) {}

listener& listener::operator=(listener&& other) noexcept {
  // Swapping hands this listener's old socket to other, whose destructor closes it.
  std::swap(fd_, other.fd_);
  std::swap(bind_text_, other.bind_text_);
  std::swap(url_, other.url_);
  std::swap(unix_path_, other.unix_path_);
  std::swap(bound_, other.bound_);
  std::swap(bound_length_, other.bound_length_);
  std::swap(backlog_, other.backlog_);
  std::swap(reserve_, other.reserve_);
  std::swap(made_here_, other.made_here_);
  return *this;
}

bool listener::refuse_new_clients() noexcept {
  bool tcp = bound_.ss_family == AF_INET || bound_.ss_family == AF_INET6;
  // A socket handed over (by systemd, or by the master before a USR2) outlives this process in
  // others, which a filter would follow; a reuse_port master's socket only holds the port.
  if (fd_ < 0 || !tcp || !made_here_ || reserve_) return false;
  return turn_away_new_clients(fd_);
}

bool turn_away_new_clients(int fd) noexcept {
  // A socket filter sees a listener's packets from the TCP header on: a SYN (flags at byte 13,
  // SYN is 0x02) is dropped, so the client retries it after a second and then finds the socket
  // closed, or another; the data of connections already made passes, and puts them in the
  // accept queue.
  static sock_filter code[] = {
      {BPF_LD | BPF_B | BPF_ABS, 0, 0, 13},
      {BPF_JMP | BPF_JSET | BPF_K, 0, 1, 0x02},
      {BPF_RET | BPF_K, 0, 0, 0},
      {BPF_RET | BPF_K, 0, 0, 0xffffffff},
  };
  sock_fprog program{static_cast<unsigned short>(std::size(code)), code};
  return ::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) == 0;
}

void listener::close_socket() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

listener::~listener() {
  if (fd_ >= 0) ::close(fd_);
  if (!unix_path_.empty()) ::unlink(unix_path_.c_str());
}

}  // namespace kiln
