// How clients (the CLI, the agent, the dashboard) reach the planner: TLS or
// plaintext, and the bearer token every call carries. docs/security.md.
//
// Flags win over the environment: GALVATRON_TLS_CA, GALVATRON_TLS_CERT,
// GALVATRON_TLS_KEY, GALVATRON_TOKEN_FILE, and GALVATRON_TOKEN (the token
// itself, for a Kubernetes Secret passed as an environment variable).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace galvatron {

struct ClientSecurityOptions {
  std::string tls_ca;      // PEM: trust the planner's certificate through this CA
  std::string tls_cert;    // PEM: this client's certificate (mutual TLS) ...
  std::string tls_key;     // ... and its key
  std::string token_file;  // the bearer token (common/token_file.h)
  std::string token;       // the token itself (from GALVATRON_TOKEN)
};

// Fills the empty fields of `options` from the environment.
void ApplySecurityEnvironment(ClientSecurityOptions* options);

// What a channel needs, read from the files once.
struct ClientCredentials {
  std::shared_ptr<grpc::ChannelCredentials> channel;
  std::string token;  // empty: calls carry none
  bool tls = false;
};

// TLS when a CA or a client certificate is given (a client certificate
// without a CA trusts the system's CAs), plaintext otherwise. Errors name
// the flag and the file.
absl::StatusOr<ClientCredentials> LoadClientCredentials(const ClientSecurityOptions& options);

// A channel to `target` whose every call carries `authorization: Bearer
// TOKEN` when credentials hold a token.
std::shared_ptr<grpc::Channel> CreatePlannerChannel(const std::string& target,
                                                    const ClientCredentials& credentials,
                                                    const grpc::ChannelArguments& args);

}  // namespace galvatron
