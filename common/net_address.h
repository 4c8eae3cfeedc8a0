// Network addresses as the daemons' flags spell them (HOST:PORT, [v6]:PORT).
// Thread-safe: pure functions.
#pragma once

#include <string>

namespace galvatron {

// The host of HOST:PORT, without the brackets around an IPv6 host.
std::string HostOf(const std::string& address);

// True for a host only this machine can reach: localhost, 127.x, ::1.
bool IsLoopbackHost(const std::string& host);
// The same for HOST:PORT (brackets around an IPv6 host allowed).
bool IsLoopbackAddress(const std::string& address);

}  // namespace galvatron
