#include "common/model_validation.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/field_checks.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"

namespace galvatron {
namespace {

using L = ModelLimits;

using field_checks::CheckEnum;
using field_checks::CheckNonNegativeFinite;
using field_checks::CheckRange;
using field_checks::EnumValueName;
using field_checks::Invalid;
using field_checks::Quoted;

bool IsTextFamily(v1::ModelFamily family) {
  return family == v1::MODEL_FAMILY_GPT || family == v1::MODEL_FAMILY_LLAMA ||
         family == v1::MODEL_FAMILY_BERT || family == v1::MODEL_FAMILY_T5;
}

bool IsVisionFamily(v1::ModelFamily family) {
  return family == v1::MODEL_FAMILY_VIT || family == v1::MODEL_FAMILY_SWIN;
}

std::string FamilyName(v1::ModelFamily family) {
  return EnumValueName(v1::ModelFamily_descriptor(), family);
}

std::string KindName(v1::LayerKind kind) { return EnumValueName(v1::LayerKind_descriptor(), kind); }

// The block kinds a family's runtime code can build; CUSTOM takes any.
absl::Status CheckKindFitsFamily(absl::string_view path, v1::LayerKind kind,
                                 v1::ModelFamily family) {
  std::vector<v1::LayerKind> allowed;
  switch (family) {
    case v1::MODEL_FAMILY_GPT:
      allowed = {v1::LAYER_KIND_GPT_DECODER};
      break;
    case v1::MODEL_FAMILY_LLAMA:
      allowed = {v1::LAYER_KIND_LLAMA_DECODER};
      break;
    case v1::MODEL_FAMILY_BERT:
      allowed = {v1::LAYER_KIND_BERT_ENCODER};
      break;
    case v1::MODEL_FAMILY_T5:
      allowed = {v1::LAYER_KIND_T5_ENCODER, v1::LAYER_KIND_T5_DECODER};
      break;
    case v1::MODEL_FAMILY_VIT:
      allowed = {v1::LAYER_KIND_VIT_ENCODER};
      break;
    case v1::MODEL_FAMILY_SWIN:
      allowed = {v1::LAYER_KIND_SWIN_BLOCK};
      break;
    default:
      return absl::OkStatus();
  }
  std::vector<std::string> names;
  for (v1::LayerKind k : allowed) {
    if (k == kind) return absl::OkStatus();
    names.push_back(KindName(k));
  }
  return Invalid(
      path, KindName(kind),
      absl::StrCat("must be ", absl::StrJoin(names, " or "), " for family ", FamilyName(family)));
}

absl::Status ValidateOptimizer(const v1::OptimizerSpec& o) {
  RETURN_IF_ERROR(CheckEnum("optimizer.kind", v1::OptimizerKind_descriptor(), o.kind(), false));
  RETURN_IF_ERROR(CheckNonNegativeFinite("optimizer.learning_rate", o.learning_rate()));
  RETURN_IF_ERROR(CheckNonNegativeFinite("optimizer.weight_decay", o.weight_decay()));
  const std::pair<const char*, double> betas[] = {{"optimizer.beta1", o.beta1()},
                                                  {"optimizer.beta2", o.beta2()}};
  for (const auto& [path, beta] : betas) {
    if (!(beta >= 0 && beta < 1)) return Invalid(path, absl::StrCat(beta), "must be in [0, 1)");
  }
  RETURN_IF_ERROR(CheckNonNegativeFinite("optimizer.epsilon", o.epsilon()));
  RETURN_IF_ERROR(CheckNonNegativeFinite("optimizer.grad_clip_norm", o.grad_clip_norm()));
  if (o.warmup_steps() < 0) {
    return Invalid("optimizer.warmup_steps", absl::StrCat(o.warmup_steps()), "must be >= 0");
  }
  return absl::OkStatus();
}

// Vision families need an image that splits into whole patches; so does a
// CUSTOM model that gives a vision spec. Text families must not give one.
absl::Status ValidateVision(const v1::ModelSpec& spec) {
  const v1::ModelFamily family = spec.family();
  if (!IsVisionFamily(family) && !spec.has_vision()) return absl::OkStatus();
  if (IsTextFamily(family)) {
    return Invalid("vision", "set", absl::StrCat("must be unset for family ", FamilyName(family)));
  }
  const v1::VisionSpec& v = spec.vision();
  RETURN_IF_ERROR(CheckRange("vision.image_size", v.image_size(), 1, L::kMaxSeqLen));
  RETURN_IF_ERROR(CheckRange("vision.patch_size", v.patch_size(), 1, v.image_size()));
  if (v.image_size() % v.patch_size() != 0) {
    return Invalid("vision.image_size", absl::StrCat(v.image_size()),
                   absl::StrCat("must be divisible by vision.patch_size (", v.patch_size(), ")"));
  }
  RETURN_IF_ERROR(CheckRange("vision.channels", v.channels(), 0, L::kMaxHidden));
  RETURN_IF_ERROR(CheckRange("vision.num_classes", v.num_classes(), 0, L::kMaxVocab));
  return absl::OkStatus();
}

// ViT's sequence is the patch grid plus the class token; a seq_len that
// disagrees with the image would make profiles describe another model.
absl::Status CheckVitSeqLen(absl::string_view path, int seq_len, const v1::VisionSpec& v) {
  const int64_t side = v.image_size() / v.patch_size();
  const int64_t expected = side * side + (v.class_token() ? 1 : 0);
  if (seq_len == 0 || seq_len == expected) return absl::OkStatus();
  return Invalid(path, absl::StrCat(seq_len),
                 absl::StrCat("must equal (vision.image_size / vision.patch_size)^2",
                              v.class_token() ? " + 1" : "", " = ", expected));
}

// T5's options belong to T5 blocks only. The relative-position buckets are
// split in two for the encoder's two directions, and half of those count
// distances exactly, so the bias needs an even count of at least 4 and a
// max_distance beyond the exact range.
absl::Status ValidateT5Options(const std::string& p, const v1::LayerGroup& g) {
  if (!g.has_t5()) return absl::OkStatus();
  if (g.kind() != v1::LAYER_KIND_T5_ENCODER && g.kind() != v1::LAYER_KIND_T5_DECODER) {
    return Invalid(p + "t5", "set", absl::StrCat("must be unset for kind ", KindName(g.kind())));
  }
  const v1::T5LayerOptions& t = g.t5();
  RETURN_IF_ERROR(CheckRange(p + "t5.relative_buckets", t.relative_buckets(), 0, 4096));
  if (t.relative_buckets() != 0 && (t.relative_buckets() < 4 || t.relative_buckets() % 2 != 0)) {
    return Invalid(p + "t5.relative_buckets", absl::StrCat(t.relative_buckets()),
                   "must be 0 (32) or an even number >= 4");
  }
  RETURN_IF_ERROR(
      CheckRange(p + "t5.relative_max_distance", t.relative_max_distance(), 0, L::kMaxSeqLen));
  const int buckets = t.relative_buckets() > 0 ? t.relative_buckets() : 32;
  if (t.relative_max_distance() != 0 && t.relative_max_distance() <= buckets / 2) {
    return Invalid(p + "t5.relative_max_distance", absl::StrCat(t.relative_max_distance()),
                   absl::StrCat("must be 0 (128) or > relative_buckets / 2 (", buckets / 2, ")"));
  }
  return CheckEnum(p + "t5.ffn", v1::T5LayerOptions::Ffn_descriptor(), t.ffn(), false);
}

// Swin's options belong to Swin blocks; the shift moves tokens within a window.
absl::Status ValidateSwinOptions(const std::string& p, const v1::LayerGroup& g) {
  if (!g.has_swin()) return absl::OkStatus();
  if (g.kind() != v1::LAYER_KIND_SWIN_BLOCK) {
    return Invalid(p + "swin", "set", absl::StrCat("must be unset for kind ", KindName(g.kind())));
  }
  const v1::SwinLayerOptions& o = g.swin();
  RETURN_IF_ERROR(CheckRange(p + "swin.window", o.window(), 0, 1024));
  const int window = o.window() > 0 ? o.window() : 7;
  RETURN_IF_ERROR(CheckRange(p + "swin.shift", o.shift(), 0, window - 1));
  return absl::OkStatus();
}

absl::Status ValidateGroup(const v1::ModelSpec& spec, int i) {
  const v1::LayerGroup& g = spec.layers(i);
  const std::string p = absl::StrCat("layers[", i, "].");
  RETURN_IF_ERROR(CheckEnum(p + "kind", v1::LayerKind_descriptor(), g.kind(), true));
  RETURN_IF_ERROR(CheckKindFitsFamily(p + "kind", g.kind(), spec.family()));
  RETURN_IF_ERROR(CheckRange(p + "count", g.count(), 1, L::kMaxLayersTotal));
  RETURN_IF_ERROR(CheckRange(p + "hidden", g.hidden(), 1, L::kMaxHidden));
  RETURN_IF_ERROR(CheckRange(p + "ffn_hidden", g.ffn_hidden(), 1, L::kMaxFfnHidden));
  RETURN_IF_ERROR(CheckRange(p + "heads", g.heads(), 1, L::kMaxHeads));
  RETURN_IF_ERROR(CheckRange(p + "kv_heads", g.kv_heads(), 0, L::kMaxHeads));
  if (g.kv_heads() > 0 && g.heads() % g.kv_heads() != 0) {
    return Invalid(p + "kv_heads", absl::StrCat(g.kv_heads()),
                   absl::StrCat("must divide ", p, "heads (", g.heads(), ")"));
  }
  RETURN_IF_ERROR(CheckRange(p + "head_dim", g.head_dim(), 0, L::kMaxHidden));
  if (g.head_dim() == 0 && g.hidden() % g.heads() != 0) {
    return Invalid(p + "hidden", absl::StrCat(g.hidden()),
                   absl::StrCat("must be divisible by ", p, "heads (", g.heads(), ")"));
  }
  // Rotary embeddings rotate pairs of channels.
  if (g.kind() == v1::LAYER_KIND_LLAMA_DECODER) {
    if (g.head_dim() != 0 && g.head_dim() % 2 != 0) {
      return Invalid(p + "head_dim", absl::StrCat(g.head_dim()),
                     "must be even for LAYER_KIND_LLAMA_DECODER (rotary embeddings)");
    }
    if (g.head_dim() == 0 && (g.hidden() / g.heads()) % 2 != 0) {
      return Invalid(p + "hidden", absl::StrCat(g.hidden()),
                     absl::StrCat("must give an even head dimension (", p, "hidden / ", p,
                                  "heads = ", g.hidden() / g.heads(),
                                  ") for LAYER_KIND_LLAMA_DECODER (rotary embeddings)"));
    }
  }
  RETURN_IF_ERROR(ValidateT5Options(p, g));
  RETURN_IF_ERROR(ValidateSwinOptions(p, g));
  RETURN_IF_ERROR(CheckRange(p + "seq_len", g.seq_len(), 0, L::kMaxSeqLen));
  if (g.seq_len() == 0 && spec.seq_len() == 0) {
    return Invalid(p + "seq_len", "0", "must be >= 1 when the model's seq_len is 0");
  }
  if (spec.family() == v1::MODEL_FAMILY_VIT) {
    RETURN_IF_ERROR(CheckVitSeqLen(p + "seq_len", g.seq_len(), spec.vision()));
  }
  return absl::OkStatus();
}

absl::Status ValidateLayers(const v1::ModelSpec& spec) {
  if (spec.layers().empty())
    return Invalid("layers", "empty", "must have at least one layer group");
  if (spec.layers_size() > L::kMaxLayerGroups) {
    return Invalid("layers", absl::StrCat(spec.layers_size(), " groups"),
                   absl::StrCat("must be <= ", L::kMaxLayerGroups));
  }
  int64_t total = 0;
  for (int i = 0; i < spec.layers_size(); ++i) {
    RETURN_IF_ERROR(ValidateGroup(spec, i));
    total += spec.layers(i).count();
  }
  if (total > L::kMaxLayersTotal) {
    return Invalid("layers", absl::StrCat(total, " layers in total"),
                   absl::StrCat("must be <= ", L::kMaxLayersTotal));
  }
  return absl::OkStatus();
}

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsNameChar(char c) { return IsNameStart(c) || c == '.' || c == '_' || c == '-'; }

}  // namespace

absl::Status ValidateName(const std::string& field, const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && IsNameStart(name[0]);
  for (size_t i = 0; ok && i < name.size(); ++i) ok = IsNameChar(name[i]);
  if (ok) return absl::OkStatus();
  return Invalid(field, Quoted(name),
                 "must be 1-64 characters of [a-z0-9._-] starting with a letter or digit");
}

// PRECISION_UNSPECIFIED is accepted and means PRECISION_BF16_MIXED, as
// OPTIMIZER_KIND_UNSPECIFIED means ADAMW (see LayerTypeKey, which maps both
// to "bf16").
absl::Status ValidateModelSpec(const v1::ModelSpec& spec) {
  RETURN_IF_ERROR(ValidateName("name", spec.name()));
  if (spec.description().size() > static_cast<size_t>(L::kMaxDescriptionBytes)) {
    return Invalid("description", absl::StrCat(spec.description().size(), " bytes"),
                   absl::StrCat("must be <= ", L::kMaxDescriptionBytes, " bytes"));
  }
  RETURN_IF_ERROR(CheckEnum("family", v1::ModelFamily_descriptor(), spec.family(), true));
  RETURN_IF_ERROR(CheckEnum("precision", v1::Precision_descriptor(), spec.precision(), false));
  RETURN_IF_ERROR(ValidateOptimizer(spec.optimizer()));

  RETURN_IF_ERROR(CheckRange("vocab_size", spec.vocab_size(), 0, L::kMaxVocab));
  if (IsTextFamily(spec.family()) && spec.vocab_size() < 1) {
    return Invalid("vocab_size", absl::StrCat(spec.vocab_size()),
                   absl::StrCat("must be >= 1 for family ", FamilyName(spec.family())));
  }
  if (spec.tie_embeddings() && spec.vocab_size() == 0) {
    return Invalid("tie_embeddings", "true", "must be false when vocab_size is 0");
  }
  RETURN_IF_ERROR(CheckRange("seq_len", spec.seq_len(), 0, L::kMaxSeqLen));
  RETURN_IF_ERROR(ValidateVision(spec));
  if (spec.family() == v1::MODEL_FAMILY_VIT) {
    RETURN_IF_ERROR(CheckVitSeqLen("seq_len", spec.seq_len(), spec.vision()));
  }
  return ValidateLayers(spec);
}

}  // namespace galvatron
