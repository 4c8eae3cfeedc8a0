// Plans with a calibration (planner/cost/calibration.h): PredictPlan scores
// an existing plan exactly as the search scored it; a calibrated search
// records its calibration and what the profiles alone predict for the same
// plan, names the plan by the calibration too, can pick another plan than
// the uncalibrated search (slow collectives favour plans that communicate
// less), and its predictions obey the physical bound. Galvatron mode is not
// calibrated. The breakdown names the exposed gradient sync, counts the
// embedding/head's compute as compute, and a vocabulary-parallel head over
// data-parallel layers pays the runtime's redistribution.
#include <catch2/catch.hpp>

#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/model_catalog.h"
#include "planner/cost/calibration.h"
#include "planner/cost/cost_model.h"
#include "planner/search/plan_builder.h"
#include "planner/search/search.h"
#include "tests/support/synthetic_cluster.h"

namespace galvatron::search {
namespace {

using Catch::Matchers::Contains;

PlanInputs Inputs(const std::string& model, int nodes, int per_node, int global_batch) {
  PlanInputs inputs;
  inputs.model = *CatalogModel(model);
  inputs.hardware = testing::SyntheticCluster("synthetic", nodes, per_node);
  inputs.hardware.set_id("hw-synthetic-1");
  inputs.request.set_memory_budget_bytes(int64_t{80} << 30);
  inputs.request.set_global_batch(global_batch);
  inputs.request.set_mode(v1::COST_MODEL_MODE_DEFAULT);
  inputs.request.set_time_limit_seconds(60);
  return inputs;
}

v1::Calibration Calibration(double compute, double communication, int version = 1) {
  v1::Calibration c;
  c.set_cluster("synthetic");
  c.set_id("cal-synthetic-" + std::to_string(version));
  c.set_version(version);
  c.set_compute_factor(compute);
  c.set_communication_factor(communication);
  c.set_samples_used(1);
  return c;
}

// The cost model of `inputs` for `plan`'s schedule, built here with the
// default options (what the requests of these tests ask for).
std::unique_ptr<cost::CostModel> ModelFor(const PlanInputs& inputs, const v1::Plan& plan) {
  cost::CostOptions o;
  o.schedule = plan.schedule() == v1::PIPELINE_SCHEDULE_GPIPE ? cost::Schedule::kGpipe
                                                              : cost::Schedule::k1F1B;
  auto model = cost::CostModel::Create(inputs.model, inputs.hardware, inputs.compute, o);
  REQUIRE(model.ok());
  return std::move(*model);
}

void CheckSamePrediction(const v1::Prediction& a, const v1::Prediction& b) {
  CHECK(a.iteration_seconds() == Approx(b.iteration_seconds()).epsilon(1e-12));
  CHECK(a.samples_per_second() == Approx(b.samples_per_second()).epsilon(1e-12));
  CHECK(a.breakdown().compute_seconds() == Approx(b.breakdown().compute_seconds()).epsilon(1e-12));
  CHECK(a.breakdown().bubble_seconds() == Approx(b.breakdown().bubble_seconds()).epsilon(1e-12));
  CHECK(a.breakdown().exposed_communication_seconds() ==
        Approx(b.breakdown().exposed_communication_seconds()).epsilon(1e-12).margin(1e-15));
  CHECK(a.breakdown().gradient_sync_seconds() ==
        Approx(b.breakdown().gradient_sync_seconds()).epsilon(1e-12).margin(1e-15));
  CHECK(a.warnings_size() == b.warnings_size());
}

// One micro-batch of a one-stage `plan` with embedding strategy `e`, by the
// cost model's own pieces: (without the gradient sync, with it), no
// redistribution between layouts.
std::pair<double, double> OneStageSums(const cost::CostModel& model, const v1::Plan& plan,
                                       const cost::EmbeddingStrategy& e) {
  const int m = plan.micro_batches(), gbsz = plan.global_batch();
  const cost::EmbeddingCost ec = model.Embedding(e, gbsz, m);
  double c = ec.seconds_no_sync[0], r = ec.seconds[0];
  for (int l = 0; l < plan.layers_size(); ++l) {
    const cost::LayerCost lc =
        model.Layer(model.layer_type_of()[l], cost::FromProto(plan.layers(l), 1), gbsz, m, 0);
    c += lc.seconds_no_sync;
    r += lc.seconds;
  }
  return {c, r};
}

}  // namespace

TEST_CASE("PredictPlan scores a plan as the search did") {
  struct Case {
    std::string model;
    int nodes, per_node, batch;
    std::vector<std::string> disable;
    v1::PipelineSchedule schedule;
  };
  const std::vector<Case> cases = {
      {"gpt2-small", 1, 8, 32, {}, v1::PIPELINE_SCHEDULE_UNSPECIFIED},
      {"gpt2-small", 2, 4, 32, {"dp", "sdp"}, v1::PIPELINE_SCHEDULE_1F1B},
      {"gpt2-small", 2, 4, 64, {"tp", "sp", "dp", "sdp"}, v1::PIPELINE_SCHEDULE_GPIPE},
      {"llama-tiny", 1, 4, 16, {"pp"}, v1::PIPELINE_SCHEDULE_UNSPECIFIED},
      {"gpt-tiny", 1, 4, 8, {"tp", "dp", "sdp", "ckpt"}, v1::PIPELINE_SCHEDULE_UNSPECIFIED},
  };
  for (const Case& c : cases) {
    PlanInputs inputs = Inputs(c.model, c.nodes, c.per_node, c.batch);
    for (const std::string& d : c.disable) inputs.request.add_disable(d);
    if (c.schedule != v1::PIPELINE_SCHEDULE_UNSPECIFIED) inputs.request.add_schedules(c.schedule);
    CAPTURE(c.model, c.nodes, c.per_node, c.batch, c.disable.size());
    auto plan = BuildPlan(inputs, {});
    REQUIRE(plan.ok());
    CAPTURE(plan->pp(), plan->micro_batches());
    auto model = ModelFor(inputs, *plan);
    auto scored = PredictPlan(*model, *plan);
    REQUIRE(scored.ok());
    CheckSamePrediction(*scored, plan->prediction());
    CHECK(scored->stage_memory_size() == plan->prediction().stage_memory_size());
    // An uncalibrated plan records no calibration.
    CHECK_FALSE(plan->has_raw_prediction());
    CHECK_FALSE(plan->has_calibration());
  }
}

TEST_CASE("PredictPlan refuses a plan for another model or world") {
  PlanInputs inputs = Inputs("gpt-tiny", 1, 4, 8);
  auto plan = BuildPlan(inputs, {});
  REQUIRE(plan.ok());
  auto model = ModelFor(inputs, *plan);
  v1::Plan wrong = *plan;
  wrong.set_world_size(8);
  CHECK(absl::IsInvalidArgument(PredictPlan(*model, wrong).status()));
  wrong = *plan;
  wrong.mutable_layers()->RemoveLast();
  CHECK(absl::IsInvalidArgument(PredictPlan(*model, wrong).status()));
  wrong = *plan;
  wrong.mutable_layers(0)->set_dp(wrong.layers(0).dp() * 2);
  auto refused = PredictPlan(*model, wrong);
  CHECK(absl::IsInvalidArgument(refused.status()));
  CHECK_THAT(std::string(refused.status().message()), Contains("layer 0"));
}

TEST_CASE("a calibrated plan records its calibration and the uncalibrated prediction") {
  PlanInputs inputs = Inputs("gpt2-small", 1, 8, 32);
  auto raw = BuildPlan(inputs, {});
  REQUIRE(raw.ok());

  inputs.calibration = Calibration(2.0, 1.0);
  auto calibrated = BuildPlan(inputs, {});
  REQUIRE(calibrated.ok());
  REQUIRE(calibrated->has_calibration());
  CHECK(calibrated->calibration().id() == "cal-synthetic-1");
  CHECK(calibrated->calibration().compute_factor() == 2.0);
  CHECK(calibrated->calibration().samples().empty());
  REQUIRE(calibrated->has_raw_prediction());
  // The raw prediction is the uncalibrated model's score of this plan.
  PlanInputs plain = inputs;
  plain.calibration.reset();
  auto raw_model = ModelFor(plain, *calibrated);
  CheckSamePrediction(calibrated->raw_prediction(), *PredictPlan(*raw_model, *calibrated));
  CheckSamePrediction(calibrated->raw_prediction(), *PredictPlanFor(plain, *calibrated));
  // ... and the calibrated one the calibrated model's.
  CheckSamePrediction(calibrated->prediction(), *PredictPlanFor(inputs, *calibrated));
  // Twice the compute time: slower, by at most twice.
  CHECK(calibrated->prediction().iteration_seconds() >
        calibrated->raw_prediction().iteration_seconds() * 1.2);
  CHECK(calibrated->prediction().iteration_seconds() <=
        calibrated->raw_prediction().iteration_seconds() * 2 * (1 + 1e-9));

  // The calibration's factors are part of the id: other factors, another
  // plan id; the same factors (a later version that fitted nothing new),
  // the same id; none, or asked uncalibrated, the id of before.
  const std::string id = PlanId(inputs);
  CHECK(calibrated->id() == id);
  CHECK(id != raw->id());
  CHECK(PlanId(plain) == raw->id());
  plain.request.set_uncalibrated(true);
  CHECK(PlanId(plain) == raw->id());
  PlanInputs other = inputs;
  other.calibration = Calibration(2.0, 1.0, 2);
  CHECK(PlanId(other) == id);
  other.calibration = Calibration(2.0, 1.5, 1);
  CHECK(PlanId(other) != id);
  other.calibration = Calibration(2.5, 1.0, 1);
  CHECK(PlanId(other) != id);
}

TEST_CASE("slow collectives make the calibrated search pick a plan that communicates less") {
  PlanInputs inputs = Inputs("gpt2-small", 2, 4, 32);
  auto raw = BuildPlan(inputs, {});
  REQUIRE(raw.ok());
  inputs.calibration = Calibration(1.0, 20.0);
  auto calibrated = BuildPlan(inputs, {});
  REQUIRE(calibrated.ok());
  CAPTURE(raw->prediction().DebugString(), calibrated->prediction().DebugString());
  // Another plan wins ...
  const bool same = raw->pp() == calibrated->pp() &&
                    raw->micro_batches() == calibrated->micro_batches() &&
                    raw->layers(0).DebugString() == calibrated->layers(0).DebugString();
  CHECK_FALSE(same);
  // ... and under the calibrated model it beats the uncalibrated winner.
  auto raw_winner_calibrated = PredictPlanFor(inputs, *raw);
  REQUIRE(raw_winner_calibrated.ok());
  CHECK(calibrated->prediction().iteration_seconds() < raw_winner_calibrated->iteration_seconds());
}

TEST_CASE("on one device the breakdown is all compute, the embedding and head included") {
  // Nothing communicates: every second of the iteration is compute (the LM
  // head's too, which once showed as exposed communication and misled the
  // calibration's communication factor).
  PlanInputs inputs = Inputs("gpt2-small", 1, 1, 8);
  auto plan = BuildPlan(inputs, {});
  REQUIRE(plan.ok());
  const v1::Prediction& p = plan->prediction();
  CHECK(p.breakdown().compute_seconds() == Approx(p.iteration_seconds()).epsilon(1e-12));
  CHECK(p.breakdown().exposed_communication_seconds() ==
        Approx(0).margin(1e-12 * p.iteration_seconds()));
  CHECK(p.breakdown().gradient_sync_seconds() == 0);
}

TEST_CASE("the breakdown names the exposed gradient sync and a sync factor acts on it alone") {
  PlanInputs inputs = Inputs("gpt2-small", 1, 8, 32);
  inputs.request.add_disable("tp");
  inputs.request.add_disable("sp");
  inputs.request.add_disable("pp");
  auto dp = BuildPlan(inputs, {});
  REQUIRE(dp.ok());
  const v1::TimeBreakdown& b = dp->prediction().breakdown();
  CHECK(b.gradient_sync_seconds() > 0);  // data parallelism syncs after the last backward
  CHECK(b.gradient_sync_seconds() <= b.exposed_communication_seconds());

  PlanInputs tp_only = Inputs("gpt2-small", 1, 4, 32);  // tp 4 divides its 12 heads
  for (const char* d : {"dp", "sdp", "sp", "pp"}) tp_only.request.add_disable(d);
  auto tp = BuildPlan(tp_only, {});
  REQUIRE(tp.ok());
  CHECK(tp->prediction().breakdown().gradient_sync_seconds() == 0);  // nothing to sync
  CHECK(tp->prediction().breakdown().exposed_communication_seconds() > 0);

  // A gradient sync twice as slow as probed lengthens the data-parallel
  // plan by its exposed sync (at most), not the tensor-parallel one; the
  // factor counts in the plan's id.
  v1::Calibration slow_sync = Calibration(1.0, 1.0);
  slow_sync.set_sync_factor(2.0);
  inputs.calibration = slow_sync;
  auto dp_slow = PredictPlanFor(inputs, *dp);
  REQUIRE(dp_slow.ok());
  CHECK(dp_slow->iteration_seconds() > dp->prediction().iteration_seconds());
  tp_only.calibration = slow_sync;
  auto tp_slow = PredictPlanFor(tp_only, *tp);
  REQUIRE(tp_slow.ok());
  CHECK(tp_slow->iteration_seconds() ==
        Approx(tp->prediction().iteration_seconds()).epsilon(1e-12));
  PlanInputs same_as_communication = inputs;
  same_as_communication.calibration->set_sync_factor(1.0);
  PlanInputs no_sync_factor = inputs;
  no_sync_factor.calibration->clear_sync_factor();
  CHECK(PlanId(inputs) != PlanId(same_as_communication));
  CHECK(PlanId(same_as_communication) == PlanId(no_sync_factor));
}

TEST_CASE("a vocabulary-parallel head over data-parallel layers pays the redistribution") {
  // gpt-tiny on 2 devices, every layer DDP over both; the head either data-
  // parallel too (no layout change) or split over the vocabulary (the
  // runtime redistributes the micro-batch into and out of the layers).
  PlanInputs inputs = Inputs("gpt-tiny", 1, 2, 8);
  for (const char* d : {"tp", "sp", "pp", "embedding_tp"}) inputs.request.add_disable(d);
  inputs.request.set_micro_batches(2);
  auto plan = BuildPlan(inputs, {});
  REQUIRE(plan.ok());
  REQUIRE(plan->embedding().vocab_tp() <= 1);
  v1::Plan split = *plan;
  split.mutable_embedding()->set_vocab_tp(2);
  split.mutable_embedding()->set_sp(v1::SEQUENCE_PARALLEL_NONE);
  auto model = ModelFor(inputs, split);
  auto predicted = PredictPlan(*model, split);
  REQUIRE(predicted.ok());
  // pp 1, m micro-batches: T = (m − 1)·c + r, c and r one micro-batch's time
  // without and with the gradient sync, each with the two redistributions.
  const int m = split.micro_batches(), gbsz = split.global_batch();
  cost::EmbeddingStrategy e;
  e.tp = 2;
  e.dp = 1;
  const auto [c, r] = OneStageSums(*model, split, e);
  cost::LayerStrategy head;
  head.tp = 2;
  head.dp = 1;
  const cost::LayerStrategy first = cost::FromProto(split.layers(0), 1);
  const cost::LayerStrategy last = cost::FromProto(split.layers(split.layers_size() - 1), 1);
  const double switches =
      model->Switch(0, head, first, gbsz, m) + model->Switch(0, last, head, gbsz, m);
  CHECK(switches > 0);
  CHECK(predicted->iteration_seconds() ==
        Approx((m - 1) * (c + switches) + r + switches).epsilon(1e-12));
  // The data-parallel head changes no layout: nothing added.
  auto same = PredictPlan(*model, *plan);
  REQUIRE(same.ok());
  CHECK(same->iteration_seconds() == Approx(plan->prediction().iteration_seconds()).epsilon(1e-12));
}

TEST_CASE("layers that change layout within a stage pay the redistribution") {
  // gpt-tiny on 2 devices: the first two layers tensor-parallel, the other
  // two data-parallel (and the head data-parallel): the runtime
  // redistributes between layers 1 and 2 and from the head's layout
  // into layer 0, each priced by Switch(); leaving layer 3 for the head
  // changes nothing.
  PlanInputs inputs = Inputs("gpt-tiny", 1, 2, 8);
  for (const char* d : {"tp", "sp", "pp", "embedding_tp"}) inputs.request.add_disable(d);
  inputs.request.set_micro_batches(2);
  auto plan = BuildPlan(inputs, {});
  REQUIRE(plan.ok());
  REQUIRE(plan->layers_size() == 4);
  v1::Plan mixed = *plan;
  for (int l : {0, 1}) {
    mixed.mutable_layers(l)->set_tp(2);
    mixed.mutable_layers(l)->set_dp(1);
  }
  auto model = ModelFor(inputs, mixed);
  auto predicted = PredictPlan(*model, mixed);
  REQUIRE(predicted.ok());
  const int m = mixed.micro_batches(), gbsz = mixed.global_batch();
  cost::EmbeddingStrategy e;
  e.dp = 2;
  e.dp_type = cost::FromProto(mixed.embedding().dp_type());
  const auto [c, r] = OneStageSums(*model, mixed, e);
  cost::LayerStrategy head;
  head.dp = 2;
  const cost::LayerStrategy tp = cost::FromProto(mixed.layers(0), 1);
  const cost::LayerStrategy dp = cost::FromProto(mixed.layers(3), 1);
  const double between = model->Switch(0, tp, dp, gbsz, m);
  const double into = model->Switch(0, head, tp, gbsz, m);
  CHECK(between > 0);
  CHECK(model->Switch(0, dp, head, gbsz, m) == 0);
  const double switches = between + into;
  CHECK(predicted->iteration_seconds() ==
        Approx((m - 1) * (c + switches) + r + switches).epsilon(1e-12));
  // The search prices its own plans the same way: what it predicts for the
  // plan it picks is what PredictPlan says of it.
  inputs.request.clear_disable();
  inputs.request.add_disable("pp");
  auto picked = BuildPlan(inputs, {});
  REQUIRE(picked.ok());
  auto again = PredictPlan(*ModelFor(inputs, *picked), *picked);
  REQUIRE(again.ok());
  CHECK(again->iteration_seconds() ==
        Approx(picked->prediction().iteration_seconds()).epsilon(1e-12));
}

TEST_CASE("calibrated predictions obey the physical bound") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> factor(0.2, 8.0);
  for (int i = 0; i < 6; ++i) {
    PlanInputs inputs = Inputs(i % 2 ? "gpt2-small" : "llama-tiny", 2, 4, 32);
    if (i % 3 == 0) inputs.request.add_disable("dp");
    inputs.calibration = Calibration(factor(rng), factor(rng), i + 1);
    CAPTURE(i, inputs.calibration->compute_factor(), inputs.calibration->communication_factor());
    auto plan = BuildPlan(inputs, {});
    REQUIRE(plan.ok());
    // MakePrediction's bound check (no iteration shorter than chunks x the
    // compute of the slowest stage) found nothing to warn about ...
    CHECK(plan->prediction().warnings().empty());
    CHECK(plan->raw_prediction().warnings().empty());
    // ... and the parts add up to the iteration.
    const auto& b = plan->prediction().breakdown();
    CHECK(b.compute_seconds() + b.bubble_seconds() + b.exposed_communication_seconds() ==
          Approx(plan->prediction().iteration_seconds()).epsilon(1e-9));
    CHECK(b.compute_seconds() <= plan->prediction().iteration_seconds() * (1 + 1e-12));
  }
}

TEST_CASE("galvatron mode is never calibrated") {
  PlanInputs inputs = Inputs("gpt-tiny", 1, 4, 8);
  inputs.request.set_mode(v1::COST_MODEL_MODE_GALVATRON);
  inputs.calibration = Calibration(1.5, 1.5);
  auto plan = BuildPlan(inputs, {});
  CHECK(absl::IsInvalidArgument(plan.status()));
  CHECK_THAT(std::string(plan.status().message()), Contains("galvatron mode"));
}

}  // namespace galvatron::search
