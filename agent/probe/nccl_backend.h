// The NCCL backend of the probe: CUDA buffers, cudaEvent timing, one NCCL
// communicator per group. Compiled only when CMake found the CUDA toolkit and
// NCCL (GALVATRON_HAVE_CUDA), which also defines GALVATRON_WITH_NCCL for the
// code that dispatches to it.
#pragma once

#include <chrono>
#include <memory>

#include "absl/status/statusor.h"
#include "agent/probe/collective_backend.h"
#include "agent/runtime/comm/rendezvous.h"

namespace galvatron::probe {

struct NcclBackendOptions {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;  // picks the CUDA device (modulo the device count)
  std::chrono::milliseconds timeout = std::chrono::seconds(300);
};

// Number of CUDA devices; FAILED_PRECONDITION "no CUDA device: ..." when
// there is none or the driver cannot be asked.
absl::StatusOr<int> CudaDeviceCount();

// NCCL communicators whose unique ids travel through `store`; FAILED_PRECONDITION
// "no CUDA device: ..." without a GPU.
absl::StatusOr<std::unique_ptr<CollectiveBackend>> MakeNcclBackend(
    runtime::RendezvousStore* store, const NcclBackendOptions& options);

}  // namespace galvatron::probe
