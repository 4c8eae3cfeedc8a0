// `galvatron-worker launch --nproc N -- train ...`: starts N local ranks the
// way `torchrun --standalone` does. Rank 0 is started first with a free store
// port (written to a file it watches); the others join it. Every rank shares
// the launcher's stdout/stderr and gets RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT.
//
// When one rank exits non-zero or by a signal, the launcher says which and
// how, stops the others as torchrun does (SIGTERM, SIGKILL 10 s later for
// any still there) and exits with that rank's status (128 + the signal for
// a signal). SIGINT/SIGTERM to the launcher stop them all likewise. The
// ranks do not depend on it to stop: their peer watch ends them within the
// peer timeout, naming the failed rank, also when they run on several nodes
// with no common launcher. No LibTorch here.
#pragma once

#include <string>
#include <vector>

namespace galvatron::worker {

// `self`: this binary; `command`: what follows "--" (e.g. {"train", ...}).
// The exit code of the launch: 0, or the first failing rank's.
int Launch(const std::string& self, int nproc, const std::vector<std::string>& command,
           double timeout_seconds);

}  // namespace galvatron::worker
