// This rank's pipeline stage as the trainer holds it: its modules (the
// embedding on the first stage, the head with its loss on the last, the
// blocks of its layers), each layer's activation layout, and one record per
// parameter tensor saying how its gradient is synchronised (DDP, ZeRO-1/2/3),
// where it is summed and which rank updates it. stage_builder.h builds it;
// the executor, gradient synchronisation, clipping, the optimizer and
// checkpoint I/O read and update it.
//
// Thread model: plain data, owned by the training thread; the autograd hooks
// that touch it (ZeRO-3 units, DDP buckets) run during that thread's
// backward passes.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/runtime/blocks/blocks.h"
#include "agent/runtime/comm/comm_group.h"
#include "agent/runtime/trainer/stage_comm.h"
#include "agent/runtime/trainer/zero3.h"

namespace galvatron::runtime {

// The numeric types of a run. bfloat16 and float16 are mixed precision: the
// model computes in the half type and the optimizer updates float32 master
// copies (Megatron's mixed precision; float16 also needs loss scaling).
struct Precision {
  torch::Dtype compute = torch::kFloat32;  // parameters and activations
  torch::Dtype master = torch::kFloat32;   // what the optimizer updates
  // Pipeline messages and reduced gradients: float32 for bf16 over Gloo,
  // which has no bf16 kernels; the compute type over NCCL.
  torch::Dtype wire = torch::kFloat32;
  bool mixed = false;  // compute != master
};

// "float32", "float64", "bfloat16" or "float16" (the caller has checked the
// name); `native_half` when the collectives (NCCL) sum half types as they are.
inline Precision PrecisionOf(const std::string& dtype, bool native_half = false) {
  Precision p;
  p.compute = dtype == "float64"    ? torch::kFloat64
              : dtype == "bfloat16" ? torch::kBFloat16
              : dtype == "float16"  ? torch::kFloat16
                                    : torch::kFloat32;
  p.mixed = p.compute == torch::kBFloat16 || p.compute == torch::kFloat16;
  p.master = p.mixed ? torch::kFloat32 : p.compute;
  p.wire = p.mixed && !native_half ? torch::kFloat32 : p.compute;
  return p;
}

enum class Sync { kDdp, kZero1, kZero2, kZero3 };

// One parameter tensor of this rank's stage.
struct Param {
  std::string name;  // global: "embedding.tokens.weight", "layer3.q.weight"
  torch::Tensor tensor;
  ParamShard shard;
  Sync sync = Sync::kDdp;
  // Where its gradient is summed (the layer's dp group; the stage when each
  // rank saw only part of the sequence). Null: nowhere (a group of one).
  const CommGroup* sum_group = nullptr;
  // How many ranks end up with this same final gradient, beyond the owner
  // (ZeRO) or the sum group (DDP): tp for tensors replicated over tp, 2 for
  // the embedding tied across the pipeline's ends.
  int extra_replicas = 1;
  bool tied = false;  // summed with the other end of the pipeline as well
  // A KV head replicated over tp ranks: its gradient is summed there too.
  const CommGroup* share = nullptr;
  int owner = -1;  // ZeRO-1/2: the index in sum_group of the rank that updates it
  int unit = -1;   // ZeRO-3: its unit
  // bf16 mixed precision: the float32 copy the optimizer updates (on the
  // ranks that update the tensor), cast into `tensor` after each step.
  torch::Tensor master;
};

inline int GroupSize(const CommGroup* g) { return g == nullptr ? 1 : g->size(); }

// Whether this rank's optimizer updates `p` itself.
inline bool Updates(const Param& p) {
  switch (p.sync) {
    case Sync::kDdp:
      return true;
    case Sync::kZero3:
      return false;  // its unit's shard is updated instead
    default:
      return p.owner == p.sum_group->rank;
  }
}

// This rank's stage of the model.
struct Stage {
  // Where this rank's parameters, activations and micro-batches live.
  torch::Device device = torch::kCPU;
  int position = 0;  // in the stage
  int stage_size = 1;
  bool first = true, last = true;
  EmbeddingHead embedding{nullptr};
  ActivationLayout embedding_layout;
  bool loss_replicated = false;  // every vocab-tp rank computes the same loss sum
  int embedding_unit = -1;
  std::vector<TransformerBlock> blocks;
  std::vector<ActivationLayout> layouts;
  std::vector<bool> checkpoint;
  std::vector<int> block_unit;
  ActivationLayout previous_layout;  // the previous stage's last layer's
  // What that layer returns, when it differs from the run's sequence and
  // hidden size (Swin's later stages); 0: the run's.
  int64_t previous_seq = 0, previous_hidden = 0;
  std::vector<std::unique_ptr<Zero3Unit>> units;
  std::vector<Param> params;
};

}  // namespace galvatron::runtime
