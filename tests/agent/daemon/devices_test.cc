// --devices parsing, the peak FLOP/s table, device discovery with a fake CUDA
// driver, host facts and the reconnect backoff.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "agent/daemon/backoff.h"
#include "agent/daemon/devices.h"

namespace galvatron::agent {
namespace {

HostFacts FakeHost() {
  HostFacts host;
  host.host_name = "box";
  host.cpu_cores = 16;
  host.memory_bytes = int64_t{64} << 30;
  host.cpu_model = "Some CPU";
  return host;
}

CudaProbe NoDriver() {
  return [] {
    return absl::StatusOr<std::vector<CudaDeviceInfo>>(
        absl::UnavailableError("no CUDA device (driver not found)"));
  };
}

CudaProbe TwoA100s() {
  return [] {
    return absl::StatusOr<std::vector<CudaDeviceInfo>>(
        std::vector<CudaDeviceInfo>{{"NVIDIA A100-SXM4-80GB", int64_t{80} << 30, 8, 0},
                                    {"NVIDIA A100-SXM4-80GB", int64_t{80} << 30, 8, 0}});
  };
}

}  // namespace

TEST_CASE("ParseDeviceSpec accepts the documented forms", "[agent][devices]") {
  CHECK(ParseDeviceSpec("auto")->mode == DeviceSpec::Mode::kAuto);
  CHECK(ParseDeviceSpec("cpu")->cpu_count == 1);
  auto cpu = ParseDeviceSpec("cpu:4");
  REQUIRE(cpu.ok());
  CHECK(cpu->mode == DeviceSpec::Mode::kCpu);
  CHECK(cpu->cpu_count == 4);
  CHECK(ParseDeviceSpec("cuda:all")->mode == DeviceSpec::Mode::kCudaAll);
  CHECK(ParseDeviceSpec("cuda")->mode == DeviceSpec::Mode::kCudaAll);
  auto list = ParseDeviceSpec("cuda:3,1");
  REQUIRE(list.ok());
  CHECK(list->mode == DeviceSpec::Mode::kCudaList);
  CHECK(list->cuda_indices == std::vector<int>{1, 3});
}

TEST_CASE("ParseDeviceSpec rejects anything else, naming --devices", "[agent][devices]") {
  for (const char* bad :
       {"", "gpu", "cpu:0", "cpu:x", "cpu:100000", "cuda:", "cuda:-1", "cuda:0,0", "cuda:a"}) {
    auto spec = ParseDeviceSpec(bad);
    INFO(bad);
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(spec.status().message()), Catch::StartsWith("--devices:"));
  }
}

TEST_CASE("PeakFlopsOf knows the common training GPUs", "[agent][devices]") {
  CHECK(PeakFlopsOf("NVIDIA A100-SXM4-80GB", 8, 0) == 312e12);
  CHECK(PeakFlopsOf("NVIDIA H100 80GB HBM3", 9, 0) == 989e12);
  CHECK(PeakFlopsOf("NVIDIA H100 PCIe", 9, 0) == 756e12);
  CHECK(PeakFlopsOf("NVIDIA H200", 9, 0) == 989e12);
  CHECK(PeakFlopsOf("Tesla V100-SXM2-32GB", 7, 0) == 125e12);
  CHECK(PeakFlopsOf("NVIDIA A10", 8, 6) == 0);
  CHECK(PeakFlopsOf("Some Future GPU", 12, 0) == 0);
}

TEST_CASE("DiscoverDevices: cpu:N shares the RAM", "[agent][devices]") {
  auto devices = DiscoverDevices(*ParseDeviceSpec("cpu:2"), FakeHost(), NoDriver());
  REQUIRE(devices.ok());
  REQUIRE(devices->size() == 2);
  CHECK((*devices)[1].kind() == v1::DEVICE_KIND_CPU);
  CHECK((*devices)[1].index() == 1);
  CHECK((*devices)[1].memory_bytes() == int64_t{32} << 30);
  CHECK((*devices)[0].name() == "Some CPU");
}

TEST_CASE("DiscoverDevices: auto uses CUDA when there is some, else one CPU", "[agent][devices]") {
  auto gpus = DiscoverDevices(*ParseDeviceSpec("auto"), FakeHost(), TwoA100s());
  REQUIRE(gpus.ok());
  REQUIRE(gpus->size() == 2);
  CHECK((*gpus)[0].kind() == v1::DEVICE_KIND_CUDA);
  CHECK((*gpus)[1].index() == 1);
  CHECK((*gpus)[0].memory_bytes() == int64_t{80} << 30);
  CHECK((*gpus)[0].peak_flops() == 312e12);

  auto cpu = DiscoverDevices(*ParseDeviceSpec("auto"), FakeHost(), NoDriver());
  REQUIRE(cpu.ok());
  REQUIRE(cpu->size() == 1);
  CHECK((*cpu)[0].kind() == v1::DEVICE_KIND_CPU);
  CHECK((*cpu)[0].memory_bytes() == int64_t{64} << 30);
}

TEST_CASE("DiscoverDevices: explicit cuda fails without the driver or the device",
          "[agent][devices]") {
  auto none = DiscoverDevices(*ParseDeviceSpec("cuda:all"), FakeHost(), NoDriver());
  REQUIRE_FALSE(none.ok());
  CHECK_THAT(std::string(none.status().message()),
             Catch::Contains("no CUDA device (driver not found)"));
  auto missing = DiscoverDevices(*ParseDeviceSpec("cuda:1,2"), FakeHost(), TwoA100s());
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(std::string(missing.status().message()), Catch::Contains("cuda device 2"));
  auto one = DiscoverDevices(*ParseDeviceSpec("cuda:1"), FakeHost(), TwoA100s());
  REQUIRE(one.ok());
  REQUIRE(one->size() == 1);
  CHECK((*one)[0].index() == 1);
}

TEST_CASE("ReadHostFacts reads this machine", "[agent][devices]") {
  HostFacts host = ReadHostFacts();
  CHECK_FALSE(host.host_name.empty());
  CHECK(host.cpu_cores >= 1);
  CHECK(host.memory_bytes > 0);
}

TEST_CASE("ExponentialBackoff doubles up to the cap, with jitter", "[agent][backoff]") {
  BackoffOptions options;
  options.initial = absl::Milliseconds(100);
  options.max = absl::Seconds(5);
  ExponentialBackoff backoff(options, /*seed=*/42);
  absl::Duration bound = options.initial;
  for (int i = 0; i < 10; ++i) {
    absl::Duration delay = backoff.Next();
    INFO(i << ": " << absl::FormatDuration(delay));
    CHECK(delay >= bound / 2);
    CHECK(delay <= bound);
    bound = std::min(bound * 2, options.max);
  }
  backoff.Reset();
  CHECK(backoff.Next() <= options.initial);
}

}  // namespace galvatron::agent
