#include "dashboard/cli/cli_app.h"

#include <cstdlib>
#include <functional>
#include <string>
#include <tuple>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/client_security_flags.h"
#include "common/plan_request_flags.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "common/units.h"
#include "dashboard/cli/cli_commands.h"
#include "dashboard/cli/job_flags.h"

namespace galvatron::cli {

int RunCli(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  CLI::App app{"galvatron: command-line client of the Galvatron-C++ planner"};
  app.set_version_flag("--version", "galvatron 0.1.0");
  app.require_subcommand(1);
  // The global flags below work before and after the subcommand: every
  // subcommand (made after this) passes the flags it does not know up.
  app.fallthrough();
  app.footer(
      "Exit codes: 0 done (a waited-for job succeeded), 1 a call to the planner failed, 2 bad "
      "usage, 3 the waited-for job failed, 4 it was cancelled.");
  ClientOptions options;
  if (const char* env = std::getenv("GALVATRON_PLANNER"); env && *env) options.planner = env;
  app.add_option("--planner", options.planner,
                 "planner address HOST:PORT (default: $GALVATRON_PLANNER or 127.0.0.1:50051)")
      ->capture_default_str();
  app.add_flag("--json", options.json, "machine-readable JSON output");
  app.add_option("--timeout", options.timeout_seconds,
                 "seconds to wait for the planner's answer to each call (plan: when not given, "
                 "the search's time limit, 120 s unless --time-limit, plus 60 s)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  ClientSecurityOptions security;
  AddClientSecurityFlags(&app, &security);

  std::function<absl::Status(PlannerClient&)> command;

  auto* models = app.add_subcommand("models", "model specs: submit, list, show, delete");
  models->require_subcommand(1);
  std::string model_file, model_name;
  int64_t model_version = 0;
  bool stored_only = false;
  models->add_subcommand("submit", "submit a model spec (JSON) as a new version")
      ->callback([&] { command = [&](PlannerClient& c) { return c.ModelsSubmit(model_file); }; })
      ->add_option("FILE", model_file, "ModelSpec JSON file")
      ->required()
      ->check(CLI::ExistingFile);
  auto* models_list = models->add_subcommand("list", "list stored and built-in models");
  models_list->add_flag("--stored-only", stored_only, "leave out the built-in catalog");
  models_list->callback(
      [&] { command = [&](PlannerClient& c) { return c.ModelsList(!stored_only); }; });
  auto* models_show = models->add_subcommand("show", "show a model spec");
  models_show->add_option("NAME", model_name, "model name")->required();
  models_show->add_option("--version", model_version, "version (default: latest)");
  models_show->callback(
      [&] { command = [&](PlannerClient& c) { return c.ModelsShow(model_name, model_version); }; });
  auto* models_delete = models->add_subcommand("delete", "delete every version of a model");
  models_delete->add_option("NAME", model_name, "model name")->required();
  models_delete->callback(
      [&] { command = [&](PlannerClient& c) { return c.ModelsDelete(model_name); }; });

  auto* profiles = app.add_subcommand("profiles", "hardware and compute profiles");
  profiles->require_subcommand(1);
  std::string profile_file, profile_id, profile_kind = "all", cluster;
  profiles->add_subcommand("import", "store a HardwareProfile or ComputeProfile JSON file")
      ->callback(
          [&] { command = [&](PlannerClient& c) { return c.ProfilesImport(profile_file); }; })
      ->add_option("FILE", profile_file, "profile JSON file")
      ->required()
      ->check(CLI::ExistingFile);
  auto* profiles_list = profiles->add_subcommand("list", "list profiles (latest per key)");
  profiles_list->add_option("--kind", profile_kind, "all, hardware or compute")
      ->capture_default_str();
  profiles_list->add_option("--cluster", cluster, "only this cluster (hardware: every version)");
  profiles_list->callback(
      [&] { command = [&](PlannerClient& c) { return c.ProfilesList(profile_kind, cluster); }; });
  std::string rollback_cluster, rollback_layer_type;
  int64_t rollback_version = 0;
  auto* profiles_rollback = profiles->add_subcommand(
      "rollback",
      "make an older version of a cluster's hardware profile (or, with --layer-type, of a compute "
      "profile) the latest again, as a new version; admins only");
  profiles_rollback->add_option("CLUSTER", rollback_cluster, "cluster name")->required();
  profiles_rollback->add_option("--to-version", rollback_version, "the version to restore")
      ->required()
      ->check(CLI::PositiveNumber);
  profiles_rollback->add_option("--layer-type", rollback_layer_type,
                                "roll back this layer type's compute profile instead");
  profiles_rollback->callback([&] {
    command = [&](PlannerClient& c) {
      return c.ProfilesRollback(rollback_cluster, rollback_layer_type, rollback_version);
    };
  });
  auto* profiles_show = profiles->add_subcommand("show", "show one profile");
  profiles_show->add_option("ID", profile_id, "profile id (hw-... or cp-...)")->required();
  profiles_show->callback(
      [&] { command = [&](PlannerClient& c) { return c.ProfilesShow(profile_id); }; });

  galvatron::v1::CreateTaskRequest task_request;
  std::string task_nodes, galvatron_out, task_micro, task_seqs;
  bool no_wait = false;
  // Noise handling of the workers (docs/measurement.md); 0: their defaults.
  double noise_threshold = 0, load_threshold = 0;
  int max_remeasure = 0;
  bool accept_noisy = false;
  auto add_noise_flags = [&](CLI::App* command) {
    command->add_option("--noise-threshold", noise_threshold,
                        "relative spread, (q3 - q1) / median of the repetitions, above which a "
                        "measurement is noisy (default: the worker's, 0.25)");
    command->add_option("--load-threshold", load_threshold,
                        "share of the cores used by other processes above which a measurement "
                        "is noisy (default: the worker's, 0.25)");
    command->add_option("--max-remeasure", max_remeasure,
                        "times a noisy measurement is taken again (default: the worker's, 3)");
    command->add_flag("--accept-noisy", accept_noisy,
                      "never measure again; noisy measurements are still flagged");
  };
  auto set_noise = [&](auto* spec) {
    spec->set_noise_threshold(noise_threshold);
    spec->set_load_threshold(load_threshold);
    spec->set_max_remeasure(max_remeasure);
    spec->set_accept_noisy(accept_noisy);
  };
  auto* probe = profiles->add_subcommand(
      "probe",
      "have the cluster's agents measure its interconnect (every collective, group size and "
      "layout) and store the hardware profile; waits for it, showing progress");
  probe->add_option("--cluster", cluster, "cluster whose alive nodes take part")->required();
  probe->add_option("--nodes", task_nodes,
                    "only these nodes, comma-separated (default: all alive)");
  std::string probe_min, probe_max;
  int probe_warmup = 0, probe_repeats = 0;
  std::string probe_backend;
  double probe_timeout = 0;
  probe->add_option("--min-bytes", probe_min,
                    "smallest message, e.g. 4KiB or 1048576 (default: the backend's)");
  probe->add_option("--max-bytes", probe_max,
                    "largest message, e.g. 64MiB (default: the backend's)");
  probe->add_option("--warmup", probe_warmup, "untimed runs per size (default: the backend's)");
  probe->add_option("--repeats", probe_repeats, "timed runs per size (default: the backend's)");
  probe->add_option("--backend", probe_backend, "gloo, nccl or auto (default auto)");
  probe->add_option("--probe-timeout", probe_timeout,
                    "seconds the workers wait for each other (default 300)");
  probe->add_option("--galvatron-out", galvatron_out,
                    "also write Galvatron's hardware-profile JSON files to this directory");
  probe->add_flag("--no-wait", no_wait, "print the task and return at once");
  add_noise_flags(probe);
  probe->callback([&] {
    task_request.set_kind(galvatron::v1::TASK_KIND_PROBE);
    task_request.set_cluster(cluster);
    task_request.set_reason("galvatron profiles probe");
    auto* spec = task_request.mutable_probe();
    spec->set_warmup(probe_warmup);
    spec->set_repeats(probe_repeats);
    spec->set_backend(probe_backend);
    spec->set_timeout_seconds(probe_timeout);
    set_noise(spec);
    command = [&](PlannerClient& c) -> absl::Status {
      auto* spec = task_request.mutable_probe();
      for (const auto& [flag, text, setter] :
           {std::make_tuple("--min-bytes", &probe_min,
                            &galvatron::v1::ProbeTaskSpec::set_min_bytes),
            std::make_tuple("--max-bytes", &probe_max,
                            &galvatron::v1::ProbeTaskSpec::set_max_bytes)}) {
        if (text->empty()) continue;
        auto bytes = galvatron::ParseBytes(*text);
        if (!bytes.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(flag, ": ", bytes.status().message()));
        }
        (spec->*setter)(*bytes);
      }
      for (absl::string_view node : absl::StrSplit(task_nodes, ',', absl::SkipEmpty()))
        task_request.add_nodes(std::string(node));
      return c.ProfilesProbe(task_request, !no_wait, galvatron_out);
    };
  });
  auto* measure = profiles->add_subcommand(
      "measure",
      "have an agent of the cluster measure a model's layer types (forward/backward time, "
      "parameter and activation memory) and store the compute profiles; waits for it");
  std::string measure_model, measure_node;
  double measure_budget = 0;
  measure->add_option("--model", measure_model, "stored or built-in model name")->required();
  measure->add_option("--cluster", cluster, "cluster whose node measures it")->required();
  measure->add_option("--node", measure_node, "this node (default: the least busy alive one)");
  measure->add_option("--micro-batches", task_micro, "micro-batch sizes, e.g. 1,2,4");
  measure->add_option("--seq-lens", task_seqs, "sequence lengths (default: the model's)");
  measure->add_option("--time-budget", measure_budget, "seconds the worker may take");
  measure->add_flag("--no-wait", no_wait, "print the task and return at once");
  add_noise_flags(measure);
  measure->callback([&] {
    command = [&](PlannerClient& c) -> absl::Status {
      task_request.set_kind(galvatron::v1::TASK_KIND_PROFILE);
      task_request.set_cluster(cluster);
      task_request.set_model(measure_model);
      task_request.set_reason("galvatron profiles measure");
      if (!measure_node.empty()) task_request.add_nodes(measure_node);
      auto* spec = task_request.mutable_profile();
      spec->set_time_budget_seconds(measure_budget);
      set_noise(spec);
      for (const auto& [flag, text, list] :
           {std::make_tuple("--micro-batches", &task_micro, spec->mutable_micro_batches()),
            std::make_tuple("--seq-lens", &task_seqs, spec->mutable_seq_lens())}) {
        for (absl::string_view item : absl::StrSplit(*text, ',', absl::SkipEmpty())) {
          int value = 0;
          if (!absl::SimpleAtoi(item, &value) || value <= 0) {
            return absl::InvalidArgumentError(absl::StrCat(flag, ": \"", item, "\" in \"", *text,
                                                           "\", expected positive integers"));
          }
          list->Add(value);
        }
      }
      return c.ProfilesMeasure(task_request, !no_wait);
    };
  });

  auto* tasks = app.add_subcommand("tasks", "work of the agents: probes and profiling");
  tasks->require_subcommand(1);
  std::string task_id;
  auto* tasks_list = tasks->add_subcommand("list", "list tasks, newest first");
  tasks_list->add_option("--cluster", cluster, "only tasks of this cluster");
  tasks_list->callback([&] { command = [&](PlannerClient& c) { return c.TasksList(cluster); }; });
  auto* tasks_show = tasks->add_subcommand("show", "show one task");
  tasks_show->add_option("ID", task_id, "task id")->required();
  tasks_show->callback([&] { command = [&](PlannerClient& c) { return c.TasksShow(task_id); }; });
  auto* tasks_wait = tasks->add_subcommand(
      "wait", "follow a task to its end (progress on stderr); exit 1 unless it succeeded");
  tasks_wait->add_option("ID", task_id, "task id")->required();
  tasks_wait->callback([&] { command = [&](PlannerClient& c) { return c.TasksWait(task_id); }; });
  auto* tasks_cancel = tasks->add_subcommand("cancel", "cancel a task; its workers are stopped");
  tasks_cancel->add_option("ID", task_id, "task id")->required();
  tasks_cancel->callback(
      [&] { command = [&](PlannerClient& c) { return c.TasksCancel(task_id); }; });

  auto* plans = app.add_subcommand("plans", "stored plans");
  plans->require_subcommand(1);
  std::string plan_id, plan_model;
  auto* plans_list = plans->add_subcommand("list", "list plans");
  plans_list->add_option("--model", plan_model, "only plans of this model");
  plans_list->add_option("--cluster", cluster, "only plans of this cluster");
  plans_list->callback(
      [&] { command = [&](PlannerClient& c) { return c.PlansList(plan_model, cluster); }; });
  auto* plans_show = plans->add_subcommand("show", "show one plan");
  plans_show->add_option("ID", plan_id, "plan id")->required();
  plans_show->add_flag("--explain", options.explain,
                       "also say why it won: its nearest runners-up by compute, bubble, exposed "
                       "communication and memory");
  plans_show->callback([&] { command = [&](PlannerClient& c) { return c.PlansShow(plan_id); }; });

  auto* calibration = app.add_subcommand(
      "calibration", "the cost model's per-cluster calibration, learned from finished jobs");
  calibration->require_subcommand(1);
  std::string calibration_cluster;
  int64_t calibration_version = 0;
  auto* calibration_show =
      calibration->add_subcommand("show", "show a cluster's calibration and its samples");
  calibration_show->add_option("CLUSTER", calibration_cluster, "cluster name")->required();
  calibration_show->add_option("--version", calibration_version, "version (0 = latest)")
      ->capture_default_str();
  calibration_show->callback([&] {
    command = [&](PlannerClient& c) {
      return c.CalibrationShow(calibration_cluster, calibration_version);
    };
  });

  auto* nodes = app.add_subcommand("nodes", "nodes registered by galvatron-agent");
  nodes->require_subcommand(1);
  auto* nodes_list =
      nodes->add_subcommand("list", "list nodes with their state (alive/lost) and devices");
  nodes_list->add_option("--cluster", cluster, "only nodes of this cluster");
  nodes_list->callback([&] { command = [&](PlannerClient& c) { return c.NodesList(cluster); }; });

  // galvatron jobs: training runs planned, launched and watched by the planner.
  auto* jobs =
      app.add_subcommand("jobs", "training jobs: submit, list, show, metrics, logs, wait, cancel");
  jobs->require_subcommand(1);
  // Set by the commands that wait for a job: its exit code.
  int exit_code = kExitOk;
  // A flag the planner never saw is wrong: exit 2, naming it.
  absl::Status usage_error;
  std::string job_id;
  bool follow = false;

  JobSubmitFlags submit_flags;
  JobSubmission submission;
  auto* jobs_submit = jobs->add_subcommand(
      "submit",
      "submit a training job and print its id; the planner measures what is missing, plans "
      "(unless --plan), launches the ranks on the nodes' agents and relaunches from the latest "
      "checkpoint after a failure (--max-restarts)");
  jobs_submit->footer(
      "With --follow: state changes and steps on stderr until the job ends, then the job on "
      "stdout; exit 0 when it succeeded, 3 failed, 4 cancelled, 1 when a call failed.");
  jobs_submit
      ->add_option("--model", submit_flags.model,
                   "stored or built-in model name, or a ModelSpec JSON file (sent inline)")
      ->required();
  jobs_submit->add_option("--cluster", submit_flags.cluster, "cluster whose agents run it")
      ->required();
  jobs_submit->add_option("--memory", submit_flags.memory, "memory budget per device, e.g. 4GiB")
      ->required();
  jobs_submit->add_option("--global-batch", submit_flags.global_batch,
                          "N or MIN..MAX[:STEP] (default 8; with --plan, the plan's)");
  jobs_submit->add_option("--steps", submit_flags.steps, "training steps (default 10)");
  jobs_submit->add_option("--data", submit_flags.data,
                          "synthetic (default) or a token file present on every node");
  jobs_submit->add_option("--dtype", submit_flags.dtype, "float32 (default), float64 or bfloat16");
  jobs_submit->add_option("--lr", submit_flags.lr, "learning rate (default: the model's)");
  jobs_submit->add_option("--seed", submit_flags.seed, "seed (default 1234)");
  jobs_submit->add_option("--checkpoint-every", submit_flags.checkpoint_every,
                          "steps between checkpoints (default: at the end only)");
  jobs_submit->add_option("--checkpoint-dir", submit_flags.checkpoint_dir,
                          "where each node keeps checkpoints, under <dir>/<job id> (default: the "
                          "agent's work dir)");
  jobs_submit->add_flag("--export", submit_flags.export_model,
                        "at the end, write the trained model as Hugging Face safetensors to "
                        "<checkpoint dir>/<job id>/model.safetensors on rank 0's node (GPT-2 and "
                        "LLaMA models); `jobs show` says where");
  jobs_submit->add_option("--max-restarts", submit_flags.max_restarts,
                          "relaunches after a worker fails (default 0)");
  jobs_submit->add_option("--nodes", submit_flags.nodes,
                          "only these nodes, comma-separated (default: every alive node)");
  jobs_submit->add_option("--plan", submit_flags.plan,
                          "use this plan instead of searching: a stored plan id, our Plan JSON "
                          "file or a Galvatron strategy file (galvatron_config_*.json)");
  jobs_submit->add_flag("--follow", follow, "follow the job to its end and exit like `jobs wait`");
  jobs_submit->callback([&] {
    auto parsed = ParseJobSubmitFlags(submit_flags);
    if (!parsed.ok()) {
      usage_error = parsed.status();
      return;
    }
    submission = std::move(*parsed);
    command = [&](PlannerClient& c) -> absl::Status {
      ASSIGN_OR_RETURN(exit_code, c.JobsSubmit(&submission, follow));
      return absl::OkStatus();
    };
  });

  std::string job_state;
  auto* jobs_list = jobs->add_subcommand("list", "list jobs, newest first");
  jobs_list->add_option("--cluster", cluster, "only jobs of this cluster");
  jobs_list->add_option("--state", job_state,
                        "only jobs in this state: pending, profiling, planned, launching, "
                        "running, succeeded, failed or cancelled");
  jobs_list->callback([&] {
    auto state = ParseJobStateFlag(job_state);
    if (!state.ok()) {
      usage_error = state.status();
      return;
    }
    command = [&, wanted = *state](PlannerClient& c) { return c.JobsList(cluster, wanted); };
  });

  auto* jobs_show = jobs->add_subcommand(
      "show",
      "show a job: state and reason, plan, ranks, progress, ETA, loss, predicted against "
      "measured step time, checkpoint, exported model, failure");
  jobs_show->add_option("ID", job_id, "job id")->required();
  jobs_show->callback([&] { command = [&](PlannerClient& c) { return c.JobsShow(job_id); }; });

  auto* jobs_metrics = jobs->add_subcommand(
      "metrics", "a job's steps, one line each (--json: one StepMetrics object a line)");
  jobs_metrics->add_option("ID", job_id, "job id")->required();
  jobs_metrics->add_flag("--follow", follow, "then each new step until the job ends (exit 0)");
  jobs_metrics->callback(
      [&] { command = [&](PlannerClient& c) { return c.JobsMetrics(job_id, follow); }; });

  int log_rank = -1, log_lines = 0;
  auto* jobs_logs = jobs->add_subcommand(
      "logs", "the last lines of a job's worker logs, as the agents last sent them");
  jobs_logs->add_option("ID", job_id, "job id")->required();
  jobs_logs->add_option("--rank", log_rank, "only this rank (default: every rank)");
  jobs_logs->add_option("--lines", log_lines, "lines per rank (default: the planner's, 100)");
  jobs_logs->add_flag("--follow", follow, "then new lines until the job ends (exit 0)");
  jobs_logs->callback([&] {
    if (log_rank < -1) {
      usage_error = absl::InvalidArgumentError(
          absl::StrCat("--rank: \"", log_rank, "\", expected a rank >= 0"));
      return;
    }
    if (log_lines < 0) {
      usage_error = absl::InvalidArgumentError(
          absl::StrCat("--lines: \"", log_lines, "\", expected a number of lines >= 1"));
      return;
    }
    command = [&](PlannerClient& c) { return c.JobsLogs(job_id, log_rank, log_lines, follow); };
  });

  auto* jobs_wait = jobs->add_subcommand(
      "wait",
      "follow a job to its end (state changes on stderr), print it and exit 0 when it "
      "succeeded, 3 when it failed, 4 when it was cancelled (the reason on stderr); 1 when a "
      "call failed");
  jobs_wait->add_option("ID", job_id, "job id")->required();
  jobs_wait->callback([&] {
    command = [&](PlannerClient& c) -> absl::Status {
      ASSIGN_OR_RETURN(exit_code, c.JobsWait(job_id));
      return absl::OkStatus();
    };
  });

  auto* jobs_cancel =
      jobs->add_subcommand("cancel", "cancel a job; answers once its workers are stopped");
  jobs_cancel->add_option("ID", job_id, "job id")->required();
  jobs_cancel->callback([&] { command = [&](PlannerClient& c) { return c.JobsCancel(job_id); }; });

  // galvatron plan: ask the planner for the best plan of a model on a cluster.
  auto* plan = app.add_subcommand("plan", "find (or fetch) the best plan of a model on a cluster");
  std::string plan_memory, plan_batch = "8", plan_mode = "default", plan_disable, plan_pipeline;
  galvatron::v1::PlanRequest plan_request;
  int plan_seq = 0, plan_max_tp = 0, plan_max_pp = 0, plan_micro = 0;
  double plan_time_limit = 0;
  std::string plan_model_name, plan_cluster;
  plan->add_option("--model", plan_model_name, "stored or built-in model name")->required();
  plan->add_option("--cluster", plan_cluster, "cluster with a hardware profile")->required();
  plan->add_option("--memory", plan_memory, "memory budget per device, e.g. 40GiB")->required();
  plan->add_option("--global-batch", plan_batch, "N or MIN..MAX[:STEP]")->capture_default_str();
  plan->add_option("--micro-batches", plan_micro, "fix the micro-batch count (0 = search)");
  plan->add_option("--seq", plan_seq, "sequence length (0 = the model's)");
  plan->add_option("--mode", plan_mode, "default, galvatron or galvatron-extended")
      ->capture_default_str();
  plan->add_flag("--explain", options.explain,
                 "also say why the plan won: its nearest runners-up by compute, bubble, exposed "
                 "communication and memory");
  plan->add_option("--disable", plan_disable, "dimensions to leave out, comma-separated");
  plan->add_option("--max-tp", plan_max_tp, "largest tensor/sequence-parallel degree");
  plan->add_option("--max-pp", plan_max_pp, "largest pipeline degree");
  plan->add_option("--pipeline", plan_pipeline, "gpipe, 1f1b or gpipe,1f1b");
  plan->add_option("--time-limit", plan_time_limit, "search seconds (0 = the planner's default)");
  int64_t plan_hardware_version = 0;
  plan->add_option("--hardware-version", plan_hardware_version,
                   "plan from this version of the cluster's hardware profile (0 = the latest)")
      ->check(CLI::NonNegativeNumber);
  bool plan_uncalibrated = false;
  plan->add_flag("--uncalibrated", plan_uncalibrated,
                 "plan from the profiles alone, without the cluster's calibration");
  bool plan_estimate = false;
  plan->add_flag("--estimate-missing", plan_estimate,
                 "estimate compute profiles the cluster lacks instead of having its agents "
                 "measure them first");
  plan->callback([&] {
    command = [&](PlannerClient& c) -> absl::Status {
      plan_request.set_model(plan_model_name);
      plan_request.set_cluster(plan_cluster);
      for (auto status : {galvatron::ParseMemoryFlag(plan_memory, &plan_request),
                          galvatron::ParseGlobalBatchFlag(plan_batch, &plan_request),
                          galvatron::ParseModeFlag(plan_mode, &plan_request),
                          galvatron::ParseDisableFlag(plan_disable, &plan_request),
                          galvatron::ParsePipelineFlag(plan_pipeline, &plan_request)}) {
        if (!status.ok()) return status;
      }
      plan_request.set_seq_len(plan_seq);
      plan_request.set_max_tp(plan_max_tp);
      plan_request.set_max_pp(plan_max_pp);
      plan_request.set_micro_batches(plan_micro);
      plan_request.set_time_limit_seconds(plan_time_limit);
      plan_request.set_estimate_missing(plan_estimate);
      plan_request.set_uncalibrated(plan_uncalibrated);
      plan_request.set_hardware_profile_version(plan_hardware_version);
      return c.Plan(plan_request);
    };
  });

  std::vector<const char*> argv;
  argv.reserve(args.size());
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every other parse error is bad usage.
    const int code = app.exit(e, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (!usage_error.ok()) {
    err << "galvatron: " << usage_error.message() << "\n";
    return kExitUsage;
  }
  if (!command) {
    err << app.help();
    return kExitUsage;
  }
  ApplySecurityEnvironment(&security);
  auto credentials = LoadClientCredentials(security);
  if (!credentials.ok()) {
    err << "galvatron: " << credentials.status().message() << "\n";
    return kExitUsage;
  }
  options.credentials = std::move(*credentials);
  options.timeout_given = app.get_option("--timeout")->count() > 0;
  PlannerClient client(options, &out, &err);
  absl::Status status = command(client);
  if (!status.ok()) {
    err << "galvatron: " << StatusCodeName(status.code()) << ": " << status.message() << "\n";
    return kExitCallFailed;
  }
  return exit_code;
}

}  // namespace galvatron::cli
