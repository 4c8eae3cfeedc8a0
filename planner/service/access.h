// Who may call what: the table of every RPC the planner serves and the role
// it needs, the Authorizer that turns a call's bearer token into a
// Principal, and Handle(), the one wrapper every gRPC handler goes through
// (authorize, run, turn exceptions into INTERNAL, log errors and changes).
// The README's table of roles is checked against RpcRules() by a test.
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/rpc_status.h"
#include "common/token_file.h"
#include "grpcpp/server_context.h"

namespace galvatron::planner {

// What a call needs. kRead: any token (viewer, agent, user, admin).
// kUser: user or admin. kAgent: agent or admin. kAdmin: admin only.
// kPublic: no token at all (server reflection, which reveals no stored data).
enum class Access { kRead, kUser, kAgent, kAdmin, kPublic };

struct RpcRule {
  absl::string_view method;  // "ModelService/SubmitModel"
  Access access;
  // Limits beyond the role, as the README states them ("own models", ...).
  absl::string_view scope;
};

// Every RPC of the galvatron.v1 services, each exactly once.
const std::vector<RpcRule>& RpcRules();
// The RPCs of other services that go through GuardedService::Handle, by
// full name ("grpc.reflection.v1.ServerReflection/ServerReflectionInfo"):
// all kPublic.
const std::vector<RpcRule>& PublicRpcRules();
// The rule of `method` ("ModelService/SubmitModel"), or nullptr.
const RpcRule* FindRpcRule(absl::string_view method);
absl::string_view AccessName(Access access);  // "viewer", "user", ...

// The caller of one RPC.
struct Principal {
  Role role = Role::kAdmin;
  std::string name;     // the token's NAME; empty without tokens
  std::string cluster;  // empty: not limited to a cluster
  bool authenticated = false;

  // For logs: the name, or "anonymous".
  std::string display() const { return name.empty() ? "anonymous" : name; }
};

// Token checks. Thread-safe: Reload() may run (SIGHUP) while calls are
// authorized.
class Authorizer {
 public:
  // Without a token file: every caller is an anonymous admin.
  Authorizer() = default;
  // Reads `token_file` (common/token_file.h).
  static absl::StatusOr<std::unique_ptr<Authorizer>> FromFile(std::string token_file);

  // Reads the token file again; on error the tokens in force stay.
  absl::Status Reload();

  bool enabled() const { return !token_file_.empty(); }

  // UNAUTHENTICATED without a known bearer token, PERMISSION_DENIED when
  // the token's role may not call `method`.
  absl::StatusOr<Principal> Authorize(const grpc::ServerContext& context,
                                      absl::string_view method) const;

 private:
  std::string token_file_;
  mutable absl::Mutex mu_;
  std::vector<TokenEntry> tokens_ ABSL_GUARDED_BY(mu_);
};

// PERMISSION_DENIED when `who` is limited to another cluster than `cluster`
// (`what` names the call's subject in the message).
absl::Status CheckCluster(const Principal& who, const std::string& cluster, absl::string_view what);
// PERMISSION_DENIED when `who` is neither admin nor `owner` (an empty owner,
// from a planner that ran without tokens, belongs to admins only once
// tokens are on).
absl::Status CheckOwner(const Principal& who, const std::string& owner, absl::string_view what);

// The services' shared handler plumbing.
class GuardedService {
 public:
  // Set once by the composition root before the server starts; null = open.
  void set_authorizer(const Authorizer* authorizer) { authorizer_ = authorizer; }

 protected:
  // Authorizes the call, runs `body(principal)` (which fills the response
  // and returns a status), and returns its status: an exception becomes
  // INTERNAL; DATA_LOSS, INTERNAL and UNKNOWN are logged as errors; a
  // change (any rule above kRead) is logged with the caller's name.
  template <typename Body>
  grpc::Status Handle(grpc::ServerContext* context, absl::string_view method, Body&& body) const {
    absl::StatusOr<Principal> who = AuthorizeCall(context, method);
    if (!who.ok()) return ToGrpcStatus(who.status());
    absl::Status status;
    try {
      status = std::forward<Body>(body)(*who);
    } catch (const std::exception& e) {
      status = Unexpected(method, e.what());
    } catch (...) {
      status = Unexpected(method, "an exception that is not a std::exception");
    }
    Record(*who, method, status);
    return ToGrpcStatus(status);
  }

 private:
  absl::StatusOr<Principal> AuthorizeCall(grpc::ServerContext* context,
                                          absl::string_view method) const;
  static absl::Status Unexpected(absl::string_view method, const char* what);
  static void Record(const Principal& who, absl::string_view method, const absl::Status& status);

  const Authorizer* authorizer_ = nullptr;
};

}  // namespace galvatron::planner
