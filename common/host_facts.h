// Facts about this host that the agent registers and the workers report:
// its name, CPU cores and model, and RAM; and a CPU "device" (an even share
// of the host) for CPU-only nodes. Thread-safe: reads /proc and libc only.
#pragma once

#include <cstdint>
#include <string>

#include "galvatron/v1/hardware.pb.h"

namespace galvatron {

struct HostFacts {
  std::string host_name;     // gethostname; "localhost" if unavailable
  int cpu_cores = 0;         // online processors, at least 1
  int64_t memory_bytes = 0;  // MemTotal of /proc/meminfo (else pages × page size)
  std::string cpu_model;     // "model name" of /proc/cpuinfo; "cpu" when absent
};

HostFacts ReadHostFacts();

// CPU device `index` of a host shared by `count` devices: the CPU model and
// an even share of the RAM.
v1::Device CpuDevice(const HostFacts& host, int count, int index);

}  // namespace galvatron
