// ParallelContext: everything a worker needs to know about parallelism, built
// once from the plan and passed explicitly to whatever communicates (no
// module-global registry of groups, unlike Megatron's parallel_state). It
// holds this rank's place (rank, world, pipeline stage and neighbours) and a
// c10d process group for every distinct group the rank belongs to, for every
// layer's strategy and the embedding's (agent/runtime/parallel/group_plan.h
// says which). Groups are cached by their rank list, so two layers (or a tp
// group and a dp group) with the same ranks share one process group.
//
// Backends: Gloo (CPU tensors) or NCCL (CUDA tensors; a worker built
// against a LibTorch with CUDA, agent/runtime/device/device.h).
//
// Immutable after Create, thread-compatible; the CommGroups it hands out live
// as long as the context — keep it alive until every backward pass that used
// them has run.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/runtime/comm/comm_group.h"
#include "agent/runtime/parallel/group_plan.h"

namespace galvatron::runtime {

struct ParallelContextOptions {
  // Keys of this context's groups in the store live under this prefix; two
  // contexts on one store need different prefixes.
  std::string store_prefix = "galvatron/parallel";
  // "gloo" or "nccl".
  std::string backend = "gloo";
  // The address Gloo binds to: 127.0.0.1 for one machine; empty: the
  // address of this host's name (c10d's default device).
  std::string gloo_host = "127.0.0.1";
  // How long a group's creation and each collective may wait for the peers.
  std::chrono::milliseconds timeout = std::chrono::seconds(300);
};

// The groups of one layer (or of the embedding/head), owned by the context.
struct LayerGroups {
  LayerParallelism strategy;             // dp resolved
  const CommGroup* tp = nullptr;         // tensor/sequence-parallel peers
  const CommGroup* dp = nullptr;         // data-parallel peers
  const CommGroup* grad_sync = nullptr;  // gradients reduced here (dp; dp × sp for Ulysses)
};

class ParallelContext {
 public:
  // Plans this rank's groups (INVALID_ARGUMENT for a layout that does not
  // fit) and creates them collectively over `store`, in the same order on
  // every rank. Every rank of the world must call it with the same layout
  // (but its own rank). UNAVAILABLE naming the group when peers do not join
  // within the timeout. A world of one needs no store (it may be null).
  static absl::StatusOr<std::unique_ptr<ParallelContext>> Create(
      const ParallelLayout& layout, const c10::intrusive_ptr<c10d::Store>& store,
      const ParallelContextOptions& options = {});

  ParallelContext(const ParallelContext&) = delete;
  ParallelContext& operator=(const ParallelContext&) = delete;

  int rank() const { return rank_; }
  int world() const { return world_; }
  int pp() const { return pp_; }
  int stage() const { return plan_.stage; }
  bool first_stage() const { return plan_.stage == 0; }
  bool last_stage() const { return plan_.stage == pp_ - 1; }
  // Pipeline neighbours (global ranks, reachable over world()); -1 at the ends.
  int prev_stage_rank() const { return plan_.prev_stage_rank; }
  int next_stage_rank() const { return plan_.next_stage_rank; }

  const CommGroup& world_group() const { return *world_group_; }
  const CommGroup& stage_group() const { return *stage_group_; }

  // This stage's layers, by global layer index.
  int first_layer() const { return plan_.first_layer; }
  int layer_count() const { return static_cast<int>(layers_.size()); }
  // OUT_OF_RANGE naming the stage's layers when `index` is on another stage.
  absl::StatusOr<const LayerGroups*> Layer(int index) const;
  // FAILED_PRECONDITION on a middle stage, which holds neither.
  absl::StatusOr<const LayerGroups*> Embedding() const;

  // The group with exactly these ranks (ascending) if this rank created it
  // (any layer's, the stage's, the world's or an extra group); null if not.
  const CommGroup* Group(const std::vector<int>& ranks) const;

  // How many c10d process groups this rank created (groups of one need
  // none): what the cache by rank list saved shows here.
  int process_group_count() const { return process_group_count_; }

 private:
  ParallelContext() = default;

  // While Create runs: the cached group with exactly these ranks.
  const CommGroup* Find(const std::vector<int>& ranks);
  LayerGroups Resolve(const LayerGroupRanks& ranks);

  int rank_ = 0;
  int world_ = 1;
  int pp_ = 1;
  GroupPlan plan_;
  std::map<std::vector<int>, std::unique_ptr<CommGroup>> groups_;
  int process_group_count_ = 0;
  const CommGroup* world_group_ = nullptr;
  const CommGroup* stage_group_ = nullptr;
  std::vector<LayerGroups> layers_;
  LayerGroups embedding_;
};

}  // namespace galvatron::runtime
