// The agent's control loops. One thread registers the node with the planner,
// heartbeats at the interval the planner asks for, and on any failure retries
// with exponential backoff; a heartbeat answered NOT_FOUND (the planner
// restarted or the node registered again elsewhere) makes it register again.
// A second thread long-polls the planner for tasks while registered and runs
// each with the TaskExecutor (one at a time: a task uses every device of the
// node). Stop() ends both promptly: waits are on a condition, RPCs in flight
// are cancelled, and the workers of a running task are stopped.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/daemon/backoff.h"
#include "agent/daemon/task_executor.h"
#include "common/rpc_channel.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "galvatron/v1/task.grpc.pb.h"

namespace galvatron::agent {

struct AgentConfig {
  std::string planner = "127.0.0.1:50051";  // HOST:PORT
  // TLS and the bearer token (common/rpc_channel.h); default: plaintext.
  ClientCredentials credentials;
  // Overrides the interval the planner sends (0 = the planner's).
  int64_t heartbeat_interval_ms = 0;
  // Deadline of each RPC to the planner.
  absl::Duration rpc_timeout = absl::Seconds(5);
  BackoffOptions backoff;
  // Written (atomically) after the first successful registration; "" = none.
  std::string ready_file;
  // How long one PollTask waits for a task on the planner.
  absl::Duration poll_wait = absl::Seconds(20);
  // How long to keep registering while the planner answers ALREADY_EXISTS
  // (another live agent holds this node name) before giving up: long
  // enough for the planner to find a killed predecessor LOST (its node
  // timeout, 10 s by default), short enough that a second agent started
  // under the same name by mistake says so and exits.
  absl::Duration claim_wait = absl::Seconds(30);
  ExecutorConfig executor;
};

// 128 random bits as 32 hex digits: the agent_instance_id of one run of an
// agent, so that the planner can tell two agents claiming one node name apart.
std::string NewAgentInstanceId();

// Thread-safe: Run() on one thread, Stop() from any thread; the loop's own
// state (session, interval) is touched only by the Run() thread.
class AgentDaemon {
 public:
  // `node` is registered as is (name, cluster, host, cores, memory, devices,
  // agent_instance_id; a new id when it has none).
  AgentDaemon(const AgentConfig& config, const v1::Node& node);

  // Blocks until Stop() (OK) or until the planner rejects the registration
  // as invalid, which retrying cannot fix, or keeps refusing it for
  // `claim_wait` because another live agent holds the node name (that
  // error). Runs the task loop on a thread of its own meanwhile.
  absl::Status Run();
  void Stop();

 private:
  // Waits up to `delay`; true when stopping.
  bool WaitForStop(absl::Duration delay);
  absl::Status RunHeartbeats();
  absl::Status Register();
  absl::Status Heartbeat();
  // A context with the RPC deadline, published so that Stop() can cancel it;
  // nullptr once stopping. Each loop has its own slot.
  std::shared_ptr<grpc::ClientContext> BeginCall(int slot, absl::Duration timeout);
  void EndCall(int slot);
  bool stopping();
  std::string session();
  void TaskLoop();
  absl::StatusOr<v1::ReportTaskResponse> SendReport(v1::ReportTaskRequest request);

  const AgentConfig config_;
  const v1::Node node_;
  const std::string node_key_;  // cluster/name, for logs
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::NodeService::Stub> stub_;
  std::unique_ptr<v1::TaskService::Stub> tasks_;
  ExponentialBackoff backoff_;
  TaskExecutor executor_;

  // Run() thread only (session_ also under mu_ for the task loop).
  std::string session_id_;
  absl::Duration interval_ = absl::Seconds(2);
  bool ready_written_ = false;
  // When the planner first answered ALREADY_EXISTS in the current run of
  // refusals; InfiniteFuture when the last answer was not a refusal.
  absl::Time refused_since_ = absl::InfiniteFuture();

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<grpc::ClientContext> calls_[3] ABSL_GUARDED_BY(mu_);  // heartbeat, poll, report
  std::string session_ ABSL_GUARDED_BY(mu_);
};

}  // namespace galvatron::agent
