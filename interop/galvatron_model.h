// Galvatron's model profiles (computation_profiling_*.json and
// memory_profiling_*.json, Galvatron 3.0 format) → our ComputeProfiles,
// following docs/galvatron-mapping.md:
//   layertype_{i}_bsz{b}_seq{s}             → time_samples / forward_fit of layer type i
//   layertype_other_bsz{b}_seq{s}           → the same of the embedding/head
//   layertype_{i}[_sp][seq].parameter_size  → parameter_bytes
//   ...tp_activation_per_bsz_dict           → activations
//   other_memory_pp_{off,on_first,on_last}[_sp][seq] → the embedding/head's other_memory
// Layer type i is the spec's i-th distinct LayerTypeKey in model order.
// Thread-safe: pure functions.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "galvatron/v1/compute.pb.h"
#include "galvatron/v1/model.pb.h"

namespace galvatron::interop {

// Galvatron's time_profile_mode: how the per-sample forward time is modelled.
enum class GalvatronTimeProfileMode {
  kStatic,    // one profiled value t: time = t per sample
  kBatch,     // least squares over batch sizes of t(b)·b = m·b + c
  kSequence,  // least squares over sequence lengths at batch 1 (quadratic for layers)
};

// Galvatron's memory_profile_mode.
enum class GalvatronMemoryProfileMode {
  kStatic,    // the profiled numbers at the target sequence length
  kSequence,  // activations of the longest profiled sequence, scaled linearly
};

// "static" | "batch" | "sequence" (Galvatron's spelling).
absl::StatusOr<GalvatronTimeProfileMode> ParseGalvatronTimeProfileMode(absl::string_view text);
absl::StatusOr<GalvatronMemoryProfileMode> ParseGalvatronMemoryProfileMode(absl::string_view text);

// Galvatron's file names, e.g. computation_profiling_bf16_llama2-7b_all.json.
std::string GalvatronComputationProfileFileName(absl::string_view precision,
                                                absl::string_view model);
std::string GalvatronMemoryProfileFileName(absl::string_view precision, absl::string_view model);

struct GalvatronModelFiles {
  std::string computation_profile_path;
  std::string memory_profile_path;
  // The model the files were profiled for. Its distinct layer types, in model
  // order, are Galvatron's layertype_0, layertype_1, ...
  v1::ModelSpec spec;
  std::string cluster;  // our cluster name for the profiles (required)
  // Target sequence length; 0 = the spec's. Overrides the spec's seq_len
  // (groups with their own seq_len keep it), so the layer-type keys carry it.
  int seq_len = 0;
  // Galvatron's defaults (GalvatronSearchArgs.profiling_info): static, static.
  GalvatronTimeProfileMode time_profile_mode = GalvatronTimeProfileMode::kStatic;
  GalvatronMemoryProfileMode memory_profile_mode = GalvatronMemoryProfileMode::kStatic;
  // Read the `_sp` memory tables (Galvatron's sequence_parallel). Unset: the
  // `_sp` tables when the file has them, else the plain ones.
  std::optional<bool> sequence_parallel;
};

// One ComputeProfile per distinct layer type of the spec (in model order),
// then one for the embedding/head (EmbeddingTypeKey), each with source
// PROFILE_SOURCE_GALVATRON_IMPORT and passing ValidateComputeProfile.
//
// Time (seconds): time_samples hold every positive profiled value,
// forward_seconds = value·b/1000 (a zero "other" time, which Galvatron's
// max(0, ·) produces, cannot be a sample and is left out). forward_fit:
//   static   → per_sample_s0 = t/1000 (t: the first value in file order at the
//              target sequence length, as Galvatron takes the first);
//   batch    → per_sample_s0 = m/1000, constant = c/1000 (needs >= 8 batch sizes
//              at the target sequence, as Galvatron asserts);
//   sequence → layer: per_sample_s2/s1/s0 = the quadratic's a, b, c over the
//              bsz-1 values / 1000; embedding/head: s1, s0 of the line.
// Memory: parameter_bytes = parameter_size·2^20, parameter_count = bytes/4;
// activations[] per tp degree (sp MEGATRON for `_sp` tables, else NONE) with
// checkpoint_bytes_per_sample from the "checkpoint" entry; the embedding's
// other_memory[] per position (OFF/FIRST/LAST) and vocab-tp degree.
//
// Errors name the file and key: NOT_FOUND for a missing file, INVALID_ARGUMENT
// for malformed content or a layer type the spec does not have (Galvatron 2.x
// formats without _bsz/_seq keys are refused), FAILED_PRECONDITION when the
// data do not support the mode (too few batch sizes or sequence lengths, no
// data at the target sequence length, sequence memory mode without SP or with
// more than one layer type).
absl::StatusOr<std::vector<v1::ComputeProfile>> ReadGalvatronModelProfiles(
    const GalvatronModelFiles& files);

// The same from the files' contents; the paths in `files` only name the
// inputs in errors.
absl::StatusOr<std::vector<v1::ComputeProfile>> ParseGalvatronModelProfiles(
    const std::string& computation_json, const std::string& memory_json,
    const GalvatronModelFiles& files);

// The inverse: Galvatron 3.0 computation and memory profile files for `spec`
// from our profiles of its layer types and embedding/head (matched by
// LayerTypeKey / EmbeddingTypeKey; extra profiles are ignored), so that
// Galvatron's own search engine can plan from what our profiler measured:
//   layertype_{i}_bsz{b}_seq{s}        ← each time sample at the type's
//                                        sequence length, forward ms per sample
//   layertype_other_bsz{b}_seq{s,...}  ← the embedding/head's, keyed by every
//                                        type's length (Galvatron's num2str)
//   layertype_{i}[_sp].{s}             ← parameter_size (MB) and
//                                        tp_activation_per_bsz_dict per tp
//                                        degree (NONE, or MEGATRON for _sp),
//                                        "checkpoint" from tp 1
//   other_memory_pp_{off,on_first,on_last}[_sp].{s,...} ← other_memory
// The `_sp` tables are written when every profile has Megatron-SP
// activations (T5, ViT and Swin profiles have none). A profile without time
// samples at its length contributes its fit at one sample (bsz1). NOT_FOUND
// naming the key of a missing profile; FAILED_PRECONDITION naming what a
// profile lacks (activations at tp 1, other_memory).
struct GalvatronModelJson {
  std::string computation;  // GalvatronComputationProfileFileName's content
  std::string memory;       // GalvatronMemoryProfileFileName's content
};
absl::StatusOr<GalvatronModelJson> FormatGalvatronModelProfiles(
    const v1::ModelSpec& spec, const std::vector<v1::ComputeProfile>& profiles);

// FormatGalvatronModelProfiles written into `dir` (created if missing) under
// Galvatron's file names for the spec's precision (bf16, fp16, fp32, fp64)
// and name. Returns the two paths written, computation first. Errors as
// FormatGalvatronModelProfiles', or naming the file that could not be
// written.
absl::StatusOr<std::pair<std::string, std::string>> WriteGalvatronModelProfiles(
    const v1::ModelSpec& spec, const std::vector<v1::ComputeProfile>& profiles,
    const std::string& dir);

}  // namespace galvatron::interop
