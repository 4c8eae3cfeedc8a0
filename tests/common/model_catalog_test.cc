#include "common/model_catalog.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/json_file.h"
#include "common/model_validation.h"
#include "tests/support/test_support.h"

namespace galvatron {
namespace {

// Published hyper-parameters of one uniform stack (per group for T5).
struct Expected {
  std::string name;
  v1::ModelFamily family;
  int groups;
  int layers_per_group;
  int hidden;
  int heads;
  int kv_heads;  // 0: = heads
  int head_dim;  // 0: hidden / heads
  int ffn_hidden;
  int vocab_size;
  int seq_len;
  bool tied;
  bool bias;
  v1::Precision precision;
  int decoder_seq = 0;  // T5: the decoder groups' seq_len (0: the model's)
};

const std::vector<Expected>& ExpectedModels() {
  constexpr auto kBf16 = v1::PRECISION_BF16_MIXED;
  constexpr auto kFp32 = v1::PRECISION_FP32;
  static const std::vector<Expected> models = {
      {"bert-base", v1::MODEL_FAMILY_BERT, 1, 12, 768, 12, 0, 0, 3072, 30522, 512, true, true,
       kBf16},
      {"bert-large", v1::MODEL_FAMILY_BERT, 1, 24, 1024, 16, 0, 0, 4096, 30522, 512, true, true,
       kBf16},
      {"gpt-tiny", v1::MODEL_FAMILY_GPT, 1, 4, 64, 4, 0, 0, 256, 512, 64, true, true, kFp32},
      {"gpt2-large", v1::MODEL_FAMILY_GPT, 1, 36, 1280, 20, 0, 0, 5120, 50257, 1024, true, true,
       kBf16},
      {"gpt2-medium", v1::MODEL_FAMILY_GPT, 1, 24, 1024, 16, 0, 0, 4096, 50257, 1024, true, true,
       kBf16},
      {"gpt2-small", v1::MODEL_FAMILY_GPT, 1, 12, 768, 12, 0, 0, 3072, 50257, 1024, true, true,
       kBf16},
      {"gpt2-xl", v1::MODEL_FAMILY_GPT, 1, 48, 1600, 25, 0, 0, 6400, 50257, 1024, true, true,
       kBf16},
      {"llama-tiny", v1::MODEL_FAMILY_LLAMA, 1, 4, 64, 4, 2, 0, 172, 512, 64, false, false, kFp32},
      {"llama2-13b", v1::MODEL_FAMILY_LLAMA, 1, 40, 5120, 40, 40, 0, 13824, 32000, 4096, false,
       false, kBf16},
      {"llama2-70b", v1::MODEL_FAMILY_LLAMA, 1, 80, 8192, 64, 8, 0, 28672, 32000, 4096, false,
       false, kBf16},
      {"llama2-7b", v1::MODEL_FAMILY_LLAMA, 1, 32, 4096, 32, 32, 0, 11008, 32000, 4096, false,
       false, kBf16},
      {"llama3-70b", v1::MODEL_FAMILY_LLAMA, 1, 80, 8192, 64, 8, 0, 28672, 128256, 8192, false,
       false, kBf16},
      {"llama3-8b", v1::MODEL_FAMILY_LLAMA, 1, 32, 4096, 32, 8, 0, 14336, 128256, 8192, false,
       false, kBf16},
      // Swin: the first stage's sizes (the stages are checked below).
      {"swin-base", v1::MODEL_FAMILY_SWIN, 4, 2, 128, 4, 0, 0, 512, 0, 3136, false, true, kBf16},
      {"swin-large", v1::MODEL_FAMILY_SWIN, 4, 2, 192, 6, 0, 0, 768, 0, 3136, false, true, kBf16},
      {"swin-small", v1::MODEL_FAMILY_SWIN, 4, 2, 96, 3, 0, 0, 384, 0, 3136, false, true, kBf16},
      {"swin-test", v1::MODEL_FAMILY_SWIN, 2, 2, 64, 4, 0, 0, 256, 0, 64, false, true, kFp32},
      {"swin-tiny", v1::MODEL_FAMILY_SWIN, 4, 2, 96, 3, 0, 0, 384, 0, 3136, false, true, kBf16},
      {"t5-3b", v1::MODEL_FAMILY_T5, 2, 24, 1024, 32, 0, 128, 16384, 32128, 512, true, false, kBf16,
       114},
      {"t5-base", v1::MODEL_FAMILY_T5, 2, 12, 768, 12, 0, 64, 3072, 32128, 512, true, false, kBf16,
       114},
      {"t5-large", v1::MODEL_FAMILY_T5, 2, 24, 1024, 16, 0, 64, 4096, 32128, 512, true, false,
       kBf16, 114},
      {"t5-test", v1::MODEL_FAMILY_T5, 2, 2, 64, 4, 0, 0, 256, 512, 32, true, false, kFp32, 8},
      // T5 v1.1: gated-GELU FFN (checked below), untied head.
      {"t5-v1.1-base", v1::MODEL_FAMILY_T5, 2, 12, 768, 12, 0, 64, 2048, 32128, 512, false, false,
       kBf16, 114},
      {"t5-v1.1-large", v1::MODEL_FAMILY_T5, 2, 24, 1024, 16, 0, 64, 2816, 32128, 512, false, false,
       kBf16, 114},
      {"t5-v1.1-xl", v1::MODEL_FAMILY_T5, 2, 24, 2048, 32, 0, 64, 5120, 32128, 512, false, false,
       kBf16, 114},
      {"vit-base", v1::MODEL_FAMILY_VIT, 1, 12, 768, 12, 0, 0, 3072, 0, 197, false, true, kBf16},
      {"vit-huge", v1::MODEL_FAMILY_VIT, 1, 32, 1280, 16, 0, 0, 5120, 0, 257, false, true, kBf16},
      {"vit-large", v1::MODEL_FAMILY_VIT, 1, 24, 1024, 16, 0, 0, 4096, 0, 197, false, true, kBf16},
      {"vit-test", v1::MODEL_FAMILY_VIT, 1, 4, 64, 4, 0, 0, 256, 0, 17, false, true, kFp32},
      {"vit-tiny", v1::MODEL_FAMILY_VIT, 1, 12, 192, 3, 0, 0, 768, 0, 197, false, true, kBf16},
  };
  return models;
}

TEST_CASE("catalog names are the expected lower-case names, sorted") {
  std::vector<std::string> expected;
  for (const Expected& e : ExpectedModels()) expected.push_back(e.name);
  CHECK(CatalogModelNames() == expected);  // ExpectedModels() is in sorted order
}

TEST_CASE("every catalog model validates and is marked builtin") {
  for (const std::string& name : CatalogModelNames()) {
    INFO(name);
    auto spec = CatalogModel(name);
    REQUIRE(spec.has_value());
    CHECK(ValidateModelSpec(*spec).ok());
    CHECK(ValidateModelSpec(*spec).message() == "");
    CHECK(spec->name() == name);
    CHECK(spec->builtin());
    CHECK(spec->version() == 0);
    CHECK(!spec->description().empty());
    CHECK(spec->description().find('\n') == std::string::npos);
    CHECK(spec->optimizer().kind() == v1::OPTIMIZER_KIND_ADAMW);
    CHECK(spec->optimizer().learning_rate() > 0);
    CHECK(spec->optimizer().beta1() == 0.9);
    // Swin's reference config clips at 5.0; the others' published setting is 1.0.
    const bool swin = name.rfind("swin-", 0) == 0 && name != "swin-test";
    CHECK(spec->optimizer().grad_clip_norm() == (swin ? 5.0 : 1.0));
  }
}

TEST_CASE("catalog models carry their published hyper-parameters") {
  for (const Expected& e : ExpectedModels()) {
    INFO(e.name);
    auto spec = CatalogModel(e.name);
    REQUIRE(spec.has_value());
    CHECK(spec->family() == e.family);
    CHECK(spec->vocab_size() == e.vocab_size);
    CHECK(spec->seq_len() == e.seq_len);
    CHECK(spec->tie_embeddings() == e.tied);
    CHECK(spec->precision() == e.precision);
    REQUIRE(spec->layers_size() == e.groups);
    if (e.family == v1::MODEL_FAMILY_SWIN) continue;  // stages differ: below
    for (const v1::LayerGroup& g : spec->layers()) {
      CHECK(g.count() == e.layers_per_group);
      CHECK(g.hidden() == e.hidden);
      CHECK(g.heads() == e.heads);
      CHECK(g.kv_heads() == e.kv_heads);
      CHECK(g.head_dim() == e.head_dim);
      CHECK(g.ffn_hidden() == e.ffn_hidden);
      CHECK(g.bias() == e.bias);
      const bool decoder = g.kind() == v1::LAYER_KIND_T5_DECODER;
      CHECK(g.seq_len() == (decoder ? e.decoder_seq : 0));  // 0: the model's
      const bool gated = e.name.rfind("t5-v1.1", 0) == 0;
      CHECK((g.t5().ffn() == v1::T5LayerOptions::FFN_GATED_GELU) == gated);
    }
  }
}

TEST_CASE("Swin stages double the width and halve the grid, merging patches between") {
  // Swin-B (Liu et al. 2021, Table 1): C = 128, depths 2-2-18-2, heads 4-8-16-32.
  const v1::ModelSpec swin = *CatalogModel("swin-base");
  const int depths[] = {2, 2, 18, 2}, heads[] = {4, 8, 16, 32};
  for (int i = 0; i < 4; ++i) {
    INFO("stage " << i);
    const v1::LayerGroup& g = swin.layers(i);
    CHECK(g.kind() == v1::LAYER_KIND_SWIN_BLOCK);
    CHECK(g.count() == depths[i]);
    CHECK(g.hidden() == 128 << i);
    CHECK(g.heads() == heads[i]);
    CHECK(g.ffn_hidden() == 4 * g.hidden());
    CHECK(g.seq_len() == (56 >> i) * (56 >> i));
    CHECK(g.swin().window() == 7);
    CHECK(g.swin().merge_patches() == (i > 0));
  }
  CHECK(swin.vision().patch_size() == 4);
  CHECK_FALSE(swin.vision().class_token());
  CHECK(swin.vision().num_classes() == 1000);
}

TEST_CASE("catalog layer kinds follow the family") {
  CHECK(CatalogModel("gpt2-xl")->layers(0).kind() == v1::LAYER_KIND_GPT_DECODER);
  CHECK(CatalogModel("llama3-8b")->layers(0).kind() == v1::LAYER_KIND_LLAMA_DECODER);
  CHECK(CatalogModel("bert-large")->layers(0).kind() == v1::LAYER_KIND_BERT_ENCODER);
  CHECK(CatalogModel("vit-huge")->layers(0).kind() == v1::LAYER_KIND_VIT_ENCODER);
  auto t5 = CatalogModel("t5-large");
  CHECK(t5->layers(0).kind() == v1::LAYER_KIND_T5_ENCODER);
  CHECK(t5->layers(1).kind() == v1::LAYER_KIND_T5_DECODER);
}

TEST_CASE("catalog head dimensions") {
  // GPT-2 XL: 1600 / 25 = 64; Llama 2 70B: 8192 / 64 = 128 with 8 KV heads;
  // T5-3B: 32 heads of 128 over d_model 1024 (inner width 4096).
  auto xl = CatalogModel("gpt2-xl");
  CHECK(xl->layers(0).hidden() / xl->layers(0).heads() == 64);
  auto l70 = CatalogModel("llama2-70b");
  CHECK(l70->layers(0).hidden() / l70->layers(0).heads() == 128);
  auto t5 = CatalogModel("t5-3b");
  CHECK(t5->layers(0).heads() * t5->layers(0).head_dim() == 4096);
}

TEST_CASE("catalog vision models: 224x224 images, class token, 1000 classes") {
  for (const char* name : {"vit-tiny", "vit-base", "vit-large", "vit-huge"}) {
    INFO(name);
    auto spec = CatalogModel(name);
    REQUIRE(spec.has_value());
    const v1::VisionSpec& v = spec->vision();
    CHECK(v.image_size() == 224);
    CHECK(v.channels() == 3);
    CHECK(v.class_token());
    CHECK(v.num_classes() == 1000);
    const int side = v.image_size() / v.patch_size();
    CHECK(spec->seq_len() == side * side + 1);
  }
  CHECK(CatalogModel("vit-base")->vision().patch_size() == 16);
  CHECK(CatalogModel("vit-large")->vision().patch_size() == 16);
  CHECK(CatalogModel("vit-huge")->vision().patch_size() == 14);
  CHECK(CatalogModel("vit-tiny")->vision().patch_size() == 16);
  // The test-sized ViT: 16x16 images in 4x4 patches, 10 classes.
  const v1::VisionSpec& small = CatalogModel("vit-test")->vision();
  CHECK(small.image_size() == 16);
  CHECK(small.patch_size() == 4);
  CHECK(small.num_classes() == 10);
}

TEST_CASE("catalog text models have no vision spec") {
  for (const char* name : {"gpt2-small", "llama2-7b", "bert-base", "t5-base"}) {
    INFO(name);
    CHECK(!CatalogModel(name)->has_vision());
  }
}

TEST_CASE("unknown or differently-cased names are not in the catalog") {
  CHECK(!CatalogModel("gpt3").has_value());
  CHECK(!CatalogModel("GPT2-SMALL").has_value());
  CHECK(!CatalogModel("").has_value());
  CHECK(!CatalogModel("gpt2-small ").has_value());
}

TEST_CASE("CatalogModel returns an independent copy") {
  auto a = CatalogModel("gpt2-small");
  a->set_vocab_size(1);
  CHECK(CatalogModel("gpt2-small")->vocab_size() == 50257);
}

TEST_CASE("A model argument is a file if one exists, else a catalog name") {
  testing::TempDir dir;
  v1::ModelSpec spec = *CatalogModel("gpt-tiny");
  spec.set_name("my-gpt");
  spec.set_builtin(false);
  REQUIRE(WriteTextFile(dir.File("my.json"), MessageToJson(spec)).ok());

  auto from_file = LoadModelArgument(dir.File("my.json"));
  REQUIRE(from_file.ok());
  CHECK(from_file->name() == "my-gpt");

  auto from_catalog = LoadModelArgument("gpt-tiny");
  REQUIRE(from_catalog.ok());
  CHECK(from_catalog->builtin());

  auto unknown = LoadModelArgument("no-such-model", "--model");
  CHECK(unknown.status().code() == absl::StatusCode::kNotFound);
  CHECK_THAT(
      std::string(unknown.status().message()),
      Catch::StartsWith("--model: \"no-such-model\" is neither a file nor a built-in model") &&
          Catch::Contains("gpt-tiny"));

  CHECK(LoadModelArgument("").status().code() == absl::StatusCode::kInvalidArgument);

  REQUIRE(WriteTextFile(dir.File("bad.json"), "{\"name\": \"x\", \"layers\": 3}").ok());
  auto bad = LoadModelArgument(dir.File("bad.json"), "--spec");
  CHECK(bad.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(bad.status().message()),
             Catch::StartsWith("--spec " + dir.File("bad.json")));

  spec.clear_layers();
  REQUIRE(WriteTextFile(dir.File("invalid.json"), MessageToJson(spec)).ok());
  auto invalid = LoadModelArgument(dir.File("invalid.json"));
  CHECK(invalid.status().code() == absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace galvatron
