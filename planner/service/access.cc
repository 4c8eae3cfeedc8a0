#include "planner/service/access.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {
namespace {

constexpr absl::string_view kServicePrefix = "/galvatron.v1.";

bool Allows(Role role, Access access) {
  switch (access) {
    case Access::kRead:
      return true;
    case Access::kUser:
      return role == Role::kUser || role == Role::kAdmin;
    case Access::kAgent:
      return role == Role::kAgent || role == Role::kAdmin;
    case Access::kAdmin:
      return role == Role::kAdmin;
    case Access::kPublic:
      return true;
  }
  return false;
}

}  // namespace

const std::vector<RpcRule>& RpcRules() {
  static const auto* rules = new std::vector<RpcRule>{
      {"ModelService/SubmitModel", Access::kUser, "a new model, or a new version of its own"},
      {"ModelService/GetModel", Access::kRead, ""},
      {"ModelService/ListModels", Access::kRead, ""},
      {"ModelService/DeleteModel", Access::kUser, "its own models"},
      {"HardwareProfileService/PutHardwareProfile", Access::kAgent, "its own cluster"},
      {"HardwareProfileService/RollbackHardwareProfile", Access::kAdmin, ""},
      {"HardwareProfileService/GetHardwareProfile", Access::kRead, ""},
      {"HardwareProfileService/ListHardwareProfiles", Access::kRead, ""},
      {"ComputeProfileService/PutComputeProfile", Access::kAgent, "its own cluster"},
      {"ComputeProfileService/RollbackComputeProfile", Access::kAdmin, ""},
      {"ComputeProfileService/GetComputeProfile", Access::kRead, ""},
      {"ComputeProfileService/ListComputeProfiles", Access::kRead, ""},
      {"NodeService/RegisterNode", Access::kAgent, "its own cluster"},
      {"NodeService/Heartbeat", Access::kAgent, "its own cluster"},
      {"NodeService/ListNodes", Access::kRead, ""},
      {"PlanService/RequestPlan", Access::kUser, "its own cluster"},
      {"PlanService/GetPlan", Access::kRead, ""},
      {"PlanService/ListPlans", Access::kRead, ""},
      {"PlanService/GetCalibration", Access::kRead, ""},
      {"TaskService/CreateTask", Access::kUser, "its own cluster"},
      {"TaskService/GetTask", Access::kRead, ""},
      {"TaskService/ListTasks", Access::kRead, ""},
      {"TaskService/CancelTask", Access::kUser, "its own cluster"},
      {"TaskService/PollTask", Access::kAgent, "its own cluster"},
      {"TaskService/ReportTask", Access::kAgent, "its own cluster"},
      {"TaskService/MeasureMissing", Access::kUser, "its own cluster"},
      {"JobService/SubmitJob", Access::kUser, "its own cluster"},
      {"JobService/GetJob", Access::kRead, ""},
      {"JobService/ListJobs", Access::kRead, ""},
      {"JobService/CancelJob", Access::kUser, "its own jobs"},
      {"JobService/GetJobMetrics", Access::kRead, ""},
      {"JobService/GetJobLogs", Access::kRead, ""},
  };
  return *rules;
}

const std::vector<RpcRule>& PublicRpcRules() {
  static const auto* rules = new std::vector<RpcRule>{
      {"grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Access::kPublic, ""},
  };
  return *rules;
}

const RpcRule* FindRpcRule(absl::string_view method) {
  for (const auto* rules : {&RpcRules(), &PublicRpcRules()}) {
    for (const RpcRule& rule : *rules) {
      if (rule.method == method) return &rule;
    }
  }
  return nullptr;
}

absl::string_view AccessName(Access access) {
  switch (access) {
    case Access::kRead:
      return "viewer";
    case Access::kUser:
      return "user";
    case Access::kAgent:
      return "agent";
    case Access::kAdmin:
      return "admin";
    case Access::kPublic:
      return "anyone";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::FromFile(std::string token_file) {
  auto authorizer = std::make_unique<Authorizer>();
  authorizer->token_file_ = std::move(token_file);
  RETURN_IF_ERROR(authorizer->Reload());
  return authorizer;
}

absl::Status Authorizer::Reload() {
  if (token_file_.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::vector<TokenEntry> tokens, ReadTokenFile(token_file_));
  size_t count = tokens.size();
  {
    absl::MutexLock lock(&mu_);
    tokens_ = std::move(tokens);
  }
  spdlog::info("auth: {} token{} from {}", count, count == 1 ? "" : "s", token_file_);
  return absl::OkStatus();
}

absl::StatusOr<Principal> Authorizer::Authorize(const grpc::ServerContext& context,
                                                absl::string_view method) const {
  const RpcRule* rule = FindRpcRule(method);
  if (rule == nullptr) {
    return absl::InternalError(absl::StrCat(method, " has no access rule"));
  }
  Principal who;
  if (!enabled()) return who;  // an anonymous admin
  if (rule->access == Access::kPublic) {
    who.role = Role::kViewer;  // no token looked at: the least role
    return who;
  }
  const auto& metadata = context.client_metadata();
  auto header = metadata.find("authorization");
  if (header == metadata.end()) {
    return absl::UnauthenticatedError(
        absl::StrCat(method,
                     ": no bearer token; this planner requires an `authorization: Bearer TOKEN` "
                     "header (galvatron --token-file FILE, or GALVATRON_TOKEN_FILE)"));
  }
  absl::string_view value(header->second.data(), header->second.size());
  if (!absl::StartsWithIgnoreCase(value, "Bearer ")) {
    return absl::UnauthenticatedError(
        absl::StrCat(method, ": the authorization header is not `Bearer TOKEN`"));
  }
  absl::string_view token = value.substr(7);
  const TokenEntry* found = nullptr;
  absl::MutexLock lock(&mu_);
  for (const TokenEntry& entry : tokens_) {
    if (SameToken(entry.token, token)) found = &entry;
  }
  if (found == nullptr) {
    return absl::UnauthenticatedError(
        absl::StrCat(method, ": the bearer token is not known to this planner"));
  }
  who.role = found->role;
  who.name = found->name;
  who.cluster = found->cluster;
  who.authenticated = true;
  if (!Allows(who.role, rule->access)) {
    return absl::PermissionDeniedError(
        absl::StrCat(method, " needs the ", AccessName(rule->access), " role",
                     rule->access == Access::kAdmin ? "" : " or admin", "; the token of ", who.name,
                     " is ", RoleName(who.role)));
  }
  return who;
}

absl::Status CheckCluster(const Principal& who, const std::string& cluster,
                          absl::string_view what) {
  if (who.cluster.empty() || who.cluster == cluster) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("the token of ", who.name,
                                                  " is limited to cluster ", who.cluster, "; ",
                                                  what, " is for cluster \"", cluster, "\""));
}

absl::Status CheckOwner(const Principal& who, const std::string& owner, absl::string_view what) {
  if (who.role == Role::kAdmin || (!who.name.empty() && who.name == owner)) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat(what, " belongs to ", owner.empty() ? "nobody (made without tokens)" : owner,
                   "; only its owner or an admin may change it, and the token of ", who.name,
                   " is ", RoleName(who.role)));
}

absl::StatusOr<Principal> GuardedService::AuthorizeCall(grpc::ServerContext* context,
                                                        absl::string_view method) const {
  absl::StatusOr<Principal> who;
  if (authorizer_ != nullptr) {
    who = authorizer_->Authorize(*context, method);
  } else if (FindRpcRule(method) == nullptr) {
    who = absl::InternalError(absl::StrCat(method, " has no access rule"));
  } else {
    who = Principal{};
  }
  if (!who.ok()) {
    spdlog::warn("denied {} from {}: {}", std::string(method), context->peer(),
                 std::string(who.status().message()));
  }
  return who;
}

absl::Status GuardedService::Unexpected(absl::string_view method, const char* what) {
  return absl::InternalError(absl::StrCat(method, " failed unexpectedly: ", what));
}

void GuardedService::Record(const Principal& who, absl::string_view method,
                            const absl::Status& status) {
  const absl::StatusCode code = status.code();
  if (code == absl::StatusCode::kDataLoss || code == absl::StatusCode::kInternal ||
      code == absl::StatusCode::kUnknown) {
    spdlog::error("{} by {}: {}: {}", std::string(method), who.display(), StatusCodeName(code),
                  std::string(status.message()));
    return;
  }
  const RpcRule* rule = FindRpcRule(method);
  if (rule != nullptr && rule->access != Access::kRead && rule->access != Access::kPublic) {
    // PollTask and Heartbeat are an agent's steady chatter: debug level.
    const bool chatter = method == "TaskService/PollTask" || method == "NodeService/Heartbeat";
    spdlog::log(chatter ? spdlog::level::debug : spdlog::level::info, "{} by {} ({}): {}",
                std::string(method), who.display(), std::string(RoleName(who.role)),
                status.ok() ? std::string("ok") : std::string(StatusCodeName(code)));
  }
}

}  // namespace galvatron::planner
