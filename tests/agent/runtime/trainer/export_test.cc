// A trained model as Hugging Face safetensors, both ways: `galvatron-worker
// export` from a 4-rank run's sharded checkpoint and train's --export-out
// (the slices gathered to rank 0 over Gloo). Each file's tensors, under HF's
// names and layouts (worked out here from HF's conventions: GPT-2's fused,
// transposed Conv1D weights; LLaMA's projections as they are), equal the
// parameters of a single-process run of the same steps in float64; the
// files follow the safetensors layout (their headers parsed here with
// nlohmann's JSON); and what cannot be exported is refused plainly.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "common/json_file.h"
#include "nlohmann/json.hpp"
#include "tests/agent/runtime/trainer/train_support.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

using testing::CommandResult;
using testing::kDdp;
using testing::kMegatron;
using testing::kNone;
using testing::kUlysses;
using testing::kZero3;
using testing::PlanShape;
using testing::RunCommand;
using testing::Worker;
using testing::WritePlan;

constexpr int kSteps = 3;

struct Tensor {
  std::vector<int64_t> shape;
  std::vector<double> values;  // row-major
};
using Tensors = std::map<std::string, Tensor>;

// A world-of-one --dump-parameters file: every parameter whole, by our name.
Tensors ReadDump(const std::string& path) {
  Tensors tensors;
  std::ifstream in(path);
  REQUIRE(in.good());
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string name;
    size_t dims = 0;
    int dim = 0;
    int64_t start = 0, count = 0;
    Tensor t;
    fields >> name >> dims;
    t.shape.resize(dims);
    for (int64_t& d : t.shape) fields >> d;
    fields >> dim >> start >> count;
    REQUIRE(dim == -1);
    t.values.resize(static_cast<size_t>(count));
    for (double& v : t.values) fields >> v;
    REQUIRE(fields);
    tensors[name] = std::move(t);
  }
  return tensors;
}

uint64_t LittleEndian(const std::string& bytes, size_t at, int width) {
  uint64_t v = 0;
  for (int b = width - 1; b >= 0; --b) {
    v = (v << 8) | static_cast<unsigned char>(bytes[at + static_cast<size_t>(b)]);
  }
  return v;
}

struct SafetensorsFile {
  std::map<std::string, std::string> metadata;
  Tensors tensors;
  std::map<std::string, std::string> dtypes;
};

// Parses a safetensors file, checking its layout on the way: the header
// length, the JSON and its space padding to 8 bytes, each tensor's dtype and
// byte range (shape × element size, in bounds, aligned), the ranges tiling
// the data without holes; values decoded as little-endian.
SafetensorsFile ReadSafetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  const std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(file.size() >= 8);
  const uint64_t n = LittleEndian(file, 0, 8);
  REQUIRE(n % 8 == 0);
  REQUIRE(8 + n <= file.size());
  const std::string header = file.substr(8, n);
  REQUIRE(header.front() == '{');
  const size_t close = header.find_last_of('}');
  CHECK(header.find_first_not_of(' ', close + 1) == std::string::npos);
  const nlohmann::json json = nlohmann::json::parse(header.substr(0, close + 1));
  const std::string data = file.substr(8 + n);
  const std::map<std::string, int> widths = {{"F64", 8}, {"F32", 4}, {"BF16", 2}, {"F16", 2}};
  SafetensorsFile out;
  std::vector<std::tuple<uint64_t, uint64_t, std::string>> ranges;
  for (const auto& [name, value] : json.items()) {
    if (name == "__metadata__") {
      for (const auto& [k, v] : value.items()) out.metadata[k] = v.get<std::string>();
      continue;
    }
    INFO(name);
    const std::string dtype = value.at("dtype").get<std::string>();
    REQUIRE(widths.count(dtype) == 1);
    const int width = widths.at(dtype);
    Tensor t;
    t.shape = value.at("shape").get<std::vector<int64_t>>();
    const auto offsets = value.at("data_offsets").get<std::vector<uint64_t>>();
    REQUIRE(offsets.size() == 2);
    int64_t elements = 1;
    for (const int64_t d : t.shape) elements *= d;
    REQUIRE(offsets[1] - offsets[0] == static_cast<uint64_t>(elements * width));
    REQUIRE(offsets[1] <= data.size());
    CHECK((8 + n + offsets[0]) % static_cast<uint64_t>(width) == 0);
    ranges.emplace_back(offsets[0], offsets[1], name);
    REQUIRE(dtype != "F16");  // not decoded here
    for (int64_t i = 0; i < elements; ++i) {
      const uint64_t bits =
          LittleEndian(data, offsets[0] + static_cast<uint64_t>(i * width), width);
      double v = 0;
      if (dtype == "F64") {
        std::memcpy(&v, &bits, 8);
      } else {
        float f = 0;
        const uint32_t b32 = dtype == "F32" ? static_cast<uint32_t>(bits)
                                            : static_cast<uint32_t>(bits << 16);  // BF16
        std::memcpy(&f, &b32, 4);
        v = f;
      }
      t.values.push_back(v);
    }
    out.dtypes[name] = dtype;
    out.tensors[name] = std::move(t);
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t at = 0;
  for (const auto& [begin, end, name] : ranges) {
    INFO(name);
    CHECK(begin == at);
    at = end;
  }
  CHECK(at == data.size());
  return out;
}

const Tensor& Get(const Tensors& ours, const std::string& name) {
  INFO(name);
  auto it = ours.find(name);
  REQUIRE(it != ours.end());
  return it->second;
}

// An [in, out] matrix whose column c is row c of the [out, in] matrices
// `parts` stacked: GPT-2's Conv1D layout.
Tensor Conv1d(const std::vector<const Tensor*>& parts) {
  const int64_t in = parts[0]->shape[1];
  int64_t out = 0;
  for (const Tensor* p : parts) out += p->shape[0];
  Tensor t;
  t.shape = {in, out};
  t.values.resize(static_cast<size_t>(in * out));
  int64_t column = 0;
  for (const Tensor* p : parts) {
    for (int64_t c = 0; c < p->shape[0]; ++c, ++column) {
      for (int64_t r = 0; r < in; ++r) {
        t.values[static_cast<size_t>(r * out + column)] =
            p->values[static_cast<size_t>(c * in + r)];
      }
    }
  }
  return t;
}

Tensor Concat(const std::vector<const Tensor*>& parts) {
  Tensor t;
  for (const Tensor* p : parts) t.values.insert(t.values.end(), p->values.begin(), p->values.end());
  t.shape = {static_cast<int64_t>(t.values.size())};
  return t;
}

// What HF's GPT2LMHeadModel holds for our single-process parameters (tied
// embeddings: no lm_head).
Tensors ExpectedGpt2(const Tensors& ours, int layers) {
  Tensors hf;
  hf["transformer.wte.weight"] = Get(ours, "embedding.tokens.weight");
  hf["transformer.wpe.weight"] = Get(ours, "embedding.positions.weight");
  for (int i = 0; i < layers; ++i) {
    const std::string o = "layer" + std::to_string(i) + ".";
    const std::string h = "transformer.h." + std::to_string(i) + ".";
    auto get = [&](const std::string& name) { return &Get(ours, o + name); };
    hf[h + "ln_1.weight"] = *get("ln1.weight");
    hf[h + "ln_1.bias"] = *get("ln1.bias");
    hf[h + "ln_2.weight"] = *get("ln2.weight");
    hf[h + "ln_2.bias"] = *get("ln2.bias");
    hf[h + "attn.c_attn.weight"] = Conv1d({get("q.weight"), get("k.weight"), get("v.weight")});
    hf[h + "attn.c_attn.bias"] = Concat({get("q.bias"), get("k.bias"), get("v.bias")});
    hf[h + "attn.c_proj.weight"] = Conv1d({get("o.weight")});
    hf[h + "attn.c_proj.bias"] = *get("o_bias");
    hf[h + "mlp.c_fc.weight"] = Conv1d({get("up.weight")});
    hf[h + "mlp.c_fc.bias"] = *get("up.bias");
    hf[h + "mlp.c_proj.weight"] = Conv1d({get("down.weight")});
    hf[h + "mlp.c_proj.bias"] = *get("down_bias");
  }
  hf["transformer.ln_f.weight"] = Get(ours, "embedding.final_ln.weight");
  hf["transformer.ln_f.bias"] = Get(ours, "embedding.final_ln.bias");
  return hf;
}

// What HF's LlamaForCausalLM holds (untied head; no biases).
Tensors ExpectedLlama(const Tensors& ours, int layers) {
  Tensors hf;
  hf["model.embed_tokens.weight"] = Get(ours, "embedding.tokens.weight");
  for (int i = 0; i < layers; ++i) {
    const std::string o = "layer" + std::to_string(i) + ".";
    const std::string h = "model.layers." + std::to_string(i) + ".";
    hf[h + "input_layernorm.weight"] = Get(ours, o + "rms1");
    hf[h + "post_attention_layernorm.weight"] = Get(ours, o + "rms2");
    for (const char* p : {"q", "k", "v", "o"}) {
      hf[h + "self_attn." + p + "_proj.weight"] = Get(ours, o + p + ".weight");
    }
    for (const char* p : {"gate", "up", "down"}) {
      hf[h + "mlp." + p + "_proj.weight"] = Get(ours, o + p + ".weight");
    }
  }
  hf["model.norm.weight"] = Get(ours, "embedding.final_rms");
  hf["lm_head.weight"] = Get(ours, "embedding.head.weight");
  return hf;
}

// The file holds exactly the expected tensors, equal up to float64 rounding.
void CheckEqual(const Tensors& expected, const SafetensorsFile& file) {
  std::vector<std::string> want, got;
  for (const auto& entry : expected) want.push_back(entry.first);
  for (const auto& entry : file.tensors) got.push_back(entry.first);
  CHECK(got == want);
  for (const auto& [name, e] : expected) {
    INFO(name);
    auto it = file.tensors.find(name);
    if (it == file.tensors.end()) continue;  // reported above
    CHECK(file.dtypes.at(name) == "F64");
    REQUIRE(it->second.shape == e.shape);
    REQUIRE(it->second.values.size() == e.values.size());
    double worst = 0;
    for (size_t i = 0; i < e.values.size(); ++i) {
      worst = std::max(worst, std::abs(e.values[i] - it->second.values[i]) /
                                  std::max(std::abs(e.values[i]), 1e-6));
    }
    CHECK(worst <= 1e-6);
  }
}

CommandResult Run(const std::vector<std::string>& argv) {
  return RunCommand(argv, std::chrono::seconds(180));
}

// Trains kSteps float64 steps on `nproc` ranks (1: no launcher).
void Train(int nproc, const std::string& plan, const std::string& model,
           const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {Worker()};
  if (nproc > 1) argv.insert(argv.end(), {"launch", "--nproc", std::to_string(nproc), "--"});
  argv.insert(argv.end(),
              {"train", "--plan", plan, "--model", model, "--steps", std::to_string(kSteps),
               "--dtype", "float64", "--threads", "1", "--log-level", "warn"});
  argv.insert(argv.end(), extra.begin(), extra.end());
  const CommandResult r = Run(argv);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

// Trains `model` on one process and with `shape` on its ranks (checkpoint
// and --export-out), exports the checkpoint, and checks both files against
// the single-process parameters.
void CheckBothWays(const std::string& model, const PlanShape& shape,
                   const std::function<Tensors(const Tensors&)>& expected, nlohmann::json* config) {
  testing::TempDir dir;
  Train(1, WritePlan(dir, "single.json", PlanShape()), model,
        {"--dump-parameters", dir.File("single.txt")});
  const Tensors want = expected(ReadDump(dir.File("single.txt")));
  const std::string plan = WritePlan(dir, "hybrid.json", shape);
  Train(shape.world, plan, model,
        {"--checkpoint-dir", dir.File("ckpt"), "--export-out", dir.File("gathered.safetensors")});
  const CommandResult r =
      Run({Worker(), "export", "--checkpoint", dir.File("ckpt"), "--plan", plan, "--model", model,
           "--out", dir.File("exported.safetensors"), "--config-out", dir.File("config.json")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const SafetensorsFile gathered = ReadSafetensors(dir.File("gathered.safetensors"));
  const SafetensorsFile exported = ReadSafetensors(dir.File("exported.safetensors"));
  {
    INFO("--export-out");
    CheckEqual(want, gathered);
  }
  {
    INFO("export from the checkpoint");
    CheckEqual(want, exported);
  }
  // Both ways read the same values.
  for (const auto& [name, t] : gathered.tensors) {
    INFO(name);
    auto it = exported.tensors.find(name);
    REQUIRE(it != exported.tensors.end());
    CHECK(it->second.values == t.values);
  }
  // The metadata: what from_pretrained needs, and the config also written beside.
  CHECK(exported.metadata.at("format") == "pt");
  CHECK(gathered.metadata.at("format") == "pt");
  *config = nlohmann::json::parse(exported.metadata.at("galvatron.config"));
  CHECK(nlohmann::json::parse(ReadTextFile(dir.File("config.json")).value()) == *config);
  CHECK(nlohmann::json::parse(gathered.metadata.at("galvatron.config")) == *config);
}

}  // namespace

TEST_CASE("GPT-2 with tp 2 and pp 2 exports as HF's GPT2LMHeadModel", "[runtime][export]") {
  PlanShape s;
  s.world = 4;
  s.pp = 2;  // the tied table on both ends
  s.layers = std::vector<testing::Layer>(4, {2, kNone, kDdp, false});
  s.embedding = {2, kNone, kDdp, false};  // vocab-parallel
  nlohmann::json config;
  CheckBothWays(
      "gpt-tiny", s, [](const Tensors& ours) { return ExpectedGpt2(ours, 4); }, &config);
  CHECK(config.at("model_type") == "gpt2");
  CHECK(config.at("architectures") == nlohmann::json::array({"GPT2LMHeadModel"}));
  CHECK(config.at("n_layer") == 4);
  CHECK(config.at("n_embd") == 64);
  CHECK(config.at("n_head") == 4);
  CHECK(config.at("n_inner") == 256);
  CHECK(config.at("vocab_size") == 512);
  CHECK(config.at("n_positions") == 64);
  CHECK(config.at("activation_function") == "gelu");  // exact GELU, as our MLP
  CHECK(config.at("layer_norm_epsilon") == 1e-5);
  CHECK(config.at("tie_word_embeddings") == true);
  CHECK(config.at("torch_dtype") == "float64");
}

TEST_CASE("LLaMA with ZeRO-3 (and tp, SP, Ulysses) exports as HF's LlamaForCausalLM",
          "[runtime][export]") {
  PlanShape s;
  s.world = 4;
  s.layers = {{2, kNone, kZero3, false},
              {2, kMegatron, kZero3, true},
              {1, kNone, kZero3, false},
              {2, kUlysses, kZero3, false}};
  s.embedding = {2, kNone, kZero3, false};
  nlohmann::json config;
  CheckBothWays(
      "llama-tiny", s, [](const Tensors& ours) { return ExpectedLlama(ours, 4); }, &config);
  CHECK(config.at("model_type") == "llama");
  CHECK(config.at("num_hidden_layers") == 4);
  CHECK(config.at("hidden_size") == 64);
  CHECK(config.at("intermediate_size") == 172);
  CHECK(config.at("num_attention_heads") == 4);
  CHECK(config.at("num_key_value_heads") == 2);
  CHECK(config.at("head_dim") == 16);
  CHECK(config.at("rms_norm_eps") == 1e-5);  // ours, not LlamaConfig's 1e-6
  CHECK(config.at("rope_theta") == 10000.0);
  CHECK(config.at("tie_word_embeddings") == false);
  CHECK(config.at("attention_bias") == false);
}

TEST_CASE("Export refuses what it cannot write, plainly", "[runtime][export]") {
  testing::TempDir dir;
  const std::string bert = dir.File("bert-tiny.json");
  REQUIRE(WriteTextFile(bert, R"({"name": "bert-tiny", "family": "MODEL_FAMILY_BERT",
    "layers": [{"kind": "LAYER_KIND_BERT_ENCODER", "count": 2, "hidden": 64, "ffnHidden": 256,
                "heads": 4, "bias": true}],
    "vocabSize": 512, "seqLen": 64, "precision": "PRECISION_FP32", "tieEmbeddings": true,
    "optimizer": {"kind": "OPTIMIZER_KIND_ADAMW", "learningRate": 0.001}})")
              .ok());
  const std::string one = WritePlan(dir, "one.json", PlanShape());
  // Another family: before any checkpoint is read, and before a run trains.
  CommandResult r = Run({Worker(), "export", "--checkpoint", dir.File("none"), "--plan", one,
                         "--model", bert, "--out", dir.File("x.safetensors")});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("MODEL_FAMILY_BERT") && Catch::Contains("GPT-2") &&
                        Catch::Contains("LLaMA"));
  r = Run({Worker(), "train", "--plan", one, "--model", bert, "--steps", "1", "--export-out",
           dir.File("x.safetensors")});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("--export-out") && Catch::Contains("MODEL_FAMILY_BERT"));
  CHECK_FALSE(std::ifstream(dir.File("x.safetensors")).good());

  // A 2-rank checkpoint: a missing step, and a plan for another world.
  PlanShape dp2;
  dp2.world = 2;
  const std::string plan = WritePlan(dir, "dp2.json", dp2);
  Train(2, plan, "gpt-tiny", {"--checkpoint-dir", dir.File("ckpt")});
  r = Run({Worker(), "export", "--checkpoint", dir.File("ckpt"), "--plan", plan, "--model",
           "gpt-tiny", "--out", dir.File("x.safetensors"), "--step", "7"});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("step 7"));
  r = Run({Worker(), "export", "--checkpoint", dir.File("ckpt"), "--plan", one, "--model",
           "gpt-tiny", "--out", dir.File("x.safetensors")});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("2 ranks"));
  // The right plan in bfloat16: the same tensors, rounded.
  r = Run({Worker(), "export", "--checkpoint", dir.File("ckpt"), "--plan", plan, "--model",
           "gpt-tiny", "--out", dir.File("bf16.safetensors"), "--dtype", "bfloat16"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const SafetensorsFile bf16 = ReadSafetensors(dir.File("bf16.safetensors"));
  CHECK(bf16.dtypes.at("transformer.h.0.attn.c_attn.weight") == "BF16");
  CHECK(bf16.tensors.size() == 4 * 12 + 4);
}

}  // namespace galvatron
