#include "agent/daemon/devices.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <fstream>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "spdlog/spdlog.h"

namespace galvatron::agent {
namespace {

absl::Status BadSpec(const std::string& text, const std::string& why) {
  return absl::InvalidArgumentError(
      absl::StrCat("--devices: \"", text, "\", ", why,
                   "; expected auto, cpu:N, cuda:all or cuda:I,J,... (device ordinals)"));
}

// The driver API entry points we use (cuda.h, CUDA 11+). Declared here so
// that the agent builds without the CUDA toolkit.
using CUresult = int;
using CUdevice = int;
constexpr CUresult kCudaSuccess = 0;
constexpr int kAttributeCapabilityMajor = 75;  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
constexpr int kAttributeCapabilityMinor = 76;  // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR

struct CudaDriver {
  CUresult (*cuInit)(unsigned int);
  CUresult (*cuDeviceGetCount)(int*);
  CUresult (*cuDeviceGet)(CUdevice*, int);
  CUresult (*cuDeviceGetName)(char*, int, CUdevice);
  CUresult (*cuDeviceTotalMem_v2)(size_t*, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int*, int, CUdevice);
};

template <typename Fn>
bool LoadSymbol(void* library, const char* name, Fn* fn) {
  *fn = reinterpret_cast<Fn>(dlsym(library, name));
  return *fn != nullptr;
}

absl::Status NoCuda(const std::string& reason) {
  return absl::UnavailableError(absl::StrCat("no CUDA device (", reason, ")"));
}

}  // namespace

absl::StatusOr<DeviceSpec> ParseDeviceSpec(const std::string& text) {
  DeviceSpec spec;
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "auto") return spec;
  if (lower == "cpu") {
    spec.mode = DeviceSpec::Mode::kCpu;
    return spec;
  }
  if (lower == "cuda" || lower == "cuda:all") {
    spec.mode = DeviceSpec::Mode::kCudaAll;
    return spec;
  }
  absl::string_view rest = lower;
  if (absl::ConsumePrefix(&rest, "cpu:")) {
    spec.mode = DeviceSpec::Mode::kCpu;
    if (!absl::SimpleAtoi(rest, &spec.cpu_count) || spec.cpu_count < 1 ||
        spec.cpu_count > kMaxCpuDevices) {
      return BadSpec(text, absl::StrCat("N must be 1..", kMaxCpuDevices));
    }
    return spec;
  }
  if (absl::ConsumePrefix(&rest, "cuda:")) {
    spec.mode = DeviceSpec::Mode::kCudaList;
    std::set<int> indices;
    for (absl::string_view part : absl::StrSplit(rest, ',')) {
      int index = -1;
      if (!absl::SimpleAtoi(part, &index) || index < 0 || index >= kMaxCpuDevices) {
        return BadSpec(text, absl::StrCat("\"", part, "\" is not a device ordinal"));
      }
      if (!indices.insert(index).second) {
        return BadSpec(text, absl::StrCat("ordinal ", index, " is listed twice"));
      }
    }
    spec.cuda_indices.assign(indices.begin(), indices.end());
    return spec;
  }
  return BadSpec(text, "unknown form");
}

double PeakFlopsOf(const std::string& name, int capability_major, int capability_minor) {
  const std::string upper = absl::AsciiStrToUpper(name);
  auto has = [&upper](const char* part) { return absl::StrContains(upper, part); };
  if (capability_major == 9 && capability_minor == 0) {
    if (has("H100") && has("PCIE")) return 756e12;
    if (has("H100") || has("H200") || has("H800")) return 989e12;
  }
  if (capability_major == 8 && capability_minor == 0 && (has("A100") || has("A800"))) {
    return 312e12;
  }
  if (capability_major == 7 && capability_minor == 0 && has("V100")) return 125e12;
  return 0;
}

absl::StatusOr<std::vector<CudaDeviceInfo>> ProbeCudaDevices() {
  // Never dlclose'd: the driver does not support being unloaded after cuInit.
  void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return NoCuda("driver not found");
  CudaDriver driver{};
  if (!LoadSymbol(library, "cuInit", &driver.cuInit) ||
      !LoadSymbol(library, "cuDeviceGetCount", &driver.cuDeviceGetCount) ||
      !LoadSymbol(library, "cuDeviceGet", &driver.cuDeviceGet) ||
      !LoadSymbol(library, "cuDeviceGetName", &driver.cuDeviceGetName) ||
      !LoadSymbol(library, "cuDeviceTotalMem_v2", &driver.cuDeviceTotalMem_v2) ||
      !LoadSymbol(library, "cuDeviceGetAttribute", &driver.cuDeviceGetAttribute)) {
    return NoCuda("the driver lacks the CUDA 11 API");
  }
  if (CUresult rc = driver.cuInit(0); rc != kCudaSuccess) {
    return NoCuda(absl::StrCat("cuInit failed with error ", rc));
  }
  int count = 0;
  if (CUresult rc = driver.cuDeviceGetCount(&count); rc != kCudaSuccess) {
    return NoCuda(absl::StrCat("cuDeviceGetCount failed with error ", rc));
  }
  if (count == 0) return NoCuda("the driver reports none");
  std::vector<CudaDeviceInfo> devices;
  for (int ordinal = 0; ordinal < count; ++ordinal) {
    CUdevice device = 0;
    char name[256] = {};
    size_t memory = 0;
    CudaDeviceInfo info;
    if (driver.cuDeviceGet(&device, ordinal) != kCudaSuccess ||
        driver.cuDeviceGetName(name, sizeof(name) - 1, device) != kCudaSuccess ||
        driver.cuDeviceTotalMem_v2(&memory, device) != kCudaSuccess ||
        driver.cuDeviceGetAttribute(&info.capability_major, kAttributeCapabilityMajor, device) !=
            kCudaSuccess ||
        driver.cuDeviceGetAttribute(&info.capability_minor, kAttributeCapabilityMinor, device) !=
            kCudaSuccess) {
      return NoCuda(absl::StrCat("cannot query device ", ordinal));
    }
    info.name = name;
    info.memory_bytes = static_cast<int64_t>(memory);
    devices.push_back(std::move(info));
  }
  return devices;
}

namespace {

std::vector<v1::Device> CpuDevices(int count, const HostFacts& host) {
  std::vector<v1::Device> devices;
  for (int i = 0; i < count; ++i) devices.push_back(CpuDevice(host, count, i));
  return devices;
}

v1::Device CudaDevice(int ordinal, const CudaDeviceInfo& info) {
  v1::Device device;
  device.set_kind(v1::DEVICE_KIND_CUDA);
  device.set_index(ordinal);
  device.set_name(info.name);
  device.set_memory_bytes(info.memory_bytes);
  device.set_peak_flops(PeakFlopsOf(info.name, info.capability_major, info.capability_minor));
  return device;
}

}  // namespace

absl::StatusOr<std::vector<v1::Device>> DiscoverDevices(const DeviceSpec& spec,
                                                        const HostFacts& host,
                                                        const CudaProbe& probe) {
  if (spec.mode == DeviceSpec::Mode::kCpu) return CpuDevices(spec.cpu_count, host);
  absl::StatusOr<std::vector<CudaDeviceInfo>> cuda = probe();
  if (!cuda.ok()) {
    if (spec.mode == DeviceSpec::Mode::kAuto) {
      spdlog::info("--devices auto: {}; registering 1 CPU device",
                   std::string(cuda.status().message()));
      return CpuDevices(1, host);
    }
    return cuda.status();
  }
  std::vector<v1::Device> devices;
  if (spec.mode != DeviceSpec::Mode::kCudaList) {
    for (size_t i = 0; i < cuda->size(); ++i) {
      devices.push_back(CudaDevice(static_cast<int>(i), (*cuda)[i]));
    }
    return devices;
  }
  for (int ordinal : spec.cuda_indices) {
    if (ordinal >= static_cast<int>(cuda->size())) {
      return absl::NotFoundError(absl::StrCat("--devices: cuda device ", ordinal,
                                              " does not exist; the driver reports ", cuda->size(),
                                              " device(s)"));
    }
    devices.push_back(CudaDevice(ordinal, (*cuda)[static_cast<size_t>(ordinal)]));
  }
  return devices;
}

}  // namespace galvatron::agent
