// CostInputs::Build refuses a compute profile whose times are not times.
#include "planner/cost/cost_inputs.h"

#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "common/layer_type.h"
#include "common/model_catalog.h"
#include "planner/cost/cost_model.h"

namespace galvatron::cost {
namespace {

v1::ComputeProfile Profile(const v1::ModelSpec& model) {
  v1::ComputeProfile p;
  p.set_id("cp-lab-0123456789-1");
  p.set_layer_type(LayerTypeKey(model, 0));
  p.set_cluster("lab");
  return p;
}

std::string ErrorOf(const v1::ModelSpec& model, const v1::ComputeProfile& p) {
  auto inputs = CostInputs::Build(model, {p}, 312e12, CostOptions());
  if (inputs.ok()) return "OK";
  CHECK(inputs.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(inputs.status().message());
}

// Galvatron's files with negative times gave fits like these, and the search
// then preferred the plans that ran most of the "negative" layer: a plan at
// 542 samples/s.
TEST_CASE("Layer times that are not > 0 for one sample are refused naming the profile", "[cost]") {
  const v1::ModelSpec model = *CatalogModel("llama2-7b");
  v1::ComputeProfile p = Profile(model);
  p.mutable_forward_fit()->set_per_sample_s0(0.01);
  CHECK(ErrorOf(model, p) == "OK");
  // A negative intercept is least squares' business as long as one sample
  // takes time.
  p.mutable_forward_fit()->set_constant(-0.005);
  CHECK(ErrorOf(model, p) == "OK");

  p.mutable_forward_fit()->set_constant(0);
  p.mutable_forward_fit()->set_per_sample_s0(-0.01);
  const std::string error = ErrorOf(model, p);
  CHECK_THAT(error, Catch::StartsWith("compute profile cp-lab-0123456789-1 of layer type \"" +
                                      LayerTypeKey(model, 0) + "\": its forward time at seq ") &&
                        Catch::Contains("-10 ms per sample") &&
                        Catch::Contains("from its forward_fit"));

  p.mutable_forward_fit()->set_per_sample_s0(0.01);
  p.mutable_forward_fit()->set_constant(-1);
  CHECK_THAT(ErrorOf(model, p), Catch::Contains("-990 ms for one sample"));

  // From samples: a line through 0 at one sample.
  p.clear_forward_fit();
  for (const auto& [b, seconds] : {std::make_pair(2, 0.1), std::make_pair(4, 0.3)}) {
    v1::LayerTimeSample* s = p.add_time_samples();
    s->set_micro_batch(b);
    s->set_seq_len(model.seq_len());
    s->set_forward_seconds(seconds);
  }
  CHECK_THAT(ErrorOf(model, p), Catch::Contains("(0 ms for one sample, from its time_samples)"));

  // A slightly falling line (noisy timings of a layer whose time hardly
  // grows with the micro-batch) is a measurement, as before.
  p.clear_time_samples();
  for (const auto& [b, seconds] : {std::make_pair(1, 0.0112), std::make_pair(4, 0.0108)}) {
    v1::LayerTimeSample* s = p.add_time_samples();
    s->set_micro_batch(b);
    s->set_seq_len(model.seq_len());
    s->set_forward_seconds(seconds);
  }
  CHECK(ErrorOf(model, p) == "OK");
}

}  // namespace
}  // namespace galvatron::cost
