#include "agent/runtime/trainer/trainer_comm.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "agent/runtime/comm/c10d_store.h"
#include "agent/runtime/comm/collectives.h"
#include "agent/runtime/comm/wait_clock.h"
#include "common/json_file.h"
#include "common/status_macros.h"

namespace galvatron::runtime {

absl::StatusOr<std::unique_ptr<TrainerComm>> TrainerComm::Connect(const TrainOptions& o,
                                                                  const ParallelLayout& layout,
                                                                  const torch::Device& device) {
  auto comm = std::make_unique<TrainerComm>();
  comm->device_ = device;
  c10::intrusive_ptr<c10d::Store> store;
  ParallelContextOptions options;
  options.backend = device.is_cuda() ? "nccl" : "gloo";
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

absl::Status TrainerComm::ReportFailure(const absl::Status& error) {
  return rendezvous_ == nullptr ? error : rendezvous_->ReportFailure(error);
}

void TrainerComm::SetWhere(std::string where) {
  if (rendezvous_ != nullptr) rendezvous_->SetWhere(std::move(where));
}

void TrainerComm::WorldSum(torch::Tensor& t) {
  if (world() == 1) return;
  t.copy_(AllReduce(t.to(device_), grads_->world_group()));
}

void TrainerComm::WorldMax(torch::Tensor& t) {
  if (world() == 1) return;
  t.copy_(AllReduce(t.to(device_), grads_->world_group(), c10d::ReduceOp::MAX));
}

void TrainerComm::Barrier() {
  torch::Tensor one = torch::ones({1});
  WorldSum(one);
}

const CommGroup& TrainerComm::LaneGroup(Lane lane) const {
  return lane == Lane::kForward ? model_->world_group() : grads_->world_group();
}

void TrainerComm::Send(const torch::Tensor& t, int to, int tag, Lane lane) {
  std::vector<torch::Tensor> tensors{t.to(device_).contiguous()};
  sends_.emplace_back(LaneGroup(lane).process_group->send(tensors, to, tag), tensors[0]);
}

torch::Tensor TrainerComm::Receive(at::IntArrayRef shape, const torch::TensorOptions& options,
                                   int from, int tag, Lane lane) {
  std::vector<torch::Tensor> tensors{torch::empty(shape, options.device(device_))};
  WaitFor(LaneGroup(lane).process_group->recv(tensors, from, tag), WaitKind::kModel);
  return tensors[0].to(options.device());
}

void TrainerComm::FinishSends() {
  for (auto& [work, tensor] : sends_) WaitFor(work, WaitKind::kModel);
  sends_.clear();
}

}  // namespace galvatron::runtime
