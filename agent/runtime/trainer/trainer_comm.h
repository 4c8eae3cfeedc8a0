// How one rank of a training run talks to the others: the rendezvous (a
// c10d TCPStore at rank 0) and two parallel contexts over it — one for the
// model's collectives (tensor/sequence parallelism, redistribution, pipeline
// messages), one for gradient synchronisation, so that gradient buckets
// started from backward hooks never interleave with the model's collectives
// on one process group — plus the point-to-point messages between pipeline
// stages and world-wide sums.
//
// Thread model: one thread (the training loop) issues every call; the c10d
// process groups underneath are thread-safe, but collectives must be issued
// in the same order on every member.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/runtime/comm/rendezvous.h"
#include "agent/runtime/parallel/parallel_context.h"
#include "agent/runtime/trainer/trainer.h"

namespace galvatron::runtime {

class TrainerComm {
 public:
  // Meets the other ranks (a world of one needs nobody) and creates both
  // contexts' process groups for `layout`: Gloo for a CPU `device`, NCCL
  // (each context its own communicators, so its own streams) for CUDA.
  static absl::StatusOr<std::unique_ptr<TrainerComm>> Connect(const TrainOptions& o,
                                                              const ParallelLayout& layout,
                                                              const torch::Device& device);

  ParallelContext& model() { return *model_; }
  ParallelContext& grads() { return *grads_; }
  int rank() const { return model_->rank(); }
  int world() const { return model_->world(); }
  // This rank's device; the process groups' tensors live there.
  torch::Device device() const { return device_; }

  // Sum (max) over the world (blocking), of a tensor on any device; a world
  // of one does nothing.
  void WorldSum(torch::Tensor& t);
  void WorldMax(torch::Tensor& t);
  void Barrier();
  // Point-to-point messages, of tensors on any device (they travel from and
  // to device()). Send does not wait: its buffer stays alive until
  // FinishSends. Receive answers on the device of `options`.
  //
  // Two lanes: pipeline activations (and anything else) travel over the
  // model context's world group, pipeline gradients over the gradient
  // context's. Under NCCL each lane of a pair of ranks is its own
  // communicator and stream, in which a send completes only once the peer's
  // receive runs; in 1F1B's steady state a stage sends an activation
  // forward while its successor sends a gradient back, and on one stream
  // each send would wait behind the other forever.
  enum class Lane { kForward, kBackward };
  void Send(const torch::Tensor& t, int to, int tag, Lane lane = Lane::kForward);
  torch::Tensor Receive(at::IntArrayRef shape, const torch::TensorOptions& options, int from,
                        int tag, Lane lane = Lane::kForward);
  // Waits for every send of the step.
  void FinishSends();

  // Tells the other ranks that this one failed with `error`, so they stop
  // instead of waiting in a collective for it, before this rank's process
  // groups are torn down (which can wait for the peers). Returns the error
  // as the other ranks will see it; a world of one returns `error`.
  absl::Status ReportFailure(const absl::Status& error);
  // What this rank is doing ("rank 0, step 7"), named when the peer watch
  // stops the process because another rank failed.
  void SetWhere(std::string where);

 private:
  // Shared with the caller (TrainOptions::rendezvous_holder), who leaves the
  // group after the process groups are gone.
  std::shared_ptr<runtime::TcpRendezvous> rendezvous_;
  torch::Device device_ = torch::kCPU;
  std::unique_ptr<ParallelContext> model_, grads_;
  const CommGroup& LaneGroup(Lane lane) const;

  std::vector<std::pair<c10::intrusive_ptr<c10d::Work>, torch::Tensor>> sends_;
};

}  // namespace galvatron::runtime
