#include "agent/probe/host_info.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace galvatron::probe {

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

std::string CpuModelName() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (!absl::StartsWith(line, "model name")) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    if (!name.empty()) return name;
  }
  return "cpu";
}

int64_t PhysicalMemoryBytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<int64_t>(pages) * page_size;
}

int CpuCores() { return std::max(1u, std::thread::hardware_concurrency()); }

v1::Device CpuDevice(int local_ranks, int index) {
  v1::Device device;
  device.set_kind(v1::DEVICE_KIND_CPU);
  device.set_index(std::max(0, index));
  device.set_name(CpuModelName());
  device.set_memory_bytes(PhysicalMemoryBytes() / std::max(1, local_ranks));
  return device;
}

}  // namespace galvatron::probe
