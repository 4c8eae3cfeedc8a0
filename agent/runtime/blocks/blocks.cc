#include "agent/runtime/blocks/blocks.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace galvatron::runtime {

torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  return x * torch::rsqrt(x.pow(2).mean(-1, /*keepdim=*/true) + eps) * weight;
}

namespace {

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
    return absl::InvalidArgumentError(
        absl::StrCat("group_index: ", group_index, ", expected 0..", model.layers_size() - 1));
  }
  const v1::LayerGroup& g = model.layers(group_index);
  BlockShape shape;
  shape.kind = g.kind();
  if (g.kind() != v1::LAYER_KIND_GPT_DECODER && g.kind() != v1::LAYER_KIND_LLAMA_DECODER &&
      g.kind() != v1::LAYER_KIND_BERT_ENCODER && g.kind() != v1::LAYER_KIND_VIT_ENCODER &&
      g.kind() != v1::LAYER_KIND_SWIN_BLOCK && !IsT5Kind(g.kind())) {
    return absl::UnimplementedError(absl::StrCat(
        "layers[", group_index, "].kind: ", v1::LayerKind_Name(g.kind()),
        " has no block implementation yet (GPT, LLaMA, BERT, T5, ViT and Swin blocks do)"));
  }
  const int heads = g.heads();
  const int kv = g.kv_heads() > 0 ? g.kv_heads() : heads;
  if (tp < 1 || heads % tp != 0 || g.ffn_hidden() % tp != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tp: ", tp, ", expected a divisor of the heads (", heads,
                     ") and the MLP width (", g.ffn_hidden(), ") of layers[", group_index, "]"));
  }
  shape.hidden = g.hidden();
  shape.ffn = g.ffn_hidden() / tp;
  shape.heads = heads / tp;
  shape.kv_heads = std::max(1, kv / tp);  // Megatron replicates KV heads beyond their count
  shape.total_kv_heads = kv;
  shape.head_dim = g.head_dim() > 0 ? g.head_dim() : g.hidden() / heads;
  shape.seq_len = g.seq_len() > 0 ? g.seq_len() : model.seq_len();
  shape.bias = g.bias();
  // ViT's encoder is GPT's pre-LN block (GELU MLP, biases) without the mask.
  shape.causal = g.kind() != v1::LAYER_KIND_BERT_ENCODER &&
                 g.kind() != v1::LAYER_KIND_VIT_ENCODER && g.kind() != v1::LAYER_KIND_T5_ENCODER &&
                 g.kind() != v1::LAYER_KIND_SWIN_BLOCK;
  if (IsT5Kind(g.kind())) RETURN_IF_ERROR(ResolveT5Shape(model, group_index, &shape));
  if (g.kind() == v1::LAYER_KIND_SWIN_BLOCK) {
    RETURN_IF_ERROR(ResolveSwinShape(model, group_index, &shape));
  }
  return shape;
}

torch::Tensor ShapeOnlyComm::GatherSequence(const torch::Tensor& x) {
  return torch::cat(std::vector<torch::Tensor>(static_cast<size_t>(size_), x), 1);
}

torch::Tensor ShapeOnlyComm::ReduceScatterSequence(const torch::Tensor& x) {
  return x.narrow(1, 0, x.size(1) / size_).clone();
}

torch::Tensor ShapeOnlyComm::VocabCrossEntropy(const torch::Tensor& logits,
                                               const torch::Tensor& labels) {
  const int64_t vocab = logits.size(-1);
  return torch::nn::functional::cross_entropy(
      logits.reshape({-1, vocab}), labels.reshape({-1}).remainder(vocab),
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
}

torch::Tensor ShapeOnlyComm::SequenceToHeads(const torch::Tensor& x) {
  return GatherSequence(x).narrow(2, 0, x.size(2) / size_).clone();
}

torch::Tensor ShapeOnlyComm::HeadsToSequence(const torch::Tensor& x) {
  torch::Tensor local = x.narrow(1, 0, x.size(1) / size_);
  return torch::cat(std::vector<torch::Tensor>(static_cast<size_t>(size_), local), 2);
}

TransformerBlockImpl::TransformerBlockImpl(const BlockShape& shape, const BlockOptions& options)
    : shape_(shape),
      sp_(options.sp),
      comm_(options.comm),
      tp_(std::max(1, options.tp)),
      tp_rank_(options.tp_rank) {
  if (IsT5Kind(shape.kind) || shape.kind == v1::LAYER_KIND_SWIN_BLOCK) {
    if (IsT5Kind(shape.kind)) {
      AddT5Modules(shape);
    } else {
      AddSwinModules(shape);
    }
    to(options.device, options.dtype);
    return;
  }
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
  o_ = register_module("o", MakeLinear(shape.heads * d, h, false));
  if (shape.bias) o_bias_ = register_parameter("o_bias", torch::zeros({h}));
  up_ = register_module("up", MakeLinear(h, shape.ffn, shape.bias));
  if (llama) gate_ = register_module("gate", MakeLinear(h, shape.ffn, shape.bias));
  down_ = register_module("down", MakeLinear(shape.ffn, h, false));
  if (shape.bias) down_bias_ = register_parameter("down_bias", torch::zeros({h}));
  to(options.device, options.dtype);
}

std::vector<ParamShard> TransformerBlockImpl::Shards() const {
  const int64_t h = shape_.hidden, d = shape_.head_dim;
  const bool split = tp_ > 1;  // Megatron TP (Ulysses keeps whole weights: tp_ is 1)
  const bool sequence = comm_ && sp_ != v1::SEQUENCE_PARALLEL_NONE;
  // What whole tensors are to the group: the same on every member; their
  // gradients partial when each member saw a slice of the sequence.
  const ParamShard::Grad whole = sequence ? ParamShard::Grad::kPartial
                                 : split  ? ParamShard::Grad::kReplicated
                                          : ParamShard::Grad::kOwn;
  std::vector<ParamShard> shards;
  auto add_whole = [&](const std::string& name, std::vector<int64_t> shape) {
    shards.push_back({name, std::move(shape), -1, 0, whole});
  };
  // A tensor split along `dim` into tp_ slices of `local` rows/columns.
  auto add_split = [&](const std::string& name, std::vector<int64_t> shape, int dim,
                       int64_t local) {
    if (!split) return add_whole(name, std::move(shape));
    shape[static_cast<size_t>(dim)] = local * tp_;
    shards.push_back({name, std::move(shape), dim, local * tp_rank_,
                      sequence ? ParamShard::Grad::kPartial : ParamShard::Grad::kOwn});
  };
  // Under Megatron-SP the split weights see the whole (gathered) sequence:
  // their gradients are complete.
  auto fix_split = [&] {
    for (ParamShard& s : shards) {
      if (s.dim >= 0) s.grad = ParamShard::Grad::kOwn;
    }
  };
  if (shape_.kind == v1::LAYER_KIND_LLAMA_DECODER || IsT5Kind(shape_.kind)) {
    add_whole("rms1", {h});
    add_whole("rms2", {h});
  } else {
    for (const char* ln : {"ln1", "ln2"}) {
      add_whole(absl::StrCat(ln, ".weight"), {h});
      add_whole(absl::StrCat(ln, ".bias"), {h});
    }
  }
  const int64_t q = shape_.heads * d, kv = shape_.kv_heads * d;
  add_split("q.weight", {q, h}, 0, q);
  // With more tp ranks than KV heads, rank t holds head t·kv/tp (the one its
  // query heads use), shared by tp/kv ranks.
  const bool shared_kv = split && shape_.kv_heads * tp_ > shape_.total_kv_heads;
  auto add_kv = [&](const std::string& name, std::vector<int64_t> shape) {
    if (!shared_kv) return add_split(name, std::move(shape), 0, kv);
    shape[0] = shape_.total_kv_heads * d;
    const int shared_by = static_cast<int>(tp_ / shape_.total_kv_heads);
    shards.push_back(
        {name, std::move(shape), 0, (tp_rank_ / shared_by) * d, ParamShard::Grad::kOwn, shared_by});
  };
  add_kv("k.weight", {kv, h});
  add_kv("v.weight", {kv, h});
  add_split("o.weight", {h, q}, 1, q);
  add_split("up.weight", {shape_.ffn, h}, 0, shape_.ffn);
  if (gate_) add_split("gate.weight", {shape_.ffn, h}, 0, shape_.ffn);
  add_split("down.weight", {h, shape_.ffn}, 1, shape_.ffn);
  if (shape_.bias) {
    add_split("q.bias", {q}, 0, q);
    add_kv("k.bias", {kv});
    add_kv("v.bias", {kv});
    add_split("up.bias", {shape_.ffn}, 0, shape_.ffn);
    if (gate_) add_split("gate.bias", {shape_.ffn}, 0, shape_.ffn);
    add_whole("o_bias", {h});
    add_whole("down_bias", {h});
  }
  if (relative_bias_.defined()) {
    add_split("relative_bias", {shape_.relative_buckets, shape_.heads}, 1, shape_.heads);
  }
  if (cq_) {
    add_whole("rms_cross", {h});
    add_split("cq.weight", {q, h}, 0, q);
    add_split("ck.weight", {q, h}, 0, q);
    add_split("cv.weight", {q, h}, 0, q);
    add_split("co.weight", {h, q}, 1, q);
  }
  if (encoder_final_rms_.defined()) add_whole("encoder_final_rms", {h});
  if (merge_) {
    // Every tp rank merges the same (replicated) tokens.
    const int64_t joined = 4 * shape_.merge_from_hidden;
    add_whole("merge_norm.weight", {joined});
    add_whole("merge_norm.bias", {joined});
    add_whole("merge.weight", {h, joined});
  }
  if (sp_ == v1::SEQUENCE_PARALLEL_MEGATRON) fix_split();
  return shards;
}

torch::Tensor TransformerBlockImpl::Norm(int which, const torch::Tensor& x) {
  if (shape_.kind == v1::LAYER_KIND_LLAMA_DECODER) {
    return RmsNorm(x, which == 1 ? rms1_ : rms2_, kNormEps);
  }
  return which == 1 ? ln1_(x) : ln2_(x);
}

torch::Tensor TransformerBlockImpl::Attention(const torch::Tensor& input) {
  const bool megatron = sp_ == v1::SEQUENCE_PARALLEL_MEGATRON && comm_;
  const bool ulysses = sp_ == v1::SEQUENCE_PARALLEL_ULYSSES && comm_;
  const bool tensor = !megatron && !ulysses && comm_ && tp_ > 1;
  const torch::Tensor x = megatron ? comm_->GatherSequence(input)
                          : tensor ? comm_->CopyToGroup(input)
                                   : input;
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
  torch::Tensor context =
      torch::matmul(torch::softmax(scores, -1), v).transpose(1, 2);  // [b, s, heads, d]
  if (ulysses) {
    context = comm_->HeadsToSequence(context);
    heads *= comm_->size();
  }
  torch::Tensor out = RowParallelOutput(o_(context.reshape({b, context.size(1), heads * d})));
  return o_bias_.defined() ? out + o_bias_ : out;
}

torch::Tensor TransformerBlockImpl::RowParallelOutput(const torch::Tensor& partial) {
  if (!comm_ || sp_ == v1::SEQUENCE_PARALLEL_ULYSSES) return partial;
  if (sp_ == v1::SEQUENCE_PARALLEL_MEGATRON) return comm_->ReduceScatterSequence(partial);
  return comm_->AllReduce(partial);
}

torch::Tensor TransformerBlockImpl::Mlp(const torch::Tensor& input) {
  torch::Tensor x = input;
  if (comm_ && sp_ == v1::SEQUENCE_PARALLEL_MEGATRON) {
    x = comm_->GatherSequence(input);
  } else if (comm_ && sp_ == v1::SEQUENCE_PARALLEL_NONE && tp_ > 1) {
    x = comm_->CopyToGroup(input);
  }
  torch::Tensor inner;
  if (shape_.kind == v1::LAYER_KIND_LLAMA_DECODER) {
    inner = torch::silu(gate_(x)) * up_(x);  // SwiGLU
  } else if (IsT5Kind(shape_.kind)) {
    inner = shape_.gated_gelu ? torch::gelu(gate_(x), "tanh") * up_(x) : torch::relu(up_(x));
  } else {
    inner = torch::gelu(up_(x));
  }
  torch::Tensor out = RowParallelOutput(down_(inner));
  return down_bias_.defined() ? out + down_bias_ : out;
}

const torch::Tensor& TransformerBlockImpl::PositionIndex(
    const torch::Tensor& x, int64_t rows, int64_t columns,
    const std::function<torch::Tensor()>& build) {
  if (!position_index_.defined() || position_index_.size(0) != rows ||
      position_index_.size(1) != columns || position_index_.device() != x.device()) {
    position_index_ = build().to(x.device());
  }
  return position_index_;
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& x) {
  if (IsT5Kind(shape_.kind)) return T5Forward(x);
  if (shape_.kind == v1::LAYER_KIND_SWIN_BLOCK) return SwinForward(x);
  if (shape_.kind == v1::LAYER_KIND_BERT_ENCODER) {  // post-LN
    torch::Tensor y = Norm(1, x + Attention(x));
    return Norm(2, y + Mlp(y));
  }
  torch::Tensor y = x + Attention(Norm(1, x));
  return y + Mlp(Norm(2, y));
}

EmbeddingHeadImpl::EmbeddingHeadImpl(const v1::ModelSpec& model, HeadPart part,
                                     const BlockOptions& options)
    : family_(model.family()),
      part_(part),
      sp_(options.sp),
      comm_(options.comm),
      tp_(std::max(1, options.tp)),
      tp_rank_(options.tp_rank),
      vocab_(model.vocab_size()) {
  hidden_ = model.layers_size() > 0 ? model.layers(0).hidden() : 0;
  const int64_t last_hidden =
      model.layers_size() > 0 ? model.layers(model.layers_size() - 1).hidden() : 0;
  // Ulysses keeps whole tables; vocab tp splits them into contiguous slices.
  vocab_shard_ = sp_ == v1::SEQUENCE_PARALLEL_ULYSSES ? vocab_ : vocab_ / tp_;
  tied_ = model.tie_embeddings();
  const bool llama = family_ == v1::MODEL_FAMILY_LLAMA;
  const bool bert = family_ == v1::MODEL_FAMILY_BERT;
  const bool t5 = family_ == v1::MODEL_FAMILY_T5;
  const bool embed = part != HeadPart::kHead;
  const bool head = part != HeadPart::kEmbedding;
  if (vision()) {
    // ViT (Dosovitskiy et al. 2021): each patch flattened (channel, row,
    // column) and projected (the stride-p convolution as a linear), a class
    // token before them, learned positions; the head reads the class token
    // after a final LayerNorm. Nothing is split over the group: with tp > 1
    // every member computes the same embedding and head.
    const v1::VisionSpec& v = model.vision();
    patch_ = v.patch_size();
    channels_ = v.channels();
    classes_ = v.num_classes();
    // Swin (Liu et al. 2021): the same patch projection, normalised, no
    // class token and no positions (its blocks' relative bias); the head
    // reads the mean of the last stage's normalised tokens.
    if (embed) {
      patch_proj_ =
          register_module("patch", MakeLinear(int64_t{channels_} * patch_ * patch_, hidden_, true));
      if (family_ == v1::MODEL_FAMILY_SWIN) {
        patch_norm_ = register_module("patch_norm",
                                      torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden_})));
      } else {
        class_token_ = register_parameter("class_token", torch::zeros({1, 1, hidden_}));
        positions_ = register_module("positions", torch::nn::Embedding(model.seq_len(), hidden_));
      }
    }
    if (head) {
      final_ln_ = register_module("final_ln",
                                  torch::nn::LayerNorm(torch::nn::LayerNormOptions({last_hidden})));
      head_ = register_module("head", MakeLinear(last_hidden, classes_, true));
    }
    to(options.device, options.dtype);
    return;
  }
  if (embed || (head && tied_)) {
    // With tied weights the last stage keeps its own copy (as Megatron does).
    tokens_ = register_module("tokens", torch::nn::Embedding(vocab_shard_, hidden_));
  }
  if (embed && !llama && !t5) {  // T5's positions are its blocks' relative bias
    positions_ = register_module("positions", torch::nn::Embedding(model.seq_len(), hidden_));
  }
  if (embed && bert) {
    segments_ = register_module("segments", torch::nn::Embedding(2, hidden_));
    embed_ln_ =
        register_module("embed_ln", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden_})));
  }
  if (head) {
    if (llama || t5) {
      final_rms_ = register_parameter("final_rms", torch::ones({last_hidden}));
    } else if (bert) {
      mlm_dense_ = register_module("mlm_dense", MakeLinear(last_hidden, last_hidden, true));
      final_ln_ = register_module("final_ln",
                                  torch::nn::LayerNorm(torch::nn::LayerNormOptions({last_hidden})));
    } else {
      final_ln_ = register_module("final_ln",
                                  torch::nn::LayerNorm(torch::nn::LayerNormOptions({last_hidden})));
    }
    if (!tied_) head_ = register_module("head", MakeLinear(last_hidden, vocab_shard_, false));
    if (bert && tied_) head_bias_ = register_parameter("head_bias", torch::zeros({vocab_shard_}));
  }
  to(options.device, options.dtype);
}

torch::Tensor EmbeddingHeadImpl::Positions(int64_t offset, int64_t length,
                                           const torch::Tensor& like) {
  return positions_(torch::arange(offset, offset + length, like.options())).unsqueeze(0);
}

bool EmbeddingHeadImpl::vision() const {
  return family_ == v1::MODEL_FAMILY_VIT || family_ == v1::MODEL_FAMILY_SWIN;
}

torch::Tensor EmbeddingHeadImpl::DecoderPart(const torch::Tensor& hidden,
                                             const torch::Tensor& labels) const {
  if (family_ != v1::MODEL_FAMILY_T5) return hidden;
  const int64_t length = labels.size(1);
  return hidden.narrow(1, hidden.size(1) - length, length);
}

torch::Tensor EmbeddingHeadImpl::EmbedImages(const torch::Tensor& images) {
  // [b, C, H, W] → [b, (H/p)(W/p), C·p·p], patches in row-major order.
  const int64_t b = images.size(0), c = images.size(1), rows = images.size(2) / patch_,
                cols = images.size(3) / patch_;
  torch::Tensor patches = images.to(patch_proj_->weight.scalar_type())
                              .reshape({b, c, rows, patch_, cols, patch_})
                              .permute({0, 2, 4, 1, 3, 5})
                              .reshape({b, rows * cols, c * patch_ * patch_});
  if (patch_norm_) return patch_norm_(patch_proj_(patches));  // Swin
  torch::Tensor x = torch::cat({class_token_.expand({b, 1, hidden_}), patch_proj_(patches)}, 1);
  return x +
         positions_(torch::arange(x.size(1),
                                  torch::TensorOptions().dtype(torch::kInt64).device(x.device())))
             .unsqueeze(0);
}

torch::Tensor EmbeddingHeadImpl::ClassLossSum(const torch::Tensor& hidden,
                                              const torch::Tensor& labels) {
  torch::Tensor logits = family_ == v1::MODEL_FAMILY_SWIN ? head_(final_ln_(hidden).mean(1))
                                                          : head_(final_ln_(hidden.select(1, 0)));
  if (logits.scalar_type() == torch::kBFloat16 || logits.scalar_type() == torch::kHalf) {
    logits = logits.to(torch::kFloat32);
  }
  return torch::nn::functional::cross_entropy(
      logits, labels.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
}

torch::Tensor EmbeddingHeadImpl::Embed(const torch::Tensor& tokens) {
  if (vision()) return EmbedImages(tokens);
  // The vocab-parallel lookup of rank 0: ids outside its slice read row 0
  // (masked to zero before the all-reduce in the runtime).
  torch::Tensor ids = tokens.remainder(vocab_shard_);
  torch::Tensor x = tokens_(ids);
  if (positions_) x = x + Positions(0, tokens.size(1), tokens);
  if (segments_) {
    x = x + segments_(torch::zeros_like(tokens));
    x = embed_ln_(x);
  }
  return x;
}

torch::Tensor EmbeddingHeadImpl::EmbedParallel(const torch::Tensor& tokens) {
  if (vision()) return EmbedImages(tokens);  // the same on every member
  const int64_t s = tokens.size(1);
  int64_t offset = 0, length = s;
  torch::Tensor x;
  if (comm_ && sp_ == v1::SEQUENCE_PARALLEL_ULYSSES) {
    length = s / tp_;
    offset = tp_rank_ * length;
    x = tokens_(tokens.narrow(1, offset, length));
  } else if (comm_ && tp_ > 1) {
    // Each rank looks up the ids of its slice (others read zeros); the sum
    // over the group finds every id once.
    const int64_t start = tp_rank_ * vocab_shard_;
    torch::Tensor outside = (tokens < start).logical_or(tokens >= start + vocab_shard_);
    torch::Tensor local = (tokens - start).masked_fill(outside, 0);
    x = tokens_(local).masked_fill(outside.unsqueeze(-1), 0.0);
    if (sp_ == v1::SEQUENCE_PARALLEL_MEGATRON) {
      x = comm_->ReduceScatterSequence(x);
      length = s / tp_;
      offset = tp_rank_ * length;
    } else {
      x = comm_->AllReduce(x);
    }
  } else {
    x = tokens_(tokens);
  }
  if (positions_) x = x + Positions(offset, length, tokens);
  if (segments_) {
    x = x + segments_(torch::zeros({tokens.size(0), length}, tokens.options()));
    x = embed_ln_(x);
  }
  return x;
}

torch::Tensor EmbeddingHeadImpl::FinalNorm(const torch::Tensor& hidden) {
  if (family_ == v1::MODEL_FAMILY_T5) {
    // T5's head reads the decoder's part of the activation (the labels' length
    // at its end); tied to the embedding, its input is scaled by hidden^-1/2.
    torch::Tensor h = RmsNorm(hidden, final_rms_, kT5NormEps);
    return tied_ ? h * (1.0 / std::sqrt(static_cast<double>(hidden_))) : h;
  }
  if (final_rms_.defined()) return RmsNorm(hidden, final_rms_, kNormEps);
  if (mlm_dense_) return final_ln_(torch::gelu(mlm_dense_(hidden)));
  return final_ln_(hidden);
}

namespace {

torch::Tensor Logits(const torch::Tensor& h, torch::nn::Embedding& tokens, torch::nn::Linear& head,
                     const torch::Tensor& bias) {
  torch::Tensor logits = head ? head(h) : torch::matmul(h, tokens->weight.t());
  if (bias.defined()) logits = logits + bias;
  // Half-precision logits are upcast for the softmax; fp32/fp64 stay as they are.
  if (logits.scalar_type() == torch::kBFloat16 || logits.scalar_type() == torch::kHalf) {
    logits = logits.to(torch::kFloat32);
  }
  return logits;
}

}  // namespace

torch::Tensor EmbeddingHeadImpl::Loss(const torch::Tensor& hidden, const torch::Tensor& labels) {
  if (vision()) return ClassLossSum(hidden, labels) / labels.numel();
  torch::Tensor logits = Logits(FinalNorm(DecoderPart(hidden, labels)), tokens_, head_, head_bias_);
  return torch::nn::functional::cross_entropy(logits.reshape({-1, vocab_shard_}),
                                              labels.reshape({-1}).remainder(vocab_shard_));
}

torch::Tensor EmbeddingHeadImpl::LossSumParallel(const torch::Tensor& hidden,
                                                 const torch::Tensor& labels,
                                                 const torch::Tensor& weights) {
  if (vision()) return ClassLossSum(hidden, labels);  // the same on every member
  torch::Tensor h = FinalNorm(DecoderPart(hidden, labels));
  torch::Tensor targets = labels, w = weights;
  const bool vocab_split = comm_ && tp_ > 1 && sp_ != v1::SEQUENCE_PARALLEL_ULYSSES;
  if (comm_ && sp_ == v1::SEQUENCE_PARALLEL_ULYSSES) {
    const int64_t length = labels.size(1) / tp_;
    targets = labels.narrow(1, tp_rank_ * length, length);
    if (w.defined()) w = w.narrow(1, tp_rank_ * length, length);
  } else if (vocab_split) {
    h = sp_ == v1::SEQUENCE_PARALLEL_MEGATRON ? comm_->GatherSequence(h) : comm_->CopyToGroup(h);
  }
  torch::Tensor logits = Logits(h, tokens_, head_, head_bias_);
  torch::Tensor per_token =
      vocab_split ? comm_->VocabCrossEntropy(logits, targets).reshape({-1})
                  : torch::nn::functional::cross_entropy(
                        logits.reshape({-1, vocab_shard_}), targets.reshape({-1}),
                        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  if (w.defined()) per_token = per_token * w.reshape({-1}).to(per_token.scalar_type());
  return per_token.sum();
}

std::vector<ParamShard> EmbeddingHeadImpl::Shards() const {
  const bool ulysses = comm_ && sp_ == v1::SEQUENCE_PARALLEL_ULYSSES;
  const bool split = comm_ && tp_ > 1 && !ulysses;
  const ParamShard::Grad whole = ulysses || (split && sp_ == v1::SEQUENCE_PARALLEL_MEGATRON)
                                     ? ParamShard::Grad::kPartial
                                 : split ? ParamShard::Grad::kReplicated
                                         : ParamShard::Grad::kOwn;
  std::vector<ParamShard> shards;
  for (const auto& item : named_parameters()) {
    ParamShard shard;
    shard.name = item.key();
    const torch::Tensor& p = item.value();
    shard.full_shape.assign(p.sizes().begin(), p.sizes().end());
    const bool vocab_rows = !vision() && (shard.name == "tokens.weight" ||
                                          shard.name == "head.weight" || shard.name == "head_bias");
    if (vocab_rows && split) {
      shard.full_shape[0] = vocab_;
      shard.dim = 0;
      shard.start = tp_rank_ * vocab_shard_;
      shard.grad = ParamShard::Grad::kOwn;
    } else {
      shard.grad = whole;
    }
    shards.push_back(std::move(shard));
  }
  return shards;
}

int64_t ParameterCount(torch::nn::Module& module) {
  int64_t count = 0;
  for (const torch::Tensor& p : module.parameters()) count += p.numel();
  return count;
}

}  // namespace galvatron::runtime
