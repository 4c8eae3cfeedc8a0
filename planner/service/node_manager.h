// NodeManager owns the nodes table: one row per node (key cluster/name), a
// new version whenever a registration describes the node differently (host,
// cores, memory, devices, agent version), so re-registering an unchanged
// node after a reconnect or a planner restart stores nothing new.
//
// Liveness is kept in memory only: the session of each node's latest
// registration and the time of its last heartbeat. A node is ALIVE while its
// last heartbeat (or registration) is younger than `node_timeout`, LOST
// otherwise; reads compute the state from the time, so they are exact. After
// a planner restart every stored node reads LOST until its agent registers
// again (its old session answers NOT_FOUND). A late heartbeat of the current
// session makes a LOST node ALIVE again.
//
// Lost nodes are announced: listeners (AddNodeLostListener) are called once
// each time a node goes from ALIVE to LOST, so that nobody else has to poll
// liveness (TaskManager is such a listener and has no timer of its own).
// One deadline thread, the planner's only liveness timer, does this:
// it sleeps until the earliest deadline (last heartbeat + node_timeout) of
// the nodes still alive, marks the nodes whose deadline has passed, and
// calls the listeners for them. It does not tick: a heartbeat only moves a
// deadline later, so the thread wakes at most once per (node_timeout -
// heartbeat interval) while agents are healthy (it then finds the earliest
// deadline moved and sleeps again), and is woken early only when a
// registration or revival gives it a deadline while it had none. A
// heartbeat that arrives after the deadline but before the thread ran (only
// if the thread is delayed) revives the node without an announcement, as if
// it had come in time.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/base/call_once.h"
#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "planner/service/access.h"
#include "planner/service/write_sequencer.h"
#include "planner/store/store.h"

namespace galvatron::planner {

struct NodeManagerOptions {
  // What agents are told to use between heartbeats.
  absl::Duration heartbeat_interval = absl::Seconds(2);
  // A node with no heartbeat for this long is LOST.
  absl::Duration node_timeout = absl::Seconds(10);
};

// Limits of a registration, so that one agent cannot make the planner store
// or hold unbounded data.
inline constexpr int kMaxNodeDevices = 1024;
inline constexpr int kMaxNodeHostBytes = 255;
inline constexpr int kMaxAgentVersionBytes = 128;
inline constexpr int kMaxAgentInstanceIdBytes = 128;

// Checks a node as an agent registers it; output-only fields (state,
// registered_at, last_heartbeat) are ignored.
absl::Status ValidateNodeRegistration(const v1::Node& node);

// Thread-safe. mu_ guards the sessions, the listeners and the deadline
// thread's state; it is never held across a store call or a listener call.
// The read-compare-append of a node's row at registration is ordered per
// node by a WriteSequencer turn (registrations of one node take turns;
// other nodes, heartbeats and reads do not wait for the write).
//
// One agent per node name: an agent that sends an agent_instance_id is
// refused (ALREADY_EXISTS, naming the other agent) while another live agent
// holds the node under another id. The same instance registering again, a
// new one once the node is LOST, and agents that send no id are accepted
// (the latest registration holds the session).
class NodeManager final : public v1::NodeService::Service, public GuardedService {
 public:
  using NodeLostListener = std::function<void(const v1::Node& node)>;

  // Starts the deadline thread.
  NodeManager(store::Store* store, const NodeManagerOptions& options);
  // Stop(), then destroys.
  ~NodeManager() override;

  // Calls `listener` with the node (its stored description, state LOST and
  // the times of its session) each time a node is found lost, on the
  // deadline thread, with no lock of NodeManager held; it may call
  // NodeManager. Add listeners before agents register (a loss found before
  // a listener is added is not repeated to it).
  void AddNodeLostListener(NodeLostListener listener) ABSL_LOCKS_EXCLUDED(mu_);
  // Stops and joins the deadline thread: no listener runs after it returns.
  // Call it before destroying what the listeners use. Idempotent; not from
  // a listener.
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);

  absl::StatusOr<v1::RegisterNodeResponse> Register(const v1::RegisterNodeRequest& request);
  absl::StatusOr<v1::HeartbeatResponse> Beat(const v1::HeartbeatRequest& request);
  absl::StatusOr<v1::ListNodesResponse> List(const v1::ListNodesRequest& request);

  // OK when `session_id` is the current session of the node; NOT_FOUND (the
  // agent must register again) otherwise. Counts as a heartbeat.
  absl::Status CheckSession(const std::string& cluster, const std::string& node,
                            const std::string& session_id);
  // The ALIVE nodes of `cluster`, by name.
  absl::StatusOr<std::vector<v1::Node>> AliveNodes(const std::string& cluster);
  // Whether the node is ALIVE now.
  bool IsAlive(const std::string& cluster, const std::string& node);
  // When the node's agent last heartbeated (this planner's life); nullopt
  // if it has not registered since the planner started.
  std::optional<absl::Time> LastHeartbeat(const std::string& cluster, const std::string& node);
  absl::Duration node_timeout() const { return options_.node_timeout; }

  grpc::Status RegisterNode(grpc::ServerContext* context, const v1::RegisterNodeRequest* request,
                            v1::RegisterNodeResponse* response) override;
  grpc::Status Heartbeat(grpc::ServerContext* context, const v1::HeartbeatRequest* request,
                         v1::HeartbeatResponse* response) override;
  grpc::Status ListNodes(grpc::ServerContext* context, const v1::ListNodesRequest* request,
                         v1::ListNodesResponse* response) override;

 private:
  struct Session {
    std::string id;
    absl::Time registered_at;
    absl::Time last_heartbeat;
    v1::Node node;  // as registered (for the listeners)
    // The deadline thread has announced this session's node lost, and no
    // heartbeat came since.
    bool announced_lost = false;
  };

  // ALREADY_EXISTS, naming the holder, when another live agent (another
  // non-empty agent_instance_id) holds the node `key` that `node` claims.
  absl::Status CheckClaim(const std::string& key, const v1::Node& node, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets state, registered_at, last_heartbeat and agent_instance_id of a
  // stored node from its session (LOST without one).
  void FillLiveness(v1::Node* node, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  // The deadline thread's loop.
  void WatchDeadlines() ABSL_LOCKS_EXCLUDED(mu_);
  // Marks the sessions whose deadline is past `now` as announced and returns
  // their nodes; sets next_deadline_ to the earliest deadline left.
  std::vector<v1::Node> TakeLost(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A session got a new deadline: wake the deadline thread if it is earlier
  // than the one it sleeps until.
  void Reschedule(absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  store::Store* const store_;
  const NodeManagerOptions options_;
  // Orders the registrations' store writes per node.
  WriteSequencer registrations_;

  absl::Mutex mu_;
  // Key: the row key, cluster + "/" + node name.
  std::unordered_map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
  std::vector<NodeLostListener> listeners_ ABSL_GUARDED_BY(mu_);
  // When the deadline thread wakes next (InfiniteFuture: no alive node).
  absl::Time next_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::CondVar deadline_cv_;
  absl::once_flag stop_once_;
  std::thread deadline_thread_;
};

}  // namespace galvatron::planner
