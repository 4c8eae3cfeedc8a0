// Where a worker computes: the CPU, or one CUDA device per rank. Everything
// CUDA-specific a worker does lives behind these functions: cuda.cc
// implements them against a LibTorch built with CUDA and c10d's NCCL;
// cuda_none.cc, built otherwise (Debian's CPU LibTorch), answers that the
// worker has no CUDA. So only cuda.cc includes CUDA headers, and the CPU
// build never sees them (CI compiles cuda.cc with -fsyntax-only against the
// CUDA toolkit's headers, tests/gpu/CMakeLists.txt).
//
// Thread model: ResolveDevice, BuiltWithCuda and DevicePeakBytes are
// thread-safe; UseDevice sets the calling thread's current device; a
// DeviceTimer belongs to one thread.
#pragma once

#include <c10/core/Device.h>
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/runtime/comm/torch_compat.h"

namespace galvatron::runtime {

// Whether this worker was built against a LibTorch with CUDA and c10d's
// NCCL (the CUDA paths exist).
bool BuiltWithCuda();

// CUDA devices this process sees (after CUDA_VISIBLE_DEVICES); 0 without CUDA.
int CudaDeviceCount();

// The device of a `--device` value: "cpu"; "cuda:N"; "cuda" (device
// LOCAL_RANK mod the visible devices, so a worker given one device by
// CUDA_VISIBLE_DEVICES takes it); "auto" ("cuda" when a device is visible,
// else "cpu"). INVALID_ARGUMENT naming the value for anything else,
// UNAVAILABLE when CUDA is asked for and there is none (saying whether the
// worker was built without CUDA or sees no device).
absl::StatusOr<c10::Device> ResolveDevice(const std::string& flag, int local_rank);

// Makes `device` the calling thread's current CUDA device (what NCCL and
// the caching allocator use); nothing for the CPU.
absl::Status UseDevice(const c10::Device& device);

// A c10d NCCL backend for this process's place (`rank` of `size`) in one
// group; its members meet through `store` (give each group its own prefix).
// Its collectives run on NCCL's own streams, so two groups' work (the
// model's, the gradients') overlaps the compute stream. UNIMPLEMENTED
// without CUDA.
absl::StatusOr<c10::intrusive_ptr<torch_compat::Backend>> MakeNcclBackend(
    const c10::intrusive_ptr<c10d::Store>& store, int rank, int size,
    std::chrono::milliseconds timeout);

// The most bytes of tensors held on `device` at once since the process
// started (CUDA: the caching allocator's peak of allocated bytes); -1 for
// the CPU, whose peak is the process's resident memory instead.
int64_t DevicePeakBytes(const c10::Device& device);

// Times device work: on CUDA with a pair of events on the current stream
// (the work queued between Start and ElapsedSeconds, which waits for it);
// on the CPU, where work is synchronous, with the steady clock.
class DeviceTimer {
 public:
  explicit DeviceTimer(const c10::Device& device);
  ~DeviceTimer();
  DeviceTimer(const DeviceTimer&) = delete;
  DeviceTimer& operator=(const DeviceTimer&) = delete;

  void Start();
  // Seconds since Start, once the device has finished what was queued.
  double ElapsedSeconds();

 private:
  struct Events;  // cuda.cc
  c10::Device device_;
  std::chrono::steady_clock::time_point start_;
  std::unique_ptr<Events> events_;
};

}  // namespace galvatron::runtime
