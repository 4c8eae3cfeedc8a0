#include "agent/runtime/device/device.h"

#include <torch/cuda.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace galvatron::runtime {

int CudaDeviceCount() {
  return BuiltWithCuda() ? static_cast<int>(torch::cuda::device_count()) : 0;
}

absl::StatusOr<c10::Device> ResolveDevice(const std::string& flag, int local_rank) {
  if (flag == "cpu") return c10::Device(c10::kCPU);
  const int visible = CudaDeviceCount();
  if (flag == "auto" && visible == 0) return c10::Device(c10::kCPU);
  const absl::string_view text(flag);
  const bool cuda = flag == "auto" || flag == "cuda" || absl::StartsWith(text, "cuda:");
  if (!cuda) {
    return absl::InvalidArgumentError(
        absl::StrCat("--device: \"", flag, "\", expected cpu, cuda, cuda:N or auto"));
  }
  int index = local_rank < 0 ? 0 : local_rank;
  if (absl::StartsWith(text, "cuda:") && (!absl::SimpleAtoi(text.substr(5), &index) || index < 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--device: \"", flag, "\", expected cuda:N with N a device number >= 0"));
  }
  if (!BuiltWithCuda()) {
    return absl::UnavailableError(
        absl::StrCat("--device ", flag,
                     ": this worker was built against a LibTorch without CUDA (build it "
                     "against PyTorch's: GALVATRON_TORCH=python3 scripts/build.sh, docs/gpu.md)"));
  }
  if (visible == 0) {
    return absl::UnavailableError(
        absl::StrCat("--device ", flag, ": no CUDA device is visible to this process"));
  }
  if (flag == "auto" || flag == "cuda") {
    index %= visible;
  } else if (index >= visible) {
    return absl::InvalidArgumentError(absl::StrCat("--device: \"", flag,
                                                   "\", but this process sees ", visible,
                                                   " CUDA device(s): 0..", visible - 1));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace galvatron::runtime
