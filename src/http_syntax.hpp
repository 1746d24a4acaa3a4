#pragma once

#include <string>
#include <string_view>

namespace kiln {

// The character classes of HTTP's grammar (RFC 9110, 5.6), shared by what parses requests and
// what checks the responses handlers make.

// A character of a token, such as a method or a header name.
bool is_tchar(char c) noexcept;
// A non-empty run of token characters.
bool is_token(std::string_view text) noexcept;
// A header field value kiln may send: no control characters but horizontal tab, so that no
// value can end a line or break a client's parser.
bool is_field_value(std::string_view text) noexcept;
// Text without the optional whitespace (spaces and tabs, RFC 9110's OWS) around it.
std::string_view trim_ows(std::string_view text) noexcept;
// Decodes %XX escapes into out; false for a malformed escape ("%4", "%zz").
bool percent_decode(std::string_view text, std::string& out);

}  // namespace kiln
