// `galvatron-planner search`: the offline search, from files (our JSON or
// Galvatron's profile folders) to a plan on stdout, without any daemon.
#pragma once

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
  std::string mode = "default";  // default | galvatron
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
  std::string calibration;           // a Calibration JSON file to search with ("" = none)
  bool quiet = false;                // no progress on stderr
};

// Runs the search and prints the plan; returns the process exit code
// (0 plan found, 1 error, 3 nothing fits).
int RunSearchCommand(const SearchCommandConfig& config);

}  // namespace galvatron::planner
