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
  // The cluster's latest calibration, for a plan made from the hardware
  // profile `hardware_profile_id`: none when it has no fitted sample, or
  // when its samples were measured against another profile (a re-probe, or
  // an inline profile of a what-if request) — a calibration only corrects
  // the profile it was learned on.
  absl::StatusOr<std::optional<v1::Calibration>> Usable(const std::string& cluster,
                                                        const std::string& hardware_profile_id);

  // Adds the finished job (its measured step time against the uncalibrated
  // prediction of `plan`, the plan it ran) to its cluster's samples,
  // replacing an earlier sample of the same job, refits and stores the new
  // version. A job that cannot teach anything (a galvatron-mode plan, a plan
  // for another cluster, from another or an inline hardware profile, too few
  // or too noisy steps) is kept as an unused sample with the reason. The
  // cluster keeps its newest kMaxSamples samples.
  absl::StatusOr<v1::Calibration> Record(const v1::Job& job, const v1::Plan& plan)
      ABSL_LOCKS_EXCLUDED(mu_);

  static constexpr int kMaxSamples = 200;

 private:
  store::Store* const store_;
  HardwareProfileManager* const hardware_;
  const cost::CalibrationOptions options_;
  absl::Mutex mu_;
};

}  // namespace galvatron::planner
