#include "http_client.hpp"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <llhttp.h>

namespace kiln::test {
namespace {

// Collects one response from llhttp's callbacks.
struct response_collector {
  http_response response;
  std::string field;
  std::string value;
  bool in_value = false;
  bool complete = false;
  bool to_head = false;

  void finish_field() {
    if (in_value) response.headers.emplace_back(std::move(field), std::move(value));
    field.clear();
    value.clear();
    in_value = false;
  }

  static response_collector& of(llhttp_t* parser) {
    return *static_cast<response_collector*>(parser->data);
  }
};

const llhttp_settings_t& response_settings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_header_field = [](llhttp_t* p, const char* at, std::size_t length) {
      auto& c = response_collector::of(p);
      if (c.in_value) c.finish_field();
      c.field.append(at, length);
      return 0;
    };
    s.on_header_value = [](llhttp_t* p, const char* at, std::size_t length) {
      auto& c = response_collector::of(p);
      c.in_value = true;
      c.value.append(at, length);
      return 0;
    };
    s.on_header_value_complete = [](llhttp_t* p) {
      response_collector::of(p).in_value = true;
      return 0;
    };
    s.on_headers_complete = [](llhttp_t* p) {
      auto& c = response_collector::of(p);
      c.finish_field();
      c.response.status = llhttp_get_status_code(p);
      // 1 tells llhttp there is no body, as for a response to HEAD.
      return c.to_head ? 1 : 0;
    };
    s.on_body = [](llhttp_t* p, const char* at, std::size_t length) {
      response_collector::of(p).response.body.append(at, length);
      return 0;
    };
    s.on_message_complete = [](llhttp_t* p) {
      auto& c = response_collector::of(p);
      c.response.keep_alive = llhttp_should_keep_alive(p) != 0;
      c.complete = true;
      return static_cast<int>(HPE_PAUSED);
    };
    return s;
  }();
  return settings;
}

}  // namespace

std::optional<std::string> http_response::header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (field.size() == name.size() && strncasecmp(field.data(), name.data(), name.size()) == 0) {
      return value;
    }
  }
  return std::nullopt;
}

std::size_t http_response::count(std::string_view name) const {
  std::size_t n = 0;
  for (const auto& [field, value] : headers) {
    if (field.size() == name.size() && strncasecmp(field.data(), name.data(), name.size()) == 0)
      ++n;
  }
  return n;
}

http_client::http_client(std::uint16_t port) : http_client(port, AF_INET) {}

http_client::http_client(std::uint16_t port, int family) {
  fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd_ >= 0);
  sockaddr_storage address{};
  socklen_t length = 0;
  if (family == AF_INET6) {
    auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    v6.sin6_addr = in6addr_loopback;
    length = sizeof v6;
  } else {
    auto& v4 = reinterpret_cast<sockaddr_in&>(address);
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    length = sizeof v4;
  }
  INFO("connect to port " << port << ": " << std::strerror(errno));
  REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0);
}

http_client::http_client(const std::string& unix_path) {
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd_ >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, unix_path.c_str(), sizeof address.sun_path - 1);
  INFO("connect to " << unix_path << ": " << std::strerror(errno));
  REQUIRE(connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
}

http_client::~http_client() {
  if (fd_ >= 0) close(fd_);
}

bool http_client::send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void http_client::shutdown_sending() {
  ::shutdown(fd_, SHUT_WR);
}

bool http_client::receive(std::chrono::steady_clock::time_point deadline) {
  if (eof_) return false;
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd ready{fd_, POLLIN, 0};
    int n = poll(&ready, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    char chunk[65536];
    ssize_t got = recv(fd_, chunk, sizeof chunk, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      eof_ = true;  // A reset counts as closed too.
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(got));
    return true;
  }
}

std::optional<http_response> http_client::read_response(bool to_head,
                                                        std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (true) {
    // Parse what has arrived from the start: a response is small, and it keeps this simple.
    response_collector collector;
    collector.to_head = to_head;
    llhttp_t parser;
    llhttp_init(&parser, HTTP_RESPONSE, &response_settings());
    parser.data = &collector;
    llhttp_errno_t result = llhttp_execute(&parser, buffer_.data(), buffer_.size());
    if (collector.complete) {
      // Skip 1xx interim responses such as 100 Continue.
      std::size_t used = static_cast<std::size_t>(llhttp_get_error_pos(&parser) - buffer_.data());
      buffer_.erase(0, used);
      if (collector.response.status >= 100 && collector.response.status < 200) continue;
      return collector.response;
    }
    if (result != HPE_OK) {
      FAIL("unparseable response: " << llhttp_errno_name(result) << " in:\n" << buffer_);
    }
    if (!receive(deadline)) return std::nullopt;
  }
}

bool http_client::closed_by_server(std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (receive(deadline)) {
  }
  return eof_;
}

bool http_client::wait_for_bytes(std::size_t count, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (buffer_.size() < count) {
    if (!receive(deadline)) return false;
  }
  return true;
}

std::string http_client::read_until_closed(std::chrono::milliseconds limit) {
  closed_by_server(limit);
  return std::exchange(buffer_, {});
}

std::string get(std::string_view target, std::string_view extra_headers) {
  std::string request = "GET ";
  request.append(target).append(" HTTP/1.1\r\nHost: kiln\r\n").append(extra_headers).append("\r\n");
  return request;
}

http_response fetch(std::uint16_t port, std::string_view target, std::string_view extra_headers) {
  http_client client(port);
  REQUIRE(client.send(get(target, extra_headers)));
  auto response = client.read_response();
  REQUIRE(response);
  return *response;
}

}  // namespace kiln::test
