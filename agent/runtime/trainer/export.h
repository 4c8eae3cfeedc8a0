// `galvatron-worker export`: a sharded checkpoint of a training run (see
// checkpoint_io.h: ROOT/step-N/rank-R.pt, ROOT/latest) as one safetensors
// file with Hugging Face's names and layouts (agent/runtime/export). One
// process reads every rank's shard, places each slice where the run's plan
// put it (param_placement.h: tensor-parallel slices, vocab-parallel rows,
// ZeRO-3 flat slices, pipeline stages) and writes whole tensors.
// Train's --export-out does the same at the end of a run, gathering the
// slices over the process group instead (export_gather.h).
//
// No LibTorch in this header (the worker's main includes it).
// Thread model: one call per process.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace galvatron::runtime {

struct ExportOptions {
  std::string checkpoint;  // the run's --checkpoint-dir
  int64_t step = 0;        // 0: the latest complete step
  std::string plan;        // the plan the run trained with
  std::string model;       // ModelSpec JSON file or catalog name
  std::string out;         // the safetensors file to write
  // float64, float32, bfloat16 or float16; empty: the parameters' dtype as
  // trained (a bf16 run whose every parameter is ZeRO-3-sharded kept only
  // its float32 masters: float32).
  std::string dtype;
  std::string config_out;  // also write transformers' config.json here
};

// UNIMPLEMENTED for a model export cannot map (CheckExportable);
// INVALID_ARGUMENT for a bad option or a plan that does not fit the model or
// the checkpoint's ranks; NOT_FOUND for a missing step; DATA_LOSS for a
// shard that is missing, unreadable or of another shape than the plan says;
// UNAVAILABLE when the file cannot be written.
absl::Status RunExport(const ExportOptions& options);

}  // namespace galvatron::runtime
