// galvatron-agent processes for end-to-end tests: one "node" of cluster
// "test" on loopback. Not thread-safe (test code).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace galvatron::testing {

// Starts galvatron-agent as node `name` with `devices` CPU devices,
// heartbeating every 200 ms, work dir dir/work-<name>, log
// dir/agent-<name>.log (debug); `worker` (if set) replaces the worker binary.
inline std::unique_ptr<ChildProcess> StartAgent(const TempDir& dir, const std::string& planner,
                                                const std::string& name, int devices,
                                                const std::string& worker = "") {
  std::vector<std::string> argv = {BinDir() + "/galvatron-agent",
                                   "--planner",
                                   planner,
                                   "--cluster",
                                   "test",
                                   "--node-name",
                                   name,
                                   "--devices",
                                   "cpu:" + std::to_string(devices),
                                   "--advertise-host",
                                   "127.0.0.1",
                                   "--heartbeat-interval-ms",
                                   "200",
                                   "--work-dir",
                                   dir.File("work-" + name),
                                   "--log-level",
                                   "debug"};
  if (!worker.empty()) {
    argv.push_back("--worker");
    argv.push_back(worker);
  }
  return std::make_unique<ChildProcess>(argv, dir.File("agent-" + name + ".log"));
}

}  // namespace galvatron::testing
