#include "request_parser.hpp"

#include <cassert>

namespace kiln {
namespace {

// Extends a span by bytes that llhttp reports in pieces. The pieces of one element are adjacent
// in memory, because the connection keeps an unfinished head contiguous (see rebase()).
void extend(std::string_view& span, const char* at, std::size_t length) noexcept {
  if (span.empty()) {
    span = {at, length};
    return;
  }
  assert(span.data() + span.size() == at);
  span = {span.data(), span.size() + length};
}

void shift(std::string_view& span, std::ptrdiff_t delta) noexcept {
  if (!span.empty()) span = {span.data() + delta, span.size()};
}

std::string_view trim_trailing_whitespace(std::string_view value) noexcept {
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
    value.remove_suffix(1);
  return value;
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
    self.body_size_ = 0;
    self.head_start_ = nullptr;
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
    extend(self.request_.target, at, length);
    return self.check_request_line();
  }

  static int on_version(llhttp_t* p, const char* at, std::size_t length) noexcept {
    auto& self = owner(p);
    extend(self.version_, at, length);
    return self.check_request_line();
  }

  static int on_version_complete(llhttp_t* p) noexcept {
    auto& self = owner(p);
    self.request_.version_major = llhttp_get_http_major(p);
    self.request_.version_minor = llhttp_get_http_minor(p);
    if (self.request_.version_major != 1) {
      return self.fail(505, "HTTP version not supported");
    }
    return HPE_OK;
  }

  static int on_header_field(llhttp_t* p, const char* at, std::size_t length) noexcept {
    auto& self = owner(p);
    if (self.field_size_ == 0 && ++self.field_count_ > self.limits_.fields) {
      return self.fail(431, "too many header fields");
    }
    if (!self.in_trailers_) extend(self.field_name_, at, length);
    return self.count_field_bytes(length);
  }

  static int on_header_field_complete(llhttp_t* p) noexcept {
    // The ": " between name and value counts towards the field's size, as it does on the wire.
    return owner(p).count_field_bytes(2);
  }

  static int on_header_value(llhttp_t* p, const char* at, std::size_t length) noexcept {
    auto& self = owner(p);
    if (!self.in_trailers_) extend(self.field_value_, at, length);
    return self.count_field_bytes(length);
  }

  static int on_header_value_complete(llhttp_t* p) noexcept {
    auto& self = owner(p);
    // Trailer fields count against the limits but are not kept: the head was handed on already,
    // and the bytes they sit in are not kept contiguous.
    if (!self.in_trailers_) {
      self.request_.headers.push_back(
          {self.field_name_, trim_trailing_whitespace(self.field_value_)});
    }
    self.field_name_ = {};
    self.field_value_ = {};
    self.field_size_ = 0;
    return HPE_OK;
  }

  static int on_headers_complete(llhttp_t* p) noexcept {
    auto& self = owner(p);
    if (int error = self.check_head(); error != HPE_OK) return error;
    self.head_start_ = nullptr;
    self.in_trailers_ = true;
    self.sink_.on_request_head(self.request_);
    return HPE_OK;
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
}

request_parser::result request_parser::feed(const char* data, std::size_t size) noexcept {
  if (error_.status != 0) return {status::failed, 0};
  const char* const end = data + size;
  const char* position = data;
  for (;;) {
    llhttp_errno_t code =
        llhttp_execute(&parser_, position, static_cast<std::size_t>(end - position));
    switch (code) {
      case HPE_OK:
        return {status::need_more, size};
      case HPE_PAUSED:
        return {status::paused, static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - data)};
      case HPE_PAUSED_UPGRADE:
        // kiln serves no protocol upgrades, and RFC 9110 lets a server ignore Upgrade: the
        // request was answered as plain HTTP, so parsing goes on as plain HTTP.
        position = llhttp_get_error_pos(&parser_);
        llhttp_resume_after_upgrade(&parser_);
        break;
      default:
        if (error_.status == 0) {
          error_ = {400, llhttp_get_error_reason(&parser_)};
        }
        return {status::failed, static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - data)};
    }
  }
}

void request_parser::resume() noexcept {
  llhttp_resume(&parser_);
}

bool request_parser::finish() noexcept {
  if (error_.status != 0) return false;
  return llhttp_finish(&parser_) == HPE_OK && !inside_request_;
}

void request_parser::rebase(std::ptrdiff_t delta) noexcept {
  if (head_start_ != nullptr) head_start_ += delta;
  shift(request_.method, delta);
  shift(request_.target, delta);
  shift(version_, delta);
  shift(field_name_, delta);
  shift(field_value_, delta);
  for (auto& field : request_.headers) {
    shift(field.name, delta);
    shift(field.value, delta);
  }
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
  std::string_view target = request_.target;
  if (request_.method == "CONNECT") return fail(405, "CONNECT is not supported");
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
    } else if (iequals(field.name, "expect")) {
      if (!iequals(field.value, "100-continue")) return fail(417, "unsupported Expect");
      // A 1.0 client does not know 100 Continue and sends its body without waiting for it.
      request_.expects_continue = request_.version_minor >= 1;
    }
  }
  if (hosts > 1) return fail(400, "more than one Host header");
  if (hosts == 0 && request_.version_minor >= 1) return fail(400, "HTTP/1.1 request without Host");

  if (limits_.body != 0 && (parser_.flags & F_CONTENT_LENGTH) != 0 &&
      parser_.content_length > limits_.body) {
    return fail(413, "request body larger than limit_request_body");
  }
  return HPE_OK;
}

}  // namespace kiln
