#include "socket_address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <fmt/format.h>

namespace kiln {

std::string address_text(const sockaddr_storage& address) {
  char host[INET6_ADDRSTRLEN] = {};
  switch (address.ss_family) {
    case AF_INET6: {
      const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
      inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
      return fmt::format("[{}]:{}", host, ntohs(v6.sin6_port));
    }
    case AF_INET: {
      const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
      inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
      return fmt::format("{}:{}", host, ntohs(v4.sin_port));
    }
    case AF_UNIX:
      return reinterpret_cast<const sockaddr_un&>(address).sun_path;
    default:
      return "-";
  }
}

}  // namespace kiln
