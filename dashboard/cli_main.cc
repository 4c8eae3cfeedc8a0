// galvatron: command-line client of the planner. Flags → ClientOptions → one
// command; exit 0 on success, 1 with the server's message on error, 2 on bad
// usage.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "common/plan_request_flags.h"
#include "common/rpc_status.h"
#include "dashboard/cli_commands.h"

int main(int argc, char** argv) {
  using galvatron::cli::ClientOptions;
  using galvatron::cli::PlannerClient;

  CLI::App app{"galvatron: command-line client of the Galvatron-C++ planner"};
  app.set_version_flag("--version", "galvatron 0.1.0");
  app.require_subcommand(1);
  ClientOptions options;
  if (const char* env = std::getenv("GALVATRON_PLANNER"); env && *env) options.planner = env;
  app.add_option("--planner", options.planner,
                 "planner address HOST:PORT (default: $GALVATRON_PLANNER or 127.0.0.1:50051)")
      ->capture_default_str();
  app.add_flag("--json", options.json, "machine-readable JSON output");
  app.add_option("--timeout", options.timeout_seconds, "seconds to wait for the planner")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

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
  models_show->callback([&] {
    command = [&](PlannerClient& c) { return c.ModelsShow(model_name, model_version); };
  });
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
  profiles_list->add_option("--cluster", cluster,
                            "only this cluster (hardware: every version)");
  profiles_list->callback([&] {
    command = [&](PlannerClient& c) { return c.ProfilesList(profile_kind, cluster); };
  });
  auto* profiles_show = profiles->add_subcommand("show", "show one profile");
  profiles_show->add_option("ID", profile_id, "profile id (hw-... or cp-...)")->required();
  profiles_show->callback(
      [&] { command = [&](PlannerClient& c) { return c.ProfilesShow(profile_id); }; });

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
  plans_show->callback([&] { command = [&](PlannerClient& c) { return c.PlansShow(plan_id); }; });

  auto* nodes = app.add_subcommand("nodes", "nodes registered by galvatron-agent");
  nodes->require_subcommand(1);
  auto* nodes_list =
      nodes->add_subcommand("list", "list nodes with their state (alive/lost) and devices");
  nodes_list->add_option("--cluster", cluster, "only nodes of this cluster");
  nodes_list->add_flag("--json", options.json, "machine-readable JSON output");
  nodes_list->callback([&] { command = [&](PlannerClient& c) { return c.NodesList(cluster); }; });

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
  plan->add_option("--mode", plan_mode, "default or galvatron")->capture_default_str();
  plan->add_option("--disable", plan_disable, "dimensions to leave out, comma-separated");
  plan->add_option("--max-tp", plan_max_tp, "largest tensor/sequence-parallel degree");
  plan->add_option("--max-pp", plan_max_pp, "largest pipeline degree");
  plan->add_option("--pipeline", plan_pipeline, "gpipe, 1f1b or gpipe,1f1b");
  plan->add_option("--time-limit", plan_time_limit, "search seconds (0 = the planner's default)");
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
      return c.Plan(plan_request);
    };
  });

  CLI11_PARSE(app, argc, argv);
  if (!command) {
    std::cerr << app.help();
    return 2;
  }
  PlannerClient client(options, &std::cout);
  absl::Status status = command(client);
  if (!status.ok()) {
    std::cerr << "galvatron: " << galvatron::StatusCodeName(status.code()) << ": "
              << status.message() << "\n";
    return 1;
  }
  return 0;
}
