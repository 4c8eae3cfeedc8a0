// Train's --export-out: at the end of a run, every rank's parameter slices
// go to rank 0 over the world group (no shared filesystem is assumed), and
// rank 0 writes them as one safetensors file with Hugging Face's names
// (agent/runtime/export).
//
// Each rank sends rank 0 the list of the slices it holds (name, place in the
// full tensor, shape); rank 0 answers which of them it still lacks (replicas
// over data parallelism, whole tensors over tensor parallelism and the tied
// table's second copy are sent once), and the rank sends those values.
//
// Thread model: the training thread; collective (every rank calls it at the
// same point: ZeRO-3 units are gathered, then the messages go rank by rank).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "agent/runtime/trainer/stage.h"
#include "agent/runtime/trainer/trainer_comm.h"
#include "galvatron/v1/model.pb.h"

namespace galvatron::runtime {

// Rank 0 writes `path`; the others send. Statuses as ExportHuggingFace's
// (rank 0) and DATA_LOSS when the ranks' slices do not make whole tensors.
absl::Status ExportTrained(const std::string& path, const v1::ModelSpec& model, Stage& stage,
                           TrainerComm& comm, const Precision& precision);

}  // namespace galvatron::runtime
