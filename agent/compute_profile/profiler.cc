#include "agent/compute_profile/profiler.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#ifdef GALVATRON_TORCH_HAS_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/runtime/blocks/blocks.h"
#include "agent/runtime/device/device.h"
#include "common/host_facts.h"
#include "common/layer_type.h"
#include "common/least_squares.h"
#include "common/measurement_quality.h"
#include "common/status_macros.h"
#include "google/protobuf/util/time_util.h"

namespace galvatron::profiler {
namespace {

using runtime::BlockOptions;
using runtime::BlockShape;
using runtime::EmbeddingHead;
using runtime::HeadPart;
using runtime::TransformerBlock;

// Bytes per parameter of the model states the planner assumes for the
// embedding/head (fp32 parameter, gradient, Adam's m and v; Galvatron's 4×).
constexpr int64_t kModelStateBytesPerParameter = 16;

// A CPU allocator that allocates as LibTorch's default one does
// (c10::alloc_cpu / free_cpu) and counts the bytes handed out and not yet
// freed. Installed once per process with a higher priority than the default,
// so every CPU tensor allocated afterwards goes through it. The pointer is
// its own deleter context (LibTorch's raw_allocate requires it), so sizes are
// kept in a map.
//
// Thread-safe: LibTorch allocates and frees from any thread (intra-op
// workers, autograd); the map is guarded by a mutex, the live count is
// atomic.
//
// LibTorch changed the interface in 2.x: allocate() lost its const and
// copy_data() became required. Both forms are declared, without `override`,
// so whichever the base class has is overridden and the other is unused.
class CountingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t bytes) const { return Allocate(bytes); }   // LibTorch 1.x
  c10::DataPtr allocate(size_t bytes) { return Allocate(bytes); }         // LibTorch 2.x
  void copy_data(void* dest, const void* src, std::size_t count) const {  // LibTorch 2.x
    std::memcpy(dest, src, count);
  }
  c10::DeleterFnPtr raw_deleter() const { return &Free; }
  static int64_t live() { return TheBooks().live.load(); }

 private:
  static c10::DataPtr Allocate(size_t bytes) {
    void* data = c10::alloc_cpu(bytes);
    Books& books = TheBooks();
    {
      absl::MutexLock lock(&books.mu);
      books.sizes[data] = bytes;
    }
    books.live += static_cast<int64_t>(bytes);
    return c10::DataPtr(data, data, &Free, c10::Device(c10::DeviceType::CPU));
  }
  // What the allocator keeps, process-wide: the deleter is a plain function
  // (no allocator instance reaches it), and tensors may outlive any scope.
  struct Books {
    absl::Mutex mu;
    std::unordered_map<void*, size_t> sizes ABSL_GUARDED_BY(mu);
    std::atomic<int64_t> live{0};
  };
  // Never destroyed: tensors freed during static destruction still find it.
  static Books& TheBooks() {
    static auto* books = new Books;
    return *books;
  }
  static void Free(void* data) {
    if (data == nullptr) return;
    Books& books = TheBooks();
    size_t bytes = 0;
    {
      absl::MutexLock lock(&books.mu);
      auto it = books.sizes.find(data);
      if (it != books.sizes.end()) {
        bytes = it->second;
        books.sizes.erase(it);
      }
    }
    books.live -= static_cast<int64_t>(bytes);
    c10::free_cpu(data);
  }
};

CountingCpuAllocator* CpuCounter() {
  static CountingCpuAllocator* counter = [] {
    auto* allocator = new CountingCpuAllocator();
    c10::SetCPUAllocator(allocator, /*priority=*/100);
    return allocator;
  }();
  return counter;
}

struct Context {
  const ProfilerOptions& options;
  torch::Device device;
  torch::Dtype dtype;
  std::chrono::steady_clock::time_point deadline;
  LoadSource* load = nullptr;
  int total_steps = 0;
  int done_steps = 0;

  bool cuda() const { return device.is_cuda(); }
  void Sync() const {
    if (cuda()) torch::cuda::synchronize();
  }
  int64_t LiveBytes() const {
#ifdef GALVATRON_TORCH_HAS_CUDA
    if (cuda()) {
      const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
      return stats.allocated_bytes[0].current;
    }
#endif
    return CpuCounter()->live();
  }
  absl::Status Step(const std::string& what) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "the time budget of ", options.time_budget_seconds, " s ran out while measuring ", what,
          "; raise --time-budget-seconds or measure fewer sizes"));
    }
    return absl::OkStatus();
  }
  void Done(const std::string& what) {
    ++done_steps;
    if (options.progress) {
      options.progress(static_cast<double>(done_steps) / std::max(1, total_steps), what);
    }
  }
};

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

struct ForwardBackwardTimes {
  std::vector<std::vector<double>> forward, backward;  // per run: each repetition
};

// Forward and backward times of each repetition of each of `runs` (each
// returns the output to back-propagate a gradient of ones through). The runs
// take turns, one repetition of each at a time, so that a slow spell of the
// machine (other processes, frequency changes) hits every size alike instead
// of making one size look slower than a larger one.
template <typename Run>
ForwardBackwardTimes TimeForwardBackward(const Context& ctx, const std::vector<Run>& runs) {
  std::vector<std::vector<double>> forward(runs.size()), backward(runs.size());
  // CUDA events on a CUDA device (the device's time, waited for), the steady
  // clock on the CPU.
  runtime::DeviceTimer timer(ctx.device);
  for (int i = 0; i < ctx.options.warmup + ctx.options.repeats; ++i) {
    for (size_t r = 0; r < runs.size(); ++r) {
      ctx.Sync();
      timer.Start();
      torch::Tensor out = runs[r]();
      const double forward_seconds = timer.ElapsedSeconds();
      timer.Start();
      out.backward(torch::ones_like(out));
      const double backward_seconds = timer.ElapsedSeconds();
      if (i >= ctx.options.warmup) {
        forward[r].push_back(forward_seconds);
        backward[r].push_back(backward_seconds);
      }
    }
  }
  return {std::move(forward), std::move(backward)};
}

// Live bytes `run` leaves allocated, per sample: measured at micro-batches 1
// and 2 so that what does not grow with the batch cancels.
template <typename Run>
int64_t BytesPerSample(const Context& ctx, const Run& run) {
  int64_t at[3] = {0, 0, 0};
  for (int b : {1, 2}) {
    const int64_t before = ctx.LiveBytes();
    torch::Tensor kept = run(b);
    ctx.Sync();
    at[b] = ctx.LiveBytes() - before;
  }
  return std::max<int64_t>(0, at[2] - at[1]);
}

// Fills forward_fit / backward_fit from the samples: per sequence length a
// least-squares line over the micro-batch (per-sample time and constant);
// the per-sample times fitted over sequence length (quadratic with three or
// more lengths); the constant averaged. A fit with a per-sample time that is
// not positive at some measured length is left empty, so that the planner
// uses the samples instead.
void Fit(v1::ComputeProfile* profile, bool backward) {
  std::map<int, std::vector<FitPoint>> by_seq;
  for (const v1::LayerTimeSample& s : profile->time_samples()) {
    by_seq[s.seq_len()].push_back({static_cast<double>(s.micro_batch()),
                                   backward ? s.backward_seconds() : s.forward_seconds()});
  }
  std::vector<FitPoint> per_sample;
  double constant = 0;
  for (const auto& [seq, points] : by_seq) {
    const AlphaBetaFit line = FitAlphaBeta(points);
    per_sample.push_back({static_cast<double>(seq), line.beta});
    constant += line.alpha;
  }
  if (per_sample.empty()) return;
  constant /= static_cast<double>(per_sample.size());
  v1::LayerTimeFit fit;
  if (per_sample.size() == 1) {
    fit.set_per_sample_s0(per_sample[0].y);
  } else {
    const QuadraticFit q = FitQuadratic(per_sample);
    fit.set_per_sample_s2(q.a);
    fit.set_per_sample_s1(q.b);
    fit.set_per_sample_s0(q.c);
  }
  fit.set_constant(std::max(0.0, constant));
  for (const auto& [seq, unused] : by_seq) {
    const double s = seq;
    if (!(fit.per_sample_s2() * s * s + fit.per_sample_s1() * s + fit.per_sample_s0() > 0)) return;
  }
  *(backward ? profile->mutable_backward_fit() : profile->mutable_forward_fit()) = fit;
}

v1::ComputeProfile NewProfile(const std::string& key, const v1::ModelSpec& model,
                              const Context& ctx) {
  v1::ComputeProfile profile;
  profile.set_layer_type(key);
  profile.set_cluster(ctx.options.cluster);
  profile.set_model(model.name());
  // What the times were measured in: the model's precision on CUDA; fp32 on
  // CPU (LibTorch's CPU bf16 is emulated and would mislead).
  profile.set_precision(
      ctx.cuda()
          ? model.precision()
          : (model.precision() == v1::PRECISION_FP64 ? v1::PRECISION_FP64 : v1::PRECISION_FP32));
  profile.set_source(v1::PROFILE_SOURCE_MEASURED);
  profile.set_measured_by(absl::StrCat(ReadHostFacts().host_name, " (", ctx.cuda() ? "cuda" : "cpu",
                                       ", ", torch::get_num_threads(),
                                       " threads, galvatron-worker)"));
  *profile.mutable_measured_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  return profile;
}

// Times every micro-batch size at each sequence length (`make_run(b, s)`
// builds the run of one size), records the samples and fits them. The sizes
// of one length are one measurement: when it is noisy they are all timed
// again (while the time budget allows), and the profile's quality record
// gets what stays noisy.
absl::Status TimeAndFit(const std::string& key, const std::vector<int>& seqs, Context* ctx,
                        const std::function<std::function<torch::Tensor()>(int b, int s)>& make_run,
                        v1::ComputeProfile* profile) {
  QualityRecorder quality(ctx->options.noise);
  for (int s : seqs) {
    const std::string what = absl::StrCat(key, ": forward/backward s=", s,
                                          " b=", absl::StrJoin(ctx->options.micro_batches, ","));
    RETURN_IF_ERROR(ctx->Step(what));
    std::vector<std::function<torch::Tensor()>> runs;
    for (int b : ctx->options.micro_batches) runs.push_back(make_run(b, s));
    std::vector<ForwardBackwardTimes> attempts;
    auto attempt = [&](int) -> absl::StatusOr<AttemptResult> {
      ctx->load->Begin();
      ForwardBackwardTimes& times = attempts.emplace_back(TimeForwardBackward(*ctx, runs));
      AttemptResult result;
      result.load = ctx->load->End();
      result.series = times.forward;
      result.series.insert(result.series.end(), times.backward.begin(), times.backward.end());
      return result;
    };
    // Another attempt only if one more as long as the last fits the budget.
    auto may_retry = [ctx](absl::Duration last) {
      return std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(last) < ctx->deadline;
    };
    ASSIGN_OR_RETURN(const MeasurementOutcome outcome,
                     MeasureUntilQuiet(ctx->options.noise, what, attempt, may_retry));
    quality.Add(what, outcome);
    const ForwardBackwardTimes& kept = attempts[static_cast<size_t>(outcome.kept)];
    for (size_t i = 0; i < runs.size(); ++i) {
      v1::LayerTimeSample* sample = profile->add_time_samples();
      sample->set_micro_batch(ctx->options.micro_batches[i]);
      sample->set_seq_len(s);
      sample->set_forward_seconds(Median(kept.forward[i]));
      sample->set_backward_seconds(Median(kept.backward[i]));
    }
    ctx->Done(what);
  }
  *profile->mutable_quality() = quality.Quality();
  Fit(profile, false);
  Fit(profile, true);
  return absl::OkStatus();
}

absl::Status ProfileLayerType(const v1::ModelSpec& model, int group, const std::string& key,
                              const std::vector<int>& seqs, Context* ctx,
                              v1::ComputeProfile* profile) {
  BlockOptions block_options;
  block_options.device = ctx->device;
  block_options.dtype = ctx->dtype;
  ASSIGN_OR_RETURN(BlockShape full, runtime::ResolveBlockShape(model, group, 1));
  full.merge_from_hidden = 0;  // see below
  TransformerBlock block(full, block_options);
  // A T5 block reads the whole model's activation (encoder then decoder
  // sequence), whose lengths the spec fixes: it is measured at those. So is
  // a Swin block, whose grid the image fixes (measured without the patch
  // merging that a stage's first block also does: one small linear).
  const bool t5 = runtime::IsT5Kind(full.kind);
  const bool fixed = t5 || full.kind == v1::LAYER_KIND_SWIN_BLOCK;
  const std::vector<int> fixed_seqs = {static_cast<int>(full.seq_len)};
  const std::vector<int>& layer_seqs = fixed ? fixed_seqs : seqs;
  auto carried = [&](int s) { return t5 ? runtime::CarriedSeq(full) : int64_t{s}; };
  const int64_t parameters = runtime::ParameterCount(*block);
  profile->set_parameter_count(parameters);
  profile->set_parameter_bytes(parameters * 4);  // fp32 master weights, as Galvatron counts
  const auto options = torch::TensorOptions().dtype(ctx->dtype).device(ctx->device);

  RETURN_IF_ERROR(TimeAndFit(
      key, layer_seqs, ctx,
      [&](int b, int s) -> std::function<torch::Tensor()> {
        torch::Tensor x = torch::randn({b, carried(s), full.hidden}, options).requires_grad_(true);
        return [&block, x] { return block->forward(x); };
      },
      profile));

  const int s = layer_seqs.back();
  for (int tp : ctx->options.tp_degrees) {
    for (v1::SequenceParallel sp : {v1::SEQUENCE_PARALLEL_NONE, v1::SEQUENCE_PARALLEL_MEGATRON,
                                    v1::SEQUENCE_PARALLEL_ULYSSES}) {
      const bool ulysses = sp == v1::SEQUENCE_PARALLEL_ULYSSES;
      // Ulysses keeps the full weights and splits the heads after the all-to-all.
      auto shard = runtime::ResolveBlockShape(model, group, ulysses ? 1 : tp);
      if (!shard.ok() || (ulysses && full.heads % tp != 0)) continue;  // tp does not divide it
      const bool sequence_sharded = sp != v1::SEQUENCE_PARALLEL_NONE;
      if (sequence_sharded && (fixed || s % tp != 0)) continue;  // T5's, Swin's do not split
      const int64_t local_seq = sequence_sharded ? s / tp : carried(s);
      const std::string what = absl::StrCat(
          key, ": activation memory ", v1::SequenceParallel_Name(sp), " degree ", tp, " s=", s);
      RETURN_IF_ERROR(ctx->Step(what));
      BlockOptions sharded_options = block_options;
      sharded_options.sp = sp;
      if (tp > 1) sharded_options.comm = std::make_shared<runtime::ShapeOnlyComm>(tp);
      shard->merge_from_hidden = 0;
      TransformerBlock sharded(*shard, sharded_options);
      const int64_t saved = BytesPerSample(*ctx, [&](int b) {
        torch::Tensor x = torch::randn({b, local_seq, shard->hidden}, options).requires_grad_(true);
        return sharded->forward(x);  // the graph (and what it saved) lives with the output
      });
      // Checkpointed: the forward runs without a graph; only the output (the
      // next layer's saved input) stays.
      const int64_t checkpointed = BytesPerSample(*ctx, [&](int b) {
        torch::NoGradGuard no_grad;
        torch::Tensor x = torch::randn({b, local_seq, shard->hidden}, options);
        return sharded->forward(x);
      });
      v1::ActivationMemory* memory = profile->add_activations();
      memory->set_tp_degree(tp);
      memory->set_sp(sp);
      memory->set_seq_len(s);
      memory->set_bytes_per_sample(saved);
      memory->set_checkpoint_bytes_per_sample(checkpointed);
      ctx->Done(what);
    }
  }
  return absl::OkStatus();
}

absl::Status ProfileEmbeddingHead(const v1::ModelSpec& model, const std::vector<int>& seqs,
                                  Context* ctx, v1::ComputeProfile* profile) {
  BlockOptions block_options;
  block_options.device = ctx->device;
  block_options.dtype = ctx->dtype;
  const std::string key = profile->layer_type();
  const auto token_options = torch::TensorOptions().dtype(torch::kInt64).device(ctx->device);
  // Language models read token ids [b, s] and predict tokens; ViT reads
  // images [b, C, H, W] (its sequence is fixed by them) and predicts classes [b].
  const bool vision =
      model.family() == v1::MODEL_FAMILY_VIT || model.family() == v1::MODEL_FAMILY_SWIN;
  // T5 reads its encoder's and decoder's tokens and predicts the decoder's.
  int64_t t5_encoder = 0, t5_decoder = 0;
  if (model.family() == v1::MODEL_FAMILY_T5) {
    ASSIGN_OR_RETURN(const runtime::T5Lengths lengths, runtime::T5SequenceLengths(model));
    t5_encoder = lengths.encoder;
    t5_decoder = lengths.decoder;
  }
  const std::vector<int> t5_seqs = {model.seq_len()};
  const std::vector<int>& head_seqs = t5_decoder > 0 ? t5_seqs : seqs;
  auto input_len = [&](int s) { return t5_decoder > 0 ? t5_encoder + t5_decoder : int64_t{s}; };
  auto label_len = [&](int s) { return t5_decoder > 0 ? t5_decoder : int64_t{s}; };
  auto tokens = [&](int b, int s) {
    if (vision) {
      const v1::VisionSpec& v = model.vision();
      return torch::rand({b, v.channels(), v.image_size(), v.image_size()},
                         torch::TensorOptions().dtype(torch::kFloat32).device(ctx->device));
    }
    return torch::randint(model.vocab_size(), {b, input_len(s)}, token_options);
  };
  auto labels_of = [&](int b, int s) {
    if (vision) return torch::randint(model.vision().num_classes(), {b}, token_options);
    return torch::randint(model.vocab_size(), {b, label_len(s)}, token_options);
  };
  // Swin's head reads its last stage's tokens, fewer and wider than the
  // embedding's: it is timed on an activation of that shape.
  const v1::LayerGroup& last_group = model.layers(model.layers_size() - 1);
  const bool swin = model.family() == v1::MODEL_FAMILY_SWIN;
  const int64_t last_seq = last_group.seq_len() > 0 ? last_group.seq_len() : model.seq_len();
  auto head_input = [&](int b, int s) {
    return torch::randn({b, swin ? last_seq : input_len(s), last_group.hidden()},
                        torch::TensorOptions().dtype(ctx->dtype).device(ctx->device))
        .requires_grad_(true);
  };
  {
    EmbeddingHead all(model, HeadPart::kAll, block_options);
    const int64_t parameters = runtime::ParameterCount(*all);
    profile->set_parameter_count(parameters);
    profile->set_parameter_bytes(parameters * 4);
    RETURN_IF_ERROR(TimeAndFit(
        key, head_seqs, ctx,
        [&](int b, int s) -> std::function<torch::Tensor()> {
          torch::Tensor ids = tokens(b, s), labels = labels_of(b, s);
          if (!swin) return [&all, ids, labels] { return all->Loss(all->Embed(ids), labels); };
          torch::Tensor h = head_input(b, s);
          // The embedding's output joins the loss (times zero) so that its
          // backward runs too.
          return [&all, ids, labels, h] {
            return all->Loss(h, labels) + all->Embed(ids).mean() * 0.0;
          };
        },
        profile));
  }
  const int s = head_seqs.back();
  const int64_t hidden = model.layers(0).hidden();
  for (int vtp : ctx->options.tp_degrees) {
    if (model.vocab_size() % vtp != 0) continue;
    block_options.tp = vtp;
    const std::string what = absl::StrCat(key, ": memory vocab_tp=", vtp, " s=", s);
    RETURN_IF_ERROR(ctx->Step(what));
    EmbeddingHead first(model, HeadPart::kEmbedding, block_options);
    EmbeddingHead last(model, HeadPart::kHead, block_options);
    const int64_t embed_bytes =
        BytesPerSample(*ctx, [&](int b) { return first->Embed(tokens(b, s)); });
    const int64_t head_bytes =
        BytesPerSample(*ctx, [&](int b) { return last->Loss(head_input(b, s), labels_of(b, s)); });
    const int64_t first_states = runtime::ParameterCount(*first) * kModelStateBytesPerParameter;
    const int64_t last_states = runtime::ParameterCount(*last) * kModelStateBytesPerParameter;
    // Tied weights: with pp = 1 the one embedding matrix serves both.
    const int64_t shared = model.tie_embeddings()
                               ? model.vocab_size() / vtp * hidden * kModelStateBytesPerParameter
                               : 0;
    const struct {
      v1::PipelinePosition position;
      int64_t states, activation;
    } rows[] = {
        {v1::PIPELINE_POSITION_OFF, first_states + last_states - shared, embed_bytes + head_bytes},
        {v1::PIPELINE_POSITION_FIRST, first_states, embed_bytes},
        {v1::PIPELINE_POSITION_LAST, last_states, head_bytes}};
    for (const auto& row : rows) {
      v1::OtherLayersMemory* m = profile->add_other_memory();
      m->set_position(row.position);
      m->set_vocab_tp_degree(vtp);
      m->set_seq_len(s);
      m->set_model_state_bytes(row.states);
      m->set_activation_bytes_per_sample(row.activation);
    }
    ctx->Done(what);
  }
  return absl::OkStatus();
}

absl::Status CheckSizes(const std::string& flag, const std::vector<int>& values, int max) {
  for (int v : values) {
    if (v < 1 || v > max) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, ": ", v, " in {", absl::StrJoin(values, ","), "}, expected 1..", max));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateProfilerOptions(const ProfilerOptions& o) {
  if (o.micro_batches.empty()) {
    return absl::InvalidArgumentError("--micro-batches: empty, expected at least one size");
  }
  RETURN_IF_ERROR(CheckSizes("--micro-batches", o.micro_batches, 4096));
  RETURN_IF_ERROR(CheckSizes("--seq-lens", o.seq_lens, 1 << 20));
  RETURN_IF_ERROR(CheckSizes("--tp-degrees", o.tp_degrees, 1024));
  if (o.warmup < 0 || o.repeats < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--warmup ", o.warmup, " / --repeats ", o.repeats, ": expected >= 0 / >= 1"));
  }
  RETURN_IF_ERROR(ValidateNoiseOptions(o.noise));
  if (!(o.time_budget_seconds > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--time-budget-seconds: ", o.time_budget_seconds, ", expected > 0"));
  }
  if (o.device != "cpu" && o.device != "cuda" && o.device != "auto") {
    return absl::InvalidArgumentError(
        absl::StrCat("--device: \"", o.device, "\", expected cpu, cuda or auto"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ComputeProfileList> ProfileModel(const v1::ModelSpec& model,
                                                    const ProfilerOptions& options) {
  RETURN_IF_ERROR(ValidateProfilerOptions(options));
  if (model.layers_size() == 0 ||
      (model.vocab_size() < 1 && model.family() != v1::MODEL_FAMILY_VIT &&
       model.family() != v1::MODEL_FAMILY_SWIN)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model ", model.name(), ": expected layers and a vocabulary (or a ViT or Swin)"));
  }
  const bool have_cuda = torch::cuda::is_available();
  if (options.device == "cuda" && !have_cuda) {
    return absl::UnavailableError("--device cuda: no CUDA device (or LibTorch built without CUDA)");
  }
  const bool cuda = have_cuda && options.device != "cpu";
  if (options.threads > 0) torch::set_num_threads(options.threads);
  torch::manual_seed(0);
  if (!cuda) CpuCounter();  // before the first tensor

  Context ctx{
      options, cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU), torch::kFloat32,
      std::chrono::steady_clock::now() +
          std::chrono::microseconds(static_cast<int64_t>(options.time_budget_seconds * 1e6))};
  std::shared_ptr<LoadSource> load = options.load_source;
  if (load == nullptr) load = MakeProcLoadSource(/*exclude_siblings=*/false);
  ctx.load = load.get();
  if (cuda && model.precision() == v1::PRECISION_BF16_MIXED) ctx.dtype = torch::kBFloat16;
  if (cuda && model.precision() == v1::PRECISION_FP16_MIXED) ctx.dtype = torch::kFloat16;
  if (model.precision() == v1::PRECISION_FP64) ctx.dtype = torch::kFloat64;

  std::vector<int> seqs = options.seq_lens;
  if (seqs.empty()) seqs.push_back(model.seq_len());
  std::sort(seqs.begin(), seqs.end());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());

  // Distinct layer types, each measured once (its first group).
  std::vector<std::pair<std::string, int>> types;
  std::set<std::string> seen;
  for (int g = 0; g < model.layers_size(); ++g) {
    const std::string key = LayerTypeKey(model, g);
    if (seen.insert(key).second) types.emplace_back(key, g);
  }
  const int timings = static_cast<int>(seqs.size());
  ctx.total_steps = static_cast<int>(types.size() + 1) *
                    (timings + 3 * static_cast<int>(options.tp_degrees.size()));

  v1::ComputeProfileList list;
  torch::AutoGradMode grad(true);
  for (const auto& [key, group] : types) {
    v1::ComputeProfile* profile = list.add_profiles();
    *profile = NewProfile(key, model, ctx);
    RETURN_IF_ERROR(ProfileLayerType(model, group, key, seqs, &ctx, profile));
  }
  v1::ComputeProfile* head = list.add_profiles();
  *head = NewProfile(EmbeddingTypeKey(model), model, ctx);
  RETURN_IF_ERROR(ProfileEmbeddingHead(model, seqs, &ctx, head));
  ctx.done_steps = ctx.total_steps - 1;
  ctx.Done("done");
  return list;
}

}  // namespace galvatron::profiler
