#include "agent/runtime/export/hf_export.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/hf_exportable.h"
#include "common/safetensors.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "spdlog/spdlog.h"

namespace galvatron::runtime {
namespace {

// Our blocks' norms (agent/runtime/blocks: LayerNorm's default, RmsNorm's kNormEps).
constexpr double kOurNormEps = 1e-5;
// Our RoPE's base (blocks.cc: 10000^(-2i/d)).
constexpr double kOurRopeTheta = 10000.0;

// The sizes every layer shares (CheckExportable has checked that they do).
struct Sizes {
  int64_t layers = 0, hidden = 0, ffn = 0, heads = 0, kv_heads = 0, head_dim = 0;
  int64_t vocab = 0, positions = 0;
  bool bias = false, tied = false;
};

Sizes SizesOf(const v1::ModelSpec& model) {
  Sizes s;
  const v1::LayerGroup& g = model.layers(0);
  for (const v1::LayerGroup& group : model.layers()) s.layers += group.count();
  s.hidden = g.hidden();
  s.ffn = g.ffn_hidden();
  s.heads = g.heads();
  s.kv_heads = g.kv_heads() > 0 ? g.kv_heads() : g.heads();
  s.head_dim = g.head_dim() > 0 ? g.head_dim() : g.hidden() / g.heads();
  s.vocab = model.vocab_size();
  s.positions = model.seq_len();
  s.bias = g.bias();
  s.tied = model.tie_embeddings();
  return s;
}

const char* DtypeName(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat64:
      return "float64";
    case torch::kFloat32:
      return "float32";
    case torch::kBFloat16:
      return "bfloat16";
    case torch::kFloat16:
      return "float16";
    default:
      return nullptr;
  }
}

absl::StatusOr<TensorDtype> SafetensorsDtypeOf(torch::Dtype dtype) {
  switch (dtype) {
    case torch::kFloat64:
      return TensorDtype::kF64;
    case torch::kFloat32:
      return TensorDtype::kF32;
    case torch::kBFloat16:
      return TensorDtype::kBF16;
    case torch::kFloat16:
      return TensorDtype::kF16;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("dtype ", c10::toString(dtype), ": expected a floating-point type"));
  }
}

// Reads our tensors by name, checking their shapes, in the export's dtype;
// collects HF's tensors in order.
class Converter {
 public:
  Converter(const std::map<std::string, torch::Tensor>& ours, torch::Dtype dtype)
      : ours_(ours), dtype_(dtype) {}

  absl::StatusOr<torch::Tensor> Get(const std::string& name, const std::vector<int64_t>& shape) {
    auto it = ours_.find(name);
    if (it == ours_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(name, ": missing from the trained model"));
    }
    if (it->second.sizes() != at::IntArrayRef(shape)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": shape ", c10::str(it->second.sizes()), ", expected ",
                       c10::str(at::IntArrayRef(shape)), " from the model spec"));
    }
    return it->second.detach().to(torch::kCPU, dtype_);
  }
  // Our bias `name` of `n` elements, or zeros when the layer has none.
  absl::StatusOr<torch::Tensor> BiasOrZeros(bool bias, const std::string& name, int64_t n) {
    if (bias) return Get(name, {n});
    return torch::zeros({n}, torch::TensorOptions().dtype(dtype_));
  }
  void Put(const std::string& name, const torch::Tensor& t) {
    out_.emplace_back(name, t.contiguous());
  }
  // Our tensor as it is, under HF's name.
  absl::Status Copy(const std::string& hf, const std::string& name,
                    const std::vector<int64_t>& shape) {
    ASSIGN_OR_RETURN(torch::Tensor t, Get(name, shape));
    Put(hf, t);
    return absl::OkStatus();
  }
  std::vector<std::pair<std::string, torch::Tensor>> Take() { return std::move(out_); }

 private:
  const std::map<std::string, torch::Tensor>& ours_;
  torch::Dtype dtype_;
  std::vector<std::pair<std::string, torch::Tensor>> out_;
};

absl::Status ConvertGpt2(const Sizes& s, Converter& c) {
  const int64_t h = s.hidden, f = s.ffn;
  RETURN_IF_ERROR(c.Copy("transformer.wte.weight", "embedding.tokens.weight", {s.vocab, h}));
  RETURN_IF_ERROR(c.Copy("transformer.wpe.weight", "embedding.positions.weight", {s.positions, h}));
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string ours = absl::StrCat("layer", i, ".");
    const std::string hf = absl::StrCat("transformer.h.", i, ".");
    for (const char* ln : {"1", "2"}) {
      for (const char* p : {"weight", "bias"}) {
        RETURN_IF_ERROR(
            c.Copy(absl::StrCat(hf, "ln_", ln, ".", p), absl::StrCat(ours, "ln", ln, ".", p), {h}));
      }
    }
    // Conv1D computes x · W + b with W as [in, out]: our Linear weights
    // ([out, in]) transposed; q, k and v side by side in c_attn's columns.
    ASSIGN_OR_RETURN(torch::Tensor q, c.Get(ours + "q.weight", {h, h}));
    ASSIGN_OR_RETURN(torch::Tensor k, c.Get(ours + "k.weight", {h, h}));
    ASSIGN_OR_RETURN(torch::Tensor v, c.Get(ours + "v.weight", {h, h}));
    c.Put(hf + "attn.c_attn.weight", torch::cat({q, k, v}, 0).t());
    ASSIGN_OR_RETURN(torch::Tensor qb, c.BiasOrZeros(s.bias, ours + "q.bias", h));
    ASSIGN_OR_RETURN(torch::Tensor kb, c.BiasOrZeros(s.bias, ours + "k.bias", h));
    ASSIGN_OR_RETURN(torch::Tensor vb, c.BiasOrZeros(s.bias, ours + "v.bias", h));
    c.Put(hf + "attn.c_attn.bias", torch::cat({qb, kb, vb}, 0));
    ASSIGN_OR_RETURN(torch::Tensor o, c.Get(ours + "o.weight", {h, h}));
    c.Put(hf + "attn.c_proj.weight", o.t());
    ASSIGN_OR_RETURN(torch::Tensor ob, c.BiasOrZeros(s.bias, ours + "o_bias", h));
    c.Put(hf + "attn.c_proj.bias", ob);
    ASSIGN_OR_RETURN(torch::Tensor up, c.Get(ours + "up.weight", {f, h}));
    c.Put(hf + "mlp.c_fc.weight", up.t());
    ASSIGN_OR_RETURN(torch::Tensor upb, c.BiasOrZeros(s.bias, ours + "up.bias", f));
    c.Put(hf + "mlp.c_fc.bias", upb);
    ASSIGN_OR_RETURN(torch::Tensor down, c.Get(ours + "down.weight", {h, f}));
    c.Put(hf + "mlp.c_proj.weight", down.t());
    ASSIGN_OR_RETURN(torch::Tensor downb, c.BiasOrZeros(s.bias, ours + "down_bias", h));
    c.Put(hf + "mlp.c_proj.bias", downb);
  }
  RETURN_IF_ERROR(c.Copy("transformer.ln_f.weight", "embedding.final_ln.weight", {h}));
  RETURN_IF_ERROR(c.Copy("transformer.ln_f.bias", "embedding.final_ln.bias", {h}));
  if (!s.tied) RETURN_IF_ERROR(c.Copy("lm_head.weight", "embedding.head.weight", {s.vocab, h}));
  return absl::OkStatus();
}

absl::Status ConvertLlama(const Sizes& s, Converter& c) {
  const int64_t h = s.hidden, f = s.ffn, q = s.heads * s.head_dim, kv = s.kv_heads * s.head_dim;
  RETURN_IF_ERROR(c.Copy("model.embed_tokens.weight", "embedding.tokens.weight", {s.vocab, h}));
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string ours = absl::StrCat("layer", i, ".");
    const std::string hf = absl::StrCat("model.layers.", i, ".");
    RETURN_IF_ERROR(c.Copy(hf + "input_layernorm.weight", ours + "rms1", {h}));
    RETURN_IF_ERROR(c.Copy(hf + "post_attention_layernorm.weight", ours + "rms2", {h}));
    // Our RoPE rotates the halves of each head ([x1, x2] → [x1·cos − x2·sin,
    // x2·cos + x1·sin]), as HF's rotate_half does: rows as they are.
    RETURN_IF_ERROR(c.Copy(hf + "self_attn.q_proj.weight", ours + "q.weight", {q, h}));
    RETURN_IF_ERROR(c.Copy(hf + "self_attn.k_proj.weight", ours + "k.weight", {kv, h}));
    RETURN_IF_ERROR(c.Copy(hf + "self_attn.v_proj.weight", ours + "v.weight", {kv, h}));
    RETURN_IF_ERROR(c.Copy(hf + "self_attn.o_proj.weight", ours + "o.weight", {h, q}));
    RETURN_IF_ERROR(c.Copy(hf + "mlp.gate_proj.weight", ours + "gate.weight", {f, h}));
    RETURN_IF_ERROR(c.Copy(hf + "mlp.up_proj.weight", ours + "up.weight", {f, h}));
    RETURN_IF_ERROR(c.Copy(hf + "mlp.down_proj.weight", ours + "down.weight", {h, f}));
    if (s.bias) {  // attention_bias (q, k, v, o) and mlp_bias (gate, up, down)
      RETURN_IF_ERROR(c.Copy(hf + "self_attn.q_proj.bias", ours + "q.bias", {q}));
      RETURN_IF_ERROR(c.Copy(hf + "self_attn.k_proj.bias", ours + "k.bias", {kv}));
      RETURN_IF_ERROR(c.Copy(hf + "self_attn.v_proj.bias", ours + "v.bias", {kv}));
      RETURN_IF_ERROR(c.Copy(hf + "self_attn.o_proj.bias", ours + "o_bias", {h}));
      RETURN_IF_ERROR(c.Copy(hf + "mlp.gate_proj.bias", ours + "gate.bias", {f}));
      RETURN_IF_ERROR(c.Copy(hf + "mlp.up_proj.bias", ours + "up.bias", {f}));
      RETURN_IF_ERROR(c.Copy(hf + "mlp.down_proj.bias", ours + "down_bias", {h}));
    }
  }
  RETURN_IF_ERROR(c.Copy("model.norm.weight", "embedding.final_rms", {h}));
  if (!s.tied) RETURN_IF_ERROR(c.Copy("lm_head.weight", "embedding.head.weight", {s.vocab, h}));
  return absl::OkStatus();
}

nlohmann::ordered_json Gpt2Config(const Sizes& s, torch::Dtype dtype,
                                  std::vector<std::string>* notes) {
  nlohmann::ordered_json c;
  c["architectures"] = {"GPT2LMHeadModel"};
  c["model_type"] = "gpt2";
  c["vocab_size"] = s.vocab;
  c["n_positions"] = s.positions;
  c["n_embd"] = s.hidden;
  c["n_layer"] = s.layers;
  c["n_head"] = s.heads;
  c["n_inner"] = s.ffn;
  c["activation_function"] = "gelu";
  c["layer_norm_epsilon"] = kOurNormEps;
  c["resid_pdrop"] = 0.0;
  c["embd_pdrop"] = 0.0;
  c["attn_pdrop"] = 0.0;
  c["scale_attn_weights"] = true;
  c["tie_word_embeddings"] = s.tied;
  c["torch_dtype"] = DtypeName(dtype);
  notes->push_back(
      "activation_function is \"gelu\" (the exact, erf-based GELU our MLP computes), not "
      "GPT-2's \"gelu_new\" (the tanh approximation): load with this config");
  if (!s.bias) {
    notes->push_back(
        "the model's layers have no biases: attn.c_attn, attn.c_proj, mlp.c_fc and mlp.c_proj "
        "biases are written as zeros (GPT-2's Conv1D always has one)");
  }
  return c;
}

nlohmann::ordered_json LlamaConfig(const Sizes& s, torch::Dtype dtype,
                                   std::vector<std::string>* notes) {
  nlohmann::ordered_json c;
  c["architectures"] = {"LlamaForCausalLM"};
  c["model_type"] = "llama";
  c["vocab_size"] = s.vocab;
  c["hidden_size"] = s.hidden;
  c["intermediate_size"] = s.ffn;
  c["num_hidden_layers"] = s.layers;
  c["num_attention_heads"] = s.heads;
  c["num_key_value_heads"] = s.kv_heads;
  c["head_dim"] = s.head_dim;
  c["hidden_act"] = "silu";
  c["max_position_embeddings"] = s.positions;
  c["rms_norm_eps"] = kOurNormEps;
  c["rope_theta"] = kOurRopeTheta;
  c["rope_scaling"] = nullptr;
  c["attention_bias"] = s.bias;
  c["mlp_bias"] = s.bias;
  c["attention_dropout"] = 0.0;
  c["tie_word_embeddings"] = s.tied;
  c["torch_dtype"] = DtypeName(dtype);
  notes->push_back(
      "rms_norm_eps is 1e-05 (our RMSNorm's); LlamaConfig's default is 1e-06: load with this "
      "config");
  if (s.head_dim * s.heads != s.hidden) {
    notes->push_back(absl::StrCat("head_dim ", s.head_dim, " is not hidden / heads (", s.hidden,
                                  " / ", s.heads,
                                  "): transformers versions that ignore config.head_dim cannot "
                                  "load it"));
  }
  if (s.bias) {
    notes->push_back(
        "the layers have biases: attention_bias (q, k, v, o) and mlp_bias (gate, up, down) are "
        "set; transformers versions without mlp_bias cannot load the MLP's biases");
  }
  if (dtype != torch::kFloat32) {
    notes->push_back(
        "HF's LlamaRMSNorm normalises in float32 and casts back (float64 models too); our RMSNorm "
        "computes in the activations' dtype, so outputs differ by float32 rounding");
  }
  return c;
}

}  // namespace

absl::Status CheckExportable(const v1::ModelSpec& model) { return CheckHfExportable(model); }

absl::StatusOr<HfModel> ToHuggingFace(const v1::ModelSpec& model,
                                      const std::map<std::string, torch::Tensor>& ours,
                                      torch::Dtype dtype) {
  RETURN_IF_ERROR(CheckExportable(model));
  if (DtypeName(dtype) == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "dtype ", c10::toString(dtype), ": expected float64, float32, bfloat16 or float16"));
  }
  torch::NoGradGuard no_grad;
  const Sizes s = SizesOf(model);
  Converter converter(ours, dtype);
  HfModel hf;
  nlohmann::ordered_json config;
  if (model.family() == v1::MODEL_FAMILY_GPT) {
    hf.architecture = "GPT2LMHeadModel";
    RETURN_IF_ERROR(ConvertGpt2(s, converter));
    config = Gpt2Config(s, dtype, &hf.notes);
  } else {
    hf.architecture = "LlamaForCausalLM";
    RETURN_IF_ERROR(ConvertLlama(s, converter));
    config = LlamaConfig(s, dtype, &hf.notes);
  }
  hf.tensors = converter.Take();
  hf.config_json = config.dump(2);
  return hf;
}

absl::Status WriteHfSafetensors(const std::string& path, const HfModel& hf,
                                const std::string& model_name) {
  std::vector<SafetensorsTensor> tensors;
  tensors.reserve(hf.tensors.size());
  for (const auto& [name, t] : hf.tensors) {
    ASSIGN_OR_RETURN(const TensorDtype dtype, SafetensorsDtypeOf(t.scalar_type()));
    SafetensorsTensor out;
    out.name = name;
    out.dtype = dtype;
    out.shape.assign(t.sizes().begin(), t.sizes().end());
    out.data = t.data_ptr();
    out.bytes = static_cast<size_t>(t.numel()) * t.element_size();
    tensors.push_back(std::move(out));
  }
  std::map<std::string, std::string> metadata = {
      {"format", "pt"},  // transformers' from_pretrained requires it
      {"galvatron.model", model_name},
      {"galvatron.architecture", hf.architecture},
      {"galvatron.config", hf.config_json},
  };
  if (!hf.notes.empty()) metadata["galvatron.notes"] = absl::StrJoin(hf.notes, "\n");
  return WriteSafetensors(path, tensors, metadata);
}

absl::StatusOr<HfModel> ExportHuggingFace(const std::string& path, const v1::ModelSpec& model,
                                          const std::map<std::string, torch::Tensor>& ours,
                                          torch::Dtype dtype) {
  ASSIGN_OR_RETURN(HfModel hf, ToHuggingFace(model, ours, dtype));
  RETURN_IF_ERROR(WriteHfSafetensors(path, hf, model.name()));
  int64_t bytes = 0;
  for (const auto& [name, t] : hf.tensors) bytes += t.numel() * t.element_size();
  spdlog::info("export: {} as {}: {} tensors, {} bytes of {} written to {}", model.name(),
               hf.architecture, hf.tensors.size(), bytes, DtypeName(dtype), path);
  for (const std::string& note : hf.notes) spdlog::warn("export: {}", note);
  return hf;
}

}  // namespace galvatron::runtime
