// agent/runtime/export: which models export maps, and how our tensors become
// Hugging Face's (names, transposed and fused GPT-2 Conv1D weights, zero
// biases where our layers have none, LLaMA's biases), with the notes that
// say where HF needs our config to compute the same.
#include "agent/runtime/export/hf_export.h"

#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "common/model_catalog.h"

namespace galvatron::runtime {
namespace {

v1::ModelSpec Spec(v1::ModelFamily family, v1::LayerKind kind, bool bias, bool tied,
                   int head_dim = 0) {
  v1::ModelSpec m;
  m.set_name("small");
  m.set_family(family);
  m.set_vocab_size(10);
  m.set_seq_len(6);
  m.set_tie_embeddings(tied);
  v1::LayerGroup* g = m.add_layers();
  g->set_kind(kind);
  g->set_count(2);
  g->set_hidden(4);
  g->set_ffn_hidden(8);
  g->set_heads(2);
  g->set_head_dim(head_dim);
  g->set_bias(bias);
  return m;
}

// Distinct values per tensor, so that any mix-up shows.
torch::Tensor Values(std::vector<int64_t> shape, double base) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return (torch::arange(n, torch::kFloat64) + base).reshape(shape);
}

std::map<std::string, torch::Tensor> Gpt2Tensors(bool untied) {
  std::map<std::string, torch::Tensor> t;
  double base = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    t[name] = Values(shape, base);
    base += 1000;
  };
  add("embedding.tokens.weight", {10, 4});
  add("embedding.positions.weight", {6, 4});
  for (const char* l : {"layer0.", "layer1."}) {
    for (const char* n : {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias"}) {
      add(std::string(l) + n, {4});
    }
    for (const char* n : {"q.weight", "k.weight", "v.weight", "o.weight"}) {
      add(std::string(l) + n, {4, 4});
    }
    add(std::string(l) + "up.weight", {8, 4});
    add(std::string(l) + "down.weight", {4, 8});
  }
  add("embedding.final_ln.weight", {4});
  add("embedding.final_ln.bias", {4});
  if (untied) add("embedding.head.weight", {10, 4});
  return t;
}

std::map<std::string, torch::Tensor> ByName(const HfModel& hf) {
  std::map<std::string, torch::Tensor> m;
  for (const auto& [name, t] : hf.tensors) m[name] = t;
  return m;
}

TEST_CASE("Only GPT-2 and LLaMA models export", "[export]") {
  CHECK(CheckExportable(*LoadModelArgument("gpt-tiny")).ok());
  CHECK(CheckExportable(*LoadModelArgument("llama-tiny")).ok());
  v1::ModelSpec bert = Spec(v1::MODEL_FAMILY_BERT, v1::LAYER_KIND_BERT_ENCODER, true, true);
  absl::Status s = CheckExportable(bert);
  CHECK(s.code() == absl::StatusCode::kUnimplemented);
  CHECK_THAT(std::string(s.message()), Catch::Contains("MODEL_FAMILY_BERT"));
  v1::ModelSpec gqa = Spec(v1::MODEL_FAMILY_GPT, v1::LAYER_KIND_GPT_DECODER, true, true);
  gqa.mutable_layers(0)->set_kv_heads(1);
  CHECK_THAT(std::string(CheckExportable(gqa).message()), Catch::Contains("grouped-query"));
  v1::ModelSpec mixed = Spec(v1::MODEL_FAMILY_LLAMA, v1::LAYER_KIND_LLAMA_DECODER, false, false);
  *mixed.add_layers() = mixed.layers(0);
  mixed.mutable_layers(1)->set_ffn_hidden(16);
  CHECK_THAT(std::string(CheckExportable(mixed).message()), Catch::Contains("layers[1]"));
  v1::ModelSpec wrong_kind = Spec(v1::MODEL_FAMILY_GPT, v1::LAYER_KIND_LLAMA_DECODER, true, true);
  CHECK(CheckExportable(wrong_kind).code() == absl::StatusCode::kUnimplemented);
}

TEST_CASE("GPT-2: Conv1D weights transposed, q k v fused, zero biases", "[export]") {
  const v1::ModelSpec model = Spec(v1::MODEL_FAMILY_GPT, v1::LAYER_KIND_GPT_DECODER,
                                   /*bias=*/false, /*tied=*/false);
  const auto ours = Gpt2Tensors(/*untied=*/true);
  absl::StatusOr<HfModel> hf = ToHuggingFace(model, ours, torch::kFloat32);
  REQUIRE(hf.ok());
  CHECK(hf->architecture == "GPT2LMHeadModel");
  const auto t = ByName(*hf);
  CHECK(t.size() == 2 * 12 + 5);  // 12 per layer; wte, wpe, ln_f (2), lm_head
  const torch::Tensor c_attn = t.at("transformer.h.1.attn.c_attn.weight");
  CHECK(c_attn.sizes() == at::IntArrayRef({4, 12}));
  CHECK(c_attn.scalar_type() == torch::kFloat32);
  for (int64_t r = 0; r < 4; ++r) {
    for (int64_t c = 0; c < 12; ++c) {
      const char* part = c < 4 ? "layer1.q.weight" : c < 8 ? "layer1.k.weight" : "layer1.v.weight";
      CHECK(c_attn[r][c].item<double>() == ours.at(part)[c % 4][r].item<double>());
    }
  }
  CHECK(torch::equal(t.at("transformer.h.0.mlp.c_fc.weight"),
                     ours.at("layer0.up.weight").t().to(torch::kFloat32)));
  CHECK(torch::equal(t.at("transformer.h.0.mlp.c_proj.weight"),
                     ours.at("layer0.down.weight").t().to(torch::kFloat32)));
  CHECK(torch::equal(t.at("transformer.h.0.attn.c_proj.weight"),
                     ours.at("layer0.o.weight").t().to(torch::kFloat32)));
  CHECK(t.at("transformer.h.0.attn.c_attn.bias").abs().sum().item<double>() == 0);
  CHECK(t.at("transformer.h.0.mlp.c_fc.bias").sizes() == at::IntArrayRef({8}));
  CHECK(torch::equal(t.at("lm_head.weight"), ours.at("embedding.head.weight").to(torch::kFloat32)));
  for (const auto& [name, tensor] : hf->tensors) CHECK(tensor.is_contiguous());
  std::string notes;
  for (const std::string& n : hf->notes) notes += n + "\n";
  CHECK_THAT(notes, Catch::Contains("zeros") && Catch::Contains("gelu_new"));
  CHECK_THAT(hf->config_json, Catch::Contains("\"activation_function\": \"gelu\""));

  // Tied: no lm_head.
  v1::ModelSpec tied = model;
  tied.set_tie_embeddings(true);
  hf = ToHuggingFace(tied, Gpt2Tensors(false), torch::kFloat64);
  REQUIRE(hf.ok());
  CHECK(ByName(*hf).count("lm_head.weight") == 0);
}

TEST_CASE("Missing or misshapen tensors are named", "[export]") {
  const v1::ModelSpec model = Spec(v1::MODEL_FAMILY_GPT, v1::LAYER_KIND_GPT_DECODER, false, false);
  auto ours = Gpt2Tensors(true);
  ours.erase("layer1.k.weight");
  absl::StatusOr<HfModel> hf = ToHuggingFace(model, ours, torch::kFloat32);
  CHECK(hf.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(hf.status().message()), Catch::Contains("layer1.k.weight"));
  ours = Gpt2Tensors(true);
  ours["layer0.up.weight"] = torch::zeros({4, 8}, torch::kFloat64);
  hf = ToHuggingFace(model, ours, torch::kFloat32);
  CHECK_THAT(std::string(hf.status().message()), Catch::Contains("layer0.up.weight: shape"));
  CHECK(ToHuggingFace(model, Gpt2Tensors(true), torch::kInt64).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

TEST_CASE("LLaMA: projections as they are, biases when the layers have them", "[export]") {
  // head_dim 3 ≠ hidden / heads: q is [6, 4].
  const v1::ModelSpec model =
      Spec(v1::MODEL_FAMILY_LLAMA, v1::LAYER_KIND_LLAMA_DECODER, /*bias=*/true, /*tied=*/true, 3);
  std::map<std::string, torch::Tensor> ours;
  double base = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    ours[name] = Values(shape, base);
    base += 1000;
  };
  add("embedding.tokens.weight", {10, 4});
  for (const char* l : {"layer0.", "layer1."}) {
    const std::string p = l;
    add(p + "rms1", {4});
    add(p + "rms2", {4});
    add(p + "q.weight", {6, 4});
    add(p + "k.weight", {6, 4});
    add(p + "v.weight", {6, 4});
    add(p + "o.weight", {4, 6});
    add(p + "gate.weight", {8, 4});
    add(p + "up.weight", {8, 4});
    add(p + "down.weight", {4, 8});
    add(p + "q.bias", {6});
    add(p + "k.bias", {6});
    add(p + "v.bias", {6});
    add(p + "o_bias", {4});
    add(p + "gate.bias", {8});
    add(p + "up.bias", {8});
    add(p + "down_bias", {4});
  }
  add("embedding.final_rms", {4});
  absl::StatusOr<HfModel> hf = ToHuggingFace(model, ours, torch::kBFloat16);
  REQUIRE(hf.ok());
  const auto t = ByName(*hf);
  CHECK(t.size() == 2 * 16 + 2);  // tied: embed_tokens and norm, no lm_head
  CHECK(torch::equal(t.at("model.layers.1.self_attn.q_proj.weight"),
                     ours.at("layer1.q.weight").to(torch::kBFloat16)));
  CHECK(torch::equal(t.at("model.layers.0.self_attn.o_proj.bias"),
                     ours.at("layer0.o_bias").to(torch::kBFloat16)));
  CHECK(torch::equal(t.at("model.layers.0.mlp.down_proj.bias"),
                     ours.at("layer0.down_bias").to(torch::kBFloat16)));
  CHECK(torch::equal(t.at("model.layers.1.post_attention_layernorm.weight"),
                     ours.at("layer1.rms2").to(torch::kBFloat16)));
  std::string notes;
  for (const std::string& n : hf->notes) notes += n + "\n";
  CHECK_THAT(notes, Catch::Contains("rms_norm_eps") && Catch::Contains("head_dim 3") &&
                        Catch::Contains("mlp_bias") && Catch::Contains("float32"));
  CHECK_THAT(hf->config_json, Catch::Contains("\"head_dim\": 3") &&
                                  Catch::Contains("\"attention_bias\": true") &&
                                  Catch::Contains("\"torch_dtype\": \"bfloat16\""));
}

}  // namespace
}  // namespace galvatron::runtime
