// CalibrationManager owns the calibrations table: per cluster, the cost
// model's correction learned from the cluster's finished jobs
// (planner/cost/calibration.h, docs/calibration.md), a new version per
// refit, each with every sample it was fitted from.
//
// JobManager records each job that succeeds; PlanManager plans default-mode
// requests on the cluster with its latest calibration.
#pragma once

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "galvatron/v1/job.pb.h"
#include "galvatron/v1/plan.pb.h"
#include "planner/cost/calibration.h"
#include "planner/service/hardware_profile_manager.h"
#include "planner/store/store.h"

namespace galvatron::planner {

// Thread-safe: Record's read-refit-append runs under mu_, so two jobs that
// end together both count; reads go to the thread-safe store.
class CalibrationManager {
 public:
  CalibrationManager(store::Store* store, HardwareProfileManager* hardware,
                     cost::CalibrationOptions options = {})
      : store_(store), hardware_(hardware), options_(options) {}

  // The cluster's calibration at `version` (0 = latest); NOT_FOUND when it
  // has none (no job on it has succeeded yet).
  absl::StatusOr<v1::Calibration> Get(const std::string& cluster, int64_t version);
  // The latest calibration with at least one fitted sample, if any.
  absl::StatusOr<std::optional<v1::Calibration>> Usable(const std::string& cluster);

  // Adds the finished job (its measured step time against the uncalibrated
  // prediction of `plan`, the plan it ran) to its cluster's samples,
  // replacing an earlier sample of the same job, refits and stores the new
  // version. A job that cannot teach anything (a galvatron-mode plan, a plan
  // for another cluster or another hardware profile, too few or too noisy
  // steps) is kept as an unused sample with the reason.
  absl::StatusOr<v1::Calibration> Record(const v1::Job& job, const v1::Plan& plan)
      ABSL_LOCKS_EXCLUDED(mu_);

 private:
  store::Store* const store_;
  HardwareProfileManager* const hardware_;
  const cost::CalibrationOptions options_;
  absl::Mutex mu_;
};

}  // namespace galvatron::planner
