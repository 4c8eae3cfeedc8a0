// PlanManager owns the plans table. Plans are immutable and content-addressed:
// a plan's id is the hash of the inputs that produced it, so storing the same
// plan twice keeps the first.
#pragma once

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "planner/service/access.h"
#include "planner/service/calibration_manager.h"
#include "planner/service/compute_profile_manager.h"
#include "planner/service/hardware_profile_manager.h"
#include "planner/service/model_manager.h"
#include "planner/service/search_queue.h"
#include "planner/service/task_manager.h"
#include "planner/store/store.h"

namespace galvatron::planner {

struct PlanManagerOptions {
  // Seconds a search may take when the request sets none
  // (galvatron-planner --search-time-limit).
  double default_time_limit_seconds = 120;
  // How many searches run at once, how many wait, and with how many threads
  // (search_queue.h); queue.threads 0 = all cores.
  SearchQueueOptions queue;
};

// Thread-safe: no state of its own beyond the thread-safe store, the
// thread-safe managers it reads (models, hardware and compute profiles), the
// task manager it asks to measure what a plan lacks, and the thread-safe
// queue its searches run on.
class PlanManager final : public v1::PlanService::Service, public GuardedService {
 public:
  PlanManager(store::Store* store, ModelManager* models, HardwareProfileManager* hardware,
              ComputeProfileManager* compute, PlanManagerOptions options = {},
              TaskManager* tasks = nullptr, CalibrationManager* calibrations = nullptr);

  // Resolves the request's inputs, returns the stored plan for them or
  // searches (on the queue, sharing the search of equal inputs already
  // queued or running: `call` says who asks and whether they still wait;
  // its key is the plan id), stores and returns a new one. A default-mode
  // request plans with the cluster's latest calibration unless it says
  // `uncalibrated`.
  absl::StatusOr<v1::Plan> Request(const v1::PlanRequest& request, SearchCall call = {});

  // Stops the searches and answers the calls waiting for them UNAVAILABLE.
  void Shutdown() { queue_.Shutdown(); }
  SearchQueue& search_queue() { return queue_; }

  // Stores `plan` under plan.id() unless a plan with that id exists; returns
  // the stored plan and whether it was new.
  absl::StatusOr<std::pair<v1::Plan, bool>> Store(v1::Plan plan);
  absl::StatusOr<v1::Plan> Get(const std::string& id);
  absl::StatusOr<v1::ListPlansResponse> List(const v1::ListPlansRequest& request);

  grpc::Status RequestPlan(grpc::ServerContext* context, const v1::PlanRequest* request,
                           v1::Plan* response) override;
  grpc::Status GetPlan(grpc::ServerContext* context, const v1::GetPlanRequest* request,
                       v1::Plan* response) override;
  grpc::Status ListPlans(grpc::ServerContext* context, const v1::ListPlansRequest* request,
                         v1::ListPlansResponse* response) override;
  grpc::Status GetCalibration(grpc::ServerContext* context,
                              const v1::GetCalibrationRequest* request,
                              v1::Calibration* response) override;

 private:
  store::Store* const store_;
  ModelManager* const models_;
  HardwareProfileManager* const hardware_;
  ComputeProfileManager* const compute_;
  const PlanManagerOptions options_;
  TaskManager* const tasks_;                // null: never measure, estimate
  CalibrationManager* const calibrations_;  // null: never calibrate
  SearchQueue queue_;
};

}  // namespace galvatron::planner
