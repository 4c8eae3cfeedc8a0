// Human-readable views of API messages (aligned tables and summaries), shared
// by the `galvatron` CLI, `galvatron-planner search` and the web dashboard. Thread-compatible: pure
// functions and a value type.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/hardware.pb.h"
#include "galvatron/v1/job.pb.h"
#include "galvatron/v1/model.pb.h"
#include "galvatron/v1/plan.pb.h"
#include "galvatron/v1/task.pb.h"

namespace galvatron::text {

// Columns padded to their widest cell, two spaces apart.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// "MODEL_FAMILY_LLAMA" → "llama" (the enum prefix dropped, lower case).
std::string ShortEnumName(const std::string& full_name, const std::string& prefix);

std::string FormatTimestamp(const google::protobuf::Timestamp& time);

std::string ModelListTable(const std::vector<v1::ModelSpec>& models);
std::string ModelDetails(const v1::ModelSpec& model);

std::string HardwareProfileDetails(const v1::HardwareProfile& profile);
std::string ComputeProfileDetails(const v1::ComputeProfile& profile);

// "layers 0-19  tp1 dp8 zero3 ckpt" lines: runs of equal strategies merged.
std::vector<std::string> CompressLayerStrategies(const v1::Plan& plan);
std::string PlanListTable(const std::vector<v1::Plan>& plans);
std::string PlanDetails(const v1::Plan& plan);
// A cluster's calibration: factors, errors, and one line per sample (the
// job, its prediction against its measurement, why it was not fitted).
std::string CalibrationDetails(const v1::Calibration& c);

// "2x cpu", "8x cuda NVIDIA H100 80GB HBM3", or "3 devices" when they differ.
std::string DeviceSummary(const v1::Node& node);
// NAME CLUSTER STATE HOST CORES MEMORY DEVICES LAST_HEARTBEAT.
std::string NodeListTable(const std::vector<v1::Node>& nodes);

// Tasks of the agents: one line each; every field of one.
std::string TaskListTable(const std::vector<v1::Task>& tasks);
std::string TaskDetails(const v1::Task& task);
// "probe", "profile gpt-tiny".
std::string TaskWhat(const v1::Task& task);

// Training jobs.
// "running", "succeeded", ...
std::string JobStateName(v1::JobState state);
// SUCCEEDED, FAILED or CANCELLED: the job will not change state again.
bool JobEnded(v1::JobState state);
// "42s", "3m 05s", "2h 03m", "1d 04h"; "-" for 0 or less.
std::string FormatDuration(double seconds);
// The steps the job runs (its training.steps, 10 when 0).
int64_t JobTotalSteps(const v1::Job& job);
// ID MODEL CLUSTER STATE PROGRESS WORLD LOSS ETA CREATED MESSAGE, one row a job.
std::string JobListTable(const std::vector<v1::Job>& jobs);
// Everything `galvatron jobs show` promises: state and reason, plan (its id,
// and with `plan` its shape), ranks, what was asked, progress, ETA, loss and
// throughput, predicted against measured step time (breakdown, per stage),
// checkpoint, failure (rank, node, exit status, log tail), history.
std::string JobDetails(const v1::Job& job, const v1::Plan* plan = nullptr);
// "job-3 running: launched 4 ranks" (one state change, its reason's first line).
std::string JobTransitionLine(const std::string& job_id, const v1::JobTransition& transition);
// One step: "step 40/100  loss 2.3456  0.150 s/step  1234 tokens/s ...";
// `total_steps` 0 leaves out "/100".
std::string StepMetricsLine(const v1::StepMetrics& metrics, int64_t total_steps = 0);

}  // namespace galvatron::text
