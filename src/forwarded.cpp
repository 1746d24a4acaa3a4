#include "forwarded.hpp"

#include "http_syntax.hpp"

namespace kiln {

std::string_view host_of(std::string_view address) noexcept {
  if (address == "-") return {};
  if (address.starts_with('[')) {
    auto close = address.find(']');
    return close == std::string_view::npos ? address : address.substr(1, close - 1);
  }
  auto colon = address.rfind(':');
  return colon == std::string_view::npos ? address : address.substr(0, colon);
}

forwarding::forwarding(const settings& config) : trusted_(config.forwarded_allow_ips) {
  for (const auto& line : config.secure_scheme_headers) {
    std::string_view text = line;
    auto colon = text.find(':');
    secure_headers_.emplace_back(trim_ows(text.substr(0, colon)), trim_ows(text.substr(colon + 1)));
  }
}

bool forwarding::resolve(request& req) const noexcept {
  std::string_view host = host_of(req.peer);
  req.client = host;
  req.scheme = "http";
  bool unix_socket = req.peer == "-";
  if (!unix_socket && !trusted_.trusts(host)) return true;

  // The scheme: every configured header present must agree.
  bool says_secure = false;
  bool says_plain = false;
  for (const auto& [name, secure_value] : secure_headers_) {
    auto value = req.header_value(name);
    if (!value) continue;
    (iequals(*value, secure_value) ? says_secure : says_plain) = true;
  }
  if (says_secure && says_plain) return false;
  if (says_secure) req.scheme = "https";

  // The client: the rightmost address of X-Forwarded-For that a trusted hop vouches for. Each
  // hop appends the address it saw; what the client wrote itself is at the left, unvouched.
  std::string_view client = host;
  bool vouched = true;  // The peer is trusted: it vouches for the last address.
  for (auto field = req.headers.rbegin(); field != req.headers.rend() && vouched; ++field) {
    if (!iequals(field->name, "x-forwarded-for")) continue;
    std::string_view list = field->value;
    while (vouched && !list.empty()) {
      auto comma = list.rfind(',');
      std::string_view entry =
          trim_ows(comma == std::string_view::npos ? list : list.substr(comma + 1));
      list = comma == std::string_view::npos ? std::string_view{} : list.substr(0, comma);
      if (entry.empty()) continue;
      if (!address_bytes(entry)) {
        vouched = false;  // Not an address: what lies left of it is not believed either.
        break;
      }
      client = entry;
      vouched = trusted_.trusts(entry);
    }
  }
  req.client = client;
  return true;
}

}  // namespace kiln
