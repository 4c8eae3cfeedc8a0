#include "planner/service/node_manager.h"

#include <algorithm>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/field_checks.h"
#include "common/model_validation.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "planner/service/resource_rows.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

using field_checks::CheckCount;
using field_checks::CheckEnum;
using field_checks::CheckNonNegativeFinite;
using field_checks::CheckRange;
using field_checks::Invalid;
using field_checks::Quoted;
using store::Table;

namespace {

std::string NodeKey(const std::string& cluster, const std::string& name) {
  return absl::StrCat(cluster, "/", name);
}

// 128 random bits as hex: unguessable enough that a stale agent never
// heartbeats into another agent's session by accident.
std::string NewSessionId() {
  std::random_device random;
  std::string id;
  for (int i = 0; i < 4; ++i) absl::StrAppendFormat(&id, "%08x", random());
  return id;
}

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  return MicrosToTimestamp(absl::ToUnixMicros(time));
}

int64_t ToMillis(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

}  // namespace

absl::Status ValidateNodeRegistration(const v1::Node& node) {
  RETURN_IF_ERROR(ValidateName("node.name", node.name()));
  RETURN_IF_ERROR(ValidateName("node.cluster", node.cluster()));
  if (node.host().empty()) {
    return Invalid("node.host", "\"\"", "expected the agent's host name");
  }
  if (node.host().size() > static_cast<size_t>(kMaxNodeHostBytes)) {
    return Invalid("node.host", absl::StrCat(node.host().size(), " bytes"),
                   absl::StrCat("must be <= ", kMaxNodeHostBytes, " bytes"));
  }
  if (node.agent_version().size() > static_cast<size_t>(kMaxAgentVersionBytes)) {
    return Invalid("node.agent_version", absl::StrCat(node.agent_version().size(), " bytes"),
                   absl::StrCat("must be <= ", kMaxAgentVersionBytes, " bytes"));
  }
  if (node.agent_instance_id().size() > static_cast<size_t>(kMaxAgentInstanceIdBytes)) {
    return Invalid("node.agent_instance_id", Quoted(node.agent_instance_id()),
                   absl::StrCat("must be <= ", kMaxAgentInstanceIdBytes, " bytes"));
  }
  RETURN_IF_ERROR(CheckRange("node.cpu_cores", node.cpu_cores(), 0, 1 << 20));
  RETURN_IF_ERROR(CheckRange("node.memory_bytes", node.memory_bytes(), 0, int64_t{1} << 60));
  RETURN_IF_ERROR(CheckCount("node.devices", node.devices_size(), kMaxNodeDevices, "devices"));
  for (int i = 0; i < node.devices_size(); ++i) {
    const v1::Device& device = node.devices(i);
    const std::string path = absl::StrCat("node.devices[", i, "]");
    RETURN_IF_ERROR(CheckEnum(path + ".kind", v1::DeviceKind_descriptor(), device.kind(), true));
    RETURN_IF_ERROR(CheckRange(path + ".index", device.index(), 0, kMaxNodeDevices));
    if (device.name().size() > static_cast<size_t>(kMaxNodeHostBytes)) {
      return Invalid(path + ".name", Quoted(device.name()),
                     absl::StrCat("must be <= ", kMaxNodeHostBytes, " bytes"));
    }
    RETURN_IF_ERROR(CheckRange(path + ".memory_bytes", device.memory_bytes(), 0, int64_t{1} << 50));
    RETURN_IF_ERROR(CheckNonNegativeFinite(path + ".peak_flops", device.peak_flops()));
  }
  return absl::OkStatus();
}

NodeManager::NodeManager(store::Store* store, const NodeManagerOptions& options)
    : store_(store), options_(options) {
  deadline_thread_ = std::thread([this] { WatchDeadlines(); });
}

NodeManager::~NodeManager() { Stop(); }

void NodeManager::AddNodeLostListener(NodeLostListener listener) {
  absl::MutexLock lock(&mu_);
  listeners_.push_back(std::move(listener));
}

void NodeManager::Stop() {
  absl::call_once(stop_once_, [this] {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      deadline_cv_.Signal();
    }
    deadline_thread_.join();
  });
}

void NodeManager::Reschedule(absl::Time deadline) {
  // Deadlines only grow (now + node_timeout, with now increasing), so this
  // wakes the thread only when it had no deadline at all.
  if (deadline < next_deadline_) {
    next_deadline_ = deadline;
    deadline_cv_.Signal();
  }
}

std::vector<v1::Node> NodeManager::TakeLost(absl::Time now) {
  std::vector<v1::Node> lost;
  next_deadline_ = absl::InfiniteFuture();
  for (auto& [key, session] : sessions_) {
    if (session.announced_lost) continue;
    const absl::Time deadline = session.last_heartbeat + options_.node_timeout;
    if (deadline > now) {
      next_deadline_ = std::min(next_deadline_, deadline);
      continue;
    }
    session.announced_lost = true;
    v1::Node node = session.node;
    node.set_state(v1::NODE_STATE_LOST);
    *node.mutable_registered_at() = ToTimestamp(session.registered_at);
    *node.mutable_last_heartbeat() = ToTimestamp(session.last_heartbeat);
    lost.push_back(std::move(node));
  }
  return lost;
}

void NodeManager::WatchDeadlines() {
  while (true) {
    std::vector<v1::Node> lost;
    std::vector<NodeLostListener> listeners;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_) {
        lost = TakeLost(absl::Now());
        if (!lost.empty()) break;
        // Sleeps until the earliest deadline, or a Signal (an earlier
        // deadline, or Stop). A wake-up for a deadline a heartbeat has since
        // moved finds nothing lost and sleeps again until the new one.
        deadline_cv_.WaitWithDeadline(&mu_, next_deadline_);
      }
      if (stopping_) return;
      listeners = listeners_;
    }
    // Outside mu_: a listener may take its own locks, write to the store and
    // call back into NodeManager.
    for (const v1::Node& node : lost) {
      spdlog::warn("node {}/{} lost: no heartbeat for {} ms", node.cluster(), node.name(),
                   ToMillis(options_.node_timeout));
      for (const NodeLostListener& listener : listeners) listener(node);
    }
  }
}

absl::StatusOr<v1::RegisterNodeResponse> NodeManager::Register(
    const v1::RegisterNodeRequest& request) {
  RETURN_IF_ERROR(ValidateNodeRegistration(request.node()));
  v1::Node node = request.node();
  node.clear_state();
  node.clear_registered_at();
  node.clear_last_heartbeat();
  const std::string key = NodeKey(node.cluster(), node.name());
  // The instance id names this run of the agent, not the node: a restarted
  // agent stores no new version of an unchanged node.
  v1::Node described = node;
  described.clear_agent_instance_id();
  const std::string payload = DeterministicBytes(described);

  store::Row stored;
  Session session{NewSessionId(), absl::Time(), absl::Time(), node, false};
  absl::Time now;
  {
    // Registrations of this node take turns: the read-compare-append below
    // and the session that follows it must not interleave with another
    // registration of the same node (the last to register must hold the
    // session). The turn is no lock: other nodes, heartbeats and reads do
    // not wait for the write.
    WriteSequencer::Ticket turn = registrations_.Enter(key);
    {
      absl::MutexLock lock(&mu_);
      RETURN_IF_ERROR(CheckClaim(key, node, absl::Now()));
    }
    ASSIGN_OR_RETURN(std::optional<store::Row> latest, store_->Get(Table::kNodes, key, 0));
    if (latest.has_value() && latest->payload == payload) {
      stored = std::move(*latest);
    } else {
      store::NewRow row;
      row.key = key;
      row.id_prefix = absl::StrCat("node-", node.cluster(), "-", node.name(), "-");
      row.tag = node.cluster();
      row.payload = payload;
      ASSIGN_OR_RETURN(stored, store_->Append(Table::kNodes, row));
    }
    now = absl::Now();  // after the write: the deadline counts from here
    session.registered_at = now;
    session.last_heartbeat = now;
    absl::MutexLock lock(&mu_);
    sessions_[key] = session;
    Reschedule(now + options_.node_timeout);
  }
  spdlog::info("node {} registered from {} ({} devices, row {})", key, node.host(),
               node.devices_size(), stored.id);

  v1::RegisterNodeResponse response;
  *response.mutable_node() = std::move(node);
  response.mutable_node()->set_state(v1::NODE_STATE_ALIVE);
  *response.mutable_node()->mutable_registered_at() = ToTimestamp(now);
  *response.mutable_node()->mutable_last_heartbeat() = ToTimestamp(now);
  response.set_session_id(session.id);
  response.set_heartbeat_interval_ms(ToMillis(options_.heartbeat_interval));
  return response;
}

absl::StatusOr<v1::HeartbeatResponse> NodeManager::Beat(const v1::HeartbeatRequest& request) {
  RETURN_IF_ERROR(ValidateName("cluster", request.cluster()));
  RETURN_IF_ERROR(ValidateName("node", request.node()));
  if (request.session_id().empty()) {
    return Invalid("session_id", "\"\"", "expected the id RegisterNode returned");
  }
  const std::string key = NodeKey(request.cluster(), request.node());
  {
    absl::MutexLock lock(&mu_);
    auto it = sessions_.find(key);
    if (it == sessions_.end() || it->second.id != request.session_id()) {
      return absl::NotFoundError(absl::StrCat("session_id: ", Quoted(request.session_id()),
                                              " is not the current session of node ", key,
                                              "; register the node again"));
    }
    Session& session = it->second;
    session.last_heartbeat = absl::Now();
    if (session.announced_lost) {
      session.announced_lost = false;  // alive again; a new loss is announced again
      Reschedule(session.last_heartbeat + options_.node_timeout);
    }
  }
  v1::HeartbeatResponse response;
  response.set_heartbeat_interval_ms(ToMillis(options_.heartbeat_interval));
  return response;
}

absl::Status NodeManager::CheckSession(const std::string& cluster, const std::string& node,
                                       const std::string& session_id) {
  v1::HeartbeatRequest beat;
  beat.set_cluster(cluster);
  beat.set_node(node);
  beat.set_session_id(session_id);
  return Beat(beat).status();
}

std::optional<absl::Time> NodeManager::LastHeartbeat(const std::string& cluster,
                                                     const std::string& node) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(NodeKey(cluster, node));
  if (it == sessions_.end()) return std::nullopt;
  return it->second.last_heartbeat;
}

bool NodeManager::IsAlive(const std::string& cluster, const std::string& node) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(NodeKey(cluster, node));
  return it != sessions_.end() && absl::Now() - it->second.last_heartbeat < options_.node_timeout;
}

absl::StatusOr<std::vector<v1::Node>> NodeManager::AliveNodes(const std::string& cluster) {
  std::vector<v1::Node> alive;
  v1::ListNodesRequest request;
  request.set_cluster(cluster);
  request.set_page_size(kMaxPageSize);
  do {
    ASSIGN_OR_RETURN(v1::ListNodesResponse page, List(request));
    for (v1::Node& node : *page.mutable_nodes()) {
      if (node.state() == v1::NODE_STATE_ALIVE) alive.push_back(std::move(node));
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return alive;
}

absl::Status NodeManager::CheckClaim(const std::string& key, const v1::Node& node, absl::Time now) {
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return absl::OkStatus();
  const Session& held = it->second;
  const std::string& holder = held.node.agent_instance_id();
  const std::string& claimant = node.agent_instance_id();
  // Agents older than instance ids send none: they re-register as before.
  if (holder.empty() || claimant.empty() || holder == claimant) return absl::OkStatus();
  const absl::Duration silent = now - held.last_heartbeat;
  if (silent >= options_.node_timeout) return absl::OkStatus();  // LOST: the node is free
  return absl::AlreadyExistsError(absl::StrCat(
      "node ", key, " is held by another live agent: host ", Quoted(held.node.host()),
      ", agent_instance_id ", Quoted(holder), ", last heartbeat ",
      absl::FormatDuration(absl::Trunc(silent, absl::Milliseconds(1))), " ago; this agent (host ",
      Quoted(node.host()), ", agent_instance_id ", Quoted(claimant),
      ") is refused. Give each agent its own --node-name, or stop the other one (the name is "
      "free again once that node is LOST, ",
      absl::FormatDuration(options_.node_timeout), " after its last heartbeat)"));
}

void NodeManager::FillLiveness(v1::Node* node, absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(NodeKey(node->cluster(), node->name()));
  if (it == sessions_.end()) {
    node->set_state(v1::NODE_STATE_LOST);
    return;
  }
  const Session& session = it->second;
  node->set_agent_instance_id(session.node.agent_instance_id());
  *node->mutable_registered_at() = ToTimestamp(session.registered_at);
  *node->mutable_last_heartbeat() = ToTimestamp(session.last_heartbeat);
  node->set_state(now - session.last_heartbeat < options_.node_timeout ? v1::NODE_STATE_ALIVE
                                                                       : v1::NODE_STATE_LOST);
}

absl::StatusOr<v1::ListNodesResponse> NodeManager::List(const v1::ListNodesRequest& request) {
  store::ListOptions options;
  if (!request.cluster().empty()) {
    RETURN_IF_ERROR(ValidateName("cluster", request.cluster()));
    options.tag = request.cluster();
  }
  std::string next;
  ASSIGN_OR_RETURN(std::vector<v1::Node> nodes,
                   ListPage<v1::Node>(
                       store_, Table::kNodes, options, request.page_token(), request.page_size(),
                       [](const v1::Node&) { return true; }, &next));
  const absl::Time now = absl::Now();
  v1::ListNodesResponse response;
  for (auto& node : nodes) {
    FillLiveness(&node, now);
    *response.add_nodes() = std::move(node);
  }
  response.set_next_page_token(next);
  return response;
}

grpc::Status NodeManager::RegisterNode(grpc::ServerContext* context,
                                       const v1::RegisterNodeRequest* request,
                                       v1::RegisterNodeResponse* response) {
  return Handle(context, "NodeService/RegisterNode", [&](const Principal& who) -> absl::Status {
    RETURN_IF_ERROR(CheckCluster(who, request->node().cluster(), "the node"));
    return Fill(Register(*request), response);
  });
}

grpc::Status NodeManager::Heartbeat(grpc::ServerContext* context,
                                    const v1::HeartbeatRequest* request,
                                    v1::HeartbeatResponse* response) {
  return Handle(context, "NodeService/Heartbeat", [&](const Principal& who) -> absl::Status {
    RETURN_IF_ERROR(CheckCluster(who, request->cluster(), "the heartbeat"));
    return Fill(Beat(*request), response);
  });
}

grpc::Status NodeManager::ListNodes(grpc::ServerContext* context,
                                    const v1::ListNodesRequest* request,
                                    v1::ListNodesResponse* response) {
  return Handle(context, "NodeService/ListNodes",
                [&](const Principal&) { return Fill(List(*request), response); });
}

}  // namespace galvatron::planner
