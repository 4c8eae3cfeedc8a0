#include "tests/planner/search/galvatron_llama.h"

#include <catch2/catch.hpp>

#include "common/model_catalog.h"
#include "interop/galvatron_hardware.h"
#include "interop/galvatron_model.h"
#include "tests/support/test_support.h"

namespace galvatron::testing {

GalvatronLlama LoadGalvatronLlama(int num_nodes, int gpus_per_node, const std::string& cluster) {
  const std::string data = SourceDir() + "/tests/data/galvatron";
  GalvatronLlama out;
  out.model = *CatalogModel("llama2-7b");
  out.model.set_seq_len(2048);
  interop::GalvatronHardwareFiles hw;
  hw.directory = data;
  hw.num_nodes = num_nodes;
  hw.gpus_per_node = gpus_per_node;
  hw.cluster = cluster;
  auto hardware = interop::ReadGalvatronHardware(hw);
  REQUIRE(hardware.ok());
  out.hardware = *hardware;
  interop::GalvatronModelFiles files;
  files.computation_profile_path = data + "/computation_profiling_bf16_llama2-7b_all.json";
  files.memory_profile_path = data + "/memory_profiling_bf16_llama2-7b_all.json";
  files.spec = out.model;
  files.cluster = cluster;
  files.time_profile_mode = interop::GalvatronTimeProfileMode::kBatch;
  auto compute = interop::ReadGalvatronModelProfiles(files);
  REQUIRE(compute.ok());
  out.compute = *compute;
  return out;
}

}  // namespace galvatron::testing
