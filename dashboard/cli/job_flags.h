// The `galvatron jobs` flags → API requests, checked before anything is sent:
// every error is INVALID_ARGUMENT naming the flag, the value and what was
// expected. Thread-safe: pure functions (they read the files named by --model
// and --plan).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "galvatron/v1/job.pb.h"

namespace galvatron::cli {

// `galvatron jobs submit` as typed; "" = not given.
struct JobSubmitFlags {
  std::string model;  // stored or catalog name, or a ModelSpec JSON file
  std::string cluster;
  std::string memory;        // "4GiB"
  std::string global_batch;  // "8" or "8..64[:8]"; "" = 8, or the plan's with --plan
  std::string steps;
  std::string data;  // "synthetic" or a path present on every node
  std::string dtype;
  std::string lr;
  std::string seed;
  std::string checkpoint_every;
  std::string checkpoint_dir;
  std::string max_restarts;
  std::string nodes;          // "n1,n2"
  std::string plan;           // a plan id, our Plan JSON file or a Galvatron strategy file
  bool export_model = false;  // --export: rank 0 writes model.safetensors at the end
};

// A submission ready to send, but for a Galvatron strategy file without a
// world_size key (Galvatron 2.x): that is converted once the world size is
// known (CompleteGalvatronPlan).
struct JobSubmission {
  v1::SubmitJobRequest request;
  std::string galvatron_config;  // its text, when it still needs the world size
  std::string plan_file;         // the --plan file, for messages
  // What a Galvatron file held that a Plan cannot (shown to the user).
  std::vector<std::string> notes;
};

// Builds the request: the model by name, or inline from a file; the memory
// budget and global batch as `galvatron plan` reads them; training options;
// the nodes; the plan by id, our Plan JSON or a converted Galvatron file.
absl::StatusOr<JobSubmission> ParseJobSubmitFlags(const JobSubmitFlags& flags);

// Converts the pending Galvatron file of `submission` for `world_size` ranks.
absl::Status CompleteGalvatronPlan(int world_size, JobSubmission* submission);

// "running" → JOB_STATE_RUNNING (any case); "" → UNSPECIFIED (any state).
absl::StatusOr<v1::JobState> ParseJobStateFlag(const std::string& text);

}  // namespace galvatron::cli
