#include "agent/runtime/trainer/trainer.h"

#include <sys/resource.h>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/runtime/comm/c10d_store.h"
#include "agent/runtime/comm/rendezvous.h"
#include "agent/runtime/blocks/blocks.h"
#include "agent/runtime/comm/collectives.h"
#include "agent/runtime/layers/init.h"
#include "agent/runtime/parallel/parallel_context.h"
#include "agent/runtime/inputs/lr_schedule.h"
#include "agent/runtime/inputs/plan_input.h"
#include "agent/runtime/inputs/token_data.h"
#include "agent/runtime/trainer/model_support.h"
#include "agent/runtime/trainer/pipeline_schedule.h"
#include "agent/runtime/trainer/stage_comm.h"
#include "agent/runtime/trainer/zero3.h"
#include "common/json_file.h"
#include "common/model_catalog.h"
#include "common/model_validation.h"
#include "common/stable_hash.h"
#include "common/status_macros.h"
#include "galvatron/v1/job.pb.h"
#include "spdlog/spdlog.h"

namespace galvatron::runtime {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kBucketBytes = 25 << 20;  // gradient all-reduce buckets (DDP's default)

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
  // Megatron-SP's partial gradients of whole tensors under ZeRO-3 are first
  // summed over the tp group (the shard group is dp).
  const CommGroup* pre_sum = nullptr;
  // How many ranks end up with this same final gradient, beyond the owner
  // (ZeRO) or the sum group (DDP): tp for tensors replicated over tp, 2 for
  // the embedding tied across the pipeline's ends.
  int extra_replicas = 1;
  bool tied = false;  // summed with the other end of the pipeline as well
  // A KV head replicated over tp ranks: its gradient is summed there too.
  const CommGroup* share = nullptr;
  int owner = -1;     // ZeRO-1/2: the index in sum_group of the rank that updates it
  int unit = -1;      // ZeRO-3: its unit
  // bf16 mixed precision: the float32 copy the optimizer updates (on the
  // ranks that update the tensor), cast into `tensor` after each step.
  torch::Tensor master;
};

int GroupSize(const CommGroup* g) { return g == nullptr ? 1 : g->size(); }

// The rendezvous and the two contexts: one for the model's collectives
// (tensor/sequence parallelism, redistribution, pipeline messages), one for
// gradient synchronisation, so that gradient buckets started from backward
// hooks never interleave with the model's collectives on one process group.
class Comm {
 public:
  static absl::StatusOr<std::unique_ptr<Comm>> Connect(const TrainOptions& o,
                                                       const ParallelLayout& layout) {
    auto comm = std::make_unique<Comm>();
    c10::intrusive_ptr<c10d::Store> store;
    ParallelContextOptions options;
    options.timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1000));
    if (o.world_size > 1) {
      runtime::RendezvousOptions rendezvous;
      rendezvous.host = o.store_host;
      rendezvous.port = o.store_port;
      rendezvous.rank = o.rank;
      rendezvous.world_size = o.world_size;
      rendezvous.timeout = options.timeout;
      rendezvous.peer_timeout =
          std::chrono::milliseconds(static_cast<int64_t>(o.peer_timeout_seconds * 1000));
      if (o.rank == 0 && !o.port_file.empty()) {
        const std::string port_file = o.port_file;
        rendezvous.on_serving = [port_file](int port) {
          return WriteTextFile(port_file, absl::StrCat(port, "\n"));
        };
      }
      ASSIGN_OR_RETURN(comm->rendezvous_, runtime::TcpRendezvous::Connect(rendezvous));
      if (o.rendezvous_holder != nullptr) *o.rendezvous_holder = comm->rendezvous_;
      store = comm->rendezvous_->c10d().store;
      const bool loopback = o.store_host == "127.0.0.1" || o.store_host == "localhost";
      options.gloo_host = loopback ? "127.0.0.1" : "";
    }
    options.store_prefix = "galvatron/train/model";
    ASSIGN_OR_RETURN(comm->model_, ParallelContext::Create(layout, store, options));
    options.store_prefix = "galvatron/train/grads";
    ASSIGN_OR_RETURN(comm->grads_, ParallelContext::Create(layout, store, options));
    return comm;
  }

  ParallelContext& model() { return *model_; }
  ParallelContext& grads() { return *grads_; }
  int rank() const { return model_->rank(); }
  int world() const { return model_->world(); }

  // Sum over the world (blocking); a world of one does nothing.
  void WorldSum(torch::Tensor& t) {
    if (world() == 1) return;
    t.copy_(AllReduce(t, grads_->world_group()));
  }
  void Barrier() {
    torch::Tensor one = torch::ones({1});
    WorldSum(one);
  }
  // Point-to-point over the model context's world group.
  void Send(const torch::Tensor& t, int to, int tag) {
    std::vector<torch::Tensor> tensors{t.contiguous()};
    sends_.emplace_back(model_->world_group().process_group->send(tensors, to, tag), tensors[0]);
  }
  torch::Tensor Receive(at::IntArrayRef shape, const torch::TensorOptions& options, int from,
                        int tag) {
    std::vector<torch::Tensor> tensors{torch::empty(shape, options)};
    model_->world_group().process_group->recv(tensors, from, tag)->wait();
    return tensors[0];
  }
  // Waits for every send of the step (their buffers stay alive until then).
  void FinishSends() {
    for (auto& [work, tensor] : sends_) work->wait();
    sends_.clear();
  }

 private:
  std::shared_ptr<runtime::TcpRendezvous> rendezvous_;
  std::unique_ptr<ParallelContext> model_, grads_;
  std::vector<std::pair<c10::intrusive_ptr<c10d::Work>, torch::Tensor>> sends_;
};

// DDP's gradient reducer: the summed parameters in buckets of about
// kBucketBytes (one group per bucket), in the order backward produces their
// gradients (reverse registration order). During the last micro-batch's
// backward a hook after each parameter's gradient accumulation counts the
// bucket down; a bucket whose gradients are all final starts its all-reduce
// at once, overlapping the rest of backward. Buckets start strictly in order
// (every member of a group must issue the same collectives in the same
// order); Finish() starts what is left (parameters that got no gradient),
// waits, and writes the sums back.
class GradientReducer {
 public:
  explicit GradientReducer(const std::vector<Param*>& params) {
    Bucket current;
    int64_t bytes = 0;
    for (auto it = params.rbegin(); it != params.rend(); ++it) {
      const Param& p = **it;
      if (!current.params.empty() && (p.sum_group != current.group || bytes >= kBucketBytes)) {
        buckets_.push_back(std::move(current));
        current = Bucket();
        bytes = 0;
      }
      current.group = p.sum_group;
      current.params.push_back(p.tensor);
      bytes += p.tensor.numel() * p.tensor.element_size();
    }
    if (!current.params.empty()) buckets_.push_back(std::move(current));
    for (size_t b = 0; b < buckets_.size(); ++b) {
      for (const torch::Tensor& p : buckets_[b].params) {
        std::shared_ptr<torch::autograd::Node> accumulator = torch::autograd::impl::grad_accumulator(p);
        accumulator->add_post_hook(std::make_unique<Hook>(this, b));
        accumulators_.push_back(std::move(accumulator));  // hooks live as long as their node
      }
    }
  }

  // Arms the hooks for the backward that follows (the last micro-batch's).
  void Arm() {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = true;
    next_ = 0;
    for (Bucket& b : buckets_) {
      b.pending = static_cast<int>(b.params.size());
      b.work.reset();
    }
  }

  void Finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Bucket& b : buckets_) b.pending = 0;
      StartReady();
      armed_ = false;
    }
    for (Bucket& b : buckets_) {
      if (!b.work) continue;
      b.work->wait();
      int64_t at = 0;
      for (torch::Tensor& p : b.params) {
        p.mutable_grad().copy_(b.flat.narrow(0, at, p.numel()).view_as(p));
        at += p.numel();
      }
    }
  }

 private:
  struct Bucket {
    const CommGroup* group = nullptr;
    std::vector<torch::Tensor> params;
    int pending = 0;
    torch::Tensor flat;
    c10::intrusive_ptr<c10d::Work> work;
  };

  struct Hook : torch::autograd::FunctionPostHook {
    Hook(GradientReducer* reducer, size_t bucket) : reducer(reducer), bucket(bucket) {}
    torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                              const torch::autograd::variable_list&) override {
      reducer->Ready(bucket);
      return outputs;
    }
    GradientReducer* reducer;
    size_t bucket;
  };

  void Ready(size_t bucket) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!armed_) return;
    if (--buckets_[bucket].pending == 0) StartReady();
  }

  // Starts the buckets whose gradients are final, in order. Under mu_.
  void StartReady() {
    while (next_ < buckets_.size() && buckets_[next_].pending <= 0) {
      Bucket& b = buckets_[next_++];
      if (GroupSize(b.group) == 1) continue;
      std::vector<torch::Tensor> parts;
      for (torch::Tensor& p : b.params) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        parts.push_back(p.grad().reshape({-1}));
      }
      b.flat = torch::cat(parts);
      // Gloo has no bf16 kernels: bf16 gradients are summed as float32.
      if (b.flat.scalar_type() == torch::kBFloat16) b.flat = b.flat.to(torch::kFloat32);
      std::vector<torch::Tensor> tensors{b.flat};
      b.work = b.group->process_group->allreduce(tensors);
    }
  }

  std::vector<Bucket> buckets_;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;
  std::mutex mu_;
  bool armed_ = false;
  size_t next_ = 0;
};

absl::StatusOr<v1::ModelSpec> LoadModel(const std::string& name_or_file) {
  ASSIGN_OR_RETURN(v1::ModelSpec model, LoadModelArgument(name_or_file));
  RETURN_IF_ERROR(CheckModelIsTrainable(model));
  return model;
}

// What this runtime cannot execute yet: UNIMPLEMENTED naming it.
absl::Status CheckSupported(const v1::Plan& plan, const v1::ModelSpec& model) {
  for (int g = 1; g < model.layers_size(); ++g) {
    if (model.layers(g).hidden() != model.layers(0).hidden()) {
      return absl::UnimplementedError(absl::StrCat(
          "layers[", g, "].hidden: ", model.layers(g).hidden(), " differs from layers[0]'s (",
          model.layers(0).hidden(), "); the runtime needs one hidden size throughout"));
    }
  }
  const v1::EmbeddingStrategy& e = plan.embedding();
  const bool zero = e.dp_type() == v1::DATA_PARALLEL_TYPE_ZERO1 ||
                    e.dp_type() == v1::DATA_PARALLEL_TYPE_ZERO2 ||
                    e.dp_type() == v1::DATA_PARALLEL_TYPE_ZERO3;
  if (model.tie_embeddings() && plan.pp() > 1 && zero) {
    // The tied table is kept whole on both ends (BuildStage syncs it as DDP);
    // the rest of the embedding is sharded as asked.
    spdlog::info("embedding.dp_type {} with tied embeddings across {} stages: the shared table "
                 "is kept whole (summed across the ends), the rest follows the plan",
                 v1::DataParallelType_Name(e.dp_type()), plan.pp());
  }
  return absl::OkStatus();
}

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

// Our own starting state for the parameter seeds (not FNV's offset basis,
// which has one more digit). Every initial weight is drawn from it: changing it
// changes every run.
constexpr uint64_t kParameterSeedBasis = 1469598103934665603ULL;

// The seed of parameter `name`: FNV-1a's step over the name from the run's
// seed mixed into our basis, so every layout draws the same full tensor.
uint64_t SeedOf(uint64_t seed, const std::string& name) {
  return Fnv1a64(name, kParameterSeedBasis ^ seed);
}

// This rank's stage of the model.
struct Stage {
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
  std::vector<std::unique_ptr<Zero3Unit>> units;
  std::vector<Param> params;
};

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

absl::StatusOr<Stage> BuildStage(const v1::ModelSpec& model_spec, const v1::Plan& plan,
                                 Comm& comm, torch::Dtype dtype, torch::Dtype master_dtype,
                                 uint64_t seed) {
  ParallelContext& ctx = comm.model();
  ParallelContext& grads = comm.grads();
  Stage st;
  st.position = ctx.stage_group().rank;
  st.stage_size = ctx.stage_group().size();
  st.first = ctx.first_stage();
  st.last = ctx.last_stage();
  const int pp = ctx.pp();
  const bool tied_across = model_spec.tie_embeddings() && pp > 1;

  auto add_params = [&](torch::nn::Module& module, const std::vector<ParamShard>& shards,
                        const std::string& prefix, const LayerGroups& gg,
                        v1::DataParallelType type, bool ulysses, int tp) -> absl::StatusOr<int> {
    auto named = module.named_parameters();
    std::vector<Zero3Unit::Member> members;
    std::vector<size_t> member_params;
    for (const ParamShard& shard : shards) {
      Param p;
      p.name = prefix + shard.name;
      p.tensor = named[shard.name];
      p.shard = shard;
      p.tied = tied_across && p.name == "embedding.tokens.weight";
      const bool partial = shard.grad == ParamShard::Grad::kPartial;
      // Ulysses: gradients add up over dp × sp (its grad_sync group);
      // Megatron-SP's whole tensors: over the stage; the rest over dp.
      const CommGroup* sum = partial && !ulysses ? &grads.stage_group() : gg.grad_sync;
      p.sum_group = GroupSize(sum) > 1 ? sum : nullptr;
      p.extra_replicas = (shard.grad == ParamShard::Grad::kReplicated ? tp : 1) * (p.tied ? 2 : 1) *
                         shard.shared_by;
      if (shard.shared_by > 1) {
        p.share = grads.Group(SharedKvGroup(ctx.stage_group().ranks, st.position, tp, shard.shared_by));
        if (p.share == nullptr) return absl::InternalError(absl::StrCat(p.name, ": no KV share group"));
      }
      p.sync = p.tied ? Sync::kDdp : SyncOf(type);
      if (p.sync == Sync::kZero3) {
        // Sharded over grad_sync; Megatron-SP partial tensors summed over tp first.
        Zero3Unit::Member m;
        m.param = p.tensor;
        m.pre_sum = partial && !ulysses && GroupSize(gg.tp) > 1 ? gg.tp : p.share;
        m.norm_weight = (shard.grad == ParamShard::Grad::kReplicated || (partial && !ulysses))
                            ? 1.0 / tp
                            : 1.0;
        if (GroupSize(gg.grad_sync) > 1) {
          members.push_back(m);
          member_params.push_back(st.params.size());
        } else {
          p.sync = Sync::kDdp;
        }
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
    BlockOptions options;
    options.dtype = dtype;
    options.tp = vtp;
    options.tp_rank = st.position % vtp;
    options.sp = vtp > 1 ? e.sp() : v1::SEQUENCE_PARALLEL_NONE;
    if (vtp > 1) options.comm = std::make_shared<GroupComm>(mg->tp);
    const HeadPart part = pp == 1 ? HeadPart::kAll : st.first ? HeadPart::kEmbedding : HeadPart::kHead;
    st.embedding = EmbeddingHead(model_spec, part, options);
    const std::vector<ParamShard> shards = st.embedding->Shards();
    InitParameters(*st.embedding, shards, "embedding.", seed);
    ASSIGN_OR_RETURN(st.embedding_unit,
                     add_params(*st.embedding, shards, "embedding.", *gg, e.dp_type(),
                                options.sp == v1::SEQUENCE_PARALLEL_ULYSSES, vtp));
  }

  // This stage's blocks.
  const std::vector<int> group_of = GroupOfLayers(model_spec);
  for (int l = ctx.first_layer(); l < ctx.first_layer() + ctx.layer_count(); ++l) {
    const v1::LayerStrategy& s = plan.layers(l);
    ASSIGN_OR_RETURN(const LayerGroups* mg, ctx.Layer(l));
    ASSIGN_OR_RETURN(const LayerGroups* gg, grads.Layer(l));
    const int tp = std::max(1, s.tp());
    const bool ulysses = tp > 1 && s.sp() == v1::SEQUENCE_PARALLEL_ULYSSES;
    ASSIGN_OR_RETURN(BlockShape shape, ResolveBlockShape(model_spec, group_of[static_cast<size_t>(l)],
                                                         ulysses ? 1 : tp));
    BlockOptions options;
    options.dtype = dtype;
    options.tp = ulysses ? 1 : tp;
    options.tp_rank = ulysses ? 0 : st.position % tp;
    options.sp = tp > 1 ? s.sp() : v1::SEQUENCE_PARALLEL_NONE;
    if (tp > 1) options.comm = std::make_shared<GroupComm>(mg->tp);
    TransformerBlock block(shape, options);
    const std::string prefix = absl::StrCat("layer", l, ".");
    const std::vector<ParamShard> shards = block->Shards();
    InitParameters(*block, shards, prefix, seed);
    ASSIGN_OR_RETURN(const int unit, add_params(*block, shards, prefix, *gg, s.dp_type(), ulysses, tp));
    st.block_unit.push_back(unit);
    st.blocks.push_back(block);
    st.layouts.push_back(LayoutOf(tp, st.stage_size / tp, s.sp()));
    st.checkpoint.push_back(s.checkpoint());
  }
  if (!st.first) {
    const v1::LayerStrategy& s = plan.layers(ctx.first_layer() - 1);
    st.previous_layout = LayoutOf(std::max(1, s.tp()), st.stage_size / std::max(1, s.tp()), s.sp());
  }

  // ZeRO-1/2 owners: per sum group, the largest tensors first to the least
  // loaded member (the same on every member: they hold the same tensors).
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
  return st;
}

bool Updates(const Param& p) {
  switch (p.sync) {
    case Sync::kDdp:
      return true;
    case Sync::kZero3:
      return false;  // its unit's shard is updated instead
    default:
      return p.owner == p.sum_group->rank;
  }
}

int64_t PeakMemoryBytes() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

std::string StepDir(const std::string& root, int64_t step) {
  return (fs::path(root) / absl::StrCat("step-", step)).string();
}

// What a checkpoint holds of this rank: every tensor it keeps (ZeRO-3
// layers as their shards).
std::vector<std::pair<std::string, torch::Tensor>> CheckpointTensors(Stage& st) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const Param& p : st.params) {
    if (p.sync != Sync::kZero3) tensors.emplace_back(p.name, p.tensor);
    if (p.master.defined()) tensors.emplace_back("master." + p.name, p.master);
  }
  for (auto& unit : st.units) tensors.emplace_back("zero3." + unit->name(), unit->shard());
  return tensors;
}

absl::Status SaveCheckpoint(const std::string& root, int64_t step, int rank, Comm& comm, Stage& st,
                            torch::optim::AdamW& optimizer) {
  const std::string dir = StepDir(root, step);
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  try {
    torch::serialize::OutputArchive params;
    for (auto& [name, tensor] : CheckpointTensors(st)) params.write(name, tensor.detach());
    params.save_to(absl::StrCat(dir, "/rank-", rank, ".pt"));
    torch::serialize::OutputArchive states;
    optimizer.save(states);
    states.save_to(absl::StrCat(dir, "/rank-", rank, ".optim.pt"));
  } catch (const c10::Error& e) {
    return absl::UnavailableError(absl::StrCat("cannot write the checkpoint in ", dir, ": ",
                                               e.what_without_backtrace()));
  }
  comm.Barrier();  // every shard is on disk before the checkpoint counts
  if (rank == 0) {
    RETURN_IF_ERROR(WriteTextFile((fs::path(root) / "latest").string(), absl::StrCat(step, "\n")));
  }
  comm.Barrier();
  return absl::OkStatus();
}

absl::StatusOr<int64_t> LoadCheckpoint(const std::string& root, int rank, Stage& st,
                                       torch::optim::AdamW& optimizer) {
  ASSIGN_OR_RETURN(std::string latest, ReadTextFile((fs::path(root) / "latest").string()));
  int64_t step = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(latest), &step) || step < 1) {
    return absl::DataLossError(absl::StrCat(root, "/latest: \"", latest, "\" is not a step"));
  }
  const std::string dir = StepDir(root, step);
  try {
    torch::serialize::InputArchive params;
    params.load_from(absl::StrCat(dir, "/rank-", rank, ".pt"));
    torch::NoGradGuard no_grad;
    for (auto& [name, tensor] : CheckpointTensors(st)) {
      torch::Tensor saved;
      params.read(name, saved);
      if (!saved.defined() || saved.sizes() != tensor.sizes()) {
        return absl::DataLossError(absl::StrCat(dir, "/rank-", rank, ".pt: ", name,
                                                " is missing or has another shape (was the "
                                                "checkpoint written with another plan?)"));
      }
      tensor.copy_(saved);
    }
    torch::serialize::InputArchive states;
    states.load_from(absl::StrCat(dir, "/rank-", rank, ".optim.pt"));
    optimizer.load(states);
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat("cannot read the checkpoint of rank ", rank, " in ",
                                            dir, ": ", e.what_without_backtrace()));
  }
  return step;
}

// One line per parameter tensor this rank holds, with its place in the full
// tensor: "name ndim d0 d1 .. dim start count v0 v1 ..." (dim -1: whole).
// ZeRO-3 units are gathered for it (a collective over their shard groups).
absl::Status DumpParameters(const std::string& path, Stage& st) {
  std::ofstream out(path, std::ios::trunc);
  for (auto& unit : st.units) unit->Materialize();
  for (const Param& p : st.params) {
    torch::Tensor flat = p.tensor.detach().to(torch::kFloat64).reshape({-1}).contiguous();
    out << p.name << ' ' << p.shard.full_shape.size();
    for (int64_t d : p.shard.full_shape) out << ' ' << d;
    out << ' ' << p.shard.dim << ' ' << p.shard.start << ' ' << flat.numel();
    const double* v = flat.data_ptr<double>();
    char buffer[32];
    for (int64_t i = 0; i < flat.numel(); ++i) {
      std::snprintf(buffer, sizeof(buffer), " %.17g", v[i]);
      out << buffer;
    }
    out << '\n';
  }
  for (auto& unit : st.units) unit->Release();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Bytes of parameters, gradients and optimizer states this rank holds.
int64_t ModelStateBytes(Stage& st, torch::optim::AdamW& optimizer) {
  int64_t bytes = 0;
  auto size = [](const torch::Tensor& t) { return t.defined() ? t.numel() * t.element_size() : 0; };
  for (const Param& p : st.params) {
    if (p.sync == Sync::kZero3) continue;
    bytes += size(p.tensor) + size(p.tensor.grad()) + size(p.master) +
             (p.master.defined() ? size(p.master.grad()) : 0);
  }
  for (auto& unit : st.units) bytes += unit->ResidentBytes();
  for (const auto& [key, state] : optimizer.state()) {
    const auto& adam = static_cast<const torch::optim::AdamWParamState&>(*state);
    bytes += size(adam.exp_avg()) + size(adam.exp_avg_sq()) + size(adam.max_exp_avg_sq());
  }
  return bytes;
}

ParallelLayout LayoutOfPlan(const v1::Plan& plan, const v1::ModelSpec& model, int rank) {
  ParallelLayout layout;
  layout.world = plan.world_size();
  layout.rank = rank;
  layout.pp = std::max(1, plan.pp());
  for (const v1::LayerStrategy& s : plan.layers()) {
    layout.layers.push_back({std::max(1, s.tp()), s.tp() > 1 ? s.sp() : v1::SEQUENCE_PARALLEL_NONE, 0});
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

}  // namespace

absl::Status RunTraining(const TrainOptions& o) {
  if (o.steps < 1) return absl::InvalidArgumentError(absl::StrCat("--steps: ", o.steps, ", expected >= 1"));
  if (o.world_size < 1 || o.rank < 0 || o.rank >= o.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("--rank ", o.rank, " / --world-size ",
                                                   o.world_size, ": expected 0 <= rank < world"));
  }
  if (o.dtype == "float16") {
    return absl::UnimplementedError(
        "--dtype: float16 needs dynamic loss scaling, which the runtime does not have yet; use "
        "bfloat16 (mixed precision with float32 master weights)");
  }
  if (o.dtype != "float32" && o.dtype != "float64" && o.dtype != "bfloat16") {
    return absl::InvalidArgumentError(
        absl::StrCat("--dtype: \"", o.dtype, "\", expected float32, float64 or bfloat16"));
  }
  if (o.stop_after > 0 && o.checkpoint_dir.empty()) {
    return absl::InvalidArgumentError("--stop-after needs --checkpoint-dir (to resume from)");
  }
  if (o.resume && o.checkpoint_dir.empty()) {
    return absl::InvalidArgumentError("--resume needs --checkpoint-dir");
  }
  ASSIGN_OR_RETURN(const v1::ModelSpec model_spec, LoadModel(o.model));
  ASSIGN_OR_RETURN(LoadedPlan loaded, LoadPlanFile(o.plan, o.world_size));
  const v1::Plan& plan = loaded.plan;
  for (const std::string& note : loaded.notes) spdlog::warn("--plan: {}", note);
  RETURN_IF_ERROR(CheckPlanForModel(plan, model_spec, o.world_size));
  RETURN_IF_ERROR(CheckSupported(plan, model_spec));

  if (o.threads > 0) torch::set_num_threads(o.threads);
  ASSIGN_OR_RETURN(std::unique_ptr<Comm> comm_owner,
                   Comm::Connect(o, LayoutOfPlan(plan, model_spec, o.rank)));
  Comm& comm = *comm_owner;
  ParallelContext& ctx = comm.model();
  const int world = comm.world(), rank = comm.rank();
  // bfloat16: the model computes in bf16, the optimizer updates float32
  // master copies (Megatron's mixed precision; no loss scaling needed).
  const auto dtype = o.dtype == "float64"    ? torch::kFloat64
                     : o.dtype == "bfloat16" ? torch::kBFloat16
                                             : torch::kFloat32;
  const bool mixed = dtype == torch::kBFloat16;
  const auto master_dtype = mixed ? torch::kFloat32 : dtype;
  const auto wire = mixed ? torch::kFloat32 : dtype;  // Gloo has no bf16 kernels
  ASSIGN_OR_RETURN(Stage st, BuildStage(model_spec, plan, comm, dtype, master_dtype,
                                        static_cast<uint64_t>(o.seed)));
  const int pp = ctx.pp();

  const v1::OptimizerSpec& spec = model_spec.optimizer();
  const double peak = o.learning_rate > 0 ? o.learning_rate
                      : spec.learning_rate() > 0 ? spec.learning_rate()
                                                  : 1e-3;
  LrSchedule schedule;
  schedule.peak = peak;
  schedule.floor = peak / 10;
  schedule.total_steps = o.steps;
  schedule.warmup_steps = std::min<int64_t>(o.steps, o.warmup_steps >= 0 ? o.warmup_steps : spec.warmup_steps());
  RETURN_IF_ERROR(schedule.Validate());
  const double clip = o.grad_clip >= 0 ? o.grad_clip : spec.grad_clip_norm();

  std::vector<torch::Tensor> updated;  // what this rank's optimizer steps
  for (Param& p : st.params) {
    if (!Updates(p)) continue;
    if (mixed) p.master = p.tensor.detach().to(master_dtype).clone().requires_grad_(true);
    updated.push_back(mixed ? p.master : p.tensor);
  }
  for (auto& unit : st.units) updated.push_back(unit->shard());
  torch::optim::AdamWOptions adam(peak);
  adam.betas({spec.beta1() > 0 ? spec.beta1() : 0.9, spec.beta2() > 0 ? spec.beta2() : 0.999});
  adam.eps(spec.epsilon() > 0 ? spec.epsilon() : 1e-8);
  adam.weight_decay(spec.weight_decay());
  torch::optim::AdamW optimizer(updated, adam);

  int64_t start = 0;
  if (o.resume) {
    ASSIGN_OR_RETURN(start, LoadCheckpoint(o.checkpoint_dir, rank, st, optimizer));
    spdlog::info("rank {}: resumed from step {}", rank, start);
  }

  // Data: the order of samples depends only on (seed, step), so every rank
  // and a resumed run read the same ones. Micro-batch c of a step is samples
  // [c·m, (c+1)·m) of the step's global batch; each layer splits it over its
  // dp ranks.
  const int seq = plan.seq_len() > 0 ? plan.seq_len() : model_spec.seq_len();
  const int global_batch = plan.global_batch();
  const int chunks = std::max(1, plan.micro_batches());
  const int64_t m = global_batch / chunks;
  const int64_t hidden = model_spec.layers(0).hidden();
  std::unique_ptr<TokenSource> data;
  if (o.data == "synthetic") {
    data = SyntheticTokens(std::max<int64_t>(4096, o.steps * global_batch), seq,
                           model_spec.vocab_size(), static_cast<uint64_t>(o.seed));
  } else {
    ASSIGN_OR_RETURN(data, OpenTokenFile(o.data, TokenType::kUint16, seq, model_spec.vocab_size()));
  }
  SampleOrder order(data->num_samples(), static_cast<uint64_t>(o.seed));
  // The token windows [samples, seq + 1] of this rank's embedding/head slice.
  const int64_t slice = m / st.embedding_layout.dp;
  const int64_t slice_start = (st.position / st.embedding_layout.tp) * slice;
  std::vector<int64_t> window(static_cast<size_t>(seq) + 1);
  // A micro-batch's inputs and labels [samples, seq] for this rank's slice;
  // BERT's inputs are masked (MaskForMlm) and its labels are the original
  // tokens, counted where `weights` is 1; the others predict the next token.
  const bool mlm = model_spec.family() == v1::MODEL_FAMILY_BERT;
  struct MicroBatch {
    torch::Tensor inputs, labels, weights;
  };
  std::vector<uint8_t> chosen(static_cast<size_t>(seq));
  auto micro_batch = [&](int64_t step, int c) -> absl::StatusOr<MicroBatch> {
    MicroBatch mb;
    mb.inputs = torch::empty({slice, seq}, torch::kInt64);
    mb.labels = torch::empty({slice, seq}, torch::kInt64);
    if (mlm) mb.weights = torch::zeros({slice, seq}, torch::TensorOptions().dtype(master_dtype));
    for (int64_t i = 0; i < slice; ++i) {
      const int64_t position = c * m + slice_start + i;
      RETURN_IF_ERROR(data->Sample(order.At(step, global_batch, position), window.data()));
      int64_t* in = mb.inputs[i].data_ptr<int64_t>();
      int64_t* labels = mb.labels[i].data_ptr<int64_t>();
      if (mlm) {
        std::copy(window.begin(), window.begin() + seq, labels);
        std::copy(window.begin(), window.begin() + seq, in);
        MaskForMlm(static_cast<uint64_t>(o.seed), step, position, model_spec.vocab_size(), seq, in,
                   chosen.data());
        for (int t = 0; t < seq; ++t) {
          if (chosen[static_cast<size_t>(t)]) mb.weights[i][t] = 1.0;
        }
      } else {
        std::copy(window.begin(), window.begin() + seq, in);
        std::copy(window.begin() + 1, window.end(), labels);
      }
    }
    return mb;
  };
  // The loss is the mean over the global batch's counted tokens: all of
  // them, or BERT's masked ones (every rank counts them for the whole batch).
  auto counted_tokens = [&](int64_t step) -> absl::StatusOr<double> {
    if (!mlm) return static_cast<double>(global_batch) * seq;
    int64_t count = 0;
    for (int64_t position = 0; position < global_batch; ++position) {
      RETURN_IF_ERROR(data->Sample(order.At(step, global_batch, position), window.data()));
      count += MaskForMlm(static_cast<uint64_t>(o.seed), step, position, model_spec.vocab_size(),
                          seq, window.data(), chosen.data());
    }
    return static_cast<double>(std::max<int64_t>(count, 1));
  };

  std::ofstream metrics;
  if (rank == 0 && !o.metrics_out.empty()) {
    metrics.open(o.metrics_out, o.resume ? std::ios::app : std::ios::trunc);
    if (!metrics) return absl::UnavailableError(absl::StrCat("--metrics-out: cannot open ", o.metrics_out));
  }

  std::vector<Param*> summed;  // DDP and ZeRO-1 gradients, all-reduced in buckets
  for (Param& p : st.params) {
    if (p.sync == Sync::kDdp || p.sync == Sync::kZero1) summed.push_back(&p);
  }
  GradientReducer reducer(summed);
  const std::vector<PipelineAction> actions = StageSchedule(plan.schedule(), pp, ctx.stage(), chunks);
  const CommGroup& stage_group = ctx.stage_group();
  const auto act_options = torch::TensorOptions().dtype(wire);  // pipeline messages
  auto run_unit = [&](int unit, const std::function<torch::Tensor()>& forward) {
    return unit >= 0 ? st.units[static_cast<size_t>(unit)]->Run(forward) : forward();
  };

  for (int64_t step = start; step < o.steps; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    std::chrono::steady_clock::duration waited{};  // for pipeline neighbours' messages
    for (Param& p : st.params) {
      p.tensor.mutable_grad() = torch::Tensor();
      if (p.master.defined()) p.master.mutable_grad() = torch::Tensor();
    }
    for (auto& unit : st.units) unit->shard().mutable_grad() = torch::Tensor();
    double loss_sum = 0;
    ASSIGN_OR_RETURN(const double tokens_counted, counted_tokens(step));
    const double loss_scale = 1.0 / tokens_counted;
    std::vector<torch::Tensor> inputs(static_cast<size_t>(chunks)), outputs(static_cast<size_t>(chunks));
    for (const PipelineAction& action : actions) {
      const int c = action.micro_batch;
      if (action.forward) {
        torch::Tensor x;
        ActivationLayout layout;
        if (st.first) {
          ASSIGN_OR_RETURN(MicroBatch batch, micro_batch(step, c));
          torch::Tensor tokens = batch.inputs;
          x = run_unit(st.embedding_unit, [&] { return st.embedding->EmbedParallel(tokens); });
          layout = st.embedding_layout;
        } else {
          const auto wait_start = std::chrono::steady_clock::now();
          x = comm.Receive(st.previous_layout.LocalShape(m, seq, hidden), act_options,
                           ctx.prev_stage_rank(), 2 * c)
                  .to(dtype);
          waited += std::chrono::steady_clock::now() - wait_start;
          x.requires_grad_(true);
          inputs[static_cast<size_t>(c)] = x;
          layout = st.previous_layout;
        }
        for (size_t i = 0; i < st.blocks.size(); ++i) {
          x = Redistribute(x, layout, st.layouts[i], stage_group, m, seq);
          layout = st.layouts[i];
          TransformerBlock block = st.blocks[i];
          const bool checkpointed = st.checkpoint[i];
          torch::Tensor in = x;
          x = run_unit(st.block_unit[i], [&] {
            return checkpointed ? CheckpointedForward(block, in) : block->forward(in);
          });
        }
        if (st.last) {
          x = Redistribute(x, layout, st.embedding_layout, stage_group, m, seq);
          ASSIGN_OR_RETURN(MicroBatch batch, micro_batch(step, c));
          torch::Tensor h = x;
          torch::Tensor loss = run_unit(st.embedding_unit, [&] {
            return st.embedding->LossSumParallel(h, batch.labels, batch.weights);
          });
          if (!st.loss_replicated || st.position % st.embedding_layout.tp == 0) {
            loss_sum += loss.item<double>();
          }
          outputs[static_cast<size_t>(c)] = loss * loss_scale;
        } else {
          outputs[static_cast<size_t>(c)] = x;
          comm.Send(x.detach().to(wire), ctx.next_stage_rank(), 2 * c);
        }
      } else {
        if (c == chunks - 1) reducer.Arm();  // the last backward overlaps the all-reduces
        torch::Tensor& out = outputs[static_cast<size_t>(c)];
        if (st.last) {
          out.backward();
        } else {
          const auto wait_start = std::chrono::steady_clock::now();
          torch::Tensor grad = comm.Receive(out.sizes(), act_options, ctx.next_stage_rank(), 2 * c + 1);
          waited += std::chrono::steady_clock::now() - wait_start;
          out.backward(grad.to(dtype));
        }
        if (!st.first) {
          torch::Tensor& in = inputs[static_cast<size_t>(c)];
          comm.Send((in.grad().defined() ? in.grad() : torch::zeros_like(in)).to(wire),
                    ctx.prev_stage_rank(), 2 * c + 1);
          in = torch::Tensor();
        }
        out = torch::Tensor();
      }
    }
    for (auto& unit : st.units) unit->Flush();
    for (Param& p : st.params) {
      if (p.sync != Sync::kZero3 && !p.tensor.grad().defined()) {
        p.tensor.mutable_grad() = torch::zeros_like(p.tensor);
      }
    }
    // Gradients: DDP and ZeRO-1 summed in buckets (started during the last
    // backward), ZeRO-2 reduced to the owner, ZeRO-3 reduce-scattered as
    // each unit's backward finished; the tied table summed across the ends.
    reducer.Finish();
    for (Param& p : st.params) {  // replicated KV heads (sums commute: before or after dp)
      if (p.share != nullptr && p.sync != Sync::kZero3) {
        p.tensor.mutable_grad().copy_(AllReduce(p.tensor.grad(), *p.share));
      }
    }
    // ZeRO-2: one reduce per (group, owner) of the gradients it owns, all
    // started before any is waited for.
    {
      struct Batch {
        const CommGroup* group;
        int owner;
        std::vector<Param*> params;
        std::vector<torch::Tensor> flat;
        c10::intrusive_ptr<c10d::Work> work;
      };
      std::vector<Batch> batches;
      for (Param& p : st.params) {
        if (p.sync != Sync::kZero2) continue;
        auto it = std::find_if(batches.begin(), batches.end(), [&](const Batch& b) {
          return b.group == p.sum_group && b.owner == p.owner;
        });
        if (it == batches.end()) it = batches.insert(batches.end(), Batch{p.sum_group, p.owner, {}, {}, {}});
        it->params.push_back(&p);
      }
      for (Batch& b : batches) {
        std::vector<torch::Tensor> parts;
        for (Param* p : b.params) parts.push_back(p->tensor.grad().reshape({-1}));
        b.flat = {torch::cat(parts).to(wire)};
        c10d::ReduceOptions options;
        options.rootRank = b.owner;
        b.work = b.group->process_group->reduce(b.flat, options);
      }
      for (Batch& b : batches) {
        b.work->wait();
        const bool mine = b.owner == b.group->rank;
        int64_t at = 0;
        for (Param* p : b.params) {
          if (mine) {
            p->tensor.mutable_grad().copy_(b.flat[0].narrow(0, at, p->tensor.numel()).view_as(p->tensor));
          } else {
            p->tensor.mutable_grad() = torch::Tensor();  // not ours to keep
          }
          at += p->tensor.numel();
        }
      }
    }
    for (Param& p : st.params) {
      if (!p.tied) continue;
      const int pos = st.position;
      const CommGroup* tied = comm.grads().Group({pos, (pp - 1) * st.stage_size + pos});
      if (tied == nullptr) return absl::InternalError("the tied-embedding group is missing");
      p.tensor.mutable_grad().copy_(AllReduce(p.tensor.grad(), *tied));
    }
    comm.FinishSends();
    if (mixed) {  // the reduced bf16 gradients become the masters' float32 ones
      for (Param& p : st.params) {
        if (p.master.defined()) p.master.mutable_grad() = p.tensor.grad().to(master_dtype);
      }
    }
    // The global gradient norm: each final gradient counted once over the world.
    double local = 0;
    for (const Param& p : st.params) {
      if (p.sync == Sync::kZero3 || !Updates(p)) continue;
      const double sq = p.tensor.grad().to(torch::kFloat64).pow(2).sum().item<double>();
      const int holders = (p.sync == Sync::kDdp ? GroupSize(p.sum_group) : 1) * p.extra_replicas;
      local += sq / holders;
    }
    for (auto& unit : st.units) local += unit->GradSquareSum();
    torch::Tensor norm_sq = torch::full({1}, local, torch::TensorOptions().dtype(torch::kFloat64));
    comm.WorldSum(norm_sq);
    const double grad_norm = std::sqrt(norm_sq.item<double>());
    if (clip > 0 && grad_norm > clip) {
      const double scale = clip / (grad_norm + 1e-6);
      torch::NoGradGuard no_grad;
      for (torch::Tensor& t : updated) {
        if (t.grad().defined()) t.mutable_grad().mul_(scale);
      }
    }
    const double lr = schedule.At(step + 1);
    for (auto& group : optimizer.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
    optimizer.step();
    // ZeRO-1/2: every owner sends its updated tensors to its group.
    {
      torch::NoGradGuard no_grad;
      for (Param& p : st.params) {
        if (p.master.defined()) p.tensor.copy_(p.master);
      }
      std::vector<const CommGroup*> groups;
      for (const Param& p : st.params) {
        if ((p.sync == Sync::kZero1 || p.sync == Sync::kZero2) &&
            std::find(groups.begin(), groups.end(), p.sum_group) == groups.end()) {
          groups.push_back(p.sum_group);
        }
      }
      for (const CommGroup* group : groups) {
        for (int owner = 0; owner < group->size(); ++owner) {
          std::vector<torch::Tensor> mine;
          for (const Param& p : st.params) {
            if ((p.sync == Sync::kZero1 || p.sync == Sync::kZero2) && p.sum_group == group &&
                p.owner == owner) {
              mine.push_back(p.tensor);
            }
          }
          if (mine.empty()) continue;
          std::vector<torch::Tensor> parts;
          for (const torch::Tensor& t : mine) parts.push_back(t.reshape({-1}));
          std::vector<torch::Tensor> flat{torch::cat(parts).to(wire)};
          c10d::BroadcastOptions options;
          options.rootRank = owner;
          group->process_group->broadcast(flat, options)->wait();
          int64_t at = 0;
          for (torch::Tensor& t : mine) {
            t.copy_(flat[0].narrow(0, at, t.numel()).view_as(t));
            at += t.numel();
          }
        }
      }
    }
    const int64_t model_state_bytes = ModelStateBytes(st, optimizer);
    // Each stage's busy time: its schedule without the waits for messages
    // from its neighbours (the slowest rank of the stage counts).
    torch::Tensor stage_seconds = torch::zeros({pp}, torch::TensorOptions().dtype(torch::kFloat64));
    stage_seconds[ctx.stage()] =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0 - waited).count();
    if (world > 1) stage_seconds = AllReduce(stage_seconds, comm.grads().world_group(), c10d::ReduceOp::MAX);
    torch::Tensor total_loss = torch::full({1}, loss_sum, torch::TensorOptions().dtype(torch::kFloat64));
    comm.WorldSum(total_loss);
    const double loss = total_loss.item<double>() * loss_scale;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!std::isfinite(loss)) {
      return absl::InternalError(absl::StrCat("step ", step + 1, ": the loss is ", loss));
    }
    if (rank == 0) {
      v1::StepMetrics metric;
      metric.set_step(step + 1);
      metric.set_loss(loss);
      metric.set_step_seconds(seconds);
      metric.set_samples_per_second(global_batch / seconds);
      metric.set_tokens_per_second(static_cast<double>(global_batch) * seq / seconds);
      metric.set_peak_memory_bytes(PeakMemoryBytes());
      metric.set_model_state_bytes(model_state_bytes);
      metric.set_learning_rate(lr);
      metric.set_grad_norm(grad_norm);
      for (int k = 0; k < pp; ++k) metric.add_stage_seconds(stage_seconds[k].item<double>());
      JsonPrintOptions compact;
      compact.pretty = false;
      compact.always_print_defaults = true;
      if (metrics.is_open()) metrics << MessageToJson(metric, compact) << std::endl;
      spdlog::info("step {}: loss {:.6f}, {:.3f} s, {:.0f} tokens/s, lr {:.3g}, grad norm {:.4f}",
                   step + 1, loss, seconds, metric.tokens_per_second(), lr, grad_norm);
    }
    const bool stopping = o.stop_after > 0 && step + 1 == o.stop_after;
    const bool last = step + 1 == o.steps || stopping;
    if (!o.checkpoint_dir.empty() &&
        (last || (o.checkpoint_every > 0 && (step + 1) % o.checkpoint_every == 0))) {
      RETURN_IF_ERROR(SaveCheckpoint(o.checkpoint_dir, step + 1, rank, comm, st, optimizer));
    }
    if (stopping) {
      spdlog::info("rank {}: stopped after step {} as asked (--stop-after)", rank, step + 1);
      break;
    }
  }
  if (!o.dump_parameters.empty()) {
    const std::string path =
        world == 1 ? o.dump_parameters : absl::StrCat(o.dump_parameters, ".rank-", rank);
    RETURN_IF_ERROR(DumpParameters(path, st));
  }
  comm.Barrier();
  return absl::OkStatus();
}

}  // namespace galvatron::runtime
