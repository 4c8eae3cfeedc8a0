// The dashboard's web server: the pages (one HTML shell and its scripts,
// compiled in), the JSON API (planner_views.h) and who may see them
// (browser_auth.h), over HTTP on loopback or HTTPS anywhere, with
// cpp-httplib.
//
// Thread model: httplib serves each connection from its thread pool; the
// handlers share the thread-safe PlannerViews and BrowserAuth.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/net_address.h"
#include "dashboard/web/browser_auth.h"
#include "dashboard/web/planner_views.h"

namespace httplib {
class Server;
}

namespace galvatron::dashboard {

struct DashboardConfig {
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
  std::string https_cert;                 // PEM; with https_key: HTTPS only
  std::string https_key;
  std::string auth_tokens;  // the token file browsers log in with
};

class DashboardServer {
 public:
  // Checks the configuration (beyond loopback: HTTPS and a token file),
  // binds the address and starts serving on a thread of its own.
  static absl::StatusOr<std::unique_ptr<DashboardServer>> Start(
      const DashboardConfig& config, std::unique_ptr<PlannerViews> views);
  ~DashboardServer();  // stops
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  // HOST:PORT with the port actually bound; https:// or http:// in url().
  const std::string& address() const { return address_; }
  std::string url() const;
  BrowserAuth& auth() { return *auth_; }

  // Stops serving; callable from any thread (a signal watcher's).
  void Stop();
  // Blocks until Stop; from one thread only (main's).
  void Wait();

 private:
  DashboardServer() = default;
  void Routes();

  bool https_ = false;
  std::string address_;
  std::unique_ptr<PlannerViews> views_;
  std::unique_ptr<BrowserAuth> auth_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace galvatron::dashboard
