#include "planner/search/plan_builder.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/plan_validation.h"
#include "common/stable_hash.h"
#include "common/status_macros.h"
#include "planner/cost/calibration.h"
#include "planner/cost/cost_model.h"

namespace galvatron::search {

namespace {

// The engine's version, per cost-model mode: bumped whenever the search or
// that mode's cost model changes results, so stored plans of an older engine
// are not returned for the same inputs, while a mode whose results did not
// change keeps its plan ids.
//   galvatron mode:          1 (reproduces Galvatron; unchanged since plan ids exist)
//   default mode:            2 (a pipeline is as slow as its slowest stage)
//   galvatron-extended mode: 1
const char* EngineVersion(v1::CostModelMode mode) {
  switch (mode) {
    case v1::COST_MODEL_MODE_GALVATRON:
      return "galvatron-cpp-search/1";
    case v1::COST_MODEL_MODE_GALVATRON_EXTENDED:
      return "galvatron-cpp-search/extended-1";
    default:
      return "galvatron-cpp-search/2";
  }
}

// Two independent 64-bit FNV-1a streams (different starting states) = 128
// bits. Each added piece is prefixed by its length (8 bytes, little-endian),
// so ("ab", "c") and ("a", "bc") hash differently.
class Hasher {
 public:
  void Add(const std::string& bytes) {
    char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<char>(bytes.size() >> (8 * i));
    Mix(absl::string_view(length, sizeof(length)));
    Mix(bytes);
  }
  std::string Hex() const { return absl::StrFormat("%016x%016x", a_, b_); }

 private:
  void Mix(absl::string_view bytes) {
    a_ = Fnv1a64(bytes, a_);
    b_ = Fnv1a64(bytes, b_);
  }

  uint64_t a_ = kFnv1a64OffsetBasis;
  uint64_t b_ = 0x84222325cbf29ce4ULL;  // the offset basis with its halves swapped
};

absl::Status ToSearchOptions(const v1::PlanRequest& r, SearchOptions* o) {
  if (r.memory_budget_bytes() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("memory_budget_bytes: ", r.memory_budget_bytes(), ", must be > 0"));
  }
  if (r.memory_budget_bytes() > (int64_t{1} << 50)) {
    return absl::InvalidArgumentError(
        absl::StrCat("memory_budget_bytes: ", r.memory_budget_bytes(), ", must be <= 1 PiB"));
  }
  o->memory_budget_mb = static_cast<double>(r.memory_budget_bytes()) / (1024.0 * 1024.0);
  switch (r.batch_case()) {
    case v1::PlanRequest::kGlobalBatch:
      if (r.global_batch() < 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("global_batch: ", r.global_batch(), ", must be >= 1"));
      }
      o->global_batch_min = o->global_batch_max = r.global_batch();
      o->global_batch_step = 1;
      break;
    case v1::PlanRequest::kGlobalBatchRange: {
      const auto& g = r.global_batch_range();
      if (g.min() < 1 || g.max() < g.min() || g.step() < 1) {
        return absl::InvalidArgumentError(absl::StrCat("global_batch_range: ", g.min(), "..",
                                                       g.max(), ":", g.step(),
                                                       ", expected 1 <= min <= max and step >= 1"));
      }
      if ((g.max() - g.min()) / g.step() > 4096) {
        return absl::InvalidArgumentError(absl::StrCat("global_batch_range: ", g.min(), "..",
                                                       g.max(), ":", g.step(),
                                                       ", at most 4096 batch sizes per search"));
      }
      o->global_batch_min = g.min();
      o->global_batch_max = g.max();
      o->global_batch_step = g.step();
      break;
    }
    default:
      return absl::InvalidArgumentError(
          "global_batch: not set, expected global_batch or global_batch_range");
  }
  for (int i = 0; i < r.disable_size(); ++i) {
    if (DisableNames().count(r.disable(i)) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("disable[", i, "]: \"", r.disable(i),
                       "\", expected one of tp, sp, megatron_sp, pp, "
                       "dp, sdp, zero1, zero2, ckpt, embedding_tp, embedding_sp"));
    }
    o->disabled.insert(r.disable(i));
  }
  if (r.max_tp() < 0 || r.max_pp() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        r.max_tp() < 0 ? "max_tp: " : "max_pp: ", r.max_tp() < 0 ? r.max_tp() : r.max_pp(),
        ", must be >= 0 (0 = no limit)"));
  }
  o->max_tp = r.max_tp();
  o->max_pp = r.max_pp();
  if (r.time_limit_seconds() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("time_limit_seconds: ", r.time_limit_seconds(), ", must be >= 0 (0 = none)"));
  }
  o->time_limit_seconds = r.time_limit_seconds();
  if (r.top_k() < 0 || r.top_k() > 100) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k: ", r.top_k(), ", must be between 0 (default 5) and 100"));
  }
  o->top_k = r.top_k() == 0 ? 5 : r.top_k();
  if (r.micro_batches() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("micro_batches: ", r.micro_batches(), ", must be >= 0 (0 = search it)"));
  }
  o->fixed_chunks = r.micro_batches();
  o->extended_space = r.mode() == v1::COST_MODEL_MODE_GALVATRON_EXTENDED;
  if (r.galvatron().has_fine_grained()) {
    if (!IsGalvatronMode(r.mode())) {
      return absl::InvalidArgumentError(
          "galvatron.fine_grained: a Galvatron setting, expected mode galvatron or "
          "galvatron-extended");
    }
    o->coarse = !r.galvatron().fine_grained();
  }
  return absl::OkStatus();
}

// The cost-model options a request asks for (the schedule aside).
absl::StatusOr<cost::CostOptions> CostOptionsFor(const v1::PlanRequest& request,
                                                 const v1::ModelSpec& model) {
  cost::CostOptions cost_options;
  cost_options.mode =
      IsGalvatronMode(request.mode()) ? cost::Mode::kGalvatron : cost::Mode::kDefault;
  if (request.seq_len() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("seq_len: ", request.seq_len(), ", must be >= 0 (0 = the model's)"));
  }
  cost_options.seq_len = request.seq_len();
  switch (request.default_dp_type()) {
    case v1::DATA_PARALLEL_TYPE_UNSPECIFIED:
    case v1::DATA_PARALLEL_TYPE_DDP:
      cost_options.default_dp_type = cost::DpType::kDdp;
      break;
    case v1::DATA_PARALLEL_TYPE_ZERO2:
      cost_options.default_dp_type = cost::DpType::kZero2;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("default_dp_type: ", v1::DataParallelType_Name(request.default_dp_type()),
                       ", expected DATA_PARALLEL_TYPE_DDP or DATA_PARALLEL_TYPE_ZERO2"));
  }
  const v1::GalvatronSettings& g = request.galvatron();
  if (g.ByteSizeLong() > 0 && !IsGalvatronMode(request.mode())) {
    return absl::InvalidArgumentError(
        "galvatron: Galvatron's search settings, expected mode galvatron or galvatron-extended");
  }
  if (g.has_sequence_parallel()) cost_options.sequence_parallel = g.sequence_parallel();
  if (g.has_global_memory_buffer()) cost_options.global_memory_buffer = g.global_memory_buffer();
  if (g.has_async_grad_reduce()) cost_options.async_grad_reduce = g.async_grad_reduce();
  if (g.has_costmodel_coe()) {
    if (!(std::isfinite(g.costmodel_coe()) && g.costmodel_coe() > 0)) {
      return absl::InvalidArgumentError(absl::StrCat("galvatron.costmodel_coe: ", g.costmodel_coe(),
                                                     ", expected a finite number > 0"));
    }
    cost_options.costmodel_coe = g.costmodel_coe();
  }
  if (SequenceSplitRefusal(model.family()) != nullptr) {
    // Galvatron's sequence_parallel makes every TP layer Megatron-SP (its
    // space has no per-layer choice); these models' sequences do not split.
    cost_options.sequence_parallel = false;
  }
  return cost_options;
}

// What `inputs`' cost model, its profiles scaled by inputs.calibration when
// `calibrated`, predicts for `plan` (with the plan's schedule).
absl::StatusOr<v1::Prediction> Predict(const PlanInputs& inputs, bool calibrated,
                                       const v1::Plan& plan) {
  ASSIGN_OR_RETURN(cost::CostOptions options, CostOptionsFor(inputs.request, inputs.model));
  options.schedule = plan.schedule() == v1::PIPELINE_SCHEDULE_GPIPE ? cost::Schedule::kGpipe
                                                                    : cost::Schedule::k1F1B;
  std::unique_ptr<cost::CostModel> model;
  if (calibrated && inputs.calibration.has_value()) {
    v1::HardwareProfile hardware = inputs.hardware;
    std::vector<v1::ComputeProfile> compute = inputs.compute;
    cost::ApplyCalibration(*inputs.calibration, options.analytic_efficiency, &hardware, &compute);
    options.gradient_sync_factor = cost::GradientSyncFactor(*inputs.calibration);
    ASSIGN_OR_RETURN(model, cost::CostModel::Create(inputs.model, hardware, compute, options));
  } else {
    ASSIGN_OR_RETURN(
        model, cost::CostModel::Create(inputs.model, inputs.hardware, inputs.compute, options));
  }
  return PredictPlan(*model, plan);
}

}  // namespace

bool IsGalvatronMode(v1::CostModelMode mode) {
  return mode == v1::COST_MODEL_MODE_GALVATRON || mode == v1::COST_MODEL_MODE_GALVATRON_EXTENDED;
}

std::string PlanId(const PlanInputs& inputs) {
  Hasher h;
  h.Add(EngineVersion(inputs.request.mode()));
  v1::ModelSpec model = inputs.model;
  model.clear_version();
  model.clear_created_at();
  model.clear_builtin();
  model.clear_owner();
  h.Add(DeterministicBytes(model));
  // A profile's measurement-quality record changes no figure of the plan,
  // only whether the plan warns (NoisyProfileWarnings): what is hashed is the
  // profile without it, plus kNoisyMark after a profile flagged noisy, so
  // that a quiet record leaves the id as it was without one, and a plan
  // stored with warnings is not returned for a profile without the flag.
  static constexpr char kNoisyMark[] = "measurement flagged noisy";
  v1::HardwareProfile hardware = inputs.hardware;
  hardware.clear_id();
  hardware.clear_version();
  hardware.clear_created_at();
  hardware.clear_uploaded_by();
  hardware.clear_restored_from_version();
  const bool hardware_noisy = hardware.quality().noisy();
  hardware.clear_quality();
  h.Add(DeterministicBytes(hardware));
  if (hardware_noisy) h.Add(kNoisyMark);
  std::vector<std::pair<std::string, bool>> compute;  // bytes, noisy
  for (v1::ComputeProfile p : inputs.compute) {
    p.clear_id();
    p.clear_version();
    p.clear_created_at();
    p.clear_uploaded_by();
    p.clear_restored_from_version();
    const bool noisy = p.quality().noisy();
    p.clear_quality();
    compute.emplace_back(DeterministicBytes(p), noisy);
  }
  std::sort(compute.begin(), compute.end());
  for (const auto& [bytes, noisy] : compute) {
    h.Add(bytes);
    if (noisy) h.Add(kNoisyMark);
  }
  v1::PlanRequest request = inputs.request;
  // What names the inputs does not change the plan: the resolved inputs do.
  request.clear_model();
  request.clear_model_version();
  request.clear_model_spec();
  request.clear_cluster();
  request.clear_hardware();
  request.clear_hardware_profile_version();  // the profile it names is hashed
  // Asking for no calibration is what no calibration gives.
  request.clear_uncalibrated();
  // No Galvatron setting is Galvatron's defaults, as before the field existed.
  if (request.galvatron().ByteSizeLong() == 0) request.clear_galvatron();
  h.Add(DeterministicBytes(request));
  if (inputs.calibration.has_value()) {
    // Its factors decide the plan; a new version with the same factors (a
    // job that was not fitted) finds the stored plan.
    const v1::Calibration& c = *inputs.calibration;
    h.Add(absl::StrFormat("calibration compute %.17g communication %.17g", c.compute_factor(),
                          c.communication_factor()));
    // A gradient-sync factor of its own counts; one equal to communication's
    // (as every calibration had before sync was fitted apart) keeps the id.
    if (cost::SyncFactor(c) != c.communication_factor()) {
      h.Add(absl::StrFormat("sync %.17g", cost::SyncFactor(c)));
    }
  }
  return absl::StrCat("plan-", h.Hex());
}

absl::StatusOr<v1::Prediction> PredictPlanFor(const PlanInputs& inputs, const v1::Plan& plan) {
  return Predict(inputs, true, plan);
}

std::vector<std::string> NoisyProfileWarnings(const PlanInputs& inputs) {
  auto numbers = [](const v1::MeasurementQuality& q) {
    return absl::StrFormat(
        "spread %.3g (threshold %.3g), load %s (threshold %.3g), %d %s", q.spread(),
        q.spread_threshold(),
        q.load() < 0 ? std::string("unknown") : absl::StrFormat("%.2f", q.load()),
        q.load_threshold(), q.attempts(), q.attempts() == 1 ? "attempt" : "attempts at most");
  };
  auto id = [](const std::string& id) { return id.empty() ? std::string("(without an id)") : id; };
  std::vector<std::string> warnings;
  const v1::HardwareProfile& hardware = inputs.hardware;
  if (hardware.quality().noisy()) {
    warnings.push_back(absl::StrCat(
        "hardware profile ", id(hardware.id()), " of cluster ", hardware.cluster(),
        " was measured noisily (", numbers(hardware.quality()),
        "): the communication times of this plan may be off; probe again on a quiet machine "
        "(galvatron profiles probe)"));
  }
  for (const v1::ComputeProfile& p : inputs.compute) {
    if (!p.quality().noisy()) continue;
    warnings.push_back(absl::StrCat(
        "compute profile ", id(p.id()), " of layer type ", p.layer_type(),
        " was measured noisily (", numbers(p.quality()),
        "): the compute times of this plan may be off; measure it again on a quiet machine "
        "(galvatron profiles measure)"));
  }
  return warnings;
}

namespace {

// The inputs are checked against physical bounds where they enter, but
// their combination may still overflow; a plan whose prediction is not a
// finite positive time is refused, naming what it came from, rather than
// answered with an infinite or negative throughput.
absl::Status CheckPredictionIsPhysical(const PlanInputs& inputs, const v1::Plan& plan) {
  const v1::Prediction& p = plan.prediction();
  const auto fine = [](double v) { return std::isfinite(v) && v > 0; };
  if (fine(p.iteration_seconds()) && fine(p.samples_per_second())) return absl::OkStatus();
  std::vector<std::string> compute;
  for (const v1::ComputeProfile& c : inputs.compute) {
    compute.push_back(c.id().empty() ? c.layer_type() : c.id());
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "the best plan's predicted iteration takes ", p.iteration_seconds(), " s (",
      p.samples_per_second(), " samples/s), which no hardware does; it was computed from model ",
      inputs.model.name(), ", hardware profile ",
      inputs.hardware.id().empty() ? inputs.hardware.cluster() : inputs.hardware.id(),
      " and compute profiles [", absl::StrJoin(compute, ", "),
      "]: check their times and bandwidths"));
}

}  // namespace

absl::StatusOr<SearchInputProfiles> InputProfilesFor(const PlanInputs& inputs, int batch_sizes) {
  if (batch_sizes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_sizes: ", batch_sizes, ", expected >= 1"));
  }
  ASSIGN_OR_RETURN(cost::CostOptions options, CostOptionsFor(inputs.request, inputs.model));
  v1::HardwareProfile hardware = inputs.hardware;
  std::vector<v1::ComputeProfile> compute = inputs.compute;
  if (inputs.calibration.has_value()) {
    cost::ApplyCalibration(*inputs.calibration, options.analytic_efficiency, &hardware, &compute);
    options.gradient_sync_factor = cost::GradientSyncFactor(*inputs.calibration);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<cost::CostModel> model,
                   cost::CostModel::Create(inputs.model, hardware, compute, options));
  return SearchInputProfiles{model->model(), model->InputProfiles(hardware.cluster(), batch_sizes)};
}

absl::StatusOr<v1::Plan> BuildPlan(const PlanInputs& inputs, const PlanBuildOptions& build) {
  const v1::PlanRequest& request = inputs.request;
  SearchOptions options;
  RETURN_IF_ERROR(ToSearchOptions(request, &options));
  if (SequenceSplitRefusal(inputs.model.family()) != nullptr) {
    // The runtime splits none of these sequences (ViT: the class token; T5:
    // the activation holds the encoder's and the decoder's sequences; Swin:
    // windows of a 2-D grid), so no plan may: no Ulysses, no Megatron-SP, for
    // layers or the embedding.
    options.disabled.insert({"sp", "megatron_sp", "embedding_sp"});
  }
  options.threads = build.threads;
  options.progress = build.progress;
  options.cancelled = build.cancelled;

  ASSIGN_OR_RETURN(cost::CostOptions cost_options, CostOptionsFor(request, inputs.model));
  if (cost_options.mode == cost::Mode::kGalvatron && !cost_options.sequence_parallel) {
    // Galvatron prices a tensor-parallel vocabulary only with Megatron-SP
    // (its embedding cost asserts sequence_parallel when vtp > 1), so its
    // search cannot run such a candidate without it: neither does ours.
    options.disabled.insert("embedding_tp");
  }
  std::vector<cost::Schedule> schedules;
  for (int i = 0; i < request.schedules_size(); ++i) {
    switch (request.schedules(i)) {
      case v1::PIPELINE_SCHEDULE_GPIPE:
        schedules.push_back(cost::Schedule::kGpipe);
        break;
      case v1::PIPELINE_SCHEDULE_1F1B:
        schedules.push_back(cost::Schedule::k1F1B);
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("schedules[", i, "]: ", v1::PipelineSchedule_Name(request.schedules(i)),
                         ", expected PIPELINE_SCHEDULE_GPIPE or PIPELINE_SCHEDULE_1F1B"));
    }
  }
  if (schedules.empty()) {
    // Galvatron's default is GPipe; ours (and the extended space) tries both.
    if (request.mode() == v1::COST_MODEL_MODE_GALVATRON) {
      schedules = {cost::Schedule::kGpipe};
    } else {
      schedules = {cost::Schedule::k1F1B, cost::Schedule::kGpipe};
    }
  }
  std::sort(schedules.begin(), schedules.end());
  schedules.erase(std::unique(schedules.begin(), schedules.end()), schedules.end());

  // The search runs on the calibrated profiles when there is a calibration.
  v1::HardwareProfile hardware = inputs.hardware;
  std::vector<v1::ComputeProfile> compute = inputs.compute;
  if (inputs.calibration.has_value()) {
    if (cost_options.mode == cost::Mode::kGalvatron) {
      return absl::InvalidArgumentError(
          "calibration: the galvatron modes reproduce Galvatron's cost model and are never "
          "calibrated");
    }
    cost::ApplyCalibration(*inputs.calibration, cost_options.analytic_efficiency, &hardware,
                           &compute);
    cost_options.gradient_sync_factor = cost::GradientSyncFactor(*inputs.calibration);
  }
  std::vector<std::unique_ptr<cost::CostModel>> models;
  std::vector<const cost::CostModel*> model_ptrs;
  for (cost::Schedule s : schedules) {
    cost::CostOptions o = cost_options;
    o.schedule = s;
    ASSIGN_OR_RETURN(std::unique_ptr<cost::CostModel> m,
                     cost::CostModel::Create(inputs.model, hardware, compute, o));
    model_ptrs.push_back(m.get());
    models.push_back(std::move(m));
  }
  ASSIGN_OR_RETURN(SearchResult result, Search(model_ptrs, options));
  if (!result.found) {
    return absl::ResourceExhaustedError(result.infeasible_reason);
  }
  v1::Plan plan = std::move(result.plan);
  RETURN_IF_ERROR(CheckPredictionIsPhysical(inputs, plan));
  if (inputs.calibration.has_value()) {
    // What the profiles alone predict for the plan the calibrated search chose.
    ASSIGN_OR_RETURN(*plan.mutable_raw_prediction(), Predict(inputs, false, plan));
    *plan.mutable_calibration() = cost::CalibrationSummary(*inputs.calibration);
  }
  plan.set_id(PlanId(inputs));
  for (std::string& warning : NoisyProfileWarnings(inputs)) {
    plan.mutable_prediction()->add_warnings(warning);
    if (plan.has_raw_prediction()) plan.mutable_raw_prediction()->add_warnings(std::move(warning));
  }
  *plan.mutable_request() = request;
  plan.set_model(inputs.model.name());
  plan.set_model_version(inputs.model.version());
  plan.set_cluster(inputs.hardware.cluster());
  plan.set_hardware_profile_id(inputs.hardware.id());
  for (const auto& p : inputs.compute) {
    if (!p.id().empty()) plan.add_compute_profile_ids(p.id());
  }
  return plan;
}

}  // namespace galvatron::search
