#include "common/model_catalog.h"

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json_file.h"
#include "common/model_validation.h"

namespace galvatron {
namespace {

// Optimizer settings as published for each model's pre-training run (where the
// model was trained with something the enum lacks, the nearest AdamW setting
// and the reason are noted at the call).
struct AdamWSettings {
  double learning_rate;
  double weight_decay;
  double beta1;
  double beta2;
  double epsilon;
  double grad_clip_norm;
  int64_t warmup_steps;
};

v1::OptimizerSpec AdamW(const AdamWSettings& s) {
  v1::OptimizerSpec o;
  o.set_kind(v1::OPTIMIZER_KIND_ADAMW);
  o.set_learning_rate(s.learning_rate);
  o.set_weight_decay(s.weight_decay);
  o.set_beta1(s.beta1);
  o.set_beta2(s.beta2);
  o.set_epsilon(s.epsilon);
  o.set_grad_clip_norm(s.grad_clip_norm);
  o.set_warmup_steps(s.warmup_steps);
  return o;
}

// The sizes of one uniform stack of blocks.
struct Stack {
  int layers;
  int hidden;
  int heads;
  int ffn_hidden;
  int kv_heads = 0;  // 0: = heads
  int head_dim = 0;  // 0: hidden / heads
};

v1::LayerGroup Group(v1::LayerKind kind, const Stack& s, bool bias) {
  v1::LayerGroup g;
  g.set_kind(kind);
  g.set_count(s.layers);
  g.set_hidden(s.hidden);
  g.set_ffn_hidden(s.ffn_hidden);
  g.set_heads(s.heads);
  g.set_kv_heads(s.kv_heads);
  g.set_head_dim(s.head_dim);
  g.set_bias(bias);
  return g;
}

v1::ModelSpec Base(const std::string& name, const std::string& description, v1::ModelFamily family,
                   int vocab_size, int seq_len, v1::Precision precision, bool tie_embeddings,
                   const v1::OptimizerSpec& optimizer) {
  v1::ModelSpec m;
  m.set_name(name);
  m.set_description(description);
  m.set_family(family);
  m.set_vocab_size(vocab_size);
  m.set_seq_len(seq_len);
  m.set_precision(precision);
  m.set_tie_embeddings(tie_embeddings);
  *m.mutable_optimizer() = optimizer;
  return m;
}

// GPT-2 (Radford et al. 2019; Hugging Face configs gpt2*): pre-LN decoder,
// ffn = 4h, vocabulary 50257, 1024 learned positions, tied embeddings, biases.
// GPT-2's optimizer settings were not published; these are GPT-3's (Brown et
// al. 2020, Table 2.1 and App. B) for the nearest model size, with a 2000-step
// warm-up standing in for GPT-3's 375M warm-up tokens.
v1::ModelSpec Gpt2(const std::string& name, const std::string& description, const Stack& stack,
                   double learning_rate, int vocab_size = 50257, int seq_len = 1024) {
  v1::ModelSpec m =
      Base(name, description, v1::MODEL_FAMILY_GPT, vocab_size, seq_len, v1::PRECISION_BF16_MIXED,
           /*tie_embeddings=*/true, AdamW({learning_rate, 0.1, 0.9, 0.95, 1e-8, 1.0, 2000}));
  *m.add_layers() = Group(v1::LAYER_KIND_GPT_DECODER, stack, /*bias=*/true);
  return m;
}

// Llama 2 (Touvron et al. 2023, Sec. 2.2 and Table 1) and Llama 3 (Meta 2024,
// model card and HF configs): RMSNorm, RoPE, SwiGLU, no biases, untied head.
// AdamW beta1 0.9, beta2 0.95, eps 1e-5, weight decay 0.1, clip 1.0, 2000
// warm-up steps.
v1::ModelSpec Llama(const std::string& name, const std::string& description, const Stack& stack,
                    int vocab_size, int seq_len, double learning_rate) {
  v1::ModelSpec m =
      Base(name, description, v1::MODEL_FAMILY_LLAMA, vocab_size, seq_len, v1::PRECISION_BF16_MIXED,
           /*tie_embeddings=*/false, AdamW({learning_rate, 0.1, 0.9, 0.95, 1e-5, 1.0, 2000}));
  *m.add_layers() = Group(v1::LAYER_KIND_LLAMA_DECODER, stack, /*bias=*/false);
  return m;
}

// BERT (Devlin et al. 2019, Sec. 3 and App. A.2): post-LN encoder, ffn = 4h,
// WordPiece vocabulary 30522 (uncased), 512 positions, MLM head tied to the
// word embeddings. Adam with decoupled weight decay 0.01, lr 1e-4, beta2
// 0.999, eps 1e-6 (reference code), 10k warm-up steps.
v1::ModelSpec Bert(const std::string& name, const std::string& description, const Stack& stack) {
  v1::ModelSpec m =
      Base(name, description, v1::MODEL_FAMILY_BERT, 30522, 512, v1::PRECISION_BF16_MIXED,
           /*tie_embeddings=*/true, AdamW({1e-4, 0.01, 0.9, 0.999, 1e-6, 1.0, 10000}));
  *m.add_layers() = Group(v1::LAYER_KIND_BERT_ENCODER, stack, /*bias=*/true);
  return m;
}

// T5 v1.0 (Raffel et al. 2020, Sec. 3.7; HF configs t5-*): encoder stack then
// decoder stack, no biases, head_dim = d_kv, ReLU FFN, 32 relative-position
// buckets up to distance 128, SentencePiece vocabulary 32128 (32000 + 100
// sentinels, padded), tied embeddings. Pre-training's span corruption turns
// 568 tokens into 512 input and 114 target tokens (Sec. 3.1.4: 15 % noise,
// mean span 3): the encoder's and the decoder's sequence lengths. T5 was
// trained with Adafactor, which OptimizerKind lacks; the AdamW setting is the
// usual one for T5 fine-tuning (lr 1e-4, no weight decay).
//
// T5 v1.1 (HF configs google/t5-v1_1-*): gated-GELU FFN, untied head, no
// dropout in pre-training; otherwise as v1.0.
v1::ModelSpec T5(const std::string& name, const std::string& description, const Stack& stack,
                 bool v1_1 = false, int vocab_size = 32128, int encoder_seq = 512,
                 int decoder_seq = 114) {
  v1::ModelSpec m = Base(
      name, description, v1::MODEL_FAMILY_T5, vocab_size, encoder_seq, v1::PRECISION_BF16_MIXED,
      /*tie_embeddings=*/!v1_1, AdamW({1e-4, 0.0, 0.9, 0.999, 1e-8, 1.0, 10000}));
  for (const v1::LayerKind kind : {v1::LAYER_KIND_T5_ENCODER, v1::LAYER_KIND_T5_DECODER}) {
    v1::LayerGroup* g = m.add_layers();
    *g = Group(kind, stack, /*bias=*/false);
    if (v1_1) g->mutable_t5()->set_ffn(v1::T5LayerOptions::FFN_GATED_GELU);
  }
  m.mutable_layers(1)->set_seq_len(decoder_seq);
  return m;
}

// ViT (Dosovitskiy et al. 2021, Table 1): pre-LN encoder over patches of a
// 224x224 RGB image, plus a class token, 1000-class (ImageNet-1k) head:
// seq_len = (224 / patch)^2 + 1. Adam with weight decay 0.1, beta2 0.999,
// clip 1.0, 10k warm-up steps, lr from Table 3 (JFT-300M pre-training).
v1::ModelSpec Vit(const std::string& name, const std::string& description, const Stack& stack,
                  int patch_size, double learning_rate, int image_size = 224,
                  int num_classes = 1000) {
  const int side = image_size / patch_size;
  v1::ModelSpec m =
      Base(name, description, v1::MODEL_FAMILY_VIT, /*vocab_size=*/0, side * side + 1,
           v1::PRECISION_BF16_MIXED,
           /*tie_embeddings=*/false, AdamW({learning_rate, 0.1, 0.9, 0.999, 1e-8, 1.0, 10000}));
  *m.add_layers() = Group(v1::LAYER_KIND_VIT_ENCODER, stack, /*bias=*/true);
  v1::VisionSpec* vision = m.mutable_vision();
  vision->set_image_size(image_size);
  vision->set_patch_size(patch_size);
  vision->set_channels(3);
  vision->set_class_token(true);
  vision->set_num_classes(num_classes);
  return m;
}

// Swin Transformer (Liu et al. 2021, Sec. 3.3 and Table 1; the reference
// code's configs swin_{tiny,small,base,large}_patch4_window7_224): 4x4
// patches of a 224x224 RGB image (a 56x56 grid), 7x7 windows, four stages
// whose hidden size doubles and grid halves (patch merging before stages
// 2-4), ffn = 4h, biases, 1000 classes, no class token. One group per stage.
// AdamW, lr 1e-3, weight decay 0.05, 20 warm-up epochs (25k steps at batch
// 1024), gradient clipping at 5.0 (the reference config).
v1::ModelSpec Swin(const std::string& name, const std::string& description, int embed,
                   const std::vector<int>& depths, const std::vector<int>& heads,
                   int image_size = 224, int patch_size = 4, int window = 7,
                   int num_classes = 1000) {
  const int side = image_size / patch_size;
  v1::ModelSpec m = Base(name, description, v1::MODEL_FAMILY_SWIN, /*vocab_size=*/0, side * side,
                         v1::PRECISION_BF16_MIXED, /*tie_embeddings=*/false,
                         AdamW({1e-3, 0.05, 0.9, 0.999, 1e-8, 5.0, 25000}));
  for (size_t i = 0; i < depths.size(); ++i) {
    const int hidden = embed << i, grid = side >> i;
    v1::LayerGroup* g = m.add_layers();
    *g = Group(v1::LAYER_KIND_SWIN_BLOCK, {depths[i], hidden, heads[i], 4 * hidden}, /*bias=*/true);
    g->set_seq_len(grid * grid);
    g->mutable_swin()->set_window(window);
    g->mutable_swin()->set_merge_patches(i > 0);
  }
  v1::VisionSpec* vision = m.mutable_vision();
  vision->set_image_size(image_size);
  vision->set_patch_size(patch_size);
  vision->set_channels(3);
  vision->set_class_token(false);
  vision->set_num_classes(num_classes);
  return m;
}

// Tiny models for tests and CPU demos train in fp32 with AdamW at lr 1e-3 and
// no warm-up, so a few CPU steps visibly lower the loss.
v1::ModelSpec Tiny(v1::ModelSpec m) {
  m.set_precision(v1::PRECISION_FP32);
  *m.mutable_optimizer() = AdamW({1e-3, 0.01, 0.9, 0.999, 1e-8, 1.0, 0});
  return m;
}

std::map<std::string, v1::ModelSpec> BuildCatalog() {
  std::vector<v1::ModelSpec> models = {
      Gpt2("gpt2-small", "GPT-2 124M (Radford et al. 2019; HF config gpt2)", {12, 768, 12, 3072},
           6e-4),
      Gpt2("gpt2-medium", "GPT-2 355M (Radford et al. 2019; HF config gpt2-medium)",
           {24, 1024, 16, 4096}, 3e-4),
      Gpt2("gpt2-large", "GPT-2 774M (Radford et al. 2019; HF config gpt2-large)",
           {36, 1280, 20, 5120}, 2.5e-4),
      Gpt2("gpt2-xl", "GPT-2 1.5B (Radford et al. 2019; HF config gpt2-xl)", {48, 1600, 25, 6400},
           2e-4),

      Llama("llama2-7b", "Llama 2 7B (Touvron et al. 2023, Table 1; HF meta-llama/Llama-2-7b-hf)",
            {32, 4096, 32, 11008, /*kv_heads=*/32}, 32000, 4096, 3e-4),
      Llama("llama2-13b",
            "Llama 2 13B (Touvron et al. 2023, Table 1; HF meta-llama/Llama-2-13b-hf)",
            {40, 5120, 40, 13824, /*kv_heads=*/40}, 32000, 4096, 3e-4),
      Llama("llama2-70b",
            "Llama 2 70B, GQA (Touvron et al. 2023, Table 1; HF meta-llama/Llama-2-70b-hf)",
            {80, 8192, 64, 28672, /*kv_heads=*/8}, 32000, 4096, 1.5e-4),
      Llama("llama3-8b",
            "Llama 3 8B (Meta 2024, Llama 3 model card; HF meta-llama/Meta-Llama-3-8B)",
            {32, 4096, 32, 14336, /*kv_heads=*/8}, 128256, 8192, 3e-4),
      Llama("llama3-70b",
            "Llama 3 70B (Meta 2024, Llama 3 model card; HF meta-llama/Meta-Llama-3-70B)",
            {80, 8192, 64, 28672, /*kv_heads=*/8}, 128256, 8192, 1.5e-4),

      Bert("bert-base", "BERT-Base, uncased, 110M (Devlin et al. 2019, Sec. 3)",
           {12, 768, 12, 3072}),
      Bert("bert-large", "BERT-Large, uncased, 340M (Devlin et al. 2019, Sec. 3)",
           {24, 1024, 16, 4096}),

      T5("t5-base", "T5-Base 220M (Raffel et al. 2020, Sec. 3.7; HF config t5-base)",
         {12, 768, 12, 3072, /*kv_heads=*/0, /*head_dim=*/64}),
      T5("t5-large", "T5-Large 770M (Raffel et al. 2020, Sec. 3.7; HF config t5-large)",
         {24, 1024, 16, 4096, /*kv_heads=*/0, /*head_dim=*/64}),
      T5("t5-3b", "T5-3B (Raffel et al. 2020, Sec. 3.7; HF config t5-3b)",
         {24, 1024, 32, 16384, /*kv_heads=*/0, /*head_dim=*/128}),
      T5("t5-v1.1-base", "T5 v1.1 Base 250M (HF config google/t5-v1_1-base)",
         {12, 768, 12, 2048, /*kv_heads=*/0, /*head_dim=*/64}, /*v1_1=*/true),
      T5("t5-v1.1-large", "T5 v1.1 Large 780M (HF config google/t5-v1_1-large)",
         {24, 1024, 16, 2816, /*kv_heads=*/0, /*head_dim=*/64}, /*v1_1=*/true),
      T5("t5-v1.1-xl", "T5 v1.1 XL 3B (HF config google/t5-v1_1-xl)",
         {24, 2048, 32, 5120, /*kv_heads=*/0, /*head_dim=*/64}, /*v1_1=*/true),

      Vit("vit-tiny", "ViT-Ti/16, 5.7M, 224x224 (Touvron et al. 2021, DeiT, Table 1)",
          {12, 192, 3, 768}, 16, 1e-3),
      Vit("vit-base", "ViT-B/16, 86M, 224x224 (Dosovitskiy et al. 2021, Table 1)",
          {12, 768, 12, 3072}, 16, 8e-4),
      Vit("vit-large", "ViT-L/16, 307M, 224x224 (Dosovitskiy et al. 2021, Table 1)",
          {24, 1024, 16, 4096}, 16, 4e-4),
      Vit("vit-huge", "ViT-H/14, 632M, 224x224 (Dosovitskiy et al. 2021, Table 1)",
          {32, 1280, 16, 5120}, 14, 3e-4),

      Swin("swin-tiny", "Swin-T, 28M, 224x224 (Liu et al. 2021, Table 1)", 96, {2, 2, 6, 2},
           {3, 6, 12, 24}),
      Swin("swin-small", "Swin-S, 50M, 224x224 (Liu et al. 2021, Table 1)", 96, {2, 2, 18, 2},
           {3, 6, 12, 24}),
      Swin("swin-base", "Swin-B, 88M, 224x224 (Liu et al. 2021, Table 1)", 128, {2, 2, 18, 2},
           {4, 8, 16, 32}),
      Swin("swin-large", "Swin-L, 197M, 224x224 (Liu et al. 2021, Table 1)", 192, {2, 2, 18, 2},
           {6, 12, 24, 48}),

      // Tiny GPT: GPT-2 shape at width 64 (ffn = 4h).
      Tiny(Gpt2("gpt-tiny",
                "Tiny GPT-2-style decoder for tests and CPU demos (not a published model)",
                {4, 64, 4, 256}, 1e-3, /*vocab_size=*/512, /*seq_len=*/64)),
      // Tiny Llama: ffn = 8h/3 = 170.7 rounded up to a multiple of 4 = 172 (Llama's
      // SwiGLU sizing rule with multiple_of 4); 2 KV heads so GQA paths are exercised.
      Tiny(Llama("llama-tiny",
                 "Tiny Llama-style decoder with GQA for tests and CPU demos (not a published "
                 "model)",
                 {4, 64, 4, 172, /*kv_heads=*/2}, /*vocab_size=*/512, /*seq_len=*/64, 1e-3)),
      // Tiny T5 (v1.0 style): 2 encoder and 2 decoder blocks; 34-token windows
      // corrupt into 32 input and 8 target tokens.
      Tiny(T5("t5-test",
              "Tiny T5 for tests and CPU demos: 2 encoder + 2 decoder blocks, 32 input and 8 "
              "target tokens (not a published model)",
              {2, 64, 4, 256}, /*v1_1=*/false, /*vocab_size=*/512, /*encoder_seq=*/32,
              /*decoder_seq=*/8)),
      // Tiny Swin: 16x16 images in 2x2 patches (an 8x8 grid, 4x4 windows, the
      // odd block shifted by 2), merged into a 4x4 grid (one window) at width 128.
      Tiny(Swin("swin-test",
                "Tiny Swin for tests and CPU demos: 16x16 images, 2x2 patches, 4x4 windows, two "
                "stages of 2 blocks (hidden 64 then 128), 10 classes (not a published model)",
                64, {2, 2}, {4, 8}, /*image_size=*/16, /*patch_size=*/2, /*window=*/4,
                /*num_classes=*/10)),
      // Tiny ViT: 16x16 images in 4x4 patches (sequence 17 with the class token).
      Tiny(Vit("vit-test",
               "Tiny ViT for tests and CPU demos: 16x16 images, 4x4 patches, 10 classes (not a "
               "published model)",
               {4, 64, 4, 256}, /*patch_size=*/4, 1e-3, /*image_size=*/16, /*num_classes=*/10)),
  };
  std::map<std::string, v1::ModelSpec> catalog;
  for (v1::ModelSpec& m : models) {
    std::string name = m.name();
    catalog.emplace(std::move(name), std::move(m));
  }
  return catalog;
}

const std::map<std::string, v1::ModelSpec>& Catalog() {
  static const auto* catalog = new std::map<std::string, v1::ModelSpec>(BuildCatalog());
  return *catalog;
}

}  // namespace

std::vector<std::string> CatalogModelNames() {
  std::vector<std::string> names;
  for (const auto& entry : Catalog()) names.push_back(entry.first);  // std::map: sorted
  return names;
}

std::optional<v1::ModelSpec> CatalogModel(const std::string& name) {
  const auto& catalog = Catalog();
  auto it = catalog.find(name);
  if (it == catalog.end()) return std::nullopt;
  v1::ModelSpec spec = it->second;
  spec.set_builtin(true);
  spec.set_version(0);
  return spec;
}

absl::StatusOr<v1::ModelSpec> LoadModelArgument(const std::string& name_or_file,
                                                absl::string_view flag) {
  if (name_or_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": required (a built-in model name or a ModelSpec JSON file)"));
  }
  std::error_code error;
  if (std::filesystem::is_regular_file(name_or_file, error)) {
    v1::ModelSpec spec;
    absl::Status read = ReadJsonFile(name_or_file, &spec);
    if (read.ok()) read = ValidateModelSpec(spec);
    if (!read.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " ", name_or_file, ": ", read.message()));
    }
    return spec;
  }
  if (std::optional<v1::ModelSpec> spec = CatalogModel(name_or_file)) return *std::move(spec);
  return absl::NotFoundError(absl::StrCat(flag, ": \"", name_or_file,
                                          "\" is neither a file nor a built-in model (",
                                          absl::StrJoin(CatalogModelNames(), ", "), ")"));
}

}  // namespace galvatron
