// The plan a training run executes, read from our Plan JSON (what
// `galvatron plan --json` and `galvatron-planner search --json` print) or from
// Galvatron's strategy JSON (galvatron_config_*.json, what Galvatron users
// train with), and checked against the model and the world size before any
// process group is made. No LibTorch here.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "galvatron/v1/model.pb.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron::runtime {

struct LoadedPlan {
  v1::Plan plan;
  std::string format;              // "plan" or "galvatron"
  std::vector<std::string> notes;  // what a Galvatron file held that a Plan cannot
};

// Reads `path`: a Galvatron strategy file has a "pp_deg" key
// (interop::SniffGalvatronConfig); anything else is parsed as a Plan.
// `world_size` completes Galvatron files without a world_size key (and must
// match when they have one).
absl::StatusOr<LoadedPlan> LoadPlanFile(const std::string& path, int world_size);

// Checks that the plan can run `model` on `world_size` ranks: one strategy per
// layer of the model, pp dividing the world, tp · dp · pp = world for every
// layer, tensor/sequence degrees dividing the heads (and KV heads, and for
// Ulysses the sequence), the pipeline division summing to the layers, the
// global batch splitting into micro-batches and data-parallel shards, and the
// vocabulary splitting over the embedding's tp. INVALID_ARGUMENT naming the
// layer, the field and the value.
absl::Status CheckPlanForModel(const v1::Plan& plan, const v1::ModelSpec& model, int world_size);

}  // namespace galvatron::runtime
