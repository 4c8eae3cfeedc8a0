#include "agent/probe/probe_runner.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "agent/probe/collective_backend.h"
#include "agent/probe/probe_measure.h"
#include "agent/probe/probe_plan.h"
#include "agent/runtime/comm/rendezvous.h"
#include "common/host_facts.h"
#include "common/json_file.h"
#include "common/physical_bounds.h"
#include "common/profile_validation.h"
#include "common/progress_file.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"
#ifdef GALVATRON_WITH_NCCL
#include "agent/probe/nccl_backend.h"
#endif

namespace galvatron::probe {
namespace {

constexpr int64_t KiB = 1024;
constexpr int64_t MiB = 1024 * KiB;
constexpr int64_t GiB = 1024 * MiB;

constexpr v1::Collective kGroupCollectives[] = {
    v1::COLLECTIVE_ALL_REDUCE, v1::COLLECTIVE_ALL_GATHER, v1::COLLECTIVE_REDUCE_SCATTER,
    v1::COLLECTIVE_ALL_TO_ALL};

std::string ResultKey(int rank) { return absl::StrCat("galvatron/probe/result/", rank); }

// The options with every "default" resolved for `backend`.
ProbeOptions Resolved(ProbeOptions o, const std::string& backend) {
  const bool gpu = backend == "nccl";
  if (o.devices_per_node == 0) o.devices_per_node = o.world_size;
  if (o.local_rank < 0) o.local_rank = o.rank % o.devices_per_node;
  if (o.min_bytes == 0) o.min_bytes = gpu ? 1 * MiB : 4 * KiB;
  if (o.max_bytes == 0) o.max_bytes = std::max(o.min_bytes, gpu ? 1 * GiB : 4 * MiB);
  if (o.warmup < 0) o.warmup = gpu ? 5 : 2;
  if (o.repeats == 0) o.repeats = gpu ? 20 : 5;
  if (o.threads == 0) o.threads = std::max(1, ReadHostFacts().cpu_cores / o.devices_per_node);
  return o;
}

// "gloo" or "nccl" for the requested backend; "no CUDA device: ..." when
// nccl is asked for on a host without one.
absl::StatusOr<std::string> ChooseBackend(const std::string& requested) {
  if (requested == "gloo") return std::string("gloo");
#ifdef GALVATRON_WITH_NCCL
  absl::StatusOr<int> devices = CudaDeviceCount();
  if (requested == "nccl") {
    if (!devices.ok()) return devices.status();
    return std::string("nccl");
  }
  return std::string(devices.ok() ? "nccl" : "gloo");
#else
  if (requested == "nccl") {
    return absl::FailedPreconditionError(
        "no CUDA device: this galvatron-worker was built without CUDA/NCCL");
  }
  return std::string("gloo");
#endif
}

absl::StatusOr<std::unique_ptr<CollectiveBackend>> MakeBackend(const std::string& backend,
                                                               runtime::TcpRendezvous* rendezvous,
                                                               const ProbeOptions& o) {
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1000));
#ifdef GALVATRON_WITH_NCCL
  if (backend == "nccl") {
    NcclBackendOptions nccl;
    nccl.rank = o.rank;
    nccl.world_size = o.world_size;
    nccl.local_rank = o.local_rank;
    nccl.timeout = timeout;
    return MakeNcclBackend(rendezvous, nccl);
  }
#endif
  GlooBackendOptions gloo;
  gloo.rank = o.rank;
  gloo.world_size = o.world_size;
  gloo.local_rank = o.local_rank;
  gloo.local_ranks = o.devices_per_node;
  gloo.threads = o.threads;
  gloo.timeout = timeout;
  return MakeGlooBackend(*rendezvous, gloo);
}

// This rank's medians of every table, its overlap coefficient and host name.
absl::StatusOr<v1::HardwareProfile> MeasureRank(CollectiveBackend& backend, const ProbeOptions& o) {
  ASSIGN_OR_RETURN(const std::vector<int64_t> sizes, MessageSizes(o.min_bytes, o.max_bytes));
  const std::vector<ProbeGroup> groups = ProbeGroupsOfRank(o.world_size, o.rank);
  for (const ProbeGroup& group : groups) RETURN_IF_ERROR(backend.OpenGroup(group));

  TimingOptions timing;
  timing.warmup = o.warmup;
  timing.repeats = o.repeats;
  v1::HardwareProfile local;
  // Progress: one step per table, one for the overlap.
  int total_steps = 1;
  for (const ProbeGroup& group : groups) {
    total_steps += static_cast<int>(std::size(kGroupCollectives));
    if (group.layout == v1::GROUP_LAYOUT_STRIDED || group.size == o.world_size) ++total_steps;
  }
  int steps_done = 0;
  auto progress = [&](const std::string& message) {
    Progress p;
    p.fraction = static_cast<double>(steps_done) / total_steps;
    p.message = message;
    if (absl::Status written = WriteProgressFile(o.progress_file, p); !written.ok()) {
      spdlog::warn("--progress-file: {}", std::string(written.message()));
    }
  };
  progress("starting");
  // Other processes' CPU time, less the other ranks of this node (children
  // of the same agent or launcher), which are part of the measurement.
  std::unique_ptr<LoadSource> load = MakeProcLoadSource(/*exclude_siblings=*/true);
  QualityRecorder quality(o.noise);
  auto measure = [&](v1::Collective collective, const ProbeGroup& group,
                     v1::GroupLayout layout) -> absl::Status {
    ASSIGN_OR_RETURN(TableMeasurement measured,
                     MeasureTable(backend, collective, group, sizes, timing, o.noise, *load));
    quality.Add(TableName(collective, group), measured.outcome);
    const std::vector<v1::TimeSample>& samples = measured.samples;
    *local.add_collectives() = MakeCollectiveTable(collective, group.size, layout, samples);
    ++steps_done;
    progress(absl::StrCat(v1::Collective_Name(collective), " group_size ", group.size, " ",
                          v1::GroupLayout_Name(layout)));
    if (o.rank == 0) {
      spdlog::info("probe: {} group_size {} {}: {} sizes, {:.3g} s at {} bytes",
                   v1::Collective_Name(collective), group.size, v1::GroupLayout_Name(layout),
                   samples.size(), samples.back().seconds(), samples.back().bytes());
    }
    return absl::OkStatus();
  };
  for (const ProbeGroup& group : groups) {
    for (v1::Collective collective : kGroupCollectives) {
      RETURN_IF_ERROR(measure(collective, group, group.layout));
    }
    // A pipeline of degree s places stage k at r + k*W/s: the strided group
    // (at s = W, the consecutive one, which holds the same ranks).
    if (group.layout == v1::GROUP_LAYOUT_STRIDED || group.size == o.world_size) {
      RETURN_IF_ERROR(measure(v1::COLLECTIVE_P2P, group, v1::GROUP_LAYOUT_UNSPECIFIED));
    }
  }
  // Overlap on the largest group (the whole world, consecutive).
  ASSIGN_OR_RETURN(const OverlapTimes overlap, backend.MeasureOverlap(groups.back(), sizes.back()));
  const double coefficient = OverlapCoefficient(overlap);
  // A slowdown beyond the bound the cost model accepts is the machine's load
  // (ranks sharing cores), not the interconnect: kept at the bound, said.
  if (coefficient > physical_bounds::kOverlapCoefficient.max) {
    spdlog::warn(
        "probe: overlap coefficient {:.3f} measured, beyond {} (are ranks sharing cores?); "
        "recorded as {}",
        coefficient, physical_bounds::kOverlapCoefficient.max,
        physical_bounds::kOverlapCoefficient.max);
  }
  local.set_overlap_coefficient(std::min(coefficient, physical_bounds::kOverlapCoefficient.max));
  ++steps_done;
  progress("overlap coefficient");
  if (o.rank == 0) {
    spdlog::info(
        "probe: overlap: matmul {:.3g} s alone, {:.3g} s overlapped; all-reduce {:.3g} s "
        "alone, {:.3g} s overlapped; coefficient {:.3f}",
        overlap.compute_alone, overlap.compute_overlapped, overlap.comm_alone,
        overlap.comm_overlapped, local.overlap_coefficient());
  }
  local.set_measured_by(ReadHostFacts().host_name);
  *local.mutable_quality() = quality.Quality();
  return local;
}

}  // namespace

absl::Status ValidateProbeOptions(const ProbeOptions& o) {
  auto invalid = [](const std::string& name, auto value, const std::string& expected) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": ", value, ", ", expected));
  };
  if (o.world_size < 2 || o.world_size > 65536) {
    return invalid("world_size", o.world_size, "must be in [2, 65536] (a probe needs peers)");
  }
  if (o.rank < 0 || o.rank >= o.world_size) {
    return invalid("rank", o.rank, absl::StrCat("must be in [0, ", o.world_size, ")"));
  }
  if (o.devices_per_node < 0 || (o.devices_per_node > 0 && o.world_size % o.devices_per_node)) {
    return invalid("devices_per_node", o.devices_per_node,
                   absl::StrCat("must divide world_size ", o.world_size));
  }
  if (o.backend != "gloo" && o.backend != "nccl" && o.backend != "auto") {
    return invalid("backend", o.backend, "must be gloo, nccl or auto");
  }
  if (o.store_host.empty()) return invalid("store host", "\"\"", "must be given");
  if (o.store_port < 0 || o.store_port > 65535 || (o.store_port == 0 && o.rank != 0)) {
    return invalid("store port", o.store_port,
                   "must be in [1, 65535] (0, a free port, only on rank 0)");
  }
  if (o.min_bytes < 0 || o.max_bytes < 0 || (o.max_bytes > 0 && o.max_bytes < o.min_bytes)) {
    return invalid("min_bytes/max_bytes", absl::StrCat(o.min_bytes, "/", o.max_bytes),
                   "must satisfy 0 <= min_bytes <= max_bytes (0: the backend's default)");
  }
  // Every message is split into fp32 shards, one per rank of the group.
  if (o.min_bytes > 0 && o.min_bytes < 4 * static_cast<int64_t>(o.world_size)) {
    return invalid("min_bytes", o.min_bytes,
                   absl::StrCat("must be >= 4 * world_size (", 4 * o.world_size, ")"));
  }
  if (o.max_bytes > (int64_t{1} << 40))
    return invalid("max_bytes", o.max_bytes, "must be <= 1 TiB");
  if (o.warmup < -1 || o.warmup > 1000) return invalid("warmup", o.warmup, "must be in [0, 1000]");
  if (o.repeats < 0 || o.repeats > 1000)
    return invalid("repeats", o.repeats, "must be in [1, 1000]");
  if (o.threads < 0 || o.threads > 1024)
    return invalid("threads", o.threads, "must be in [1, 1024]");
  if (!(o.timeout_seconds > 0) || o.timeout_seconds > 86400) {
    return invalid("timeout_seconds", o.timeout_seconds, "must be in (0, 86400]");
  }
  if (!(o.peer_timeout_seconds > 0) || o.peer_timeout_seconds > 86400) {
    return invalid("peer_timeout_seconds", o.peer_timeout_seconds, "must be in (0, 86400]");
  }
  return ValidateNoiseOptions(o.noise);
}

absl::Status RunProbe(const ProbeOptions& requested, v1::HardwareProfile* profile) {
  RETURN_IF_ERROR(ValidateProbeOptions(requested));
  ASSIGN_OR_RETURN(const std::string backend_name, ChooseBackend(requested.backend));
  const ProbeOptions o = Resolved(requested, backend_name);

  runtime::RendezvousOptions rendezvous_options;
  rendezvous_options.host = o.store_host;
  rendezvous_options.port = o.store_port;
  rendezvous_options.rank = o.rank;
  rendezvous_options.world_size = o.world_size;
  rendezvous_options.timeout =
      std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1000));
  // Rank 0 announces the actual port as soon as the store serves (before
  // waiting for the peers, which need it to join).
  if (o.rank == 0 && !o.port_file.empty()) {
    rendezvous_options.on_serving = [&o](int port) {
      return WriteTextFile(o.port_file, absl::StrCat(port, "\n"));
    };
  }
  rendezvous_options.peer_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(o.peer_timeout_seconds * 1000));
  ASSIGN_OR_RETURN(std::shared_ptr<runtime::TcpRendezvous> rendezvous,
                   runtime::TcpRendezvous::Connect(rendezvous_options));
  if (o.rendezvous_holder != nullptr) *o.rendezvous_holder = rendezvous;
  if (o.rank == 0) {
    spdlog::info(
        "probe: {} ranks joined the store at {}:{}; backend {}, {}..{} bytes, "
        "warm-up {}, repeats {}, {} threads; noisy above spread {} or load {}, {}",
        o.world_size, o.store_host, rendezvous->port(), backend_name, o.min_bytes, o.max_bytes,
        o.warmup, o.repeats, o.threads, o.noise.spread_threshold, o.noise.load_threshold,
        o.noise.accept_noisy
            ? std::string("accepted as measured (--accept-noisy)")
            : absl::StrCat("measured again up to ", o.noise.max_remeasure, " times"));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<CollectiveBackend> backend,
                   MakeBackend(backend_name, rendezvous.get(), o));
  ASSIGN_OR_RETURN(v1::HardwareProfile local, MeasureRank(*backend, o));
  if (o.rank != 0) return rendezvous->Set(ResultKey(o.rank), local.SerializeAsString());

  // Rank 0: fold in every peer's medians; each sample is the slowest rank's.
  v1::HardwareProfile merged = local;
  for (int r = 1; r < o.world_size; ++r) {
    ASSIGN_OR_RETURN(const std::string bytes, rendezvous->Get(ResultKey(r)));
    v1::HardwareProfile peer;
    if (!peer.ParseFromString(bytes)) {
      return absl::DataLossError(absl::StrCat("rank ", r, " sent an unreadable result"));
    }
    RETURN_IF_ERROR(MergeRankProfile(peer, &merged));
  }
  FinishTables(&merged);
  if (merged.quality().noisy()) {
    spdlog::warn("probe: the hardware profile is flagged noisy: {}", merged.quality().note());
  }
  merged.set_cluster(o.cluster);
  merged.set_num_nodes(o.world_size / o.devices_per_node);
  merged.set_devices_per_node(o.devices_per_node);
  *merged.mutable_device() = backend->DescribeDevice();
  merged.set_source(v1::PROFILE_SOURCE_MEASURED);
  const absl::Time now = absl::Now();
  merged.mutable_measured_at()->set_seconds(absl::ToUnixSeconds(now));
  merged.mutable_measured_at()->set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(now - absl::FromUnixSeconds(absl::ToUnixSeconds(now)))));
  RETURN_IF_ERROR(ValidateHardwareProfile(merged));
  if (!o.out.empty()) RETURN_IF_ERROR(WriteTextFile(o.out, MessageToJson(merged)));
  *profile = std::move(merged);
  return absl::OkStatus();
}

}  // namespace galvatron::probe
