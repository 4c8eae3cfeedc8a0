// `galvatron-planner search` end to end on Galvatron's own profile files
// (LLaMA-2-7B, 8 x A100, bf16, seq 2048) and `galvatron plan` against a live
// planner (with a warning when a compute profile it uses is flagged noisy).
#include <catch2/catch.hpp>

#include <cmath>
#include <csignal>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <filesystem>
#include <fstream>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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
    // Galvatron's config has no ZeRO-1, which default mode may pick.
    if (mode == "default") args.insert(args.end(), {"--disable", "zero1"});
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

  // The inputs written for Galvatron follow the file's time mode (batch:
  // eight batch sizes per layer type), not the flag's default.
  std::vector<std::string> with_inputs = args;
  with_inputs.insert(with_inputs.end(), {"--galvatron-inputs-out", dir.File("inputs")});
  r = testing::RunCommand(with_inputs, std::chrono::seconds(300));
  REQUIRE(r.exit_code == 0);
  auto times =
      ReadTextFile(dir.File("inputs/configs/computation_profiling_bf16_llama2-7b_all.json"));
  REQUIRE(times.ok());
  CHECK_THAT(*times, Catch::Contains("\"layertype_0_bsz8_seq2048\""));

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

namespace galvatron {
namespace {

std::vector<int> Csv(const nlohmann::json& config, const std::string& key) {
  std::vector<int> out;
  for (absl::string_view part : absl::StrSplit(config.at(key).get<std::string>(), ',')) {
    out.push_back(std::stoi(std::string(part)));
  }
  return out;
}

// Our strategy file against one Galvatron's engine wrote for a model of
// several layer types. Where layers of one type sit side by side on one
// pipeline stage, they are interchangeable: which of them take checkpointing
// or ZeRO-3 is a tie the two DPs may break differently (the plans' times are
// equal), so those two keys compare as the multiset of each such run.
void CheckSameUpToEqualLayers(const std::string& ours_text, const std::string& theirs_text,
                              const v1::ModelSpec& spec) {
  nlohmann::json ours = nlohmann::json::parse(ours_text);
  nlohmann::json theirs = nlohmann::json::parse(theirs_text);
  INFO("ours: " << ours.dump() << "\ntheirs: " << theirs.dump());
  CHECK(ours.value("vocab_sdp", 0) == theirs.value("embed_sdp", 0));
  // Runs of layers of one type on one stage.
  std::vector<int> run_of;
  int run = 0;
  {
    std::vector<int> type_of;
    for (int g = 0; g < spec.layers_size(); ++g) {
      for (int i = 0; i < spec.layers(g).count(); ++i) type_of.push_back(g);
    }
    std::vector<int> stage_of;
    const std::vector<int> division = Csv(theirs, "pp_division");
    for (size_t s = 0; s < division.size(); ++s) {
      for (int i = 0; i < division[s]; ++i) stage_of.push_back(static_cast<int>(s));
    }
    REQUIRE(stage_of.size() == type_of.size());
    for (size_t l = 0; l < type_of.size(); ++l) {
      if (l > 0 && (type_of[l] != type_of[l - 1] || stage_of[l] != stage_of[l - 1])) ++run;
      run_of.push_back(run);
    }
  }
  for (const char* key : {"checkpoint", "dp_types_enc"}) {
    const std::vector<int> a = Csv(ours, key), b = Csv(theirs, key);
    REQUIRE(a.size() == run_of.size());
    REQUIRE(b.size() == run_of.size());
    for (int r = 0; r <= run; ++r) {
      std::multiset<int> in_a, in_b;
      for (size_t l = 0; l < run_of.size(); ++l) {
        if (run_of[l] != r) continue;
        in_a.insert(a[l]);
        in_b.insert(b[l]);
      }
      INFO(key << ", run " << r);
      CHECK(in_a == in_b);
    }
  }
  for (nlohmann::json* j : {&ours, &theirs}) {
    for (const char* key : {"world_size", "vocab_sdp", "checkpoint", "dp_types_enc"}) {
      j->erase(key);
    }
  }
  CHECK(ours == theirs);
}

}  // namespace

// Galvatron's engine (cea12ff) was run on the inputs `--galvatron-inputs-out`
// wrote for T5-3B (two layer types) and Swin-L (one per stage) on 8 x A100
// (tests/data/galvatron/README.md says how); galvatron mode on the same files
// finds the same plans at the same predicted throughput.
TEST_CASE("galvatron mode finds Galvatron's plans for T5 and Swin") {
  struct Case {
    std::string model;
    int memory_gb;
    double galvatron_throughput;  // THROUGHPUT printed by Galvatron's search
  };
  const Case cases[] = {{"t5-3b", 16, 120.21587326342421},
                        {"t5-3b", 8, 85.72504147405402},
                        {"swin-large", 4, 3689.7050227532955},
                        {"swin-large", 2, 2227.83879054468}};
  for (const Case& c : cases) {
    INFO(c.model << " at " << c.memory_gb << " GB");
    // No --disable embedding_tp: without Megatron-SP galvatron mode searches
    // no tensor-parallel vocabulary, as Galvatron's engine (which had to be
    // told disable_embedding_lmhead_tp) cannot.
    testing::TempDir dir;
    const std::string inputs = Fixtures() + "/multi_type/" + c.model;
    testing::CommandResult r = testing::RunCommand({testing::BinDir() + "/galvatron-planner",
                                                    "search",
                                                    "--model",
                                                    c.model,
                                                    "--hardware",
                                                    Fixtures(),
                                                    "--num-nodes",
                                                    "1",
                                                    "--gpus-per-node",
                                                    "8",
                                                    "--compute",
                                                    inputs,
                                                    "--memory",
                                                    absl::StrCat(c.memory_gb, "GiB"),
                                                    "--global-batch",
                                                    "64..256:64",
                                                    "--mode",
                                                    "galvatron",
                                                    "--quiet",
                                                    "--json",
                                                    "--galvatron-config-out",
                                                    dir.File("ours.json")},
                                                   std::chrono::seconds(300));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    v1::Plan plan;
    REQUIRE(JsonToMessage(r.out, "plan", &plan).ok());
    CHECK(std::abs(plan.prediction().samples_per_second() / c.galvatron_throughput - 1) < 1e-9);
    auto ours = ReadTextFile(dir.File("ours.json"));
    auto theirs =
        ReadTextFile(absl::StrCat(inputs, "/galvatron_config_", c.model, "_1nodes_8gpus_per_node_",
                                  c.memory_gb, "GB_bf16.json"));
    REQUIRE(ours.ok());
    REQUIRE(theirs.ok());
    CheckSameUpToEqualLayers(*ours, *theirs, *CatalogModel(c.model));
  }
}

// Two plans (JSON) with the same layers, pipeline and micro-batches, their
// predicted throughputs within `relative` of each other.
void CheckSamePlan(const std::string& a_json, const std::string& b_json, double relative) {
  v1::Plan a, b;
  REQUIRE(JsonToMessage(a_json, "plan", &a).ok());
  REQUIRE(JsonToMessage(b_json, "plan", &b).ok());
  const double ta = a.prediction().samples_per_second(), tb = b.prediction().samples_per_second();
  CHECK(std::abs(tb - ta) <= relative * ta);
  CHECK(a.pp() == b.pp());
  CHECK(a.micro_batches() == b.micro_batches());
  REQUIRE(a.layers_size() == b.layers_size());
  for (int i = 0; i < a.layers_size(); ++i) {
    CHECK(a.layers(i).DebugString() == b.layers(i).DebugString());
  }
}

// --galvatron-inputs-out writes what the search planned from: searching the
// written files gives the plan the analytic estimates gave, to the bit.
TEST_CASE("galvatron-planner search --galvatron-inputs-out writes the search's own inputs") {
  testing::TempDir dir;
  const std::string hardware = testing::SourceDir() + "/examples/a100x8.hardware.json";
  const auto search = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {testing::BinDir() + "/galvatron-planner",
                                     "search",
                                     "--model",
                                     "t5-base",
                                     "--memory",
                                     "4GiB",
                                     "--global-batch",
                                     "64..128:64",
                                     "--mode",
                                     "galvatron",
                                     "--quiet",
                                     "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::RunCommand(args, std::chrono::seconds(300));
  };
  testing::CommandResult analytic =
      search({"--hardware", hardware, "--galvatron-inputs-out", dir.File("inputs")});
  INFO(analytic.err);
  REQUIRE(analytic.exit_code == 0);
  CHECK_THAT(analytic.err, Catch::Contains("t5_encoder") && Catch::Contains("t5_decoder"));
  // The example profile has bandwidths only: Galvatron's engine also needs
  // collective times by size, and the command says so.
  CHECK_THAT(analytic.err, Catch::Contains("sp_time_1nodes_8gpus_per_node.json"));
  const std::string configs = dir.File("inputs/configs");
  auto computation = ReadTextFile(configs + "/computation_profiling_bf16_t5-base_all.json");
  auto memory = ReadTextFile(configs + "/memory_profiling_bf16_t5-base_all.json");
  REQUIRE(computation.ok());
  REQUIRE(memory.ok());
  CHECK_THAT(*computation, Catch::Contains("\"layertype_0_bsz1_seq512\"") &&
                               Catch::Contains("\"layertype_1_bsz1_seq114\"") &&
                               Catch::Contains("\"layertype_other_bsz1_seq512_114\""));
  CHECK_THAT(*memory, Catch::Contains("\"other_memory_pp_on_last\"") &&
                          !Catch::Contains("_sp\""));  // T5 splits no sequence

  testing::CommandResult from_files = search({"--hardware", dir.File("inputs/hardware_configs"),
                                              "--compute", configs, "--cluster", "a100x8"});
  INFO(from_files.err);
  REQUIRE(from_files.exit_code == 0);
  CheckSamePlan(analytic.out, from_files.out, 0);
  // Batch mode: eight batch sizes per layer type (Galvatron fits a line).
  testing::CommandResult batch = search({"--hardware", hardware, "--galvatron-inputs-out",
                                         dir.File("batch"), "--time-profile-mode", "batch"});
  REQUIRE(batch.exit_code == 0);
  auto batch_times =
      ReadTextFile(dir.File("batch/configs/computation_profiling_bf16_t5-base_all.json"));
  REQUIRE(batch_times.ok());
  CHECK_THAT(*batch_times, Catch::Contains("\"layertype_1_bsz8_seq114\""));
  // Measured profiles (Galvatron's LLaMA-2-7B files, batch time mode, with
  // Megatron-SP tables) go through the same way.
  std::vector<std::string> llama = SearchArgs("galvatron");
  llama.push_back("--json");
  testing::CommandResult measured = testing::RunCommand(
      [&] {
        auto args = llama;
        args.insert(args.end(), {"--galvatron-inputs-out", dir.File("llama")});
        return args;
      }(),
      std::chrono::seconds(300));
  INFO(measured.err);
  REQUIRE(measured.exit_code == 0);
  CHECK_THAT(measured.err, !Catch::Contains("sp_time"));  // this hardware has the tables
  auto llama_memory =
      ReadTextFile(dir.File("llama/configs/memory_profiling_bf16_llama2-7b_all.json"));
  REQUIRE(llama_memory.ok());
  CHECK_THAT(*llama_memory, Catch::Contains("\"layertype_0_sp\""));
  std::vector<std::string> reread = llama;
  for (size_t i = 0; i + 1 < reread.size(); ++i) {
    if (reread[i] == "--hardware") reread[i + 1] = dir.File("llama/hardware_configs");
    if (reread[i] == "--compute") reread[i + 1] = dir.File("llama/configs");
  }
  testing::CommandResult again = testing::RunCommand(reread, std::chrono::seconds(300));
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  // Batch mode refits the line through the written samples: equal to rounding.
  CheckSamePlan(measured.out, again.out, 1e-9);
  // Sequence mode needs profiles at several lengths: refused, with the reason.
  testing::CommandResult sequence = search({"--hardware", hardware, "--galvatron-inputs-out",
                                            dir.File("seq"), "--time-profile-mode", "sequence"});
  CHECK(sequence.exit_code == 1);
  CHECK_THAT(sequence.err, Catch::Contains("time profile mode \"sequence\""));
}

}  // namespace galvatron
