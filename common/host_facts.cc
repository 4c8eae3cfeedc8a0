#include "common/host_facts.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"

namespace galvatron {

HostFacts ReadHostFacts() {
  HostFacts facts;
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) == 0) facts.host_name = name;
  if (facts.host_name.empty()) facts.host_name = "localhost";
  facts.cpu_cores = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    absl::string_view rest = line;
    int64_t kib = 0;
    if (absl::ConsumePrefix(&rest, "MemTotal:") &&
        absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(rest), " kB"), &kib)) {
      facts.memory_bytes = kib * 1024;
      break;
    }
  }
  if (facts.memory_bytes == 0) {
    facts.memory_bytes =
        static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
  }
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (!absl::StartsWith(line, "model name")) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    facts.cpu_model = std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
    if (!facts.cpu_model.empty()) break;
  }
  if (facts.cpu_model.empty()) facts.cpu_model = "cpu";
  return facts;
}

v1::Device CpuDevice(const HostFacts& host, int count, int index) {
  v1::Device device;
  device.set_kind(v1::DEVICE_KIND_CPU);
  device.set_index(std::max(0, index));
  device.set_name(host.cpu_model.empty() ? "cpu" : host.cpu_model);
  device.set_memory_bytes(host.memory_bytes / std::max(1, count));
  return device;
}

}  // namespace galvatron
