// The decisions of a job that need no manager: submissions checked field by
// field, the plan request for the job's nodes, groups inside nodes, and the
// statistics of measured steps.
#include "planner/service/job_steps.h"

#include <catch2/catch.hpp>

#include "common/message_text.h"
#include "tests/support/nodes.h"

namespace galvatron::planner {
namespace {

using testing::MakeNode;

v1::SubmitJobRequest Valid() {
  v1::SubmitJobRequest request;
  request.set_model("gpt-tiny");
  request.set_cluster("lab");
  request.set_memory_budget_bytes(int64_t{4} << 30);
  return request;
}

v1::HardwareProfile Profile(int nodes, int devices) {
  v1::HardwareProfile profile;
  profile.set_cluster("lab");
  profile.set_id("hw-lab-3");
  profile.set_version(3);
  profile.set_num_nodes(nodes);
  profile.set_devices_per_node(devices);
  return profile;
}

// `world` ranks, `pp` stages, every layer (4) tp `tp`.
v1::Plan PlanOf(int world, int pp, int tp) {
  v1::Plan plan;
  plan.set_world_size(world);
  plan.set_pp(pp);
  for (int i = 0; i < 4; ++i) {
    v1::LayerStrategy* layer = plan.add_layers();
    layer->set_tp(tp);
    layer->set_dp(world / pp / tp);
  }
  plan.mutable_embedding()->set_vocab_tp(1);
  return plan;
}

Placement TwoNodes(int devices) {
  Placement placement;
  placement.world_size = 2 * devices;
  placement.nodes = {{"n1", 0, devices, {}}, {"n2", devices, devices, {}}};
  return placement;
}

}  // namespace

TEST_CASE("Job ids and terminal states", "[jobs]") {
  CHECK(JobNumber("job-17") == 17);
  CHECK(JobNumber("job-0") == 0);
  CHECK(JobNumber("job-017") == 0);
  CHECK(JobNumber("task-1") == 0);
  CHECK(JobNumber("job-") == 0);
  CHECK(text::JobEnded(v1::JOB_STATE_CANCELLED));
  CHECK_FALSE(text::JobEnded(v1::JOB_STATE_LAUNCHING));
}

TEST_CASE("A submission gets the training defaults", "[jobs]") {
  v1::TrainingOptions training;
  REQUIRE(ValidateSubmission(Valid(), &training).ok());
  CHECK(training.steps() == 10);
  CHECK(training.seed() == 1234);
  CHECK(training.dataset() == "synthetic");
  CHECK(training.dtype() == "float32");
  CHECK(training.max_restarts() == 0);
}

TEST_CASE("A submission is checked field by field", "[jobs]") {
  v1::TrainingOptions training;
  auto message = [&](const v1::SubmitJobRequest& request) {
    absl::Status status = ValidateSubmission(request, &training);
    CHECK(absl::IsInvalidArgument(status));
    return std::string(status.message());
  };
  v1::SubmitJobRequest r = Valid();
  r.set_memory_budget_bytes(0);
  CHECK_THAT(message(r), Catch::Contains("memory_budget_bytes"));
  r = Valid();
  r.set_cluster("bad name!");
  CHECK_THAT(message(r), Catch::Contains("cluster"));
  r = Valid();
  r.mutable_global_batch_range()->set_min(8);
  r.mutable_global_batch_range()->set_max(4);
  CHECK_THAT(message(r), Catch::Contains("global_batch_range.max"));
  r = Valid();
  r.mutable_training()->set_dtype("float16");
  CHECK_THAT(message(r), Catch::Contains("training.dtype") && Catch::Contains("float16"));
  r = Valid();
  r.mutable_training()->set_steps(-1);
  CHECK_THAT(message(r), Catch::Contains("training.steps"));
  r = Valid();
  r.mutable_training()->set_max_restarts(-2);
  CHECK_THAT(message(r), Catch::Contains("training.max_restarts"));
  r = Valid();
  r.add_nodes("n1");
  r.add_nodes("n1");
  CHECK_THAT(message(r), Catch::Contains("nodes[1]"));
  r = Valid();
  r.set_plan_id("plan-1");
  *r.mutable_plan() = PlanOf(4, 1, 1);
  CHECK_THAT(message(r), Catch::Contains("plan_id"));
  for (const char* dir : {"ckpt", "./ckpt", "/data/../etc", "/data/./ckpt"}) {
    r = Valid();
    r.mutable_training()->set_checkpoint_dir(dir);
    CHECK_THAT(message(r), Catch::StartsWith("training.checkpoint_dir: \"") &&
                               Catch::Contains("an absolute path"));
  }
  r = Valid();
  r.mutable_training()->set_checkpoint_dir("/shared/ckpt");
  CHECK(ValidateSubmission(r, &training).ok());
}

TEST_CASE("The plan request uses the cluster's profile, cut to the job's nodes", "[jobs]") {
  v1::Job job;
  job.set_cluster("lab");
  job.set_memory_budget_bytes(123);
  job.set_global_batch(16);
  v1::ModelSpec model;
  model.set_name("gpt-tiny");
  model.set_version(2);

  SECTION("every node: by cluster") {
    auto request = JobPlanRequest(job, model, Profile(2, 2), {MakeNode("n1"), MakeNode("n2")});
    REQUIRE(request.ok());
    CHECK(request->cluster() == "lab");
    CHECK_FALSE(request->has_hardware());
    CHECK(request->model() == "gpt-tiny");
    CHECK(request->model_version() == 2);
    CHECK(request->memory_budget_bytes() == 123);
    CHECK(request->global_batch() == 16);
  }
  SECTION("fewer nodes: the profile, cut") {
    auto request = JobPlanRequest(job, model, Profile(4, 2), {MakeNode("n1")});
    REQUIRE(request.ok());
    REQUIRE(request->has_hardware());
    CHECK(request->hardware().num_nodes() == 1);
    CHECK(request->hardware().devices_per_node() == 2);
    CHECK(request->hardware().cluster() == "lab");
    // The cut names the profile it came from (the plan records it, and the
    // cluster's calibration, learned on that profile, applies).
    CHECK(request->hardware().id() == "hw-lab-3");
    CHECK(request->hardware().version() == 0);
  }
  SECTION("other devices per node: probe again") {
    auto request = JobPlanRequest(job, model, Profile(2, 4), {MakeNode("n1"), MakeNode("n2")});
    CHECK(absl::IsFailedPrecondition(request.status()));
    CHECK_THAT(std::string(request.status().message()), Catch::Contains("hw-lab-3"));
  }
}

TEST_CASE("Tensor-parallel groups must sit inside a node", "[jobs]") {
  CHECK(CheckGroupsInsideNodes(PlanOf(4, 2, 2), TwoNodes(2)).ok());
  CHECK(CheckGroupsInsideNodes(PlanOf(4, 1, 2), TwoNodes(2)).ok());
  absl::Status across = CheckGroupsInsideNodes(PlanOf(4, 1, 4), TwoNodes(2));
  CHECK(absl::IsFailedPrecondition(across));
  CHECK_THAT(std::string(across.message()),
             Catch::Contains("layers[0]") && Catch::Contains("n1, n2"));
  v1::Plan embedding_across = PlanOf(4, 1, 1);
  embedding_across.mutable_embedding()->set_vocab_tp(4);
  CHECK_THAT(std::string(CheckGroupsInsideNodes(embedding_across, TwoNodes(2)).message()),
             Catch::Contains("embedding"));
}

TEST_CASE("Statistics of measured steps", "[jobs]") {
  CHECK(Median({}) == 0);
  CHECK(Median({3, 1, 2}) == 2);
  CHECK(Median({4, 1, 2, 3}) == 2.5);
  CHECK(RelativeSpread({1, 1}) == 0);
  CHECK(RelativeSpread({1, 1, 1, 1}) == 0);
  // 1..11: p10 = 2, p90 = 10, median 6.
  CHECK(RelativeSpread({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}) == Approx(8.0 / 6.0));
  CHECK(WarmupSteps(4) == 1);
  CHECK(WarmupSteps(100) == 10);
}

}  // namespace galvatron::planner
