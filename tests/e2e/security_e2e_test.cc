// The binaries with TLS and tokens: galvatron-planner serving TLS with a
// token file, the CLI and an agent with a CA and a token, the token file
// re-read on SIGHUP, an agent token used for another cluster, and the
// planner refusing plaintext on a non-loopback address.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/json_file.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using testing::CommandResult;
using testing::RunCommand;

constexpr char kAdmin[] = "admin-token-e2e-0123456789";
constexpr char kUser[] = "user-token-e2e-0123456789";
constexpr char kViewer[] = "viewer-token-e2e-0123456789";
constexpr char kAgentC1[] = "agent-c1-token-e2e-01234567";

struct Setup {
  testing::TempDir dir;
  std::string certs = dir.File("certs");

  Setup() {
    CommandResult made = RunCommand(
        {testing::SourceDir() + "/scripts/make-certs.sh", "--out", certs, "--days", "2"});
    INFO(made.err);
    REQUIRE(made.exit_code == 0);
    REQUIRE(WriteTextFile(dir.File("tokens"), absl::StrCat("admin ops ", kAdmin, "\nuser alice ",
                                                           kUser, "\nviewer board ", kViewer,
                                                           "\nagent c1-agent ", kAgentC1, " c1\n"))
                .ok());
    for (auto [name, token] : {std::pair{"admin", kAdmin}, std::pair{"user", kUser},
                               std::pair{"viewer", kViewer}, std::pair{"agent", kAgentC1}}) {
      REQUIRE(
          WriteTextFile(dir.File(absl::StrCat(name, ".token")), absl::StrCat(token, "\n")).ok());
    }
  }

  std::vector<std::string> PlannerArgs() const {
    return {"--tls-cert",           certs + "/planner.crt", "--tls-key",
            certs + "/planner.key", "--auth-tokens",        dir.File("tokens")};
  }
};

// "127.0.0.1:PORT" → "localhost:PORT", the name the certificate holds.
std::string ByName(const std::string& address) {
  return absl::StrCat("localhost", address.substr(address.rfind(':')));
}

}  // namespace

TEST_CASE("The CLI over TLS with tokens, and the token file re-read on SIGHUP") {
  Setup setup;
  testing::PlannerProcess planner(setup.dir.File("planner.db"), setup.dir.path(),
                                  setup.PlannerArgs());
  auto cli = [&](const std::string& token, std::vector<std::string> args) {
    std::vector<std::string> argv = {testing::BinDir() + "/galvatron", "--planner",
                                     ByName(planner.address()), "--tls-ca",
                                     setup.certs + "/ca.crt"};
    if (!token.empty()) {
      argv.push_back("--token-file");
      argv.push_back(setup.dir.File(token + ".token"));
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  };

  CommandResult r = cli("viewer", {"models", "list"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("gpt2-small"));
  r = cli("", {"models", "list"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("UNAUTHENTICATED") && Catch::Contains("no bearer token"));
  r = cli("viewer", {"models", "delete", "gpt-tiny"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("PERMISSION_DENIED") && Catch::Contains("user role"));
  // Environment variables instead of flags.
  r = RunCommand({"/usr/bin/env", "GALVATRON_TLS_CA=" + setup.certs + "/ca.crt",
                  "GALVATRON_TOKEN=" + std::string(kUser), testing::BinDir() + "/galvatron",
                  "--planner", ByName(planner.address()), "nodes", "list"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  // Plaintext against the TLS port.
  r = RunCommand({testing::BinDir() + "/galvatron", "--planner", ByName(planner.address()),
                  "--timeout", "3", "--token-file", setup.dir.File("viewer.token"), "models",
                  "list"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("UNAVAILABLE"));
  // A missing CA file is bad usage, named.
  r = RunCommand({testing::BinDir() + "/galvatron", "--planner", ByName(planner.address()),
                  "--tls-ca", setup.dir.File("nope.crt"), "models", "list"});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--tls-ca"));

  // A new token takes effect after SIGHUP; the removed ones stop working.
  REQUIRE(
      WriteTextFile(setup.dir.File("tokens"), absl::StrCat("viewer board2 ", kUser, "\n")).ok());
  planner.process().Signal(SIGHUP);
  CHECK(testing::WaitFor(
      [&] {
        return cli("viewer", {"models", "list"}).exit_code == 1;
      },
      std::chrono::seconds(20)));
  r = cli("user", {"models", "delete", "no-such-model"});
  CHECK_THAT(r.err, Catch::Contains("PERMISSION_DENIED"));  // now a viewer
  CHECK_THAT(planner.Log(), Catch::Contains("token file re-read"));
}

TEST_CASE("An agent over TLS with its token registers in its own cluster only") {
  Setup setup;
  testing::PlannerProcess planner(setup.dir.File("planner.db"), setup.dir.path(),
                                  setup.PlannerArgs());
  auto agent = [&](const std::string& cluster, const std::string& name) {
    std::vector<std::string> argv = {testing::BinDir() + "/galvatron-agent",
                                     "--planner",
                                     ByName(planner.address()),
                                     "--tls-ca",
                                     setup.certs + "/ca.crt",
                                     "--token-file",
                                     setup.dir.File("agent.token"),
                                     "--cluster",
                                     cluster,
                                     "--node-name",
                                     name,
                                     "--devices",
                                     "cpu:1",
                                     "--work-dir",
                                     setup.dir.File("agent-" + name),
                                     "--ready-file",
                                     setup.dir.File(name + ".ready")};
    return std::make_unique<testing::ChildProcess>(argv, setup.dir.File(name + ".log"));
  };
  auto own = agent("c1", "n1");
  CHECK(testing::WaitFor([&] { return !testing::Slurp(setup.dir.File("n1.ready")).empty(); },
                         std::chrono::seconds(30)));
  auto other = agent("c2", "n2");
  CHECK(testing::WaitFor(
      [&] {
        return testing::Slurp(setup.dir.File("n2.log")).find("limited to cluster c1") !=
               std::string::npos;
      },
      std::chrono::seconds(30)));
  CHECK(testing::Slurp(setup.dir.File("n2.ready")).empty());
  CHECK_THAT(planner.Log(), Catch::Contains("NodeService/RegisterNode by c1-agent (agent): ok"));
}

TEST_CASE("The planner refuses plaintext beyond loopback") {
  testing::TempDir dir;
  CommandResult r = RunCommand({testing::BinDir() + "/galvatron-planner", "--db",
                                dir.File("planner.db"), "--listen", "0.0.0.0:0"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("loopback only"));
}

}  // namespace galvatron
