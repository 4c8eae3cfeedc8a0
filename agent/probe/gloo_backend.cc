// Gloo on CPU through c10d's ProcessGroupGloo. Gloo has no reduce-scatter:
// it is emulated as an all-reduce of the whole buffer followed by a copy of
// the local shard, so its time is an upper bound (the all-reduce moves
// 2(s-1)/s of the buffer per rank where a reduce-scatter needs (s-1)/s).
// All-gather uses allgather into s tensors (Gloo has no _allgather_base),
// all-to-all Gloo's alltoall_base with equal splits, and p2p send/recv.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/probe/collective_backend.h"
#include "agent/runtime/comm/c10d_store.h"
#include "agent/runtime/comm/gloo_peers.h"
#include "common/host_facts.h"
#include "common/net_address.h"

namespace galvatron::probe {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kMatmulSize = 512;    // fp32 N×N matmuls of the overlap test
constexpr int kOverlapMatmuls = 10;     // matmuls timed alone
constexpr int kOverlapAllReduces = 10;  // all-reduces timed alone and overlapped

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// The transport device: the loopback address when the store is on loopback
// (single-host runs), the interface in $GLOO_SOCKET_IFNAME when set (as in
// PyTorch), else the address this host's name resolves to.
std::shared_ptr<::gloo::transport::Device> MakeGlooDevice(const std::string& store_host) {
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
  }
  if (IsLoopbackHost(store_host)) {
    return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  }
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

// Not thread-safe (CollectiveBackend's contract).
class GlooBackend final : public CollectiveBackend {
 public:
  GlooBackend(c10::intrusive_ptr<c10d::Store> store,
              std::shared_ptr<::gloo::transport::Device> device, const GlooBackendOptions& options)
      : store_(std::move(store)), device_(std::move(device)), options_(options) {}

  std::string name() const override { return "gloo"; }

  absl::Status OpenGroup(const ProbeGroup& group) override {
    const int group_rank = group.GroupRank(options_.rank);
    if (group_rank < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("rank ", options_.rank, " is not in group ", group.key));
    }
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(options_.timeout);
    gloo_options->devices.push_back(device_);
    c10::intrusive_ptr<runtime::GlooProcessGroup> gloo;
    try {
      auto prefixed =
          c10::make_intrusive<c10d::PrefixStore>("galvatron/probe/gloo/" + group.key, store_);
      gloo = c10::make_intrusive<runtime::GlooProcessGroup>(prefixed, group_rank, group.size,
                                                            gloo_options);
    } catch (const std::exception& e) {
      return absl::DeadlineExceededError(
          absl::StrCat("rank ", options_.rank, ": cannot connect group ", group.key, " within ",
                       Seconds(options_.timeout), " s: ", FirstLine(e.what())));
    }
    groups_[group.key] = gloo;
    // So that a peer's Gloo error about these sockets names this rank.
    return runtime::PublishGlooPeers(*store_, options_.rank, *gloo);
  }

  absl::StatusOr<std::vector<double>> TimeCollective(v1::Collective collective,
                                                     const ProbeGroup& group, int64_t bytes,
                                                     const TimingOptions& timing) override {
    auto it = groups_.find(group.key);
    if (it == groups_.end()) {
      return absl::FailedPreconditionError(absl::StrCat("group ", group.key, " is not open"));
    }
    c10d::ProcessGroupGloo& pg = *it->second;
    const int s = group.size;
    const int group_rank = group.GroupRank(options_.rank);
    const int64_t elements = bytes / static_cast<int64_t>(sizeof(float));
    if (elements < s || elements % s != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("message of ", bytes, " bytes cannot be split into ", s, " fp32 shards"));
    }
    const int64_t shard = elements / s;
    const auto opts = at::TensorOptions().dtype(at::kFloat);
    std::function<void()> run;
    switch (collective) {
      case v1::COLLECTIVE_ALL_REDUCE:
      case v1::COLLECTIVE_REDUCE_SCATTER: {
        auto buffer = std::make_shared<std::vector<at::Tensor>>(1, at::zeros({elements}, opts));
        auto local = at::empty({shard}, opts);
        const bool keep_shard = collective == v1::COLLECTIVE_REDUCE_SCATTER;
        run = [&pg, buffer, local, keep_shard, group_rank, shard]() mutable {
          pg.allreduce(*buffer)->wait();
          if (keep_shard) local.copy_((*buffer)[0].narrow(0, group_rank * shard, shard));
        };
        break;
      }
      case v1::COLLECTIVE_ALL_GATHER: {
        auto input = std::make_shared<std::vector<at::Tensor>>(1, at::zeros({shard}, opts));
        auto output = at::empty({elements}, opts);
        auto outputs = std::make_shared<std::vector<std::vector<at::Tensor>>>(1);
        for (int k = 0; k < s; ++k) (*outputs)[0].push_back(output.narrow(0, k * shard, shard));
        run = [&pg, input, outputs] { pg.allgather(*outputs, *input)->wait(); };
        break;
      }
      case v1::COLLECTIVE_ALL_TO_ALL: {
        auto input = at::zeros({elements}, opts);
        auto output = at::empty({elements}, opts);
        run = [&pg, input, output]() mutable {
          std::vector<int64_t> equal_split;
          pg.alltoall_base(output, input, equal_split, equal_split)->wait();
        };
        break;
      }
      case v1::COLLECTIVE_P2P: {
        auto send = std::make_shared<std::vector<at::Tensor>>(1, at::zeros({elements}, opts));
        auto recv = std::make_shared<std::vector<at::Tensor>>(1, at::empty({elements}, opts));
        const int next = group_rank + 1 < s ? group_rank + 1 : -1;
        const int prev = group_rank - 1;
        run = [&pg, send, recv, next, prev] {
          c10::intrusive_ptr<c10d::Work> sent, received;
          if (next >= 0) sent = pg.send(*send, next, /*tag=*/0);
          if (prev >= 0) received = pg.recv(*recv, prev, /*tag=*/0);
          if (sent) sent->wait();
          if (received) received->wait();
        };
        break;
      }
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("collective ", v1::Collective_Name(collective), " is not probed"));
    }
    std::vector<double> times;
    try {
      for (int i = 0; i < timing.warmup; ++i) run();
      for (int i = 0; i < timing.repeats; ++i) {
        pg.barrier()->wait();  // start the group's ranks together
        const auto start = Clock::now();
        run();
        times.push_back(Seconds(Clock::now() - start));
      }
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("rank ", options_.rank, ": ", v1::Collective_Name(collective), " of ", bytes,
                       " bytes on group ", group.key,
                       " failed (a peer stopped or timed out): ", FirstLine(e.what())));
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
    try {
      std::vector<at::Tensor> buffer{at::from_blob(values.data(),
                                                   {static_cast<int64_t>(values.size())},
                                                   at::TensorOptions().dtype(at::kDouble))
                                         .clone()};
      c10d::AllreduceOptions max;
      max.reduceOp = c10d::ReduceOp::MAX;
      it->second->allreduce(buffer, max)->wait();
      const double* agreed = buffer[0].data_ptr<double>();
      std::copy(agreed, agreed + values.size(), values.begin());
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat("rank ", options_.rank, ": agreeing on group ",
                                                 group.key,
                                                 " failed (a peer stopped or timed "
                                                 "out): ",
                                                 FirstLine(e.what())));
    }
    return values;
  }

  absl::StatusOr<OverlapTimes> MeasureOverlap(const ProbeGroup& group, int64_t bytes) override {
    auto it = groups_.find(group.key);
    if (it == groups_.end()) {
      return absl::FailedPreconditionError(absl::StrCat("group ", group.key, " is not open"));
    }
    c10d::ProcessGroupGloo& pg = *it->second;
    const auto opts = at::TensorOptions().dtype(at::kFloat);
    at::Tensor a = at::rand({kMatmulSize, kMatmulSize}, opts);
    at::Tensor b = at::rand({kMatmulSize, kMatmulSize}, opts);
    std::vector<at::Tensor> buffer{at::zeros({std::max<int64_t>(1, bytes / 4)}, opts)};
    OverlapTimes times;
    try {
      at::mm(a, b);  // warm-up
      pg.allreduce(buffer)->wait();

      auto start = Clock::now();
      for (int i = 0; i < kOverlapMatmuls; ++i) at::mm(a, b);
      times.compute_alone = Seconds(Clock::now() - start) / kOverlapMatmuls;

      pg.barrier()->wait();
      start = Clock::now();
      for (int i = 0; i < kOverlapAllReduces; ++i) pg.allreduce(buffer)->wait();
      times.comm_alone = Seconds(Clock::now() - start) / kOverlapAllReduces;

      // Matmuls keep running for as long as the all-reduces do, so that both
      // are overlapped for the whole measurement.
      pg.barrier()->wait();
      std::atomic<bool> comm_done{false};
      std::exception_ptr comm_error;
      double comm_seconds = 0;
      start = Clock::now();
      std::thread comm([&] {
        try {
          const auto comm_start = Clock::now();
          for (int i = 0; i < kOverlapAllReduces; ++i) pg.allreduce(buffer)->wait();
          comm_seconds = Seconds(Clock::now() - comm_start);
        } catch (...) {
          comm_error = std::current_exception();
        }
        comm_done = true;
      });
      // Joined on every path: a matmul that throws must not leave a
      // joinable thread behind (its destructor would terminate the process).
      struct Joiner {
        std::thread& thread;
        ~Joiner() {
          if (thread.joinable()) thread.join();
        }
      } joiner{comm};
      int matmuls = 0;
      while (!comm_done || matmuls == 0) {
        at::mm(a, b);
        ++matmuls;
      }
      const double compute_seconds = Seconds(Clock::now() - start);
      comm.join();
      if (comm_error) std::rethrow_exception(comm_error);
      times.compute_overlapped = compute_seconds / matmuls;
      times.comm_overlapped = comm_seconds / kOverlapAllReduces;
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat(
          "rank ", options_.rank, ": overlap measurement failed: ", FirstLine(e.what())));
    }
    return times;
  }

  v1::Device DescribeDevice() const override {
    return galvatron::CpuDevice(ReadHostFacts(), options_.local_ranks, options_.local_rank);
  }

 private:
  c10::intrusive_ptr<c10d::Store> store_;
  std::shared_ptr<::gloo::transport::Device> device_;
  GlooBackendOptions options_;
  std::map<std::string, c10::intrusive_ptr<c10d::ProcessGroupGloo>> groups_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<CollectiveBackend>> MakeGlooBackend(
    const runtime::TcpRendezvous& rendezvous, const GlooBackendOptions& options) {
  at::set_num_threads(std::max(1, options.threads));
  std::shared_ptr<::gloo::transport::Device> device;
  try {
    device = MakeGlooDevice(rendezvous.options().host);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot create the Gloo transport device: ", FirstLine(e.what())));
  }
  return std::unique_ptr<CollectiveBackend>(
      new GlooBackend(rendezvous.c10d().store, std::move(device), options));
}

}  // namespace galvatron::probe
