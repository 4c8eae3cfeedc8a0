// The device functions of a worker built against a LibTorch with CUDA and
// c10d's NCCL (PyTorch's wheels or archives): the only translation unit of
// the runtime that includes CUDA headers.
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <string>

#include "absl/strings/str_cat.h"
#include "agent/runtime/device/device.h"

namespace galvatron::runtime {
namespace {

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

bool BuiltWithCuda() { return true; }

absl::Status UseDevice(const c10::Device& device) {
  if (!device.is_cuda()) return absl::OkStatus();
  try {
    c10::cuda::set_device(device.index());
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("device ", device.str(), " cannot be used: ", FirstLine(e.what())));
  }
  return absl::OkStatus();
}

absl::StatusOr<c10::intrusive_ptr<torch_compat::Backend>> MakeNcclBackend(
    const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
    std::chrono::milliseconds timeout) {
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  try {
    return c10::intrusive_ptr<torch_compat::Backend>(
        c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, size, options));
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("creating an NCCL process group failed: ", FirstLine(e.what())));
  }
}

int64_t DevicePeakBytes(const c10::Device& device) {
  if (!device.is_cuda()) return -1;
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
  // Index 0 is the aggregate over pool kinds in every LibTorch version.
  return stats.allocated_bytes[0].peak;
}

struct DeviceTimer::Events {
  // Timing events (CUDAEvent's default flags disable timing).
  at::cuda::CUDAEvent start{cudaEventDefault};
  at::cuda::CUDAEvent end{cudaEventDefault};
};

DeviceTimer::DeviceTimer(const c10::Device& device) : device_(device) {
  if (device_.is_cuda()) events_ = std::make_unique<Events>();
}

DeviceTimer::~DeviceTimer() = default;

void DeviceTimer::Start() {
  start_ = std::chrono::steady_clock::now();
  if (events_) events_->start.record(c10::cuda::getCurrentCUDAStream(device_.index()));
}

double DeviceTimer::ElapsedSeconds() {
  if (!events_) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  events_->end.record(c10::cuda::getCurrentCUDAStream(device_.index()));
  events_->end.synchronize();
  return events_->start.elapsed_time(events_->end) / 1000.0;
}

}  // namespace galvatron::runtime
