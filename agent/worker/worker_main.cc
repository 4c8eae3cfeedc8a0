// galvatron-worker: one process per device, spawned by the node agent.
// `galvatron-worker probe` measures the interconnect (flags → ProbeOptions →
// RunProbe); profiling and training commands come later.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "agent/probe/probe_runner.h"
#include "common/logging.h"
#include "spdlog/spdlog.h"

namespace {

// torchrun's environment, used where the flag is not given.
bool EnvInt(const char* name, int* value) {
  const char* text = std::getenv(name);
  return text != nullptr && absl::SimpleAtoi(text, value);
}

// "HOST:PORT" (or "[v6]:PORT") → host, port.
bool SplitHostPort(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return absl::SimpleAtoi(address.substr(colon + 1), port);
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "galvatron-worker: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "galvatron-worker: one process per device, started by galvatron-agent. "
      "LibTorch + c10d (NCCL on GPU, Gloo on CPU)."};
  app.set_version_flag("--version", "galvatron-worker 0.1.0");
  app.require_subcommand(1);
  galvatron::LoggingOptions logging;
  app.add_option("--log-level", logging.level, "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  app.add_option("--log-format", logging.format, "text or json (one object per line)")
      ->capture_default_str();

  galvatron::probe::ProbeOptions probe;
  std::string store;
  auto* cmd = app.add_subcommand(
      "probe",
      "measure collective times per group size and layout (all-reduce, all-gather, "
      "reduce-scatter, all-to-all, pipeline p2p) and the compute/communication overlap; "
      "rank 0 writes the HardwareProfile");
  auto* rank_flag = cmd->add_option("--rank", probe.rank, "this process's rank (default $RANK)");
  auto* world_flag =
      cmd->add_option("--world-size", probe.world_size, "number of ranks (default $WORLD_SIZE)");
  auto* store_flag = cmd->add_option(
      "--store", store,
      "HOST:PORT of the c10d TCPStore that rank 0 hosts (default $MASTER_ADDR:$MASTER_PORT); "
      "rank 0 may use port 0 with --port-file");
  cmd->add_option("--port-file", probe.port_file,
                  "rank 0: write the store's actual port to this file once it serves");
  cmd->add_option("--backend", probe.backend,
                  "gloo, nccl or auto (nccl when a CUDA device is present, else gloo)")
      ->capture_default_str();
  auto* local_rank_flag = cmd->add_option(
      "--local-rank", probe.local_rank,
      "rank within the node (default $LOCAL_RANK, else rank % devices-per-node)");
  auto* per_node_flag = cmd->add_option(
      "--devices-per-node", probe.devices_per_node,
      "ranks per node; a node's ranks are consecutive (default $LOCAL_WORLD_SIZE, else world size)");
  cmd->add_option("--min-bytes", probe.min_bytes,
                  "smallest message (default gloo 4096, nccl 1 MiB); sizes are powers of two");
  cmd->add_option("--max-bytes", probe.max_bytes,
                  "largest message (default gloo 4 MiB, nccl 1 GiB)");
  cmd->add_option("--warmup", probe.warmup, "untimed runs per size (default gloo 2, nccl 5)");
  cmd->add_option("--repeats", probe.repeats,
                  "timed runs per size; the median is kept (default gloo 5, nccl 20)");
  cmd->add_option("--threads", probe.threads,
                  "torch intra-op threads (default cores / ranks per node, at least 1)");
  cmd->add_option("--cluster", probe.cluster, "cluster name of the profile")->capture_default_str();
  cmd->add_option("--out", probe.out, "rank 0: write the HardwareProfile JSON here");
  cmd->add_option("--progress-file", probe.progress_file,
                  "rewrite this JSON file with the fraction done after every table");
  cmd->add_option("--timeout-seconds", probe.timeout_seconds,
                  "give up when a peer does not show up or answer within this time")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (auto status = galvatron::InitLogging(logging); !status.ok()) {
    return Fail(std::string(status.message()));
  }
  if (rank_flag->count() == 0 && !EnvInt("RANK", &probe.rank)) {
    return Fail("probe: --rank (or $RANK) is required");
  }
  if (world_flag->count() == 0 && !EnvInt("WORLD_SIZE", &probe.world_size)) {
    return Fail("probe: --world-size (or $WORLD_SIZE) is required");
  }
  if (local_rank_flag->count() == 0) EnvInt("LOCAL_RANK", &probe.local_rank);
  if (per_node_flag->count() == 0) EnvInt("LOCAL_WORLD_SIZE", &probe.devices_per_node);
  if (store_flag->count() > 0) {
    if (!SplitHostPort(store, &probe.store_host, &probe.store_port)) {
      return Fail("probe: --store: \"" + store + "\", expected HOST:PORT");
    }
  } else {
    const char* host = std::getenv("MASTER_ADDR");
    if (host == nullptr || *host == '\0' || !EnvInt("MASTER_PORT", &probe.store_port)) {
      return Fail("probe: --store HOST:PORT (or $MASTER_ADDR and $MASTER_PORT) is required");
    }
    probe.store_host = host;
  }

  galvatron::v1::HardwareProfile profile;
  if (auto status = galvatron::probe::RunProbe(probe, &profile); !status.ok()) {
    spdlog::error("probe failed on rank {}: {}", probe.rank, std::string(status.message()));
    return Fail("probe: " + std::string(status.message()));
  }
  if (probe.rank == 0) {
    spdlog::info("probe: {} tables, overlap coefficient {:.3f}{}", profile.collectives_size(),
                 profile.overlap_coefficient(), probe.out.empty() ? "" : ", written to " + probe.out);
  }
  return 0;
}
