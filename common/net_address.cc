#include "common/net_address.h"

#include "absl/strings/match.h"

namespace galvatron {

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

std::string HostOf(const std::string& address) {
  std::string host = address.substr(0, address.rfind(':'));
  if (absl::StartsWith(host, "[") && absl::EndsWith(host, "]")) {
    host = host.substr(1, host.size() - 2);
  }
  return host;
}

bool IsLoopbackAddress(const std::string& address) { return IsLoopbackHost(HostOf(address)); }

}  // namespace galvatron
