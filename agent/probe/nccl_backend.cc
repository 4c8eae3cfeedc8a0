// NCCL on CUDA, used directly (no LibTorch): one communicator per group,
// created with ncclCommInitRank from a unique id that the group's first rank
// posts in the rendezvous store; cudaMalloc'd buffers; cudaEvent timing on
// the group's stream. All-to-all and p2p are grouped ncclSend/ncclRecv (as
// in nccl-tests). The overlap test runs cuBLAS SGEMMs on one stream and
// all-reduces on another, as Galvatron's hardware profiler does for its
// overlap coefficient.
#include "agent/probe/nccl_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/host_facts.h"

namespace galvatron::probe {
namespace {

constexpr int kGemmSize = 4096;         // fp32 N×N, like Galvatron's 4096×4096 Linear
constexpr int kOverlapAllReduces = 20;  // all-reduces timed alone and overlapped

absl::Status CudaError(cudaError_t error, const char* what) {
  if (error == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": ", cudaGetErrorString(error)));
}

absl::Status NcclError(ncclResult_t result, const char* what) {
  if (result == ncclSuccess) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat(what, ": ", ncclGetErrorString(result)));
}

#define GALVATRON_CUDA(expr)                                         \
  do {                                                               \
    absl::Status galvatron_cuda_status_ = CudaError((expr), #expr);  \
    if (!galvatron_cuda_status_.ok()) return galvatron_cuda_status_; \
  } while (0)
#define GALVATRON_NCCL(expr)                                         \
  do {                                                               \
    absl::Status galvatron_nccl_status_ = NcclError((expr), #expr);  \
    if (!galvatron_nccl_status_.ok()) return galvatron_nccl_status_; \
  } while (0)

// One group's communicator and stream. Not thread-safe.
struct NcclGroup {
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  int rank = 0;
  int size = 0;
};

// Not thread-safe (CollectiveBackend's contract).
class NcclBackend final : public CollectiveBackend {
 public:
  NcclBackend(runtime::RendezvousStore* store, const NcclBackendOptions& options, int device)
      : store_(store), options_(options), device_(device) {}

  ~NcclBackend() override {
    for (auto& [key, group] : groups_) {
      ncclCommDestroy(group.comm);
      cudaStreamDestroy(group.stream);
    }
    cudaFree(send_);
    cudaFree(recv_);
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }

  absl::Status Init() {
    GALVATRON_CUDA(cudaSetDevice(device_));
    GALVATRON_CUDA(cudaEventCreate(&start_));
    GALVATRON_CUDA(cudaEventCreate(&stop_));
    return absl::OkStatus();
  }

  std::string name() const override { return "nccl"; }

  absl::Status OpenGroup(const ProbeGroup& group) override {
    NcclGroup g;
    g.rank = group.GroupRank(options_.rank);
    g.size = group.size;
    if (g.rank < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("rank ", options_.rank, " is not in group ", group.key));
    }
    ncclUniqueId id;
    const std::string key = "galvatron/probe/nccl/" + group.key;
    if (g.rank == 0) {
      GALVATRON_NCCL(ncclGetUniqueId(&id));
      absl::Status posted =
          store_->Set(key, std::string(reinterpret_cast<const char*>(&id), sizeof(id)));
      if (!posted.ok()) return posted;
    } else {
      absl::StatusOr<std::string> value = store_->Get(key);
      if (!value.ok()) return value.status();
      if (value->size() != sizeof(id)) {
        return absl::DataLossError(absl::StrCat("bad NCCL unique id for group ", group.key));
      }
      std::copy(value->begin(), value->end(), reinterpret_cast<char*>(&id));
    }
    GALVATRON_CUDA(cudaStreamCreateWithFlags(&g.stream, cudaStreamNonBlocking));
    GALVATRON_NCCL(ncclCommInitRank(&g.comm, g.size, id, g.rank));
    groups_[group.key] = g;
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<double>> TimeCollective(v1::Collective collective,
                                                     const ProbeGroup& group, int64_t bytes,
                                                     const TimingOptions& timing) override {
    auto it = groups_.find(group.key);
    if (it == groups_.end()) {
      return absl::FailedPreconditionError(absl::StrCat("group ", group.key, " is not open"));
    }
    const NcclGroup& g = it->second;
    const size_t elements = static_cast<size_t>(bytes) / sizeof(float);
    if (elements < static_cast<size_t>(g.size) || elements % g.size != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "message of ", bytes, " bytes cannot be split into ", g.size, " fp32 shards"));
    }
    if (absl::Status s = EnsureBuffers(bytes); !s.ok()) return s;
    std::vector<double> times;
    for (int i = 0; i < timing.warmup + timing.repeats; ++i) {
      GALVATRON_CUDA(cudaEventRecord(start_, g.stream));
      if (absl::Status s = Launch(collective, g, elements); !s.ok()) return s;
      GALVATRON_CUDA(cudaEventRecord(stop_, g.stream));
      GALVATRON_CUDA(cudaEventSynchronize(stop_));
      float ms = 0;
      GALVATRON_CUDA(cudaEventElapsedTime(&ms, start_, stop_));
      if (i >= timing.warmup) times.push_back(ms / 1000.0);
    }
    return times;
  }

  absl::StatusOr<std::vector<double>> MaxOverGroup(const ProbeGroup& group,
                                                   std::vector<double> values) override {
    auto it = groups_.find(group.key);
    if (it == groups_.end()) {
      return absl::FailedPreconditionError(absl::StrCat("group ", group.key, " is not open"));
    }
    if (values.empty()) return values;
    const NcclGroup& g = it->second;
    const size_t bytes = values.size() * sizeof(double);
    double* device = nullptr;
    GALVATRON_CUDA(cudaMalloc(&device, bytes));
    absl::Status agreed = [&]() -> absl::Status {
      GALVATRON_CUDA(
          cudaMemcpyAsync(device, values.data(), bytes, cudaMemcpyHostToDevice, g.stream));
      GALVATRON_NCCL(
          ncclAllReduce(device, device, values.size(), ncclDouble, ncclMax, g.comm, g.stream));
      GALVATRON_CUDA(
          cudaMemcpyAsync(values.data(), device, bytes, cudaMemcpyDeviceToHost, g.stream));
      GALVATRON_CUDA(cudaStreamSynchronize(g.stream));
      return absl::OkStatus();
    }();
    cudaFree(device);
    if (!agreed.ok()) return agreed;
    return values;
  }

  absl::StatusOr<OverlapTimes> MeasureOverlap(const ProbeGroup& group, int64_t bytes) override {
    auto it = groups_.find(group.key);
    if (it == groups_.end()) {
      return absl::FailedPreconditionError(absl::StrCat("group ", group.key, " is not open"));
    }
    const NcclGroup& g = it->second;
    const size_t elements = static_cast<size_t>(bytes) / sizeof(float);
    if (absl::Status s = EnsureBuffers(bytes); !s.ok()) return s;
    const size_t gemm_bytes = sizeof(float) * kGemmSize * kGemmSize;
    float* matrices = nullptr;  // A, B, C
    GALVATRON_CUDA(cudaMalloc(&matrices, 3 * gemm_bytes));
    cudaStream_t compute = nullptr;
    cublasHandle_t blas = nullptr;
    cudaEvent_t events[4] = {};
    absl::StatusOr<OverlapTimes> result = [&]() -> absl::StatusOr<OverlapTimes> {
      GALVATRON_CUDA(cudaMemset(matrices, 0, 3 * gemm_bytes));
      GALVATRON_CUDA(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking));
      for (cudaEvent_t& e : events) GALVATRON_CUDA(cudaEventCreate(&e));
      if (cublasCreate(&blas) != CUBLAS_STATUS_SUCCESS ||
          cublasSetStream(blas, compute) != CUBLAS_STATUS_SUCCESS) {
        return absl::InternalError("cuBLAS initialisation failed");
      }
      const float one = 1, zero = 0;
      float* a = matrices;
      float* b = matrices + kGemmSize * kGemmSize;
      float* c = matrices + 2 * kGemmSize * kGemmSize;
      auto gemms = [&](int count) -> absl::Status {
        for (int i = 0; i < count; ++i) {
          if (cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, kGemmSize, kGemmSize, kGemmSize, &one, a,
                          kGemmSize, b, kGemmSize, &zero, c, kGemmSize) != CUBLAS_STATUS_SUCCESS) {
            return absl::InternalError("cublasSgemm failed");
          }
        }
        return absl::OkStatus();
      };
      auto all_reduces = [&]() -> absl::Status {
        for (int i = 0; i < kOverlapAllReduces; ++i) {
          GALVATRON_NCCL(
              ncclAllReduce(send_, send_, elements, ncclFloat, ncclSum, g.comm, g.stream));
        }
        return absl::OkStatus();
      };
      auto elapsed = [&](cudaEvent_t from, cudaEvent_t to) -> absl::StatusOr<double> {
        GALVATRON_CUDA(cudaEventSynchronize(to));
        float ms = 0;
        GALVATRON_CUDA(cudaEventElapsedTime(&ms, from, to));
        return ms / 1000.0;
      };
      OverlapTimes t;
      // Warm-up, then each alone.
      if (absl::Status s = gemms(2); !s.ok()) return s;
      if (absl::Status s = all_reduces(); !s.ok()) return s;
      GALVATRON_CUDA(cudaDeviceSynchronize());
      GALVATRON_CUDA(cudaEventRecord(events[0], compute));
      if (absl::Status s = gemms(10); !s.ok()) return s;
      GALVATRON_CUDA(cudaEventRecord(events[1], compute));
      absl::StatusOr<double> gemm_alone = elapsed(events[0], events[1]);
      if (!gemm_alone.ok()) return gemm_alone.status();
      t.compute_alone = *gemm_alone / 10;
      GALVATRON_CUDA(cudaEventRecord(events[2], g.stream));
      if (absl::Status s = all_reduces(); !s.ok()) return s;
      GALVATRON_CUDA(cudaEventRecord(events[3], g.stream));
      absl::StatusOr<double> comm_alone = elapsed(events[2], events[3]);
      if (!comm_alone.ok()) return comm_alone.status();
      t.comm_alone = *comm_alone / kOverlapAllReduces;
      // Together: enough GEMMs to cover the all-reduces (as Galvatron's
      // overlap_time_multiply sizes the overlapped phase).
      const int overlap_gemms =
          std::max(1, static_cast<int>(*comm_alone / std::max(t.compute_alone, 1e-9)) + 1);
      GALVATRON_CUDA(cudaEventRecord(events[0], compute));
      GALVATRON_CUDA(cudaEventRecord(events[2], g.stream));
      if (absl::Status s = all_reduces(); !s.ok()) return s;
      if (absl::Status s = gemms(overlap_gemms); !s.ok()) return s;
      GALVATRON_CUDA(cudaEventRecord(events[1], compute));
      GALVATRON_CUDA(cudaEventRecord(events[3], g.stream));
      absl::StatusOr<double> gemm_together = elapsed(events[0], events[1]);
      absl::StatusOr<double> comm_together = elapsed(events[2], events[3]);
      if (!gemm_together.ok()) return gemm_together.status();
      if (!comm_together.ok()) return comm_together.status();
      t.compute_overlapped = *gemm_together / overlap_gemms;
      t.comm_overlapped = *comm_together / kOverlapAllReduces;
      return t;
    }();
    if (blas != nullptr) cublasDestroy(blas);
    for (cudaEvent_t e : events) {
      if (e != nullptr) cudaEventDestroy(e);
    }
    if (compute != nullptr) cudaStreamDestroy(compute);
    cudaFree(matrices);
    return result;
  }

  v1::Device DescribeDevice() const override {
    v1::Device device;
    device.set_kind(v1::DEVICE_KIND_CUDA);
    device.set_index(device_);
    cudaDeviceProp properties{};
    if (cudaGetDeviceProperties(&properties, device_) == cudaSuccess) {
      device.set_name(properties.name);
      device.set_memory_bytes(static_cast<int64_t>(properties.totalGlobalMem));
    }
    return device;
  }

 private:
  absl::Status EnsureBuffers(int64_t bytes) {
    if (bytes <= capacity_) return absl::OkStatus();
    cudaFree(send_);
    cudaFree(recv_);
    send_ = recv_ = nullptr;
    capacity_ = 0;
    GALVATRON_CUDA(cudaMalloc(&send_, bytes));
    GALVATRON_CUDA(cudaMalloc(&recv_, bytes));
    GALVATRON_CUDA(cudaMemset(send_, 0, bytes));
    capacity_ = bytes;
    return absl::OkStatus();
  }

  // Enqueues one `collective` of `elements` fp32 values on the group's stream.
  absl::Status Launch(v1::Collective collective, const NcclGroup& g, size_t elements) {
    const size_t shard = elements / g.size;
    char* send = static_cast<char*>(send_);
    char* recv = static_cast<char*>(recv_);
    switch (collective) {
      case v1::COLLECTIVE_ALL_REDUCE:
        GALVATRON_NCCL(ncclAllReduce(send, recv, elements, ncclFloat, ncclSum, g.comm, g.stream));
        return absl::OkStatus();
      case v1::COLLECTIVE_ALL_GATHER:
        GALVATRON_NCCL(ncclAllGather(send, recv, shard, ncclFloat, g.comm, g.stream));
        return absl::OkStatus();
      case v1::COLLECTIVE_REDUCE_SCATTER:
        GALVATRON_NCCL(ncclReduceScatter(send, recv, shard, ncclFloat, ncclSum, g.comm, g.stream));
        return absl::OkStatus();
      case v1::COLLECTIVE_ALL_TO_ALL: {
        const size_t shard_bytes = shard * sizeof(float);
        GALVATRON_NCCL(ncclGroupStart());
        for (int peer = 0; peer < g.size; ++peer) {
          GALVATRON_NCCL(
              ncclSend(send + peer * shard_bytes, shard, ncclFloat, peer, g.comm, g.stream));
          GALVATRON_NCCL(
              ncclRecv(recv + peer * shard_bytes, shard, ncclFloat, peer, g.comm, g.stream));
        }
        GALVATRON_NCCL(ncclGroupEnd());
        return absl::OkStatus();
      }
      case v1::COLLECTIVE_P2P:
        GALVATRON_NCCL(ncclGroupStart());
        if (g.rank + 1 < g.size) {
          GALVATRON_NCCL(ncclSend(send, elements, ncclFloat, g.rank + 1, g.comm, g.stream));
        }
        if (g.rank > 0) {
          GALVATRON_NCCL(ncclRecv(recv, elements, ncclFloat, g.rank - 1, g.comm, g.stream));
        }
        GALVATRON_NCCL(ncclGroupEnd());
        return absl::OkStatus();
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("collective ", v1::Collective_Name(collective), " is not probed"));
    }
  }

  runtime::RendezvousStore* store_;
  NcclBackendOptions options_;
  int device_;
  std::map<std::string, NcclGroup> groups_;
  void* send_ = nullptr;
  void* recv_ = nullptr;
  int64_t capacity_ = 0;
  cudaEvent_t start_ = nullptr;
  cudaEvent_t stop_ = nullptr;
};

}  // namespace

absl::StatusOr<int> CudaDeviceCount() {
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    return absl::FailedPreconditionError(
        absl::StrCat("no CUDA device: cudaGetDeviceCount failed: ", cudaGetErrorString(error)));
  }
  if (count <= 0) {
    return absl::FailedPreconditionError("no CUDA device: cudaGetDeviceCount returned 0");
  }
  return count;
}

absl::StatusOr<std::unique_ptr<CollectiveBackend>> MakeNcclBackend(
    runtime::RendezvousStore* store, const NcclBackendOptions& options) {
  absl::StatusOr<int> count = CudaDeviceCount();
  if (!count.ok()) return count.status();
  auto backend = std::make_unique<NcclBackend>(store, options, options.local_rank % *count);
  if (absl::Status s = backend->Init(); !s.ok()) return s;
  return std::unique_ptr<CollectiveBackend>(std::move(backend));
}

}  // namespace galvatron::probe
