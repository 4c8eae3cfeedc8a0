// Who may look at the dashboard. Beyond loopback the dashboard asks every
// browser for a token from its token file (the planner's format,
// common/token_file.h) and answers with a session cookie; scripts may send
// `Authorization: Bearer TOKEN` instead. Every role may read; `user` and
// `admin` may also ask the planner for a plan (the "what if" form). Without a
// token file everyone is let in (the dashboard then serves loopback only).
//
// Thread-safe: the HTTP server's threads share one BrowserAuth.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/token_file.h"

namespace galvatron::dashboard {

struct Viewer {
  std::string name;  // from the token file; "" without one
  Role role = Role::kViewer;
  std::string cluster;  // a user token limited to one cluster: its plans too
  bool can_plan() const { return role == Role::kUser || role == Role::kAdmin; }
};

class BrowserAuth {
 public:
  // `token_file` empty: no authentication (everyone is an anonymous user).
  static absl::StatusOr<std::unique_ptr<BrowserAuth>> Create(
      const std::string& token_file,
      std::chrono::seconds session_lifetime = std::chrono::hours(12));

  bool enabled() const { return !token_file_.empty(); }
  std::chrono::seconds session_lifetime() const { return lifetime_; }

  // Reads the token file again (SIGHUP); sessions of tokens no longer in it
  // end at their next request. On error the old tokens stay.
  absl::Status Reload() ABSL_LOCKS_EXCLUDED(mu_);

  // A new session for a token of the file: its id (64 hex digits) for the
  // cookie. UNAUTHENTICATED for a token the file does not hold.
  absl::StatusOr<std::string> Login(const std::string& token) ABSL_LOCKS_EXCLUDED(mu_);
  void Logout(const std::string& session) ABSL_LOCKS_EXCLUDED(mu_);

  // Who holds this session id / bearer token; nullopt when nobody (unknown,
  // expired, or its token left the file). Without a token file: an
  // anonymous user, whatever is given.
  std::optional<Viewer> FromSession(const std::string& session) ABSL_LOCKS_EXCLUDED(mu_);
  std::optional<Viewer> FromToken(const std::string& token) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Session {
    std::string token;
    std::chrono::steady_clock::time_point expires;
  };
  BrowserAuth(std::string token_file, std::chrono::seconds lifetime)
      : token_file_(std::move(token_file)), lifetime_(lifetime) {}
  std::optional<Viewer> Find(const std::string& token) const ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const std::string token_file_;
  const std::chrono::seconds lifetime_;
  mutable absl::Mutex mu_;
  std::vector<TokenEntry> tokens_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace galvatron::dashboard
