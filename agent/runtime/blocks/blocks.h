// Transformer blocks and the embedding/head of a ModelSpec, as LibTorch
// modules: GPT-2 style (pre-LN, GELU MLP, biases), LLaMA style (RMSNorm, RoPE,
// SwiGLU, grouped-query attention, no biases), BERT style (post-LN), ViT
// (GPT's block without the mask) and T5's encoder and decoder blocks
// (RMS norms, relative-position bias, cross-attention, ReLU or gated-GELU
// FFN, no biases) and Swin's (windowed attention, shifted on odd blocks,
// patch merging into a stage's first block). A
// block is built for one tensor-parallel shard: with tp = d it holds what
// Megatron's rank 0 of d holds (heads/d query heads, max(1, kv/d) KV heads,
// ffn/d MLP columns; the row-parallel output projections without their
// all-reduce). The compute profiler measures these shards; the training
// runtime wraps the same modules' linear layers with its collectives.
//
// Thread-compatible (LibTorch modules).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "galvatron/v1/model.pb.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron::runtime {

// The collectives a block needs inside a tensor/sequence-parallel group,
// called in Megatron's places. The training runtime implements them with
// c10d; the profiler with ShapeOnlyComm, which returns tensors of the shapes
// the collectives would (so memory and compute are those of one rank) without
// any communication.
class BlockComm {
 public:
  virtual ~BlockComm() = default;
  virtual int size() const = 0;
  // Megatron-SP: [b, s/n, h] → [b, s, h] before the column-parallel linears.
  virtual torch::Tensor GatherSequence(const torch::Tensor& x) = 0;
  // Megatron-SP: partial sums [b, s, h] → [b, s/n, h] after the row-parallel linears.
  virtual torch::Tensor ReduceScatterSequence(const torch::Tensor& x) = 0;
  // Megatron TP without SP: partial sums → their sum after the row-parallel linears.
  virtual torch::Tensor AllReduce(const torch::Tensor& x) = 0;
  // Megatron TP without SP, before the column-parallel linears: the identity,
  // whose backward sums the input gradients (each rank's is partial).
  virtual torch::Tensor CopyToGroup(const torch::Tensor& x) = 0;
  // Per-token cross-entropy of logits split along the vocabulary over the
  // group (this rank's contiguous slice), against full-vocabulary labels.
  virtual torch::Tensor VocabCrossEntropy(const torch::Tensor& logits,
                                          const torch::Tensor& labels) = 0;
  // Ulysses: [b, s/n, heads, d] → [b, s, heads/n, d] and back.
  virtual torch::Tensor SequenceToHeads(const torch::Tensor& x) = 0;
  virtual torch::Tensor HeadsToSequence(const torch::Tensor& x) = 0;
};

// Shapes without communication (see BlockComm): gathers repeat the local
// shard n times, scatters keep the first 1/n (copied, so that the full tensor
// is not kept alive by a view), the all-reduce is the identity.
class ShapeOnlyComm final : public BlockComm {
 public:
  explicit ShapeOnlyComm(int size) : size_(size) {}
  int size() const override { return size_; }
  torch::Tensor GatherSequence(const torch::Tensor& x) override;
  torch::Tensor ReduceScatterSequence(const torch::Tensor& x) override;
  torch::Tensor AllReduce(const torch::Tensor& x) override { return x; }
  torch::Tensor CopyToGroup(const torch::Tensor& x) override { return x; }
  // Rank 0's slice: labels outside it are folded in (shapes and work only).
  torch::Tensor VocabCrossEntropy(const torch::Tensor& logits,
                                  const torch::Tensor& labels) override;
  torch::Tensor SequenceToHeads(const torch::Tensor& x) override;
  torch::Tensor HeadsToSequence(const torch::Tensor& x) override;

 private:
  int size_;
};

struct BlockOptions {
  int tp = 1;       // tensor-parallel degree of the shard (BlockShape carries it for blocks)
  int tp_rank = 0;  // which shard (the slice of the full weights this rank holds)
  // NONE: Megatron TP (tp > 1) or none. MEGATRON: TP with the sequence
  // sharded outside attention and MLP. ULYSSES: full weights, the sequence
  // sharded and attention heads exchanged by all-to-all.
  v1::SequenceParallel sp = v1::SEQUENCE_PARALLEL_NONE;
  std::shared_ptr<BlockComm> comm;  // required when tp > 1 or sp is set
  torch::Dtype dtype = torch::kFloat32;
  torch::Device device = torch::kCPU;
};

// The sizes of one shard, resolved from the spec (0 fields defaulted).
struct BlockShape {
  v1::LayerKind kind = v1::LAYER_KIND_UNSPECIFIED;
  int64_t hidden = 0;
  int64_t ffn = 0;             // this shard's MLP width
  int64_t heads = 0;           // this shard's query heads
  int64_t kv_heads = 0;        // this shard's key/value heads
  int64_t total_kv_heads = 0;  // the layer's (more than one shard's worth when tp > them)
  int64_t head_dim = 0;
  int64_t seq_len = 0;
  bool bias = false;
  bool causal = true;
  // T5 (encoder and decoder kinds). A T5 block reads and returns the whole
  // model's activation [b, encoder_seq + decoder_seq, h]: the encoder's
  // sequence, then the decoder's. An encoder block updates the first part and
  // passes the second through; a decoder block updates the second, reading
  // the first (the encoder's output) in its cross-attention. So one tensor
  // crosses every pipeline boundary, the encoder-decoder one included.
  int64_t encoder_seq = 0, decoder_seq = 0;
  // The first decoder block applies the encoder's final norm to the first
  // part (once, for every decoder block after it).
  bool encoder_final_norm = false;
  int64_t relative_buckets = 0, relative_max_distance = 0;
  bool gated_gelu = false;  // T5 v1.1's FFN; ReLU otherwise
  // Swin: the token grid's side (seq_len = side²), the window's side, this
  // block's cyclic shift (0: none), and with patch merging the previous
  // group's hidden size (0: no merging; the block then reads
  // [b, 4·seq_len, merge_from_hidden]). relative_buckets is then the
  // (2·window − 1)² offsets of the bias table.
  int64_t grid_side = 0, window = 0, shift = 0, merge_from_hidden = 0;
};

// The sequence length of the activation a block reads: T5's encoder +
// decoder sequences, else seq_len.
inline int64_t CarriedSeq(const BlockShape& shape) {
  return shape.encoder_seq + shape.decoder_seq > 0 ? shape.encoder_seq + shape.decoder_seq
                                                   : shape.seq_len;
}

bool IsT5Kind(v1::LayerKind kind);

// A T5 model's two sequence lengths: the encoder's (its groups' seq_len) and
// the decoder's (its groups'). INVALID_ARGUMENT unless every encoder group
// comes before every decoder group, there is at least one of each, and each
// side has one length.
struct T5Lengths {
  int64_t encoder = 0, decoder = 0;
  int first_decoder_layer = 0;  // the global index of the first decoder block
};
absl::StatusOr<T5Lengths> T5SequenceLengths(const v1::ModelSpec& model);

// Fills the T5 fields of `shape` (a T5 group's): the two sequence lengths
// and the options with their defaults. INVALID_ARGUMENT as T5SequenceLengths,
// UNIMPLEMENTED for what the T5 blocks lack (biases, grouped-query attention).
absl::Status ResolveT5Shape(const v1::ModelSpec& model, int group_index, BlockShape* shape);

// Fills the Swin fields of `shape` (a Swin group's): the grid, the window
// (no larger than the grid), and merge_from_hidden when the group merges
// patches; the shift is the block's (SwinShift). INVALID_ARGUMENT naming the
// field when the grid is not square, the window does not divide it, or a
// merge does not quarter the previous group's tokens.
absl::Status ResolveSwinShape(const v1::ModelSpec& model, int group_index, BlockShape* shape);

// The shift of the block at `index_in_group` of a group: the group's shift
// on odd blocks, none on even ones or when the grid is one window.
int64_t SwinShift(const BlockShape& group_shape, const v1::LayerGroup& group, int index_in_group);

// RMS normalisation over the last dimension (LLaMA's epsilon 1e-5, T5's 1e-6).
inline constexpr double kNormEps = 1e-5;
inline constexpr double kT5NormEps = 1e-6;
torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// T5's relative-position buckets [query_len, key_len] (int64): the distance
// key − query mapped to `buckets` buckets (half per direction when
// bidirectional), exact below a quarter (bidirectional) or half of them,
// logarithmic up to `max_distance`, as the T5 paper's code does.
torch::Tensor RelativePositionBuckets(int64_t query_len, int64_t key_len, bool bidirectional,
                                      int64_t buckets, int64_t max_distance);

// How one parameter of a sharded module relates to the full model's and to
// the module's group (BlockOptions::comm): the slice of the full tensor it
// holds (dim -1: all of it) and what its gradient is after backward.
struct ParamShard {
  enum class Grad {
    kOwn,         // this rank's slice (or a module without a group): complete
    kReplicated,  // the same full tensor and the same complete gradient on every member
    kPartial,     // the same full tensor, but each member's gradient covers only its
                  // part of the sequence: the gradients add up over the group
  };
  std::string name;  // as named_parameters() names it
  std::vector<int64_t> full_shape;
  int dim = -1;
  int64_t start = 0;
  Grad grad = Grad::kOwn;
  // More tp ranks than KV heads: this many consecutive tp ranks hold the
  // same KV head (Megatron's replication); their gradients add up.
  int shared_by = 1;
};

// INVALID_ARGUMENT when the kind is not a GPT, LLaMA or BERT block, or tp
// does not divide the heads or the MLP width.
absl::StatusOr<BlockShape> ResolveBlockShape(const v1::ModelSpec& model, int group_index, int tp);

class TransformerBlockImpl : public torch::nn::Module {
 public:
  TransformerBlockImpl(const BlockShape& shape, const BlockOptions& options);
  // x: [batch, seq, hidden] → [batch, seq, hidden]; with sequence
  // parallelism both are this rank's [batch, seq/n, hidden].
  torch::Tensor forward(const torch::Tensor& x);
  const BlockShape& shape() const { return shape_; }
  // Every parameter's place in the full layer (see ParamShard).
  std::vector<ParamShard> Shards() const;

 private:
  torch::Tensor Norm(int which, const torch::Tensor& x);
  torch::Tensor Attention(const torch::Tensor& x);
  // T5 (blocks_t5.cc): the forward over the carried [enc; dec] activation,
  // and self- (memory undefined) or cross-attention of `x` (tensor
  // parallelism only; T5 plans have no sequence parallelism).
  torch::Tensor T5Forward(const torch::Tensor& x);
  torch::Tensor T5Attention(const torch::Tensor& x, const torch::Tensor& memory);
  void AddT5Modules(const BlockShape& shape);
  // Swin (blocks_swin.cc): merging, windowed attention, the block.
  void AddSwinModules(const BlockShape& shape);
  torch::Tensor MergePatches(const torch::Tensor& x);
  torch::Tensor WindowAttention(const torch::Tensor& x);
  torch::Tensor SwinForward(const torch::Tensor& x);
  torch::Tensor Mlp(const torch::Tensor& x);
  // A row-parallel linear's partial output, combined as the mode needs.
  torch::Tensor RowParallelOutput(const torch::Tensor& partial);

  BlockShape shape_;
  v1::SequenceParallel sp_ = v1::SEQUENCE_PARALLEL_NONE;
  std::shared_ptr<BlockComm> comm_;
  int tp_ = 1, tp_rank_ = 0;
  // Norms: LayerNorm (GPT, BERT) or RMSNorm weights (LLaMA).
  torch::nn::LayerNorm ln1_{nullptr}, ln2_{nullptr};
  torch::Tensor rms1_, rms2_;
  // Attention: column-parallel q, k, v; row-parallel output.
  torch::nn::Linear q_{nullptr}, k_{nullptr}, v_{nullptr}, o_{nullptr};
  // MLP: column-parallel up (and gate for SwiGLU); row-parallel down.
  torch::nn::Linear up_{nullptr}, gate_{nullptr}, down_{nullptr};
  // The row-parallel linears' biases, added once after their partial sums are combined.
  torch::Tensor o_bias_, down_bias_;
  // T5: the relative-position bias [buckets, this shard's heads] of the
  // self-attention; the decoder's cross-attention (column-parallel cq, ck,
  // cv; row-parallel co) with its norm; the encoder's final norm.
  torch::Tensor relative_bias_, rms_cross_, encoder_final_rms_;
  torch::nn::Linear cq_{nullptr}, ck_{nullptr}, cv_{nullptr}, co_{nullptr};
  // Swin: patch merging (relative_bias_ holds its window's offsets' bias).
  torch::nn::LayerNorm merge_norm_{nullptr};
  torch::nn::Linear merge_{nullptr};
  // Index tensors a forward needs, built on first use and kept (they depend
  // only on the shape): T5's buckets, Swin's bias index and shift mask.
  torch::Tensor position_index_, window_mask_;
  // position_index_ (built on x's device when it is missing, another shape or elsewhere).
  const torch::Tensor& PositionIndex(const torch::Tensor& x, int64_t rows, int64_t columns,
                                     const std::function<torch::Tensor()>& build);
};
TORCH_MODULE(TransformerBlock);

// Which part of the embedding/head a pipeline stage holds.
enum class HeadPart { kAll, kEmbedding, kHead };

// Token (+ position, + segment for BERT) embedding, final norm and the LM (or
// MLM) head with its cross-entropy loss, sharded over the vocabulary by
// `options.tp` (the vocab-parallel embedding and head of rank 0, without
// their collectives). For ViT: the patch embedding with its class token and
// positions, and the classification head on the class token; "tokens" are
// then images [b, C, H, W] (float), "labels" classes [b], and nothing is
// split over the group (a tensor-parallel group computes them alike).
// For T5: one token table for the encoder's and the decoder's inputs (the
// tokens are both, concatenated: [b, encoder_seq + decoder_seq]), no
// positions; the head reads the decoder's part after a final RMS norm.
// For Swin: the patch embedding normalised (no class token, no positions);
// the head classifies the mean of the last stage's normalised tokens.
class EmbeddingHeadImpl : public torch::nn::Module {
 public:
  EmbeddingHeadImpl(const v1::ModelSpec& model, HeadPart part, const BlockOptions& options);
  // tokens: [batch, seq] int64 → hidden [batch, seq, hidden].
  torch::Tensor Embed(const torch::Tensor& tokens);
  // hidden → the mean cross-entropy against `labels` over this shard's
  // vocabulary slice (labels outside it are ignored).
  torch::Tensor Loss(const torch::Tensor& hidden, const torch::Tensor& labels);
  int64_t hidden() const { return hidden_; }

  // The training runtime's forms, with `options.comm` over the group of
  // `options.tp` ranks (vocab-parallel; Megatron-SP: the embedding's output
  // and the head's input are this rank's slice of the sequence; Ulysses: full
  // tables, this rank's slice of the sequence throughout):
  // tokens [b, s] (the whole sequence) → this rank's activations;
  torch::Tensor EmbedParallel(const torch::Tensor& tokens);
  // this rank's activations and labels [b, s] (the whole sequence) → the sum
  // of the per-token losses this rank computes (with vocab tp and without
  // Ulysses, every member computes the same sum), each multiplied by its
  // entry of `weights` [b, s] when given (BERT: 1 where a token was masked).
  torch::Tensor LossSumParallel(const torch::Tensor& hidden, const torch::Tensor& labels,
                                const torch::Tensor& weights = {});
  std::vector<ParamShard> Shards() const;
  bool vision() const;

 private:
  torch::Tensor Positions(int64_t offset, int64_t length, const torch::Tensor& like);
  torch::Tensor EmbedImages(const torch::Tensor& images);
  // The summed cross-entropy of the class token's logits against `labels`.
  torch::Tensor ClassLossSum(const torch::Tensor& hidden, const torch::Tensor& labels);
  torch::Tensor FinalNorm(const torch::Tensor& hidden);
  // T5: the decoder's part of the carried activation (the last
  // labels.size(1) positions); other models: all of it.
  torch::Tensor DecoderPart(const torch::Tensor& hidden, const torch::Tensor& labels) const;

  v1::ModelFamily family_;
  HeadPart part_;
  v1::SequenceParallel sp_ = v1::SEQUENCE_PARALLEL_NONE;
  std::shared_ptr<BlockComm> comm_;
  int tp_ = 1, tp_rank_ = 0;
  int64_t vocab_ = 0;
  int64_t hidden_ = 0;
  int64_t vocab_shard_ = 0;
  bool tied_ = false;
  torch::nn::Embedding tokens_{nullptr}, positions_{nullptr}, segments_{nullptr};
  torch::nn::LayerNorm embed_ln_{nullptr}, final_ln_{nullptr};
  torch::Tensor final_rms_;
  torch::nn::Linear mlm_dense_{nullptr};
  torch::nn::Linear head_{nullptr};
  torch::Tensor head_bias_;  // BERT's decoder bias with tied weights
  // ViT.
  int64_t patch_ = 0, channels_ = 0, classes_ = 0;
  torch::nn::Linear patch_proj_{nullptr};
  torch::Tensor class_token_;
  torch::nn::LayerNorm patch_norm_{nullptr};  // Swin
};
TORCH_MODULE(EmbeddingHead);

int64_t ParameterCount(torch::nn::Module& module);

}  // namespace galvatron::runtime
