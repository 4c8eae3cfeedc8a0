// galvatron-agent processes for end-to-end tests: one "node" of cluster
// "test" on loopback. Not thread-safe (test code).
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
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

// The galvatron-worker processes on this machine whose command line
// mentions `marker` (a test's temporary directory, a node's work dir, a
// task's folder): their pids. Zombies (already exited, not yet reaped) have
// no command line and are not counted.
inline std::vector<pid_t> WorkerPids(const std::string& marker) {
  std::vector<pid_t> pids;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    const bool process = !name.empty() && std::all_of(name.begin(), name.end(),
                                                      [](char c) { return c >= '0' && c <= '9'; });
    if (!process) continue;
    std::ifstream cmdline(entry.path() / "cmdline", std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(cmdline)),
                           std::istreambuf_iterator<char>());
    if (text.find("galvatron-worker") != std::string::npos &&
        text.find(marker) != std::string::npos) {
      pids.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return pids;
}

// The pid of the `galvatron-worker train` process of `rank` whose command
// line mentions `marker`; 0 if none.
inline pid_t TrainWorkerPid(const std::string& marker, int rank) {
  for (pid_t pid : WorkerPids(marker)) {
    std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    std::replace(text.begin(), text.end(), '\0', ' ');
    if (text.find(" train ") != std::string::npos &&
        text.find(" --rank " + std::to_string(rank) + " ") != std::string::npos) {
      return pid;
    }
  }
  return 0;
}

// Cleanup after a failed check, so that nothing outlives the test: SIGKILLs
// the workers whose command line mentions `marker`; how many there were.
inline int KillWorkers(const std::string& marker) {
  const std::vector<pid_t> pids = WorkerPids(marker);
  for (pid_t pid : pids) ::kill(pid, SIGKILL);
  return static_cast<int>(pids.size());
}

}  // namespace galvatron::testing
