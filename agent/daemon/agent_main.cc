// galvatron-agent: one per node. Flags → the node's description (host facts
// and devices) and AgentConfig → register with the planner and heartbeat
// until SIGTERM or SIGINT. No LibTorch here: the workers it starts link it.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>

#include "CLI/CLI.hpp"
#include "agent/daemon/agent_daemon.h"
#include "agent/daemon/devices.h"
#include "common/client_security_flags.h"
#include "common/logging.h"
#include "common/main_guard.h"
#include "common/model_validation.h"
#include "common/rpc_channel.h"
#include "spdlog/spdlog.h"

namespace {

constexpr char kAgentVersion[] = "0.1.0";

int Fail(const std::string& message) {
  std::fprintf(stderr, "galvatron-agent: %s\n", message.c_str());
  return 1;
}

// galvatron-worker beside this binary, else the first in $PATH, else the
// name beside this binary (the warning names it).
std::string FindWorker() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  const std::string beside =
      error ? "galvatron-worker" : (self.parent_path() / "galvatron-worker").string();
  if (access(beside.c_str(), X_OK) == 0) return beside;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string dirs = path;
    size_t start = 0;
    while (start <= dirs.size()) {
      const size_t end = std::min(dirs.find(':', start), dirs.size());
      const std::string candidate =
          (std::filesystem::path(dirs.substr(start, end - start)) / "galvatron-worker").string();
      if (end > start && access(candidate.c_str(), X_OK) == 0) return candidate;
      start = end + 1;
    }
  }
  return beside;
}

// The program; main() below runs it inside RunGuardedMain.
int GuardedMain(int argc, char** argv) {
  CLI::App app{
      "galvatron-agent: the Galvatron-C++ node agent. It registers this node (host, CPU "
      "cores, RAM and devices) with galvatron-planner, sends heartbeats so the planner can "
      "tell alive nodes from lost ones, and registers again with backoff when the planner "
      "restarts. It runs the tasks the planner gives it (interconnect probes, compute "
      "profiling) with one galvatron-worker per device and reports their progress and "
      "results. SIGTERM or SIGINT stops it and its workers."};
  app.set_version_flag("--version", std::string("galvatron-agent ") + kAgentVersion);
  galvatron::agent::AgentConfig config;
  galvatron::LoggingOptions logging;
  std::string cluster, node_name, devices_flag = "auto", work_dir = "./galvatron-agent";
  app.add_option("--planner", config.planner, "planner address HOST:PORT")->capture_default_str();
  galvatron::ClientSecurityOptions security;
  galvatron::AddClientSecurityFlags(&app, &security);
  app.add_option("--cluster", cluster, "cluster this node belongs to")->required();
  app.add_option("--node-name", node_name, "name of this node (default: the host name)");
  app.add_option("--devices", devices_flag,
                 "devices to offer: auto (every CUDA device the driver reports, else one CPU "
                 "device), cpu:N, cuda:all or cuda:I,J,...")
      ->capture_default_str();
  int cores = 0;
  app.add_option("--cores", cores,
                 "CPU cores this agent offers its workers, split evenly between their ranks "
                 "(0 = every core of the machine; set it when several agents share a machine)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--work-dir", work_dir, "directory for the agent's files (created if missing)")
      ->capture_default_str();
  app.add_option("--heartbeat-interval-ms", config.heartbeat_interval_ms,
                 "milliseconds between heartbeats (0 = what the planner asks for)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{3600000}));
  std::string worker_path, advertise_host;
  app.add_option("--worker", worker_path,
                 "the galvatron-worker binary that runs tasks (default: the one beside this "
                 "binary, else the first in $PATH)");
  app.add_option("--advertise-host", advertise_host,
                 "host name or address other nodes use to reach this node's rank-0 store "
                 "(default: the host name)");
  app.add_option("--worker-log-level", config.executor.worker_log_level,
                 "log level of the workers (their logs are in the work dir)")
      ->capture_default_str();
  double planner_grace_seconds = 300;
  app.add_option("--planner-grace-seconds", planner_grace_seconds,
                 "keep a training task's workers running this long while the planner is "
                 "unreachable (it may be restarting), then stop them")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  double claim_wait_seconds = absl::ToDoubleSeconds(config.claim_wait);
  app.add_option("--name-claim-wait-seconds", claim_wait_seconds,
                 "while another live agent holds this --node-name, keep registering this long "
                 "(for a killed predecessor to be found lost), then exit with an error")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--ready-file", config.ready_file,
                 "once first registered, write a line saying so to this file");
  app.add_option("--log-level", logging.level, "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  app.add_option("--log-format", logging.format, "text or json (one object per line)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (auto status = galvatron::InitLogging(logging); !status.ok()) {
    std::fprintf(stderr, "galvatron-agent: %s\n", std::string(status.message()).c_str());
    return 2;
  }
  // Signals are handled by one thread with sigwait; every other thread
  // (gRPC's included, created later) inherits this mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  galvatron::ApplySecurityEnvironment(&security);
  auto credentials = galvatron::LoadClientCredentials(security);
  if (!credentials.ok()) return Fail(std::string(credentials.status().message()));
  config.credentials = std::move(*credentials);

  galvatron::agent::HostFacts host = galvatron::agent::ReadHostFacts();
  if (cores > host.cpu_cores) {
    return Fail("--cores " + std::to_string(cores) + ": this machine has " +
                std::to_string(host.cpu_cores) + " cores");
  }
  if (cores > 0) host.cpu_cores = cores;
  if (node_name.empty()) node_name = host.host_name.substr(0, host.host_name.find('.'));
  for (auto status : {galvatron::ValidateName("--cluster", cluster),
                      galvatron::ValidateName("--node-name", node_name)}) {
    if (!status.ok()) return Fail(std::string(status.message()));
  }
  auto spec = galvatron::agent::ParseDeviceSpec(devices_flag);
  if (!spec.ok()) return Fail(std::string(spec.status().message()));
  auto devices = galvatron::agent::DiscoverDevices(*spec, host);
  if (!devices.ok()) return Fail(std::string(devices.status().message()));
  std::error_code error;
  std::filesystem::create_directories(work_dir, error);
  if (error) return Fail("--work-dir " + work_dir + ": " + error.message());

  config.claim_wait = absl::Seconds(claim_wait_seconds);
  config.executor.work_dir = work_dir;
  config.executor.planner_grace = absl::Seconds(planner_grace_seconds);
  config.executor.advertise_host = advertise_host.empty() ? host.host_name : advertise_host;
  config.executor.worker_path = worker_path.empty() ? FindWorker() : worker_path;
  if (access(config.executor.worker_path.c_str(), X_OK) != 0) {
    spdlog::warn(
        "worker binary {} is not executable: tasks will fail until it is installed "
        "(--worker PATH)",
        config.executor.worker_path);
  }

  galvatron::v1::Node node;
  node.set_name(node_name);
  node.set_cluster(cluster);
  node.set_host(host.host_name);
  node.set_cpu_cores(host.cpu_cores);
  node.set_memory_bytes(host.memory_bytes);
  node.set_agent_version(kAgentVersion);
  for (auto& device : *devices) *node.add_devices() = std::move(device);
  spdlog::info(
      "galvatron-agent {} for {}/{} on {}: {} cores, {} bytes RAM, {} {} device(s); "
      "work dir {}",
      kAgentVersion, cluster, node_name, host.host_name, host.cpu_cores, host.memory_bytes,
      node.devices_size(),
      node.devices_size() > 0 && node.devices(0).kind() == galvatron::v1::DEVICE_KIND_CUDA ? "CUDA"
                                                                                           : "CPU",
      work_dir);

  galvatron::agent::AgentDaemon daemon(config, node);
  std::thread signal_waiter([&signals, &daemon] {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    spdlog::info("received {}, stopping", signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
    daemon.Stop();
  });
  absl::Status status = daemon.Run();
  // Run() also ends on a fatal error: wake the signal thread so it can be joined.
  if (!status.ok()) kill(getpid(), SIGTERM);
  signal_waiter.join();
  if (!status.ok()) return Fail(std::string(status.message()));
  spdlog::info("galvatron-agent stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return galvatron::RunGuardedMain("galvatron-agent", [&] { return GuardedMain(argc, argv); });
}
