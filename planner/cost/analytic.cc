#include "planner/cost/analytic.h"

#include <algorithm>
#include <cmath>

namespace galvatron::cost::analytic {
namespace {

struct Sizes {
  double h, f, a, kv, d;
};

Sizes SizesOf(const v1::LayerGroup& g) {
  Sizes s;
  s.h = g.hidden();
  s.f = g.ffn_hidden();
  s.a = g.heads();
  s.kv = g.kv_heads() != 0 ? g.kv_heads() : g.heads();
  s.d = g.head_dim() != 0 ? g.head_dim() : (g.heads() != 0 ? g.hidden() / g.heads() : 0);
  return s;
}

// A gated MLP (three matrices): LLaMA's SwiGLU, T5 v1.1's gated GELU.
bool IsGated(const v1::LayerGroup& g) {
  return g.kind() == v1::LAYER_KIND_LLAMA_DECODER ||
         ((g.kind() == v1::LAYER_KIND_T5_ENCODER || g.kind() == v1::LAYER_KIND_T5_DECODER) &&
          g.t5().ffn() == v1::T5LayerOptions::FFN_GATED_GELU);
}

// The learned relative-position bias each block holds (per head): T5's
// buckets, Swin's (2·window − 1)² offsets.
int64_t PositionBiasEntries(const v1::LayerGroup& g) {
  if (g.kind() == v1::LAYER_KIND_T5_ENCODER || g.kind() == v1::LAYER_KIND_T5_DECODER) {
    return g.t5().relative_buckets() > 0 ? g.t5().relative_buckets() : 32;
  }
  if (g.kind() != v1::LAYER_KIND_SWIN_BLOCK) return 0;
  int64_t window = g.swin().window() > 0 ? g.swin().window() : 7;
  if (g.seq_len() > 0) {
    window = std::min<int64_t>(window, std::llround(std::sqrt(static_cast<double>(g.seq_len()))));
  }
  return (2 * window - 1) * (2 * window - 1);
}

bool UsesRmsNorm(v1::LayerKind kind) {
  return kind == v1::LAYER_KIND_LLAMA_DECODER || kind == v1::LAYER_KIND_T5_ENCODER ||
         kind == v1::LAYER_KIND_T5_DECODER;
}

int NormsPerBlock(v1::LayerKind kind) { return kind == v1::LAYER_KIND_T5_DECODER ? 3 : 2; }

int AttentionsPerBlock(v1::LayerKind kind) { return kind == v1::LAYER_KIND_T5_DECODER ? 2 : 1; }

// The keys each query attends to: a Swin block's window (the grid's side
// when smaller; seq is side²), otherwise the whole sequence.
double AttentionKeys(const v1::LayerGroup& g, double s) {
  if (g.kind() != v1::LAYER_KIND_SWIN_BLOCK) return s;
  const double window = g.swin().window() > 0 ? g.swin().window() : 7;
  const double w = std::min(window, std::sqrt(s));
  return w * w;
}

// Element-count "width" of activations per token (in units of 2 bytes for
// 16-bit), split into what Megatron TP without SP keeps replicated and what
// it shards.
struct ActivationWidths {
  double replicated = 0;  // per token, 16-bit bytes
  double sharded = 0;     // per token, 16-bit bytes
  double scores = 0;      // per sample, multiplies s × keys (bytes)
};

ActivationWidths WidthsOf(const v1::LayerGroup& g) {
  const Sizes z = SizesOf(g);
  const double hq = z.a * z.d, hkv = z.kv * z.d;
  ActivationWidths w;
  const int attentions = AttentionsPerBlock(g.kind());
  // Attention (Korthikanti Sec. 4.1): input 2h, Q 2hq, K 2hkv, V 2hkv,
  // projection input 2hq, dropout mask h; scores: softmax 2as², its dropout
  // mask as², dropout output 2as².
  w.replicated += attentions * (2 * z.h + z.h);
  w.sharded += attentions * (4 * hq + 4 * hkv);
  w.scores += attentions * 5 * z.a;
  // MLP: input 2h and dropout mask h replicated; GELU 2f + 2f, SwiGLU
  // gate 2f, up 2f, SiLU output 2f, product 2f.
  w.replicated += 3 * z.h;
  w.sharded += (IsGated(g) ? 8 : 4) * z.f;
  // Norm inputs, 2 bytes per element.
  w.replicated += 2 * z.h * NormsPerBlock(g.kind());
  return w;
}

double PrecisionScale(v1::Precision precision) { return ActivationElementBytes(precision) / 2.0; }

}  // namespace

int ActivationElementBytes(v1::Precision precision) {
  switch (precision) {
    case v1::PRECISION_FP32:
      return 4;
    case v1::PRECISION_FP64:
      return 8;
    default:
      return 2;
  }
}

bool IsMixedPrecision(v1::Precision precision) {
  return precision != v1::PRECISION_FP32 && precision != v1::PRECISION_FP64;
}

int64_t LayerParameterCount(const v1::LayerGroup& g) {
  const Sizes z = SizesOf(g);
  const int64_t h = g.hidden(), f = g.ffn_hidden();
  const int64_t hq = static_cast<int64_t>(z.a * z.d), hkv = static_cast<int64_t>(z.kv * z.d);
  const bool bias = g.bias();
  int64_t attention = h * hq + 2 * h * hkv + hq * h;
  if (bias) attention += hq + 2 * hkv + h;
  attention *= AttentionsPerBlock(g.kind());
  int64_t mlp = 0;
  if (IsGated(g)) {
    mlp = 3 * h * f + (bias ? 2 * f + h : 0);
  } else {
    mlp = 2 * h * f + (bias ? f + h : 0);
  }
  const int64_t norm = UsesRmsNorm(g.kind()) ? h : 2 * h;
  return attention + mlp + norm * NormsPerBlock(g.kind()) +
         PositionBiasEntries(g) * static_cast<int64_t>(z.a);
}

double LayerForwardFlopsPerSample(const v1::LayerGroup& g, int seq, int memory_seq) {
  const Sizes z = SizesOf(g);
  const double s = seq;
  double flops = 2.0 * static_cast<double>(LayerParameterCount(g)) * s +
                 4.0 * s * AttentionKeys(g, s) * z.a * z.d * AttentionsPerBlock(g.kind());
  if (g.kind() == v1::LAYER_KIND_T5_DECODER && memory_seq > 0) {
    // The cross-attention's K and V run over the encoder's tokens, and its
    // queries attend to them, instead of the decoder's s (counted above).
    const double m = memory_seq;
    flops += 2.0 * (2 * z.h * z.kv * z.d) * (m - s) + 4.0 * s * (m - s) * z.a * z.d;
  }
  return flops;
}

double LayerActivationBytesPerSample(const v1::LayerGroup& g, int seq, v1::Precision precision,
                                     int degree, ActivationSharding sharding) {
  const ActivationWidths w = WidthsOf(g);
  const double s = seq, t = std::max(degree, 1), keys = AttentionKeys(g, s);
  double bytes = 0;
  switch (sharding) {
    case ActivationSharding::kNone:
      bytes = s * (w.replicated + w.sharded) + w.scores * s * keys;
      break;
    case ActivationSharding::kMegatronTp:
      bytes = s * (w.replicated + w.sharded / t) + w.scores * s * keys / t;
      break;
    case ActivationSharding::kShardedAll:
      bytes = (s * (w.replicated + w.sharded) + w.scores * s * keys) / t;
      break;
  }
  return bytes * PrecisionScale(precision);
}

double CheckpointActivationBytesPerSample(const v1::LayerGroup& g, int seq,
                                          v1::Precision precision) {
  return static_cast<double>(seq) * g.hidden() * ActivationElementBytes(precision);
}

namespace {

bool IsVision(const v1::ModelSpec& spec) {
  return spec.has_vision() || spec.family() == v1::MODEL_FAMILY_VIT ||
         spec.family() == v1::MODEL_FAMILY_SWIN;
}

int SeqOf(const v1::ModelSpec& spec, const v1::LayerGroup& g) {
  return g.seq_len() != 0 ? g.seq_len() : spec.seq_len();
}

}  // namespace

double EmbeddingParameterCount(const v1::ModelSpec& spec, EmbeddingPart part, int vtp) {
  if (spec.layers().empty()) return 0;
  const v1::LayerGroup& first = spec.layers(0);
  const v1::LayerGroup& last = spec.layers(spec.layers_size() - 1);
  const double h = first.hidden(), ho = last.hidden();
  const double s = SeqOf(spec, first);
  const double v = spec.vocab_size();
  const double t = std::max(vtp, 1);
  const bool tied = spec.tie_embeddings();
  double first_part = 0, last_part = 0;
  if (IsVision(spec)) {
    const v1::VisionSpec& vis = spec.vision();
    const double p = vis.patch_size(), c = vis.channels() != 0 ? vis.channels() : 3;
    const double n = vis.num_classes();
    first_part = p * p * c * h + h + (vis.class_token() ? h : 0) + s * h;
    last_part = 2 * ho + ho * n + n;
  } else {
    switch (spec.family()) {
      case v1::MODEL_FAMILY_GPT:
        first_part = v * h / t + s * h;
        last_part = 2 * ho + (tied ? 0 : v * ho / t);
        break;
      case v1::MODEL_FAMILY_BERT:
        first_part = v * h / t + s * h + 2 * h + 2 * h;
        last_part = ho * ho + ho + 2 * ho + v / t + (tied ? 0 : v * ho / t);
        break;
      case v1::MODEL_FAMILY_T5: {
        // One final RMSNorm per stack (encoder and decoder).
        int stacks = 0;
        bool enc = false, dec = false;
        for (const auto& g : spec.layers()) {
          enc = enc || g.kind() == v1::LAYER_KIND_T5_ENCODER;
          dec = dec || g.kind() == v1::LAYER_KIND_T5_DECODER;
        }
        stacks = (enc ? 1 : 0) + (dec ? 1 : 0);
        first_part = v * h / t;
        last_part = ho * std::max(stacks, 1) + (tied ? 0 : v * ho / t);
        break;
      }
      default:  // LLaMA and custom decoders
        first_part = v * h / t;
        last_part = ho + (tied ? 0 : v * ho / t);
        break;
    }
  }
  switch (part) {
    case EmbeddingPart::kAll:
      return first_part + last_part;
    case EmbeddingPart::kFirst:
      return first_part;
    case EmbeddingPart::kLast:
      // Megatron keeps a copy of tied word embeddings on the last stage.
      return last_part + (tied && !IsVision(spec) ? v * ho / t : 0);
  }
  return 0;
}

double EmbeddingForwardFlopsPerSample(const v1::ModelSpec& spec) {
  if (spec.layers().empty()) return 0;
  const v1::LayerGroup& first = spec.layers(0);
  const v1::LayerGroup& last = spec.layers(spec.layers_size() - 1);
  const double s = SeqOf(spec, first);
  if (IsVision(spec)) {
    const v1::VisionSpec& vis = spec.vision();
    const double p = vis.patch_size(), c = vis.channels() != 0 ? vis.channels() : 3;
    return 2 * s * p * p * c * first.hidden() + 2.0 * last.hidden() * vis.num_classes();
  }
  return 2 * static_cast<double>(SeqOf(spec, last)) * last.hidden() * spec.vocab_size();
}

double EmbeddingComputeShare(const v1::ModelSpec& spec, EmbeddingPart part) {
  if (part == EmbeddingPart::kAll || spec.layers().empty()) return 1;
  const v1::LayerGroup& first = spec.layers(0);
  const v1::LayerGroup& last = spec.layers(spec.layers_size() - 1);
  double first_flops = 0, last_flops = 0;
  if (IsVision(spec)) {
    const v1::VisionSpec& vis = spec.vision();
    const double p = vis.patch_size(), c = vis.channels() != 0 ? vis.channels() : 3;
    first_flops = 2 * static_cast<double>(SeqOf(spec, first)) * p * p * c * first.hidden();
    last_flops = 2.0 * last.hidden() * vis.num_classes();
  } else {
    first_flops = 2 * static_cast<double>(SeqOf(spec, first)) * first.hidden();
    last_flops = 2 * static_cast<double>(SeqOf(spec, last)) * last.hidden() * spec.vocab_size();
  }
  const double total = first_flops + last_flops;
  if (!(total > 0)) return 0.5;
  return (part == EmbeddingPart::kFirst ? first_flops : last_flops) / total;
}

double EmbeddingActivationBytesPerSample(const v1::ModelSpec& spec, EmbeddingPart part, int vtp) {
  if (spec.layers().empty()) return 0;
  const v1::LayerGroup& first = spec.layers(0);
  const v1::LayerGroup& last = spec.layers(spec.layers_size() - 1);
  const double scale = PrecisionScale(spec.precision());
  const double t = std::max(vtp, 1);
  const double first_bytes = static_cast<double>(SeqOf(spec, first)) * first.hidden() * 3;
  double vocab = spec.vocab_size();
  if (IsVision(spec)) vocab = 0;  // the class head works on one token
  const double so = SeqOf(spec, last);
  const double last_bytes = so * last.hidden() * 4 + so * vocab * 10 / t;
  switch (part) {
    case EmbeddingPart::kAll:
      return (first_bytes + last_bytes) * scale;
    case EmbeddingPart::kFirst:
      return first_bytes * scale;
    case EmbeddingPart::kLast:
      return last_bytes * scale;
  }
  return 0;
}

}  // namespace galvatron::cost::analytic
