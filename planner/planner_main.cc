// galvatron-planner: the central daemon. Flags → PlannerConfig → serve until
// SIGTERM or SIGINT.

#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "common/json_file.h"
#include "common/logging.h"
#include "common/main_guard.h"
#include "common/signal_watch.h"
#include "planner/db_command.h"
#include "planner/search_command.h"
#include "planner/service/planner_server.h"
#include "spdlog/spdlog.h"

namespace {

int Serve(const galvatron::planner::PlannerConfig& config, const std::string& ready_file) {
  // Signals are taken by one thread; every other thread (gRPC's included,
  // created later) inherits the blocked mask.
  galvatron::SignalWatch signals(/*reload=*/true);

  auto server = galvatron::planner::PlannerServer::Start(config);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", std::string(server.status().message()));
    std::fprintf(stderr, "galvatron-planner: %s\n", std::string(server.status().message()).c_str());
    return 1;
  }
  if (!ready_file.empty()) {
    auto written = galvatron::WriteTextFile(ready_file, (*server)->address() + "\n");
    if (!written.ok()) {
      std::fprintf(stderr, "galvatron-planner: --ready-file: %s\n",
                   std::string(written.message()).c_str());
      (*server)->Shutdown(absl::ZeroDuration());
      return 1;
    }
  }
  signals.Start(
      [&server] {
        // A token file changed: read it again (the tokens in force stay if
        // it does not parse).
        if (auto reloaded = (*server)->authorizer().Reload(); !reloaded.ok()) {
          spdlog::error("SIGHUP: the token file was not re-read, the old tokens stay: {}",
                        std::string(reloaded.message()));
        } else {
          spdlog::info("SIGHUP: {}", (*server)->authorizer().enabled()
                                         ? "token file re-read"
                                         : "no token file to re-read (--auth-tokens)");
        }
      },
      [&server](const char* name) {
        spdlog::info("received {}, shutting down (calls in flight get 5 s)", name);
        (*server)->Shutdown(absl::Seconds(5));
      });
  (*server)->Wait();
  signals.Join();
  spdlog::info("galvatron-planner stopped");
  return 0;
}

// The program; main() below runs it inside RunGuardedMain.
int GuardedMain(int argc, char** argv) {
  CLI::App app{
      "galvatron-planner: the Galvatron-C++ planner daemon. It stores model specs, "
      "hardware and compute profiles and plans in SQLite and serves them over gRPC."};
  app.set_version_flag("--version", "galvatron-planner 0.1.0");
  galvatron::planner::PlannerConfig config;
  galvatron::LoggingOptions logging;
  std::string ready_file;
  app.add_option("--db", config.db_path, "SQLite database file (created if missing)")
      ->capture_default_str();
  app.add_flag("--init", config.init_empty_db,
               "make an existing empty (0-byte) --db file a new store (refused otherwise)");
  std::string integrity_check = "quick";
  app.add_option("--integrity-check", integrity_check,
                 "check the store before serving it: none, quick (quick_check) or full "
                 "(integrity_check)")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "quick", "full"}));
  app.add_option("--listen", config.listen,
                 "address to serve on, HOST:PORT (port 0 picks a free one)")
      ->capture_default_str();
  app.add_option("--log-level", logging.level, "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  app.add_option("--log-format", logging.format, "text or json (one object per line)")
      ->capture_default_str();
  app.add_option("--max-message-bytes", config.max_message_bytes,
                 "largest request or response accepted")
      ->capture_default_str()
      ->check(CLI::Range(4096, 1 << 30));
  app.add_option("--tls-cert", config.tls_cert,
                 "TLS: the server's certificate chain (PEM); with --tls-key, clients must use TLS");
  app.add_option("--tls-key", config.tls_key, "TLS: the server's private key (PEM)");
  app.add_option("--tls-client-ca", config.tls_client_ca,
                 "mutual TLS: accept only clients whose certificate this CA (PEM) signed");
  app.add_option("--auth-tokens", config.auth_tokens,
                 "token file, one `ROLE NAME TOKEN [CLUSTER]` per line (roles admin, user, agent, "
                 "viewer); every call must then carry a known bearer token. Re-read on SIGHUP. "
                 "Without TLS or tokens the planner serves loopback only");
  app.add_option("--ready-file", ready_file,
                 "once serving, write the address (with the actual port) to this file");
  app.add_option("--search-threads", config.search_threads,
                 "threads of a plan search running alone (0 = all cores); several running "
                 "searches share them")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-concurrent-searches", config.max_concurrent_searches,
                 "plan searches running at once (0 = half the cores, at least 1)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--search-queue", config.search_queue,
                 "plan searches waiting to start; a RequestPlan beyond is answered "
                 "RESOURCE_EXHAUSTED")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--search-queue-per-caller", config.search_queue_per_caller,
                 "of those, from one caller (a token's name, or a client address without "
                 "tokens; 0 = a quarter of --search-queue, at least 1)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--search-time-limit", config.search_time_limit_seconds,
                 "seconds a plan search may take when its request sets no time limit")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--heartbeat-interval-ms", config.heartbeat_interval_ms,
                 "milliseconds between agent heartbeats (told to agents when they register)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{10}, int64_t{3600000}));
  app.add_option("--node-timeout-ms", config.node_timeout_ms,
                 "milliseconds without a heartbeat after which a node is LOST")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{50}, int64_t{86400000}));
  app.add_option("--calibration-max-spread", config.calibration_max_spread,
                 "finished jobs whose step times spread more than this ((p90 - p10) / median) "
                 "are not fitted by their cluster's calibration")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--reattach-timeout-ms", config.reattach_timeout_ms,
                 "after a restart, milliseconds jobs wait for their nodes' agents to register "
                 "again (a running job: to report again) before going on without them or "
                 "failing")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{100}, int64_t{86400000}));

  // `galvatron-planner search ...`: the offline search, no daemon.
  galvatron::planner::SearchCommandConfig search;
  auto* cmd = app.add_subcommand(
      "search", "search the best plan from files and print it (no daemon, no database)");
  cmd->add_option("--model", search.model,
                  "ModelSpec JSON file or built-in model name (required unless --galvatron-yaml "
                  "names model_size)");
  cmd->add_option("--hardware", search.hardware,
                  "HardwareProfile JSON file, or Galvatron's hardware_configs folder")
      ->required();
  cmd->add_option("--compute", search.compute,
                  "ComputeProfile JSON file(s), comma-separated, or a folder with Galvatron's "
                  "computation_profiling_*.json and memory_profiling_*.json (default: analytic "
                  "estimate)");
  cmd->add_option("--memory", search.memory,
                  "memory budget per device, e.g. 36GiB (required unless --galvatron-yaml sets "
                  "memory_constraint)");
  cmd->add_option("--global-batch", search.global_batch, "N or MIN..MAX[:STEP]")
      ->capture_default_str();
  cmd->add_option("--micro-batches", search.micro_batches,
                  "fix the number of micro-batches (0 = search it)");
  cmd->add_option("--seq", search.seq, "sequence length (0 = the model's)");
  cmd->add_option("--mode", search.mode,
                  "cost model and space: default (our formulas), galvatron (Galvatron's formulas "
                  "and space, quirks included) or galvatron-extended (Galvatron's formulas, "
                  "uneven partitions, both schedules, DDP or ZeRO-2 per plan)")
      ->capture_default_str();
  cmd->add_option("--disable", search.disable,
                  "dimensions to leave out, comma-separated: tp, sp, megatron_sp, pp, dp, sdp, "
                  "zero1, zero2, ckpt, embedding_tp, embedding_sp");
  cmd->add_option("--max-tp", search.max_tp, "largest tensor/sequence-parallel degree");
  cmd->add_option("--max-pp", search.max_pp, "largest pipeline degree");
  cmd->add_option("--pipeline", search.pipeline,
                  "gpipe, 1f1b or gpipe,1f1b (default: gpipe in galvatron mode, both otherwise)");
  cmd->add_option("--default-dp-type", search.default_dp_type,
                  "galvatron mode: the data-parallel type beside ZeRO-3, ddp or zero2 "
                  "(Galvatron's default_dp_type; galvatron-extended tries both)")
      ->capture_default_str();
  cmd->add_option("--galvatron-yaml", search.galvatron_yaml,
                  "Galvatron's search settings file (search_dist.yaml): its settings apply where "
                  "no flag here gives them; implies --mode galvatron unless --mode is given");
  cmd->add_option("--memory-profile-mode", search.memory_profile_mode,
                  "Galvatron memory profiles: static or sequence (default static)");
  cmd->add_option("--sequence-parallel", search.sequence_parallel,
                  "Galvatron's sequence_parallel, true or false (default true): Megatron TP with "
                  "Megatron-SP, sharded activations and the `_sp` memory tables");
  cmd->add_option("--global-memory-buffer", search.global_memory_buffer,
                  "Galvatron's global_memory_buffer, true or false (default true)");
  cmd->add_option("--async-grad-reduce", search.async_grad_reduce,
                  "Galvatron's async_grad_reduce, true or false (default true)");
  cmd->add_option("--fine-grained-mode", search.fine_grained_mode,
                  "Galvatron's fine_grained_mode: 1 a strategy per layer (default), 0 one for all");
  cmd->add_option("--costmodel-coe", search.costmodel_coe,
                  "Galvatron's debug_costmodel_coe: scales layer times (default 1)");
  cmd->add_option("--settle-bsz", search.settle_bsz,
                  "Galvatron's settle_bsz: search this global batch only (-1 = the range)");
  cmd->add_option("--settle-chunk", search.micro_batches,
                  "Galvatron's settle_chunk: the same as --micro-batches");
  cmd->add_option("--bsz-scale", search.bsz_scale,
                  "Galvatron's bsz_scale: the step of a --global-batch range");
  cmd->add_option("--mixed-precision", search.mixed_precision,
                  "Galvatron's mixed_precision: bf16, fp16 or fp32 (default: the model's)");
  cmd->add_option("--threads", search.threads, "search threads (0 = all cores)");
  cmd->add_option("--time-limit", search.time_limit,
                  "seconds; return the best plan found by then (0 = none)");
  cmd->add_option("--top-k", search.top_k, "runners-up to report")->capture_default_str();
  cmd->add_option("--cluster", search.cluster,
                  "cluster name for profiles read from Galvatron folders")
      ->capture_default_str();
  cmd->add_option("--num-nodes", search.num_nodes,
                  "Galvatron hardware folder: nodes (0 = from the file names)");
  cmd->add_option("--gpus-per-node", search.gpus_per_node,
                  "Galvatron hardware folder: GPUs per node (0 = from the file names)");
  cmd->add_option("--time-profile-mode", search.time_profile_mode,
                  "Galvatron compute profiles: static, batch or sequence")
      ->capture_default_str();
  cmd->add_flag("--json", search.json, "print the plan as JSON (protobuf's JSON mapping)");
  cmd->add_option("--galvatron-config-out", search.galvatron_config_out,
                  "also write the plan as Galvatron's strategy JSON (galvatron_config_*.json)");
  cmd->add_option("--galvatron-inputs-out", search.galvatron_inputs_out,
                  "also write what the search plans from as Galvatron's files, so that its own "
                  "engine can plan from the same numbers: DIR/configs/ (computation and memory "
                  "profiles, analytic estimates filled in where nothing was measured; one sample "
                  "per layer type for --time-profile-mode static, eight for batch: its `path` "
                  "is DIR) and DIR/hardware_configs/ (bandwidths: point its "
                  "profiling_info.*_path settings there)");
  cmd->add_flag("--quiet", search.quiet, "no progress on stderr");
  cmd->add_flag("--explain", search.explain,
                "why the plan won: its three nearest runners-up, by compute, bubble, exposed "
                "communication and memory; when nothing fits, the smallest change that would "
                "(more memory, more devices, a smaller global batch, a limit lifted), each with "
                "its plan");
  cmd->add_option("--calibration", search.calibration,
                  "search with this calibration (Calibration JSON, e.g. `galvatron calibration "
                  "show CLUSTER --json`): compute and communication times scaled by its factors");
  // `galvatron-planner --db F check|backup DEST|recover DEST`: the store file's
  // upkeep, no daemon.
  galvatron::planner::DbCommandConfig db;
  auto* check_cmd = app.add_subcommand(
      "check", "run integrity_check on --db and read its write-ahead log (exit 0 intact)");
  auto* backup_cmd = app.add_subcommand(
      "backup", "copy --db to DEST with SQLite's online backup (works while a planner serves it)");
  backup_cmd->add_option("DEST", db.destination, "the new file")->required();
  auto* recover_cmd =
      app.add_subcommand("recover", "salvage the readable rows of a damaged --db into DEST");
  recover_cmd->add_option("DEST", db.destination, "the new file")->required();
  CLI11_PARSE(app, argc, argv);

  if (cmd->parsed()) {
    for (const CLI::Option* option : cmd->get_options()) {
      if (option->count() > 0) search.given.insert(option->get_name());
    }
    return galvatron::planner::RunSearchCommand(search);
  }

  if (auto status = galvatron::InitLogging(logging); !status.ok()) {
    std::fprintf(stderr, "galvatron-planner: %s\n", std::string(status.message()).c_str());
    return 2;
  }
  for (auto* db_cmd : {check_cmd, backup_cmd, recover_cmd}) {
    if (!db_cmd->parsed()) continue;
    db.command = db_cmd->get_name();
    db.db_path = config.db_path;
    return galvatron::planner::RunDbCommand(db);
  }
  config.integrity_check = *galvatron::store::ParseIntegrityCheck(integrity_check);
  return Serve(config, ready_file);
}

}  // namespace

int main(int argc, char** argv) {
  return galvatron::RunGuardedMain("galvatron-planner", [&] { return GuardedMain(argc, argv); });
}
