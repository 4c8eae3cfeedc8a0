#include "agent/runtime/blocks/blocks.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace galvatron::runtime {
namespace {

constexpr double kNormEps = 1e-5;

torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight) {
  return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + kNormEps) * weight;
}

// LLaMA's rotary embedding (the rotate-half form) on [b, heads, s, d].
torch::Tensor Rope(const torch::Tensor& x) {
  const int64_t s = x.size(2), d = x.size(3), half = d / 2;
  auto options = torch::TensorOptions().dtype(torch::kFloat32).device(x.device());
  torch::Tensor inv = torch::pow(10000.0, -torch::arange(0, half, options) * 2.0 / d);
  torch::Tensor angles = torch::outer(torch::arange(0, s, options), inv);  // [s, half]
  torch::Tensor cos = angles.cos().to(x.dtype()), sin = angles.sin().to(x.dtype());
  torch::Tensor x1 = x.slice(-1, 0, half), x2 = x.slice(-1, half, d);
  return torch::cat({x1 * cos - x2 * sin, x1 * sin + x2 * cos}, -1);
}

torch::nn::Linear MakeLinear(int64_t in, int64_t out, bool bias) {
  return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
}

}  // namespace

absl::StatusOr<BlockShape> ResolveBlockShape(const v1::ModelSpec& model, int group_index, int tp) {
  if (group_index < 0 || group_index >= model.layers_size()) {
    return absl::InvalidArgumentError(absl::StrCat("group_index: ", group_index, ", expected 0..",
                                                   model.layers_size() - 1));
  }
  const v1::LayerGroup& g = model.layers(group_index);
  BlockShape shape;
  shape.kind = g.kind();
  if (g.kind() != v1::LAYER_KIND_GPT_DECODER && g.kind() != v1::LAYER_KIND_LLAMA_DECODER &&
      g.kind() != v1::LAYER_KIND_BERT_ENCODER) {
    return absl::UnimplementedError(absl::StrCat(
        "layers[", group_index, "].kind: ", v1::LayerKind_Name(g.kind()),
        " has no block implementation yet (GPT, LLaMA and BERT blocks do)"));
  }
  const int heads = g.heads();
  const int kv = g.kv_heads() > 0 ? g.kv_heads() : heads;
  if (tp < 1 || heads % tp != 0 || g.ffn_hidden() % tp != 0) {
    return absl::InvalidArgumentError(absl::StrCat("tp: ", tp, ", expected a divisor of the heads (",
                                                   heads, ") and the MLP width (", g.ffn_hidden(),
                                                   ") of layers[", group_index, "]"));
  }
  shape.hidden = g.hidden();
  shape.ffn = g.ffn_hidden() / tp;
  shape.heads = heads / tp;
  shape.kv_heads = std::max(1, kv / tp);  // Megatron replicates KV heads beyond their count
  shape.head_dim = g.head_dim() > 0 ? g.head_dim() : g.hidden() / heads;
  shape.seq_len = g.seq_len() > 0 ? g.seq_len() : model.seq_len();
  shape.bias = g.bias();
  shape.causal = g.kind() != v1::LAYER_KIND_BERT_ENCODER;
  return shape;
}

torch::Tensor ShapeOnlyComm::GatherSequence(const torch::Tensor& x) {
  return torch::cat(std::vector<torch::Tensor>(static_cast<size_t>(size_), x), 1);
}

torch::Tensor ShapeOnlyComm::ReduceScatterSequence(const torch::Tensor& x) {
  return x.narrow(1, 0, x.size(1) / size_).clone();
}

torch::Tensor ShapeOnlyComm::SequenceToHeads(const torch::Tensor& x) {
  return GatherSequence(x).narrow(2, 0, x.size(2) / size_).clone();
}

torch::Tensor ShapeOnlyComm::HeadsToSequence(const torch::Tensor& x) {
  torch::Tensor local = x.narrow(1, 0, x.size(1) / size_);
  return torch::cat(std::vector<torch::Tensor>(static_cast<size_t>(size_), local), 2);
}

TransformerBlockImpl::TransformerBlockImpl(const BlockShape& shape, const BlockOptions& options)
    : shape_(shape), sp_(options.sp), comm_(options.comm) {
  const int64_t h = shape.hidden, d = shape.head_dim;
  const bool llama = shape.kind == v1::LAYER_KIND_LLAMA_DECODER;
  if (llama) {
    rms1_ = register_parameter("rms1", torch::ones({h}));
    rms2_ = register_parameter("rms2", torch::ones({h}));
  } else {
    ln1_ = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h})));
    ln2_ = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h})));
  }
  q_ = register_module("q", MakeLinear(h, shape.heads * d, shape.bias));
  k_ = register_module("k", MakeLinear(h, shape.kv_heads * d, shape.bias));
  v_ = register_module("v", MakeLinear(h, shape.kv_heads * d, shape.bias));
  o_ = register_module("o", MakeLinear(shape.heads * d, h, shape.bias));
  up_ = register_module("up", MakeLinear(h, shape.ffn, shape.bias));
  if (llama) gate_ = register_module("gate", MakeLinear(h, shape.ffn, shape.bias));
  down_ = register_module("down", MakeLinear(shape.ffn, h, shape.bias));
  to(options.device, options.dtype);
}

torch::Tensor TransformerBlockImpl::Norm(int which, const torch::Tensor& x) {
  if (shape_.kind == v1::LAYER_KIND_LLAMA_DECODER) return RmsNorm(x, which == 1 ? rms1_ : rms2_);
  return which == 1 ? ln1_(x) : ln2_(x);
}

torch::Tensor TransformerBlockImpl::Attention(const torch::Tensor& input) {
  const bool megatron = sp_ == v1::SEQUENCE_PARALLEL_MEGATRON && comm_;
  const bool ulysses = sp_ == v1::SEQUENCE_PARALLEL_ULYSSES && comm_;
  const torch::Tensor x = megatron ? comm_->GatherSequence(input) : input;
  const int64_t b = x.size(0), s_local = x.size(1), d = shape_.head_dim;
  auto split = [&](const torch::Tensor& t, int64_t n) { return t.view({b, s_local, n, d}); };
  torch::Tensor q = split(q_(x), shape_.heads);
  torch::Tensor k = split(k_(x), shape_.kv_heads);
  torch::Tensor v = split(v_(x), shape_.kv_heads);
  int64_t heads = shape_.heads, kv_heads = shape_.kv_heads;
  if (ulysses) {
    const int n = comm_->size();
    if (kv_heads % n != 0) {  // fewer KV heads than ranks: share them out as query heads
      k = k.repeat_interleave(heads / kv_heads, 2);
      v = v.repeat_interleave(heads / kv_heads, 2);
      kv_heads = heads;
    }
    q = comm_->SequenceToHeads(q);
    k = comm_->SequenceToHeads(k);
    v = comm_->SequenceToHeads(v);
    heads /= n;
    kv_heads /= n;
  }
  q = q.transpose(1, 2);  // [b, heads, s, d]
  k = k.transpose(1, 2);
  v = v.transpose(1, 2);
  const int64_t s = q.size(2);
  if (shape_.kind == v1::LAYER_KIND_LLAMA_DECODER) {
    q = Rope(q);
    k = Rope(k);
  }
  if (kv_heads != heads) {  // grouped-query attention
    k = k.repeat_interleave(heads / kv_heads, 1);
    v = v.repeat_interleave(heads / kv_heads, 1);
  }
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
  if (shape_.causal) {
    torch::Tensor mask =
        torch::ones({s, s}, torch::TensorOptions().dtype(torch::kBool).device(x.device())).triu(1);
    scores = scores.masked_fill(mask, -std::numeric_limits<double>::infinity());
  }
  torch::Tensor context = torch::matmul(torch::softmax(scores, -1), v).transpose(1, 2);  // [b, s, heads, d]
  if (ulysses) {
    context = comm_->HeadsToSequence(context);
    heads *= comm_->size();
  }
  torch::Tensor out = o_(context.reshape({b, context.size(1), heads * d}));
  return RowParallelOutput(out);
}

torch::Tensor TransformerBlockImpl::RowParallelOutput(const torch::Tensor& partial) {
  if (!comm_ || sp_ == v1::SEQUENCE_PARALLEL_ULYSSES) return partial;
  if (sp_ == v1::SEQUENCE_PARALLEL_MEGATRON) return comm_->ReduceScatterSequence(partial);
  return comm_->AllReduce(partial);
}

torch::Tensor TransformerBlockImpl::Mlp(const torch::Tensor& input) {
  const torch::Tensor x = sp_ == v1::SEQUENCE_PARALLEL_MEGATRON && comm_
                              ? comm_->GatherSequence(input)
                              : input;
  if (shape_.kind == v1::LAYER_KIND_LLAMA_DECODER) {
    return RowParallelOutput(down_(torch::silu(gate_(x)) * up_(x)));  // SwiGLU
  }
  return RowParallelOutput(down_(torch::gelu(up_(x))));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& x) {
  if (shape_.kind == v1::LAYER_KIND_BERT_ENCODER) {  // post-LN
    torch::Tensor y = Norm(1, x + Attention(x));
    return Norm(2, y + Mlp(y));
  }
  torch::Tensor y = x + Attention(Norm(1, x));
  return y + Mlp(Norm(2, y));
}

EmbeddingHeadImpl::EmbeddingHeadImpl(const v1::ModelSpec& model, HeadPart part,
                                     const BlockOptions& options)
    : family_(model.family()), part_(part) {
  hidden_ = model.layers_size() > 0 ? model.layers(0).hidden() : 0;
  const int64_t last_hidden = model.layers_size() > 0 ? model.layers(model.layers_size() - 1).hidden() : 0;
  const int tp = std::max(1, options.tp);
  vocab_shard_ = model.vocab_size() / tp;
  tied_ = model.tie_embeddings();
  const bool llama = family_ == v1::MODEL_FAMILY_LLAMA;
  const bool bert = family_ == v1::MODEL_FAMILY_BERT;
  const bool embed = part != HeadPart::kHead;
  const bool head = part != HeadPart::kEmbedding;
  if (embed || (head && tied_)) {
    // With tied weights the last stage keeps its own copy (as Megatron does).
    tokens_ = register_module("tokens", torch::nn::Embedding(vocab_shard_, hidden_));
  }
  if (embed && !llama) {
    positions_ = register_module("positions", torch::nn::Embedding(model.seq_len(), hidden_));
  }
  if (embed && bert) {
    segments_ = register_module("segments", torch::nn::Embedding(2, hidden_));
    embed_ln_ = register_module("embed_ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden_})));
  }
  if (head) {
    if (llama) {
      final_rms_ = register_parameter("final_rms", torch::ones({last_hidden}));
    } else if (bert) {
      mlm_dense_ = register_module("mlm_dense", MakeLinear(last_hidden, last_hidden, true));
      final_ln_ = register_module("final_ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({last_hidden})));
    } else {
      final_ln_ = register_module("final_ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({last_hidden})));
    }
    if (!tied_) head_ = register_module("head", MakeLinear(last_hidden, vocab_shard_, false));
    if (bert && tied_) head_bias_ = register_parameter("head_bias", torch::zeros({vocab_shard_}));
  }
  to(options.device, options.dtype);
}

torch::Tensor EmbeddingHeadImpl::Embed(const torch::Tensor& tokens) {
  // The vocab-parallel lookup of rank 0: ids outside its slice read row 0
  // (masked to zero before the all-reduce in the runtime).
  torch::Tensor ids = tokens.remainder(vocab_shard_);
  torch::Tensor x = tokens_(ids);
  if (positions_) {
    x = x + positions_(torch::arange(tokens.size(1), tokens.options())).unsqueeze(0);
  }
  if (segments_) {
    x = x + segments_(torch::zeros_like(tokens));
    x = embed_ln_(x);
  }
  return x;
}

torch::Tensor EmbeddingHeadImpl::Loss(const torch::Tensor& hidden, const torch::Tensor& labels) {
  torch::Tensor h = hidden;
  if (final_rms_.defined()) {
    h = RmsNorm(h, final_rms_);
  } else if (mlm_dense_) {
    h = final_ln_(torch::gelu(mlm_dense_(h)));
  } else {
    h = final_ln_(h);
  }
  torch::Tensor logits =
      tied_ ? torch::matmul(h, tokens_->weight.t()) : head_(h);
  if (head_bias_.defined()) logits = logits + head_bias_;
  // Half-precision logits are upcast for the softmax; fp32/fp64 stay as they are.
  if (logits.scalar_type() == torch::kBFloat16 || logits.scalar_type() == torch::kHalf) {
    logits = logits.to(torch::kFloat32);
  }
  return torch::nn::functional::cross_entropy(logits.reshape({-1, vocab_shard_}),
                                              labels.reshape({-1}).remainder(vocab_shard_));
}

int64_t ParameterCount(torch::nn::Module& module) {
  int64_t count = 0;
  for (const torch::Tensor& p : module.parameters()) count += p.numel();
  return count;
}

}  // namespace galvatron::runtime
