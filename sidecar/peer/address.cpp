// Parsing "host:port" peer addresses (IPv6 hosts in brackets).
#include <string>

#include "sidecar/peer/peer_context.h"

namespace conclave::peer {

bool split_address(const std::string& address, std::string& host, std::string& port) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) return false;
  host = address.substr(0, colon);
  port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5) return false;
  return !host.empty();
}

}  // namespace conclave::peer
