// The training loop. Each concern lives in its own file:
//   stage_builder   this rank's stage of the model from the plan
//   batches         the samples of each step, this rank's micro-batches
//   stage_executor  one step's pipeline schedule (forward, backward, messages)
//   grad_sync       finishing the gradients: DDP buckets (gradient_reducer),
//                   ZeRO-1/2, ZeRO-3 units (zero3), replicated KV heads, the
//                   tied table; the ZeRO-1/2 owners' broadcast
//   clip_grads      the global gradient norm and clipping
//   optimizer       AdamW, the learning-rate schedule, bf16 master weights
//   step_metrics    the per-step metrics
//   checkpoint_io   sharded checkpoints and parameter dumps
//   export_gather   the trained model as Hugging Face safetensors (--export-out)
//   trainer_comm    the rendezvous, process groups and pipeline messages
//   error_boundary  statuses naming the rank and step, for any failure
#include "agent/runtime/trainer/trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/runtime/device/device.h"
#include "agent/runtime/export/hf_export.h"
#include "agent/runtime/trainer/batches.h"
#include "agent/runtime/trainer/checkpoint_io.h"
#include "agent/runtime/trainer/clip_grads.h"
#include "agent/runtime/trainer/error_boundary.h"
#include "agent/runtime/trainer/export_gather.h"
#include "agent/runtime/trainer/grad_sync.h"
#include "agent/runtime/trainer/loss_scaler.h"
#include "agent/runtime/trainer/model_support.h"
#include "agent/runtime/trainer/optimizer.h"
#include "agent/runtime/trainer/stage.h"
#include "agent/runtime/trainer/stage_builder.h"
#include "agent/runtime/trainer/stage_executor.h"
#include "agent/runtime/trainer/step_metrics.h"
#include "agent/runtime/trainer/trainer_comm.h"
#include "common/model_catalog.h"
#include "common/plan_validation.h"
#include "common/status_macros.h"
#include "galvatron/v1/model.pb.h"
#include "galvatron/v1/plan.pb.h"
#include "interop/plan_file.h"
#include "spdlog/spdlog.h"

namespace galvatron::runtime {
namespace {

absl::Status CheckOptions(const TrainOptions& o) {
  if (o.steps < 1)
    return absl::InvalidArgumentError(absl::StrCat("--steps: ", o.steps, ", expected >= 1"));
  if (o.world_size < 1 || o.rank < 0 || o.rank >= o.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("--rank ", o.rank, " / --world-size ",
                                                   o.world_size, ": expected 0 <= rank < world"));
  }
  if (!o.loss_scaling.empty() && o.loss_scaling != "dynamic" && o.loss_scaling != "off") {
    return absl::InvalidArgumentError(
        absl::StrCat("--loss-scaling: \"", o.loss_scaling, "\", expected dynamic or off"));
  }
  if (o.loss_scaling == "dynamic" &&
      !(o.initial_loss_scale >= 1 && std::isfinite(o.initial_loss_scale) &&
        std::exp2(std::round(std::log2(o.initial_loss_scale))) == o.initial_loss_scale)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--initial-loss-scale: ", o.initial_loss_scale,
                     ", expected a power of two >= 1 (scaling by it must be exact)"));
  }
  if (o.loss_scale_growth_interval < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--loss-scale-growth-interval: ", o.loss_scale_growth_interval, ", expected >= 1"));
  }
  if (o.dtype != "float32" && o.dtype != "float64" && o.dtype != "bfloat16" &&
      o.dtype != "float16") {
    return absl::InvalidArgumentError(
        absl::StrCat("--dtype: \"", o.dtype, "\", expected float32, float64, bfloat16 or float16"));
  }
  if (o.dtype == "float16" && o.loss_scaling == "off") {
    return absl::InvalidArgumentError(
        "--loss-scaling off with --dtype float16: float16 gradients underflow without loss "
        "scaling; use --loss-scaling dynamic (the default for float16) or bfloat16");
  }
  if (o.stop_after > 0 && o.checkpoint_dir.empty()) {
    return absl::InvalidArgumentError("--stop-after needs --checkpoint-dir (to resume from)");
  }
  if (o.resume && o.checkpoint_dir.empty()) {
    return absl::InvalidArgumentError("--resume needs --checkpoint-dir");
  }
  return absl::OkStatus();
}

// Everything a run holds, in the order it is built (and destroyed in
// reverse: the process groups outlive the modules and hooks that use them).
struct Training {
  v1::ModelSpec model;
  v1::Plan plan;
  Precision precision;
  std::unique_ptr<TrainerComm> comm;
  Stage stage;
  std::unique_ptr<StageOptimizer> optimizer;
  int64_t first_step = 0;  // 0, or the step a resumed run continues after
  std::unique_ptr<BatchSource> batches;
  std::unique_ptr<StepMetricsWriter> metrics;
  std::unique_ptr<GradSync> grads;
  std::unique_ptr<StageExecutor> executor;
  std::unique_ptr<DynamicLossScaler> scaler;  // null without loss scaling
};

absl::StatusOr<std::unique_ptr<Training>> SetUp(const TrainOptions& o) {
  RETURN_IF_ERROR(CheckOptions(o));
  ASSIGN_OR_RETURN(const torch::Device device,
                   ResolveDevice(o.device, o.local_rank >= 0 ? o.local_rank : o.rank));
  if (o.dtype == "float16" && !device.is_cuda()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--dtype float16 on ", device.str(),
        ": float16 training runs on CUDA devices only (LibTorch's CPU kernels lack or emulate "
        "half precision); use bfloat16 on the CPU"));
  }
  auto t = std::make_unique<Training>();
  ASSIGN_OR_RETURN(t->model, LoadModelArgument(o.model));
  RETURN_IF_ERROR(CheckModelIsTrainable(t->model));
  if (!o.export_out.empty()) {
    absl::Status exportable = CheckExportable(t->model);
    if (!exportable.ok()) {
      return absl::Status(exportable.code(), absl::StrCat("--export-out: ", exportable.message()));
    }
  }
  ASSIGN_OR_RETURN(interop::LoadedPlan loaded,
                   interop::LoadPlanFile(o.plan, o.world_size,
                                         SequenceSplitRefusal(t->model.family()) == nullptr));
  t->plan = std::move(loaded.plan);
  for (const std::string& note : loaded.notes) spdlog::warn("--plan: {}", note);
  RETURN_IF_ERROR(CheckPlanForModel(t->plan, t->model, o.world_size));
  RETURN_IF_ERROR(CheckSupported(t->plan, t->model));

  if (o.threads > 0) torch::set_num_threads(o.threads);
  RETURN_IF_ERROR(UseDevice(device));
  ASSIGN_OR_RETURN(t->comm,
                   TrainerComm::Connect(o, LayoutOfPlan(t->plan, t->model, o.rank), device));
  // NCCL sums bf16/fp16 as they are; Gloo has no bf16 kernels.
  t->precision = PrecisionOf(o.dtype, device.is_cuda());
  ASSIGN_OR_RETURN(t->stage, BuildStage(t->model, t->plan, *t->comm, t->precision,
                                        static_cast<uint64_t>(o.seed)));
  ASSIGN_OR_RETURN(t->optimizer,
                   StageOptimizer::Create(t->stage, t->model.optimizer(), o, t->precision));
  if (o.loss_scaling == "dynamic" || (o.loss_scaling.empty() && o.dtype == "float16")) {
    LossScalerOptions scaling;
    scaling.initial_scale = o.initial_loss_scale;
    scaling.growth_interval = o.loss_scale_growth_interval;
    t->scaler = std::make_unique<DynamicLossScaler>(scaling);
  }
  if (o.resume) {
    ASSIGN_OR_RETURN(t->first_step,
                     LoadCheckpoint(o.checkpoint_dir, o.resume_step, o.rank, t->stage,
                                    t->optimizer->adamw(), t->scaler.get()));
    spdlog::info("rank {}: resumed from step {}", o.rank, t->first_step);
  }
  ASSIGN_OR_RETURN(t->batches,
                   BatchSource::Open(o, t->model, t->plan, t->stage, t->precision.master));
  ASSIGN_OR_RETURN(t->metrics, StepMetricsWriter::Open(o, *t->comm, t->batches->global_batch(),
                                                       t->batches->seq()));
  t->grads = std::make_unique<GradSync>(t->stage, *t->comm, t->precision.wire);
  t->executor = std::make_unique<StageExecutor>(t->stage, *t->comm, *t->batches, *t->grads,
                                                t->plan.schedule(), t->precision,
                                                t->model.layers(0).hidden());
  return t;
}

}  // namespace

absl::Status RunTraining(const TrainOptions& o) {
  const std::string at_rank = absl::StrCat("rank ", o.rank);
  std::unique_ptr<Training> t;
  RETURN_IF_ERROR(RunGuarded(at_rank, [&]() -> absl::Status {
    ASSIGN_OR_RETURN(t, SetUp(o));
    return absl::OkStatus();
  }));
  // Every rank says where it stands once it is in the group (rank 0 also
  // logs each step): a rank killed later leaves a log that says what it was.
  const int pp = std::max(1, t->plan.pp());
  spdlog::info("rank {} of {}: pipeline stage {} of {} ({} layer(s)) on {}; steps {}..{}", o.rank,
               o.world_size, o.rank / std::max(1, o.world_size / pp) + 1, pp,
               t->stage.blocks.size(), t->stage.device.str(), t->first_step + 1, o.steps);
  TrainerComm& comm = *t->comm;
  Stage& stage = t->stage;
  StageOptimizer& optimizer = *t->optimizer;
  GradSync& grads = *t->grads;

  for (int64_t step = t->first_step; step < o.steps; ++step) {
    // A failed step is reported to the other ranks before this rank's
    // process groups are torn down, so they stop instead of waiting for it.
    const std::string at_step = absl::StrCat(at_rank, ", step ", step + 1);
    comm.SetWhere(at_step);
    absl::Status done = RunGuarded(at_step, [&]() -> absl::Status {
      StepRecord record;
      record.step = step + 1;
      record.start = std::chrono::steady_clock::now();
      t->metrics->StartStep();
      grads.ZeroGrads();
      ASSIGN_OR_RETURN(const double counted_tokens, t->batches->CountedTokens(step));
      record.loss_scale = 1.0 / counted_tokens;
      // With loss scaling the backward runs on the loss times the
      // scale; the gradients are divided by it again before clipping.
      const double scale = t->scaler ? t->scaler->scale() : 1.0;
      ASSIGN_OR_RETURN(const ScheduleResult run, t->executor->Run(step, record.loss_scale * scale));
      RETURN_IF_ERROR(grads.Finish());
      comm.FinishSends();
      if ((o.inject_nonfinite_grad_rank < 0 || o.inject_nonfinite_grad_rank == o.rank) &&
          std::count(o.inject_nonfinite_grad_steps.begin(), o.inject_nonfinite_grad_steps.end(),
                     step + 1) > 0) {
        InjectNonFiniteGradient(stage);
      }
      optimizer.PrepareGrads();
      record.grad_norm = GlobalGradNorm(stage, comm);
      bool update = true;
      if (t->scaler) {
        // The norm is a sum over the world: every rank decides alike.
        update = t->scaler->Update(std::isfinite(record.grad_norm));
        if (update) {
          ScaleGrads(optimizer.params(), 1.0 / scale);
          record.grad_norm /= scale;
        } else if (o.rank == 0) {
          spdlog::warn(
              "step {}: non-finite gradients at loss scale {}: step skipped, scale "
              "now {}",
              step + 1, scale, t->scaler->scale());
        }
      }
      if (update) {
        ClipGrads(optimizer.params(), optimizer.clip_norm(), record.grad_norm);
        record.learning_rate = optimizer.Step(step);
        grads.BroadcastUpdated();
      }
      record.model_state_bytes = ModelStateBytes(stage, optimizer.adamw());
      record.loss_sum = run.loss_sum;
      record.waited = run.waited;
      RETURN_IF_ERROR(t->metrics->Record(record));
      if (CheckpointDue(o, step + 1)) {
        RETURN_IF_ERROR(SaveCheckpoint(o.checkpoint_dir, step + 1, o.rank, comm, stage,
                                       optimizer.adamw(), t->scaler.get()));
      }
      return absl::OkStatus();
    });
    if (!done.ok()) return comm.ReportFailure(done);
    if (o.stop_after == step + 1) {
      spdlog::info("rank {}: stopped after step {} as asked (--stop-after)", o.rank, step + 1);
      break;
    }
  }
  absl::Status done = RunGuarded(at_rank, [&]() -> absl::Status {
    if (!o.dump_parameters.empty()) {
      RETURN_IF_ERROR(DumpParameters(o.dump_parameters, comm.world(), o.rank, stage));
    }
    if (!o.export_out.empty()) {
      RETURN_IF_ERROR(ExportTrained(o.export_out, t->model, stage, comm, t->precision));
    }
    comm.Barrier();
    return absl::OkStatus();
  });
  return done.ok() ? done : comm.ReportFailure(done);
}

}  // namespace galvatron::runtime
