#include "agent/runtime/comm/collectives.h"

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/runtime/comm/wait_clock.h"

namespace galvatron::runtime {
namespace {

int64_t WrapDim(int64_t dim, const at::Tensor& x) {
  const int64_t rank = x.dim();
  TORCH_CHECK(dim >= -rank && dim < rank, "dim ", dim, " is out of range for a tensor of ", rank,
              " dimensions");
  return dim < 0 ? dim + rank : dim;
}

// The size of one rank's part of `x` along `dim`.
int64_t PartSize(const at::Tensor& x, const CommGroup& group, int64_t dim) {
  const int64_t extent = x.size(dim);
  TORCH_CHECK(extent % group.size() == 0, "dimension ", dim, " of size ", extent,
              " does not split evenly over the ", group.size(), " ranks of group ",
              group.Describe());
  return extent / group.size();
}

void Wait(const c10::intrusive_ptr<c10d::Work>& work) { WaitFor(work, WaitKind::kModel); }

// Gloo in LibTorch 1.13 answers reduce_scatter with an error.
bool HasReduceScatter(const CommGroup& group) {
  return group.process_group->getBackendName() != "gloo";
}

// Gloo in LibTorch 1.13 has no bfloat16 kernels: such tensors travel as
// float32 (exact: every bf16 value is a float32; sums round once, on the way
// back) and come back as bfloat16.
bool Widen(const at::Tensor& x, const CommGroup& group) {
  return x.scalar_type() == at::kBFloat16 && group.process_group->getBackendName() == "gloo";
}

}  // namespace

std::string CommGroup::Describe() const {
  return absl::StrCat("[", absl::StrJoin(ranks, ","), "]");
}

at::Tensor AllReduce(const at::Tensor& x, const CommGroup& group, c10d::ReduceOp op) {
  if (group.size() == 1) return x;
  if (Widen(x, group)) return AllReduce(x.to(at::kFloat), group, op).to(at::kBFloat16);
  std::vector<at::Tensor> tensors{x.clone(at::MemoryFormat::Contiguous)};
  c10d::AllreduceOptions options;
  options.reduceOp = op;
  Wait(group.process_group->allreduce(tensors, options));
  return tensors[0];
}

at::Tensor AllGather(const at::Tensor& x, const CommGroup& group, int64_t dim) {
  if (group.size() == 1) return x;
  if (Widen(x, group)) return AllGather(x.to(at::kFloat), group, dim).to(at::kBFloat16);
  dim = WrapDim(dim, x);
  std::vector<at::Tensor> inputs{x.contiguous()};
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int i = 0; i < group.size(); ++i) outputs[0].push_back(at::empty_like(inputs[0]));
  Wait(group.process_group->allgather(outputs, inputs));
  return at::cat(outputs[0], dim);
}

at::Tensor SplitForRank(const at::Tensor& x, const CommGroup& group, int64_t dim) {
  if (group.size() == 1) return x;
  dim = WrapDim(dim, x);
  const int64_t part = PartSize(x, group, dim);
  return x.narrow(dim, group.rank * part, part).clone(at::MemoryFormat::Contiguous);
}

at::Tensor ReduceScatter(const at::Tensor& x, const CommGroup& group, int64_t dim) {
  if (group.size() == 1) return x;
  dim = WrapDim(dim, x);
  const int64_t part = PartSize(x, group, dim);
  if (!HasReduceScatter(group)) {
    // Emulation: everyone gets the whole sum and keeps its slice.
    return SplitForRank(AllReduce(x, group), group, dim);
  }
  std::vector<at::Tensor> parts;
  for (int i = 0; i < group.size(); ++i)
    parts.push_back(x.narrow(dim, i * part, part).contiguous());
  std::vector<std::vector<at::Tensor>> inputs{parts};
  std::vector<at::Tensor> outputs{at::empty_like(parts[0])};
  Wait(group.process_group->reduce_scatter(outputs, inputs));
  return outputs[0];
}

at::Tensor AllToAll(const at::Tensor& x, const CommGroup& group, int64_t scatter_dim,
                    int64_t gather_dim) {
  if (group.size() == 1) return x;
  scatter_dim = WrapDim(scatter_dim, x);
  gather_dim = WrapDim(gather_dim, x);
  const int64_t part = PartSize(x, group, scatter_dim);
  if (Widen(x, group)) {
    return AllToAll(x.to(at::kFloat), group, scatter_dim, gather_dim).to(at::kBFloat16);
  }
  // c10d's all-to-all splits dimension 0 evenly: stack the parts there.
  std::vector<at::Tensor> parts;
  for (int i = 0; i < group.size(); ++i) parts.push_back(x.narrow(scatter_dim, i * part, part));
  at::Tensor input = at::stack(parts, 0).contiguous();
  at::Tensor output = at::empty_like(input);
  std::vector<int64_t> equal_splits;  // empty: equal parts
  Wait(group.process_group->alltoall_base(output, input, equal_splits, equal_splits));
  return at::cat(output.unbind(0), gather_dim);
}

}  // namespace galvatron::runtime
