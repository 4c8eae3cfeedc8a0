#include "common/token_file.h"

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/json_file.h"
#include "common/model_validation.h"
#include "common/status_macros.h"

namespace galvatron {
namespace {

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
         c == '@';
}

bool IsTokenChar(char c) { return c > ' ' && c < 0x7f; }

absl::Status LineError(int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("token file line ", line, ": ", what));
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kViewer:
      return "viewer";
    case Role::kAgent:
      return "agent";
    case Role::kUser:
      return "user";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

absl::StatusOr<std::vector<TokenEntry>> ParseTokenFile(absl::string_view text) {
  if (text.size() > TokenLimits::kMaxFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token file: ", text.size(), " bytes, expected at most ", TokenLimits::kMaxFileBytes));
  }
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);  // UTF-8 BOM
  std::vector<TokenEntry> entries;
  std::set<std::string> tokens;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    if (fields.size() < 3 || fields.size() > 4) {
      return LineError(line_number,
                       absl::StrCat(fields.size(), " fields, expected ROLE NAME TOKEN [CLUSTER]"));
    }
    TokenEntry entry;
    entry.line = line_number;
    if (fields[0] == "admin") {
      entry.role = Role::kAdmin;
    } else if (fields[0] == "user") {
      entry.role = Role::kUser;
    } else if (fields[0] == "agent") {
      entry.role = Role::kAgent;
    } else if (fields[0] == "viewer") {
      entry.role = Role::kViewer;
    } else {
      return LineError(line_number, absl::StrCat("ROLE \"", fields[0].substr(0, 32),
                                                 "\", expected admin, user, agent or viewer"));
    }
    entry.name = std::string(fields[1]);
    bool name_ok = entry.name.size() <= TokenLimits::kMaxNameBytes;
    for (char c : entry.name) name_ok = name_ok && IsNameChar(c);
    if (!name_ok) {
      return LineError(line_number,
                       absl::StrCat("NAME \"", entry.name.substr(0, 64),
                                    "\", expected 1-64 characters of [A-Za-z0-9._@-]"));
    }
    entry.token = std::string(fields[2]);
    bool token_ok = true;
    for (char c : entry.token) token_ok = token_ok && IsTokenChar(c);
    if (!token_ok || entry.token.size() < TokenLimits::kMinTokenBytes ||
        entry.token.size() > TokenLimits::kMaxTokenBytes) {
      // The token itself is a secret: never in a message.
      return LineError(line_number,
                       absl::StrCat("TOKEN of ", entry.name, ": ", entry.token.size(),
                                    " characters, expected ", TokenLimits::kMinTokenBytes, "-",
                                    TokenLimits::kMaxTokenBytes, " printable characters"));
    }
    if (!tokens.insert(entry.token).second) {
      return LineError(line_number, absl::StrCat("TOKEN of ", entry.name,
                                                 " is also another line's: tokens must be unique"));
    }
    if (fields.size() == 4) {
      entry.cluster = std::string(fields[3]);
      if (entry.role != Role::kAgent && entry.role != Role::kUser) {
        return LineError(
            line_number,
            absl::StrCat("CLUSTER \"", fields[3].substr(0, 64), "\" on a ", RoleName(entry.role),
                         " token, expected only on agent and user tokens"));
      }
      if (absl::Status s = ValidateName("CLUSTER", entry.cluster); !s.ok()) {
        return LineError(line_number, s.message());
      }
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

absl::StatusOr<std::vector<TokenEntry>> ReadTokenFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  auto entries = ParseTokenFile(text);
  if (!entries.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", entries.status().message()));
  }
  return entries;
}

absl::StatusOr<std::string> ParseClientToken(absl::string_view text) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) line = line.substr(0, hash);
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    // One field: the token; a planner token-file line: its TOKEN.
    absl::string_view token = fields.size() >= 3 ? fields[2] : fields[0];
    if (fields.size() == 2 || fields.size() > 4 || token.size() < TokenLimits::kMinTokenBytes ||
        token.size() > TokenLimits::kMaxTokenBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token: expected one token of ", TokenLimits::kMinTokenBytes, "-",
          TokenLimits::kMaxTokenBytes, " printable characters (or a ROLE NAME TOKEN line)"));
    }
    for (char c : token) {
      if (!IsTokenChar(c)) {
        return absl::InvalidArgumentError("token: expected printable characters only");
      }
    }
    return std::string(token);
  }
  return absl::InvalidArgumentError(
      "token: the file holds no token (only blank lines or comments)");
}

absl::StatusOr<std::string> ReadClientToken(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  auto token = ParseClientToken(text);
  if (!token.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", token.status().message()));
  }
  return token;
}

bool SameToken(absl::string_view a, absl::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ (b.empty() ? 0 : b[i % b.size()]));
  }
  return diff == 0;
}

}  // namespace galvatron
