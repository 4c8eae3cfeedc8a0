// Runs this node's part of a task: one galvatron-worker per local rank,
// supervised until they finish, fail, the task is cancelled or the agent
// stops. Files of a task live in <work dir>/<task id>/: the spec given to
// the workers, one log and one progress file per rank, rank 0's store port
// and the result. Results stay there after upload, so nothing measured is
// lost when the planner is unreachable at the end.
//
// Training tasks (a job's workers: `galvatron-worker train`): the plan and
// model go to plan.json and model.json there, rank 0 appends its step
// metrics to metrics.jsonl, and checkpoints go to <checkpoint dir>/<job id>
// (default <work dir>/checkpoints). Each report carries the metrics lines
// not yet taken, the log tails that changed and the checkpoint shards
// written here (rank-R.done markers); what the planner took is not sent
// again. While the planner does not take reports (unreachable, or restarted
// and waiting for this agent to register again) the workers go on for
// ExecutorConfig::planner_grace, then stop. With export_safetensors every
// rank gets --export-out <checkpoint root>/model.safetensors (the export
// gathers over the process group; only rank 0 writes) and the final report
// of rank 0's node names the file.
//
// Multi-node: the node of rank 0 starts that rank first with a free store
// port, reports "<advertise host>:<port>" so the planner can hand the task to
// the other nodes, then starts its other ranks. Thread-compatible: Run() on
// one thread at a time.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "galvatron/v1/hardware.pb.h"
#include "galvatron/v1/task.pb.h"

namespace galvatron::agent {

struct ExecutorConfig {
  std::string worker_path;  // the galvatron-worker binary
  std::string work_dir = ".";
  // How workers of other nodes reach this node's rank-0 store.
  std::string advertise_host = "127.0.0.1";
  absl::Duration progress_interval = absl::Seconds(1);
  // SIGTERM → SIGKILL grace when workers are stopped.
  absl::Duration stop_grace = absl::Seconds(5);
  std::string worker_log_level = "info";
  // How long a part's workers keep running while the planner does not take
  // its reports (unreachable, or restarted and not yet knowing this agent's
  // new session).
  absl::Duration planner_grace = absl::Minutes(5);
};

// Sends one report (the caller fills in cluster, node and session). An error
// means the planner did not take it.
using ReportFn = std::function<absl::StatusOr<v1::ReportTaskResponse>(v1::ReportTaskRequest)>;

class TaskExecutor {
 public:
  TaskExecutor(ExecutorConfig config, v1::Node node);

  // Runs the part of node `task.nodes(node_index)`. Reports RUNNING with
  // progress while the workers run, then SUCCEEDED (with the result on the
  // node of rank 0) or FAILED with the reason. `stopping` is polled; when it
  // turns true the workers are stopped and FAILED is reported.
  void Run(const v1::Task& task, int node_index, const ReportFn& report,
           const std::function<bool()>& stopping);

 private:
  // The worker command of one rank (without the store address).
  absl::StatusOr<std::vector<std::string>> WorkerArgs(const v1::Task& task, int rank,
                                                      int local_rank, int ranks_here,
                                                      const std::string& dir) const;

  // Training: where this node keeps the job's checkpoint shards,
  // <checkpoint_dir or work dir/checkpoints>/<job id> (agent/daemon/
  // work_paths.h); INVALID_ARGUMENT for a job id the planner does not make
  // or a path that escapes its root. Rank 0 exports the model to
  // <checkpoint root>/model.safetensors.
  absl::StatusOr<std::string> CheckpointRoot(const v1::Task& task) const;

  const ExecutorConfig config_;
  const v1::Node node_;
};

}  // namespace galvatron::agent
