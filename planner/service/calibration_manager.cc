#include "planner/service/calibration_manager.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/model_validation.h"
#include "common/stable_hash.h"
#include "common/status_macros.h"
#include "planner/search/plan_builder.h"
#include "planner/service/resource_rows.h"
#include "spdlog/spdlog.h"

namespace galvatron::planner {

using store::Table;

absl::StatusOr<v1::Calibration> CalibrationManager::Get(const std::string& cluster,
                                                        int64_t version) {
  RETURN_IF_ERROR(ValidateName("cluster", cluster));
  if (version < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("version: ", version, ", must be >= 0 (0 = latest)"));
  }
  ASSIGN_OR_RETURN(auto row, store_->Get(Table::kCalibrations, cluster, version));
  if (!row) {
    return absl::NotFoundError(
        version == 0
            ? absl::StrCat("cluster \"", cluster,
                           "\" has no calibration yet: one is fitted when a job on it "
                           "succeeds (galvatron jobs submit)")
            : absl::StrCat("cluster \"", cluster, "\" has no calibration version ", version));
  }
  return DecodeRow<v1::Calibration>(Table::kCalibrations, *row);
}

absl::StatusOr<std::optional<v1::Calibration>> CalibrationManager::Usable(
    const std::string& cluster, const std::string& hardware_profile_id) {
  auto latest = Get(cluster, 0);
  if (absl::IsNotFound(latest.status())) return std::optional<v1::Calibration>();
  if (!latest.ok()) return latest.status();
  if (latest->samples_used() == 0) return std::optional<v1::Calibration>();
  for (const v1::CalibrationSample& s : latest->samples()) {
    if (s.used() && s.hardware_profile_id() != hardware_profile_id) {
      return std::optional<v1::Calibration>();
    }
  }
  return std::optional<v1::Calibration>(std::move(*latest));
}

absl::StatusOr<v1::Calibration> CalibrationManager::Record(const v1::Job& job,
                                                           const v1::Plan& plan) {
  absl::MutexLock lock(&mu_);
  v1::Calibration calibration;
  auto previous = Get(job.cluster(), 0);
  if (previous.ok()) {
    calibration = std::move(*previous);
  } else if (!absl::IsNotFound(previous.status())) {
    return previous.status();
  }
  calibration.set_cluster(job.cluster());
  calibration.clear_id();
  calibration.clear_version();
  calibration.clear_created_at();

  // The cluster's hardware profile now: samples taken against another one
  // predicted with other communication times and are not fitted.
  std::string hardware_id;
  v1::GetHardwareProfileRequest get;
  get.set_cluster(job.cluster());
  if (auto hardware = hardware_->Get(get); hardware.ok()) {
    hardware_id = hardware->id();
  } else if (!absl::IsNotFound(hardware.status())) {
    return hardware.status();
  }

  const v1::StepTimeComparison& measured = job.step_time();
  const v1::Prediction& uncalibrated =
      plan.has_raw_prediction() ? plan.raw_prediction() : plan.prediction();
  std::optional<cost::MeasuredWaits> waits;
  if (measured.waits_measured()) {
    waits = cost::MeasuredWaits{measured.measured_communication_wait_seconds(),
                                measured.measured_sync_wait_seconds()};
  }
  v1::CalibrationSample sample =
      cost::MakeCalibrationSample(uncalibrated, measured.measured_seconds(),
                                  measured.measured_spread(), measured.steps_measured(), waits);
  sample.set_job_id(job.id());
  sample.set_plan_id(plan.id());
  sample.set_hardware_profile_id(hardware_id);
  if (plan.mode() != v1::COST_MODEL_MODE_DEFAULT) {
    sample.set_excluded_reason(
        search::IsGalvatronMode(plan.mode())
            ? "its plan is a galvatron-mode plan (Galvatron's cost model)"
            : "its plan was not searched by this planner (no cost-model mode)");
  } else if (plan.cluster() != job.cluster()) {
    sample.set_excluded_reason(
        absl::StrCat("its plan was made for cluster \"", plan.cluster(), "\""));
  } else if (plan.hardware_profile_id().empty()) {
    sample.set_excluded_reason(
        "its plan was made from a hardware profile given inline, not the cluster's");
  } else if (plan.hardware_profile_id() != hardware_id) {
    sample.set_excluded_reason(absl::StrCat("its plan was made from hardware profile ",
                                            plan.hardware_profile_id(), ", the cluster's is ",
                                            hardware_id.empty() ? "gone" : hardware_id));
  }

  // Replace the job's earlier sample; keep the newest kMaxSamples.
  auto* samples = calibration.mutable_samples();
  for (int i = samples->size() - 1; i >= 0; --i) {
    if (samples->Get(i).job_id() == job.id()) samples->DeleteSubrange(i, 1);
  }
  *samples->Add() = std::move(sample);
  if (samples->size() > kMaxSamples) samples->DeleteSubrange(0, samples->size() - kMaxSamples);
  // Samples measured against an older hardware profile stay on record but
  // are not fitted (RefitCalibration judges them by the profile's id).
  cost::CalibrationOptions options = options_;
  options.hardware_profile_id = hardware_id;
  cost::RefitCalibration(options, &calibration);

  store::NewRow row;
  row.key = job.cluster();
  row.id_prefix = absl::StrCat("cal-", job.cluster(), "-");
  row.tag = job.cluster();
  row.payload = DeterministicBytes(calibration);
  ASSIGN_OR_RETURN(store::Row stored, store_->Append(Table::kCalibrations, row));
  ASSIGN_OR_RETURN(v1::Calibration result,
                   DecodeRow<v1::Calibration>(Table::kCalibrations, stored));
  const v1::CalibrationSample& added = result.samples(result.samples_size() - 1);
  if (added.used()) {
    spdlog::info("calibration {} of cluster {}: {}", result.id(), result.cluster(), result.note());
  } else {
    spdlog::info("calibration {} of cluster {}: job {} not fitted: {}", result.id(),
                 result.cluster(), job.id(), added.ignored_reason());
  }
  return result;
}

}  // namespace galvatron::planner
