// The real galvatron-planner on damaged store files: it refuses to serve a
// file with a damaged table page, a -wal whose damage would drop committed
// transactions, or an empty file (without --init), with a message that says how
// to recover; `check` tells a damaged file from an intact one, `backup` copies
// the file while the planner serves it, and `recover` salvages a damaged file
// into one the planner then serves.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/model_catalog.h"
#include "galvatron/v1/service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "tests/support/sqlite_damage.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

std::unique_ptr<grpc::ClientContext> Context(int seconds) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

std::string ModelName(int i) { return "stored-" + std::to_string(i); }

// A model spec of a few hundred bytes more than the catalog's, so that the
// models table spans many pages.
v1::ModelSpec Model(int i) {
  v1::ModelSpec spec = *CatalogModel("gpt-tiny");
  spec.set_builtin(false);
  spec.set_name(ModelName(i));
  spec.set_description(std::string(400, static_cast<char>('a' + i % 26)));
  return spec;
}

class Client {
 public:
  explicit Client(const std::string& address)
      : models_(v1::ModelService::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials()))) {}

  grpc::Status Submit(int i) {
    v1::SubmitModelRequest request;
    *request.mutable_spec() = Model(i);
    v1::ModelSpec response;
    return models_->SubmitModel(Context(10).get(), request, &response);
  }

  // The names of the stored (not built-in) models.
  std::set<std::string> StoredNames() {
    std::set<std::string> names;
    v1::ListModelsRequest request;
    request.set_page_size(1000);
    while (true) {
      v1::ListModelsResponse response;
      grpc::Status status = models_->ListModels(Context(10).get(), request, &response);
      INFO(status.error_message());
      REQUIRE(status.ok());
      for (const v1::ModelSpec& spec : response.models()) {
        if (!spec.builtin()) names.insert(spec.name());
      }
      if (response.next_page_token().empty()) return names;
      request.set_page_token(response.next_page_token());
    }
  }

 private:
  std::unique_ptr<v1::ModelService::Stub> models_;
};

std::string Planner() { return testing::BinDir() + "/galvatron-planner"; }

testing::CommandResult DbCommand(const std::string& db, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {Planner(), "--db", db};
  argv.insert(argv.end(), args.begin(), args.end());
  return testing::RunCommand(argv, std::chrono::seconds(60));
}

// Starting a planner that must refuse `db`: it exits by itself.
testing::CommandResult StartRefused(const std::string& db,
                                    const std::vector<std::string>& extra = {}) {
  std::vector<std::string> argv = {Planner(), "--db", db, "--listen", "127.0.0.1:0"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return testing::RunCommand(argv, std::chrono::seconds(60));
}

// Serves `db`, stores models 0..count-1 and stops cleanly (the log is
// checkpointed into the file).
void StoreModels(const std::string& db, const std::string& work_dir, int count) {
  testing::PlannerProcess planner(db, work_dir);
  Client client(planner.address());
  for (int i = 0; i < count; ++i) REQUIRE(client.Submit(i).ok());
  planner.process().Signal(SIGTERM);
  REQUIRE(planner.process().Wait(std::chrono::seconds(20)) == 0);
  REQUIRE_FALSE(std::filesystem::exists(db + "-wal"));
}

TEST_CASE("galvatron-planner refuses a damaged store and recover salvages it",
          "[integration][store]") {
  testing::TempDir dir;
  const std::string db = dir.File("planner.db");
  const std::string recovered = dir.File("recovered.db");
  constexpr int kCount = 150;
  StoreModels(db, dir.path(), kCount);

  testing::CommandResult intact = DbCommand(db, {"check"});
  INFO(intact.out << intact.err);
  CHECK(intact.exit_code == 0);
  CHECK_THAT(intact.out, Catch::Contains("ok (integrity_check)"));

  const testing::TablePages pages = testing::FindTableLeafPage(db, "models");
  testing::OverwritePage(db, pages.leaf, pages.page_size);

  testing::CommandResult damaged = DbCommand(db, {"check"});
  INFO(damaged.out << damaged.err);
  CHECK(damaged.exit_code == 1);
  CHECK_THAT(damaged.out, Catch::Contains("damaged") && Catch::Contains("recover NEW.db"));

  testing::CommandResult refused = StartRefused(db);
  INFO(refused.err);
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains(db + " is damaged") &&
                              Catch::Contains("galvatron-planner --db " + db + " recover NEW.db"));

  testing::CommandResult recover = DbCommand(db, {"recover", recovered});
  INFO(recover.out << recover.err);
  REQUIRE(recover.exit_code == 0);
  CHECK_THAT(recover.out, Catch::Contains("lost") && Catch::Contains("opens as a store"));
  CHECK(DbCommand(recovered, {"check"}).exit_code == 0);

  testing::PlannerProcess planner(recovered, dir.path());
  Client client(planner.address());
  const std::set<std::string> names = client.StoredNames();
  // The damaged page's models are lost, the others are served.
  CHECK(static_cast<int>(names.size()) < kCount);
  CHECK(static_cast<int>(names.size()) > kCount / 2);
  for (const std::string& name : names) CHECK_THAT(name, Catch::StartsWith("stored-"));
  CHECK(names.count(ModelName(0)) == 1);
  CHECK(names.count(ModelName(kCount - 1)) == 1);
  CHECK(client.Submit(kCount).ok());
  planner.process().Signal(SIGTERM);
  CHECK(planner.process().Wait(std::chrono::seconds(20)) == 0);
}

TEST_CASE("galvatron-planner backup copies the store while the planner serves it",
          "[integration][store]") {
  testing::TempDir dir;
  const std::string db = dir.File("planner.db");
  const std::string backup = dir.File("backup.db");
  testing::PlannerProcess planner(db, dir.path());
  std::atomic<int> acked{0};
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::thread writer([&] {
    Client client(planner.address());
    for (int i = 0; !stop.load(); ++i) {
      if (!client.Submit(i).ok()) {
        failed.store(true);
        return;
      }
      acked.store(i + 1);
    }
  });
  REQUIRE(testing::WaitFor([&] { return acked.load() >= 30 || failed.load(); },
                           std::chrono::seconds(60)));
  const int before = acked.load();
  testing::CommandResult result = DbCommand(db, {"backup", backup});
  // The planner kept taking writes meanwhile.
  const bool went_on = testing::WaitFor([&] { return acked.load() >= before + 5 || failed.load(); },
                                        std::chrono::seconds(60));
  stop.store(true);
  writer.join();
  CHECK_FALSE(failed.load());
  CHECK(went_on);
  INFO(result.out << result.err);
  REQUIRE(result.exit_code == 0);
  CHECK_THAT(result.out, Catch::Contains("backed up to " + backup));
  CHECK(DbCommand(backup, {"check"}).exit_code == 0);
  // An existing destination is never overwritten.
  CHECK(DbCommand(db, {"backup", backup}).exit_code == 1);

  // The copy serves a snapshot: every model acknowledged before the backup
  // began, none that was never acknowledged.
  testing::PlannerProcess copy(backup, dir.path());
  const std::set<std::string> names = Client(copy.address()).StoredNames();
  CHECK(static_cast<int>(names.size()) >= before);
  CHECK(static_cast<int>(names.size()) <= acked.load());
  for (int i = 0; i < before; ++i) CHECK(names.count(ModelName(i)) == 1);
  for (testing::PlannerProcess* p : {&planner, &copy}) {
    p->process().Signal(SIGTERM);
    CHECK(p->process().Wait(std::chrono::seconds(20)) == 0);
  }
}

TEST_CASE("galvatron-planner refuses a store whose log would drop committed writes",
          "[integration][store]") {
  testing::TempDir dir;
  const std::string db = dir.File("planner.db");
  constexpr int kCount = 20;
  {
    testing::PlannerProcess planner(db, dir.path());
    Client client(planner.address());
    for (int i = 0; i < kCount; ++i) REQUIRE(client.Submit(i).ok());
    // Killed: the acknowledged writes stay in the log, unmerged.
    planner.process().Signal(SIGKILL);
    REQUIRE(planner.process().Wait(std::chrono::seconds(20)) == 128 + SIGKILL);
  }
  REQUIRE(std::filesystem::exists(db + "-wal"));
  const std::string copy = dir.File("copy.db");
  std::filesystem::copy_file(db, copy);
  std::filesystem::copy_file(db + "-wal", copy + "-wal");
  const int64_t frames = testing::WalFrames(copy + "-wal");
  REQUIRE(frames > 4);
  testing::DamageWalFrame(copy + "-wal", frames / 2);
  const std::string damaged_wal = testing::ReadBytes(copy + "-wal");

  testing::CommandResult refused = StartRefused(copy);
  INFO(refused.err);
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains(copy + "-wal is damaged") &&
                              Catch::Contains("frames would be dropped") &&
                              Catch::Contains("committed transactions") &&
                              Catch::Contains("recover"));
  CHECK(testing::ReadBytes(copy + "-wal") == damaged_wal);
  testing::CommandResult check = DbCommand(copy, {"check"});
  INFO(check.out << check.err);
  CHECK(check.exit_code == 1);
  CHECK_THAT(check.out, Catch::Contains("committed transactions"));

  // The undamaged original serves every acknowledged write.
  testing::PlannerProcess planner(db, dir.path());
  CHECK(Client(planner.address()).StoredNames().size() == kCount);
  planner.process().Signal(SIGTERM);
  CHECK(planner.process().Wait(std::chrono::seconds(20)) == 0);
}

TEST_CASE("galvatron-planner makes an empty file a store only with --init",
          "[integration][store]") {
  testing::TempDir dir;
  const std::string db = dir.File("planner.db");
  testing::WriteBytes(db, "");
  testing::CommandResult refused = StartRefused(db);
  INFO(refused.err);
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("empty (0 bytes)") && Catch::Contains("--init"));
  CHECK(DbCommand(db, {"check"}).exit_code == 1);
  CHECK(DbCommand(dir.File("missing.db"), {"check"}).exit_code == 2);

  testing::PlannerProcess planner(db, dir.path(), {"--init"});
  Client client(planner.address());
  CHECK(client.Submit(0).ok());
  planner.process().Signal(SIGTERM);
  CHECK(planner.process().Wait(std::chrono::seconds(20)) == 0);
}

}  // namespace
}  // namespace galvatron
