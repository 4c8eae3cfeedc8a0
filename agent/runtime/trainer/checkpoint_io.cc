#include "agent/runtime/trainer/checkpoint_io.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/json_file.h"
#include "common/status_macros.h"

namespace galvatron::runtime {
namespace {

namespace fs = std::filesystem;

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

}  // namespace

bool CheckpointDue(const TrainOptions& o, int64_t step) {
  if (o.checkpoint_dir.empty()) return false;
  const bool last = step == o.steps || (o.stop_after > 0 && step == o.stop_after);
  return last || (o.checkpoint_every > 0 && step % o.checkpoint_every == 0);
}

absl::Status SaveCheckpoint(const std::string& root, int64_t step, int rank, TrainerComm& comm,
                            Stage& st, torch::optim::AdamW& optimizer,
                            const DynamicLossScaler* scaler) {
  const std::string dir = StepDir(root, step);
  std::error_code error;
  fs::create_directories(dir, error);
  if (error)
    return absl::UnavailableError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  try {
    torch::serialize::OutputArchive params;
    for (auto& [name, tensor] : CheckpointTensors(st)) params.write(name, tensor.detach().cpu());
    params.save_to(absl::StrCat(dir, "/rank-", rank, ".pt"));
    torch::serialize::OutputArchive states;
    optimizer.save(states);
    states.save_to(absl::StrCat(dir, "/rank-", rank, ".optim.pt"));
  } catch (const c10::Error& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot write the checkpoint in ", dir, ": ", e.what_without_backtrace()));
  }
  if (scaler != nullptr) {
    RETURN_IF_ERROR(
        WriteTextFile(absl::StrCat(dir, "/rank-", rank, ".scaler"), scaler->Serialize() + "\n"));
  }
  RETURN_IF_ERROR(WriteTextFile(absl::StrCat(dir, "/rank-", rank, ".done"), ""));
  comm.Barrier();  // every shard is on disk before the checkpoint counts
  if (rank == 0) {
    RETURN_IF_ERROR(WriteTextFile((fs::path(root) / "latest").string(), absl::StrCat(step, "\n")));
  }
  comm.Barrier();
  return absl::OkStatus();
}

absl::StatusOr<int64_t> LoadCheckpoint(const std::string& root, int64_t step, int rank, Stage& st,
                                       torch::optim::AdamW& optimizer, DynamicLossScaler* scaler) {
  if (step <= 0) {
    ASSIGN_OR_RETURN(std::string latest, ReadTextFile((fs::path(root) / "latest").string()));
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(latest), &step) || step < 1) {
      return absl::DataLossError(absl::StrCat(root, "/latest: \"", latest, "\" is not a step"));
    }
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
  if (scaler != nullptr) {
    const std::string path = absl::StrCat(dir, "/rank-", rank, ".scaler");
    absl::StatusOr<std::string> state = ReadTextFile(path);
    if (!state.ok()) {
      return absl::DataLossError(absl::StrCat(
          path, ": missing (was the checkpoint written without --loss-scaling dynamic?)"));
    }
    absl::Status restored = scaler->Restore(std::string(absl::StripAsciiWhitespace(*state)), path);
    if (!restored.ok()) return absl::DataLossError(restored.message());
  }
  return step;
}

absl::Status DumpParameters(const std::string& dump_path, int world, int rank, Stage& st) {
  const std::string path = world == 1 ? dump_path : absl::StrCat(dump_path, ".rank-", rank);
  std::ofstream out(path, std::ios::trunc);
  for (auto& unit : st.units) unit->Materialize();
  for (const Param& p : st.params) {
    torch::Tensor flat =
        p.tensor.detach().to(torch::kCPU, torch::kFloat64).reshape({-1}).contiguous();
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

}  // namespace galvatron::runtime
