#include "request_parser.hpp"

#include <cstring>

#include "http_syntax.hpp"

namespace kiln {
namespace {

// Extends a span by bytes that llhttp reports in pieces. The pieces of one element are adjacent
// in memory, because the connection keeps an unfinished head contiguous (see rebase()); pieces
// that are not mean llhttp skipped bytes inside the element, which it does for obs-fold.
bool extend(std::string_view& span, const char* at, std::size_t length) noexcept {
  if (span.empty()) {
    span = {at, length};
    return true;
  }
  if (span.data() + span.size() != at) return false;
  span = {span.data(), span.size() + length};
  return true;
}

// Moves a span that lies in [from, from + size) to the same place in to; others (such as the
// literal "/" an empty path becomes) stay.
void move_span(std::string_view& span, const char* from, std::size_t size,
               const char* to) noexcept {
  if (span.empty() || span.data() < from || span.data() >= from + size) return;
  span = {to + (span.data() - from), span.size()};
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// RFC 9112, 3.2 and RFC 3986, 3.2.2: Host is uri-host [ ":" port ], or empty.
bool valid_host(std::string_view host) noexcept {
  std::string_view rest = host;
  if (host.starts_with('[')) {
    auto close = host.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : host.substr(1, close - 1)) {
      bool hex = is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!hex && c != ':' && c != '.' && c != 'v' && c != 'V') return false;
    }
    rest = host.substr(close + 1);
  } else {
    auto colon = host.find(':');
    for (char c : host.substr(0, colon)) {
      bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
                        c == '-' || c == '.' || c == '_' || c == '~';
      bool sub_delim = c != '\0' && std::strchr("!$&'()*+,;=%", c) != nullptr;
      if (!unreserved && !sub_delim) return false;
    }
    rest = colon == std::string_view::npos ? std::string_view{} : host.substr(colon);
  }
  if (rest.empty()) return true;
  if (rest.front() != ':') return false;
  for (char c : rest.substr(1)) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// What is wrong with the lines of a head, or nullptr. Every line must end with CRLF: llhttp 8.1
// accepts a bare LF in places, and a server that splits lines where a proxy in front of it does
// not can be made to see two requests where the proxy saw one. No line may start with a space
// or a tab: that is obs-fold (RFC 9112, 5.2), which llhttp unfolds silently when the folded
// field's first line is empty ("Name:" CRLF " value"), so it is looked for here, once, whatever
// the spans say.
const char* line_error(const char* begin, const char* end) noexcept {
  for (const char* p = begin; p < end; ++p) {
    if (*p == '\n') {
      if (p == begin || p[-1] != '\r') return "a line of the head does not end with CRLF";
      if (p + 1 < end && (p[1] == ' ' || p[1] == '\t')) {
        return "obsolete line folding in a header field";
      }
    } else if (*p == '\r' && (p + 1 == end || p[1] != '\n')) {
      return "a line of the head does not end with CRLF";
    }
  }
  return nullptr;
}

// How a request's body is framed, read from its header fields by kiln itself (RFC 9112, 6.3),
// because llhttp's own reading has gaps: it ignores an empty Transfer-Encoding, skips the
// checks for a request it takes for an upgrade, and lets unknown codings before chunked pass.
// Only one shape of Transfer-Encoding is accepted, a single "chunked", so that kiln can never
// read a body's length differently from anything in front of it.
struct framing_verdict {
  int status = 0;  // 0: the framing is unambiguous.
  std::string_view reason;
};

framing_verdict check_framing(const std::vector<header>& headers) noexcept {
  std::size_t content_lengths = 0;
  std::size_t codings = 0;
  std::size_t chunked = 0;
  bool transfer_encoding = false;
  bool chunked_last = false;
  bool unknown_coding = false;
  for (const auto& field : headers) {
    if (iequals(field.name, "content-length")) {
      ++content_lengths;
      continue;
    }
    if (!iequals(field.name, "transfer-encoding")) continue;
    transfer_encoding = true;
    // Every element, empty ones included: "chunked," or ", chunked" is not worth the doubt.
    std::string_view list = field.value;
    while (true) {
      auto comma = list.find(',');
      std::string_view element = trim_ows(list.substr(0, comma));
      ++codings;
      chunked_last = iequals(element, "chunked");
      if (chunked_last) {
        ++chunked;
      } else {
        auto semicolon = element.find(';');
        if (!is_token(trim_ows(element.substr(0, semicolon)))) {
          return {400, "malformed Transfer-Encoding"};
        }
        unknown_coding = true;
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  if (content_lengths > 1) return {400, "more than one Content-Length"};
  if (!transfer_encoding) return {};
  if (content_lengths > 0) return {400, "both Content-Length and Transfer-Encoding"};
  // RFC 9112, 6.3: a request whose final coding is not chunked has no knowable length.
  if (!chunked_last || chunked != 1) return {400, "chunked is not the final transfer coding, once"};
  // RFC 9112, 6.1: a coding kiln does not implement (gzip, identity, ...) is 501.
  if (unknown_coding || codings != 1) return {501, "transfer coding not implemented"};
  return {};
}

request_parser& owner(llhttp_t* parser) noexcept {
  return *static_cast<request_parser*>(parser->data);
}

}  // namespace

// llhttp calls these C functions; each forwards to the request_parser that owns the llhttp_t.
struct llhttp_callbacks {
  static int on_message_begin(llhttp_t* p) noexcept {
    auto& self = owner(p);
    self.request_.method = {};
    self.request_.target = {};
    self.request_.path = {};
    self.request_.query = {};
    self.request_.headers.clear();
    self.request_.body.clear();
    self.request_.keep_alive = true;
    self.request_.expects_continue = false;
    self.version_ = {};
    self.field_name_ = {};
    self.field_value_ = {};
    self.field_count_ = 0;
    self.field_size_ = 0;
    self.field_name_length_ = 0;
    self.body_size_ = 0;
    self.head_start_ = nullptr;
    self.head_end_ = nullptr;
    self.head_done_ = false;
    if (self.owned_head_.capacity() > 0) std::string().swap(self.owned_head_);
    self.inside_request_ = true;
    self.in_trailers_ = false;
    return HPE_OK;
  }

  static int on_method(llhttp_t* p, const char* at, std::size_t length) noexcept {
    auto& self = owner(p);
    if (self.head_start_ == nullptr) self.head_start_ = at;
    extend(self.request_.method, at, length);
    return self.check_request_line();
  }

  static int on_url(llhttp_t* p, const char* at, std::size_t length) noexcept {
    auto& self = owner(p);
    // llhttp skips any run of spaces before the target; RFC 9112 asks for exactly one, and a
    // parser that agrees with no other about where the target starts invites smuggling.
    const auto& method = self.request_.method;
    if (self.request_.target.empty() && at != method.data() + method.size() + 1) {
      return self.fail(400, "more than one space before the request target");
    }
    if (!extend(self.request_.target, at, length))
      return self.fail(400, "malformed request target");
    return self.check_request_line();
  }

  static int on_version(llhttp_t* p, const char* at, std::size_t length) noexcept {
    auto& self = owner(p);
    // The same for the version: exactly " HTTP/" between the target and its digits.
    const auto& target = self.request_.target;
    if (self.version_.empty() && at != target.data() + target.size() + 6) {
      return self.fail(400, "more than one space before the HTTP version");
    }
    if (!extend(self.version_, at, length)) return self.fail(400, "malformed HTTP version");
    return self.check_request_line();
  }

  static int on_version_complete(llhttp_t* p) noexcept {
    auto& self = owner(p);
    self.request_.version_major = llhttp_get_http_major(p);
    self.request_.version_minor = llhttp_get_http_minor(p);
    if (self.request_.version_major != 1) return self.fail(505, "HTTP version not supported");
    // A higher minor version is served as the highest one kiln speaks (RFC 9110, 6.2).
    if (self.request_.version_minor > 1) self.request_.version_minor = 1;
    return HPE_OK;
  }

  static int on_header_field(llhttp_t* p, const char* at, std::size_t length) noexcept {
    auto& self = owner(p);
    if (self.field_size_ == 0 && ++self.field_count_ > self.limits_.fields) {
      return self.fail(431, "too many header fields");
    }
    if (!self.in_trailers_ && !extend(self.field_name_, at, length)) {
      return self.fail(400, "malformed header field name");
    }
    self.field_name_length_ += length;
    return self.count_field_bytes(length);
  }

  static int on_header_field_complete(llhttp_t* p) noexcept {
    // The ": " between name and value counts towards the field's size, as it does on the wire.
    return owner(p).count_field_bytes(2);
  }

  static int on_header_value(llhttp_t* p, const char* at, std::size_t length) noexcept {
    auto& self = owner(p);
    if (!self.in_trailers_ && !extend(self.field_value_, at, length)) {
      // RFC 9112, 5.2: a server must reject a field value folded onto several lines.
      return self.fail(400, "obsolete line folding in a header field");
    }
    return self.count_field_bytes(length);
  }

  static int on_header_value_complete(llhttp_t* p) noexcept {
    auto& self = owner(p);
    if (self.field_name_length_ == 0) return self.fail(400, "header field without a name");
    // Trailer fields count against the limits but are not kept: the head was handed on already,
    // and the bytes they sit in are not kept contiguous.
    if (!self.in_trailers_) {
      self.request_.headers.push_back({self.field_name_, trim_ows(self.field_value_)});
    }
    self.field_name_ = {};
    self.field_value_ = {};
    self.field_size_ = 0;
    self.field_name_length_ = 0;
    return HPE_OK;
  }

  static int on_headers_complete(llhttp_t* p) noexcept {
    auto& self = owner(p);
    if (int error = self.check_head(); error != HPE_OK) return error;
    // kiln serves no protocol upgrades, and RFC 9110, 7.8 lets a server ignore Upgrade. Left
    // set, llhttp would end a request it takes for an upgrade before its body and its framing
    // checks, and the body would be parsed as the next request.
    p->upgrade = 0;
    // llhttp does not say where the head ends, and its line endings still need checking: the
    // pause makes llhttp_execute() return with that position (see feed()).
    self.head_complete_ = true;
    return HPE_PAUSED;
  }

  static int on_body(llhttp_t* p, const char* at, std::size_t length) noexcept {
    auto& self = owner(p);
    self.body_size_ += length;
    if (self.limits_.body != 0 && self.body_size_ > self.limits_.body) {
      return self.fail(413, "request body larger than limit_request_body");
    }
    self.sink_.on_request_body(self.request_, {at, length});
    return HPE_OK;
  }

  static int on_chunk_header(llhttp_t* p) noexcept {
    // A chunk that would take the body past the limit is refused now, not once it has arrived.
    auto& self = owner(p);
    if (self.limits_.body != 0 && p->content_length > self.limits_.body - self.body_size_) {
      return self.fail(413, "request body larger than limit_request_body");
    }
    return HPE_OK;
  }

  static int on_chunk_extension_name(llhttp_t* p, const char*, std::size_t length) noexcept {
    owner(p).chunk_extension_name_length_ += length;
    return HPE_OK;
  }

  static int on_chunk_extension_name_complete(llhttp_t* p) noexcept {
    // llhttp 8.1 lets "5;=x" through; RFC 9112, 7.1.1 requires a name (a token).
    auto& self = owner(p);
    if (self.chunk_extension_name_length_ == 0)
      return self.fail(400, "chunk extension without a name");
    self.chunk_extension_name_length_ = 0;
    return HPE_OK;
  }

  static int on_message_complete(llhttp_t* p) noexcept {
    auto& self = owner(p);
    self.inside_request_ = false;
    self.request_.keep_alive = self.request_.keep_alive && llhttp_should_keep_alive(p) != 0;
    return self.sink_.on_request_complete(self.request_) ? HPE_OK : HPE_PAUSED;
  }

  static const llhttp_settings_t& settings() noexcept {
    static const llhttp_settings_t instance = [] {
      llhttp_settings_t s;
      llhttp_settings_init(&s);
      s.on_message_begin = on_message_begin;
      s.on_method = on_method;
      s.on_url = on_url;
      s.on_version = on_version;
      s.on_version_complete = on_version_complete;
      s.on_header_field = on_header_field;
      s.on_header_field_complete = on_header_field_complete;
      s.on_header_value = on_header_value;
      s.on_header_value_complete = on_header_value_complete;
      s.on_headers_complete = on_headers_complete;
      s.on_body = on_body;
      s.on_chunk_header = on_chunk_header;
      s.on_chunk_extension_name = on_chunk_extension_name;
      s.on_chunk_extension_name_complete = on_chunk_extension_name_complete;
      s.on_message_complete = on_message_complete;
      return s;
    }();
    return instance;
  }
};

request_parser::request_parser(const request_limits& limits, request_sink& sink) noexcept
    : limits_(limits), sink_(sink) {
  llhttp_init(&parser_, HTTP_REQUEST, &llhttp_callbacks::settings());
  parser_.data = this;
  // llhttp 8.1 has no setter for this flag. With it, llhttp hands every DIGIT.DIGIT version to
  // on_version_complete, which answers 505 for 2.0 and 3.0 alike and serves 1.2 as 1.1; without
  // it, versions llhttp does not list are plain syntax errors.
  parser_.lenient_flags |= LENIENT_VERSION;
}

request_parser::result request_parser::feed(const char* data, std::size_t size) noexcept {
  if (error_.status != 0) return {status::failed, 0};
  if (sniffing_method_) return sniff_method(data, data, size);
  // Feeding more means going on: a pause only holds back the bytes of the call that paused.
  resume();
  const char* const end = data + size;
  const char* position = data;
  for (;;) {
    llhttp_errno_t code =
        llhttp_execute(&parser_, position, static_cast<std::size_t>(end - position));
    const char* stopped = llhttp_get_error_pos(&parser_);
    switch (code) {
      case HPE_OK:
        if (head_start_ != nullptr && limits_.head != 0 &&
            static_cast<std::size_t>(end - head_start_) > limits_.head) {
          fail(431, "request head larger than limit_request_head");
          return {status::failed, size};
        }
        keep_head();
        return {status::need_more, size};
      case HPE_PAUSED:
        if (!head_complete_) {
          paused_ = true;
          return {status::paused, static_cast<std::size_t>(stopped - data)};
        }
        head_complete_ = false;
        if (const char* wrong = line_error(head_start_, stopped)) {
          fail(400, wrong);
          return {status::failed, static_cast<std::size_t>(stopped - data)};
        }
        if (limits_.head != 0 && static_cast<std::size_t>(stopped - head_start_) > limits_.head) {
          fail(431, "request head larger than limit_request_head");
          return {status::failed, static_cast<std::size_t>(stopped - data)};
        }
        head_start_ = nullptr;
        head_end_ = stopped;
        head_done_ = true;
        in_trailers_ = true;
        sink_.on_request_head(request_);
        llhttp_resume(&parser_);
        position = stopped;
        break;
      case HPE_INVALID_METHOD:
        if (error_.status == 0) {
          sniffing_method_ = true;
          return sniff_method(data, stopped, static_cast<std::size_t>(end - stopped));
        }
        return {status::failed, static_cast<std::size_t>(stopped - data)};
      default:
        if (error_.status == 0) error_ = {400, llhttp_get_error_reason(&parser_)};
        return {status::failed, static_cast<std::size_t>(stopped - data)};
    }
  }
}

request_parser::result request_parser::sniff_method(const char* data, const char* from,
                                                    std::size_t size) noexcept {
  // llhttp knows a fixed list of methods. One it does not know but that is a well-formed token
  // is a method kiln does not implement (501), not a malformed request (400); telling the two
  // apart takes the bytes up to the space after the method.
  for (std::size_t i = 0; i < size; ++i) {
    char c = from[i];
    std::size_t consumed = static_cast<std::size_t>(from + i - data);
    if (is_tchar(c) && ++sniffed_ <= limits_.request_line) continue;
    if (c == ' ' && sniffed_ > 0) {
      fail(501, "method not implemented");
    } else {
      fail(400, "invalid method");
    }
    return {status::failed, consumed};
  }
  return {status::need_more, static_cast<std::size_t>(from + size - data)};
}

void request_parser::resume() noexcept {
  if (!paused_) return;
  llhttp_resume(&parser_);
  paused_ = false;
}

bool request_parser::finish() noexcept {
  if (error_.status != 0 || sniffing_method_) return false;
  return llhttp_finish(&parser_) == HPE_OK && !inside_request_;
}

void request_parser::rebase(const char* from, std::size_t size, const char* to) noexcept {
  if (head_start_ != nullptr && head_start_ >= from && head_start_ < from + size) {
    head_start_ = to + (head_start_ - from);
  }
  for (auto* span : {&request_.method, &request_.target, &request_.path, &request_.query, &version_,
                     &field_name_, &field_value_}) {
    move_span(*span, from, size, to);
  }
  for (auto& field : request_.headers) {
    move_span(field.name, from, size, to);
    move_span(field.value, from, size, to);
  }
}

void request_parser::keep_head() noexcept {
  if (!inside_request_ || !head_done_ || head_end_ == nullptr) return;
  // The body is still to come, in later reads: the head's bytes will not outlive this call
  // where they are. From the head's first byte to its end: where that is, head_start_ was.
  const char* begin = request_.method.data();
  auto size = static_cast<std::size_t>(head_end_ - begin);
  owned_head_.assign(begin, size);
  rebase(begin, size, owned_head_.data());
  head_end_ = nullptr;
}

int request_parser::fail(int code, std::string_view reason) noexcept {
  error_ = {code, reason};
  return HPE_USER;
}

int request_parser::check_request_line() noexcept {
  // The request line is "METHOD SP target SP HTTP/x.y"; "HTTP/" is not part of the version span.
  std::size_t length = request_.method.size() + 1 + request_.target.size();
  if (!version_.empty()) length += 1 + 5 + version_.size();
  if (length > limits_.request_line)
    return fail(414, "request line longer than limit_request_line");
  return HPE_OK;
}

int request_parser::count_field_bytes(std::size_t length) noexcept {
  field_size_ += length;
  if (field_size_ > limits_.field_size) {
    return fail(431, "header field larger than limit_request_field_size");
  }
  return HPE_OK;
}

int request_parser::check_head() noexcept {
  // llhttp takes "GET /path" CRLF for HTTP/0.9 and goes on to read header fields after it, as
  // if it were HTTP/1.x; kiln serves no HTTP/0.9 (RFC 9112, 3: the version is required).
  if (version_.empty()) return fail(400, "request line without an HTTP version");
  std::string_view target = request_.target;
  // kiln is not a proxy: CONNECT is a method it does not implement.
  if (request_.method == "CONNECT") return fail(501, "CONNECT is not implemented");
  if (target.find('#') != std::string_view::npos) {
    return fail(400, "a fragment (#) in the request target");
  }
  if (target.starts_with('/')) {
    // origin-form, the usual case.
  } else if (target == "*" && request_.method == "OPTIONS") {
    // asterisk-form.
  } else if (auto scheme_end = target.find("://");
             scheme_end != std::string_view::npos &&
             (iequals(target.substr(0, scheme_end), "http") ||
              iequals(target.substr(0, scheme_end), "https"))) {
    // absolute-form, which a server must accept (RFC 9112, 3.2.2): keep what follows the authority.
    auto path_start = target.find_first_of("/?", scheme_end + 3);
    target =
        path_start == std::string_view::npos ? std::string_view{"/"} : target.substr(path_start);
  } else {
    return fail(400, "request target is not a path or an absolute URI");
  }
  auto query_start = target.find('?');
  request_.path = target.substr(0, query_start);
  request_.query =
      query_start == std::string_view::npos ? std::string_view{} : target.substr(query_start + 1);
  if (request_.path.empty() || (request_.path.front() != '/' && request_.path != "*")) {
    request_.path = "/";
  }

  std::size_t hosts = 0;
  for (const auto& field : request_.headers) {
    if (iequals(field.name, "host")) {
      ++hosts;
      if (!valid_host(field.value)) return fail(400, "invalid Host header");
    } else if (iequals(field.name, "expect")) {
      if (!iequals(field.value, "100-continue")) return fail(417, "unsupported Expect");
      // A 1.0 client does not know 100 Continue and sends its body without waiting for it.
      request_.expects_continue = request_.version_minor >= 1;
    }
  }
  if (hosts > 1) return fail(400, "more than one Host header");
  if (hosts == 0 && request_.version_minor >= 1) return fail(400, "HTTP/1.1 request without Host");

  if (auto framing = check_framing(request_.headers); framing.status != 0) {
    return fail(framing.status, framing.reason);
  }
  // RFC 9112, 6.1: Transfer-Encoding in an HTTP/1.0 request means the framing may be faulty,
  // so the connection closes after the response.
  if (request_.version_minor == 0 && (parser_.flags & F_TRANSFER_ENCODING) != 0) {
    request_.keep_alive = false;
  }
  if (limits_.body != 0 && (parser_.flags & F_CONTENT_LENGTH) != 0 &&
      parser_.content_length > limits_.body) {
    return fail(413, "request body larger than limit_request_body");
  }
  return HPE_OK;
}

}  // namespace kiln
