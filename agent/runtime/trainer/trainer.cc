#include "agent/runtime/trainer/trainer.h"

#include <sys/resource.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/probe/c10d_store.h"
#include "agent/probe/rendezvous.h"
#include "agent/runtime/trainer/language_model.h"
#include "agent/runtime/train/lr_schedule.h"
#include "agent/runtime/train/plan_input.h"
#include "agent/runtime/train/token_data.h"
#include "common/json_file.h"
#include "common/model_catalog.h"
#include "common/model_validation.h"
#include "common/status_macros.h"
#include "galvatron/v1/job.pb.h"
#include "spdlog/spdlog.h"

namespace galvatron::runtime {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kBucketBytes = 25 << 20;  // gradient all-reduce buckets (DDP's default)

enum class Sync { kDdp, kZero1, kZero2 };

struct Param {
  std::string name;
  torch::Tensor tensor;
  Sync sync = Sync::kDdp;
  int owner = -1;  // ZeRO: the rank holding its optimizer state
};

// Everything communication needs; a world of one has no group.
class Comm {
 public:
  static absl::StatusOr<Comm> Connect(const TrainOptions& o) {
    Comm comm;
    comm.rank_ = o.rank;
    comm.world_ = o.world_size;
    if (o.world_size == 1) return comm;
    probe::RendezvousOptions rendezvous;
    rendezvous.host = o.store_host;
    rendezvous.port = o.store_port;
    rendezvous.rank = o.rank;
    rendezvous.world_size = o.world_size;
    rendezvous.timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1000));
    if (o.rank == 0 && !o.port_file.empty()) {
      const std::string port_file = o.port_file;
      rendezvous.on_serving = [port_file](int port) {
        return WriteTextFile(port_file, absl::StrCat(port, "\n"));
      };
    }
    ASSIGN_OR_RETURN(comm.rendezvous_, probe::TcpRendezvous::Connect(rendezvous));
    auto options = c10d::ProcessGroupGloo::Options::create(rendezvous.timeout);
    const bool loopback = o.store_host == "127.0.0.1" || o.store_host == "localhost";
    options->devices.push_back(loopback
                                   ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                   : c10d::ProcessGroupGloo::createDefaultDevice());
    auto store = c10::make_intrusive<c10d::PrefixStore>("galvatron/train",
                                                        comm.rendezvous_->c10d().store);
    comm.group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store, o.rank, o.world_size, options);
    return comm;
  }

  int rank() const { return rank_; }
  int world() const { return world_; }

  void AllReduceSum(torch::Tensor& t) {
    if (!group_) return;
    std::vector<torch::Tensor> tensors{t};
    group_->allreduce(tensors)->wait();
  }
  // Starts a sum all-reduce; null without a group (nothing to wait for).
  c10::intrusive_ptr<c10d::Work> StartAllReduceSum(torch::Tensor& t) {
    if (!group_) return {};
    std::vector<torch::Tensor> tensors{t};
    return group_->allreduce(tensors);
  }
  void ReduceSumTo(torch::Tensor& t, int root) {
    if (!group_) return;
    std::vector<torch::Tensor> tensors{t};
    c10d::ReduceOptions options;
    options.rootRank = root;
    group_->reduce(tensors, options)->wait();
  }
  void Broadcast(torch::Tensor& t, int root) {
    if (!group_) return;
    std::vector<torch::Tensor> tensors{t};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    group_->broadcast(tensors, options)->wait();
  }
  void Barrier() {
    if (!group_) return;
    torch::Tensor one = torch::ones({1});
    AllReduceSum(one);
  }

 private:
  int rank_ = 0;
  int world_ = 1;
  std::unique_ptr<probe::TcpRendezvous> rendezvous_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};

// Flattens the tensors, runs `op` on the flat buffer, copies the result back.
template <typename Op>
void Flat(const std::vector<torch::Tensor>& tensors, const Op& op) {
  if (tensors.empty()) return;
  std::vector<torch::Tensor> flat_parts;
  for (const torch::Tensor& t : tensors) flat_parts.push_back(t.reshape({-1}));
  torch::Tensor flat = torch::cat(flat_parts);
  op(flat);
  int64_t at = 0;
  for (const torch::Tensor& t : tensors) {
    t.copy_(flat.narrow(0, at, t.numel()).view_as(t));
    at += t.numel();
  }
}

// DDP's gradient reducer: the all-reduced parameters in buckets of about
// kBucketBytes, in the order backward produces their gradients (reverse
// registration order). During the last micro-batch's backward a hook after
// each parameter's gradient accumulation counts the bucket down; a bucket
// whose gradients are all final starts its all-reduce at once, overlapping
// the rest of backward. Buckets start strictly in order (every rank must
// issue the same collectives in the same order); Finish() starts what is left
// (parameters that got no gradient), waits, and writes the averages back.
class GradientReducer {
 public:
  GradientReducer(std::vector<torch::Tensor> params, Comm* comm) : comm_(comm) {
    std::vector<torch::Tensor> current;
    int64_t bytes = 0;
    for (auto it = params.rbegin(); it != params.rend(); ++it) {
      current.push_back(*it);
      bytes += it->numel() * it->element_size();
      if (bytes >= kBucketBytes) {
        AddBucket(std::move(current));
        current.clear();
        bytes = 0;
      }
    }
    if (!current.empty()) AddBucket(std::move(current));
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

  // Starts every bucket not started yet, waits for all, averages.
  void Finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (Bucket& b : buckets_) b.pending = 0;
      StartReady();
      armed_ = false;
    }
    for (Bucket& b : buckets_) {
      if (b.work) b.work->wait();
      b.flat.div_(comm_->world());
      int64_t at = 0;
      for (torch::Tensor& p : b.params) {
        p.mutable_grad().copy_(b.flat.narrow(0, at, p.numel()).view_as(p));
        at += p.numel();
      }
    }
  }

 private:
  struct Bucket {
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

  void AddBucket(std::vector<torch::Tensor> params) {
    Bucket bucket;
    bucket.params = std::move(params);
    buckets_.push_back(std::move(bucket));
  }

  void Ready(size_t bucket) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!armed_) return;
    if (--buckets_[bucket].pending == 0) StartReady();
  }

  // Starts the buckets whose gradients are final, in order. Under mu_.
  void StartReady() {
    while (next_ < buckets_.size() && buckets_[next_].pending <= 0) {
      Bucket& b = buckets_[next_++];
      std::vector<torch::Tensor> parts;
      for (torch::Tensor& p : b.params) {
        if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
        parts.push_back(p.grad().reshape({-1}));
      }
      b.flat = torch::cat(parts);
      b.work = comm_->StartAllReduceSum(b.flat);
    }
  }

  Comm* comm_;
  std::vector<Bucket> buckets_;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;
  std::mutex mu_;
  bool armed_ = false;
  size_t next_ = 0;
};

absl::StatusOr<v1::ModelSpec> LoadModel(const std::string& name_or_file) {
  v1::ModelSpec model;
  if (auto catalog = CatalogModel(name_or_file)) {
    model = *catalog;
  } else if (absl::Status read = ReadJsonFile(name_or_file, &model); !read.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--model: \"", name_or_file,
                                                   "\" is neither a catalog model nor a readable "
                                                   "ModelSpec file: ",
                                                   read.message()));
  }
  RETURN_IF_ERROR(ValidateModelSpec(model));
  RETURN_IF_ERROR(CheckModelIsTrainable(model));
  return model;
}

// What this runtime executes so far: UNIMPLEMENTED naming the rest.
absl::Status CheckSupported(const v1::Plan& plan) {
  if (plan.pp() > 1) {
    return absl::UnimplementedError(absl::StrCat(
        "pp: ", plan.pp(), "; pipeline parallelism is not implemented in the runtime yet"));
  }
  for (int i = 0; i < plan.layers_size(); ++i) {
    const v1::LayerStrategy& s = plan.layers(i);
    if (s.tp() > 1) {
      return absl::UnimplementedError(absl::StrCat(
          "layers[", i, "].tp: ", s.tp(), " (", v1::SequenceParallel_Name(s.sp()),
          "); tensor and sequence parallelism are not implemented in the runtime yet"));
    }
    if (s.dp_type() == v1::DATA_PARALLEL_TYPE_ZERO3) {
      return absl::UnimplementedError(absl::StrCat(
          "layers[", i, "].dp_type: ZERO3 is not implemented in the runtime yet (DDP, ZeRO-1 "
          "and ZeRO-2 are)"));
    }
  }
  if (plan.embedding().vocab_tp() > 1) {
    return absl::UnimplementedError(absl::StrCat(
        "embedding.vocab_tp: ", plan.embedding().vocab_tp(),
        "; vocabulary parallelism is not implemented in the runtime yet"));
  }
  if (plan.embedding().dp_type() == v1::DATA_PARALLEL_TYPE_ZERO3) {
    return absl::UnimplementedError("embedding.dp_type: ZERO3 is not implemented in the runtime yet");
  }
  return absl::OkStatus();
}

Sync SyncOf(v1::DataParallelType type) {
  switch (type) {
    case v1::DATA_PARALLEL_TYPE_ZERO1:
      return Sync::kZero1;
    case v1::DATA_PARALLEL_TYPE_ZERO2:
      return Sync::kZero2;
    default:
      return Sync::kDdp;
  }
}

// Each parameter with the data-parallel type of its layer; ZeRO parameters
// get owners, the largest first to the least loaded rank (deterministic, the
// same on every rank).
std::vector<Param> AssignParameters(LanguageModel& model, const v1::Plan& plan, int world) {
  std::vector<Param> params;
  for (const auto& item : model->named_parameters()) {
    Param p;
    p.name = item.key();
    p.tensor = item.value();
    int layer = -1;
    if (absl::StartsWith(p.name, "layer")) {
      absl::SimpleAtoi(p.name.substr(5, p.name.find('.') - 5), &layer);
    }
    const v1::DataParallelType type =
        layer >= 0 ? plan.layers(layer).dp_type() : plan.embedding().dp_type();
    p.sync = world > 1 ? SyncOf(type) : Sync::kDdp;
    params.push_back(std::move(p));
  }
  std::vector<size_t> zero;
  for (size_t i = 0; i < params.size(); ++i) {
    if (params[i].sync != Sync::kDdp) zero.push_back(i);
  }
  std::stable_sort(zero.begin(), zero.end(), [&](size_t a, size_t b) {
    return params[a].tensor.numel() > params[b].tensor.numel();
  });
  std::vector<int64_t> load(static_cast<size_t>(world), 0);
  for (size_t i : zero) {
    const int owner = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
    params[i].owner = owner;
    load[static_cast<size_t>(owner)] += params[i].tensor.numel();
  }
  return params;
}

int64_t PeakMemoryBytes() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

std::string StepDir(const std::string& root, int64_t step) {
  return (fs::path(root) / absl::StrCat("step-", step)).string();
}

absl::Status SaveCheckpoint(const std::string& root, int64_t step, int rank, Comm& comm,
                            LanguageModel& model, torch::optim::AdamW& optimizer) {
  const std::string dir = StepDir(root, step);
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  try {
    torch::serialize::OutputArchive params;
    model->save(params);
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

absl::StatusOr<int64_t> LoadCheckpoint(const std::string& root, int rank, LanguageModel& model,
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
    model->load(params);
    torch::serialize::InputArchive states;
    states.load_from(absl::StrCat(dir, "/rank-", rank, ".optim.pt"));
    optimizer.load(states);
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat("cannot read the checkpoint of rank ", rank, " in ",
                                            dir, ": ", e.what_without_backtrace()));
  }
  return step;
}

absl::Status DumpParameters(const std::string& path, const std::vector<Param>& params) {
  std::ofstream out(path, std::ios::trunc);
  for (const Param& p : params) {
    torch::Tensor flat = p.tensor.detach().to(torch::kFloat64).reshape({-1}).contiguous();
    out << p.name << ' ' << flat.numel();
    const double* v = flat.data_ptr<double>();
    char buffer[32];
    for (int64_t i = 0; i < flat.numel(); ++i) {
      std::snprintf(buffer, sizeof(buffer), " %.17g", v[i]);
      out << buffer;
    }
    out << '\n';
  }
  if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

}  // namespace

absl::Status RunTraining(const TrainOptions& o) {
  if (o.steps < 1) return absl::InvalidArgumentError(absl::StrCat("--steps: ", o.steps, ", expected >= 1"));
  if (o.world_size < 1 || o.rank < 0 || o.rank >= o.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("--rank ", o.rank, " / --world-size ",
                                                   o.world_size, ": expected 0 <= rank < world"));
  }
  if (o.dtype != "float32" && o.dtype != "float64") {
    return absl::InvalidArgumentError(absl::StrCat("--dtype: \"", o.dtype, "\", expected float32 or float64"));
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
  RETURN_IF_ERROR(CheckSupported(plan));

  if (o.threads > 0) torch::set_num_threads(o.threads);
  ASSIGN_OR_RETURN(Comm comm, Comm::Connect(o));
  const int world = comm.world(), rank = comm.rank();

  // The same initial weights on every rank (and in a single process).
  torch::manual_seed(static_cast<uint64_t>(o.seed));
  BlockOptions block_options;
  block_options.dtype = o.dtype == "float64" ? torch::kFloat64 : torch::kFloat32;
  std::vector<bool> checkpoint;
  for (const v1::LayerStrategy& s : plan.layers()) checkpoint.push_back(s.checkpoint());
  LanguageModel model(model_spec, checkpoint, block_options);
  model->train();
  std::vector<Param> params = AssignParameters(model, plan, world);

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
  for (const Param& p : params) {
    if (p.sync == Sync::kDdp || p.owner == rank) updated.push_back(p.tensor);
  }
  torch::optim::AdamWOptions adam(peak);
  adam.betas({spec.beta1() > 0 ? spec.beta1() : 0.9, spec.beta2() > 0 ? spec.beta2() : 0.999});
  adam.eps(spec.epsilon() > 0 ? spec.epsilon() : 1e-8);
  adam.weight_decay(spec.weight_decay());
  torch::optim::AdamW optimizer(updated, adam);

  int64_t start = 0;
  if (o.resume) {
    ASSIGN_OR_RETURN(start, LoadCheckpoint(o.checkpoint_dir, rank, model, optimizer));
    spdlog::info("rank {}: resumed from step {}", rank, start);
  }

  // Data: the order of samples depends only on (seed, step), so every rank
  // and a resumed run read the same ones.
  const int seq = plan.seq_len() > 0 ? plan.seq_len() : model_spec.seq_len();
  const int global_batch = plan.global_batch();
  const int chunks = std::max(1, plan.micro_batches());
  const int local_batch = global_batch / world;
  const int micro = local_batch / chunks;
  if (micro < 1 || micro * chunks * world != global_batch) {
    return absl::InvalidArgumentError(absl::StrCat(
        "global_batch: ", global_batch, " does not split into ", chunks, " micro-batches on ",
        world, " data-parallel ranks"));
  }
  std::unique_ptr<TokenSource> data;
  if (o.data == "synthetic") {
    data = SyntheticTokens(std::max<int64_t>(4096, o.steps * global_batch), seq,
                           model_spec.vocab_size(), static_cast<uint64_t>(o.seed));
  } else {
    ASSIGN_OR_RETURN(data, OpenTokenFile(o.data, TokenType::kUint16, seq, model_spec.vocab_size()));
  }
  SampleOrder order(data->num_samples(), static_cast<uint64_t>(o.seed));

  std::ofstream metrics;
  if (rank == 0 && !o.metrics_out.empty()) {
    metrics.open(o.metrics_out, o.resume ? std::ios::app : std::ios::trunc);
    if (!metrics) return absl::UnavailableError(absl::StrCat("--metrics-out: cannot open ", o.metrics_out));
  }
  const auto dtype = block_options.dtype;
  std::vector<int64_t> window(static_cast<size_t>(seq) + 1);

  std::vector<torch::Tensor> all_reduced;  // DDP and ZeRO-1 gradients
  for (const Param& p : params) {
    if (p.sync != Sync::kZero2) all_reduced.push_back(p.tensor);
  }
  GradientReducer reducer(all_reduced, &comm);

  for (int64_t step = start; step < o.steps; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    model->zero_grad();
    double loss_sum = 0;
    for (int c = 0; c < chunks; ++c) {
      torch::Tensor batch = torch::empty({micro, seq + 1}, torch::kInt64);
      for (int i = 0; i < micro; ++i) {
        const int64_t position = static_cast<int64_t>(rank) * local_batch + c * micro + i;
        RETURN_IF_ERROR(data->Sample(order.At(step, global_batch, position), window.data()));
        std::copy(window.begin(), window.end(), batch[i].data_ptr<int64_t>());
      }
      torch::Tensor loss = model->forward(batch.narrow(1, 0, seq), batch.narrow(1, 1, seq));
      if (c == chunks - 1) reducer.Arm();  // the last backward overlaps the all-reduces
      (loss / chunks).backward();
      loss_sum += loss.item<double>();
    }
    for (Param& p : params) {
      if (!p.tensor.grad().defined()) p.tensor.mutable_grad() = torch::zeros_like(p.tensor);
    }
    // Gradients: DDP and ZeRO-1 all-reduced in buckets (started during the
    // last backward), ZeRO-2 reduced to the owner; averaged over the ranks.
    reducer.Finish();
    for (Param& p : params) {
      if (p.sync != Sync::kZero2) continue;
      torch::Tensor& grad = p.tensor.mutable_grad();
      comm.ReduceSumTo(grad, p.owner);
      grad.div_(world);
    }
    // The global gradient norm: replicated gradients counted once, owned
    // ones summed over the ranks.
    double replicated = 0;
    torch::Tensor owned = torch::zeros({1}, torch::TensorOptions().dtype(torch::kFloat64));
    for (const Param& p : params) {
      const double sq = p.tensor.grad().to(torch::kFloat64).pow(2).sum().item<double>();
      if (p.sync == Sync::kDdp) {
        replicated += sq;
      } else if (p.owner == rank) {
        owned += sq;
      }
    }
    comm.AllReduceSum(owned);
    const double grad_norm = std::sqrt(replicated + owned.item<double>());
    if (clip > 0 && grad_norm > clip) {
      const double scale = clip / (grad_norm + 1e-6);
      for (Param& p : params) p.tensor.mutable_grad().mul_(scale);
    }
    const double lr = schedule.At(step + 1);
    for (auto& group : optimizer.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
    optimizer.step();
    // ZeRO: every owner sends its updated parameters to the others.
    for (int owner = 0; owner < world; ++owner) {
      std::vector<torch::Tensor> mine;
      for (const Param& p : params) {
        if (p.sync != Sync::kDdp && p.owner == owner) mine.push_back(p.tensor);
      }
      torch::NoGradGuard no_grad;
      Flat(mine, [&](torch::Tensor& flat) { comm.Broadcast(flat, owner); });
    }
    torch::Tensor total_loss = torch::full({1}, loss_sum, torch::TensorOptions().dtype(torch::kFloat64));
    comm.AllReduceSum(total_loss);
    const double loss = total_loss.item<double>() / (chunks * world);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!std::isfinite(loss)) {
      return absl::InternalError(absl::StrCat("step ", step + 1, ": the loss is ", loss));
    }
    if (rank == 0) {
      v1::StepMetrics m;
      m.set_step(step + 1);
      m.set_loss(loss);
      m.set_step_seconds(seconds);
      m.set_samples_per_second(global_batch / seconds);
      m.set_tokens_per_second(static_cast<double>(global_batch) * seq / seconds);
      m.set_peak_memory_bytes(PeakMemoryBytes());
      m.set_learning_rate(lr);
      m.set_grad_norm(grad_norm);
      JsonPrintOptions compact;
      compact.pretty = false;
      compact.always_print_defaults = true;
      if (metrics.is_open()) metrics << MessageToJson(m, compact) << std::endl;
      spdlog::info("step {}: loss {:.6f}, {:.3f} s, {:.0f} tokens/s, lr {:.3g}, grad norm {:.4f}",
                   step + 1, loss, seconds, m.tokens_per_second(), lr, grad_norm);
    }
    const bool stopping = o.stop_after > 0 && step + 1 == o.stop_after;
    const bool last = step + 1 == o.steps || stopping;
    if (!o.checkpoint_dir.empty() &&
        (last || (o.checkpoint_every > 0 && (step + 1) % o.checkpoint_every == 0))) {
      RETURN_IF_ERROR(SaveCheckpoint(o.checkpoint_dir, step + 1, rank, comm, model, optimizer));
    }
    if (stopping) {
      spdlog::info("rank {}: stopped after step {} as asked (--stop-after)", rank, step + 1);
      break;
    }
  }
  (void)dtype;
  if (rank == 0 && !o.dump_parameters.empty()) {
    RETURN_IF_ERROR(DumpParameters(o.dump_parameters, params));
  }
  comm.Barrier();
  return absl::OkStatus();
}

}  // namespace galvatron::runtime
