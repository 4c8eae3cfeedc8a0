// The `galvatron` CLI's commands: each talks to the planner over the public
// gRPC API and writes its result to `out` (tables, or JSON with --json),
// progress and notes to `err`. Not thread-safe; one command at a time.
#pragma once

#include <cstdint>
#include <iostream>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "galvatron/v1/task.grpc.pb.h"

namespace galvatron::cli {

// Exit codes of `galvatron`.
inline constexpr int kExitOk = 0;          // done
inline constexpr int kExitCallFailed = 1;  // a call failed (the planner's message)
inline constexpr int kExitUsage = 2;       // bad command line

struct ClientOptions {
  std::string planner = "127.0.0.1:50051";
  bool json = false;
  double timeout_seconds = 30;
};

class PlannerClient {
 public:
  PlannerClient(const ClientOptions& options, std::ostream* out, std::ostream* err = &std::cerr);

  absl::Status ModelsSubmit(const std::string& file);
  absl::Status ModelsList(bool include_builtin);
  absl::Status ModelsShow(const std::string& name, int64_t version);
  absl::Status ModelsDelete(const std::string& name);

  // Imports our HardwareProfile or ComputeProfile JSON (told apart by their
  // fields).
  absl::Status ProfilesImport(const std::string& file);
  // kind: "all", "hardware" or "compute".
  absl::Status ProfilesList(const std::string& kind, const std::string& cluster);
  absl::Status ProfilesShow(const std::string& id);

  // Asks the agents of the cluster to measure its interconnect (a probe
  // task); with `wait`, follows it to the end (progress on stderr), prints
  // the stored hardware profile and, with `galvatron_out`, writes Galvatron's
  // hardware-profile JSON files there.
  absl::Status ProfilesProbe(const v1::CreateTaskRequest& request, bool wait,
                             const std::string& galvatron_out);
  // Asks an agent to measure the model's layer types (a profile task).
  absl::Status ProfilesMeasure(const v1::CreateTaskRequest& request, bool wait);

  absl::Status TasksList(const std::string& cluster);
  absl::Status TasksShow(const std::string& id);
  // Follows the task to its end; an error unless it succeeded.
  absl::Status TasksWait(const std::string& id);
  absl::Status TasksCancel(const std::string& id);

  // Asks the planner for the best plan (searching unless it has one for the
  // same inputs) and prints it. With `measure`, first has the cluster's
  // agents measure what the plan lacks and waits for them.
  absl::Status Plan(const v1::PlanRequest& request, bool measure = true);
  absl::Status PlansList(const std::string& model, const std::string& cluster);
  absl::Status PlansShow(const std::string& id);

  // Every registered node (of `cluster`, or all) with its state.
  absl::Status NodesList(const std::string& cluster);

 private:
  // Follows a task until it ends, showing progress on stderr; the final task.
  absl::StatusOr<v1::Task> Follow(const std::string& id);
  // A context with the configured deadline (or `seconds` when > 0).
  std::unique_ptr<grpc::ClientContext> Context(double seconds = 0) const;
  // The call's status, with "cannot reach the planner" added when it is down.
  absl::Status Check(const grpc::Status& status) const;

  ClientOptions options_;
  std::ostream* out_;
  std::ostream* err_;
  std::unique_ptr<v1::ModelService::Stub> models_;
  std::unique_ptr<v1::HardwareProfileService::Stub> hardware_;
  std::unique_ptr<v1::ComputeProfileService::Stub> compute_;
  std::unique_ptr<v1::PlanService::Stub> plans_;
  std::unique_ptr<v1::NodeService::Stub> nodes_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
};

}  // namespace galvatron::cli
