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
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>

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
  // contexts' process groups for `layout`.
  static absl::StatusOr<std::unique_ptr<TrainerComm>> Connect(const TrainOptions& o,
                                                              const ParallelLayout& layout);

  ParallelContext& model() { return *model_; }
  ParallelContext& grads() { return *grads_; }
  int rank() const { return model_->rank(); }
  int world() const { return model_->world(); }

  // Sum over the world (blocking); a world of one does nothing.
  void WorldSum(torch::Tensor& t);
  void Barrier();
  // Point-to-point over the model context's world group. Send does not
  // wait: its buffer stays alive until FinishSends.
  void Send(const torch::Tensor& t, int to, int tag);
  torch::Tensor Receive(at::IntArrayRef shape, const torch::TensorOptions& options, int from,
                        int tag);
  // Waits for every send of the step.
  void FinishSends();

  // Tells the other ranks that this one failed with `error`, so they stop
  // instead of waiting in a collective for it, before this rank's process
  // groups are torn down (which can wait for the peers). Returns the error
  // as the other ranks will see it; a world of one returns `error`.
  absl::Status ReportFailure(const absl::Status& error);

 private:
  // Shared with the caller (TrainOptions::rendezvous_holder), who leaves the
  // group after the process groups are gone.
  std::shared_ptr<runtime::TcpRendezvous> rendezvous_;
  std::unique_ptr<ParallelContext> model_, grads_;
  std::vector<std::pair<c10::intrusive_ptr<c10d::Work>, torch::Tensor>> sends_;
};

}  // namespace galvatron::runtime
