// PlanManager owns the plans table. Plans are immutable and content-addressed:
// a plan's id is the hash of the inputs that produced it, so storing the same
// plan twice keeps the first.
#pragma once

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "planner/store/store.h"

namespace galvatron::planner {

// Thread-safe: no state of its own beyond the thread-safe store.
class PlanManager final : public v1::PlanService::Service {
 public:
  explicit PlanManager(store::Store* store) : store_(store) {}

  // Stores `plan` under plan.id() unless a plan with that id exists; returns
  // the stored plan and whether it was new.
  absl::StatusOr<std::pair<v1::Plan, bool>> Store(v1::Plan plan);
  absl::StatusOr<v1::Plan> Get(const std::string& id);
  absl::StatusOr<v1::ListPlansResponse> List(const v1::ListPlansRequest& request);

  grpc::Status GetPlan(grpc::ServerContext* context, const v1::GetPlanRequest* request,
                       v1::Plan* response) override;
  grpc::Status ListPlans(grpc::ServerContext* context,
                         const v1::ListPlansRequest* request,
                         v1::ListPlansResponse* response) override;

 private:
  store::Store* const store_;
};

}  // namespace galvatron::planner
