#include "planner/service/plan_manager.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/model_validation.h"
#include "common/rpc_status.h"
#include "common/status_macros.h"
#include "planner/service/resource_rows.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

using store::Table;

namespace {

// Plan ids are lower-case hex digests, optionally prefixed ("plan-...").
absl::Status ValidatePlanId(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 128;
  for (char c : id) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  }
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "id: \"", id, "\", must be 1-128 characters of [a-z0-9-]"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::pair<v1::Plan, bool>> PlanManager::Store(v1::Plan plan) {
  RETURN_IF_ERROR(ValidatePlanId(plan.id()));
  plan.clear_created_at();
  store::NewRow row;
  row.key = plan.id();
  row.id_prefix = plan.id() + "#";
  row.tag = plan.cluster();
  row.payload = EncodePayload(plan);
  ASSIGN_OR_RETURN(auto stored, store_->InsertIfAbsent(Table::kPlans, row));
  if (stored.second) spdlog::info("plan {} stored", plan.id());
  ASSIGN_OR_RETURN(v1::Plan result, DecodeRow<v1::Plan>(Table::kPlans, stored.first));
  return std::make_pair(std::move(result), stored.second);
}

absl::StatusOr<v1::Plan> PlanManager::Get(const std::string& id) {
  RETURN_IF_ERROR(ValidatePlanId(id));
  ASSIGN_OR_RETURN(auto row, store_->Get(Table::kPlans, id, 0));
  if (!row) return absl::NotFoundError(absl::StrCat("plan \"", id, "\" not found"));
  return DecodeRow<v1::Plan>(Table::kPlans, *row);
}

absl::StatusOr<v1::ListPlansResponse> PlanManager::List(
    const v1::ListPlansRequest& request) {
  store::ListOptions options;
  if (!request.cluster().empty()) {
    RETURN_IF_ERROR(ValidateName("cluster", request.cluster()));
    options.tag = request.cluster();
  }
  if (!request.model().empty()) RETURN_IF_ERROR(ValidateName("model", request.model()));
  auto keep = [&](const v1::Plan& plan) {
    return request.model().empty() || plan.model() == request.model();
  };
  v1::ListPlansResponse response;
  std::string next;
  ASSIGN_OR_RETURN(std::vector<v1::Plan> plans,
                   ListPage<v1::Plan>(store_, Table::kPlans, options, request.page_token(),
                                      request.page_size(), keep, &next));
  for (auto& p : plans) *response.add_plans() = std::move(p);
  response.set_next_page_token(next);
  return response;
}

grpc::Status PlanManager::GetPlan(grpc::ServerContext*, const v1::GetPlanRequest* request,
                                  v1::Plan* response) {
  return Reply(Get(request->id()), response);
}

grpc::Status PlanManager::ListPlans(grpc::ServerContext*,
                                    const v1::ListPlansRequest* request,
                                    v1::ListPlansResponse* response) {
  return Reply(List(*request), response);
}

}  // namespace galvatron::planner
