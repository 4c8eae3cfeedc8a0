// Which device a `--device` value names, on this build (a LibTorch without
// CUDA in CI: every CUDA request is refused, saying why).
#include "agent/runtime/device/device.h"

#include <catch2/catch.hpp>

#include <string>

namespace galvatron::runtime {
namespace {

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST_CASE("ResolveDevice: cpu is the CPU and bad values name themselves", "[device]") {
  absl::StatusOr<c10::Device> cpu = ResolveDevice("cpu", 3);
  REQUIRE(cpu.ok());
  CHECK(cpu->is_cpu());

  for (const std::string bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", ""}) {
    absl::StatusOr<c10::Device> device = ResolveDevice(bad, 0);
    INFO(bad);
    REQUIRE_FALSE(device.ok());
    CHECK(device.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(Message(device.status()), Catch::Contains("\"" + bad + "\""));
  }
}

TEST_CASE("ResolveDevice: without CUDA auto is the CPU and cuda is refused", "[device]") {
  if (BuiltWithCuda()) {
    WARN("this worker was built with CUDA: the CPU-only answers are not checked");
    return;
  }
  CHECK(CudaDeviceCount() == 0);
  absl::StatusOr<c10::Device> automatic = ResolveDevice("auto", 1);
  REQUIRE(automatic.ok());
  CHECK(automatic->is_cpu());
  for (const std::string cuda : {"cuda", "cuda:0", "cuda:7"}) {
    absl::StatusOr<c10::Device> device = ResolveDevice(cuda, 0);
    INFO(cuda);
    REQUIRE_FALSE(device.ok());
    CHECK(device.status().code() == absl::StatusCode::kUnavailable);
    CHECK_THAT(Message(device.status()), Catch::Contains("without CUDA"));
  }
  CHECK(UseDevice(c10::Device(c10::kCPU)).ok());
  CHECK(DevicePeakBytes(c10::Device(c10::kCPU)) == -1);
  absl::StatusOr<c10::intrusive_ptr<torch_compat::Backend>> nccl =
      MakeNcclBackend(c10::intrusive_ptr<c10d::Store>(), 0, 2, std::chrono::seconds(1));
  REQUIRE_FALSE(nccl.ok());
  CHECK(nccl.status().code() == absl::StatusCode::kUnimplemented);
}

TEST_CASE("DeviceTimer on the CPU measures the time between Start and ElapsedSeconds", "[device]") {
  DeviceTimer timer(c10::Device(c10::kCPU));
  timer.Start();
  const auto begin = std::chrono::steady_clock::now();
  volatile double sink = 0;
  while (std::chrono::steady_clock::now() - begin < std::chrono::milliseconds(20)) sink = sink + 1;
  const double seconds = timer.ElapsedSeconds();
  CHECK(seconds >= 0.020);
  CHECK(seconds < 5);
}

}  // namespace
}  // namespace galvatron::runtime
