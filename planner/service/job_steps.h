// The decisions of a job's life that need no manager: checking a submission,
// which nodes a job gets, the plan request for them, whether a placement
// keeps every tensor/sequence-parallel group inside one node, and what the
// measured steps say (median, spread, ETA). job_manager.h does the rest.
//
// Thread model: pure functions of their arguments (thread-compatible).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "galvatron/v1/hardware.pb.h"
#include "galvatron/v1/job.pb.h"
#include "galvatron/v1/plan.pb.h"
#include "planner/service/placement.h"

namespace galvatron::planner {

// "job-17" -> 17; 0 when `id` is not a job id.
int64_t JobNumber(const std::string& id);

// Checks every field of a submission but the model (which needs the model
// manager): INVALID_ARGUMENT naming the field, the value and what was
// expected. Fills the training defaults into `training`.
absl::Status ValidateSubmission(const v1::SubmitJobRequest& request, v1::TrainingOptions* training);

// The plan request for a job that runs on `nodes` (alive, equal devices):
// the cluster's latest hardware profile, cut to the job's nodes when it
// holds more (`hardware` is that profile).
absl::StatusOr<v1::PlanRequest> JobPlanRequest(const v1::Job& job, const v1::ModelSpec& model,
                                               const v1::HardwareProfile& hardware,
                                               const std::vector<v1::Node>& nodes);

// OK when every tensor/sequence-parallel group of the plan (every layer's,
// and the embedding's vocab_tp) has all its ranks on one node of
// `placement`; else FAILED_PRECONDITION naming the layer, the group and the
// nodes it would span.
absl::Status CheckGroupsInsideNodes(const v1::Plan& plan, const Placement& placement);

// The median of `values` (0 when empty).
double Median(std::vector<double> values);
// (p90 - p10) / median of `values` (0 with fewer than 3 values).
double RelativeSpread(std::vector<double> values);

// The steps that count as measured: those after the warm-up (the first
// step, or the first tenth of a run longer than 10 steps).
int64_t WarmupSteps(int64_t total_steps);

}  // namespace galvatron::planner
