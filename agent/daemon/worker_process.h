// A worker process the agent supervises: started with fork + exec, its
// stdout and stderr appended to a log file, in a process group of its own,
// and killed by the kernel if the agent dies (PR_SET_PDEATHSIG), so that no
// worker outlives its agent. Thread-compatible: one supervising thread.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace galvatron::agent {

class WorkerProcess {
 public:
  // argv[0] is the program path (not searched in $PATH). `env` entries are
  // added to (or replace those of) the agent's environment.
  static absl::StatusOr<WorkerProcess> Start(const std::vector<std::string>& argv,
                                             const std::map<std::string, std::string>& env,
                                             const std::string& log_path);

  WorkerProcess(WorkerProcess&& other) noexcept;
  WorkerProcess& operator=(WorkerProcess&&) = delete;
  WorkerProcess(const WorkerProcess&) = delete;
  // Kills a worker still running (SIGKILL) and reaps it.
  ~WorkerProcess();

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  // The exit once it has exited (reaped), nullopt while it runs.
  std::optional<int> Poll();
  bool running() { return !Poll().has_value(); }
  // SIGTERM, then SIGKILL if it has not exited after `grace`. Reaps it.
  void Stop(absl::Duration grace);

  // "exit code 3", "killed by signal 9 (Killed)".
  static std::string DescribeExit(int wait_status);
  // The last `max_lines` lines of the log (for error messages).
  std::string LogTail(int max_lines) const;

 private:
  WorkerProcess(pid_t pid, std::string log_path) : pid_(pid), log_path_(std::move(log_path)) {}

  pid_t pid_ = -1;
  std::string log_path_;
  std::optional<int> wait_status_;
};

}  // namespace galvatron::agent
