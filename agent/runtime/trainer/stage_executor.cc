#include "agent/runtime/trainer/stage_executor.h"

#include "agent/runtime/trainer/model_support.h"
#include "common/status_macros.h"

namespace galvatron::runtime {
namespace {

// The whole sequence's length of this rank's part `x` in `layout` (a layer's
// own: Swin's stages and T5's carried activation differ from the data's).
int64_t FullSeq(const torch::Tensor& x, const ActivationLayout& layout) {
  return layout.sequence_split ? x.size(1) * layout.tp : x.size(1);
}

}  // namespace

StageExecutor::StageExecutor(Stage& stage, TrainerComm& comm, BatchSource& batches, GradSync& grads,
                             v1::PipelineSchedule schedule, const Precision& precision,
                             int64_t hidden)
    : stage_(stage),
      comm_(comm),
      batches_(batches),
      grads_(grads),
      precision_(precision),
      hidden_(hidden),
      actions_(StageSchedule(schedule, comm.model().pp(), comm.model().stage(),
                             batches.micro_batches())) {}

absl::StatusOr<ScheduleResult> StageExecutor::Run(int64_t step, double loss_scale) {
  ScheduleResult result;
  const size_t chunks = static_cast<size_t>(batches_.micro_batches());
  inputs_.assign(chunks, torch::Tensor());
  outputs_.assign(chunks, torch::Tensor());
  for (const PipelineAction& action : actions_) {
    const int c = action.micro_batch;
    if (action.forward) {
      ASSIGN_OR_RETURN(outputs_[static_cast<size_t>(c)], Forward(step, c, loss_scale, result));
    } else {
      Backward(c, result);
    }
  }
  return result;
}

absl::StatusOr<torch::Tensor> StageExecutor::Forward(int64_t step, int c, double loss_scale,
                                                     ScheduleResult& result) {
  ParallelContext& ctx = comm_.model();
  const CommGroup& stage_group = ctx.stage_group();
  const int64_t m = batches_.micro_batch_samples();
  const int seq = batches_.seq();
  Stage& st = stage_;
  torch::Tensor x;
  ActivationLayout layout;
  if (st.first) {
    ASSIGN_OR_RETURN(MicroBatch batch, batches_.Get(step, c));
    torch::Tensor tokens = batch.inputs.to(st.device);
    x = RunUnit(st.embedding_unit, [&] { return st.embedding->EmbedParallel(tokens); });
    layout = st.embedding_layout;
  } else {
    const auto wait_start = std::chrono::steady_clock::now();
    x = comm_
            .Receive(st.previous_layout.LocalShape(
                         m, st.previous_seq > 0 ? st.previous_seq : seq,
                         st.previous_hidden > 0 ? st.previous_hidden : hidden_),
                     torch::TensorOptions().dtype(precision_.wire).device(st.device),
                     ctx.prev_stage_rank(), 2 * c)
            .to(precision_.compute);
    result.waited += std::chrono::steady_clock::now() - wait_start;
    x.requires_grad_(true);
    inputs_[static_cast<size_t>(c)] = x;
    layout = st.previous_layout;
  }
  for (size_t i = 0; i < st.blocks.size(); ++i) {
    x = Redistribute(x, layout, st.layouts[i], stage_group, m, FullSeq(x, layout));
    layout = st.layouts[i];
    TransformerBlock block = st.blocks[i];
    const bool checkpointed = st.checkpoint[i];
    torch::Tensor in = x;
    x = RunUnit(st.block_unit[i],
                [&] { return checkpointed ? CheckpointedForward(block, in) : block->forward(in); });
  }
  if (!st.last) {
    comm_.Send(x.detach().to(precision_.wire), ctx.next_stage_rank(), 2 * c);
    return x;
  }
  x = Redistribute(x, layout, st.embedding_layout, stage_group, m, FullSeq(x, layout));
  ASSIGN_OR_RETURN(MicroBatch batch, batches_.Get(step, c));
  torch::Tensor h = x;
  torch::Tensor loss = RunUnit(st.embedding_unit, [&] {
    return st.embedding->LossSumParallel(
        h, batch.labels.to(st.device),
        batch.weights.defined() ? batch.weights.to(st.device) : batch.weights);
  });
  if (!st.loss_replicated || st.position % st.embedding_layout.tp == 0) {
    result.loss_sum += loss.item<double>();
  }
  return loss * loss_scale;
}

void StageExecutor::Backward(int c, ScheduleResult& result) {
  ParallelContext& ctx = comm_.model();
  // The last backward overlaps the DDP buckets' all-reduces.
  if (c == batches_.micro_batches() - 1) grads_.BeforeLastBackward();
  torch::Tensor& out = outputs_[static_cast<size_t>(c)];
  if (stage_.last) {
    out.backward();
  } else {
    const auto wait_start = std::chrono::steady_clock::now();
    torch::Tensor grad = comm_.Receive(
        out.sizes(), torch::TensorOptions().dtype(precision_.wire).device(stage_.device),
        ctx.next_stage_rank(), 2 * c + 1, TrainerComm::Lane::kBackward);
    result.waited += std::chrono::steady_clock::now() - wait_start;
    out.backward(grad.to(precision_.compute));
  }
  if (!stage_.first) {
    torch::Tensor& in = inputs_[static_cast<size_t>(c)];
    comm_.Send((in.grad().defined() ? in.grad() : torch::zeros_like(in)).to(precision_.wire),
               ctx.prev_stage_rank(), 2 * c + 1, TrainerComm::Lane::kBackward);
    in = torch::Tensor();
  }
  out = torch::Tensor();
}

torch::Tensor StageExecutor::RunUnit(int unit, const std::function<torch::Tensor()>& forward) {
  return unit >= 0 ? stage_.units[static_cast<size_t>(unit)]->Run(forward) : forward();
}

}  // namespace galvatron::runtime
