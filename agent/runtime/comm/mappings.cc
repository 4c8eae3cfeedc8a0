#include "agent/runtime/comm/mappings.h"

#include <torch/csrc/autograd/custom_function.h>

#include <cstdint>

#include "agent/runtime/comm/collectives.h"

namespace galvatron::runtime {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// autograd's saved_data holds IValues only: the borrowed group travels as
// its address (see the lifetime rule in mappings.h).
void SaveGroup(AutogradContext* ctx, const CommGroup* group) {
  ctx->saved_data["group"] = static_cast<int64_t>(reinterpret_cast<intptr_t>(group));
}

const CommGroup& LoadGroup(AutogradContext* ctx) {
  return *reinterpret_cast<const CommGroup*>(
      static_cast<intptr_t>(ctx->saved_data["group"].toInt()));
}

// backward returns one gradient per forward argument: none for the group and
// the dimensions.
variable_list InputGradient(const at::Tensor& grad, int non_tensor_arguments) {
  variable_list grads{grad};
  grads.resize(static_cast<size_t>(1 + non_tensor_arguments));
  return grads;
}

struct CopyToGroupFn : torch::autograd::Function<CopyToGroupFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const CommGroup* group) {
    SaveGroup(ctx, group);
    return x;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return InputGradient(AllReduce(grads[0], LoadGroup(ctx)), 1);
  }
};

struct ReduceFromGroupFn : torch::autograd::Function<ReduceFromGroupFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const CommGroup* group) {
    return AllReduce(x, *group);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return InputGradient(grads[0], 1);
  }
};

struct ScatterToGroupFn : torch::autograd::Function<ScatterToGroupFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const CommGroup* group,
                            int64_t dim) {
    SaveGroup(ctx, group);
    ctx->saved_data["dim"] = dim;
    return SplitForRank(x, *group, dim);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return InputGradient(AllGather(grads[0], LoadGroup(ctx), ctx->saved_data["dim"].toInt()), 2);
  }
};

struct GatherFromGroupFn : torch::autograd::Function<GatherFromGroupFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const CommGroup* group,
                            int64_t dim) {
    SaveGroup(ctx, group);
    ctx->saved_data["dim"] = dim;
    return AllGather(x, *group, dim);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return InputGradient(SplitForRank(grads[0], LoadGroup(ctx), ctx->saved_data["dim"].toInt()), 2);
  }
};

struct GatherSequenceFn : torch::autograd::Function<GatherSequenceFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const CommGroup* group,
                            int64_t dim) {
    SaveGroup(ctx, group);
    ctx->saved_data["dim"] = dim;
    return AllGather(x, *group, dim);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return InputGradient(ReduceScatter(grads[0], LoadGroup(ctx), ctx->saved_data["dim"].toInt()),
                         2);
  }
};

struct ReduceScatterSequenceFn : torch::autograd::Function<ReduceScatterSequenceFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const CommGroup* group,
                            int64_t dim) {
    SaveGroup(ctx, group);
    ctx->saved_data["dim"] = dim;
    return ReduceScatter(x, *group, dim);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return InputGradient(AllGather(grads[0], LoadGroup(ctx), ctx->saved_data["dim"].toInt()), 2);
  }
};

struct AllToAllSwapFn : torch::autograd::Function<AllToAllSwapFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const CommGroup* group,
                            int64_t scatter_dim, int64_t gather_dim) {
    SaveGroup(ctx, group);
    ctx->saved_data["scatter_dim"] = scatter_dim;
    ctx->saved_data["gather_dim"] = gather_dim;
    return AllToAll(x, *group, scatter_dim, gather_dim);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    // The inverse exchange: what was gathered is scattered back.
    return InputGradient(AllToAll(grads[0], LoadGroup(ctx), ctx->saved_data["gather_dim"].toInt(),
                                  ctx->saved_data["scatter_dim"].toInt()),
                         3);
  }
};

}  // namespace

at::Tensor CopyToGroup(const at::Tensor& x, const CommGroup& group) {
  if (group.size() == 1) return x;
  return CopyToGroupFn::apply(x, &group);
}

at::Tensor ReduceFromGroup(const at::Tensor& x, const CommGroup& group) {
  if (group.size() == 1) return x;
  return ReduceFromGroupFn::apply(x, &group);
}

at::Tensor ScatterToGroup(const at::Tensor& x, const CommGroup& group, int64_t dim) {
  if (group.size() == 1) return x;
  return ScatterToGroupFn::apply(x, &group, dim);
}

at::Tensor GatherFromGroup(const at::Tensor& x, const CommGroup& group, int64_t dim) {
  if (group.size() == 1) return x;
  return GatherFromGroupFn::apply(x, &group, dim);
}

at::Tensor GatherSequence(const at::Tensor& x, const CommGroup& group, int64_t dim) {
  if (group.size() == 1) return x;
  return GatherSequenceFn::apply(x, &group, dim);
}

at::Tensor ReduceScatterSequence(const at::Tensor& x, const CommGroup& group, int64_t dim) {
  if (group.size() == 1) return x;
  return ReduceScatterSequenceFn::apply(x, &group, dim);
}

at::Tensor AllToAllSwap(const at::Tensor& x, const CommGroup& group, int64_t scatter_dim,
                        int64_t gather_dim) {
  if (group.size() == 1) return x;
  return AllToAllSwapFn::apply(x, &group, scatter_dim, gather_dim);
}

}  // namespace galvatron::runtime
