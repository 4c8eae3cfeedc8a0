#include "common/layer_type.h"

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/field_checks.h"
#include "google/protobuf/descriptor.h"

namespace galvatron {
namespace {

// "LAYER_KIND_LLAMA_DECODER" -> "llama_decoder"; a number outside the enum
// stays distinguishable ("layer_kind_7").
std::string EnumToken(const google::protobuf::EnumDescriptor* type, int value,
                      absl::string_view prefix) {
  const auto* v = type->FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(absl::AsciiStrToLower(prefix), value);
  absl::string_view name = v->name();
  absl::ConsumePrefix(&name, prefix);
  return absl::AsciiStrToLower(name);
}

std::string KindToken(v1::LayerKind kind) {
  return EnumToken(v1::LayerKind_descriptor(), kind, "LAYER_KIND_");
}

std::string FamilyToken(v1::ModelFamily family) {
  return EnumToken(v1::ModelFamily_descriptor(), family, "MODEL_FAMILY_");
}

int EffectiveSeqLen(const v1::ModelSpec& spec, const v1::LayerGroup& g) {
  return g.seq_len() != 0 ? g.seq_len() : spec.seq_len();
}

// A T5 decoder block's cross-attention reads the encoder output, so its cost
// depends on the encoder's sequence length: that of the nearest encoder group
// before it, else of the first encoder group, else the model's.
int EncoderSeqLen(const v1::ModelSpec& spec, int decoder_index) {
  for (int i = decoder_index - 1; i >= 0; --i) {
    if (spec.layers(i).kind() == v1::LAYER_KIND_T5_ENCODER) {
      return EffectiveSeqLen(spec, spec.layers(i));
    }
  }
  for (const v1::LayerGroup& g : spec.layers()) {
    if (g.kind() == v1::LAYER_KIND_T5_ENCODER) return EffectiveSeqLen(spec, g);
  }
  return spec.seq_len();
}

}  // namespace

std::string PrecisionToken(v1::Precision precision) {
  switch (precision) {
    case v1::PRECISION_UNSPECIFIED:
    case v1::PRECISION_BF16_MIXED:
      return "bf16";
    case v1::PRECISION_FP16_MIXED:
      return "fp16";
    case v1::PRECISION_FP32:
      return "fp32";
    case v1::PRECISION_FP64:
      return "fp64";
    default:
      return absl::StrCat("precision_", static_cast<int>(precision));
  }
}

// kind:h<hidden>:f<ffn>:a<heads>:kv<kv heads>:d<head dim>:s<seq>[:x<encoder
// seq>][:rb<buckets>][:rd<max distance>][:geglu][:w<window>[:sh<shift>]]:bias|nobias:<precision>,
// defaults (kv = heads, d = hidden / heads, s = model's) resolved so that equal blocks get equal
// keys however written.
std::string LayerTypeKey(const v1::ModelSpec& spec, int group_index) {
  if (group_index < 0 || group_index >= spec.layers_size()) return "";
  const v1::LayerGroup& g = spec.layers(group_index);
  const int kv_heads = g.kv_heads() != 0 ? g.kv_heads() : g.heads();
  const int head_dim =
      g.head_dim() != 0 ? g.head_dim() : (g.heads() != 0 ? g.hidden() / g.heads() : 0);
  std::string key =
      absl::StrCat(KindToken(g.kind()), ":h", g.hidden(), ":f", g.ffn_hidden(), ":a", g.heads(),
                   ":kv", kv_heads, ":d", head_dim, ":s", EffectiveSeqLen(spec, g));
  if (g.kind() == v1::LAYER_KIND_T5_DECODER) {
    absl::StrAppend(&key, ":x", EncoderSeqLen(spec, group_index));
  }
  // T5 options other than v1.0's defaults (so older keys stay as they were).
  const v1::T5LayerOptions& t5 = g.t5();
  if (t5.relative_buckets() != 0 && t5.relative_buckets() != 32) {
    absl::StrAppend(&key, ":rb", t5.relative_buckets());
  }
  if (t5.relative_max_distance() != 0 && t5.relative_max_distance() != 128) {
    absl::StrAppend(&key, ":rd", t5.relative_max_distance());
  }
  if (t5.ffn() == v1::T5LayerOptions::FFN_GATED_GELU) absl::StrAppend(&key, ":geglu");
  if (g.kind() == v1::LAYER_KIND_SWIN_BLOCK) {
    absl::StrAppend(&key, ":w", g.swin().window() > 0 ? g.swin().window() : 7);
    if (g.swin().shift() > 0) absl::StrAppend(&key, ":sh", g.swin().shift());
  }
  absl::StrAppend(&key, g.bias() ? ":bias" : ":nobias", ":", PrecisionToken(spec.precision()));
  return key;
}

// embedding_head:<family>:v<vocab>:h<hidden>[:ho<head hidden>]:s<seq>
// [:so<head seq>][:i<image>:p<patch>:c<channels>:n<classes>:cls|nocls]
// :tied|untied:<precision>. The embedding sees the first group's width and
// sequence, the final norm and head the last group's; the second figure is
// written only when it differs (e.g. Swin's widening stages).
std::string EmbeddingTypeKey(const v1::ModelSpec& spec) {
  int hidden = 0, head_hidden = 0, seq = spec.seq_len(), head_seq = spec.seq_len();
  if (!spec.layers().empty()) {
    const v1::LayerGroup& first = spec.layers(0);
    const v1::LayerGroup& last = spec.layers(spec.layers_size() - 1);
    hidden = first.hidden();
    head_hidden = last.hidden();
    seq = EffectiveSeqLen(spec, first);
    head_seq = EffectiveSeqLen(spec, last);
  }
  std::string key = absl::StrCat("embedding_head:", FamilyToken(spec.family()), ":v",
                                 spec.vocab_size(), ":h", hidden);
  if (head_hidden != hidden) absl::StrAppend(&key, ":ho", head_hidden);
  absl::StrAppend(&key, ":s", seq);
  if (head_seq != seq) absl::StrAppend(&key, ":so", head_seq);
  const bool vision = spec.has_vision() || spec.family() == v1::MODEL_FAMILY_VIT ||
                      spec.family() == v1::MODEL_FAMILY_SWIN;
  if (vision) {
    const v1::VisionSpec& v = spec.vision();
    absl::StrAppend(&key, ":i", v.image_size(), ":p", v.patch_size(), ":c", v.channels(), ":n",
                    v.num_classes(), v.class_token() ? ":cls" : ":nocls");
  }
  absl::StrAppend(&key, spec.tie_embeddings() ? ":tied" : ":untied", ":",
                  PrecisionToken(spec.precision()));
  return key;
}

std::vector<std::string> ModelLayerTypeKeys(const v1::ModelSpec& spec) {
  std::vector<std::string> keys;
  std::set<std::string> seen;
  for (int i = 0; i < spec.layers_size(); ++i) {
    std::string key = LayerTypeKey(spec, i);
    if (seen.insert(key).second) keys.push_back(std::move(key));
  }
  keys.push_back(EmbeddingTypeKey(spec));
  return keys;
}

absl::Status CheckLayerTypeKey(absl::string_view path, const std::string& key) {
  if (key.empty()) {
    return field_checks::Invalid(path, "empty", "must be a layer-type key (common/layer_type.h)");
  }
  if (key.size() > kMaxLayerTypeKeyChars) {
    return field_checks::Invalid(path, absl::StrCat(key.size(), " characters"),
                                 absl::StrCat("must be <= ", kMaxLayerTypeKeyChars));
  }
  bool part_empty = true;
  for (char c : key) {
    if (c == ':') {
      if (part_empty) break;
      part_empty = true;
      continue;
    }
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      part_empty = true;  // refused below
      break;
    }
    part_empty = false;
  }
  if (part_empty) {
    return field_checks::Invalid(path, field_checks::Quoted(key),
                                 "must be a layer-type key: parts of [a-z0-9_] joined by ':' "
                                 "(e.g. \"gpt_decoder:h768:f3072:a12:kv12:d64:s1024:bias:bf16\")");
  }
  return absl::OkStatus();
}

}  // namespace galvatron
