#include "agent/runtime/trainer/step_metrics.h"

#include <sys/resource.h>

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/json_file.h"
#include "galvatron/v1/job.pb.h"
#include "spdlog/spdlog.h"

namespace galvatron::runtime {

int64_t ModelStateBytes(const Stage& st, torch::optim::AdamW& optimizer) {
  int64_t bytes = 0;
  auto size = [](const torch::Tensor& t) { return t.defined() ? t.numel() * t.element_size() : 0; };
  for (const Param& p : st.params) {
    if (p.sync == Sync::kZero3) continue;
    bytes += size(p.tensor) + size(p.tensor.grad()) + size(p.master) +
             (p.master.defined() ? size(p.master.grad()) : 0);
  }
  for (const auto& unit : st.units) bytes += unit->ResidentBytes();
  for (const auto& [key, state] : optimizer.state()) {
    const auto& adam = static_cast<const torch::optim::AdamWParamState&>(*state);
    bytes += size(adam.exp_avg()) + size(adam.exp_avg_sq()) + size(adam.max_exp_avg_sq());
  }
  return bytes;
}

int64_t PeakMemoryBytes() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

int64_t PeakMemoryBytes(const torch::Device& device) {
  return device.is_cuda() ? DevicePeakBytes(device) : PeakMemoryBytes();
}

absl::StatusOr<std::unique_ptr<StepMetricsWriter>> StepMetricsWriter::Open(const TrainOptions& o,
                                                                           TrainerComm& comm,
                                                                           int global_batch,
                                                                           int seq) {
  std::unique_ptr<StepMetricsWriter> writer(new StepMetricsWriter(comm, global_batch, seq));
  if (comm.rank() == 0 && !o.metrics_out.empty()) {
    writer->out_.open(o.metrics_out, o.resume ? std::ios::app : std::ios::trunc);
    if (!writer->out_) {
      return absl::UnavailableError(absl::StrCat("--metrics-out: cannot open ", o.metrics_out));
    }
  }
  return writer;
}

absl::Status StepMetricsWriter::Record(const StepRecord& r) {
  // Before the collectives below, which are the metrics', not the step's.
  const WaitTotals waits = ReadWaitTotals() - waits_at_start_;
  ParallelContext& ctx = comm_.model();
  const int pp = ctx.pp();
  // Each stage's busy time: its schedule without the waits for messages
  // from its neighbours (the slowest rank of the stage counts).
  torch::Tensor stage_seconds = torch::zeros({pp}, torch::TensorOptions().dtype(torch::kFloat64));
  stage_seconds[ctx.stage()] =
      timer_.ElapsedSeconds() - std::chrono::duration<double>(r.waited).count();
  comm_.WorldMax(stage_seconds);
  torch::Tensor total_loss =
      torch::full({1}, r.loss_sum, torch::TensorOptions().dtype(torch::kFloat64));
  comm_.WorldSum(total_loss);
  const double loss = total_loss.item<double>() * r.loss_scale;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - r.start).count();
  if (!std::isfinite(loss)) return absl::InternalError(absl::StrCat("the loss is ", loss));
  if (comm_.rank() != 0) return absl::OkStatus();
  v1::StepMetrics metric;
  metric.set_step(r.step);
  metric.set_loss(loss);
  metric.set_step_seconds(seconds);
  metric.set_samples_per_second(global_batch_ / seconds);
  metric.set_tokens_per_second(static_cast<double>(global_batch_) * seq_ / seconds);
  metric.set_peak_memory_bytes(PeakMemoryBytes(comm_.device()));
  metric.set_model_state_bytes(r.model_state_bytes);
  metric.set_learning_rate(r.learning_rate);
  metric.set_grad_norm(r.grad_norm);
  for (int k = 0; k < pp; ++k) metric.add_stage_seconds(stage_seconds[k].item<double>());
  metric.set_communication_wait_seconds(waits.model_seconds);
  metric.set_communication_waits(waits.model_waits);
  metric.set_gradient_sync_wait_seconds(waits.sync_seconds);
  JsonPrintOptions compact;
  compact.pretty = false;
  compact.always_print_defaults = true;
  if (out_.is_open()) out_ << MessageToJson(metric, compact) << std::endl;
  spdlog::info("step {}: loss {:.6f}, {:.3f} s, {:.0f} tokens/s, lr {:.3g}, grad norm {:.4f}",
               r.step, loss, seconds, metric.tokens_per_second(), r.learning_rate, r.grad_norm);
  return absl::OkStatus();
}

}  // namespace galvatron::runtime
