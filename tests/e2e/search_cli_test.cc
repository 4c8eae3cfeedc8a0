// `galvatron-planner search` end to end on Galvatron's own profile files
// (LLaMA-2-7B, 8 x A100, bf16, seq 2048) and `galvatron plan` against a live
// planner (with a warning when a compute profile it uses is flagged noisy).
#include <catch2/catch.hpp>

#include <csignal>
#include <optional>
#include <string>
#include <vector>

#include <filesystem>
#include <fstream>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/json_file.h"
#include "common/layer_type.h"
#include "common/model_catalog.h"
#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/plan.pb.h"
#include "interop/galvatron_config.h"
#include "nlohmann/json.hpp"
#include "tests/support/synthetic_cluster.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

std::string Fixtures() { return testing::SourceDir() + "/tests/data/galvatron"; }

// Our strategy file against Galvatron's: the same keys and values, except
// that we also write world_size (Galvatron 3.0's search does not write it
// into this file) and vocab_sdp, the key Galvatron's runtime reads for the
// embedding's ZeRO-3 (its search writes only embed_sdp, which the runtime
// ignores). The formatting is checked byte for byte in tests/interop.
void CheckSameStrategy(const std::string& ours_text, const std::string& theirs_text) {
  nlohmann::json ours = nlohmann::json::parse(ours_text);
  const nlohmann::json theirs = nlohmann::json::parse(theirs_text);
  CHECK(ours.value("vocab_sdp", 0) == theirs.value("embed_sdp", 0));
  ours.erase("world_size");
  ours.erase("vocab_sdp");
  INFO("ours: " << ours.dump() << "\ntheirs: " << theirs.dump());
  CHECK(ours == theirs);
}

std::vector<std::string> SearchArgs(const std::string& mode) {
  return {testing::BinDir() + "/galvatron-planner",
          "search",
          "--model",
          "llama2-7b",
          "--hardware",
          Fixtures(),
          "--num-nodes",
          "1",
          "--gpus-per-node",
          "8",
          "--compute",
          Fixtures(),
          "--time-profile-mode",
          "batch",
          "--memory",
          "36GiB",
          "--global-batch",
          "16..32:16",
          "--seq",
          "2048",
          "--mode",
          mode,
          "--quiet"};
}

// The id after "plan:" in `galvatron plan`'s readable output.
std::string LastPlanId(const std::string& out) {
  const size_t at = out.find("plan-");
  if (at == std::string::npos) return "";
  const size_t end = out.find_first_of(" \n", at);
  return out.substr(at, end - at);
}

}  // namespace

TEST_CASE("galvatron-planner search on Galvatron's LLaMA-2-7B profiles") {
  testing::TempDir dir;
  for (const std::string mode : {"galvatron", "default"}) {
    std::vector<std::string> args = SearchArgs(mode);
    args.push_back("--json");
    args.push_back("--galvatron-config-out");
    args.push_back(dir.File("config-" + mode + ".json"));
    testing::CommandResult r = testing::RunCommand(args, std::chrono::seconds(300));
    INFO(mode << " stderr: " << r.err);
    REQUIRE(r.exit_code == 0);
    v1::Plan plan;
    REQUIRE(JsonToMessage(r.out, "search output", &plan).ok());
    CHECK(plan.prediction().samples_per_second() > 0);
    CHECK(plan.prediction().iteration_seconds() > 0);
    CHECK(plan.search().wall_seconds() > 0);
    CHECK(plan.layers_size() == 32);
    CHECK(plan.world_size() == 8);
    CHECK_FALSE(plan.prediction().analytic_estimate());
    CHECK((plan.global_batch() == 16 || plan.global_batch() == 32));
    for (const auto& m : plan.prediction().stage_memory()) {
      CHECK(m.total_bytes() <= m.budget_bytes());
    }
    // The Galvatron strategy file reads back as the same layer strategies.
    auto text = ReadTextFile(dir.File("config-" + mode + ".json"));
    REQUIRE(text.ok());
    auto back = interop::ReadGalvatronConfig(*text, "config");
    INFO(*text);
    REQUIRE(back.ok());
    CHECK(back->pp() == plan.pp());
    CHECK(back->global_batch() == plan.global_batch());
    CHECK(back->micro_batches() == plan.micro_batches());
    REQUIRE(back->layers_size() == plan.layers_size());
    for (int i = 0; i < plan.layers_size(); ++i) {
      CHECK(back->layers(i).tp() == plan.layers(i).tp());
      CHECK(back->layers(i).checkpoint() == plan.layers(i).checkpoint());
    }
  }
}

// Inputs that aborted the search (SIGABRT) or gave a plan from impossible
// numbers: each is now an error that names the field, exit code 1.
TEST_CASE("galvatron-planner search refuses profiles no hardware has") {
  testing::TempDir dir;
  v1::HardwareProfile example;
  REQUIRE(ReadJsonFile(testing::SourceDir() + "/examples/a100x8.hardware.json", &example).ok());
  struct Case {
    std::function<void(v1::HardwareProfile*)> change;
    std::string error;
  };
  const std::vector<Case> cases = {
      {[](v1::HardwareProfile* p) {
         for (auto& t : *p->mutable_collectives()) t.set_bus_bandwidth_bytes_per_second(1e-300);
       },
       "collectives[0].bus_bandwidth_bytes_per_second: 1e-300, must be 0 (unknown) or between"},
      {[](v1::HardwareProfile* p) { p->set_overlap_coefficient(1e308); },
       "overlap_coefficient: 1e+308, must be 0 (unknown) or between 1 and 4"},
      {[](v1::HardwareProfile* p) { p->set_overlap_coefficient(1e12); },
       "overlap_coefficient: 1e+12"},
      {[](v1::HardwareProfile* p) { p->mutable_device()->set_name(std::string(1 << 20, 'x')); },
       "device.name: 1048576 bytes, must be <= 256 bytes"},
  };
  for (const Case& c : cases) {
    v1::HardwareProfile hardware = example;
    c.change(&hardware);
    REQUIRE(WriteTextFile(dir.File("hw.json"), MessageToJson(hardware)).ok());
    testing::CommandResult r = testing::RunCommand(
        {testing::BinDir() + "/galvatron-planner", "search", "--model", "llama2-7b", "--hardware",
         dir.File("hw.json"), "--memory", "36GiB", "--global-batch", "8", "--quiet"},
        std::chrono::seconds(120));
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Catch::Contains(c.error));
  }

  // Galvatron's computation profile with every time negated.
  const std::string folder = dir.File("galvatron");
  std::filesystem::create_directories(folder);
  for (const auto& entry : std::filesystem::directory_iterator(Fixtures())) {
    std::filesystem::copy(entry.path(), folder);
  }
  const std::string computation = folder + "/computation_profiling_bf16_llama2-7b_all.json";
  nlohmann::ordered_json times = nlohmann::ordered_json::parse(*ReadTextFile(computation));
  for (auto& [key, value] : times.items()) {
    if (value.is_number()) value = -value.get<double>();
  }
  REQUIRE(WriteTextFile(computation, times.dump(4)).ok());
  std::vector<std::string> args = SearchArgs("galvatron");
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--compute") args[i + 1] = folder;
  }
  testing::CommandResult r = testing::RunCommand(args, std::chrono::seconds(120));
  INFO(r.err);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("computation_profiling_bf16_llama2-7b_all.json") &&
                        Catch::Contains("time is <= 0"));
}

TEST_CASE("galvatron-planner search: readable output, and a budget nothing fits") {
  testing::CommandResult r = testing::RunCommand(SearchArgs("default"), std::chrono::seconds(300));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("layers 0") && Catch::Contains("samples/s") &&
                        Catch::Contains("stage 0"));
  std::vector<std::string> args = SearchArgs("default");
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--memory") args[i + 1] = "2GiB";
  }
  r = testing::RunCommand(args, std::chrono::seconds(300));
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains("no plan fits"));
  args = SearchArgs("default");
  args.push_back("--disable");
  args.push_back("warp");
  r = testing::RunCommand(args, std::chrono::seconds(60));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("disable"));
}

TEST_CASE("galvatron plan against a live planner") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path());
  REQUIRE(WriteTextFile(dir.File("hw.json"),
                        MessageToJson(testing::SyntheticCluster("synthetic", 1, 8)))
              .ok());
  auto cli = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {testing::BinDir() + "/galvatron", "--planner",
                                     planner.address()};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunCommand(argv, std::chrono::seconds(300));
  };
  testing::CommandResult r = cli({"profiles", "import", dir.File("hw.json")});
  REQUIRE(r.exit_code == 0);
  r = cli({"plan", "--model", "gpt2-small", "--cluster", "synthetic", "--memory", "8GiB",
           "--global-batch", "16"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("plan:         plan-") && Catch::Contains("layers 0"));
  CHECK_THAT(r.out, Catch::Contains("(analytic estimate)"));
  // The estimate names its grounds.
  CHECK_THAT(r.out, Catch::Contains("% of peak") && Catch::Contains("published"));
  r = cli({"plans", "list"});
  CHECK_THAT(r.out, Catch::Contains("gpt2-small"));
  // Galvatron's formulas over the extended space, as a service, and why the
  // plan won.
  r = cli({"plan", "--model", "gpt2-small", "--cluster", "synthetic", "--memory", "8GiB",
           "--global-batch", "16", "--mode", "galvatron-extended", "--explain"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("plan:         plan-"));
  CHECK_THAT(r.out, Catch::Contains("why it won") && Catch::Contains("slower"));
  r = cli({"--json", "plans", "show", LastPlanId(r.out)});
  CHECK_THAT(r.out, Catch::Contains("COST_MODEL_MODE_GALVATRON_EXTENDED"));
  r = cli({"plan", "--model", "gpt2-small", "--cluster", "synthetic", "--memory", "8GiB",
           "--global-batch", "0"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--global-batch"));
  planner.process().Signal(SIGTERM);
  CHECK(planner.process().Wait(std::chrono::seconds(20)) == 0);
}

TEST_CASE("galvatron plan warns about a noisy compute profile") {
  testing::TempDir dir;
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path());
  const std::optional<v1::ModelSpec> model = CatalogModel("gpt2-small");
  REQUIRE(model.has_value());
  v1::ComputeProfile block;
  block.set_layer_type(LayerTypeKey(*model, 0));
  block.set_cluster("synthetic");
  block.set_precision(v1::PRECISION_BF16_MIXED);
  block.set_source(v1::PROFILE_SOURCE_MEASURED);
  block.mutable_forward_fit()->set_per_sample_s0(2e-3);
  v1::MeasurementQuality* q = block.mutable_quality();
  q->set_noisy(true);
  q->set_spread(0.41);
  q->set_load(0.93);
  q->set_attempts(4);
  q->set_spread_threshold(0.25);
  q->set_load_threshold(0.25);
  q->add_noisy_measurements(block.layer_type() + ": forward/backward s=1024 b=1,2,4: spread 0.410");
  q->set_note("1 measurement stayed noisy: " + q->noisy_measurements(0));
  REQUIRE(WriteTextFile(dir.File("hw.json"),
                        MessageToJson(testing::SyntheticCluster("synthetic", 1, 8)))
              .ok());
  REQUIRE(WriteTextFile(dir.File("block.json"), MessageToJson(block)).ok());
  auto cli = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {testing::BinDir() + "/galvatron", "--planner",
                                     planner.address()};
    argv.insert(argv.end(), args.begin(), args.end());
    return testing::RunCommand(argv, std::chrono::seconds(300));
  };
  REQUIRE(cli({"profiles", "import", dir.File("hw.json")}).exit_code == 0);
  testing::CommandResult r = cli({"profiles", "import", dir.File("block.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  r = cli({"profiles", "list", "--kind", "compute"});
  CHECK_THAT(r.out, Catch::Contains("measured (noisy)"));

  r = cli({"plan", "--model", "gpt2-small", "--cluster", "synthetic", "--memory", "8GiB",
           "--global-batch", "16"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("warning:      compute profile cp-synthetic-") &&
                        Catch::Contains("of layer type " + block.layer_type()) &&
                        Catch::Contains("spread 0.41 (threshold 0.25)"));
  planner.process().Signal(SIGTERM);
  CHECK(planner.process().Wait(std::chrono::seconds(20)) == 0);
}

}  // namespace galvatron

namespace galvatron {

// Galvatron ships the strategy its search found for LLaMA-2-7B on this very
// cluster (36 GB, global batch 16, pipedream_flush, default_dp_type zero2).
// Galvatron mode on the same profiles must find the same strategy.
TEST_CASE("galvatron mode reproduces Galvatron's shipped LLaMA-2-7B strategy") {
  testing::TempDir dir;
  std::vector<std::string> args = {testing::BinDir() + "/galvatron-planner",
                                   "search",
                                   "--model",
                                   "llama2-7b",
                                   "--hardware",
                                   Fixtures(),
                                   "--num-nodes",
                                   "1",
                                   "--gpus-per-node",
                                   "8",
                                   "--compute",
                                   Fixtures(),
                                   "--time-profile-mode",
                                   "batch",
                                   "--memory",
                                   "36GiB",
                                   "--global-batch",
                                   "16",
                                   "--seq",
                                   "2048",
                                   "--mode",
                                   "galvatron",
                                   "--pipeline",
                                   "1f1b",
                                   "--default-dp-type",
                                   "zero2",
                                   "--quiet",
                                   "--galvatron-config-out",
                                   dir.File("ours.json")};
  testing::CommandResult r = testing::RunCommand(args, std::chrono::seconds(300));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto ours = ReadTextFile(dir.File("ours.json"));
  auto theirs =
      ReadTextFile(Fixtures() + "/galvatron_config_llama2-7b_1nodes_8gpus_per_node_36GB_bf16.json");
  REQUIRE(ours.ok());
  REQUIRE(theirs.ok());
  CheckSameStrategy(*ours, *theirs);
}

}  // namespace galvatron

namespace galvatron {

// The same search from Galvatron's own settings file: its layout, with the
// values of the shipped strategy's search (36 GB, global batch 16, batch
// time fit, zero2, pipedream_flush), finds Galvatron's shipped strategy.
TEST_CASE("galvatron-planner search --galvatron-yaml reproduces Galvatron's shipped strategy") {
  testing::TempDir dir;
  const std::string yaml = dir.File("search_dist.yaml");
  {
    std::ofstream out(yaml);
    out << "NUM_NODES: 1\nNUM_GPUS_PER_NODE: 8\nMEMORY_CONSTRAINT: 36\nSEQ_LENGTH: 2048\n"
           "search_engine:\n"
           "  profiling_info:\n    time_profile_mode: batch\n    memory_profile_mode: static\n"
           "  model_info:\n    model_size: llama2-7b\n    set_seqlen_manually: 1\n"
           "  common_train_info:\n    seq_length: ${SEQ_LENGTH}\n    sequence_parallel: true\n"
           "    global_memory_buffer: true\n"
           "  parallelism_info:\n    default_dp_type: zero2\n    pipeline_type: pipedream_flush\n"
           "    async_grad_reduce: true\n    mixed_precision: bf16\n"
           "  hardware_info:\n    num_nodes: ${NUM_NODES}\n"
           "    num_gpus_per_node: ${NUM_GPUS_PER_NODE}\n"
           "    memory_constraint: ${MEMORY_CONSTRAINT}\n"
           "  batch_size_info:\n    min_bsz: 16\n    max_bsz: 16\n    bsz_scale: 8\n"
           "    settle_bsz: -1\n    recommend_min_bsz: 0\n"
           "  search_space_info:\n    disable_cp: 1\n    max_tp_deg: 8\n    max_pp_deg: 8\n"
           "    max_sp_deg: 8\n"
           "  options_info:\n    parallel_search: false\n    log_dir: ./logs\n"
           "    fine_grained_mode: 1\n";
  }
  std::vector<std::string> args = {testing::BinDir() + "/galvatron-planner",
                                   "search",
                                   "--galvatron-yaml",
                                   yaml,
                                   "--hardware",
                                   Fixtures(),
                                   "--compute",
                                   Fixtures(),
                                   "--quiet",
                                   "--galvatron-config-out",
                                   dir.File("ours.json")};
  testing::CommandResult r = testing::RunCommand(args, std::chrono::seconds(300));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  // What the file sets that only Galvatron's engine reads is named.
  CHECK_THAT(r.err, Catch::Contains("options_info.log_dir") && Catch::Contains("not"));
  auto ours = ReadTextFile(dir.File("ours.json"));
  auto theirs =
      ReadTextFile(Fixtures() + "/galvatron_config_llama2-7b_1nodes_8gpus_per_node_36GB_bf16.json");
  REQUIRE(ours.ok());
  REQUIRE(theirs.ok());
  CheckSameStrategy(*ours, *theirs);

  // A flag on the command line wins over the file; a bad key is named.
  args.push_back("--memory");
  args.push_back("1GiB");
  r = testing::RunCommand(args, std::chrono::seconds(120));
  CHECK(r.exit_code == 3);
  {
    std::ofstream out(yaml, std::ios::app);
    out << "  debug_info:\n    debug_costmodel_coee: 1\n";
  }
  r = testing::RunCommand(args, std::chrono::seconds(60));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("debug_info.debug_costmodel_coee"));
}

}  // namespace galvatron
