// galvatron-worker: one process per device, spawned by the node agent.
// `galvatron-worker probe` measures the interconnect (flags → ProbeOptions →
// RunProbe); `galvatron-worker profile` measures a model's layers (flags →
// ProfilerOptions → ProfileModel); `train` runs one rank of a training run,
// `launch` starts N local ranks of it, and `export` writes a run's sharded
// checkpoint as one Hugging Face safetensors file.
//
// Failures: each of probe, profile and train runs inside one boundary
// (RunCatching) where an exception becomes a Status naming the command and
// the rank; the rank then leaves its group through the rendezvous (which
// tells the other ranks who failed), prints the message on stderr and in the
// log, and exits 1. A rank that a peer's failure stops exits 1 too, naming
// the failed rank (agent/runtime/comm/peer_watch.h). Nothing ends in
// std::terminate.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <tuple>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/compute_profile/profiler.h"
#include "agent/probe/probe_runner.h"
#include "agent/runtime/comm/rendezvous.h"
#include "agent/runtime/trainer/export.h"
#include "agent/runtime/trainer/trainer.h"
#include "agent/worker/command_boundary.h"
#include "agent/worker/launch.h"
#include "common/host_facts.h"
#include "common/json_file.h"
#include "common/logging.h"
#include "common/main_guard.h"
#include "common/measurement_quality.h"
#include "common/model_catalog.h"
#include "common/model_validation.h"
#include "common/profile_validation.h"
#include "common/progress_file.h"
#include "interop/galvatron_model.h"
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

// The noise flags of probe and profile (docs/measurement.md).
void AddNoiseFlags(CLI::App* command, galvatron::NoiseOptions* noise) {
  command
      ->add_option("--noise-threshold", noise->spread_threshold,
                   "a measurement whose timed repetitions spread more than this, as (q3 - q1) / "
                   "median, is noisy")
      ->capture_default_str();
  command
      ->add_option("--load-threshold", noise->load_threshold,
                   "a measurement taken while other processes used more than this share of the "
                   "cores (from /proc/stat; 1 = all) is noisy")
      ->capture_default_str();
  command
      ->add_option("--max-remeasure", noise->max_remeasure,
                   "times a noisy measurement is taken again; the least noisy attempt is kept and "
                   "one that stays noisy is flagged in the profile")
      ->capture_default_str();
  command->add_flag("--accept-noisy", noise->accept_noisy,
                    "never measure again (e.g. several ranks sharing few cores); noisy "
                    "measurements are still flagged");
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "galvatron-worker: %s\n", message.c_str());
  return 1;
}

// The boundary of a command that runs as rank `rank` of a group: `body`
// gets a holder for its rendezvous; exceptions become a Status, the rank
// leaves the group with the outcome (the other ranks learn who failed), and
// an error is logged and printed. The exit code.
int RunAsRank(
    const std::string& command, int rank,
    const std::function<absl::Status(std::shared_ptr<galvatron::runtime::TcpRendezvous>*)>& body) {
  std::shared_ptr<galvatron::runtime::TcpRendezvous> rendezvous;
  absl::Status status =
      galvatron::worker::RunCatching("uncaught exception", [&] { return body(&rendezvous); });
  if (rendezvous != nullptr) status = rendezvous->Leave(status);
  rendezvous.reset();  // rank 0: the store closes only now
  if (status.ok()) return 0;
  spdlog::error("{} failed on rank {}: {}", command, rank, std::string(status.message()));
  return Fail(absl::StrCat(command, " (rank ", rank, "): ", status.message()));
}

// The program; main() below runs it inside RunGuardedMain.
int GuardedMain(int argc, char** argv) {
  CLI::App app{
      "galvatron-worker: one process per device, started by galvatron-agent. "
      "LibTorch + c10d (NCCL on GPU, Gloo on CPU)."};
  app.set_version_flag("--version", "galvatron-worker 0.1.0");
  app.require_subcommand(1);
  app.fallthrough();  // --log-level and --log-format also after the subcommand
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
  auto* local_rank_flag =
      cmd->add_option("--local-rank", probe.local_rank,
                      "rank within the node (default $LOCAL_RANK, else rank % devices-per-node)");
  auto* per_node_flag = cmd->add_option("--devices-per-node", probe.devices_per_node,
                                        "ranks per node; a node's ranks are consecutive (default "
                                        "$LOCAL_WORLD_SIZE, else world size)");
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
  cmd->add_option("--peer-timeout-seconds", probe.peer_timeout_seconds,
                  "a rank silent this long has failed: every rank stops, naming it (heartbeats "
                  "through the store; a tenth of this apart, at most 1 s)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  AddNoiseFlags(cmd, &probe.noise);
  // galvatron-worker profile: layer timing and memory of a model.
  galvatron::profiler::ProfilerOptions profiling;
  std::string profile_model, profile_out, profile_progress, profile_galvatron_dir,
      micro_batches = "1,2,4", seq_lens, tp_degrees = "1,2,4";
  auto* profile_cmd = app.add_subcommand(
      "profile",
      "measure each layer type of a model (forward/backward time over micro-batch sizes and "
      "sequence lengths, parameters, activation memory per tensor-parallel degree with and "
      "without checkpointing) and its embedding/head; writes a ComputeProfileList JSON");
  profile_cmd->add_option("--model", profile_model, "ModelSpec JSON file or catalog name")
      ->required();
  profile_cmd->add_option("--out", profile_out, "write the ComputeProfileList JSON here")
      ->required();
  profile_cmd->add_option("--galvatron-dir", profile_galvatron_dir,
                          "also write Galvatron's computation_profiling_*.json and "
                          "memory_profiling_*.json (layertype_0 ... layertype_N) into this folder, "
                          "for Galvatron's own search engine");
  profile_cmd->add_option("--cluster", profiling.cluster, "cluster name of the profiles")
      ->capture_default_str();
  profile_cmd->add_option("--micro-batches", micro_batches, "micro-batch sizes, comma-separated")
      ->capture_default_str();
  profile_cmd->add_option("--seq-lens", seq_lens,
                          "sequence lengths, comma-separated (default: the model's)");
  profile_cmd
      ->add_option("--tp-degrees", tp_degrees,
                   "tensor-parallel degrees whose activation memory is measured (those "
                   "that divide a layer's heads)")
      ->capture_default_str();
  profile_cmd->add_option("--warmup", profiling.warmup, "untimed runs per size")
      ->capture_default_str();
  profile_cmd->add_option("--repeats", profiling.repeats, "timed runs per size; the median is kept")
      ->capture_default_str();
  profile_cmd
      ->add_option("--time-budget-seconds", profiling.time_budget_seconds,
                   "give up (exit 1, naming what was being measured) after this long")
      ->capture_default_str();
  profile_cmd->add_option("--threads", profiling.threads, "torch intra-op threads (0 = all cores)")
      ->capture_default_str();
  profile_cmd->add_option("--device", profiling.device, "cpu, cuda or auto")->capture_default_str();
  profile_cmd->add_option("--progress-file", profile_progress,
                          "rewrite this JSON file with the fraction done after every item");
  AddNoiseFlags(profile_cmd, &profiling.noise);
  // galvatron-worker train: one rank of a training run.
  galvatron::runtime::TrainOptions train;
  std::string train_store;
  auto* train_cmd = app.add_subcommand(
      "train",
      "train a model with a plan, as one rank (rank, world and store from flags or $RANK, "
      "$WORLD_SIZE, $MASTER_ADDR:$MASTER_PORT); any plan: tensor, sequence (Megatron-SP, "
      "Ulysses), pipeline (GPipe, 1F1B) and data parallelism (DDP, ZeRO-1/2/3) and checkpointing, "
      "per layer");
  train_cmd->add_option("--plan", train.plan, "our Plan JSON or a Galvatron strategy JSON")
      ->required();
  train_cmd->add_option("--model", train.model, "ModelSpec JSON file or catalog name")->required();
  train_cmd->add_option("--steps", train.steps, "optimizer steps")->capture_default_str();
  train_cmd->add_option("--seed", train.seed, "initial weights and data order")
      ->capture_default_str();
  train_cmd
      ->add_option(
          "--dtype", train.dtype,
          "float32, float64 (exactness checks), bfloat16 (bf16 compute, float32 master weights) "
          "or float16 (likewise, with dynamic loss scaling; CUDA only)")
      ->capture_default_str();
  train_cmd
      ->add_option("--device", train.device,
                   "cpu, cuda:N, cuda (device $LOCAL_RANK, else the rank, modulo the visible "
                   "devices) or auto (cuda when this worker has CUDA and sees a device, else "
                   "cpu); CUDA ranks talk over NCCL, CPU ranks over Gloo")
      ->capture_default_str();
  auto* train_local_rank =
      train_cmd->add_option("--local-rank", train.local_rank,
                            "rank within the node, for --device cuda/auto (default "
                            "$LOCAL_RANK, else the rank)");
  train_cmd
      ->add_option("--data", train.data,
                   "synthetic; a Megatron-LM indexed dataset: PREFIX (or PREFIX.bin, PREFIX.idx) "
                   "when PREFIX.bin and PREFIX.idx both exist; or a raw file of little-endian "
                   "uint16 token ids. Samples are non-overlapping windows of seq + 1 tokens")
      ->capture_default_str();
  train_cmd->add_option("--metrics-out", train.metrics_out,
                        "rank 0: append one JSON object per step (step, loss, stepSeconds, ...)");
  train_cmd->add_option("--checkpoint-dir", train.checkpoint_dir,
                        "write sharded checkpoints here (step-N/rank-R.pt, latest)");
  train_cmd
      ->add_option("--checkpoint-every", train.checkpoint_every,
                   "steps between checkpoints (0: at the end only)")
      ->capture_default_str();
  train_cmd->add_flag("--resume", train.resume, "continue from the latest checkpoint");
  train_cmd
      ->add_option("--resume-step", train.resume_step,
                   "with --resume: continue from this step's checkpoint (nodes without a shared "
                   "filesystem have no common `latest`)")
      ->check(CLI::NonNegativeNumber);
  train_cmd->add_option("--stop-after", train.stop_after,
                        "checkpoint and stop after this step; the schedule still spans --steps");
  train_cmd->add_option("--lr", train.learning_rate, "peak learning rate (default: the spec's)");
  train_cmd->add_option("--warmup-steps", train.warmup_steps,
                        "warm-up steps (default: the spec's)");
  train_cmd->add_option("--grad-clip", train.grad_clip,
                        "gradient norm clip (0 = none; default: the spec's)");
  train_cmd->add_option("--threads", train.threads,
                        "torch intra-op threads (0: cores / local ranks)");
  auto* train_rank =
      train_cmd->add_option("--rank", train.rank, "this rank (default $RANK, else 0)");
  auto* train_world = train_cmd->add_option("--world-size", train.world_size,
                                            "number of ranks (default $WORLD_SIZE, else 1)");
  train_cmd->add_option("--store", train_store,
                        "HOST:PORT of rank 0's c10d TCPStore (default $MASTER_ADDR:$MASTER_PORT)");
  train_cmd->add_option("--port-file", train.port_file, "rank 0: write the store's port here");
  train_cmd
      ->add_option("--timeout-seconds", train.timeout_seconds, "rendezvous and collective timeout")
      ->capture_default_str();
  train_cmd
      ->add_option("--peer-timeout-seconds", train.peer_timeout_seconds,
                   "a rank silent this long has failed: every rank stops within about this "
                   "time, naming it (heartbeats through the store; a tenth of this apart, at "
                   "most 1 s); a rank whose peer's connection closes names it at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  train_cmd->add_option(
      "--dump-parameters", train.dump_parameters,
      "write each rank's final parameters as text, one tensor per line: name, full "
      "shape, the slice held (dim, start; dim -1 = whole), count, values; PATH "
      "for one rank, PATH.rank-R for more");
  train_cmd->add_option(
      "--export-out", train.export_out,
      "at the end, write the trained model here as safetensors with Hugging Face's names "
      "(GPT-2, LLaMA): the ranks send their slices to rank 0, which writes the file");
  train_cmd->add_option("--loss-scaling", train.loss_scaling,
                        "dynamic: multiply the loss by a power-of-two scale before backward, "
                        "divide the gradients by it after, skip a step whose gradients are not "
                        "finite and halve the scale, double it after --loss-scale-growth-interval "
                        "clean steps (float16 needs it; exact in float32/float64); off (default)");
  train_cmd->add_option("--initial-loss-scale", train.initial_loss_scale, "a power of two")
      ->capture_default_str();
  train_cmd
      ->add_option("--loss-scale-growth-interval", train.loss_scale_growth_interval,
                   "clean steps before the scale doubles")
      ->capture_default_str();
  train_cmd->add_option("--inject-nonfinite-grad", train.inject_nonfinite_grad_steps,
                        "tests: make this rank's gradients non-finite at these steps (1-based)");
  train_cmd->add_option("--inject-nonfinite-grad-rank", train.inject_nonfinite_grad_rank,
                        "tests: only on this rank (-1: every rank)");

  // galvatron-worker export: a checkpoint as Hugging Face safetensors.
  galvatron::runtime::ExportOptions exporting;
  auto* export_cmd = app.add_subcommand(
      "export",
      "write a training run's sharded checkpoint (--checkpoint-dir of train) as one "
      "safetensors file with Hugging Face's parameter names, shapes and layouts "
      "(GPT2LMHeadModel or LlamaForCausalLM); the file's metadata holds the matching "
      "config.json");
  export_cmd->add_option("--checkpoint", exporting.checkpoint, "the run's checkpoint directory")
      ->required();
  export_cmd->add_option("--plan", exporting.plan, "the plan the run trained with")->required();
  export_cmd->add_option("--model", exporting.model, "ModelSpec JSON file or catalog name")
      ->required();
  export_cmd->add_option("--out", exporting.out, "the safetensors file to write")->required();
  export_cmd->add_option("--step", exporting.step, "the step to export (default: latest)");
  export_cmd->add_option("--dtype", exporting.dtype,
                         "float64, float32, bfloat16 or float16 (default: as trained)");
  export_cmd->add_option("--config-out", exporting.config_out,
                         "also write transformers' config.json for the file here");

  // galvatron-worker launch: N local ranks of a command.
  int nproc = 1;
  double launch_timeout = 300;
  auto* launch_cmd = app.add_subcommand(
      "launch",
      "start N local ranks of a command, as torchrun --standalone does: "
      "galvatron-worker launch --nproc 4 -- train --plan p.json --model gpt-tiny. "
      "When a rank exits non-zero or by a signal, launch names it, stops the others "
      "(SIGTERM, then SIGKILL after 10 s) and exits with that rank's status (128 + "
      "signal for a signal); SIGINT/SIGTERM to launch stop every rank. The ranks "
      "also stop by themselves when a peer fails (see train --peer-timeout-seconds)");
  launch_cmd->add_option("--nproc", nproc, "ranks to start")
      ->required()
      ->check(CLI::Range(1, 1024));
  launch_cmd->add_option("--timeout-seconds", launch_timeout, "wait this long for rank 0's store")
      ->capture_default_str();
  // What follows "--" is the launched command, kept away from CLI11 (its
  // words would otherwise match this binary's own subcommands).
  std::vector<std::string> launched;
  int parsed_argc = argc;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--") {
      parsed_argc = i;
      launched.assign(argv + i + 1, argv + argc);
      break;
    }
  }
  CLI11_PARSE(app, parsed_argc, argv);
  if (launch_cmd->parsed()) {
    std::error_code error;
    const std::string self = std::filesystem::read_symlink("/proc/self/exe", error).string();
    if (error) return Fail("launch: cannot find this binary: " + error.message());
    if (launched.empty()) return Fail("launch: the command to start goes after \"--\"");
    return galvatron::worker::Launch(self, nproc, launched, launch_timeout);
  }
  if (train_cmd->parsed()) {
    if (auto status = galvatron::InitLogging(logging); !status.ok()) {
      return Fail(std::string(status.message()));
    }
    if (train_rank->count() == 0) EnvInt("RANK", &train.rank);
    if (train_world->count() == 0) EnvInt("WORLD_SIZE", &train.world_size);
    if (train_local_rank->count() == 0) EnvInt("LOCAL_RANK", &train.local_rank);
    if (!train_store.empty()) {
      if (!SplitHostPort(train_store, &train.store_host, &train.store_port)) {
        return Fail("train: --store: \"" + train_store + "\", expected HOST:PORT");
      }
    } else if (const char* host = std::getenv("MASTER_ADDR"); host != nullptr && *host != '\0') {
      train.store_host = host;
      EnvInt("MASTER_PORT", &train.store_port);
    }
    int local_world = 0;
    if (train.threads == 0 && EnvInt("LOCAL_WORLD_SIZE", &local_world) && local_world > 0) {
      train.threads = std::max(1, galvatron::ReadHostFacts().cpu_cores / local_world);
    }
    return RunAsRank("train", train.rank, [&](auto* rendezvous) {
      train.rendezvous_holder = rendezvous;
      return galvatron::runtime::RunTraining(train);
    });
  }
  if (export_cmd->parsed()) {
    if (auto status = galvatron::InitLogging(logging); !status.ok()) {
      return Fail(std::string(status.message()));
    }
    // One process, no group: the boundary only catches.
    absl::Status exported = galvatron::worker::RunCatching(
        "export", [&] { return galvatron::runtime::RunExport(exporting); });
    if (!exported.ok()) {
      spdlog::error("export failed: {}", std::string(exported.message()));
      return Fail("export: " + std::string(exported.message()));
    }
    return 0;
  }
  if (profile_cmd->parsed()) {
    if (auto status = galvatron::InitLogging(logging); !status.ok()) {
      return Fail(std::string(status.message()));
    }
    for (auto [flag, text, list] :
         {std::make_tuple("--micro-batches", &micro_batches, &profiling.micro_batches),
          std::make_tuple("--seq-lens", &seq_lens, &profiling.seq_lens),
          std::make_tuple("--tp-degrees", &tp_degrees, &profiling.tp_degrees)}) {
      list->clear();
      for (absl::string_view item : absl::StrSplit(*text, ',', absl::SkipEmpty())) {
        int value = 0;
        if (!absl::SimpleAtoi(item, &value) || value < 1) {
          return Fail(std::string("profile: ") + flag + ": \"" + *text +
                      "\", expected positive integers separated by commas");
        }
        list->push_back(value);
      }
    }
    auto model = galvatron::LoadModelArgument(profile_model);
    if (!model.ok()) return Fail("profile: " + std::string(model.status().message()));
    profiling.progress = [&](double fraction, const std::string& what) {
      spdlog::info("profile: {:3.0f}% {}", 100 * fraction, what);
      galvatron::Progress p{fraction, what};
      if (auto written = galvatron::WriteProgressFile(profile_progress, p); !written.ok()) {
        spdlog::warn("--progress-file: {}", std::string(written.message()));
      }
    };
    // One process, no group: the boundary only catches.
    absl::StatusOr<galvatron::v1::ComputeProfileList> profiles;
    absl::Status ran = galvatron::worker::RunCatching("profile of " + model->name(), [&] {
      profiles = galvatron::profiler::ProfileModel(*model, profiling);
      return profiles.status();
    });
    if (!ran.ok()) {
      spdlog::error("profile failed: {}", std::string(ran.message()));
      return Fail("profile: " + std::string(ran.message()));
    }
    for (const auto& p : profiles->profiles()) {
      if (auto valid = galvatron::ValidateComputeProfile(p); !valid.ok()) {
        return Fail("profile: the measured profile of " + p.layer_type() +
                    " is invalid: " + std::string(valid.message()));
      }
      if (p.quality().noisy()) {
        spdlog::warn("profile: {} is flagged noisy (spread {:.3f}, load {:.2f}): {}",
                     p.layer_type(), p.quality().spread(), p.quality().load(), p.quality().note());
      }
    }
    if (auto written = galvatron::WriteTextFile(profile_out, galvatron::MessageToJson(*profiles));
        !written.ok()) {
      return Fail("profile: --out: " + std::string(written.message()));
    }
    spdlog::info("profile: {} profiles of {} written to {}", profiles->profiles_size(),
                 model->name(), profile_out);
    if (!profile_galvatron_dir.empty()) {
      const std::vector<galvatron::v1::ComputeProfile> list(profiles->profiles().begin(),
                                                            profiles->profiles().end());
      auto written =
          galvatron::interop::WriteGalvatronModelProfiles(*model, list, profile_galvatron_dir);
      if (!written.ok()) {
        return Fail("profile: --galvatron-dir: " + std::string(written.status().message()));
      }
      spdlog::info("profile: Galvatron's files written to {} and {}", written->first,
                   written->second);
    }
    return 0;
  }

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
  if (int code = RunAsRank("probe", probe.rank,
                           [&](auto* rendezvous) {
                             probe.rendezvous_holder = rendezvous;
                             return galvatron::probe::RunProbe(probe, &profile);
                           });
      code != 0) {
    return code;
  }
  if (probe.rank == 0) {
    spdlog::info("probe: {} tables, overlap coefficient {:.3f}{}", profile.collectives_size(),
                 profile.overlap_coefficient(),
                 probe.out.empty() ? "" : ", written to " + probe.out);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return galvatron::RunGuardedMain("galvatron-worker", [&] { return GuardedMain(argc, argv); });
}
