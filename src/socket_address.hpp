#pragma once

#include <string>
#include <sys/socket.h>

namespace kiln {

// An IP address and port as logs, environ and URLs write them: "10.0.0.1:80", "[::1]:80"; a
// unix socket as its path. The one place an address becomes text.
std::string address_text(const sockaddr_storage& address);

}  // namespace kiln
