#include "agent/runtime/trainer/zero3.h"

#include <c10/core/StorageImpl.h>

#include "agent/runtime/comm/collectives.h"

namespace galvatron::runtime {
namespace {

struct GradHook : torch::autograd::FunctionPostHook {
  explicit GradHook(std::function<void()> fn) : fn(std::move(fn)) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override {
    fn();
    return outputs;
  }
  std::function<void()> fn;
};

c10::StorageImpl* StorageOf(const torch::Tensor& t) { return t.storage().unsafeGetStorageImpl(); }

}  // namespace

Zero3Unit::Zero3Unit(std::string name, std::vector<Member> members, const CommGroup* shard_group,
                     torch::Dtype master_dtype)
    : name_(std::move(name)), group_(shard_group) {
  std::vector<torch::Tensor> flat_parts;
  for (Member& m : members) {
    Slot slot;
    slot.offset = numel_;
    slot.nbytes = m.param.numel() * m.param.element_size();
    numel_ += m.param.numel();
    flat_parts.push_back(m.param.detach().reshape({-1}));
    slot.member = std::move(m);
    slots_.push_back(std::move(slot));
  }
  const int n = group_->size();
  padded_ = (numel_ + n - 1) / n * n;
  torch::Tensor flat = torch::cat(flat_parts).to(master_dtype);
  flat = torch::nn::functional::pad(flat,
                                    torch::nn::functional::PadFuncOptions({0, padded_ - numel_}));
  shard_ = flat.narrow(0, group_->rank * (padded_ / n), padded_ / n).clone().requires_grad_(true);
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& slot = slots_[i];
    slot.accumulator = torch::autograd::impl::grad_accumulator(slot.member.param);
    slot.accumulator->add_post_hook(std::make_unique<GradHook>([this] { GradArrived(); }));
  }
  pending_ = static_cast<int>(slots_.size());
  Release();
}

Zero3Unit::~Zero3Unit() = default;

void Zero3Unit::Materialize() {
  if (materialized_) return;
  torch::NoGradGuard no_grad;
  torch::Tensor full = AllGather(shard_.detach(), *group_, 0);
  for (Slot& slot : slots_) {
    c10::StorageImpl* storage = StorageOf(slot.member.param);
    storage->set_data_ptr_noswap(storage->allocator()->allocate(static_cast<size_t>(slot.nbytes)));
    storage->set_nbytes(static_cast<size_t>(slot.nbytes));
    // variable_data(): a new version counter, so autograd's saved views of
    // the parameter stay valid.
    slot.member.param.variable_data().copy_(
        full.narrow(0, slot.offset, slot.member.param.numel()).view_as(slot.member.param));
  }
  materialized_ = true;
}

void Zero3Unit::Release() {
  if (!materialized_) return;
  for (Slot& slot : slots_) {
    c10::StorageImpl* storage = StorageOf(slot.member.param);
    storage->set_data_ptr_noswap(c10::DataPtr(nullptr, slot.member.param.device()));
    storage->set_nbytes(0);
  }
  materialized_ = false;
}

torch::Tensor Zero3Unit::Run(const std::function<torch::Tensor()>& forward) {
  Materialize();
  torch::Tensor y = forward();
  Release();
  if (y.requires_grad()) {
    y.register_hook([this](const torch::Tensor& grad) {
      Materialize();
      return grad;
    });
  }
  return y;
}

void Zero3Unit::GradArrived() {
  any_arrived_ = true;
  if (--pending_ == 0) ReduceGradients();
}

void Zero3Unit::Flush() {
  if (any_arrived_) ReduceGradients();
}

void Zero3Unit::ReduceGradients() {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for (Slot& slot : slots_) {
    torch::Tensor& grad = slot.member.param.mutable_grad();
    torch::Tensor g = grad.defined()
                          ? grad.reshape({-1})
                          : torch::zeros({slot.member.param.numel()}, slot.member.param.options());
    if (slot.member.pre_sum != nullptr) g = AllReduce(g, *slot.member.pre_sum);
    parts.push_back(g);
    grad = torch::Tensor();
  }
  torch::Tensor flat = torch::cat(parts).to(shard_.scalar_type());  // reduced in the master's type
  flat = torch::nn::functional::pad(flat,
                                    torch::nn::functional::PadFuncOptions({0, padded_ - numel_}));
  torch::Tensor mine = ReduceScatter(flat, *group_, 0);
  if (shard_.grad().defined()) {
    shard_.mutable_grad().add_(mine);
  } else {
    shard_.mutable_grad() = mine.clone();
  }
  Release();
  pending_ = static_cast<int>(slots_.size());
  any_arrived_ = false;
}

double Zero3Unit::GradSquareSum() const {
  if (!shard_.grad().defined()) return 0;
  const int64_t per = padded_ / group_->size();
  const int64_t begin = group_->rank * per, end = begin + per;
  torch::Tensor g = shard_.grad().to(torch::kFloat64);
  double sum = 0;
  for (const Slot& slot : slots_) {
    const int64_t a = std::max(begin, slot.offset);
    const int64_t b = std::min(end, slot.offset + slot.member.param.numel());
    if (a >= b) continue;
    sum += slot.member.norm_weight * g.narrow(0, a - begin, b - a).pow(2).sum().item<double>();
  }
  return sum;
}

int64_t Zero3Unit::ResidentBytes() const {
  int64_t bytes = shard_.numel() * shard_.element_size();
  if (shard_.grad().defined()) bytes += shard_.grad().numel() * shard_.grad().element_size();
  return bytes;
}

}  // namespace galvatron::runtime
