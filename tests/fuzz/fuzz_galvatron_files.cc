// Galvatron's files as a user hands them to us: hardware profiles
// (allreduce, p2p, overlap, sp_time), model profiles (computation and
// memory) and strategy files. The first byte picks the reader; the rest is
// split at "\n@@\n" into the files it reads.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/model_catalog.h"
#include "interop/galvatron_config.h"
#include "interop/galvatron_hardware.h"
#include "interop/galvatron_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace galvatron;
  if (size == 0) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string> parts = absl::StrSplit(text, "\n@@\n");
  parts.resize(4);
  switch (data[0] % 3) {
    case 0: {
      interop::GalvatronHardwareJson json;
      json.allreduce_bandwidth = parts[0];
      json.p2p_bandwidth = parts[1];
      json.overlap_coefficient = parts[2];
      json.sp_time = parts[3];
      const int nodes = 1 + (data[0] >> 4) % 2;
      (void)interop::ParseGalvatronHardware(json, nodes, 8, "fuzz");
      break;
    }
    case 1: {
      interop::GalvatronModelFiles files;
      static const auto* spec = new v1::ModelSpec(*CatalogModel("llama2-7b"));
      files.spec = *spec;
      files.cluster = "fuzz";
      files.time_profile_mode = (data[0] >> 4) % 2 ? interop::GalvatronTimeProfileMode::kBatch
                                                   : interop::GalvatronTimeProfileMode::kStatic;
      (void)interop::ParseGalvatronModelProfiles(parts[0], parts[1], files);
      break;
    }
    default: {
      interop::GalvatronConfigReadOptions options;
      options.world_size = (data[0] >> 4) % 2 ? 8 : 0;
      (void)interop::ImportGalvatronConfig(text, "fuzz", options);
      break;
    }
  }
  return 0;
}
