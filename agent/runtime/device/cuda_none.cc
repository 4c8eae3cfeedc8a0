// The device functions of a worker built against a LibTorch without CUDA
// (Debian's): the CPU is the only device.
#include "absl/strings/str_cat.h"
#include "agent/runtime/device/device.h"

namespace galvatron::runtime {

bool BuiltWithCuda() { return false; }

absl::Status UseDevice(const c10::Device& device) {
  if (device.is_cpu()) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("device ", device.str(), ": this worker was built without CUDA"));
}

absl::StatusOr<c10::intrusive_ptr<torch_compat::Backend>> MakeNcclBackend(
    const c10::intrusive_ptr<c10d::Store>&, int, int, std::chrono::milliseconds) {
  return absl::UnimplementedError(
      "NCCL process groups need a worker built against a LibTorch with CUDA (docs/gpu.md)");
}

int64_t DevicePeakBytes(const c10::Device&) { return -1; }

struct DeviceTimer::Events {};

DeviceTimer::DeviceTimer(const c10::Device& device) : device_(device) {}
DeviceTimer::~DeviceTimer() = default;

void DeviceTimer::Start() { start_ = std::chrono::steady_clock::now(); }

double DeviceTimer::ElapsedSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

}  // namespace galvatron::runtime
