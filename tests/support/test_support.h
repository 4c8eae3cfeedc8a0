// Helpers shared by the tests: temporary directories, waiting on a condition
// with a deadline, and child processes (planner daemons, CLI runs).
// Not thread-safe unless stated.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace galvatron::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Polls `condition` every few milliseconds until it holds (true) or
// `timeout` passes (false).
bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// The whole file; "" when it cannot be read (e.g. the log of a process that
// has not started yet).
std::string Slurp(const std::string& path);

// Waits up to `timeout` until `port_file` holds a positive port number (what a
// rank-0 worker writes once its store serves) and returns it; 0 if it never
// does.
int WaitForPort(const std::string& port_file,
                std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Directory of the built binaries ($GALVATRON_BIN_DIR, set by CTest).
std::string BinDir();
// Directory of the source tree ($GALVATRON_SOURCE_DIR, set by CTest).
std::string SourceDir();

struct CommandResult {
  int exit_code = -1;  // -1 when killed or not run
  std::string out;
  std::string err;
};

// Runs `argv` to completion (killed after `timeout`) and captures its output.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A child process whose stdout/stderr go to files. Killed (SIGKILL) on
// destruction if still running.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int signal_number);
  // Waits up to `timeout`; the exit code, 128+signal if killed, or -1 if it is
  // still running.
  int Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool reaped_ = false;
};

// A galvatron-planner process on a loopback ephemeral port.
class PlannerProcess {
 public:
  // Starts the planner on `db_path`; waits up to 20 s for it to serve.
  PlannerProcess(const std::string& db_path, const std::string& work_dir);
  // Same, serving on `listen` (e.g. the address of a planner that was
  // stopped, to restart it) with `extra_args` added to its command line.
  PlannerProcess(const std::string& db_path, const std::string& work_dir,
                 const std::vector<std::string>& extra_args,
                 const std::string& listen = "127.0.0.1:0");
  const std::string& address() const { return address_; }
  ChildProcess& process() { return *process_; }
  std::string Log() const;

 private:
  std::string log_path_;
  std::unique_ptr<ChildProcess> process_;
  std::string address_;
};

}  // namespace galvatron::testing
