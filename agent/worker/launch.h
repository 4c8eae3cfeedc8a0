// `galvatron-worker launch --nproc N -- train ...`: starts N local ranks the
// way `torchrun --standalone` does. Rank 0 is started first with a free store
// port (written to a file it watches); the others join it. Every rank shares
// the launcher's stdout/stderr and gets RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT. When one rank fails the
// others are stopped; SIGINT/SIGTERM to the launcher stop them all. No
// LibTorch here.
#pragma once

#include <string>
#include <vector>

namespace galvatron::worker {

// `self`: this binary; `command`: what follows "--" (e.g. {"train", ...}).
// The exit code of the launch: 0, or the first failing rank's.
int Launch(const std::string& self, int nproc, const std::vector<std::string>& command,
           double timeout_seconds);

}  // namespace galvatron::worker
