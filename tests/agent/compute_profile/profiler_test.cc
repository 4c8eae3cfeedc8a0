// The compute profiler on CPU with the catalog's tiny GPT and LLaMA:
// parameter counts equal the counts computed here from the specs, times grow
// with the micro-batch, checkpointing keeps less than the full graph,
// activation memory shrinks with the tensor-parallel degree, the profiles
// pass validation, and the planner's search runs from them alone (no
// analytic estimate). Then `galvatron-worker profile` as a process.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "agent/compute_profile/profiler.h"
#include "common/json_file.h"
#include "common/layer_type.h"
#include "common/model_catalog.h"
#include "common/profile_validation.h"
#include "common/progress_file.h"
#include "planner/search/plan_builder.h"
#include "tests/support/synthetic_cluster.h"
#include "tests/support/test_support.h"

namespace galvatron::profiler {
namespace {

v1::ModelSpec Model(const std::string& name) {
  std::optional<v1::ModelSpec> model = CatalogModel(name);
  REQUIRE(model.has_value());
  return *model;
}

// Exact parameter counts from the spec (one block; the embedding/head).
int64_t BlockParameters(const v1::ModelSpec& m) {
  const v1::LayerGroup& g = m.layers(0);
  const int64_t h = g.hidden(), f = g.ffn_hidden(), n = g.heads();
  const int64_t kv = g.kv_heads() > 0 ? g.kv_heads() : n;
  const int64_t d = g.head_dim() > 0 ? g.head_dim() : h / n;
  const int64_t b = g.bias() ? 1 : 0;
  if (g.kind() == v1::LAYER_KIND_LLAMA_DECODER) {
    return 2 * h                                     // two RMSNorm weights
           + h * n * d + 2 * h * kv * d + n * d * h  // q, k, v, o
           + 3 * h * f                               // gate, up, down
           + b * (n * d + 2 * kv * d + h + 2 * f + h);
  }
  return 2 * 2 * h                         // two LayerNorms
         + h * 3 * n * d + 3 * n * d * b   // q, k, v
         + n * d * h + h * b               // output projection
         + h * f + f * b + f * h + h * b;  // MLP
}

int64_t EmbeddingHeadParameters(const v1::ModelSpec& m) {
  const int64_t h = m.layers(0).hidden(), v = m.vocab_size(), s = m.seq_len();
  if (m.family() == v1::MODEL_FAMILY_LLAMA) return v * h + h + (m.tie_embeddings() ? 0 : v * h);
  return v * h + s * h + 2 * h + (m.tie_embeddings() ? 0 : v * h);
}

ProfilerOptions Quick() {
  ProfilerOptions options;
  options.micro_batches = {1, 16};
  options.warmup = 1;
  options.repeats = 7;
  options.threads = 1;
  options.device = "cpu";
  options.cluster = "cpu-test";
  // Shared cores here: time once, whatever the noise.
  options.noise.accept_noisy = true;
  return options;
}

// A machine load chosen by the test, whatever this machine is doing.
class FixedLoad final : public LoadSource {
 public:
  explicit FixedLoad(double load) : load_(load) {}
  void Begin() override { ++windows_; }
  double End() override { return load_; }
  int windows() const { return windows_; }

 private:
  double load_;
  int windows_ = 0;
};

const v1::ComputeProfile& Find(const v1::ComputeProfileList& list, const std::string& key) {
  for (const v1::ComputeProfile& p : list.profiles()) {
    if (p.layer_type() == key) return p;
  }
  FAIL("no profile for " << key);
  return list.profiles(0);
}

// The plan the planner builds from `list` alone: 4 CPU devices, 4 GiB each.
absl::StatusOr<v1::Plan> PlanFrom(const v1::ModelSpec& model, const v1::ComputeProfileList& list) {
  search::PlanInputs inputs;
  inputs.model = model;
  inputs.hardware = testing::SyntheticCluster("cpu-test", 1, 4, int64_t{8} << 30);
  inputs.compute.assign(list.profiles().begin(), list.profiles().end());
  inputs.request.set_memory_budget_bytes(int64_t{4} << 30);
  inputs.request.set_global_batch(8);
  search::PlanBuildOptions build;
  build.threads = 1;
  return search::BuildPlan(inputs, build);
}

}  // namespace

TEST_CASE("Profiling the tiny GPT and LLaMA on CPU", "[profiler]") {
  for (const std::string name : {"gpt-tiny", "llama-tiny"}) {
    DYNAMIC_SECTION(name) {
      const v1::ModelSpec model = Model(name);
      double last_progress = -1;
      ProfilerOptions options = Quick();
      options.progress = [&](double fraction, const std::string&) {
        CHECK(fraction >= last_progress);
        last_progress = fraction;
      };
      auto list = ProfileModel(model, options);
      INFO(list.status().message());
      REQUIRE(list.ok());
      CHECK(last_progress == 1.0);
      REQUIRE(list->profiles_size() == 2);  // one block type + embedding/head
      for (const v1::ComputeProfile& p : list->profiles()) {
        INFO(p.layer_type());
        CHECK(ValidateComputeProfile(p).ok());
        CHECK(p.cluster() == "cpu-test");
        CHECK(p.source() == v1::PROFILE_SOURCE_MEASURED);
      }
      const v1::ComputeProfile& block = Find(*list, LayerTypeKey(model, 0));
      CHECK(block.parameter_count() == BlockParameters(model));
      CHECK(block.parameter_bytes() == 4 * BlockParameters(model));
      CHECK(Find(*list, EmbeddingTypeKey(model)).parameter_count() ==
            EmbeddingHeadParameters(model));

      // Times grow with the micro-batch (1 vs 16 samples, medians of 7).
      std::map<int, double> forward, backward;
      for (const auto& s : block.time_samples()) {
        forward[s.micro_batch()] = s.forward_seconds();
        backward[s.micro_batch()] = s.backward_seconds();
      }
      CHECK(forward.at(16) > forward.at(1));
      CHECK(backward.at(16) > backward.at(1));
      CHECK(block.forward_fit().per_sample_s0() > 0);

      // Memory: every degree dividing the 4 heads, for plain TP, Megatron-SP
      // and Ulysses (each built with its sharded shapes).
      std::map<std::pair<int, int>, const v1::ActivationMemory*> table;  // (sp, tp)
      for (const auto& a : block.activations()) table[{a.sp(), a.tp_degree()}] = &a;
      REQUIRE(table.size() == 9);
      for (const auto& [key, a] : table) {
        INFO("sp " << key.first << " tp " << key.second);
        CHECK(a->bytes_per_sample() > 0);
        CHECK(a->checkpoint_bytes_per_sample() > 0);
        CHECK(a->checkpoint_bytes_per_sample() < a->bytes_per_sample());
        // Checkpointed, a layer keeps its output: this rank's seq × hidden
        // fp32 values (the sequence is sharded under SP).
        const int64_t local_seq = key.first == v1::SEQUENCE_PARALLEL_NONE
                                      ? model.seq_len()
                                      : model.seq_len() / key.second;
        CHECK(a->checkpoint_bytes_per_sample() == local_seq * model.layers(0).hidden() * 4);
      }
      const auto none = v1::SEQUENCE_PARALLEL_NONE, megatron = v1::SEQUENCE_PARALLEL_MEGATRON,
                 ulysses = v1::SEQUENCE_PARALLEL_ULYSSES;
      CHECK(table[{none, 1}]->bytes_per_sample() == table[{megatron, 1}]->bytes_per_sample());
      for (auto sp : {none, megatron, ulysses}) {
        CHECK(table[{sp, 2}]->bytes_per_sample() < table[{sp, 1}]->bytes_per_sample());
        CHECK(table[{sp, 4}]->bytes_per_sample() < table[{sp, 2}]->bytes_per_sample());
      }
      // Sequence parallelism also shards what plain TP replicates.
      CHECK(table[{megatron, 4}]->bytes_per_sample() < table[{none, 4}]->bytes_per_sample());
      CHECK(table[{ulysses, 4}]->bytes_per_sample() < table[{none, 4}]->bytes_per_sample());

      // The embedding/head: model states shrink with the vocabulary split.
      std::map<int, int64_t> off_states;
      for (const auto& m : Find(*list, EmbeddingTypeKey(model)).other_memory()) {
        if (m.position() == v1::PIPELINE_POSITION_OFF)
          off_states[m.vocab_tp_degree()] = m.model_state_bytes();
        CHECK(m.activation_bytes_per_sample() > 0);
      }
      REQUIRE(off_states.size() == 3);
      CHECK(off_states[2] < off_states[1]);

      // The planner plans from these profiles alone.
      auto plan = PlanFrom(model, *list);
      INFO(plan.status().message());
      REQUIRE(plan.ok());
      CHECK_FALSE(plan->prediction().analytic_estimate());
      CHECK(plan->prediction().samples_per_second() > 0);
    }
  }
}

TEST_CASE("Profiling the tiny T5 measures both block types at its two lengths", "[profiler][t5]") {
  const v1::ModelSpec model = Model("t5-test");
  auto list = ProfileModel(model, Quick());
  INFO(list.status().message());
  REQUIRE(list.ok());
  REQUIRE(list->profiles_size() == 3);  // encoder, decoder, embedding/head
  for (const v1::ComputeProfile& p : list->profiles()) {
    INFO(p.layer_type());
    CHECK(ValidateComputeProfile(p).ok());
  }
  const int64_t h = 64, f = 256, heads = 4, buckets = 32;
  const int64_t encoder_params = 2 * h + 4 * h * h + buckets * heads + 2 * h * f;
  const v1::ComputeProfile& encoder = Find(*list, LayerTypeKey(model, 0));
  const v1::ComputeProfile& decoder = Find(*list, LayerTypeKey(model, 1));
  CHECK(encoder.parameter_count() == encoder_params);
  CHECK(decoder.parameter_count() == encoder_params + h + 4 * h * h);  // + cross-attention
  CHECK(Find(*list, EmbeddingTypeKey(model)).parameter_count() == 512 * h + h);  // tied
  // Each timed at its own length: 32 encoder, 8 decoder tokens.
  for (const auto& [profile, seq] : {std::pair{&encoder, 32}, std::pair{&decoder, 8}}) {
    REQUIRE(profile->time_samples_size() > 0);
    for (const auto& sample : profile->time_samples()) CHECK(sample.seq_len() == seq);
    // No sequence parallelism for T5: plain TP rows only, one per degree.
    REQUIRE(profile->activations_size() == 3);
    for (const auto& a : profile->activations()) {
      CHECK(a.sp() == v1::SEQUENCE_PARALLEL_NONE);
      // Checkpointed, a block keeps the whole activation it returns.
      CHECK(a.checkpoint_bytes_per_sample() == (32 + 8) * h * 4);
    }
  }
  // The planner plans from these profiles alone, without splitting a sequence.
  auto plan = PlanFrom(model, *list);
  INFO(plan.status().message());
  REQUIRE(plan.ok());
  CHECK_FALSE(plan->prediction().analytic_estimate());
  REQUIRE(plan->layers_size() == 4);
  for (const v1::LayerStrategy& l : plan->layers()) CHECK(l.sp() == v1::SEQUENCE_PARALLEL_NONE);
  CHECK(plan->embedding().sp() == v1::SEQUENCE_PARALLEL_NONE);
}

TEST_CASE("Profiling the tiny Swin measures one block type per stage", "[profiler][swin]") {
  const v1::ModelSpec model = Model("swin-test");
  auto list = ProfileModel(model, Quick());
  INFO(list.status().message());
  REQUIRE(list.ok());
  REQUIRE(list->profiles_size() == 3);  // two stages, embedding/head
  for (const v1::ComputeProfile& p : list->profiles()) {
    INFO(p.layer_type());
    CHECK(ValidateComputeProfile(p).ok());
  }
  // Each stage at its own grid and width: 8x8 tokens at 64, 4x4 at 128.
  const std::pair<int, int64_t> stages[] = {{64, 64}, {16, 128}};
  for (int i = 0; i < 2; ++i) {
    const v1::ComputeProfile& stage = Find(*list, LayerTypeKey(model, i));
    const auto [tokens, h] = stages[i];
    // The block without the patch merging (measured apart from it).
    const int64_t window_offsets = 7 * 7, heads = i == 0 ? 4 : 8;
    CHECK(stage.parameter_count() ==
          4 * h + 4 * h * h + 4 * h + window_offsets * heads + 2 * h * 4 * h + 4 * h + h);
    for (const auto& sample : stage.time_samples()) CHECK(sample.seq_len() == tokens);
    REQUIRE(stage.activations_size() == 3);  // plain TP only
    for (const auto& a : stage.activations()) {
      CHECK(a.sp() == v1::SEQUENCE_PARALLEL_NONE);
      CHECK(a.checkpoint_bytes_per_sample() == tokens * h * 4);
    }
  }
  auto plan = PlanFrom(model, *list);
  INFO(plan.status().message());
  REQUIRE(plan.ok());
  CHECK_FALSE(plan->prediction().analytic_estimate());
  for (const v1::LayerStrategy& l : plan->layers()) CHECK(l.sp() == v1::SEQUENCE_PARALLEL_NONE);
}

TEST_CASE("The profiler flags timings taken on a busy machine", "[profiler]") {
  const v1::ModelSpec model = Model("gpt-tiny");
  ProfilerOptions options = Quick();
  options.micro_batches = {1, 2};
  options.tp_degrees = {1};
  options.repeats = 3;
  // The spread cannot decide (any spread passes); the load does.
  options.noise.spread_threshold = 1e9;
  options.noise.accept_noisy = false;
  options.noise.max_remeasure = 2;

  SECTION("a busy machine: every timing measured three times, then flagged") {
    auto busy = std::make_shared<FixedLoad>(0.9);
    options.load_source = busy;
    auto list = ProfileModel(model, options);
    REQUIRE(list.ok());
    CHECK(busy->windows() == 2 * 3);  // block and embedding/head, 3 attempts each
    for (const v1::ComputeProfile& p : list->profiles()) {
      INFO(p.layer_type());
      CHECK(ValidateComputeProfile(p).ok());
      REQUIRE(p.has_quality());
      CHECK(p.quality().noisy());
      CHECK(p.quality().load() == Approx(0.9));
      CHECK(p.quality().attempts() == 3);
      REQUIRE(p.quality().noisy_measurements_size() == 1);
      CHECK_THAT(p.quality().noisy_measurements(0),
                 Catch::Contains(p.layer_type() + ": forward/backward s=") &&
                     Catch::Contains("load 0.90 (threshold 0.25) after 3 attempts"));
      CHECK(p.time_samples_size() == 2);
    }
  }
  SECTION("--accept-noisy: measured once, still flagged") {
    auto busy = std::make_shared<FixedLoad>(0.9);
    options.load_source = busy;
    options.noise.accept_noisy = true;
    auto list = ProfileModel(model, options);
    REQUIRE(list.ok());
    CHECK(busy->windows() == 2);
    for (const v1::ComputeProfile& p : list->profiles()) {
      CHECK(p.quality().noisy());
      CHECK(p.quality().attempts() == 1);
    }
  }
  SECTION("a quiet machine: measured once, not flagged") {
    auto quiet = std::make_shared<FixedLoad>(0.01);
    options.load_source = quiet;
    auto list = ProfileModel(model, options);
    REQUIRE(list.ok());
    CHECK(quiet->windows() == 2);
    for (const v1::ComputeProfile& p : list->profiles()) {
      CHECK_FALSE(p.quality().noisy());
      CHECK(p.quality().attempts() == 1);
      CHECK(p.quality().load() == Approx(0.01));
      CHECK(p.quality().note().empty());
    }
  }
}

TEST_CASE("Profiler options and budgets are checked", "[profiler]") {
  const v1::ModelSpec model = Model("gpt-tiny");
  ProfilerOptions options = Quick();
  options.micro_batches = {1, 0};
  auto bad = ProfileModel(model, options);
  REQUIRE(absl::IsInvalidArgument(bad.status()));
  CHECK_THAT(std::string(bad.status().message()), Catch::Contains("--micro-batches: 0"));

  options = Quick();
  options.time_budget_seconds = 1e-6;
  auto late = ProfileModel(model, options);
  REQUIRE(absl::IsDeadlineExceeded(late.status()));
  CHECK_THAT(std::string(late.status().message()),
             Catch::Contains("time budget") && Catch::Contains("gpt_decoder"));

  options = Quick();
  options.noise.load_threshold = 0;
  auto no_threshold = ProfileModel(model, options);
  REQUIRE(absl::IsInvalidArgument(no_threshold.status()));
  CHECK_THAT(std::string(no_threshold.status().message()), Catch::Contains("--load-threshold: 0"));

  v1::ModelSpec t5 = model;
  t5.mutable_layers(0)->set_kind(v1::LAYER_KIND_T5_ENCODER);
  CHECK(absl::IsUnimplemented(ProfileModel(t5, Quick()).status()));
}

TEST_CASE("galvatron-worker profile writes validated profiles and its progress", "[profiler]") {
  testing::TempDir dir;
  testing::CommandResult r = testing::RunCommand(
      {testing::BinDir() + "/galvatron-worker", "--log-level", "warn", "profile", "--model",
       "llama-tiny", "--cluster", "lab", "--out", dir.File("out.json"), "--progress-file",
       dir.File("progress.json"), "--threads", "1", "--repeats", "2", "--device", "cpu",
       "--accept-noisy"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  v1::ComputeProfileList list;
  REQUIRE(ReadJsonFile(dir.File("out.json"), &list).ok());
  REQUIRE(list.profiles_size() == 2);
  for (const auto& p : list.profiles()) {
    CHECK(ValidateComputeProfile(p).ok());
    // Measured once each (--accept-noisy), noisy or not: the record is there.
    REQUIRE(p.has_quality());
    CHECK(p.quality().attempts() == 1);
    CHECK(p.quality().noisy() == (p.quality().noisy_measurements_size() > 0));
  }
  CHECK(list.profiles(0).cluster() == "lab");
  auto progress = ReadProgressFile(dir.File("progress.json"));
  REQUIRE(progress.ok());
  CHECK(progress->fraction == 1.0);

  // The file imports as it is.
  testing::PlannerProcess planner(dir.File("planner.db"), dir.path());
  testing::CommandResult imported =
      testing::RunCommand({testing::BinDir() + "/galvatron", "--planner", planner.address(),
                           "profiles", "import", dir.File("out.json")});
  INFO(imported.err);
  CHECK(imported.exit_code == 0);
  CHECK_THAT(imported.out, Catch::Contains("llama_decoder") && Catch::Contains("embedding_head") &&
                               Catch::Contains("on lab"));

  r = testing::RunCommand({testing::BinDir() + "/galvatron-worker", "profile", "--model",
                           "no-such-model", "--out", dir.File("x.json")});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--model: \"no-such-model\""));
  r = testing::RunCommand({testing::BinDir() + "/galvatron-worker", "profile", "--model",
                           "gpt-tiny", "--out", dir.File("x.json"), "--seq-lens", "64,x"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--seq-lens"));
  r = testing::RunCommand({testing::BinDir() + "/galvatron-worker", "profile", "--model",
                           "gpt-tiny", "--out", dir.File("x.json"), "--noise-threshold=-1"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--noise-threshold: -1"));
}

}  // namespace galvatron::profiler
