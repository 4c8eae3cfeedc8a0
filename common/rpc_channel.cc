#include "common/rpc_channel.h"

#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/json_file.h"
#include "common/status_macros.h"
#include "common/token_file.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/support/client_interceptor.h"

namespace galvatron {
namespace {

void FromEnvironment(const char* name, std::string* field) {
  if (!field->empty()) return;
  if (const char* value = std::getenv(name); value != nullptr) *field = value;
}

absl::StatusOr<std::string> ReadPem(const std::string& flag, const std::string& path) {
  auto text = ReadTextFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", text.status().message()));
  }
  if (text->find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, ": ", path, " holds no PEM block (-----BEGIN ...), expected a PEM file"));
  }
  return text;
}

// Adds the bearer token to every call's initial metadata.
class TokenInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit TokenInterceptor(const std::string* header) : header_(header) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", *header_});
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class TokenInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit TokenInterceptorFactory(const std::string& token)
      : header_(absl::StrCat("Bearer ", token)) {}

  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo*) override {
    return new TokenInterceptor(&header_);
  }

 private:
  // Lives as long as the channel, which owns the factory.
  const std::string header_;
};

}  // namespace

void ApplySecurityEnvironment(ClientSecurityOptions* options) {
  FromEnvironment("GALVATRON_TLS_CA", &options->tls_ca);
  FromEnvironment("GALVATRON_TLS_CERT", &options->tls_cert);
  FromEnvironment("GALVATRON_TLS_KEY", &options->tls_key);
  if (options->token.empty()) FromEnvironment("GALVATRON_TOKEN_FILE", &options->token_file);
  if (options->token_file.empty()) FromEnvironment("GALVATRON_TOKEN", &options->token);
}

absl::StatusOr<ClientCredentials> LoadClientCredentials(const ClientSecurityOptions& options) {
  ClientCredentials credentials;
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "--tls-cert and --tls-key: one given without the other, expected both or neither");
  }
  credentials.tls = !options.tls_ca.empty() || !options.tls_cert.empty();
  if (credentials.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca.empty()) {
      ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem("--tls-ca", options.tls_ca));
    }
    if (!options.tls_cert.empty()) {
      ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadPem("--tls-cert", options.tls_cert));
      ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPem("--tls-key", options.tls_key));
    }
    credentials.channel = grpc::SslCredentials(ssl);
  } else {
    credentials.channel = grpc::InsecureChannelCredentials();
  }
  if (!options.token_file.empty()) {
    auto token = ReadClientToken(options.token_file);
    if (!token.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--token-file: ", token.status().message()));
    }
    credentials.token = std::move(*token);
  } else if (!options.token.empty()) {
    auto token = ParseClientToken(options.token);
    if (!token.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("GALVATRON_TOKEN: ", token.status().message()));
    }
    credentials.token = std::move(*token);
  }
  return credentials;
}

std::shared_ptr<grpc::Channel> CreatePlannerChannel(const std::string& target,
                                                    const ClientCredentials& credentials,
                                                    const grpc::ChannelArguments& args) {
  std::shared_ptr<grpc::ChannelCredentials> channel_credentials =
      credentials.channel ? credentials.channel : grpc::InsecureChannelCredentials();
  if (credentials.token.empty()) {
    return grpc::CreateCustomChannel(target, channel_credentials, args);
  }
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> factories;
  factories.push_back(std::make_unique<TokenInterceptorFactory>(credentials.token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, channel_credentials, args,
                                                                 std::move(factories));
}

}  // namespace galvatron
