#include "agent/runtime/trainer/grad_sync.h"

#include <algorithm>

#include "agent/runtime/comm/collectives.h"
#include "agent/runtime/comm/wait_clock.h"

namespace galvatron::runtime {
namespace {

// DDP and ZeRO-1 gradients: all-reduced in buckets.
std::vector<Param*> SummedParams(Stage& stage) {
  std::vector<Param*> summed;
  for (Param& p : stage.params) {
    if (p.sync == Sync::kDdp || p.sync == Sync::kZero1) summed.push_back(&p);
  }
  return summed;
}

}  // namespace

GradSync::GradSync(Stage& stage, TrainerComm& comm, torch::Dtype wire)
    : stage_(stage), comm_(comm), wire_(wire), reducer_(SummedParams(stage)) {}

void GradSync::ZeroGrads() {
  for (Param& p : stage_.params) {
    p.tensor.mutable_grad() = torch::Tensor();
    if (p.master.defined()) p.master.mutable_grad() = torch::Tensor();
  }
  for (auto& unit : stage_.units) unit->shard().mutable_grad() = torch::Tensor();
}

absl::Status GradSync::Finish() {
  // Every wait below is the step's gradient synchronisation, also the
  // all-reduces made through the model's collectives.
  WaitKindScope sync(WaitKind::kGradientSync);
  for (auto& unit : stage_.units) unit->Flush();
  for (Param& p : stage_.params) {
    if (p.sync != Sync::kZero3 && !p.tensor.grad().defined()) {
      p.tensor.mutable_grad() = torch::zeros_like(p.tensor);
    }
  }
  reducer_.Finish();
  for (Param& p : stage_.params) {  // replicated KV heads (sums commute: before or after dp)
    if (p.share != nullptr && p.sync != Sync::kZero3) {
      p.tensor.mutable_grad().copy_(AllReduce(p.tensor.grad(), *p.share));
    }
  }
  ReduceZero2ToOwners();
  const int pp = comm_.model().pp();
  for (Param& p : stage_.params) {
    if (!p.tied) continue;
    const int pos = stage_.position;
    const CommGroup* tied = comm_.grads().Group({pos, (pp - 1) * stage_.stage_size + pos});
    if (tied == nullptr) return absl::InternalError("the tied-embedding group is missing");
    p.tensor.mutable_grad().copy_(AllReduce(p.tensor.grad(), *tied));
  }
  return absl::OkStatus();
}

// One reduce per (group, owner) of the gradients it owns, all started
// before any is waited for.
void GradSync::ReduceZero2ToOwners() {
  struct Batch {
    const CommGroup* group;
    int owner;
    std::vector<Param*> params;
    std::vector<torch::Tensor> flat;
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<Batch> batches;
  for (Param& p : stage_.params) {
    if (p.sync != Sync::kZero2) continue;
    auto it = std::find_if(batches.begin(), batches.end(), [&](const Batch& b) {
      return b.group == p.sum_group && b.owner == p.owner;
    });
    if (it == batches.end())
      it = batches.insert(batches.end(), Batch{p.sum_group, p.owner, {}, {}, {}});
    it->params.push_back(&p);
  }
  for (Batch& b : batches) {
    std::vector<torch::Tensor> parts;
    for (Param* p : b.params) parts.push_back(p->tensor.grad().reshape({-1}));
    b.flat = {torch::cat(parts).to(wire_)};
    c10d::ReduceOptions options;
    options.rootRank = b.owner;
    b.work = b.group->process_group->reduce(b.flat, options);
  }
  for (Batch& b : batches) {
    WaitFor(b.work, WaitKind::kGradientSync);
    const bool mine = b.owner == b.group->rank;
    int64_t at = 0;
    for (Param* p : b.params) {
      if (mine) {
        p->tensor.mutable_grad().copy_(
            b.flat[0].narrow(0, at, p->tensor.numel()).view_as(p->tensor));
      } else {
        p->tensor.mutable_grad() = torch::Tensor();  // not ours to keep
      }
      at += p->tensor.numel();
    }
  }
}

void GradSync::BroadcastUpdated() {
  torch::NoGradGuard no_grad;
  std::vector<const CommGroup*> groups;
  for (const Param& p : stage_.params) {
    if ((p.sync == Sync::kZero1 || p.sync == Sync::kZero2) &&
        std::find(groups.begin(), groups.end(), p.sum_group) == groups.end()) {
      groups.push_back(p.sum_group);
    }
  }
  for (const CommGroup* group : groups) {
    for (int owner = 0; owner < group->size(); ++owner) {
      std::vector<torch::Tensor> mine;
      for (const Param& p : stage_.params) {
        if ((p.sync == Sync::kZero1 || p.sync == Sync::kZero2) && p.sum_group == group &&
            p.owner == owner) {
          mine.push_back(p.tensor);
        }
      }
      if (mine.empty()) continue;
      std::vector<torch::Tensor> parts;
      for (const torch::Tensor& t : mine) parts.push_back(t.reshape({-1}));
      std::vector<torch::Tensor> flat{torch::cat(parts).to(wire_)};
      c10d::BroadcastOptions options;
      options.rootRank = owner;
      WaitFor(group->process_group->broadcast(flat, options), WaitKind::kGradientSync);
      int64_t at = 0;
      for (torch::Tensor& t : mine) {
        t.copy_(flat[0].narrow(0, at, t.numel()).view_as(t));
        at += t.numel();
      }
    }
  }
}

}  // namespace galvatron::runtime
