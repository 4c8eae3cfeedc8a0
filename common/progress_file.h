// Progress of a long-running worker, as a small JSON file the worker rewrites
// atomically and its supervisor (galvatron-agent) reads: {"fraction": 0.42,
// "message": "all-reduce 8 ranks strided, 1 MiB"}. A file, not a pipe, so the
// supervisor never blocks on a worker and a worker never blocks on a slow
// supervisor.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace galvatron {

struct Progress {
  double fraction = 0;  // 0..1
  std::string message;
};

// Writes `progress` to `path` (tmp + rename). An empty path writes nothing.
absl::Status WriteProgressFile(const std::string& path, const Progress& progress);

// NOT_FOUND when the worker has not written one yet.
absl::StatusOr<Progress> ReadProgressFile(const std::string& path);

}  // namespace galvatron
