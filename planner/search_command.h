// `galvatron-planner search`: the offline search, from files (our JSON or
// Galvatron's profile folders) to a plan on stdout, without any daemon.
#pragma once

#include <set>
#include <string>

namespace galvatron::planner {

struct SearchCommandConfig {
  std::string model;     // ModelSpec JSON file, or a catalog name
  std::string hardware;  // HardwareProfile JSON file, or Galvatron's hardware_configs folder
  std::string compute;   // ComputeProfile JSON file(s) or Galvatron's profile folder; "" = analytic
  std::string cluster = "galvatron";  // cluster name for profiles read from Galvatron folders
  int num_nodes = 0;                  // Galvatron folders: 0 = from the file names
  int gpus_per_node = 0;
  std::string time_profile_mode = "static";  // Galvatron compute profiles: static|batch|sequence
  std::string memory;                        // per device, e.g. "36GiB"
  std::string global_batch = "8";            // "16" or "16..64:16"
  int micro_batches = 0;                     // 0 = search them
  int seq = 0;
  std::string mode = "default";  // default | galvatron | galvatron-extended
  std::string disable;           // comma-separated
  int max_tp = 0;
  int max_pp = 0;
  std::string pipeline;                 // "" (mode's default), gpipe, 1f1b, or "gpipe,1f1b"
  std::string default_dp_type = "ddp";  // galvatron mode: ddp or zero2
  int threads = 0;
  double time_limit = 0;
  int top_k = 5;
  bool json = false;
  std::string galvatron_config_out;  // also write Galvatron's strategy JSON here
  // Also write the search's inputs as Galvatron's files (configs/ and
  // hardware_configs/ under this folder): its own engine's `path`.
  std::string galvatron_inputs_out;
  std::string calibration;  // a Calibration JSON file to search with ("" = none)
  bool quiet = false;       // no progress on stderr
  // Why the plan won (its nearest runners-up by component); for a request
  // nothing fits, the smallest changes that would make it fit.
  bool explain = false;

  // Galvatron's search settings by their names (galvatron modes), unset
  // when empty / 0 / -1: Galvatron's defaults.
  std::string galvatron_yaml;        // its search_dist.yaml
  std::string memory_profile_mode;   // static | sequence ("" = static)
  std::string mixed_precision;       // bf16 | fp16 | fp32 ("" = the model's)
  std::string sequence_parallel;     // true | false
  std::string global_memory_buffer;  // true | false
  std::string async_grad_reduce;     // true | false
  int fine_grained_mode = -1;        // 1 | 0
  double costmodel_coe = 0;          // debug_costmodel_coe
  int settle_bsz = 0;                // > 0: this global batch only
  int bsz_scale = 0;                 // > 0: the step of the global batch range
  // The flags given on the command line (by their long names, e.g.
  // "--memory"): they win over the YAML file's values.
  std::set<std::string> given;
};

// Runs the search and prints the plan; returns the process exit code
// (0 plan found, 1 error, 3 nothing fits).
int RunSearchCommand(const SearchCommandConfig& config);

}  // namespace galvatron::planner
