// Properties of the whole search on the default cost model (analytic times
// for gpt2-small on a synthetic 8-device cluster): more memory never lowers
// the predicted throughput, disabling a dimension never raises it, results
// are deterministic, and an impossible budget says why.
#include "planner/search/search.h"

#include <catch2/catch.hpp>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "common/json_file.h"
#include "common/model_catalog.h"
#include "common/plan_validation.h"
#include "planner/search/plan_builder.h"
#include "tests/support/synthetic_cluster.h"
#include "tests/support/test_support.h"

namespace galvatron::search {
namespace {

std::unique_ptr<cost::CostModel> Model(const std::string& name, cost::Schedule schedule,
                                       cost::Mode mode = cost::Mode::kDefault) {
  cost::CostOptions options;
  options.mode = mode;
  options.schedule = schedule;
  auto model = cost::CostModel::Create(*CatalogModel(name),
                                       testing::SyntheticCluster("synthetic", 1, 8), {}, options);
  REQUIRE(model.ok());
  return std::move(*model);
}

double Throughput(const std::vector<const cost::CostModel*>& models, SearchOptions options) {
  options.threads = 2;
  auto result = Search(models, options);
  REQUIRE(result.ok());
  return result->found ? result->plan.prediction().samples_per_second() : 0.0;
}

}  // namespace

TEST_CASE("no layer is given a tp degree that does not divide its heads") {
  // Swin-T's stages have 3, 6, 12 and 24 heads: the first takes no tensor
  // parallelism on 8 devices, the second at most 2; tight budgets push the
  // rest towards it.
  const v1::ModelSpec swin = *CatalogModel("swin-tiny");
  bool some_tp = false;
  // One sample per rank: the activations micro-batching cannot shrink.
  for (int64_t mib : {1536, 2048, 3072, 36864}) {
    PlanInputs inputs;
    inputs.model = swin;
    REQUIRE(ReadJsonFile(testing::SourceDir() + "/examples/a100x8.hardware.json", &inputs.hardware)
                .ok());
    inputs.request.set_memory_budget_bytes(mib << 20);
    inputs.request.set_global_batch(8);
    PlanBuildOptions build;
    build.threads = 1;
    auto plan = BuildPlan(inputs, build);
    INFO(mib << " MiB: " << plan.status().message());
    if (!plan.ok()) continue;  // nothing fits: nothing to check
    CHECK(CheckPlanForModel(*plan, swin, 8).ok());
    int layer = 0;
    for (const v1::LayerGroup& g : swin.layers()) {
      for (int i = 0; i < g.count(); ++i, ++layer) {
        const int tp = plan->layers(layer).tp();
        CHECK(g.heads() % tp == 0);
        some_tp = some_tp || tp > 1;
      }
    }
  }
  CHECK(some_tp);  // the budgets did call for tensor parallelism
}

TEST_CASE("more memory never lowers the predicted throughput") {
  auto model = Model("gpt2-small", cost::Schedule::k1F1B);
  SearchOptions options;
  options.global_batch_min = options.global_batch_max = 16;
  double previous = 0;
  for (double gib : {1.5, 2.0, 3.0, 4.0, 8.0, 16.0, 64.0}) {
    options.memory_budget_mb = gib * 1024;
    const double t = Throughput({model.get()}, options);
    INFO("budget " << gib << " GiB: " << t << " samples/s, previous " << previous);
    CHECK(t >= previous * (1 - 1e-12));
    previous = t;
  }
  CHECK(previous > 0);
}

TEST_CASE("disabling a dimension never raises the predicted throughput") {
  auto a = Model("gpt2-small", cost::Schedule::k1F1B);
  auto b = Model("gpt2-small", cost::Schedule::kGpipe);
  std::vector<const cost::CostModel*> models = {a.get(), b.get()};
  SearchOptions options;
  options.global_batch_min = 8;
  options.global_batch_max = 16;
  options.global_batch_step = 8;
  options.memory_budget_mb = 3 * 1024;
  const double full = Throughput(models, options);
  REQUIRE(full > 0);
  for (const std::string& name : DisableNames()) {
    SearchOptions restricted = options;
    restricted.disabled = {name};
    const double t = Throughput(models, restricted);
    INFO("disable " << name << ": " << t << " vs " << full);
    CHECK(t <= full * (1 + 1e-12));
  }
}

TEST_CASE("the search is deterministic and reports its work") {
  auto model = Model("llama-tiny", cost::Schedule::k1F1B);
  SearchOptions options;
  options.global_batch_min = options.global_batch_max = 8;
  options.memory_budget_mb = 2048;
  options.threads = 2;
  auto first = Search({model.get()}, options);
  auto second = Search({model.get()}, options);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  REQUIRE(first->found);
  first->plan.mutable_search()->clear_wall_seconds();
  second->plan.mutable_search()->clear_wall_seconds();
  CHECK(first->plan.SerializeAsString() == second->plan.SerializeAsString());
  const v1::Plan& plan = first->plan;
  CHECK(plan.layers_size() == 4);
  CHECK(plan.search().tasks_done() == plan.search().tasks_total());
  CHECK(plan.search().states_explored() > 0);
  int sum = 0;
  for (int d : plan.pp_division()) sum += d;
  CHECK(sum == 4);
  CHECK(plan.prediction().iteration_seconds() > 0);
  CHECK(plan.prediction().analytic_estimate());
  for (const auto& m : plan.prediction().stage_memory()) CHECK(m.total_bytes() <= m.budget_bytes());
}

TEST_CASE("a cancelled search stops and says so") {
  auto model = Model("llama2-7b", cost::Schedule::k1F1B);
  SearchOptions options;
  options.global_batch_min = 8;
  options.global_batch_max = 64;
  options.global_batch_step = 8;
  options.memory_budget_mb = 40 * 1024;
  options.threads = 2;
  // Cancelled from the start: no task runs.
  options.cancelled = [] { return true; };
  auto result = Search({model.get()}, options);
  CHECK(result.status().code() == absl::StatusCode::kCancelled);
  CHECK_THAT(std::string(result.status().message()), Catch::Contains("after 0 of"));
  // Cancelled in the middle (the flag is asked again and again: inside the
  // stage DPs too).
  std::atomic<int> asked{0};
  options.cancelled = [&asked] { return ++asked > 200; };
  result = Search({model.get()}, options);
  CHECK(result.status().code() == absl::StatusCode::kCancelled);
  options.cancelled = [] { return false; };
  result = Search({model.get()}, options);
  REQUIRE(result.ok());
  CHECK(result->found);
}

TEST_CASE("an impossible budget is infeasible with the reason") {
  auto model = Model("llama2-7b", cost::Schedule::k1F1B);
  SearchOptions options;
  options.global_batch_min = options.global_batch_max = 8;
  options.memory_budget_mb = 2048;  // 7B parameters in 2 GiB x 8: never
  auto result = Search({model.get()}, options);
  REQUIRE(result.ok());
  CHECK_FALSE(result->found);
  CHECK_THAT(result->infeasible_reason, Catch::Contains("no plan fits"));
}

TEST_CASE("bad options are refused with the field") {
  auto model = Model("gpt-tiny", cost::Schedule::k1F1B);
  SearchOptions options;
  options.memory_budget_mb = 0;
  auto result = Search({model.get()}, options);
  CHECK(result.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(result.status().message()), Catch::StartsWith("memory"));
  options.memory_budget_mb = 1024;
  options.disabled = {"warp-drive"};
  result = Search({model.get()}, options);
  CHECK_THAT(std::string(result.status().message()), Catch::StartsWith("disable"));
}

TEST_CASE("plan ids are content addresses") {
  PlanInputs inputs;
  inputs.model = *CatalogModel("gpt-tiny");
  inputs.hardware = testing::SyntheticCluster("synthetic", 1, 8);
  inputs.request.set_memory_budget_bytes(int64_t{4} << 30);
  inputs.request.set_global_batch(8);
  const std::string id = PlanId(inputs);
  // Plan ids are stored and returned for unchanged inputs: a change of the
  // hash (not of the engine version) would orphan every stored plan.
  CHECK(id == "plan-9fd09791c6af2bc59c5221c3e9baac8e");
  // Galvatron mode's results never changed, so neither did its ids: this is
  // the id these inputs have had since plan ids exist.
  PlanInputs galvatron = inputs;
  galvatron.request.set_mode(v1::COST_MODEL_MODE_GALVATRON);
  CHECK(PlanId(galvatron) == "plan-7a6d30800c23e7fa1d091d68dbc98cdd");
  CHECK(PlanId(inputs) == id);
  PlanInputs renamed = inputs;
  renamed.hardware.set_id("hw-synthetic-7");  // output-only: same inputs
  renamed.request.set_cluster("synthetic");
  CHECK(PlanId(renamed) == id);
  PlanInputs other = inputs;
  other.request.set_global_batch(16);
  CHECK(PlanId(other) != id);

  auto plan = BuildPlan(inputs, {});
  REQUIRE(plan.ok());
  CHECK(plan->id() == id);
  CHECK(plan->global_batch() == 8);
  inputs.request.set_memory_budget_bytes(1 << 20);
  auto none = BuildPlan(inputs, {});
  CHECK(none.status().code() == absl::StatusCode::kResourceExhausted);
}

TEST_CASE("a plan names the search tasks in which nothing fitted and by how much") {
  // gpt2-small at 1.5 GiB per device: shallow pipelines do not fit, deeper
  // ones do.
  auto model = Model("gpt2-small", cost::Schedule::k1F1B);
  SearchOptions options;
  options.global_batch_min = options.global_batch_max = 16;
  options.memory_budget_mb = 1.5 * 1024;
  options.threads = 2;
  auto result = Search({model.get()}, options);
  REQUIRE(result.ok());
  REQUIRE(result->found);
  const v1::SearchStatistics& stats = result->plan.search();
  INFO(stats.DebugString());
  REQUIRE(stats.infeasible_tasks_size() > 0);
  CHECK(stats.infeasible_tasks_total() >= stats.infeasible_tasks_size());
  CHECK(stats.infeasible_tasks_size() <= 32);
  int64_t previous = 0;
  for (const v1::InfeasibleTask& t : stats.infeasible_tasks()) {
    CHECK(t.pp() >= 1);
    CHECK(t.micro_batches() >= t.pp());
    CHECK(t.global_batch() == 16);
    CHECK_FALSE(t.reason().empty());
    // No infeasible task is the winner's.
    CHECK_FALSE((t.pp() == result->plan.pp() && t.micro_batches() == result->plan.micro_batches() &&
                 t.schedule() == result->plan.schedule()));
    if (t.extra_bytes_needed() > 0) {
      CHECK(t.extra_bytes_needed() >= previous);  // the closest to fitting first
      previous = t.extra_bytes_needed();
      CHECK_THAT(t.reason(), Catch::Contains("more than the budget"));
    }
  }
  // The winner's memory per stage: its layers' model states and activations
  // and the rest (embedding, context, buffers) make up its total.
  for (const v1::StageMemory& m : result->plan.prediction().stage_memory()) {
    INFO("stage " << m.stage());
    CHECK(m.model_state_bytes() > 0);
    CHECK(m.activation_bytes() > 0);
    CHECK(m.model_state_bytes() + m.activation_bytes() + m.other_bytes() <= m.total_bytes());
    CHECK(m.model_state_bytes() + m.activation_bytes() + m.other_bytes() >= m.total_bytes() - 3);
  }
  // With all the memory in the world, every task fits but those whose
  // candidates all split gpt2-small's 12 heads 8 ways.
  options.memory_budget_mb = 1 << 20;
  auto roomy = Search({model.get()}, options);
  REQUIRE(roomy.ok());
  for (const v1::InfeasibleTask& t : roomy->plan.search().infeasible_tasks()) {
    CHECK(t.extra_bytes_needed() == 0);
    CHECK_THAT(t.reason(), Catch::Contains("divides a layer's heads"));
    // Those are the tasks whose micro-batches are too small for data
    // parallelism to fill a stage, and the reason says so.
    const int samples = t.global_batch() / t.micro_batches();
    CHECK(samples * t.pp() < 8);  // fewer samples than a stage's 8 / pp devices
    CHECK_THAT(t.reason(), Catch::Contains(absl::StrCat("with ", samples, " sample")));
  }
}

}  // namespace galvatron::search
