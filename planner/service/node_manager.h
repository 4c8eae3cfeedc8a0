// NodeManager owns the nodes table: one row per node (key cluster/name), a
// new version whenever a registration describes the node differently (host,
// cores, memory, devices, agent version), so re-registering an unchanged
// node after a reconnect or a planner restart stores nothing new.
//
// Liveness is kept in memory only: the session of each node's latest
// registration and the time of its last heartbeat. A node is ALIVE while its
// last heartbeat (or registration) is younger than `node_timeout`, LOST
// otherwise; the state is computed when nodes are read, so no timer thread is
// needed. After a planner restart every stored node reads LOST until its agent
// registers again (its old session answers NOT_FOUND).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "planner/store/store.h"

namespace galvatron::planner {

struct NodeManagerOptions {
  // What agents are told to use between heartbeats.
  absl::Duration heartbeat_interval = absl::Seconds(2);
  // A node with no heartbeat for this long is LOST.
  absl::Duration node_timeout = absl::Seconds(10);
};

// Limits of a registration (DESIGN §10: every request validated).
inline constexpr int kMaxNodeDevices = 1024;
inline constexpr int kMaxNodeHostBytes = 255;
inline constexpr int kMaxAgentVersionBytes = 128;

// Checks a node as an agent registers it; output-only fields (state,
// registered_at, last_heartbeat) are ignored.
absl::Status ValidateNodeRegistration(const v1::Node& node);

// Thread-safe: the sessions are guarded by `mu_`; registrations of nodes are
// serialised by `register_mu_` so that the read-compare-append of a node's
// row is atomic.
class NodeManager final : public v1::NodeService::Service {
 public:
  NodeManager(store::Store* store, const NodeManagerOptions& options);

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

  grpc::Status RegisterNode(grpc::ServerContext* context,
                            const v1::RegisterNodeRequest* request,
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
  };

  // Sets state, registered_at and last_heartbeat of a stored node from its
  // session (LOST without one).
  void FillLiveness(v1::Node* node, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  store::Store* const store_;
  const NodeManagerOptions options_;
  absl::Mutex register_mu_;
  absl::Mutex mu_;
  // Key: the row key, cluster + "/" + node name.
  std::unordered_map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace galvatron::planner
