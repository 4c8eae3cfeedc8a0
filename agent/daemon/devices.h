// What a node offers: its host facts (name, cores, RAM) and the devices the
// agent registers, chosen by --devices. CUDA devices are found at run time
// through the driver API (libcuda.so.1 loaded with dlopen), so the agent needs
// neither the CUDA toolkit to build nor a GPU to run. Thread-compatible: pure
// functions apart from reading /proc and loading the driver.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/host_facts.h"
#include "galvatron/v1/hardware.pb.h"

namespace galvatron::agent {

inline constexpr int kMaxCpuDevices = 1024;

// A parsed --devices value.
struct DeviceSpec {
  enum class Mode {
    kAuto,      // "auto": every CUDA device, else one CPU device
    kCpu,       // "cpu:N" ("cpu" = cpu:1)
    kCudaAll,   // "cuda:all" ("cuda" likewise)
    kCudaList,  // "cuda:0,1": these ordinals
  };
  Mode mode = Mode::kAuto;
  int cpu_count = 1;              // kCpu
  std::vector<int> cuda_indices;  // kCudaList, ascending, no duplicates
};

// INVALID_ARGUMENT naming --devices for anything else.
absl::StatusOr<DeviceSpec> ParseDeviceSpec(const std::string& text);

// One CUDA device as the driver reports it.
struct CudaDeviceInfo {
  std::string name;
  int64_t memory_bytes = 0;
  int capability_major = 0;
  int capability_minor = 0;
};

// Dense peak FLOP/s at the training precision (bf16/fp16 tensor cores) of
// known GPUs, from their vendor datasheets; 0 when unknown.
//   V100 (sm_70) 125e12, A100/A800 (sm_80) 312e12, H100/H800/H200 SXM (sm_90)
//   989e12, H100 PCIe 756e12.
double PeakFlopsOf(const std::string& name, int capability_major, int capability_minor);

// Every CUDA device, through the driver API. UNAVAILABLE "no CUDA device
// (<reason>)" when the driver is missing, fails to initialise or reports no
// device.
absl::StatusOr<std::vector<CudaDeviceInfo>> ProbeCudaDevices();

using ::galvatron::HostFacts;
using ::galvatron::ReadHostFacts;

// The devices to register for `spec`. `auto` falls back to one CPU device
// (with a log line saying why) when no CUDA device is found; an explicit
// cuda:... fails with the reason instead. CPU devices share the host's RAM
// equally.
// `probe` finds the CUDA devices (tests pass a fake).
using CudaProbe = std::function<absl::StatusOr<std::vector<CudaDeviceInfo>>()>;
absl::StatusOr<std::vector<v1::Device>> DiscoverDevices(const DeviceSpec& spec,
                                                        const HostFacts& host,
                                                        const CudaProbe& probe = ProbeCudaDevices);

}  // namespace galvatron::agent
