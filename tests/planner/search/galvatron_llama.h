// Galvatron's own LLaMA-2-7B files (tests/data/galvatron) as search inputs:
// the catalog's llama2-7b at seq 2048, the A100 hardware files of one
// cluster size, and the compute profiles with Galvatron's batch-mode time
// fit. Shared by the search tests. Not thread-safe (test code: REQUIREs).
#pragma once

#include <string>
#include <vector>

#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/hardware.pb.h"
#include "galvatron/v1/model.pb.h"

namespace galvatron::testing {

struct GalvatronLlama {
  v1::ModelSpec model;
  v1::HardwareProfile hardware;
  std::vector<v1::ComputeProfile> compute;
};

// num_nodes x gpus_per_node must be a size Galvatron ships files for
// (1x4, 1x8, 2x8).
GalvatronLlama LoadGalvatronLlama(int num_nodes, int gpus_per_node, const std::string& cluster);

}  // namespace galvatron::testing
