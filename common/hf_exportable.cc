#include "common/hf_exportable.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace galvatron {

absl::Status CheckHfExportable(const v1::ModelSpec& model) {
  const bool gpt = model.family() == v1::MODEL_FAMILY_GPT;
  const bool llama = model.family() == v1::MODEL_FAMILY_LLAMA;
  if (!gpt && !llama) {
    return absl::UnimplementedError(absl::StrCat(
        "model family ", v1::ModelFamily_Name(model.family()), " (", model.name(),
        "): export writes Hugging Face GPT-2 (GPT2LMHeadModel) and LLaMA (LlamaForCausalLM) "
        "models only"));
  }
  if (model.layers_size() == 0 || model.vocab_size() <= 0) {
    return absl::UnimplementedError(
        absl::StrCat(model.name(), ": export needs layers and a vocabulary"));
  }
  const v1::LayerKind kind = gpt ? v1::LAYER_KIND_GPT_DECODER : v1::LAYER_KIND_LLAMA_DECODER;
  const v1::LayerGroup& first = model.layers(0);
  for (int g = 0; g < model.layers_size(); ++g) {
    const v1::LayerGroup& l = model.layers(g);
    if (l.kind() != kind) {
      return absl::UnimplementedError(
          absl::StrCat("layers[", g, "].kind: ", v1::LayerKind_Name(l.kind()), " in a ",
                       v1::ModelFamily_Name(model.family()), " model: export maps ",
                       v1::LayerKind_Name(kind), " layers only"));
    }
    if (l.hidden() != first.hidden() || l.ffn_hidden() != first.ffn_hidden() ||
        l.heads() != first.heads() || l.kv_heads() != first.kv_heads() ||
        l.head_dim() != first.head_dim() || l.bias() != first.bias()) {
      return absl::UnimplementedError(
          absl::StrCat("layers[", g,
                       "]: sizes differ from layers[0]'s; a Hugging Face config has one "
                       "size for every layer"));
    }
  }
  const int64_t hidden = first.hidden();
  const int64_t heads = first.heads();
  const int64_t kv_heads = first.kv_heads() > 0 ? first.kv_heads() : first.heads();
  const int64_t head_dim =
      first.head_dim() > 0 ? first.head_dim() : (heads > 0 ? hidden / heads : 0);
  if (heads <= 0 || kv_heads <= 0 || heads % kv_heads != 0) {
    return absl::UnimplementedError(
        absl::StrCat("layers[0]: ", heads, " heads and ", kv_heads, " KV heads do not group"));
  }
  if (gpt && kv_heads != heads) {
    return absl::UnimplementedError(absl::StrCat("layers[0].kv_heads: ", kv_heads, " of ", heads,
                                                 " heads: GPT-2 has no grouped-query attention "
                                                 "(its c_attn holds q, k and v of equal width)"));
  }
  if (gpt && heads * head_dim != hidden) {
    return absl::UnimplementedError(absl::StrCat("layers[0].head_dim: ", head_dim, " × ", heads,
                                                 " heads is not the hidden ", hidden,
                                                 ": GPT-2 splits the hidden size into its heads"));
  }
  return absl::OkStatus();
}

}  // namespace galvatron
