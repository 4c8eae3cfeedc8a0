// T5's encoder and decoder blocks (Raffel et al. 2020, Sec. 2.1 and 3.1;
// v1.1's gated-GELU FFN): pre-norm residual blocks with RMS norms (no mean,
// no bias), unscaled dot-product attention with a learned relative-position
// bias, the decoder's cross-attention to the encoder's output, no biases.
//
// Where we depart from the reference code: every block learns its own
// relative-position bias table (the reference computes it in a stack's
// first block and shares it), so that a block is self-contained under any
// pipeline cut; cross-attention has no position bias, as in the reference.
#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/runtime/blocks/blocks.h"
#include "common/status_macros.h"

namespace galvatron::runtime {
namespace {

constexpr int64_t kDefaultBuckets = 32;
constexpr int64_t kDefaultMaxDistance = 128;

int64_t EffectiveSeq(const v1::ModelSpec& model, const v1::LayerGroup& g) {
  return g.seq_len() > 0 ? g.seq_len() : model.seq_len();
}

}  // namespace

bool IsT5Kind(v1::LayerKind kind) {
  return kind == v1::LAYER_KIND_T5_ENCODER || kind == v1::LAYER_KIND_T5_DECODER;
}

absl::StatusOr<T5Lengths> T5SequenceLengths(const v1::ModelSpec& model) {
  T5Lengths lengths;
  bool decoder_seen = false;
  int layer = 0;
  for (int i = 0; i < model.layers_size(); ++i) {
    const v1::LayerGroup& g = model.layers(i);
    const std::string path = absl::StrCat("layers[", i, "]");
    if (!IsT5Kind(g.kind())) {
      return absl::InvalidArgumentError(absl::StrCat(path, ".kind: ", v1::LayerKind_Name(g.kind()),
                                                     ", expected a T5 encoder or decoder"));
    }
    const bool decoder = g.kind() == v1::LAYER_KIND_T5_DECODER;
    if (!decoder && decoder_seen) {
      return absl::InvalidArgumentError(
          absl::StrCat(path,
                       ".kind: LAYER_KIND_T5_ENCODER after a decoder group; a T5 is its "
                       "encoder groups, then its decoder groups"));
    }
    int64_t& length = decoder ? lengths.decoder : lengths.encoder;
    if (length != 0 && length != EffectiveSeq(model, g)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".seq_len: ", EffectiveSeq(model, g), ", but an earlier ",
                       decoder ? "decoder" : "encoder", " group has ", length,
                       "; the encoder and the decoder each have one sequence length"));
    }
    length = EffectiveSeq(model, g);
    if (decoder && !decoder_seen) lengths.first_decoder_layer = layer;
    decoder_seen = decoder_seen || decoder;
    layer += g.count();
  }
  if (lengths.encoder == 0 || lengths.decoder == 0) {
    return absl::InvalidArgumentError(
        "layers: a T5 needs at least one encoder group and one decoder group");
  }
  return lengths;
}

absl::Status ResolveT5Shape(const v1::ModelSpec& model, int group_index, BlockShape* shape) {
  const v1::LayerGroup& g = model.layers(group_index);
  const std::string path = absl::StrCat("layers[", group_index, "]");
  if (g.bias()) {
    return absl::UnimplementedError(
        absl::StrCat(path, ".bias: true; T5 blocks have no biases (set it false)"));
  }
  if (shape->total_kv_heads != g.heads()) {
    return absl::UnimplementedError(absl::StrCat(
        path, ".kv_heads: ", g.kv_heads(), "; T5 blocks have as many key/value heads as heads"));
  }
  ASSIGN_OR_RETURN(const T5Lengths lengths, T5SequenceLengths(model));
  shape->encoder_seq = lengths.encoder;
  shape->decoder_seq = lengths.decoder;
  const v1::T5LayerOptions& t = g.t5();
  shape->relative_buckets = t.relative_buckets() > 0 ? t.relative_buckets() : kDefaultBuckets;
  shape->relative_max_distance =
      t.relative_max_distance() > 0 ? t.relative_max_distance() : kDefaultMaxDistance;
  shape->gated_gelu = t.ffn() == v1::T5LayerOptions::FFN_GATED_GELU;
  return absl::OkStatus();
}

torch::Tensor RelativePositionBuckets(int64_t query_len, int64_t key_len, bool bidirectional,
                                      int64_t buckets, int64_t max_distance) {
  int64_t n_buckets = bidirectional ? buckets / 2 : buckets;
  const int64_t exact = n_buckets / 2;
  // In float32, as the reference computes it (the truncation then agrees).
  const float log_range = static_cast<float>(std::log(static_cast<double>(max_distance) / exact));
  std::vector<int64_t> out(static_cast<size_t>(query_len * key_len));
  for (int64_t q = 0; q < query_len; ++q) {
    for (int64_t k = 0; k < key_len; ++k) {
      const int64_t relative = k - q;
      int64_t bucket = 0;
      int64_t n = 0;
      if (bidirectional) {
        if (relative > 0) bucket = n_buckets;
        n = relative < 0 ? -relative : relative;
      } else {
        n = relative < 0 ? -relative : 0;
      }
      if (n < exact) {
        bucket += n;
      } else {
        const float scaled = std::log(static_cast<float>(n) / static_cast<float>(exact)) /
                             log_range * static_cast<float>(n_buckets - exact);
        bucket += std::min(exact + static_cast<int64_t>(scaled), n_buckets - 1);
      }
      out[static_cast<size_t>(q * key_len + k)] = bucket;
    }
  }
  return torch::tensor(out, torch::kInt64).view({query_len, key_len});
}

void TransformerBlockImpl::AddT5Modules(const BlockShape& shape) {
  const int64_t h = shape.hidden, inner = shape.heads * shape.head_dim;
  auto linear = [](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(false));
  };
  rms1_ = register_parameter("rms1", torch::ones({h}));
  rms2_ = register_parameter("rms2", torch::ones({h}));
  q_ = register_module("q", linear(h, inner));
  k_ = register_module("k", linear(h, inner));
  v_ = register_module("v", linear(h, inner));
  o_ = register_module("o", linear(inner, h));
  relative_bias_ =
      register_parameter("relative_bias", torch::zeros({shape.relative_buckets, shape.heads}));
  if (shape.kind == v1::LAYER_KIND_T5_DECODER) {
    rms_cross_ = register_parameter("rms_cross", torch::ones({h}));
    cq_ = register_module("cq", linear(h, inner));
    ck_ = register_module("ck", linear(h, inner));
    cv_ = register_module("cv", linear(h, inner));
    co_ = register_module("co", linear(inner, h));
    if (shape.encoder_final_norm) {
      encoder_final_rms_ = register_parameter("encoder_final_rms", torch::ones({h}));
    }
  }
  // v1.1's gate is wi_0 (through the GELU), up is wi_1; v1.0's up is wi.
  up_ = register_module("up", linear(h, shape.ffn));
  if (shape.gated_gelu) gate_ = register_module("gate", linear(h, shape.ffn));
  down_ = register_module("down", linear(shape.ffn, h));
}

torch::Tensor TransformerBlockImpl::T5Attention(const torch::Tensor& input,
                                                const torch::Tensor& memory) {
  TORCH_CHECK(sp_ == v1::SEQUENCE_PARALLEL_NONE,
              "T5 blocks have no sequence parallelism (the plan should have been refused)");
  const bool cross = memory.defined();
  const bool tensor = comm_ && tp_ > 1;
  // Each rank's input gradient is partial under TP: CopyToGroup sums them.
  const torch::Tensor x = tensor ? comm_->CopyToGroup(input) : input;
  const torch::Tensor m = !cross ? x : tensor ? comm_->CopyToGroup(memory) : memory;
  torch::nn::Linear& lq = cross ? cq_ : q_;
  torch::nn::Linear& lk = cross ? ck_ : k_;
  torch::nn::Linear& lv = cross ? cv_ : v_;
  torch::nn::Linear& lo = cross ? co_ : o_;
  const int64_t b = x.size(0), sq = x.size(1), sk = m.size(1), heads = shape_.heads,
                d = shape_.head_dim;
  torch::Tensor q = lq(x).view({b, sq, heads, d}).transpose(1, 2);  // [b, heads, sq, d]
  torch::Tensor k = lk(m).view({b, sk, heads, d}).transpose(1, 2);
  torch::Tensor v = lv(m).view({b, sk, heads, d}).transpose(1, 2);
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1));  // T5 does not scale by 1/sqrt(d)
  if (!cross) {
    const torch::Tensor& buckets = PositionIndex(x, sq, sk, [&] {
      return RelativePositionBuckets(sq, sk, /*bidirectional=*/!shape_.causal,
                                     shape_.relative_buckets, shape_.relative_max_distance);
    });
    // [sq, sk, heads] → [heads, sq, sk], broadcast over the batch.
    scores = scores + torch::embedding(relative_bias_, buckets).permute({2, 0, 1});
    if (shape_.causal) {
      torch::Tensor mask =
          torch::ones({sq, sk}, torch::TensorOptions().dtype(torch::kBool).device(x.device()))
              .triu(1);
      scores = scores.masked_fill(mask, -std::numeric_limits<double>::infinity());
    }
  }
  torch::Tensor context = torch::matmul(torch::softmax(scores, -1), v).transpose(1, 2);
  return RowParallelOutput(lo(context.reshape({b, sq, heads * d})));
}

torch::Tensor TransformerBlockImpl::T5Forward(const torch::Tensor& x) {
  const int64_t se = shape_.encoder_seq, sd = shape_.decoder_seq;
  TORCH_CHECK(x.dim() == 3 && x.size(1) == se + sd, "a T5 block reads [b, ", se, " + ", sd,
              ", h], got ", x.sizes());
  torch::Tensor enc = x.narrow(1, 0, se), dec = x.narrow(1, se, sd);
  if (shape_.kind == v1::LAYER_KIND_T5_ENCODER) {
    enc = enc + T5Attention(RmsNorm(enc, rms1_, kT5NormEps), torch::Tensor());
    enc = enc + Mlp(RmsNorm(enc, rms2_, kT5NormEps));
  } else {
    if (encoder_final_rms_.defined()) enc = RmsNorm(enc, encoder_final_rms_, kT5NormEps);
    dec = dec + T5Attention(RmsNorm(dec, rms1_, kT5NormEps), torch::Tensor());
    dec = dec + T5Attention(RmsNorm(dec, rms_cross_, kT5NormEps), enc);
    dec = dec + Mlp(RmsNorm(dec, rms2_, kT5NormEps));
  }
  return torch::cat({enc, dec}, 1);
}

}  // namespace galvatron::runtime
