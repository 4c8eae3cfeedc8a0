// Inputs shared by the cost-model tests: LLaMA-2-7B (bf16, seq 2048) on the
// 8-GPU A100 node of Galvatron's shipped profiles (copies in
// tests/data/galvatron), as messages built by hand following
// docs/galvatron-mapping.md.
#pragma once

#include <vector>

#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/hardware.pb.h"
#include "galvatron/v1/model.pb.h"

namespace galvatron::cost::testing {

// Galvatron's MB.
constexpr double kMiB = 1024.0 * 1024.0;

// llama2-7b from the catalog with seq_len 2048.
v1::ModelSpec Llama7bSpec();

// allreduce_bandwidth_1nodes_8gpus_per_node.json, p2p_bandwidth_...,
// overlap_coefficient.json and sp_time_1nodes_8gpus_per_node.json.
v1::HardwareProfile A100x8();

// memory_profiling_bf16_llama2-7b_all.json (`_sp` tables) and the batch-mode
// time fits 3.859·b + 0.833 (layer) and 2.680·b + 2.355 (other), ms.
std::vector<v1::ComputeProfile> Llama7bProfiles(const v1::ModelSpec& spec);

}  // namespace galvatron::cost::testing
