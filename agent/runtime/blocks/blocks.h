// Transformer blocks and the embedding/head of a ModelSpec, as LibTorch
// modules: GPT-2 style (pre-LN, GELU MLP, biases), LLaMA style (RMSNorm, RoPE,
// SwiGLU, grouped-query attention, no biases) and BERT style (post-LN). A
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
  torch::Tensor SequenceToHeads(const torch::Tensor& x) override;
  torch::Tensor HeadsToSequence(const torch::Tensor& x) override;

 private:
  int size_;
};

struct BlockOptions {
  int tp = 1;  // tensor-parallel degree of the shard (BlockShape carries it for blocks)
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
  int64_t ffn = 0;        // this shard's MLP width
  int64_t heads = 0;      // this shard's query heads
  int64_t kv_heads = 0;   // this shard's key/value heads
  int64_t head_dim = 0;
  int64_t seq_len = 0;
  bool bias = false;
  bool causal = true;
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

 private:
  torch::Tensor Norm(int which, const torch::Tensor& x);
  torch::Tensor Attention(const torch::Tensor& x);
  torch::Tensor Mlp(const torch::Tensor& x);
  // A row-parallel linear's partial output, combined as the mode needs.
  torch::Tensor RowParallelOutput(const torch::Tensor& partial);

  BlockShape shape_;
  v1::SequenceParallel sp_ = v1::SEQUENCE_PARALLEL_NONE;
  std::shared_ptr<BlockComm> comm_;
  // Norms: LayerNorm (GPT, BERT) or RMSNorm weights (LLaMA).
  torch::nn::LayerNorm ln1_{nullptr}, ln2_{nullptr};
  torch::Tensor rms1_, rms2_;
  // Attention: column-parallel q, k, v; row-parallel output.
  torch::nn::Linear q_{nullptr}, k_{nullptr}, v_{nullptr}, o_{nullptr};
  // MLP: column-parallel up (and gate for SwiGLU); row-parallel down.
  torch::nn::Linear up_{nullptr}, gate_{nullptr}, down_{nullptr};
  torch::Tensor rope_cos_, rope_sin_;  // [seq, head_dim / 2] (LLaMA)
};
TORCH_MODULE(TransformerBlock);

// Which part of the embedding/head a pipeline stage holds.
enum class HeadPart { kAll, kEmbedding, kHead };

// Token (+ position, + segment for BERT) embedding, final norm and the LM (or
// MLM) head with its cross-entropy loss, sharded over the vocabulary by
// `options.tp` (the vocab-parallel embedding and head of rank 0, without
// their collectives).
class EmbeddingHeadImpl : public torch::nn::Module {
 public:
  EmbeddingHeadImpl(const v1::ModelSpec& model, HeadPart part, const BlockOptions& options);
  // tokens: [batch, seq] int64 → hidden [batch, seq, hidden].
  torch::Tensor Embed(const torch::Tensor& tokens);
  // hidden → the mean cross-entropy against `labels` over this shard's
  // vocabulary slice (labels outside it are ignored).
  torch::Tensor Loss(const torch::Tensor& hidden, const torch::Tensor& labels);
  int64_t hidden() const { return hidden_; }

 private:
  v1::ModelFamily family_;
  HeadPart part_;
  int64_t hidden_ = 0;
  int64_t vocab_shard_ = 0;
  bool tied_ = false;
  torch::nn::Embedding tokens_{nullptr}, positions_{nullptr}, segments_{nullptr};
  torch::nn::LayerNorm embed_ln_{nullptr}, final_ln_{nullptr};
  torch::Tensor final_rms_;
  torch::nn::Linear mlm_dense_{nullptr};
  torch::nn::Linear head_{nullptr};
  torch::Tensor head_bias_;  // BERT's decoder bias with tied weights
};
TORCH_MODULE(EmbeddingHead);

int64_t ParameterCount(torch::nn::Module& module);

}  // namespace galvatron::runtime
