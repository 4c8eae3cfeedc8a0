// The flags every client of the planner takes for TLS and its bearer token
// (common/rpc_channel.h), for a CLI11 app: --tls-ca, --tls-cert, --tls-key,
// --token-file. Header-only: only binaries that parse flags include it.
#pragma once

#include "CLI/CLI.hpp"
#include "common/rpc_channel.h"

namespace galvatron {

inline void AddClientSecurityFlags(CLI::App* app, ClientSecurityOptions* security) {
  app->add_option("--tls-ca", security->tls_ca,
                  "TLS: trust the planner's certificate through this CA (PEM; default: "
                  "$GALVATRON_TLS_CA; without it and --tls-cert: plaintext)");
  app->add_option("--tls-cert", security->tls_cert,
                  "mutual TLS: this client's certificate (PEM; default: $GALVATRON_TLS_CERT)");
  app->add_option("--tls-key", security->tls_key,
                  "mutual TLS: this client's key (PEM; default: $GALVATRON_TLS_KEY)");
  app->add_option("--token-file", security->token_file,
                  "file holding the bearer token every call carries (default: "
                  "$GALVATRON_TOKEN_FILE, or the token in $GALVATRON_TOKEN)");
}

}  // namespace galvatron
