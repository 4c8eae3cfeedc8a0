// Pipeline partitions: how many consecutive layers each stage holds.
// Thread-safe: pure functions over a const cost model.
#pragma once

#include <vector>

#include "planner/cost/cost_model.h"

namespace galvatron::search {

// Galvatron's pp_division_even: floor(L/pp) per stage, the rest on the last.
std::vector<int> EvenPartition(int num_layers, int pp);

// Galvatron 2.x's pp_division_memory_balanced: each layer weighs the least
// memory any candidate strategy gives it, each stage also carries its
// embedding/head memory under `embedding`; stages are filled greedily up to
// the average, a stage above 1.3x the average gives its last layers to the
// next, and no stage is left empty.
std::vector<int> MemoryBalancedPartition(const cost::CostModel& model,
                                         const std::vector<cost::LayerStrategy>& candidates,
                                         const cost::EmbeddingStrategy& embedding, int global_batch,
                                         int chunks, int pp);

// Our fix (the BMW idea; Galvatron ships none): minimises the slowest stage's
// time, each layer weighing its fastest candidate's time and each stage its
// embedding/head time; an exact linear-partition DP, O(pp·L²).
std::vector<int> TimeBalancedPartition(const cost::CostModel& model,
                                       const std::vector<cost::LayerStrategy>& candidates,
                                       const cost::EmbeddingStrategy& embedding, int global_batch,
                                       int chunks, int pp);

// The exact min-max contiguous partition of `weights` into `parts` non-empty
// runs, with `extra[k]` added to part k. Exposed for tests.
std::vector<int> MinMaxPartition(const std::vector<double>& weights,
                                 const std::vector<double>& extra, int parts);

}  // namespace galvatron::search
