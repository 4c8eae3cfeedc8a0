// The `galvatron` CLI end to end against a live galvatron-planner process.
#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "common/json_file.h"
#include "common/layer_type.h"
#include "common/model_catalog.h"
#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/hardware.pb.h"
#include "tests/support/synthetic_cluster.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using testing::CommandResult;
using testing::RunCommand;

struct Cli {
  std::string address;
  CommandResult operator()(std::vector<std::string> args) const {
    std::vector<std::string> argv = {testing::BinDir() + "/galvatron", "--planner", address};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }
};

void WriteFile(const std::string& path, const std::string& text) {
  REQUIRE(WriteTextFile(path, text).ok());
}

}  // namespace

TEST_CASE("every binary answers --help") {
  for (const char* binary : {"galvatron", "galvatron-planner"}) {
    CommandResult r = RunCommand({testing::BinDir() + "/" + binary, "--help"});
    INFO(binary << ": " << r.err);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("--help"));
  }
}

TEST_CASE("CLI: models, profiles and plans against a live planner") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path());
  Cli cli{planner.address()};

  CommandResult r = cli({"models", "list"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("gpt2-small") && Catch::Contains("builtin"));
  CHECK_THAT(r.out, Catch::Contains("llama3-70b"));

  // show --json prints a spec that submit accepts back under another name.
  r = cli({"--json", "models", "show", "gpt-tiny"});
  REQUIRE(r.exit_code == 0);
  std::string spec = absl::StrReplaceAll(r.out, {{"\"gpt-tiny\"", "\"my-tiny\""}});
  REQUIRE(spec != r.out);
  WriteFile(dir.File("my-tiny.json"), spec);
  r = cli({"models", "submit", dir.File("my-tiny.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("model my-tiny version 1 stored"));
  r = cli({"models", "submit", dir.File("my-tiny.json")});
  CHECK_THAT(r.out, Catch::Contains("model my-tiny version 2 stored"));

  r = cli({"models", "list", "--stored-only"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("my-tiny"));
  CHECK_THAT(r.out, !Catch::Contains("gpt2-small"));
  r = cli({"models", "show", "my-tiny", "--version", "1"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("gpt_decoder") && Catch::Contains("version:     1"));

  // Bad input: the server's message, naming the field, and exit code 1.
  std::string bad = absl::StrReplaceAll(spec, {{"\"my-tiny\"", "\"bad-tiny\""}});
  bad = absl::StrReplaceAll(bad, {{"\"heads\": 4", "\"heads\": 0"}});
  REQUIRE(bad.find("\"heads\": 0") != std::string::npos);
  WriteFile(dir.File("bad.json"), bad);
  r = cli({"models", "submit", dir.File("bad.json")});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("INVALID_ARGUMENT") && Catch::Contains("layers[0].heads: 0"));
  WriteFile(dir.File("garbage.json"), "{\"name\": \"x\", \"flavour\": 1}");
  r = cli({"models", "submit", dir.File("garbage.json")});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("garbage.json"));
  r = cli({"models", "show", "no-such-model"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("NOT_FOUND"));

  // Profiles: our JSON form of a hardware and a compute profile.
  v1::HardwareProfile hw;
  hw.set_cluster("a100x8");
  hw.set_num_nodes(1);
  hw.set_devices_per_node(8);
  hw.mutable_device()->set_name("NVIDIA A100-SXM4-80GB");
  hw.mutable_device()->set_memory_bytes(80LL << 30);
  auto* table = hw.add_collectives();
  table->set_collective(v1::COLLECTIVE_ALL_REDUCE);
  table->set_group_size(8);
  table->set_layout(v1::GROUP_LAYOUT_CONSECUTIVE);
  table->set_bus_bandwidth_bytes_per_second(154.2e9);
  auto* sample = table->add_samples();
  sample->set_bytes(1 << 20);
  sample->set_seconds(1e-4);
  WriteFile(dir.File("hw.json"), MessageToJson(hw));
  r = cli({"profiles", "import", dir.File("hw.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("hardware profile hw-a100x8-1 stored"));

  v1::ComputeProfile cp;
  cp.set_layer_type(LayerTypeKey(*CatalogModel("gpt-tiny"), 0));
  cp.set_cluster("a100x8");
  auto* t = cp.add_time_samples();
  t->set_micro_batch(4);
  t->set_seq_len(64);
  t->set_forward_seconds(0.001);
  WriteFile(dir.File("cp.json"), MessageToJson(cp));
  r = cli({"profiles", "import", dir.File("cp.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("compute profile cp-a100x8-"));

  r = cli({"profiles", "list"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("hw-a100x8-1") && Catch::Contains("cp-a100x8-"));
  r = cli({"profiles", "show", "hw-a100x8-1"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("1 nodes x 8 devices") && Catch::Contains("all_reduce"));
  r = cli({"--json", "profiles", "show", "hw-a100x8-1"});
  REQUIRE(r.exit_code == 0);
  v1::HardwareProfile parsed;
  REQUIRE(JsonToMessage(r.out, "output", &parsed).ok());
  CHECK(parsed.devices_per_node() == 8);
  r = cli({"profiles", "show", "hw-a100x8-9"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("NOT_FOUND"));

  r = cli({"plans", "list"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("no plans"));
  r = cli({"plans", "show", "plan-0000"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("NOT_FOUND"));

  r = cli({"models", "delete", "my-tiny"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("2 versions"));

  // SIGTERM shuts the planner down cleanly.
  planner.process().Signal(SIGTERM);
  CHECK(planner.process().Wait(std::chrono::seconds(20)) == 0);
}

TEST_CASE("CLI: a planner that is not there is reported plainly") {
  testing::TempDir dir;
  // Reserve a free port by starting and stopping a planner.
  std::string address;
  {
    testing::PlannerProcess planner(dir.File("planner.db"), dir.path());
    address = planner.address();
    planner.process().Signal(SIGTERM);
    REQUIRE(planner.process().Wait(std::chrono::seconds(20)) == 0);
  }
  CommandResult r = RunCommand(
      {testing::BinDir() + "/galvatron", "--planner", address, "--timeout", "3", "models", "list"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("cannot reach the planner at " + address));
}

// A search of minutes (LLaMA-2-70B on 1024 synthetic GPUs, 16 global
// batches): --timeout bounds the call, and the planner stops the search.
TEST_CASE("galvatron --timeout 1 plan answers DEADLINE_EXCEEDED within seconds") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path(),
                                  {"--search-time-limit", "600"});
  Cli cli{planner.address()};
  WriteFile(dir.File("big.json"), MessageToJson(testing::SyntheticCluster("big", 128, 8)));
  REQUIRE(cli({"profiles", "import", dir.File("big.json")}).exit_code == 0);

  const auto started = std::chrono::steady_clock::now();
  CommandResult r = cli({"--timeout", "1", "plan", "--model", "llama2-70b", "--cluster", "big",
                         "--memory", "80GiB", "--global-batch", "256..4096:256"});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("DEADLINE_EXCEEDED") && Catch::Contains("--timeout"));
  CHECK(seconds < 5);
  // The planner stopped the search nobody waits for.
  CHECK(testing::WaitFor(
      [&] { return absl::StrContains(planner.Log(), "cancelled: nobody waits for it"); },
      std::chrono::seconds(5)));
  planner.process().Signal(SIGTERM);
  CHECK(planner.process().Wait(std::chrono::seconds(20)) == 0);
}

TEST_CASE("planner refuses bad flags and a foreign database file") {
  testing::TempDir dir;
  CommandResult r = RunCommand({testing::BinDir() + "/galvatron-planner", "--log-level", "loud",
                                "--db", dir.File("x.db"), "--listen", "127.0.0.1:0"});
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.err, Catch::Contains("--log-level"));
  WriteFile(dir.File("notes.txt"), "these are my notes, not a database\n");
  r = RunCommand({testing::BinDir() + "/galvatron-planner", "--db", dir.File("notes.txt"),
                  "--listen", "127.0.0.1:0"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("notes.txt"));
}

}  // namespace galvatron
