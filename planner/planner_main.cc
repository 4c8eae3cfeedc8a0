// galvatron-planner: the central daemon. Flags → PlannerConfig → serve until
// SIGTERM or SIGINT.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <string>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "common/json_file.h"
#include "common/logging.h"
#include "planner/service/planner_server.h"
#include "spdlog/spdlog.h"

namespace {

int Serve(const galvatron::planner::PlannerConfig& config,
          const std::string& ready_file) {
  // Signals are handled by one thread with sigwait; every other thread
  // (gRPC's included, created later) inherits this mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = galvatron::planner::PlannerServer::Start(config);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", std::string(server.status().message()));
    std::fprintf(stderr, "galvatron-planner: %s\n",
                 std::string(server.status().message()).c_str());
    return 1;
  }
  if (!ready_file.empty()) {
    auto written = galvatron::WriteTextFile(ready_file, (*server)->address() + "\n");
    if (!written.ok()) {
      std::fprintf(stderr, "galvatron-planner: --ready-file: %s\n",
                   std::string(written.message()).c_str());
      (*server)->Shutdown(absl::ZeroDuration());
      return 1;
    }
  }
  std::thread signal_waiter([&signals, &server] {
    int signal_number = 0;
    sigwait(&signals, &signal_number);
    spdlog::info("received {}, shutting down (calls in flight get 5 s)",
                 signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
    (*server)->Shutdown(absl::Seconds(5));
  });
  (*server)->Wait();
  signal_waiter.join();
  spdlog::info("galvatron-planner stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "galvatron-planner: the Galvatron-C++ planner daemon. It stores model specs, "
      "hardware and compute profiles and plans in SQLite and serves them over gRPC."};
  app.set_version_flag("--version", "galvatron-planner 0.1.0");
  galvatron::planner::PlannerConfig config;
  galvatron::LoggingOptions logging;
  std::string ready_file;
  app.add_option("--db", config.db_path, "SQLite database file (created if missing)")
      ->capture_default_str();
  app.add_option("--listen", config.listen,
                 "address to serve on, HOST:PORT (port 0 picks a free one)")
      ->capture_default_str();
  app.add_option("--log-level", logging.level,
                 "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  app.add_option("--log-format", logging.format, "text or json (one object per line)")
      ->capture_default_str();
  app.add_option("--max-message-bytes", config.max_message_bytes,
                 "largest request or response accepted")
      ->capture_default_str()
      ->check(CLI::Range(4096, 1 << 30));
  app.add_option("--ready-file", ready_file,
                 "once serving, write the address (with the actual port) to this file");
  CLI11_PARSE(app, argc, argv);

  if (auto status = galvatron::InitLogging(logging); !status.ok()) {
    std::fprintf(stderr, "galvatron-planner: %s\n", std::string(status.message()).c_str());
    return 2;
  }
  return Serve(config, ready_file);
}
