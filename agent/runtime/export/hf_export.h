// A trained model's full parameter tensors, under our names
// ("embedding.tokens.weight", "layer3.q.weight", ...), as Hugging Face
// transformers names and lays them out, written as one safetensors file:
//
//   GPT-2 (GPT2LMHeadModel): transformer.wte / wpe, transformer.h.{i}.ln_1,
//     attn.c_attn (q, k and v fused), attn.c_proj, ln_2, mlp.c_fc,
//     mlp.c_proj, transformer.ln_f; Conv1D weights transposed to [in, out];
//     lm_head only when the embeddings are not tied (HF ties it on load).
//   LLaMA (LlamaForCausalLM): model.embed_tokens, model.layers.{i}.
//     self_attn.{q,k,v,o}_proj, mlp.{gate,up,down}_proj, input_layernorm,
//     post_attention_layernorm, model.norm, lm_head (unless tied). Our blocks
//     rotate the two halves of each head (HF's rotate_half), so q and k rows
//     need no permutation.
//
// The file's __metadata__ carries "format": "pt" (which transformers'
// from_pretrained requires) and the config.json that makes HF compute what
// our blocks compute (the GELU variant, the norms' epsilon, ...); `notes`
// says where that needs settings other than HF's defaults.
//
// Thread-compatible: functions of their arguments.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "galvatron/v1/model.pb.h"

namespace galvatron::runtime {

// OK when `model` has a Hugging Face form export writes: a GPT-2 (GPT
// decoder layers, as many KV heads as heads, heads × head_dim = hidden) or a
// LLaMA model, every layer group of the same sizes. UNIMPLEMENTED naming
// what is not (another family, mixed layers). The rules are
// common/hf_exportable's, which the planner checks jobs with too.
absl::Status CheckExportable(const v1::ModelSpec& model);

struct HfModel {
  std::string architecture;  // "GPT2LMHeadModel" or "LlamaForCausalLM"
  // HF names → contiguous CPU tensors in the export's dtype, in HF's order.
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  std::string config_json;         // transformers' config.json for these tensors
  std::vector<std::string> notes;  // where HF computes the same only with that config
};

// Converts our full tensors (every parameter of the model, whole) to HF's
// names, shapes and layouts in `dtype` (float64, float32, bfloat16 or
// float16). UNIMPLEMENTED as CheckExportable; INVALID_ARGUMENT naming a
// tensor that is missing or of another shape than the model's.
absl::StatusOr<HfModel> ToHuggingFace(const v1::ModelSpec& model,
                                      const std::map<std::string, torch::Tensor>& ours,
                                      torch::Dtype dtype);

// Writes `hf` as a safetensors file at `path` (metadata: format, the
// config, the notes). UNAVAILABLE when it cannot be written.
absl::Status WriteHfSafetensors(const std::string& path, const HfModel& hf,
                                const std::string& model_name);

// ToHuggingFace, then WriteHfSafetensors; logs what was written and the
// notes (as warnings). The model written.
absl::StatusOr<HfModel> ExportHuggingFace(const std::string& path, const v1::ModelSpec& model,
                                          const std::map<std::string, torch::Tensor>& ours,
                                          torch::Dtype dtype);

}  // namespace galvatron::runtime
