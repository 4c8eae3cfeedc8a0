#include "tests/agent/runtime/trainer/train_support.h"

#include <catch2/catch.hpp>

#include <fstream>

#include "common/json_file.h"

namespace galvatron::testing {

std::string Worker() { return BinDir() + "/galvatron-worker"; }

std::string WritePlan(const TempDir& dir, const std::string& name, const PlanShape& shape) {
  v1::Plan plan;
  plan.set_world_size(shape.world);
  plan.set_pp(shape.pp);
  plan.set_schedule(shape.schedule);
  plan.set_micro_batches(2);
  plan.set_global_batch(8);
  const int per_stage = shape.world / shape.pp;
  for (const Layer& l : shape.layers) {
    v1::LayerStrategy* s = plan.add_layers();
    s->set_tp(l.tp);
    s->set_sp(l.sp);
    s->set_dp(per_stage / l.tp);
    s->set_dp_type(l.dp_type);
    s->set_checkpoint(l.checkpoint);
  }
  plan.mutable_embedding()->set_vocab_tp(shape.embedding.tp);
  plan.mutable_embedding()->set_sp(shape.embedding.sp);
  plan.mutable_embedding()->set_dp_type(shape.embedding.dp_type);
  const std::string path = dir.File(name);
  REQUIRE(WriteTextFile(path, MessageToJson(plan)).ok());
  return path;
}

std::vector<v1::StepMetrics> ReadMetrics(const std::string& path) {
  std::vector<v1::StepMetrics> steps;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    v1::StepMetrics m;
    INFO(path << ": " << line);
    REQUIRE(JsonToMessage(line, path, &m).ok());
    steps.push_back(m);
  }
  return steps;
}

}  // namespace galvatron::testing
