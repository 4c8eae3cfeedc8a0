// Plans from profiles flagged noisy (docs/measurement.md) say so: one
// warning per noisy profile in the prediction, naming the profile, its layer
// type and its spread; plans from clean profiles carry none. The warnings
// are outputs only: the search's result is the same, and the plan id is the
// content address of the inputs as before (a quiet record hashes as none;
// the noisy flag, which decides the warnings, counts).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/layer_type.h"
#include "common/model_catalog.h"
#include "planner/search/plan_builder.h"
#include "tests/support/synthetic_cluster.h"

namespace galvatron::search {
namespace {

using Catch::Matchers::Contains;

// A measured profile of gpt-tiny's block: 1 ms per sample forward.
v1::ComputeProfile BlockProfile(const v1::ModelSpec& model) {
  v1::ComputeProfile p;
  p.set_layer_type(LayerTypeKey(model, 0));
  p.set_cluster("synthetic");
  p.set_model(model.name());
  p.set_precision(v1::PRECISION_FP32);
  p.set_source(v1::PROFILE_SOURCE_MEASURED);
  p.mutable_forward_fit()->set_per_sample_s0(1e-3);
  p.set_id("cp-synthetic-block-1");
  return p;
}

v1::MeasurementQuality Quality(bool noisy) {
  v1::MeasurementQuality q;
  q.set_noisy(noisy);
  q.set_spread(noisy ? 0.41 : 0.03);
  q.set_load(noisy ? 0.93 : 0.02);
  q.set_attempts(noisy ? 4 : 1);
  q.set_spread_threshold(0.25);
  q.set_load_threshold(0.25);
  if (noisy) {
    q.add_noisy_measurements("block: forward/backward s=64 b=1,2: spread 0.410");
    q.set_note("1 measurement stayed noisy: block: forward/backward s=64 b=1,2: spread 0.410");
  }
  return q;
}

PlanInputs Inputs() {
  PlanInputs inputs;
  inputs.model = *CatalogModel("gpt-tiny");
  inputs.hardware = testing::SyntheticCluster("synthetic", 1, 8);
  inputs.hardware.set_id("hw-synthetic-3");
  inputs.compute.push_back(BlockProfile(inputs.model));
  inputs.request.set_memory_budget_bytes(int64_t{4} << 30);
  inputs.request.set_global_batch(8);
  return inputs;
}

}  // namespace

TEST_CASE("a plan from clean profiles carries no noise warning") {
  PlanInputs inputs = Inputs();
  auto without_record = BuildPlan(inputs, {});
  REQUIRE(without_record.ok());
  CHECK(without_record->prediction().warnings().empty());
  CHECK(NoisyProfileWarnings(inputs).empty());

  *inputs.compute[0].mutable_quality() = Quality(false);
  *inputs.hardware.mutable_quality() = Quality(false);
  auto clean = BuildPlan(inputs, {});
  REQUIRE(clean.ok());
  CHECK(clean->prediction().warnings().empty());
  CHECK(clean->id() == PlanId(inputs));
  CHECK(clean->id() == without_record->id());  // a quiet record hashes as none
}

TEST_CASE("a plan from a noisy compute profile warns, naming it, its layer type and spread") {
  PlanInputs inputs = Inputs();
  *inputs.compute[0].mutable_quality() = Quality(false);
  auto clean = BuildPlan(inputs, {});
  REQUIRE(clean.ok());

  PlanInputs noisy = inputs;
  *noisy.compute[0].mutable_quality() = Quality(true);
  auto plan = BuildPlan(noisy, {});
  REQUIRE(plan.ok());
  REQUIRE(plan->prediction().warnings_size() == 1);
  const std::string& warning = plan->prediction().warnings(0);
  CHECK_THAT(warning, Contains("compute profile cp-synthetic-block-1") &&
                          Contains("layer type " + LayerTypeKey(inputs.model, 0)) &&
                          Contains("spread 0.41 (threshold 0.25)") &&
                          Contains("load 0.93 (threshold 0.25)") && Contains("measure it again"));

  // The warning is an output: the same strategy and prediction as from the
  // clean profile, and the id is the inputs' content address.
  CHECK(plan->id() == PlanId(noisy));
  CHECK(plan->global_batch() == clean->global_batch());
  CHECK(plan->pp() == clean->pp());
  CHECK(plan->micro_batches() == clean->micro_batches());
  REQUIRE(plan->layers_size() == clean->layers_size());
  for (int i = 0; i < plan->layers_size(); ++i) {
    CHECK(plan->layers(i).SerializeAsString() == clean->layers(i).SerializeAsString());
  }
  CHECK(plan->prediction().iteration_seconds() == clean->prediction().iteration_seconds());
  // A runner-up's own warnings stay about physical bounds only.
  for (const auto& r : plan->runners_up()) CHECK(r.prediction().warnings().empty());
}

TEST_CASE("a plan from a noisy hardware profile warns, naming it") {
  PlanInputs inputs = Inputs();
  *inputs.hardware.mutable_quality() = Quality(true);
  inputs.compute[0].clear_id();  // e.g. profiles read from files
  *inputs.compute[0].mutable_quality() = Quality(true);
  auto plan = BuildPlan(inputs, {});
  REQUIRE(plan.ok());
  REQUIRE(plan->prediction().warnings_size() == 2);
  CHECK_THAT(plan->prediction().warnings(0),
             Contains("hardware profile hw-synthetic-3 of cluster synthetic") &&
                 Contains("spread 0.41") && Contains("probe again"));
  CHECK_THAT(plan->prediction().warnings(1),
             Contains("compute profile (without an id) of layer type"));
}

TEST_CASE("a quiet quality record keeps the plan id, the noisy flag changes it") {
  // The golden ids of search_test.cc hold for inputs without records; a
  // quiet record (what every measured profile now carries) hashes as none.
  PlanInputs inputs = Inputs();
  const std::string id = PlanId(inputs);
  PlanInputs quiet = Inputs();
  *quiet.compute[0].mutable_quality() = Quality(false);
  *quiet.hardware.mutable_quality() = Quality(false);
  CHECK(PlanId(quiet) == id);
  quiet.compute[0].mutable_quality()->set_spread(0.2);  // still below its threshold
  CHECK(PlanId(quiet) == id);
  // The flag decides the warnings, so a stored plan with them is not
  // returned for the same figures without the flag, nor the other way.
  PlanInputs noisy_compute = quiet;
  *noisy_compute.compute[0].mutable_quality() = Quality(true);
  PlanInputs noisy_hardware = quiet;
  *noisy_hardware.hardware.mutable_quality() = Quality(true);
  CHECK(PlanId(noisy_compute) != id);
  CHECK(PlanId(noisy_hardware) != id);
  CHECK(PlanId(noisy_compute) != PlanId(noisy_hardware));
  // Only the flag: the numbers of a noisy record do not move the id.
  PlanInputs noisier = noisy_compute;
  noisier.compute[0].mutable_quality()->set_spread(0.9);
  CHECK(PlanId(noisier) == PlanId(noisy_compute));
}

}  // namespace galvatron::search
