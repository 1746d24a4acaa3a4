#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <kiln/request.hpp>

#include "address_range.hpp"
#include "settings.hpp"

namespace kiln {

// What a request says of itself through the proxies in front of kiln, believed only from the
// peers forwarded_allow_ips trusts (and a unix socket's): the scheme the client used, from
// secure_scheme_headers, and the client's address, from X-Forwarded-For read right to left over
// trusted hops. From anyone else the same headers change nothing.
class forwarding {
 public:
  explicit forwarding(const settings& config);

  // Fills req.client and req.scheme from req.peer and the headers; false when the scheme headers
  // contradict each other (gunicorn answers that 400, and so does kiln).
  bool resolve(request& req) const noexcept;

 private:
  trusted_peers trusted_;
  std::vector<std::pair<std::string, std::string>> secure_headers_;  // Name, value.
};

// The host part of an address as the connection formats it: "127.0.0.1:5" gives "127.0.0.1",
// "[::1]:5" gives "::1"; "-" (a unix socket) gives "".
std::string_view host_of(std::string_view address) noexcept;

}  // namespace kiln
