#include "agent/runtime/trainer/export_gather.h"

#include <torch/torch.h>

#include <cstring>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/runtime/export/hf_export.h"
#include "agent/runtime/trainer/param_placement.h"
#include "common/status_macros.h"

namespace galvatron::runtime {
namespace {

// Tags of the export's messages, apart from the pipeline's (2·chunk, 2·chunk + 1).
constexpr int kListLengthTag = 1 << 24;
constexpr int kListTag = kListLengthTag + 1;
constexpr int kWantedTag = kListLengthTag + 2;
constexpr int kValuesTag = kListLengthTag + 3;

// One slice a rank holds.
struct Slice {
  std::string name;
  ParamShard shard;            // name, full shape, dim, start (grad kind unused)
  std::vector<int64_t> shape;  // what the rank holds
  int64_t numel() const {
    int64_t n = 1;
    for (const int64_t d : shape) n *= d;
    return n;
  }
};

// One line per slice: "name dim start ndim full.. ndim local..".
std::string Encode(const std::vector<const Param*>& held) {
  std::ostringstream out;
  for (const Param* p : held) {
    out << p->name << ' ' << p->shard.dim << ' ' << p->shard.start << ' '
        << p->shard.full_shape.size();
    for (const int64_t d : p->shard.full_shape) out << ' ' << d;
    out << ' ' << p->tensor.dim();
    for (const int64_t d : p->tensor.sizes()) out << ' ' << d;
    out << '\n';
  }
  return out.str();
}

absl::StatusOr<std::vector<Slice>> Decode(const std::string& text, int from) {
  std::vector<Slice> slices;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    Slice s;
    size_t full_dims = 0, dims = 0;
    fields >> s.name >> s.shard.dim >> s.shard.start >> full_dims;
    s.shard.full_shape.resize(full_dims);
    for (int64_t& d : s.shard.full_shape) fields >> d;
    fields >> dims;
    s.shape.resize(dims);
    for (int64_t& d : s.shape) fields >> d;
    if (!fields) {
      return absl::DataLossError(absl::StrCat("rank ", from, "'s list of slices: \"", line, "\""));
    }
    slices.push_back(std::move(s));
  }
  return slices;
}

}  // namespace

absl::Status ExportTrained(const std::string& path, const v1::ModelSpec& model, Stage& st,
                           TrainerComm& comm, const Precision& precision) {
  torch::NoGradGuard no_grad;
  for (auto& unit : st.units) unit->Materialize();  // collective over each unit's group
  // The last stage's copy of a table tied across the pipeline is the first
  // stage's (summed and updated alike): sent once, from the first.
  std::vector<const Param*> held;
  for (const Param& p : st.params) {
    if (!(p.tied && !st.first)) held.push_back(&p);
  }
  const int rank = comm.rank();
  absl::Status status = absl::OkStatus();
  FullTensorBuilder full;
  if (rank != 0) {
    const std::string list = Encode(held);
    comm.Send(torch::tensor({static_cast<int64_t>(list.size())}, torch::kInt64), 0, kListLengthTag);
    if (!list.empty()) {
      torch::Tensor bytes = torch::empty({static_cast<int64_t>(list.size())}, torch::kUInt8);
      std::memcpy(bytes.data_ptr(), list.data(), list.size());
      comm.Send(bytes, 0, kListTag);
      torch::Tensor wanted =
          comm.Receive({static_cast<int64_t>(held.size())},
                       torch::TensorOptions().dtype(torch::kUInt8), 0, kWantedTag);
      std::vector<torch::Tensor> values;
      for (size_t i = 0; i < held.size(); ++i) {
        if (wanted[static_cast<int64_t>(i)].item<uint8_t>() != 0) {
          values.push_back(held[i]->tensor.detach().reshape({-1}).to(precision.wire));
        }
      }
      if (!values.empty()) comm.Send(torch::cat(values), 0, kValuesTag);
    }
    comm.FinishSends();
  } else {
    for (const Param* p : held) {
      status.Update(full.Add(p->name, p->shard, p->tensor.detach().cpu()));
    }
    for (int from = 1; from < comm.world() && status.ok(); ++from) {
      const int64_t length =
          comm.Receive({1}, torch::TensorOptions().dtype(torch::kInt64), from, kListLengthTag)
              .item<int64_t>();
      if (length == 0) continue;
      torch::Tensor bytes =
          comm.Receive({length}, torch::TensorOptions().dtype(torch::kUInt8), from, kListTag);
      absl::StatusOr<std::vector<Slice>> slices = Decode(
          std::string(static_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(length)),
          from);
      if (!slices.ok()) {
        status = slices.status();
        break;
      }
      // Wanted: what rank 0 lacks, each (tensor, place) once.
      torch::Tensor wanted = torch::zeros({static_cast<int64_t>(slices->size())}, torch::kUInt8);
      std::set<std::pair<std::string, int64_t>> asked;
      int64_t total = 0;
      for (size_t i = 0; i < slices->size(); ++i) {
        const Slice& s = (*slices)[i];
        if (full.Has(s.name, s.shard) || !asked.emplace(s.name, s.shard.start).second) continue;
        wanted[static_cast<int64_t>(i)] = 1;
        total += s.numel();
      }
      comm.Send(wanted, from, kWantedTag);
      if (total == 0) continue;
      torch::Tensor values =
          comm.Receive({total}, torch::TensorOptions().dtype(precision.wire), from, kValuesTag);
      int64_t offset = 0;
      for (size_t i = 0; i < slices->size() && status.ok(); ++i) {
        if (wanted[static_cast<int64_t>(i)].item<uint8_t>() == 0) continue;
        const Slice& s = (*slices)[i];
        torch::Tensor slice =
            values.narrow(0, offset, s.numel()).view(s.shape).to(precision.compute);
        offset += s.numel();
        status.Update(full.Add(s.name, s.shard, slice));
      }
    }
    comm.FinishSends();
  }
  for (auto& unit : st.units) unit->Release();
  RETURN_IF_ERROR(status);
  if (rank != 0) return absl::OkStatus();
  ASSIGN_OR_RETURN(const auto tensors, full.Finish());
  return ExportHuggingFace(path, model, tensors, precision.compute).status();
}

}  // namespace galvatron::runtime
