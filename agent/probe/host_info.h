// Facts about this host the probe reports: its name, CPU model, RAM and
// cores. Thread-safe: reads /proc and libc only.
#pragma once

#include <cstdint>
#include <string>

#include "galvatron/v1/hardware.pb.h"

namespace galvatron::probe {

std::string HostName();
// /proc/cpuinfo's first "model name", or "cpu" when there is none.
std::string CpuModelName();
int64_t PhysicalMemoryBytes();
int CpuCores();

// A CPU "device" of a host shared by `local_ranks` ranks: the CPU model and
// an even share of the RAM; `index` is the local rank.
v1::Device CpuDevice(int local_ranks, int index);

}  // namespace galvatron::probe
