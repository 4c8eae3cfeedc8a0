// Cross-entropy over logits split along the vocabulary (Megatron's
// vocab_parallel_cross_entropy), without ever gathering the [tokens, vocab]
// logits. Rank i holds the logits of vocabulary ids [i·V/p, (i+1)·V/p):
//   m    = max over all ranks of the logits           (all-reduce MAX)
//   z_t  = the target's logit − m, from its owner      (all-reduce SUM)
//   S    = Σ_v exp(logit_v − m) over all ranks         (all-reduce SUM)
//   loss = log S − z_t
// and the gradient w.r.t. this rank's logits is softmax − onehot(target)
// restricted to its range (the max's contribution cancels: log-sum-exp is
// shift-invariant, so no gradient flows through it).
//
// Thread model: as CommGroup.
#pragma once

#include <ATen/core/Tensor.h>

#include "agent/runtime/comm/comm_group.h"

namespace galvatron::runtime {

// logits [..., V/p] (this rank's vocabulary range, ranks in group order),
// target [...] int64 full-vocabulary ids → the per-token loss [...] (the
// caller reduces it, e.g. a mean). Every target must be a valid id: there is
// no ignore index (mask the per-token loss instead).
at::Tensor VocabParallelCrossEntropy(const at::Tensor& logits, const at::Tensor& target,
                                     const CommGroup& group);

}  // namespace galvatron::runtime
