#include "common/layer_type.h"

#include <catch2/catch.hpp>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "common/model_catalog.h"

namespace galvatron {
namespace {

v1::ModelSpec Catalog(const std::string& name) {
  auto spec = CatalogModel(name);
  REQUIRE(spec.has_value());
  return *spec;
}

TEST_CASE("layer keys of catalog models") {
  CHECK(LayerTypeKey(Catalog("llama2-7b"), 0) ==
        "llama_decoder:h4096:f11008:a32:kv32:d128:s4096:nobias:bf16");
  CHECK(LayerTypeKey(Catalog("llama3-70b"), 0) ==
        "llama_decoder:h8192:f28672:a64:kv8:d128:s8192:nobias:bf16");
  CHECK(LayerTypeKey(Catalog("gpt2-small"), 0) ==
        "gpt_decoder:h768:f3072:a12:kv12:d64:s1024:bias:bf16");
  CHECK(LayerTypeKey(Catalog("gpt-tiny"), 0) == "gpt_decoder:h64:f256:a4:kv4:d16:s64:bias:fp32");
  CHECK(LayerTypeKey(Catalog("bert-base"), 0) ==
        "bert_encoder:h768:f3072:a12:kv12:d64:s512:bias:bf16");
  CHECK(LayerTypeKey(Catalog("vit-huge"), 0) ==
        "vit_encoder:h1280:f5120:a16:kv16:d80:s257:bias:bf16");
  // Swin: one type per stage, with its window.
  CHECK(LayerTypeKey(Catalog("swin-tiny"), 0) ==
        "swin_block:h96:f384:a3:kv3:d32:s3136:w7:bias:bf16");
  CHECK(LayerTypeKey(Catalog("swin-tiny"), 3) ==
        "swin_block:h768:f3072:a24:kv24:d32:s49:w7:bias:bf16");
  // The decoder's cross-attention cost depends on the encoder's length.
  v1::ModelSpec t5 = Catalog("t5-3b");
  CHECK(LayerTypeKey(t5, 0) == "t5_encoder:h1024:f16384:a32:kv32:d128:s512:nobias:bf16");
  CHECK(LayerTypeKey(t5, 1) == "t5_decoder:h1024:f16384:a32:kv32:d128:s114:x512:nobias:bf16");
  // T5 options other than v1.0's defaults are part of the key.
  CHECK(LayerTypeKey(Catalog("t5-v1.1-base"), 0) ==
        "t5_encoder:h768:f2048:a12:kv12:d64:s512:geglu:nobias:bf16");
  t5.mutable_layers(0)->mutable_t5()->set_relative_buckets(64);
  t5.mutable_layers(0)->mutable_t5()->set_relative_max_distance(256);
  CHECK(LayerTypeKey(t5, 0) == "t5_encoder:h1024:f16384:a32:kv32:d128:s512:rb64:rd256:nobias:bf16");
  t5.mutable_layers(0)->mutable_t5()->set_relative_buckets(32);  // the default, written out
  t5.mutable_layers(0)->mutable_t5()->set_relative_max_distance(0);
  CHECK(LayerTypeKey(t5, 0) == "t5_encoder:h1024:f16384:a32:kv32:d128:s512:nobias:bf16");
}

TEST_CASE("embedding keys of catalog models") {
  CHECK(EmbeddingTypeKey(Catalog("gpt2-small")) ==
        "embedding_head:gpt:v50257:h768:s1024:tied:bf16");
  CHECK(EmbeddingTypeKey(Catalog("llama3-8b")) ==
        "embedding_head:llama:v128256:h4096:s8192:untied:bf16");
  CHECK(EmbeddingTypeKey(Catalog("t5-base")) ==
        "embedding_head:t5:v32128:h768:s512:so114:tied:bf16");
  CHECK(EmbeddingTypeKey(Catalog("vit-base")) ==
        "embedding_head:vit:v0:h768:s197:i224:p16:c3:n1000:cls:untied:bf16");
}

TEST_CASE("out-of-range group index gives an empty key") {
  v1::ModelSpec spec = Catalog("gpt2-small");
  CHECK(LayerTypeKey(spec, -1).empty());
  CHECK(LayerTypeKey(spec, 1).empty());
}

TEST_CASE("defaults resolve to the same key as explicit values") {
  v1::ModelSpec implicit = Catalog("gpt2-medium");
  v1::ModelSpec explicit_values = implicit;
  v1::LayerGroup* g = explicit_values.mutable_layers(0);
  g->set_kv_heads(16);
  g->set_head_dim(64);
  g->set_seq_len(1024);
  CHECK(LayerTypeKey(implicit, 0) == LayerTypeKey(explicit_values, 0));

  v1::ModelSpec unspecified = implicit;
  unspecified.set_precision(v1::PRECISION_UNSPECIFIED);  // means bf16 mixed
  CHECK(LayerTypeKey(unspecified, 0) == LayerTypeKey(implicit, 0));
  CHECK(EmbeddingTypeKey(unspecified) == EmbeddingTypeKey(implicit));
}

TEST_CASE("fields that do not change a layer's cost do not change its key") {
  v1::ModelSpec a = Catalog("llama2-7b");
  v1::ModelSpec b = a;
  b.set_name("my-llama");
  b.set_description("another");
  b.set_vocab_size(1000);
  b.set_tie_embeddings(true);
  b.mutable_optimizer()->set_learning_rate(1);
  b.mutable_layers(0)->set_count(3);
  b.set_family(v1::MODEL_FAMILY_CUSTOM);
  CHECK(LayerTypeKey(a, 0) == LayerTypeKey(b, 0));
  CHECK(EmbeddingTypeKey(a) != EmbeddingTypeKey(b));
}

TEST_CASE("every cost field changes the layer key") {
  const v1::ModelSpec base = Catalog("llama2-7b");
  using Mutation = std::function<void(v1::ModelSpec*)>;
  const std::vector<std::pair<std::string, Mutation>> mutations = {
      {"kind",
       [](v1::ModelSpec* s) { s->mutable_layers(0)->set_kind(v1::LAYER_KIND_GPT_DECODER); }},
      {"hidden", [](v1::ModelSpec* s) { s->mutable_layers(0)->set_hidden(4160); }},
      {"ffn", [](v1::ModelSpec* s) { s->mutable_layers(0)->set_ffn_hidden(11264); }},
      {"heads", [](v1::ModelSpec* s) { s->mutable_layers(0)->set_heads(64); }},
      {"kv heads", [](v1::ModelSpec* s) { s->mutable_layers(0)->set_kv_heads(8); }},
      {"head dim", [](v1::ModelSpec* s) { s->mutable_layers(0)->set_head_dim(96); }},
      {"group seq", [](v1::ModelSpec* s) { s->mutable_layers(0)->set_seq_len(2048); }},
      {"model seq", [](v1::ModelSpec* s) { s->set_seq_len(8192); }},
      {"bias", [](v1::ModelSpec* s) { s->mutable_layers(0)->set_bias(true); }},
      {"precision fp16", [](v1::ModelSpec* s) { s->set_precision(v1::PRECISION_FP16_MIXED); }},
      {"precision fp32", [](v1::ModelSpec* s) { s->set_precision(v1::PRECISION_FP32); }},
  };
  std::set<std::string> keys = {LayerTypeKey(base, 0)};
  for (const auto& [what, mutate] : mutations) {
    INFO(what);
    v1::ModelSpec changed = base;
    mutate(&changed);
    // Each change gives a key seen neither for the base nor any other change.
    CHECK(keys.insert(LayerTypeKey(changed, 0)).second);
  }
}

TEST_CASE("every cost field changes the embedding key") {
  const v1::ModelSpec base = Catalog("vit-base");
  using Mutation = std::function<void(v1::ModelSpec*)>;
  const std::vector<std::pair<std::string, Mutation>> mutations = {
      {"family", [](v1::ModelSpec* s) { s->set_family(v1::MODEL_FAMILY_CUSTOM); }},
      {"vocab", [](v1::ModelSpec* s) { s->set_vocab_size(10); }},
      {"hidden", [](v1::ModelSpec* s) { s->mutable_layers(0)->set_hidden(1024); }},
      {"seq", [](v1::ModelSpec* s) { s->set_seq_len(577); }},
      {"tied", [](v1::ModelSpec* s) { s->set_tie_embeddings(true); }},
      {"precision", [](v1::ModelSpec* s) { s->set_precision(v1::PRECISION_FP32); }},
      {"image", [](v1::ModelSpec* s) { s->mutable_vision()->set_image_size(384); }},
      {"patch", [](v1::ModelSpec* s) { s->mutable_vision()->set_patch_size(32); }},
      {"channels", [](v1::ModelSpec* s) { s->mutable_vision()->set_channels(1); }},
      {"classes", [](v1::ModelSpec* s) { s->mutable_vision()->set_num_classes(21843); }},
      {"class token", [](v1::ModelSpec* s) { s->mutable_vision()->set_class_token(false); }},
      {"last hidden",
       [](v1::ModelSpec* s) {
         v1::LayerGroup wide = s->layers(0);
         wide.set_hidden(1536);
         *s->add_layers() = wide;
       }},
  };
  std::set<std::string> keys = {EmbeddingTypeKey(base)};
  for (const auto& [what, mutate] : mutations) {
    INFO(what);
    v1::ModelSpec changed = base;
    mutate(&changed);
    CHECK(keys.insert(EmbeddingTypeKey(changed)).second);
  }
}

TEST_CASE("embedding and head widths and lengths are both written when they differ") {
  v1::ModelSpec spec;
  spec.set_name("swin-ish");
  spec.set_family(v1::MODEL_FAMILY_SWIN);
  spec.set_seq_len(0);
  for (int hidden : {96, 192, 384, 768}) {
    v1::LayerGroup* g = spec.add_layers();
    g->set_kind(v1::LAYER_KIND_SWIN_BLOCK);
    g->set_hidden(hidden);
    g->set_seq_len(3136 * 96 * 96 / hidden / hidden);
  }
  spec.mutable_vision()->set_image_size(224);
  spec.mutable_vision()->set_patch_size(4);
  spec.mutable_vision()->set_channels(3);
  spec.mutable_vision()->set_num_classes(1000);
  CHECK(EmbeddingTypeKey(spec) ==
        "embedding_head:swin:v0:h96:ho768:s3136:so49:i224:p4:c3:n1000:nocls:untied:bf16");
}

TEST_CASE("ModelLayerTypeKeys: distinct layer keys in model order, then the embedding") {
  SECTION("one group") {
    v1::ModelSpec spec = Catalog("gpt2-small");
    CHECK(ModelLayerTypeKeys(spec) ==
          std::vector<std::string>{LayerTypeKey(spec, 0), EmbeddingTypeKey(spec)});
  }
  SECTION("t5: encoder, decoder, embedding") {
    v1::ModelSpec spec = Catalog("t5-base");
    CHECK(ModelLayerTypeKeys(spec) == std::vector<std::string>{LayerTypeKey(spec, 0),
                                                               LayerTypeKey(spec, 1),
                                                               EmbeddingTypeKey(spec)});
  }
  SECTION("repeated groups appear once") {
    v1::ModelSpec spec = Catalog("gpt2-small");
    v1::LayerGroup other = spec.layers(0);
    other.set_ffn_hidden(4096);
    *spec.add_layers() = other;
    v1::LayerGroup same = spec.layers(0);
    same.set_count(5);  // count is not a cost field
    *spec.add_layers() = same;
    const std::vector<std::string> keys = ModelLayerTypeKeys(spec);
    REQUIRE(keys.size() == 3);
    CHECK(keys[0] == LayerTypeKey(spec, 0));
    CHECK(keys[1] == LayerTypeKey(spec, 1));
    CHECK(keys[2] == EmbeddingTypeKey(spec));
    CHECK(LayerTypeKey(spec, 2) == keys[0]);
  }
}

TEST_CASE("keys of different catalog models do not collide") {
  // T5-Large and T5-3B differ only inside their blocks: same vocabulary,
  // d_model and length, so one embedding profile serves both.
  CHECK(EmbeddingTypeKey(Catalog("t5-large")) == EmbeddingTypeKey(Catalog("t5-3b")));
  // Swin-S is Swin-T with a deeper third stage: the same four block types
  // and the same embedding/head.
  const v1::ModelSpec tiny = Catalog("swin-tiny"), small = Catalog("swin-small");
  CHECK(EmbeddingTypeKey(tiny) == EmbeddingTypeKey(small));
  for (int i = 0; i < 4; ++i) CHECK(LayerTypeKey(tiny, i) == LayerTypeKey(small, i));
  std::set<std::string> embedding_keys;
  std::set<std::string> layer_keys;
  size_t groups = 0;
  for (const std::string& name : CatalogModelNames()) {
    INFO(name);
    v1::ModelSpec spec = Catalog(name);
    if (name == "swin-small") continue;  // above
    if (name != "t5-3b") CHECK(embedding_keys.insert(EmbeddingTypeKey(spec)).second);
    for (int i = 0; i < spec.layers_size(); ++i) layer_keys.insert(LayerTypeKey(spec, i));
    groups += spec.layers_size();
  }
  CHECK(layer_keys.size() == groups);
}

TEST_CASE("CheckLayerTypeKey takes what the key functions make and nothing path-like") {
  for (const std::string& name : CatalogModelNames()) {
    const auto spec = CatalogModel(name);
    REQUIRE(spec.has_value());
    for (const std::string& key : ModelLayerTypeKeys(*spec)) {
      INFO(key);
      CHECK(CheckLayerTypeKey("layer_type", key).ok());
    }
  }
  CHECK(CheckLayerTypeKey("k", "block").ok());
  CHECK(CheckLayerTypeKey("k", std::string(512, 'k')).ok());
  for (const std::string& bad : std::vector<std::string>{
           "", "../../etc/passwd", "/etc/passwd", "..", ".", "a/b", "gpt decoder", "Gpt", "a::b",
           ":a", "a:", "a\nb", std::string(513, 'k')}) {
    INFO(bad);
    const absl::Status status = CheckLayerTypeKey("layer_type", bad);
    CHECK(status.code() == absl::StatusCode::kInvalidArgument);
    CHECK_THAT(std::string(status.message()), Catch::StartsWith("layer_type: "));
  }
}

}  // namespace
}  // namespace galvatron
