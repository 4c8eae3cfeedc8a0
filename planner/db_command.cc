#include "planner/db_command.h"

#include <sys/stat.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "planner/store/sqlite_integrity.h"
#include "planner/store/sqlite_store.h"

namespace galvatron::planner {
namespace {

using store::IntegrityCheck;

void PrintError(const absl::Status& status) {
  std::fprintf(stderr, "galvatron-planner: %s\n", std::string(status.message()).c_str());
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

int Check(const DbCommandConfig& config) {
  const std::string& path = config.db_path;
  if (!Exists(path)) {
    PrintError(absl::NotFoundError(path + ": no such file"));
    return 2;
  }
  // The header first: SQLite would call an empty file a fine new database.
  if (absl::Status header = store::CheckStoreFileHeader(path); !header.ok()) {
    std::printf("%s: damaged: %s\n", path.c_str(), std::string(header.message()).c_str());
    return 1;
  }
  absl::StatusOr<store::WalReport> wal = store::CheckWalFile(path);
  if (!wal.ok()) {
    PrintError(wal.status());
    return 2;
  }
  std::printf("%s: %s\n", path.c_str(), wal->Summary().c_str());
  absl::StatusOr<std::vector<std::string>> problems =
      store::RunIntegrityCheck(path, IntegrityCheck::kFull);
  if (absl::IsFailedPrecondition(problems.status())) {  // not SQLite, or a damaged header
    std::printf("%s: damaged: %s\n", path.c_str(),
                std::string(problems.status().message()).c_str());
    return 1;
  }
  if (!problems.ok()) {
    PrintError(problems.status());
    return 2;
  }
  for (const std::string& problem : *problems) {
    std::printf("%s: %s\n", path.c_str(), problem.c_str());
  }
  if (problems->empty() && !wal->LosesCommits()) {
    std::printf("%s: ok (integrity_check)\n", path.c_str());
    return 0;
  }
  std::printf(
      "%s: damaged: %zu problem%s found by integrity_check%s.\n%s\n", path.c_str(),
      problems->size(), problems->size() == 1 ? "" : "s",
      wal->LosesCommits() ? ", and the write-ahead log would drop committed transactions" : "",
      store::RecoveryAdvice(path).c_str());
  return 1;
}

int Backup(const DbCommandConfig& config) {
  absl::StatusOr<store::BackupReport> report =
      store::BackupDatabase(config.db_path, config.destination);
  if (!report.ok()) {
    PrintError(report.status());
    return 1;
  }
  std::printf("%s: backed up to %s (%lld pages, %lld bytes; quick_check ok)\n",
              config.db_path.c_str(), config.destination.c_str(),
              static_cast<long long>(report->pages), static_cast<long long>(report->bytes));
  return 0;
}

int Recover(const DbCommandConfig& config) {
  absl::StatusOr<store::WalReport> wal = store::CheckWalFile(config.db_path);
  if (wal.ok() && wal->dropped_frames > 0) {
    std::printf("%s: %s; those are not recovered\n", config.db_path.c_str(),
                wal->Summary().c_str());
  }
  absl::StatusOr<store::RecoveryReport> report =
      store::RecoverDatabase(config.db_path, config.destination);
  if (!report.ok()) {
    PrintError(report.status());
    return 1;
  }
  std::printf("%s: recovered into %s: %s\n", config.db_path.c_str(), config.destination.c_str(),
              report->Summary().c_str());
  // The proof that the result serves: open it as the planner would (which
  // also migrates it to this build's schema).
  store::SqliteStoreOptions options;
  options.path = config.destination;
  options.integrity_check = IntegrityCheck::kFull;
  absl::StatusOr<std::unique_ptr<store::SqliteStore>> opened = store::SqliteStore::Open(options);
  if (!opened.ok()) {
    PrintError(opened.status());
    return 1;
  }
  std::printf("%s: opens as a store (schema version %d)\n", config.destination.c_str(),
              store::SqliteStore::LatestSchemaVersion());
  return 0;
}

}  // namespace

int RunDbCommand(const DbCommandConfig& config) {
  if (config.command == "check") return Check(config);
  if (config.command == "backup") return Backup(config);
  if (config.command == "recover") return Recover(config);
  PrintError(absl::InvalidArgumentError("unknown command " + config.command));
  return 2;
}

}  // namespace galvatron::planner
