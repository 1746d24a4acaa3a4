#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace kiln {

// What the Connection header of a response says.
enum class connection_mode {
  keep_alive,      // HTTP/1.1's default: no header needed.
  keep_alive_1_0,  // An HTTP/1.0 client asked for keep-alive and gets it: "Connection: keep-alive".
  close,           // "Connection: close", and the connection closes after the response.
};

// The standard reason phrase for a status ("Not Found"), or "Unknown".
std::string_view reason_phrase(int status) noexcept;

// True when a response with this status never has a body (1xx, 204, 304).
constexpr bool status_has_body(int status) noexcept {
  return status >= 200 && status != 204 && status != 304;
}

// Appends an HTTP/1.1 status line and header block to out. Each of header_blocks holds
// preformatted "Name: value\r\n" lines; Server, Date, Content-Length (when given) and
// Connection are added. An empty reason is the status's standard phrase.
void append_response_head(std::string& out, int status,
                          std::initializer_list<std::string_view> header_blocks,
                          std::optional<std::uint64_t> content_length, connection_mode mode,
                          std::string_view date, std::string_view reason = {});

}  // namespace kiln
