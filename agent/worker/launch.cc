#include "agent/worker/launch.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/host_facts.h"

namespace galvatron::worker {
namespace {

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

// How long stopped ranks get to end after SIGTERM before SIGKILL.
constexpr auto kKillGrace = std::chrono::seconds(10);

pid_t Spawn(const std::vector<std::string>& argv, int rank, int nproc, int port) {
  std::vector<std::string> env_strings = {
      absl::StrCat("RANK=", rank),       absl::StrCat("WORLD_SIZE=", nproc),
      absl::StrCat("LOCAL_RANK=", rank), absl::StrCat("LOCAL_WORLD_SIZE=", nproc),
      "MASTER_ADDR=127.0.0.1",           absl::StrCat("MASTER_PORT=", port)};
  const int threads = std::max(1, ReadHostFacts().cpu_cores / std::max(1, nproc));
  if (std::getenv("OMP_NUM_THREADS") == nullptr) {
    env_strings.push_back(absl::StrCat("OMP_NUM_THREADS=", threads));
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    for (std::string& e : env_strings) putenv(e.data());
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

int Launch(const std::string& self, int nproc, const std::vector<std::string>& command,
           double timeout_seconds) {
  if (nproc < 1 || command.empty()) {
    std::fprintf(stderr, "galvatron-worker launch: --nproc N -- COMMAND ... (N >= 1)\n");
    return 2;
  }
  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  char dir_template[] = "/tmp/galvatron-launch-XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) {
    std::perror("galvatron-worker launch: mkdtemp");
    return 1;
  }
  const std::string port_file = std::string(dir) + "/port";
  auto argv_of = [&](int rank, const std::string& store, bool with_port_file) {
    std::vector<std::string> argv = {self};
    argv.insert(argv.end(), command.begin(), command.end());
    argv.insert(argv.end(), {"--rank", std::to_string(rank), "--world-size", std::to_string(nproc),
                             "--store", store});
    if (with_port_file) argv.insert(argv.end(), {"--port-file", port_file});
    return argv;
  };
  std::vector<pid_t> pids(static_cast<size_t>(nproc), -1);
  // SIGTERM now; the loop below sends SIGKILL to what is left after
  // kKillGrace.
  std::optional<std::chrono::steady_clock::time_point> stopped_at;
  auto stop_all = [&] {
    for (pid_t pid : pids) {
      if (pid > 0) kill(pid, SIGTERM);
    }
    if (!stopped_at) stopped_at = std::chrono::steady_clock::now();
  };
  pids[0] = Spawn(argv_of(0, "127.0.0.1:0", nproc > 1), 0, nproc, 0);
  int exit_code = 0;
  if (nproc > 1) {
    // Rank 0 writes its store's port once it serves.
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
    int port = 0;
    while (port == 0 && std::chrono::steady_clock::now() < deadline && !g_stop) {
      std::ifstream in(port_file);
      int value = 0;
      if (in >> value && value > 0) port = value;
      int status = 0;
      if (waitpid(pids[0], &status, WNOHANG) == pids[0]) {
        pids[0] = -1;
        exit_code = WIFEXITED(status) ? std::max(1, WEXITSTATUS(status)) : 128 + WTERMSIG(status);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (port == 0) {
      if (exit_code == 0) {
        std::fprintf(stderr, "galvatron-worker launch: rank 0 did not start its store\n");
        exit_code = 1;
      }
      stop_all();
    } else {
      for (int r = 1; r < nproc; ++r) {
        pids[static_cast<size_t>(r)] =
            Spawn(argv_of(r, absl::StrCat("127.0.0.1:", port), false), r, nproc, port);
      }
    }
  }
  // Wait for all; the first failure stops the others.
  int running = 0;
  for (pid_t pid : pids) running += pid > 0;
  bool stopping = false;
  while (running > 0) {
    if (g_stop && !stopping) {
      stop_all();
      stopping = true;
      if (exit_code == 0) exit_code = 130;
    }
    if (stopped_at && std::chrono::steady_clock::now() - *stopped_at > kKillGrace) {
      for (pid_t pid : pids) {
        if (pid > 0) kill(pid, SIGKILL);
      }
    }
    int status = 0;
    const pid_t done = waitpid(-1, &status, WNOHANG);
    if (done <= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    for (size_t r = 0; r < pids.size(); ++r) {
      if (pids[r] != done) continue;
      pids[r] = -1;
      --running;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && exit_code == 0) {
        exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        std::fprintf(stderr,
                     "galvatron-worker launch: rank %zu failed (%s %d); stopping the others\n", r,
                     WIFEXITED(status) ? "exit code" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        stop_all();
      }
    }
  }
  std::error_code error;
  std::filesystem::remove_all(dir, error);
  return exit_code;
}

}  // namespace galvatron::worker
