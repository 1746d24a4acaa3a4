#include "response_head.hpp"

#include "text.hpp"

namespace kiln {

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Unknown";
  }
}

void append_response_head(std::string& out, int status,
                          std::initializer_list<std::string_view> header_blocks,
                          std::optional<std::uint64_t> content_length, connection_mode mode,
                          std::string_view date, std::string_view reason) {
  out.append("HTTP/1.1 ");
  append_number(out, static_cast<std::uint64_t>(status));
  out.push_back(' ');
  out.append(reason.empty() ? reason_phrase(status) : reason);
  out.append("\r\nServer: kiln\r\nDate: ");
  out.append(date);
  out.append("\r\n");
  for (std::string_view block : header_blocks)
    out.append(block);
  if (content_length) {
    out.append("Content-Length: ");
    append_number(out, *content_length);
    out.append("\r\n");
  }
  switch (mode) {
    case connection_mode::keep_alive:
      break;
    case connection_mode::keep_alive_1_0:
      out.append("Connection: keep-alive\r\n");
      break;
    case connection_mode::close:
      out.append("Connection: close\r\n");
      break;
  }
  out.append("\r\n");
}

}  // namespace kiln
