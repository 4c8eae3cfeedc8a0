// Bearer tokens: the planner's token file (who may do what) and the one
// token a client presents. The roles and what each may call are in
// docs/security.md and the README's table.
//
// Token file: one `ROLE NAME TOKEN [CLUSTER]` per line; `#` starts a
// comment; blank lines are skipped. ROLE is admin, user, agent or viewer;
// NAME (who the token belongs to: it names the owner of what the token
// submits and is written in the log of every change it makes) is 1-64
// characters of [A-Za-z0-9._@-]; TOKEN is 16-512 printable characters
// without spaces, unique in the file; CLUSTER, for agent and user tokens
// only, limits the token to that cluster.
//
// Thread-safe: pure functions.
#pragma once

#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"

namespace galvatron {

// Ordered by what each may do; admin may do everything.
enum class Role { kViewer, kAgent, kUser, kAdmin };

absl::string_view RoleName(Role role);

struct TokenEntry {
  Role role = Role::kViewer;
  std::string name;
  std::string token;
  std::string cluster;  // empty: any cluster
  int line = 0;         // in the file, for messages
};

struct TokenLimits {
  static constexpr size_t kMinTokenBytes = 16;
  static constexpr size_t kMaxTokenBytes = 512;
  static constexpr size_t kMaxNameBytes = 64;
  static constexpr size_t kMaxFileBytes = 4 << 20;
};

// Parses a token file's text. Errors (INVALID_ARGUMENT) name the line, the
// field and what was expected; a token is never quoted in an error.
absl::StatusOr<std::vector<TokenEntry>> ParseTokenFile(absl::string_view text);

// Reads and parses a token file.
absl::StatusOr<std::vector<TokenEntry>> ReadTokenFile(const std::string& path);

// A client's token: the first line of `text` that is neither blank nor a
// comment, without surrounding white space (a whole planner token-file line
// is accepted too: its TOKEN field is taken).
absl::StatusOr<std::string> ParseClientToken(absl::string_view text);
absl::StatusOr<std::string> ReadClientToken(const std::string& path);

// Compares two tokens without stopping at the first difference, so that the
// time a check takes does not tell how much of a guessed token was right.
bool SameToken(absl::string_view a, absl::string_view b);

}  // namespace galvatron
