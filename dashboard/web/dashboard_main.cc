// galvatron-dashboard: the web UI of the planner (docs/dashboard.md). Flags →
// a gRPC channel to the planner and a web server; serves until SIGTERM or
// SIGINT; SIGHUP re-reads the browsers' token file.

#include <cstdio>
#include <cstdlib>
#include <string>

#include "CLI/CLI.hpp"
#include "common/client_security_flags.h"
#include "common/json_file.h"
#include "common/logging.h"
#include "common/main_guard.h"
#include "common/rpc_channel.h"
#include "common/signal_watch.h"
#include "dashboard/web/dashboard_server.h"
#include "dashboard/web/planner_views.h"
#include "spdlog/spdlog.h"

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "galvatron-dashboard: %s\n", message.c_str());
  return 1;
}

int GuardedMain(int argc, char** argv) {
  CLI::App app{
      "galvatron-dashboard: the web UI of the Galvatron-C++ planner. It asks the planner over "
      "its gRPC API and shows its clusters, nodes, profiles, models, plans and jobs in a "
      "browser, with a JSON API beside the pages (docs/dashboard.md)."};
  app.set_version_flag("--version", "galvatron-dashboard 0.1.0");
  std::string planner = "127.0.0.1:50051";
  if (const char* env = std::getenv("GALVATRON_PLANNER"); env && *env) planner = env;
  app.add_option("--planner", planner,
                 "planner address HOST:PORT (default: $GALVATRON_PLANNER or 127.0.0.1:50051)");
  galvatron::ClientSecurityOptions security;
  galvatron::AddClientSecurityFlags(&app, &security);
  galvatron::dashboard::DashboardConfig config;
  app.add_option("--listen", config.listen,
                 "address to serve browsers on, HOST:PORT (port 0 picks a free one); beyond "
                 "loopback only with --https-cert/--https-key and --auth-tokens")
      ->capture_default_str();
  app.add_option("--https-cert", config.https_cert,
                 "serve HTTPS with this certificate chain (PEM), with --https-key");
  app.add_option("--https-key", config.https_key, "the HTTPS certificate's private key (PEM)");
  app.add_option("--auth-tokens", config.auth_tokens,
                 "token file browsers log in with (the planner's format, `ROLE NAME TOKEN "
                 "[CLUSTER]` per line; every role may look, user and admin may ask for plans); "
                 "re-read on SIGHUP");
  galvatron::dashboard::PlannerViewsOptions views_options;
  app.add_option("--timeout", views_options.timeout_seconds,
                 "seconds to wait for the planner's answer to each call")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--whatif-time-limit", views_options.whatif_time_limit_seconds,
                 "seconds a plan search asked from the what-if form may take")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  std::string ready_file;
  app.add_option("--ready-file", ready_file,
                 "once serving, write the URL (with the actual port) to this file");
  galvatron::LoggingOptions logging;
  app.add_option("--log-level", logging.level, "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();
  app.add_option("--log-format", logging.format, "text or json (one object per line)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // Signals go to one thread; every other thread (gRPC's start with the
  // first credentials, the HTTP server's later) inherits the blocked mask.
  galvatron::SignalWatch signals(/*reload=*/true);
  if (absl::Status s = galvatron::InitLogging(logging); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  views_options.plan_timeout_seconds = views_options.whatif_time_limit_seconds + 30;

  galvatron::ApplySecurityEnvironment(&security);
  absl::StatusOr<galvatron::ClientCredentials> credentials =
      galvatron::LoadClientCredentials(security);
  if (!credentials.ok()) return Fail(std::string(credentials.status().message()));

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = galvatron::CreatePlannerChannel(planner, *credentials, args);
  auto server = galvatron::dashboard::DashboardServer::Start(
      config, std::make_unique<galvatron::dashboard::PlannerViews>(channel, views_options));
  if (!server.ok()) return Fail(std::string(server.status().message()));
  spdlog::info("dashboard: planner {} ({}{})", planner, credentials->tls ? "TLS" : "plaintext",
               credentials->token.empty() ? "" : ", with a token");
  if (!ready_file.empty()) {
    if (absl::Status s = galvatron::WriteTextFile(ready_file, (*server)->url() + "\n"); !s.ok()) {
      return Fail(absl::StrCat("--ready-file: ", s.message()));
    }
  }
  signals.Start(
      [&server] {
        if (absl::Status s = (*server)->auth().Reload(); !s.ok()) {
          spdlog::error("SIGHUP: the token file was not re-read, the old tokens stay: {}",
                        std::string(s.message()));
        } else {
          spdlog::info("SIGHUP: {}", (*server)->auth().enabled()
                                         ? "token file re-read"
                                         : "no token file to re-read (--auth-tokens)");
        }
      },
      [&server](const char* name) {
        spdlog::info("received {}, stopping", name);
        (*server)->Stop();
      });
  (*server)->Wait();
  signals.Join();
  spdlog::info("galvatron-dashboard stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return galvatron::RunGuardedMain("galvatron-dashboard", [&] { return GuardedMain(argc, argv); });
}
