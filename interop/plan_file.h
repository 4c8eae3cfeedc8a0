// A plan file as users have them: our Plan JSON (what `galvatron plan --json`
// and `galvatron-planner search --json` print) or Galvatron's strategy JSON
// (galvatron_config_*.json, what Galvatron users train with). Read by the
// worker (`train --plan`) and the CLI (`jobs submit --plan`).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron::interop {

struct LoadedPlan {
  v1::Plan plan;
  std::string format;              // "plan" or "galvatron"
  std::vector<std::string> notes;  // what a Galvatron file held that a Plan cannot
};

// Reads `path`: a Galvatron strategy file has a "pp_deg" key
// (SniffGalvatronConfig); anything else is parsed as a Plan. `world_size` completes Galvatron files
// without a world_size key (and must match when they have one); 0 = unknown (the file must then say
// it). `megatron_sp`: Galvatron's sequence_parallel training flag, which its strategy files do
// not hold (on by default; off for models whose sequence does not split, as Galvatron's runtime
// would be run for them).
absl::StatusOr<LoadedPlan> LoadPlanFile(const std::string& path, int world_size,
                                        bool megatron_sp = true);

}  // namespace galvatron::interop
