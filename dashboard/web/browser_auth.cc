#include "dashboard/web/browser_auth.h"

#include <openssl/rand.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace galvatron::dashboard {
namespace {

// 32 bytes from OpenSSL's generator, as 64 hex digits.
absl::StatusOr<std::string> NewSessionId() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return absl::InternalError("no random bytes for a session id (OpenSSL RAND_bytes failed)");
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

}  // namespace

absl::StatusOr<std::unique_ptr<BrowserAuth>> BrowserAuth::Create(const std::string& token_file,
                                                                 std::chrono::seconds lifetime) {
  std::unique_ptr<BrowserAuth> auth(new BrowserAuth(token_file, lifetime));
  RETURN_IF_ERROR(auth->Reload());
  return auth;
}

absl::Status BrowserAuth::Reload() {
  if (token_file_.empty()) return absl::OkStatus();
  absl::StatusOr<std::vector<TokenEntry>> tokens = ReadTokenFile(token_file_);
  if (!tokens.ok()) {
    return absl::Status(tokens.status().code(),
                        absl::StrCat("--auth-tokens: ", tokens.status().message()));
  }
  const size_t count = tokens->size();
  absl::MutexLock lock(&mu_);
  tokens_ = std::move(*tokens);
  spdlog::info("browser auth: {} token{} from {}", count, count == 1 ? "" : "s", token_file_);
  return absl::OkStatus();
}

std::optional<Viewer> BrowserAuth::Find(const std::string& token) const {
  const TokenEntry* found = nullptr;
  for (const TokenEntry& entry : tokens_) {
    if (SameToken(entry.token, token)) found = &entry;
  }
  if (found == nullptr) return std::nullopt;
  return Viewer{found->name, found->role, found->cluster};
}

absl::StatusOr<std::string> BrowserAuth::Login(const std::string& token) {
  if (!enabled()) return absl::FailedPreconditionError("this dashboard asks nobody to log in");
  ASSIGN_OR_RETURN(std::string id, NewSessionId());
  absl::MutexLock lock(&mu_);
  std::optional<Viewer> viewer = Find(token);
  if (!viewer.has_value()) {
    return absl::UnauthenticatedError("the token is not known to this dashboard (--auth-tokens)");
  }
  // Expired sessions go when a new one comes, so the map stays small.
  const auto now = std::chrono::steady_clock::now();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second.expires <= now) {
      sessions_.erase(it++);
    } else {
      ++it;
    }
  }
  sessions_[id] = Session{token, now + lifetime_};
  spdlog::info("browser auth: {} ({}) logged in", viewer->name,
               std::string(RoleName(viewer->role)));
  return id;
}

void BrowserAuth::Logout(const std::string& session) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(session);
}

std::optional<Viewer> BrowserAuth::FromSession(const std::string& session) {
  if (!enabled()) return Viewer{"", Role::kUser, ""};
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) return std::nullopt;
  if (it->second.expires <= std::chrono::steady_clock::now()) {
    sessions_.erase(it);
    return std::nullopt;
  }
  std::optional<Viewer> viewer = Find(it->second.token);
  if (!viewer.has_value()) sessions_.erase(it);  // its token left the file
  return viewer;
}

std::optional<Viewer> BrowserAuth::FromToken(const std::string& token) {
  if (!enabled()) return Viewer{"", Role::kUser, ""};
  absl::ReaderMutexLock lock(&mu_);
  return Find(token);
}

}  // namespace galvatron::dashboard
