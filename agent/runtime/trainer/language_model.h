// A whole model from a ModelSpec for one pipeline stage holding every layer:
// the embedding, the transformer blocks of agent/runtime/blocks and the
// head with its loss; activation checkpointing per layer. Thread-compatible.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "absl/status/statusor.h"
#include "agent/runtime/blocks/blocks.h"
#include "galvatron/v1/model.pb.h"

namespace galvatron::runtime {

class LanguageModelImpl : public torch::nn::Module {
 public:
  // `checkpoint[i]`: recompute layer i's forward in backward instead of
  // keeping what it saves (only its input is kept).
  LanguageModelImpl(const v1::ModelSpec& model, const std::vector<bool>& checkpoint,
                    const BlockOptions& options);
  // tokens, labels: [batch, seq] → the mean cross-entropy over every token.
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& labels);
  int num_layers() const { return static_cast<int>(blocks_.size()); }

 private:
  EmbeddingHead embedding_{nullptr};
  std::vector<TransformerBlock> blocks_;
  std::vector<bool> checkpoint_;
};
TORCH_MODULE(LanguageModel);

// INVALID_ARGUMENT / UNIMPLEMENTED when the spec has layer kinds without a
// block.
absl::Status CheckModelIsTrainable(const v1::ModelSpec& model);

// `block`'s forward on `x` without keeping its activations: they are
// recomputed during backward (activation checkpointing).
torch::Tensor CheckpointedForward(TransformerBlock block, const torch::Tensor& x);

}  // namespace galvatron::runtime
