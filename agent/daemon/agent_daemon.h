// The agent's control loop: register the node with the planner, heartbeat at
// the interval the planner asks for, and on any failure retry with
// exponential backoff. A heartbeat answered NOT_FOUND (the planner restarted
// or the node registered again elsewhere) makes it register again. Stop()
// ends the loop promptly: waits are on a condition, and the RPC in flight is
// cancelled.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/daemon/backoff.h"
#include "galvatron/v1/service.grpc.pb.h"

namespace galvatron::agent {

struct AgentConfig {
  std::string planner = "127.0.0.1:50051";  // HOST:PORT
  // Overrides the interval the planner sends (0 = the planner's).
  int64_t heartbeat_interval_ms = 0;
  // Deadline of each RPC to the planner.
  absl::Duration rpc_timeout = absl::Seconds(5);
  BackoffOptions backoff;
  // Written (atomically) after the first successful registration; "" = none.
  std::string ready_file;
};

// Thread-safe: Run() on one thread, Stop() from any thread; the loop's own
// state (session, interval) is touched only by the Run() thread.
class AgentDaemon {
 public:
  // `node` is registered as is (name, cluster, host, cores, memory, devices).
  AgentDaemon(const AgentConfig& config, const v1::Node& node);

  // Blocks until Stop() (OK) or until the planner rejects the registration
  // as invalid, which retrying cannot fix (that error).
  absl::Status Run();
  void Stop();

 private:
  // Waits up to `delay`; true when stopping.
  bool WaitForStop(absl::Duration delay);
  absl::Status Register();
  absl::Status Heartbeat();
  // A context with the RPC deadline, published so that Stop() can cancel it;
  // nullptr once stopping.
  std::shared_ptr<grpc::ClientContext> BeginCall();
  void EndCall();

  const AgentConfig config_;
  const v1::Node node_;
  const std::string node_key_;  // cluster/name, for logs
  std::unique_ptr<v1::NodeService::Stub> stub_;
  ExponentialBackoff backoff_;

  // Run() thread only.
  std::string session_id_;
  absl::Duration interval_ = absl::Seconds(2);
  bool ready_written_ = false;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::shared_ptr<grpc::ClientContext> call_ ABSL_GUARDED_BY(mu_);
};

}  // namespace galvatron::agent
