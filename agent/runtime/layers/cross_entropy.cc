#include "agent/runtime/layers/cross_entropy.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include "agent/runtime/comm/collectives.h"

namespace galvatron::runtime {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct VocabParallelCrossEntropyFn : torch::autograd::Function<VocabParallelCrossEntropyFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& logits,
                            const at::Tensor& target, const CommGroup* group) {
    const int64_t part = logits.size(-1);
    const int64_t start = group->rank * part;
    // Shift by the global max so that exp cannot overflow.
    const at::Tensor max = AllReduce(std::get<0>(logits.max(-1)), *group, c10d::ReduceOp::MAX);
    const at::Tensor shifted = logits - max.unsqueeze(-1);

    // The target's shifted logit: its owner contributes it, the others zero.
    const at::Tensor outside = (target < start).logical_or(target >= start + part);
    const at::Tensor local_target = (target - start).masked_fill(outside, 0);
    const at::Tensor own_logit =
        shifted.gather(-1, local_target.unsqueeze(-1)).squeeze(-1).masked_fill(outside, 0.0);
    const at::Tensor target_logit = AllReduce(own_logit, *group);

    const at::Tensor exp = shifted.exp();
    const at::Tensor sum_exp = AllReduce(exp.sum(-1), *group);
    const at::Tensor softmax = exp / sum_exp.unsqueeze(-1);
    ctx->save_for_backward({softmax, local_target, outside});
    return sum_exp.log() - target_logit;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const variable_list saved = ctx->get_saved_variables();
    const at::Tensor& softmax = saved[0];
    const at::Tensor& local_target = saved[1];
    const at::Tensor& outside = saved[2];
    // d loss / d logit_v = softmax_v − [v = target], on the target's owner only.
    const at::Tensor onehot_value = outside.logical_not().to(softmax.scalar_type()).unsqueeze(-1);
    at::Tensor grad = softmax.scatter_add(-1, local_target.unsqueeze(-1), -onehot_value);
    grad = grad * grads[0].unsqueeze(-1);
    return {grad, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor VocabParallelCrossEntropy(const at::Tensor& logits, const at::Tensor& target,
                                     const CommGroup& group) {
  TORCH_CHECK(target.sizes() == logits.sizes().slice(0, logits.dim() - 1), "target of shape ",
              target.sizes(), " does not match logits of shape ", logits.sizes(),
              " without their last (vocabulary) dimension");
  return VocabParallelCrossEntropyFn::apply(logits, target, &group);
}

}  // namespace galvatron::runtime
