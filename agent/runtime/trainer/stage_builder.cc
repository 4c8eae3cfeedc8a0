#include "agent/runtime/trainer/stage_builder.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/runtime/layers/init.h"
#include "common/plan_validation.h"
#include "common/stable_hash.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace galvatron::runtime {
namespace {

// Our own starting state for the parameter seeds (not FNV's offset basis,
// which has one more digit). Every initial weight is drawn from it: changing it
// changes every run.
constexpr uint64_t kParameterSeedBasis = 1469598103934665603ULL;

Sync SyncOf(v1::DataParallelType type) {
  switch (type) {
    case v1::DATA_PARALLEL_TYPE_ZERO1:
      return Sync::kZero1;
    case v1::DATA_PARALLEL_TYPE_ZERO2:
      return Sync::kZero2;
    case v1::DATA_PARALLEL_TYPE_ZERO3:
      return Sync::kZero3;
    default:
      return Sync::kDdp;
  }
}

ActivationLayout LayoutOf(int tp, int dp, v1::SequenceParallel sp) {
  return {tp, dp, tp > 1 && sp != v1::SEQUENCE_PARALLEL_NONE};
}

// The global layer index → its LayerGroup index.
std::vector<int> GroupOfLayers(const v1::ModelSpec& model) {
  std::vector<int> groups;
  for (int g = 0; g < model.layers_size(); ++g) {
    for (int i = 0; i < model.layers(g).count(); ++i) groups.push_back(g);
  }
  return groups;
}

// Sets a module's parameters to the slices of the full model's: matrices
// from N(0, 0.02) seeded by (seed, global name), biases zero, norm weights
// one — whatever the layout, so every plan starts from the single-process
// weights.
void InitParameters(torch::nn::Module& module, const std::vector<ParamShard>& shards,
                    const std::string& prefix, uint64_t seed) {
  torch::NoGradGuard no_grad;
  auto named = module.named_parameters();
  for (const ParamShard& shard : shards) {
    torch::Tensor& p = named[shard.name];
    if (shard.full_shape.size() >= 2) {
      torch::Tensor full =
          SeededNormal(shard.full_shape, SeedOf(seed, prefix + shard.name), 0.02, p.scalar_type());
      p.copy_(shard.dim >= 0 ? full.narrow(shard.dim, shard.start, p.size(shard.dim)) : full);
    } else if (absl::EndsWith(shard.name, "bias")) {
      p.zero_();
    } else {
      p.fill_(1.0);
    }
  }
}

// The ranks holding the same replicated KV head as the rank at `position` of
// a stage: `shared_by` consecutive ranks of its tp group.
std::vector<int> SharedKvGroup(const std::vector<int>& stage_ranks, int position, int tp,
                               int shared_by) {
  const int first = (position / tp) * tp + (position % tp) / shared_by * shared_by;
  return std::vector<int>(stage_ranks.begin() + first, stage_ranks.begin() + first + shared_by);
}

// ZeRO-1/2 owners: per sum group, the largest tensors first to the least
// loaded member (the same on every member: they hold the same tensors).
void AssignZeroOwners(Stage& st) {
  std::map<const CommGroup*, std::vector<size_t>> by_group;
  for (size_t i = 0; i < st.params.size(); ++i) {
    const Param& p = st.params[i];
    if (p.sync == Sync::kZero1 || p.sync == Sync::kZero2) by_group[p.sum_group].push_back(i);
  }
  for (auto& [group, indices] : by_group) {
    std::stable_sort(indices.begin(), indices.end(), [&](size_t a, size_t b) {
      return st.params[a].tensor.numel() > st.params[b].tensor.numel();
    });
    std::vector<int64_t> load(static_cast<size_t>(group->size()), 0);
    for (size_t i : indices) {
      const int owner = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
      st.params[i].owner = owner;
      load[static_cast<size_t>(owner)] += st.params[i].tensor.numel();
    }
  }
}

}  // namespace

// What this runtime cannot execute yet: UNIMPLEMENTED naming it.
absl::Status CheckSupported(const v1::Plan& plan, const v1::ModelSpec& model) {
  // Swin's stages widen; every other model keeps one hidden size.
  for (int g = 1; g < model.layers_size() && model.family() != v1::MODEL_FAMILY_SWIN; ++g) {
    if (model.layers(g).hidden() != model.layers(0).hidden()) {
      return absl::UnimplementedError(absl::StrCat(
          "layers[", g, "].hidden: ", model.layers(g).hidden(), " differs from layers[0]'s (",
          model.layers(0).hidden(), "); the runtime needs one hidden size throughout"));
    }
  }
  const v1::EmbeddingStrategy& e = plan.embedding();
  // Models whose sequence does not split (common/plan_validation.h).
  const char* why = SequenceSplitRefusal(model.family());
  if (why != nullptr) {
    if (e.vocab_tp() > 1 && e.sp() != v1::SEQUENCE_PARALLEL_NONE) {
      return absl::UnimplementedError(
          absl::StrCat("embedding.sp: ", v1::SequenceParallel_Name(e.sp()), why));
    }
    if (plan.seq_len() > 0 && plan.seq_len() != model.seq_len()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "seq_len: ", plan.seq_len(), ", but this model's sequence lengths are fixed by its spec",
          model.family() != v1::MODEL_FAMILY_T5 ? " (image and patch size)"
                                                : " (seq_len and the decoder groups' seq_len)",
          ": ", model.seq_len()));
    }
    for (int l = 0; l < plan.layers_size(); ++l) {
      const v1::LayerStrategy& s = plan.layers(l);
      if (s.tp() > 1 && s.sp() != v1::SEQUENCE_PARALLEL_NONE) {
        return absl::UnimplementedError(
            absl::StrCat("layers[", l, "].sp: ", v1::SequenceParallel_Name(s.sp()), why));
      }
    }
  }
  const bool zero = e.dp_type() == v1::DATA_PARALLEL_TYPE_ZERO1 ||
                    e.dp_type() == v1::DATA_PARALLEL_TYPE_ZERO2 ||
                    e.dp_type() == v1::DATA_PARALLEL_TYPE_ZERO3;
  if (model.tie_embeddings() && plan.pp() > 1 && zero) {
    // The tied table is kept whole on both ends (BuildStage syncs it as DDP);
    // the rest of the embedding is sharded as asked.
    spdlog::info(
        "embedding.dp_type {} with tied embeddings across {} stages: the shared table "
        "is kept whole (summed across the ends), the rest follows the plan",
        v1::DataParallelType_Name(e.dp_type()), plan.pp());
  }
  return absl::OkStatus();
}

// The seed of parameter `name`: FNV-1a's step over the name from the run's
// seed mixed into our basis, so every layout draws the same full tensor.
uint64_t SeedOf(uint64_t seed, const std::string& name) {
  return Fnv1a64(name, kParameterSeedBasis ^ seed);
}

BlockOptions EmbeddingBlockOptions(const v1::EmbeddingStrategy& e, int position,
                                   torch::Dtype dtype) {
  const int vtp = std::max(1, e.vocab_tp());
  BlockOptions options;
  options.dtype = dtype;
  options.tp = vtp;
  options.tp_rank = position % vtp;
  options.sp = vtp > 1 ? e.sp() : v1::SEQUENCE_PARALLEL_NONE;
  return options;
}

HeadPart HeadPartOf(int pp, bool first_stage) {
  return pp == 1 ? HeadPart::kAll : first_stage ? HeadPart::kEmbedding : HeadPart::kHead;
}

absl::StatusOr<LayerBlockSetup> LayerBlockOptions(const v1::ModelSpec& model, const v1::Plan& plan,
                                                  int layer, int position, torch::Dtype dtype) {
  if (layer < 0 || layer >= plan.layers_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer ", layer, ": the plan has ", plan.layers_size(), " layers"));
  }
  const std::vector<int> group_of = GroupOfLayers(model);
  if (layer >= static_cast<int>(group_of.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer ", layer, ": the model has ", group_of.size(), " layers"));
  }
  const v1::LayerStrategy& s = plan.layers(layer);
  const int tp = std::max(1, s.tp());
  const bool ulysses = tp > 1 && s.sp() == v1::SEQUENCE_PARALLEL_ULYSSES;
  LayerBlockSetup setup;
  ASSIGN_OR_RETURN(setup.shape, ResolveBlockShape(model, group_of[static_cast<size_t>(layer)],
                                                  ulysses ? 1 : tp));
  setup.options.dtype = dtype;
  setup.options.tp = ulysses ? 1 : tp;
  setup.options.tp_rank = ulysses ? 0 : position % tp;
  setup.options.sp = tp > 1 ? s.sp() : v1::SEQUENCE_PARALLEL_NONE;
  if (IsT5Kind(setup.shape.kind)) {
    ASSIGN_OR_RETURN(const T5Lengths lengths, T5SequenceLengths(model));
    setup.shape.encoder_final_norm = layer == lengths.first_decoder_layer;
  }
  if (setup.shape.kind == v1::LAYER_KIND_SWIN_BLOCK) {
    // Odd blocks of a group shift; only a group's first block merges.
    const int group = group_of[static_cast<size_t>(layer)];
    const int index = static_cast<int>(
        layer - (std::find(group_of.begin(), group_of.end(), group) - group_of.begin()));
    setup.shape.shift = SwinShift(setup.shape, model.layers(group), index);
    if (index != 0) setup.shape.merge_from_hidden = 0;
  }
  return setup;
}

bool NeedsGroupComm(const BlockOptions& options) {
  return options.tp > 1 || options.sp != v1::SEQUENCE_PARALLEL_NONE;
}

bool TiedAcrossPipeline(const v1::ModelSpec& model, int pp, const std::string& name) {
  return model.tie_embeddings() && pp > 1 && name == "embedding.tokens.weight";
}

bool InZero3Unit(v1::DataParallelType type, bool tied, int shard_group_size) {
  return !tied && SyncOf(type) == Sync::kZero3 && shard_group_size > 1;
}

ParallelLayout LayoutOfPlan(const v1::Plan& plan, const v1::ModelSpec& model, int rank) {
  ParallelLayout layout;
  layout.world = plan.world_size();
  layout.rank = rank;
  layout.pp = std::max(1, plan.pp());
  for (const v1::LayerStrategy& s : plan.layers()) {
    layout.layers.push_back(
        {std::max(1, s.tp()), s.tp() > 1 ? s.sp() : v1::SEQUENCE_PARALLEL_NONE, 0});
  }
  layout.layers_per_stage.assign(plan.pp_division().begin(), plan.pp_division().end());
  const int vtp = std::max(1, plan.embedding().vocab_tp());
  layout.embedding = {vtp, vtp > 1 ? plan.embedding().sp() : v1::SEQUENCE_PARALLEL_NONE, 0};
  // Replicated KV heads (tp > KV heads, Megatron TP): groups of tp/kv
  // consecutive ranks in every tp group of every stage.
  std::set<std::vector<int>> shares;
  const std::vector<int> group_of = GroupOfLayers(model);
  for (int l = 0; l < plan.layers_size(); ++l) {
    const v1::LayerStrategy& s = plan.layers(l);
    const v1::LayerGroup& g = model.layers(group_of[static_cast<size_t>(l)]);
    const int kv = g.kv_heads() > 0 ? g.kv_heads() : g.heads();
    if (s.tp() <= kv || s.sp() == v1::SEQUENCE_PARALLEL_ULYSSES) continue;
    for (int first = 0; first < layout.world; first += s.tp() / kv) {
      std::vector<int> ranks(static_cast<size_t>(s.tp() / kv));
      std::iota(ranks.begin(), ranks.end(), first);
      shares.insert(ranks);
    }
  }
  layout.extra_groups.assign(shares.begin(), shares.end());
  if (model.tie_embeddings() && layout.pp > 1) {
    // The first and last stage's ranks at one position share the tied table.
    const int per_stage = layout.world / layout.pp;
    for (int i = 0; i < per_stage; ++i) {
      layout.extra_groups.push_back({i, (layout.pp - 1) * per_stage + i});
    }
  }
  return layout;
}

absl::StatusOr<Stage> BuildStage(const v1::ModelSpec& model_spec, const v1::Plan& plan,
                                 TrainerComm& comm, const Precision& precision, uint64_t seed) {
  const torch::Dtype dtype = precision.compute;
  const torch::Dtype master_dtype = precision.master;
  ParallelContext& ctx = comm.model();
  ParallelContext& grads = comm.grads();
  Stage st;
  st.device = comm.device();
  st.position = ctx.stage_group().rank;
  st.stage_size = ctx.stage_group().size();
  st.first = ctx.first_stage();
  st.last = ctx.last_stage();
  const int pp = ctx.pp();

  auto add_params = [&](torch::nn::Module& module, const std::vector<ParamShard>& shards,
                        const std::string& prefix, const LayerGroups& gg, v1::DataParallelType type,
                        bool ulysses, int tp) -> absl::StatusOr<int> {
    auto named = module.named_parameters();
    std::vector<Zero3Unit::Member> members;
    std::vector<size_t> member_params;
    for (const ParamShard& shard : shards) {
      Param p;
      p.name = prefix + shard.name;
      p.tensor = named[shard.name];
      p.shard = shard;
      p.tied = TiedAcrossPipeline(model_spec, pp, p.name);
      const bool partial = shard.grad == ParamShard::Grad::kPartial;
      // Ulysses: gradients add up over dp × sp (its grad_sync group);
      // Megatron-SP's whole tensors: over the stage; the rest over dp.
      const CommGroup* sum = partial && !ulysses ? &grads.stage_group() : gg.grad_sync;
      p.sum_group = GroupSize(sum) > 1 ? sum : nullptr;
      p.extra_replicas = (shard.grad == ParamShard::Grad::kReplicated ? tp : 1) * (p.tied ? 2 : 1) *
                         shard.shared_by;
      if (shard.shared_by > 1) {
        p.share =
            grads.Group(SharedKvGroup(ctx.stage_group().ranks, st.position, tp, shard.shared_by));
        if (p.share == nullptr)
          return absl::InternalError(absl::StrCat(p.name, ": no KV share group"));
      }
      p.sync = p.tied ? Sync::kDdp : SyncOf(type);
      // The checkpoint's placement (param_placement.h) decides with the same function.
      if (InZero3Unit(type, p.tied, GroupSize(gg.grad_sync))) {
        // Sharded over grad_sync; Megatron-SP partial tensors summed over tp first.
        Zero3Unit::Member m;
        m.param = p.tensor;
        m.pre_sum = partial && !ulysses && GroupSize(gg.tp) > 1 ? gg.tp : p.share;
        m.norm_weight =
            (shard.grad == ParamShard::Grad::kReplicated || (partial && !ulysses)) ? 1.0 / tp : 1.0;
        members.push_back(m);
        member_params.push_back(st.params.size());
      } else if (p.sync == Sync::kZero3) {
        p.sync = Sync::kDdp;  // a shard group of one: nothing to shard over
      } else if (p.sync != Sync::kDdp && p.sum_group == nullptr) {
        p.sync = Sync::kDdp;  // nothing to shard over
      }
      st.params.push_back(std::move(p));
    }
    if (members.empty()) return -1;
    const int unit = static_cast<int>(st.units.size());
    for (size_t i : member_params) st.params[i].unit = unit;
    st.units.push_back(
        std::make_unique<Zero3Unit>(prefix, std::move(members), gg.grad_sync, master_dtype));
    return unit;
  };

  // Embedding and head.
  const v1::EmbeddingStrategy& e = plan.embedding();
  const int vtp = std::max(1, e.vocab_tp());
  st.embedding_layout = LayoutOf(vtp, st.stage_size / vtp, e.sp());
  st.loss_replicated = vtp > 1 && e.sp() != v1::SEQUENCE_PARALLEL_ULYSSES;
  if (st.first || st.last) {
    ASSIGN_OR_RETURN(const LayerGroups* mg, ctx.Embedding());
    ASSIGN_OR_RETURN(const LayerGroups* gg, grads.Embedding());
    BlockOptions options = EmbeddingBlockOptions(e, st.position, dtype);
    if (NeedsGroupComm(options)) options.comm = std::make_shared<GroupComm>(mg->tp);
    st.embedding = EmbeddingHead(model_spec, HeadPartOf(pp, st.first), options);
    const std::vector<ParamShard> shards = st.embedding->Shards();
    InitParameters(*st.embedding, shards, "embedding.", seed);
    // Initialised on the CPU (the same values on any device), then moved:
    // the parameters keep their identity.
    if (!st.device.is_cpu()) st.embedding->to(st.device);
    ASSIGN_OR_RETURN(st.embedding_unit,
                     add_params(*st.embedding, shards, "embedding.", *gg, e.dp_type(),
                                options.sp == v1::SEQUENCE_PARALLEL_ULYSSES, vtp));
  }

  // This stage's blocks.
  for (int l = ctx.first_layer(); l < ctx.first_layer() + ctx.layer_count(); ++l) {
    const v1::LayerStrategy& s = plan.layers(l);
    ASSIGN_OR_RETURN(const LayerGroups* mg, ctx.Layer(l));
    ASSIGN_OR_RETURN(const LayerGroups* gg, grads.Layer(l));
    const int tp = std::max(1, s.tp());
    const bool ulysses = tp > 1 && s.sp() == v1::SEQUENCE_PARALLEL_ULYSSES;
    ASSIGN_OR_RETURN(LayerBlockSetup setup,
                     LayerBlockOptions(model_spec, plan, l, st.position, dtype));
    BlockOptions& options = setup.options;
    if (NeedsGroupComm(options)) options.comm = std::make_shared<GroupComm>(mg->tp);
    TransformerBlock block(setup.shape, options);
    const std::string prefix = absl::StrCat("layer", l, ".");
    const std::vector<ParamShard> shards = block->Shards();
    InitParameters(*block, shards, prefix, seed);
    if (!st.device.is_cpu()) block->to(st.device);
    ASSIGN_OR_RETURN(const int unit,
                     add_params(*block, shards, prefix, *gg, s.dp_type(), ulysses, tp));
    st.block_unit.push_back(unit);
    st.blocks.push_back(block);
    st.layouts.push_back(LayoutOf(tp, st.stage_size / tp, s.sp()));
    st.checkpoint.push_back(s.checkpoint());
  }
  if (!st.first) {
    const v1::LayerStrategy& s = plan.layers(ctx.first_layer() - 1);
    st.previous_layout = LayoutOf(std::max(1, s.tp()), st.stage_size / std::max(1, s.tp()), s.sp());
    if (model_spec.family() == v1::MODEL_FAMILY_SWIN) {  // its stages' sizes differ
      ASSIGN_OR_RETURN(const LayerBlockSetup previous,
                       LayerBlockOptions(model_spec, plan, ctx.first_layer() - 1, 0, dtype));
      st.previous_seq = previous.shape.seq_len;
      st.previous_hidden = previous.shape.hidden;
    }
  }

  AssignZeroOwners(st);
  return st;
}

}  // namespace galvatron::runtime
