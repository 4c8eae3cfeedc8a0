// Galvatron's hardware profiles (profile_hardware/hardware_configs/*.json) ↔
// our HardwareProfile, following docs/galvatron-mapping.md:
//   allreduce_bandwidth_{N}nodes_{G}gpus_per_node.json  allreduce_size_{s}_consec_{c}: MB/ms
//   p2p_bandwidth_{N}nodes_{G}gpus_per_node.json        pp_size_{pp}: MB/ms
//   overlap_coefficient.json                            overlap_coe
//   sp_time_{N}nodes_{G}gpus_per_node.json (optional)   {allreduce|all2all}_size_{s}_{m}MB_time: ms
// Thread-safe: pure functions (the file functions touch only their paths).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "galvatron/v1/hardware.pb.h"

namespace galvatron::interop {

// Galvatron's file names.
std::string AllreduceBandwidthFileName(int num_nodes, int gpus_per_node);
std::string P2pBandwidthFileName(int num_nodes, int gpus_per_node);
std::string SpTimeFileName(int num_nodes, int gpus_per_node);
inline constexpr char kOverlapCoefficientFileName[] = "overlap_coefficient.json";

// Memory Galvatron reserves for the PyTorch context on every device
// (pytorch_context_mem = 1024 MB).
inline constexpr int64_t kGalvatronRuntimeContextBytes = int64_t{1024} << 20;

// Where Galvatron's hardware files are. Like Galvatron's
// `*_config_path` arguments, each explicit path may be a folder (the file is
// looked up there by its Galvatron name) or the file itself; an empty path
// means `directory`.
struct GalvatronHardwareFiles {
  std::string directory;  // Galvatron's hardware_configs folder
  // 0: inferred from the one allreduce_bandwidth_{N}nodes_{G}gpus_per_node.json
  // present (a non-zero one of the two narrows the choice).
  int num_nodes = 0;
  int gpus_per_node = 0;
  std::string cluster;  // our cluster name for the profile (required)

  std::string allreduce_bandwidth_path;
  std::string p2p_bandwidth_path;
  std::string overlap_coefficient_path;
  // sp_time is optional: an explicit path must exist; otherwise the file is
  // read when present in the folder.
  std::string sp_time_path;
};

// The contents of Galvatron's hardware files, for callers that hold them in
// memory (e.g. an upload). The *_name fields name the inputs in errors.
struct GalvatronHardwareJson {
  std::string allreduce_bandwidth;
  std::string p2p_bandwidth;
  std::string overlap_coefficient;
  std::string sp_time;  // empty: none
  std::string allreduce_bandwidth_name = "allreduce_bandwidth";
  std::string p2p_bandwidth_name = "p2p_bandwidth";
  std::string overlap_coefficient_name = kOverlapCoefficientFileName;
  std::string sp_time_name = "sp_time";
};

// Reads the files into a profile with source PROFILE_SOURCE_GALVATRON_IMPORT
// and runtime_context_bytes = 1024 MiB; the result passes
// ValidateHardwareProfile. Tables come sorted by (collective, group_size,
// layout), samples by bytes. Errors: NOT_FOUND for a missing file,
// INVALID_ARGUMENT naming the file and key for malformed content (every key
// must be one Galvatron writes; the allreduce keys Galvatron's
// read_allreduce_bandwidth_config needs must all be there),
// FAILED_PRECONDITION for an sp_time group with fewer than the 8 message sizes
// Galvatron's remap_config asserts.
absl::StatusOr<v1::HardwareProfile> ReadGalvatronHardware(const GalvatronHardwareFiles& files);

// The same from file contents; num_nodes and gpus_per_node must be given.
absl::StatusOr<v1::HardwareProfile> ParseGalvatronHardware(const GalvatronHardwareJson& json,
                                                           int num_nodes, int gpus_per_node,
                                                           const std::string& cluster);

// The profile in Galvatron's files (text as Galvatron's json.dump(indent=4)
// writes it). ALL_REDUCE and P2P tables without a bus bandwidth get one from
// their fit (or samples) at a 32 MB message, the size Galvatron's profiler
// uses: bus bandwidth 2(s−1)/s·MB/t for all-reduce, MB/t for P2P. sp_time
// holds every sample of the CONSECUTIVE ALL_REDUCE and ALL_TO_ALL tables
// (empty when there are none); overlap_coefficient is empty when the profile's
// is 0 (unknown). FAILED_PRECONDITION when a key Galvatron needs cannot be
// produced, INVALID_ARGUMENT when a sample is not a whole number of MB.
absl::StatusOr<GalvatronHardwareJson> FormatGalvatronHardware(const v1::HardwareProfile& profile);

// Writes FormatGalvatronHardware's files into `dir` (created if missing),
// under Galvatron's names; absent optional files are not written.
absl::Status WriteGalvatronHardware(const v1::HardwareProfile& profile, const std::string& dir);

}  // namespace galvatron::interop
