#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kiln {

// The PROXY protocol header a TCP load balancer sends before the client's bytes (HAProxy's
// specification, versions 1 and 2), naming the client it stands for.
struct proxy_header {
  enum class status {
    need_more,  // What arrived may still become a header.
    complete,   // consumed bytes were the header.
    invalid,    // Not a PROXY header, or a malformed one: the connection closes.
  };
  status state = status::need_more;
  std::size_t consumed = 0;
  // The client's address as kiln writes peers ("1.2.3.4:5678", "[2001:db8::1]:443"); empty
  // when the header names none (v1 UNKNOWN, v2 LOCAL or an unspecified family): the load
  // balancer's own connection, such as a health check.
  std::string source;
};

// Reads a PROXY header from the start of data.
proxy_header parse_proxy_header(std::string_view data);

// The longest header kiln waits for: v1's 107 bytes, v2's 16 and a block of addresses and
// extensions (TLVs) kiln skips.
inline constexpr std::size_t max_proxy_header = 16 + 512;

}  // namespace kiln
