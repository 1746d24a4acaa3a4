#include "listener.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <system_error>
#include <unistd.h>
#include <utility>

#include <fmt/format.h>

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

// Formats a bound socket address as a URL: "http://127.0.0.1:8000", "http://[::1]:8000".
std::string url_of(const sockaddr_storage& bound) {
  char host[INET6_ADDRSTRLEN] = {};
  if (bound.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(bound);
    inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
    return fmt::format("http://[{}]:{}", host, ntohs(v6.sin6_port));
  }
  const auto& v4 = reinterpret_cast<const sockaddr_in&>(bound);
  inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
  return fmt::format("http://{}:{}", host, ntohs(v4.sin_port));
}

void set_option(int fd, int level, int name, std::string_view call, std::string_view address) {
  int on = 1;
  if (setsockopt(fd, level, name, &on, sizeof on) != 0) throw_errno(call, address);
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

listener listener::open(const listen_address& address, const listen_options& options) {
  listener result;
  result.address_ = address;
  switch (address.type) {
    case listen_address::kind::inherited: {
      std::string name = fmt::format("fd://{}", address.fd);
      int accepting = 0;
      socklen_t length = sizeof accepting;
      if (getsockopt(address.fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) != 0) {
        throw_errno("getsockopt(SO_ACCEPTCONN)", name);
      }
      if (!accepting) {
        throw std::system_error(EINVAL, std::generic_category(),
                                name + " is not a listening socket");
      }
      fcntl(address.fd, F_SETFD, FD_CLOEXEC);
      result.fd_ = address.fd;
      sockaddr_storage bound{};
      socklen_t bound_length = sizeof bound;
      getsockname(address.fd, reinterpret_cast<sockaddr*>(&bound), &bound_length);
      if (bound.ss_family == AF_UNIX) {
        result.url_ = fmt::format("unix:{}", reinterpret_cast<sockaddr_un&>(bound).sun_path);
      } else {
        result.url_ = url_of(bound);
      }
      return result;
    }
    case listen_address::kind::unix_socket: {
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
      result.owns_path_ = true;
      if (listen(result.fd_, options.backlog) != 0) throw_errno("listen", address.path);
      result.url_ = fmt::format("unix:{}", address.path);
      return result;
    }
    case listen_address::kind::tcp:
      break;
  }

  std::string name = address.host.find(':') != std::string::npos
                         ? fmt::format("[{}]:{}", address.host, address.port)
                         : fmt::format("{}:{}", address.host, address.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string service = std::to_string(address.port);
  if (int error = getaddrinfo(address.host.c_str(), service.c_str(), &hints, &found); error != 0) {
    throw std::system_error(EINVAL, std::generic_category(),
                            fmt::format("getaddrinfo for {}: {}", name, gai_strerror(error)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, freeaddrinfo);

  result.fd_ = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (result.fd_ < 0) throw_errno("socket", name);
  set_option(result.fd_, SOL_SOCKET, SO_REUSEADDR, "setsockopt(SO_REUSEADDR)", name);
  if (options.reuse_port) {
    set_option(result.fd_, SOL_SOCKET, SO_REUSEPORT, "setsockopt(SO_REUSEPORT)", name);
  }
  if (found->ai_family == AF_INET6) {
    // [::]:PORT means IPv6 only, so that 0.0.0.0:PORT can be bound beside it.
    set_option(result.fd_, IPPROTO_IPV6, IPV6_V6ONLY, "setsockopt(IPV6_V6ONLY)", name);
  }
  // Accepted sockets inherit TCP_NODELAY from the listener on Linux: responses leave as soon as
  // they are written, without a setsockopt per connection.
  set_option(result.fd_, IPPROTO_TCP, TCP_NODELAY, "setsockopt(TCP_NODELAY)", name);
  // The kernel hands a connection over only once its first bytes have arrived, so a worker can
  // read the request right after accept() instead of waiting a loop iteration to be told.
  int defer_seconds = 1;
  if (setsockopt(result.fd_, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer_seconds, sizeof defer_seconds) !=
      0) {
    throw_errno("setsockopt(TCP_DEFER_ACCEPT)", name);
  }
  if (bind(result.fd_, found->ai_addr, found->ai_addrlen) != 0) throw_errno("bind", name);
  if (listen(result.fd_, options.backlog) != 0) throw_errno("listen", name);

  sockaddr_storage bound{};
  socklen_t bound_length = sizeof bound;
  if (getsockname(result.fd_, reinterpret_cast<sockaddr*>(&bound), &bound_length) != 0) {
    throw_errno("getsockname", name);
  }
  result.url_ = url_of(bound);
  result.address_.port =
      ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                        : reinterpret_cast<sockaddr_in&>(bound).sin_port);
  return result;
}

listener::listener(listener&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      url_(std::move(other.url_)),
      address_(std::move(other.address_)),
      owns_path_(std::exchange(other.owns_path_, false)) {}

listener& listener::operator=(listener&& other) noexcept {
  // Swapping hands this listener's old socket to other, whose destructor closes it.
  std::swap(fd_, other.fd_);
  std::swap(url_, other.url_);
  std::swap(address_, other.address_);
  std::swap(owns_path_, other.owns_path_);
  return *this;
}

listener::~listener() {
  if (fd_ >= 0) ::close(fd_);
  if (owns_path_) ::unlink(address_.path.c_str());
}

}  // namespace kiln
