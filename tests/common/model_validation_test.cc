#include "common/model_validation.h"

#include <catch2/catch.hpp>

#include <limits>
#include <string>

#include "common/model_catalog.h"

namespace galvatron {
namespace {

// "OK", or the INVALID_ARGUMENT message; any other code fails the test.
std::string ErrorOf(const absl::Status& status) {
  if (status.ok()) return "OK";
  CHECK(status.code() == absl::StatusCode::kInvalidArgument);
  return std::string(status.message());
}

v1::ModelSpec Catalog(const std::string& name) {
  auto spec = CatalogModel(name);
  REQUIRE(spec.has_value());
  return *spec;
}

v1::LayerGroup CustomGroup() {
  v1::LayerGroup g;
  g.set_kind(v1::LAYER_KIND_GPT_DECODER);
  g.set_count(2);
  g.set_hidden(256);
  g.set_ffn_hidden(1024);
  g.set_heads(8);
  return g;
}

// A CUSTOM model of three groups, so errors in layers[2] can be tested.
v1::ModelSpec Custom() {
  v1::ModelSpec spec;
  spec.set_name("my-model_v1.2");
  spec.set_family(v1::MODEL_FAMILY_CUSTOM);
  spec.set_vocab_size(1000);
  spec.set_seq_len(128);
  *spec.add_layers() = CustomGroup();
  v1::LayerGroup llama = CustomGroup();
  llama.set_kind(v1::LAYER_KIND_LLAMA_DECODER);
  llama.set_heads(32);
  llama.set_hidden(4096);
  *spec.add_layers() = llama;
  v1::LayerGroup bert = CustomGroup();
  bert.set_kind(v1::LAYER_KIND_BERT_ENCODER);
  *spec.add_layers() = bert;
  return spec;
}

TEST_CASE("valid specs pass") {
  CHECK(ErrorOf(ValidateModelSpec(Custom())) == "OK");
  CHECK(ErrorOf(ValidateModelSpec(Catalog("llama2-70b"))) == "OK");
}

TEST_CASE("output-only fields are ignored") {
  v1::ModelSpec spec = Catalog("gpt2-small");
  spec.set_version(-7);
  spec.set_builtin(false);
  spec.mutable_created_at()->set_seconds(-1);
  CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
}

TEST_CASE("ValidateName") {
  for (const char* good : {"a", "0", "gpt2-small", "a.b_c-d", "llama3-8b"}) {
    INFO(good);
    CHECK(ErrorOf(ValidateName("name", good)) == "OK");
  }
  CHECK(ErrorOf(ValidateName("name", std::string(64, 'x'))) == "OK");
  const std::string rule = "must be 1-64 characters of [a-z0-9._-] starting with a letter or digit";
  CHECK(ErrorOf(ValidateName("name", "Bad Name")) == "name: \"Bad Name\", " + rule);
  CHECK(ErrorOf(ValidateName("name", "")) == "name: \"\", " + rule);
  CHECK(ErrorOf(ValidateName("cluster", "-lab")) == "cluster: \"-lab\", " + rule);
  CHECK(ErrorOf(ValidateName("cluster", ".lab")) == "cluster: \".lab\", " + rule);
  CHECK(ErrorOf(ValidateName("cluster", "la/b")) == "cluster: \"la/b\", " + rule);
  CHECK(ErrorOf(ValidateName("cluster", "a\nb")) == "cluster: \"a\\nb\", " + rule);
  CHECK(ErrorOf(ValidateName("name", std::string(65, 'x'))) ==
        "name: \"" + std::string(65, 'x') + "\", " + rule);
  // Absurdly long values are cut short in the message.
  const std::string huge(1000, 'Q');
  CHECK(ErrorOf(ValidateName("name", huge)) ==
        "name: \"" + std::string(80, 'Q') + "...\" (1000 characters), " + rule);
}

TEST_CASE("model-level fields") {
  v1::ModelSpec spec = Catalog("gpt2-small");
  SECTION("name") {
    spec.set_name("Bad Name");
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "name: \"Bad Name\", must be 1-64 characters of [a-z0-9._-] starting with a "
          "letter or digit");
  }
  SECTION("description length") {
    spec.set_description(std::string(4096, 'd'));
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
    spec.set_description(std::string(4097, 'd'));
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "description: 4097 bytes, must be <= 4096 bytes");
  }
  SECTION("family") {
    spec.set_family(v1::MODEL_FAMILY_UNSPECIFIED);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "family: MODEL_FAMILY_UNSPECIFIED, must be set");
    spec.set_family(static_cast<v1::ModelFamily>(42));
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "family: 42, must be one of MODEL_FAMILY_UNSPECIFIED, MODEL_FAMILY_GPT, "
          "MODEL_FAMILY_LLAMA, MODEL_FAMILY_BERT, MODEL_FAMILY_T5, MODEL_FAMILY_VIT, "
          "MODEL_FAMILY_SWIN, MODEL_FAMILY_CUSTOM");
  }
  SECTION("precision: unspecified means bf16 mixed, unknown numbers fail") {
    spec.set_precision(v1::PRECISION_UNSPECIFIED);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
    spec.set_precision(v1::PRECISION_FP64);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
    spec.set_precision(static_cast<v1::Precision>(9));
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "precision: 9, must be one of PRECISION_UNSPECIFIED, PRECISION_FP32, "
          "PRECISION_BF16_MIXED, PRECISION_FP16_MIXED, PRECISION_FP64");
  }
  SECTION("vocab_size") {
    spec.set_vocab_size(0);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "vocab_size: 0, must be >= 1 for family MODEL_FAMILY_GPT");
    spec.set_vocab_size(-1);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "vocab_size: -1, must be >= 0");
    spec.set_vocab_size(4194305);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "vocab_size: 4194305, must be <= 4194304");
  }
  SECTION("seq_len") {
    spec.set_seq_len(-1);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "seq_len: -1, must be >= 0");
    spec.set_seq_len(4194305);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "seq_len: 4194305, must be <= 4194304");
    spec.set_seq_len(0);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "layers[0].seq_len: 0, must be >= 1 when the model's seq_len is 0");
    spec.mutable_layers(0)->set_seq_len(2048);  // every group has its own
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
  }
  SECTION("vision on a text family") {
    spec.mutable_vision()->set_image_size(224);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "vision: set, must be unset for family MODEL_FAMILY_GPT");
  }
}

TEST_CASE("optimizer") {
  v1::ModelSpec spec = Catalog("llama2-7b");
  v1::OptimizerSpec* o = spec.mutable_optimizer();
  SECTION("all zero is fine (defaults)") {
    o->Clear();
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
  }
  SECTION("negative values") {
    o->set_learning_rate(-1);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "optimizer.learning_rate: -1, must be >= 0");
  }
  SECTION("weight decay") {
    o->set_weight_decay(-0.5);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "optimizer.weight_decay: -0.5, must be >= 0");
  }
  SECTION("non-finite") {
    o->set_epsilon(std::numeric_limits<double>::infinity());
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "optimizer.epsilon: inf, must be finite");
  }
  SECTION("betas") {
    o->set_beta1(1);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "optimizer.beta1: 1, must be in [0, 1)");
    o->set_beta1(0.9);
    o->set_beta2(-0.1);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "optimizer.beta2: -0.1, must be in [0, 1)");
  }
  SECTION("warm-up and clip") {
    o->set_grad_clip_norm(-2);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "optimizer.grad_clip_norm: -2, must be >= 0");
    o->set_grad_clip_norm(0);
    o->set_warmup_steps(-5);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "optimizer.warmup_steps: -5, must be >= 0");
  }
  SECTION("kind") {
    o->set_kind(v1::OPTIMIZER_KIND_SGD);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
    o->set_kind(static_cast<v1::OptimizerKind>(7));
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "optimizer.kind: 7, must be one of OPTIMIZER_KIND_UNSPECIFIED, OPTIMIZER_KIND_ADAMW, "
          "OPTIMIZER_KIND_ADAM, OPTIMIZER_KIND_SGD");
  }
}

TEST_CASE("layer groups: list-level checks") {
  v1::ModelSpec spec = Custom();
  SECTION("empty") {
    spec.clear_layers();
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers: empty, must have at least one layer group");
  }
  SECTION("too many groups") {
    spec.clear_layers();
    for (int i = 0; i < 65; ++i) *spec.add_layers() = CustomGroup();
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers: 65 groups, must be <= 64");
  }
  SECTION("too many layers in total") {
    spec.mutable_layers(0)->set_count(4000);
    spec.mutable_layers(2)->set_count(96);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers: 4098 layers in total, must be <= 4096");
    spec.mutable_layers(2)->set_count(94);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
  }
  SECTION("one group too large") {
    spec.mutable_layers(1)->set_count(5000);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers[1].count: 5000, must be <= 4096");
  }
}

TEST_CASE("layer groups: field checks") {
  v1::ModelSpec spec = Custom();
  v1::LayerGroup* g0 = spec.mutable_layers(0);
  v1::LayerGroup* g1 = spec.mutable_layers(1);
  v1::LayerGroup* g2 = spec.mutable_layers(2);
  SECTION("heads") {
    g2->set_heads(0);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers[2].heads: 0, must be >= 1");
    g2->set_heads(1025);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers[2].heads: 1025, must be <= 1024");
  }
  SECTION("hidden divisible by heads unless head_dim is set") {
    g0->set_hidden(100);
    g0->set_heads(12);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "layers[0].hidden: 100, must be divisible by layers[0].heads (12)");
    g0->set_head_dim(64);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
  }
  SECTION("hidden limits") {
    g0->set_hidden(1000000);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers[0].hidden: 1000000, must be <= 131072");
    g0->set_hidden(0);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers[0].hidden: 0, must be >= 1");
  }
  SECTION("kv_heads must divide heads") {
    g1->set_kv_heads(5);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "layers[1].kv_heads: 5, must divide layers[1].heads (32)");
    g1->set_kv_heads(64);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "layers[1].kv_heads: 64, must divide layers[1].heads (32)");
    g1->set_kv_heads(-1);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers[1].kv_heads: -1, must be >= 0");
    g1->set_kv_heads(8);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
    g1->set_kv_heads(1);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
  }
  SECTION("ffn_hidden and count") {
    g1->set_ffn_hidden(0);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers[1].ffn_hidden: 0, must be >= 1");
    g1->set_ffn_hidden(1048577);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers[1].ffn_hidden: 1048577, must be <= 1048576");
    g1->set_ffn_hidden(10);
    g1->set_count(0);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers[1].count: 0, must be >= 1");
  }
  SECTION("head_dim") {
    g0->set_head_dim(-4);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers[0].head_dim: -4, must be >= 0");
  }
  SECTION("rotary embeddings need an even head dimension") {
    g1->set_hidden(32 * 17);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "layers[1].hidden: 544, must give an even head dimension (layers[1].hidden / "
          "layers[1].heads = 17) for LAYER_KIND_LLAMA_DECODER (rotary embeddings)");
    g1->set_head_dim(33);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "layers[1].head_dim: 33, must be even for LAYER_KIND_LLAMA_DECODER (rotary "
          "embeddings)");
    g1->set_head_dim(32);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
  }
  SECTION("group seq_len") {
    g2->set_seq_len(-3);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers[2].seq_len: -3, must be >= 0");
    g2->set_seq_len(4194305);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers[2].seq_len: 4194305, must be <= 4194304");
  }
  SECTION("kind must be set and known") {
    g2->set_kind(v1::LAYER_KIND_UNSPECIFIED);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "layers[2].kind: LAYER_KIND_UNSPECIFIED, must be set");
    g2->set_kind(static_cast<v1::LayerKind>(99));
    CHECK(ErrorOf(ValidateModelSpec(spec)).rfind("layers[2].kind: 99, must be one of ", 0) == 0);
  }
}

TEST_CASE("layer kinds must fit the family") {
  SECTION("custom takes any kind") { CHECK(ErrorOf(ValidateModelSpec(Custom())) == "OK"); }
  SECTION("llama") {
    v1::ModelSpec spec = Catalog("llama2-7b");
    spec.mutable_layers(0)->set_kind(v1::LAYER_KIND_GPT_DECODER);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "layers[0].kind: LAYER_KIND_GPT_DECODER, must be LAYER_KIND_LLAMA_DECODER for family "
          "MODEL_FAMILY_LLAMA");
  }
  SECTION("t5") {
    v1::ModelSpec spec = Catalog("t5-base");
    spec.mutable_layers(1)->set_kind(v1::LAYER_KIND_BERT_ENCODER);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "layers[1].kind: LAYER_KIND_BERT_ENCODER, must be LAYER_KIND_T5_ENCODER or "
          "LAYER_KIND_T5_DECODER for family MODEL_FAMILY_T5");
  }
  SECTION("gpt, bert, vit") {
    v1::ModelSpec gpt = Catalog("gpt2-small");
    gpt.mutable_layers(0)->set_kind(v1::LAYER_KIND_LLAMA_DECODER);
    CHECK(ErrorOf(ValidateModelSpec(gpt)) ==
          "layers[0].kind: LAYER_KIND_LLAMA_DECODER, must be LAYER_KIND_GPT_DECODER for family "
          "MODEL_FAMILY_GPT");
    v1::ModelSpec bert = Catalog("bert-base");
    bert.mutable_layers(0)->set_kind(v1::LAYER_KIND_VIT_ENCODER);
    CHECK(ErrorOf(ValidateModelSpec(bert)) ==
          "layers[0].kind: LAYER_KIND_VIT_ENCODER, must be LAYER_KIND_BERT_ENCODER for family "
          "MODEL_FAMILY_BERT");
    v1::ModelSpec vit = Catalog("vit-base");
    vit.mutable_layers(0)->set_kind(v1::LAYER_KIND_SWIN_BLOCK);
    CHECK(ErrorOf(ValidateModelSpec(vit)) ==
          "layers[0].kind: LAYER_KIND_SWIN_BLOCK, must be LAYER_KIND_VIT_ENCODER for family "
          "MODEL_FAMILY_VIT");
  }
}

TEST_CASE("T5 options belong to T5 blocks and are checked") {
  v1::ModelSpec spec = Catalog("t5-base");
  CHECK(ErrorOf(ValidateModelSpec(Catalog("t5-v1.1-xl"))) == "OK");
  v1::T5LayerOptions* t5 = spec.mutable_layers(1)->mutable_t5();
  t5->set_relative_buckets(7);
  CHECK(ErrorOf(ValidateModelSpec(spec)) ==
        "layers[1].t5.relative_buckets: 7, must be 0 (32) or an even number >= 4");
  t5->set_relative_buckets(64);
  t5->set_relative_max_distance(32);
  CHECK(ErrorOf(ValidateModelSpec(spec)) ==
        "layers[1].t5.relative_max_distance: 32, must be 0 (128) or > relative_buckets / 2 (32)");
  t5->set_relative_max_distance(33);
  CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
  t5->set_ffn(static_cast<v1::T5LayerOptions::Ffn>(9));
  CHECK(ErrorOf(ValidateModelSpec(spec)).rfind("layers[1].t5.ffn: 9, must be one of ", 0) == 0);
  v1::ModelSpec gpt = Catalog("gpt2-small");
  gpt.mutable_layers(0)->mutable_t5()->set_ffn(v1::T5LayerOptions::FFN_RELU);
  CHECK(ErrorOf(ValidateModelSpec(gpt)) ==
        "layers[0].t5: set, must be unset for kind LAYER_KIND_GPT_DECODER");
}

TEST_CASE("Swin options belong to Swin blocks and are checked") {
  v1::ModelSpec spec = Catalog("swin-tiny");
  CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
  spec.mutable_layers(0)->mutable_swin()->set_shift(7);
  CHECK(ErrorOf(ValidateModelSpec(spec)) == "layers[0].swin.shift: 7, must be <= 6");
  v1::ModelSpec vit = Catalog("vit-base");
  vit.mutable_layers(0)->mutable_swin()->set_window(7);
  CHECK(ErrorOf(ValidateModelSpec(vit)) ==
        "layers[0].swin: set, must be unset for kind LAYER_KIND_VIT_ENCODER");
}

TEST_CASE("vision models") {
  v1::ModelSpec spec = Catalog("vit-base");
  SECTION("no vocabulary needed") {
    CHECK(spec.vocab_size() == 0);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
  }
  SECTION("tied embeddings need a vocabulary") {
    spec.set_tie_embeddings(true);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "tie_embeddings: true, must be false when vocab_size is 0");
  }
  SECTION("vision spec required") {
    spec.clear_vision();
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "vision.image_size: 0, must be >= 1");
  }
  SECTION("patch size") {
    spec.mutable_vision()->set_patch_size(0);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "vision.patch_size: 0, must be >= 1");
    spec.mutable_vision()->set_patch_size(300);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "vision.patch_size: 300, must be <= 224");
  }
  SECTION("image divisible by patch") {
    spec.mutable_vision()->set_image_size(225);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "vision.image_size: 225, must be divisible by vision.patch_size (16)");
  }
  SECTION("seq_len must match the patch grid") {
    spec.set_seq_len(196);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "seq_len: 196, must equal (vision.image_size / vision.patch_size)^2 + 1 = 197");
    spec.mutable_vision()->set_class_token(false);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "OK");
    spec.mutable_layers(0)->set_seq_len(197);
    CHECK(ErrorOf(ValidateModelSpec(spec)) ==
          "layers[0].seq_len: 197, must equal (vision.image_size / vision.patch_size)^2 = 196");
  }
  SECTION("channels and classes") {
    spec.mutable_vision()->set_channels(-1);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "vision.channels: -1, must be >= 0");
    spec.mutable_vision()->set_channels(3);
    spec.mutable_vision()->set_num_classes(-1);
    CHECK(ErrorOf(ValidateModelSpec(spec)) == "vision.num_classes: -1, must be >= 0");
  }
  SECTION("custom models may carry a vision spec, checked the same way") {
    v1::ModelSpec custom = Custom();
    custom.mutable_vision()->set_image_size(32);
    custom.mutable_vision()->set_patch_size(5);
    CHECK(ErrorOf(ValidateModelSpec(custom)) ==
          "vision.image_size: 32, must be divisible by vision.patch_size (5)");
    custom.mutable_vision()->set_patch_size(4);
    CHECK(ErrorOf(ValidateModelSpec(custom)) == "OK");
  }
}

TEST_CASE("every catalog model validates") {
  for (const std::string& name : CatalogModelNames()) {
    INFO(name);
    CHECK(ErrorOf(ValidateModelSpec(*CatalogModel(name))) == "OK");
  }
}

}  // namespace
}  // namespace galvatron
