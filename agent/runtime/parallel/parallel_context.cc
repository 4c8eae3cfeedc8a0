#include "agent/runtime/parallel/parallel_context.h"

#include <algorithm>
#include <numeric>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/runtime/comm/gloo_peers.h"
#include "agent/runtime/device/device.h"
#include "common/status_macros.h"

namespace galvatron::runtime {
namespace {

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// One Gloo device (its sockets' address) for all of a context's groups.
absl::StatusOr<std::shared_ptr<::gloo::transport::Device>> GlooDevice(
    const ParallelContextOptions& options) {
  try {
    return options.gloo_host.empty()
               ? c10d::ProcessGroupGloo::createDefaultDevice()
               : c10d::ProcessGroupGloo::createDeviceForHostname(options.gloo_host);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("gloo_host: \"", options.gloo_host,
                                                   "\" cannot be bound: ", FirstLine(e.what())));
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<ParallelContext>> ParallelContext::Create(
    const ParallelLayout& layout, const c10::intrusive_ptr<c10d::Store>& store,
    const ParallelContextOptions& options) {
  ASSIGN_OR_RETURN(GroupPlan plan, PlanGroups(layout));
  std::unique_ptr<ParallelContext> context(new ParallelContext());
  context->rank_ = layout.rank;
  context->world_ = layout.world;
  context->pp_ = layout.pp;
  context->plan_ = std::move(plan);
  const GroupPlan& p = context->plan_;

  if (options.backend != "gloo" && options.backend != "nccl") {
    return absl::InvalidArgumentError(
        absl::StrCat("backend: \"", options.backend, "\", expected gloo or nccl"));
  }
  const bool nccl = options.backend == "nccl";
  if (!p.creation_order.empty()) {
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
    if (!nccl) {
      ASSIGN_OR_RETURN(auto device, GlooDevice(options));
      gloo_options->devices.push_back(device);
    }
    // In the plan's order: see group_plan.h for why that cannot deadlock.
    for (const std::vector<int>& ranks : p.creation_order) {
      auto group = std::make_unique<CommGroup>();
      group->ranks = ranks;
      group->rank =
          static_cast<int>(std::find(ranks.begin(), ranks.end(), layout.rank) - ranks.begin());
      // Each group rendezvouses under its own key prefix of the one store.
      auto prefixed = c10::make_intrusive<c10d::PrefixStore>(
          absl::StrCat(options.store_prefix, "/", group->Describe()), store);
      if (nccl) {
        absl::StatusOr<c10::intrusive_ptr<torch_compat::Backend>> backend =
            MakeNcclBackend(prefixed, group->rank, group->size(), options.timeout);
        if (!backend.ok()) {
          return absl::Status(backend.status().code(),
                              absl::StrCat("rank ", layout.rank, ", group ", group->Describe(),
                                           ": ", backend.status().message()));
        }
        group->process_group = *std::move(backend);
        ++context->process_group_count_;
        context->groups_.emplace(ranks, std::move(group));
        continue;
      }
      c10::intrusive_ptr<GlooProcessGroup> gloo;
      try {
        gloo = c10::make_intrusive<GlooProcessGroup>(prefixed, group->rank, group->size(),
                                                     gloo_options);
      } catch (const std::exception& e) {
        return absl::UnavailableError(absl::StrCat(
            "rank ", layout.rank, ": creating the process group of ranks ", group->Describe(),
            " failed (did every member start, with the same plan?): ", FirstLine(e.what())));
      }
      // So that a peer's Gloo error about these sockets names this rank.
      RETURN_IF_ERROR(PublishGlooPeers(*store, layout.rank, *gloo));
      group->process_group = gloo;
      ++context->process_group_count_;
      context->groups_.emplace(ranks, std::move(group));
    }
  }

  std::vector<int> everyone(static_cast<size_t>(layout.world));
  std::iota(everyone.begin(), everyone.end(), 0);
  context->world_group_ = context->Find(everyone);
  context->stage_group_ = context->Find(p.stage_ranks);
  for (const LayerGroupRanks& ranks : p.layers) context->layers_.push_back(context->Resolve(ranks));
  if (p.embedding) context->embedding_ = context->Resolve(*p.embedding);
  return context;
}

const CommGroup* ParallelContext::Find(const std::vector<int>& ranks) {
  auto it = groups_.find(ranks);
  if (it != groups_.end()) return it->second.get();
  // Only groups of one are missing from the plan's creation order: they need
  // no process group. Made on first use and cached like the others.
  auto single = std::make_unique<CommGroup>();
  single->ranks = ranks;
  single->rank = 0;
  const CommGroup* result = single.get();
  groups_.emplace(ranks, std::move(single));
  return result;
}

LayerGroups ParallelContext::Resolve(const LayerGroupRanks& ranks) {
  LayerGroups groups;
  groups.strategy = ranks.strategy;
  groups.tp = Find(ranks.tp);
  groups.dp = Find(ranks.dp);
  groups.grad_sync = Find(ranks.grad_sync);
  return groups;
}

const CommGroup* ParallelContext::Group(const std::vector<int>& ranks) const {
  auto it = groups_.find(ranks);
  return it == groups_.end() ? nullptr : it->second.get();
}

absl::StatusOr<const LayerGroups*> ParallelContext::Layer(int index) const {
  const int end = plan_.first_layer + layer_count();
  if (index < plan_.first_layer || index >= end) {
    return absl::OutOfRangeError(absl::StrCat("layer ", index, " is not on stage ", plan_.stage,
                                              ", which holds layers ", plan_.first_layer, "..",
                                              end - 1));
  }
  return &layers_[static_cast<size_t>(index - plan_.first_layer)];
}

absl::StatusOr<const LayerGroups*> ParallelContext::Embedding() const {
  if (!plan_.embedding) {
    return absl::FailedPreconditionError(absl::StrCat("stage ", plan_.stage, " of ", pp_,
                                                      " holds neither the embedding nor the head"));
  }
  return &embedding_;
}

}  // namespace galvatron::runtime
