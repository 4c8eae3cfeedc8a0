#include "interop/galvatron_model.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/json_file.h"
#include "common/layer_type.h"
#include "common/least_squares.h"
#include "common/model_validation.h"
#include "common/profile_validation.h"
#include "common/status_macros.h"
#include "interop/galvatron_json.h"

namespace galvatron::interop {
namespace {

using internal::Json;
using internal::kMsPerSecond;

constexpr char kMeasuredBy[] = "Galvatron model profiler (imported)";
// get_profiled_model_configs asserts at least 8 batch sizes in batch mode.
constexpr int kMinBatchSizes = 8;
constexpr int kOtherType = -1;  // the embedding/head's series

// A distinct layer type of the spec and the sequence length it runs at.
struct LayerType {
  std::string key;
  int seq = 0;
};

std::vector<LayerType> DistinctLayerTypes(const v1::ModelSpec& spec) {
  std::vector<LayerType> types;
  std::set<std::string> seen;
  for (int g = 0; g < spec.layers_size(); ++g) {
    std::string key = LayerTypeKey(spec, g);
    if (!seen.insert(key).second) continue;
    const int seq = spec.layers(g).seq_len() != 0 ? spec.layers(g).seq_len() : spec.seq_len();
    types.push_back({std::move(key), seq});
  }
  return types;
}

// ---------------------------------------------------------------- time ----

// One processed value of the computation profile: forward ms per sample (per
// layer for layer types).
struct TimePoint {
  int bsz = 0;
  std::vector<int> seqs;  // one per layer type for "other" keys of multi-type models
  double ms = 0;
};

// The seq part of a key: "seq2048" or, for "other" keys of models with several
// layer types, "seq512_512" (Galvatron's num2str).
bool ParseSeqs(absl::string_view text, std::vector<int>* seqs) {
  if (!absl::ConsumePrefix(&text, "seq")) return false;
  seqs->clear();
  for (absl::string_view part : absl::StrSplit(text, '_')) {
    int v = 0;
    if (!internal::ParseDecimal(part, &v) || v < 1) return false;
    seqs->push_back(v);
  }
  return !seqs->empty();
}

// Series by layer type (kOtherType for the embedding/head), in file order.
absl::StatusOr<std::map<int, std::vector<TimePoint>>> ParseComputation(const Json& json,
                                                                       const std::string& what) {
  std::map<int, std::vector<TimePoint>> series;
  for (const auto& [key, value] : json.items()) {
    // Raw measurements (layernum[2]_bsz8_seq2048, layernum2_bsz8_seq2048,
    // layernum2_4_bsz8_seq2048) are what the processed keys were derived from.
    if (absl::StartsWith(key, "layernum")) continue;
    const std::vector<std::string> parts = absl::StrSplit(key, absl::MaxSplits('_', 3));
    // layertype_{i|other}_bsz{b}_seq{s}[_{s}...]
    TimePoint p;
    int type = 0;
    absl::string_view bsz = parts.size() == 4 ? absl::string_view(parts[2]) : "";
    const bool ok = parts.size() == 4 && parts[0] == "layertype" &&
                    (parts[1] == "other" || internal::ParseDecimal(parts[1], &type)) &&
                    absl::ConsumePrefix(&bsz, "bsz") && internal::ParseDecimal(bsz, &p.bsz) &&
                    p.bsz >= 1 && ParseSeqs(parts[3], &p.seqs) &&
                    (parts[1] == "other" || p.seqs.size() == 1);
    if (!ok) {
      if (absl::StartsWith(key, "layertype_")) {
        return absl::InvalidArgumentError(absl::StrCat(
            what, ": key \"", key,
            "\" is not layertype_{i|other}_bsz{b}_seq{s} (Galvatron 2.x profiles without "
            "_bsz/_seq keys are not supported: re-profile with Galvatron 3.0)"));
      }
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": key \"", key,
          "\" is neither a processed layertype_{i|other}_bsz{b}_seq{s} nor a raw layernum* key"));
    }
    ASSIGN_OR_RETURN(p.ms, internal::NumberValue(value, key, what));
    series[parts[1] == "other" ? kOtherType : type].push_back(std::move(p));
  }
  return series;
}

std::string SeqText(const std::vector<int>& seqs) { return absl::StrJoin(seqs, "_"); }

std::string SeriesName(int type) {
  return type == kOtherType ? "layertype_other" : absl::StrCat("layertype_", type);
}

// Distinct profiled sequence lengths of a series, for error messages.
std::string ProfiledSeqs(const std::vector<TimePoint>& points) {
  std::set<std::string> seqs;
  for (const TimePoint& p : points) seqs.insert(SeqText(p.seqs));
  return seqs.empty() ? "none" : absl::StrJoin(seqs, ", ");
}

// forward_fit of one series according to the time profile mode (see header).
absl::StatusOr<v1::LayerTimeFit> FitSeries(const std::vector<TimePoint>& points, int type,
                                           const std::vector<int>& target_seqs,
                                           GalvatronTimeProfileMode mode, const std::string& what) {
  v1::LayerTimeFit fit;
  const std::string name = SeriesName(type);
  if (mode == GalvatronTimeProfileMode::kSequence) {
    std::vector<FitPoint> xy;
    for (const TimePoint& p : points) {
      if (p.bsz != 1) continue;
      if (p.seqs.size() != 1) {
        return absl::FailedPreconditionError(
            absl::StrCat(what, ": sequence time_profile_mode supports one layer type only (", name,
                         " is keyed by ", p.seqs.size(), " sequence lengths)"));
      }
      xy.push_back({static_cast<double>(p.seqs[0]), p.ms});
    }
    std::set<double> distinct;
    for (const FitPoint& f : xy) distinct.insert(f.x);
    const size_t needed = type == kOtherType ? 2 : 3;
    if (distinct.size() < needed) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, ": sequence time_profile_mode fits ", name, " over the bsz1 keys and needs ",
          needed, " sequence lengths, found ", distinct.size()));
    }
    if (type == kOtherType) {
      const AlphaBetaFit line = FitAlphaBeta(xy);  // t = m·s + c
      fit.set_per_sample_s1(line.beta / kMsPerSecond);
      fit.set_per_sample_s0(line.alpha / kMsPerSecond);
    } else {
      const QuadraticFit q = FitQuadratic(xy);  // t = a·s² + b·s + c
      fit.set_per_sample_s2(q.a / kMsPerSecond);
      fit.set_per_sample_s1(q.b / kMsPerSecond);
      fit.set_per_sample_s0(q.c / kMsPerSecond);
    }
    return fit;
  }

  std::vector<const TimePoint*> at_seq;
  for (const TimePoint& p : points) {
    if (p.seqs == target_seqs) at_seq.push_back(&p);
  }
  if (at_seq.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": no ", name, "_bsz{b}_seq", SeqText(target_seqs),
                     " key for the target sequence length (profiled: ", ProfiledSeqs(points), ")"));
  }
  if (mode == GalvatronTimeProfileMode::kStatic) {
    fit.set_per_sample_s0(at_seq.front()->ms / kMsPerSecond);
    return fit;
  }
  // Batch: y = t(b)·b = m·b + c over the batch sizes.
  std::vector<FitPoint> xy;
  for (const TimePoint* p : at_seq) xy.push_back({static_cast<double>(p->bsz), p->ms * p->bsz});
  if (static_cast<int>(xy.size()) < kMinBatchSizes) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": batch time_profile_mode needs at least ", kMinBatchSizes, " batch sizes of ", name,
        " at seq ", SeqText(target_seqs), ", found ", xy.size(),
        " (Galvatron asserts the same); profile more batch sizes or use static mode"));
  }
  const AlphaBetaFit line = FitAlphaBeta(xy);
  fit.set_per_sample_s0(line.beta / kMsPerSecond);
  fit.set_constant(line.alpha / kMsPerSecond);
  return fit;
}

// time_samples and forward_fit of one profile.
absl::Status FillTime(const std::vector<TimePoint>& points, int type,
                      const std::vector<int>& target_seqs, GalvatronTimeProfileMode mode,
                      const std::string& what, v1::ComputeProfile* profile) {
  if (points.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": no ", SeriesName(type), "_bsz{b}_seq{s} keys"));
  }
  std::vector<v1::LayerTimeSample> samples;
  for (const TimePoint& p : points) {
    if (!(p.ms > 0)) continue;
    v1::LayerTimeSample s;
    s.set_micro_batch(p.bsz);
    s.set_seq_len(p.seqs.front());
    s.set_forward_seconds(p.ms * p.bsz / kMsPerSecond);
    samples.push_back(std::move(s));
  }
  // Galvatron clamps the embedding/head time at 0 (max(0, ·)): 0 is
  // possible there, a negative time is not.
  for (const TimePoint& p : points) {
    if (type == kOtherType && p.ms < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": key \"", SeriesName(type), "_bsz", p.bsz, "_seq", SeqText(p.seqs),
                       "\": ", p.ms, " ms, must be >= 0 (Galvatron writes max(0, time))"));
    }
  }
  if (samples.empty() && type != kOtherType) {
    // A layer's times are differences of measurements, so one may come out
    // <= 0 and is left out; a layer without a time > 0 takes no time at all.
    const TimePoint& p = points.front();
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": every ", SeriesName(type), "_bsz{b}_seq{s} time is <= 0 (\"",
                     SeriesName(type), "_bsz", p.bsz, "_seq", SeqText(p.seqs), "\": ", p.ms,
                     " ms); a layer's time must be > 0: profile the model again"));
  }
  std::stable_sort(samples.begin(), samples.end(), [](const auto& a, const auto& b) {
    return std::make_pair(a.seq_len(), a.micro_batch()) <
           std::make_pair(b.seq_len(), b.micro_batch());
  });
  for (v1::LayerTimeSample& s : samples) *profile->add_time_samples() = std::move(s);
  ASSIGN_OR_RETURN(*profile->mutable_forward_fit(),
                   FitSeries(points, type, target_seqs, mode, what));
  return absl::OkStatus();
}

// -------------------------------------------------------------- memory ----

absl::StatusOr<const Json*> ObjectAt(const Json& obj, const std::string& key,
                                     const std::string& what, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": missing key \"", path, key, "\""));
  }
  if (!it->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": key \"", path, key, "\" must be an object, not ", it->type_name()));
  }
  return &*it;
}

absl::StatusOr<double> NonNegativeMb(const Json& obj, const std::string& key,
                                     const std::string& what, const std::string& path) {
  ASSIGN_OR_RETURN(double mb, internal::NumberAt(obj, key, what));
  if (mb < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": key \"", path, key, "\" must be >= 0 MB, not ", mb));
  }
  return mb;
}

// A map keyed by parallel degrees ("1", "2", ...) of MB values. The
// activation table's "checkpoint" entry is skipped when `skip_checkpoint`.
absl::StatusOr<std::map<int, double>> DegreeMap(const Json& obj, const std::string& what,
                                                const std::string& path,
                                                bool skip_checkpoint = false) {
  std::map<int, double> out;
  for (const auto& [key, value] : obj.items()) {
    if (skip_checkpoint && key == "checkpoint") continue;
    int degree = 0;
    if (!internal::ParseDecimal(key, &degree) || degree < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": key \"", path, key, "\" is not a parallel degree"));
    }
    ASSIGN_OR_RETURN(out[degree], NonNegativeMb(obj, key, what, path));
  }
  return out;
}

// The profiled sequence lengths (keys) of a seq-keyed table such as
// "layertype_0_sp", ascending.
absl::StatusOr<std::vector<int>> TableSeqs(const Json& table, const std::string& what,
                                           const std::string& name) {
  std::vector<int> seqs;
  for (const auto& [key, value] : table.items()) {
    int seq = 0;
    if (!internal::ParseDecimal(key, &seq) || seq < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": key \"", name, ".", key, "\" is not a sequence length"));
    }
    seqs.push_back(seq);
  }
  if (seqs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": \"", name, "\" is empty"));
  }
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

// The entry of a seq-keyed table for `seq_key`.
absl::StatusOr<const Json*> SeqEntry(const Json& memory, const std::string& name,
                                     const std::string& seq_key, const std::string& what) {
  ASSIGN_OR_RETURN(const Json* table, ObjectAt(memory, name, what, ""));
  if (table->find(seq_key) == table->end()) {
    std::vector<std::string> keys;
    for (const auto& item : table->items()) keys.push_back(item.key());
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": no \"", name, ".", seq_key, "\" for the target sequence length (profiled: ",
        keys.empty() ? "none" : absl::StrJoin(keys, ", "), ")"));
  }
  return ObjectAt(*table, seq_key, what, name + ".");
}

struct MemoryOptions {
  bool sp = false;
  GalvatronMemoryProfileMode mode = GalvatronMemoryProfileMode::kStatic;
};

// parameter_* and activations[] of layer type i.
absl::Status FillLayerMemory(const Json& memory, int type, int seq, const MemoryOptions& opt,
                             const std::string& what, v1::ComputeProfile* profile) {
  const std::string name = absl::StrCat("layertype_", type, opt.sp ? "_sp" : "");
  // Static: everything at the target seq. Sequence: the parameters of the
  // shortest profiled seq, the activations of the longest scaled by
  // target / longest (get_profiled_model_configs).
  std::string param_seq = absl::StrCat(seq), act_seq = param_seq;
  double scale = 1;
  if (opt.mode == GalvatronMemoryProfileMode::kSequence) {
    ASSIGN_OR_RETURN(const Json* table, ObjectAt(memory, name, what, ""));
    ASSIGN_OR_RETURN(std::vector<int> seqs, TableSeqs(*table, what, name));
    param_seq = absl::StrCat(seqs.front());
    act_seq = absl::StrCat(seqs.back());
    scale = static_cast<double>(seq) / seqs.back();
  }
  ASSIGN_OR_RETURN(const Json* param_entry, SeqEntry(memory, name, param_seq, what));
  ASSIGN_OR_RETURN(const Json* act_entry, SeqEntry(memory, name, act_seq, what));
  ASSIGN_OR_RETURN(double param_mb, NonNegativeMb(*param_entry, "parameter_size", what,
                                                  absl::StrCat(name, ".", param_seq, ".")));
  const int64_t param_bytes = internal::MbToBytes(param_mb);
  profile->set_parameter_bytes(param_bytes);
  profile->set_parameter_count(param_bytes / 4);  // fp32 parameters

  const std::string entry_path = absl::StrCat(name, ".", act_seq, ".");
  ASSIGN_OR_RETURN(const Json* acts,
                   ObjectAt(*act_entry, "tp_activation_per_bsz_dict", what, entry_path));
  const std::string act_path = entry_path + "tp_activation_per_bsz_dict.";
  ASSIGN_OR_RETURN(double ckpt_mb, NonNegativeMb(*acts, "checkpoint", what, act_path));
  ASSIGN_OR_RETURN(auto by_tp, DegreeMap(*acts, what, act_path, /*skip_checkpoint=*/true));
  if (by_tp.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": \"", act_path, "\" has no tensor-parallel degrees"));
  }
  for (const auto& [tp, mb] : by_tp) {
    v1::ActivationMemory* a = profile->add_activations();
    a->set_tp_degree(tp);
    a->set_sp(opt.sp ? v1::SEQUENCE_PARALLEL_MEGATRON : v1::SEQUENCE_PARALLEL_NONE);
    a->set_seq_len(seq);
    a->set_bytes_per_sample(internal::MbToBytes(mb * scale));
    a->set_checkpoint_bytes_per_sample(internal::MbToBytes(ckpt_mb * scale));
  }
  return absl::OkStatus();
}

// The embedding/head's other_memory[] from other_memory_pp_{off,on_first,on_last}.
absl::Status FillOtherMemory(const Json& memory, const std::vector<LayerType>& types,
                             const MemoryOptions& opt, const std::string& what,
                             v1::ComputeProfile* profile) {
  const std::string suffix = opt.sp ? "_sp" : "";
  std::string seq_key;
  double scale = 1;
  const int seq = types.front().seq;
  if (opt.mode == GalvatronMemoryProfileMode::kStatic) {
    // Galvatron keys it by num2str(seqlen_list): "2048", or "512_512" for two types.
    std::vector<int> seqs;
    for (const LayerType& t : types) seqs.push_back(t.seq);
    seq_key = SeqText(seqs);
  } else {
    const std::string name = "other_memory_pp_off" + suffix;
    ASSIGN_OR_RETURN(const Json* table, ObjectAt(memory, name, what, ""));
    ASSIGN_OR_RETURN(std::vector<int> seqs, TableSeqs(*table, what, name));
    seq_key = absl::StrCat(seqs.back());
    scale = static_cast<double>(seq) / seqs.back();
  }
  const std::pair<const char*, v1::PipelinePosition> positions[] = {
      {"other_memory_pp_off", v1::PIPELINE_POSITION_OFF},
      {"other_memory_pp_on_first", v1::PIPELINE_POSITION_FIRST},
      {"other_memory_pp_on_last", v1::PIPELINE_POSITION_LAST},
  };
  for (const auto& [base, position] : positions) {
    const std::string name = base + suffix;
    ASSIGN_OR_RETURN(const Json* entry, SeqEntry(memory, name, seq_key, what));
    const std::string path = absl::StrCat(name, ".", seq_key, ".");
    ASSIGN_OR_RETURN(const Json* states, ObjectAt(*entry, "model_states", what, path));
    ASSIGN_OR_RETURN(const Json* acts, ObjectAt(*entry, "activation", what, path));
    ASSIGN_OR_RETURN(auto states_mb, DegreeMap(*states, what, path + "model_states."));
    ASSIGN_OR_RETURN(auto acts_mb, DegreeMap(*acts, what, path + "activation."));
    for (const auto& [vtp, mb] : states_mb) {
      if (acts_mb.count(vtp) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": missing key \"", path, "activation.", vtp, "\""));
      }
    }
    for (const auto& [vtp, mb] : acts_mb) {
      if (states_mb.count(vtp) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": missing key \"", path, "model_states.", vtp, "\""));
      }
      v1::OtherLayersMemory* m = profile->add_other_memory();
      m->set_position(position);
      m->set_vocab_tp_degree(vtp);
      m->set_seq_len(seq);
      m->set_model_state_bytes(internal::MbToBytes(states_mb[vtp]));
      m->set_activation_bytes_per_sample(internal::MbToBytes(mb * scale));
    }
  }
  return absl::OkStatus();
}

// Checks that the files describe no more layer types than the spec has.
absl::Status CheckLayerTypeCount(const std::map<int, std::vector<TimePoint>>& series,
                                 const Json& memory, int num_types,
                                 const GalvatronModelFiles& files) {
  for (const auto& [type, points] : series) {
    if (type >= num_types) {
      return absl::InvalidArgumentError(absl::StrCat(
          files.computation_profile_path, ": has layertype_", type, " keys but model \"",
          files.spec.name(), "\" has ", num_types, " distinct layer type(s)"));
    }
  }
  for (const auto& [key, value] : memory.items()) {
    std::vector<std::string> parts = absl::StrSplit(key, '_');
    int type = 0;
    if (parts.size() >= 2 && parts[0] == "layertype" && internal::ParseDecimal(parts[1], &type) &&
        type >= num_types) {
      return absl::InvalidArgumentError(
          absl::StrCat(files.memory_profile_path, ": has key \"", key, "\" but model \"",
                       files.spec.name(), "\" has ", num_types, " distinct layer type(s)"));
    }
  }
  return absl::OkStatus();
}

v1::ComputeProfile NewProfile(const std::string& layer_type, const v1::ModelSpec& spec,
                              const std::string& cluster) {
  v1::ComputeProfile p;
  p.set_layer_type(layer_type);
  p.set_cluster(cluster);
  p.set_model(spec.name());
  p.set_precision(spec.precision());
  p.set_source(v1::PROFILE_SOURCE_GALVATRON_IMPORT);
  p.set_measured_by(kMeasuredBy);
  return p;
}

}  // namespace

absl::StatusOr<GalvatronTimeProfileMode> ParseGalvatronTimeProfileMode(absl::string_view text) {
  if (text == "static") return GalvatronTimeProfileMode::kStatic;
  if (text == "batch") return GalvatronTimeProfileMode::kBatch;
  if (text == "sequence") return GalvatronTimeProfileMode::kSequence;
  return absl::InvalidArgumentError(
      absl::StrCat("time_profile_mode: \"", text, "\", must be static, batch or sequence"));
}

absl::StatusOr<GalvatronMemoryProfileMode> ParseGalvatronMemoryProfileMode(absl::string_view text) {
  if (text == "static") return GalvatronMemoryProfileMode::kStatic;
  if (text == "sequence") return GalvatronMemoryProfileMode::kSequence;
  return absl::InvalidArgumentError(
      absl::StrCat("memory_profile_mode: \"", text, "\", must be static or sequence"));
}

std::string GalvatronComputationProfileFileName(absl::string_view precision,
                                                absl::string_view model) {
  return absl::StrCat("computation_profiling_", precision, "_", model, "_all.json");
}

std::string GalvatronMemoryProfileFileName(absl::string_view precision, absl::string_view model) {
  return absl::StrCat("memory_profiling_", precision, "_", model, "_all.json");
}

absl::StatusOr<std::vector<v1::ComputeProfile>> ParseGalvatronModelProfiles(
    const std::string& computation_json, const std::string& memory_json,
    const GalvatronModelFiles& files) {
  if (files.seq_len < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("seq_len: ", files.seq_len, ", must be >= 0 (0: the spec's)"));
  }
  v1::ModelSpec spec = files.spec;
  if (files.seq_len > 0) spec.set_seq_len(files.seq_len);
  RETURN_IF_ERROR(ValidateModelSpec(spec));
  const std::vector<LayerType> types = DistinctLayerTypes(spec);
  const std::string& time_what = files.computation_profile_path;
  const std::string& mem_what = files.memory_profile_path;

  ASSIGN_OR_RETURN(Json computation, internal::ParseJsonObject(computation_json, time_what));
  ASSIGN_OR_RETURN(Json memory, internal::ParseJsonObject(memory_json, mem_what));
  ASSIGN_OR_RETURN(auto series, ParseComputation(computation, time_what));
  RETURN_IF_ERROR(CheckLayerTypeCount(series, memory, static_cast<int>(types.size()), files));

  MemoryOptions mem;
  mem.mode = files.memory_profile_mode;
  mem.sp = files.sequence_parallel.has_value() ? *files.sequence_parallel
                                               : memory.find("layertype_0_sp") != memory.end();
  if (mem.mode == GalvatronMemoryProfileMode::kSequence) {
    if (!mem.sp) {
      return absl::FailedPreconditionError(
          absl::StrCat(mem_what,
                       ": sequence memory_profile_mode needs the sequence-parallel "
                       "(_sp) tables (Galvatron asserts sequence_parallel)"));
    }
    if (types.size() != 1) {
      return absl::FailedPreconditionError(
          absl::StrCat(mem_what, ": sequence memory_profile_mode supports one layer type, model \"",
                       spec.name(), "\" has ", types.size()));
    }
  }

  std::vector<v1::ComputeProfile> profiles;
  std::vector<int> all_seqs;
  for (int i = 0; i < static_cast<int>(types.size()); ++i) {
    all_seqs.push_back(types[i].seq);
    v1::ComputeProfile p = NewProfile(types[i].key, spec, files.cluster);
    RETURN_IF_ERROR(FillTime(series[i], i, {types[i].seq}, files.time_profile_mode, time_what, &p));
    RETURN_IF_ERROR(FillLayerMemory(memory, i, types[i].seq, mem, mem_what, &p));
    profiles.push_back(std::move(p));
  }
  v1::ComputeProfile head = NewProfile(EmbeddingTypeKey(spec), spec, files.cluster);
  RETURN_IF_ERROR(FillTime(series[kOtherType], kOtherType, all_seqs, files.time_profile_mode,
                           time_what, &head));
  RETURN_IF_ERROR(FillOtherMemory(memory, types, mem, mem_what, &head));
  profiles.push_back(std::move(head));

  for (const v1::ComputeProfile& p : profiles) {
    absl::Status s = ValidateComputeProfile(p);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("imported profile of ", p.layer_type(), " is invalid: ", s.message()));
    }
  }
  return profiles;
}

namespace {

// The profile of `key`, or NOT_FOUND naming it.
absl::StatusOr<const v1::ComputeProfile*> ProfileOf(const std::vector<v1::ComputeProfile>& profiles,
                                                    const std::string& key,
                                                    const v1::ModelSpec& spec) {
  for (const v1::ComputeProfile& p : profiles) {
    if (p.layer_type() == key) return &p;
  }
  return absl::NotFoundError(
      absl::StrCat("model \"", spec.name(), "\": no compute profile of \"", key, "\" to write"));
}

// Forward ms per sample of `p` at `seq`: its samples there, else its fit at
// one sample.
std::vector<std::pair<int, double>> ForwardMsPerSample(const v1::ComputeProfile& p, int seq) {
  std::vector<std::pair<int, double>> out;
  for (const v1::LayerTimeSample& s : p.time_samples()) {
    if (s.seq_len() != seq || s.micro_batch() < 1) continue;
    out.emplace_back(s.micro_batch(), s.forward_seconds() * kMsPerSecond / s.micro_batch());
  }
  if (out.empty()) {
    const v1::LayerTimeFit& f = p.forward_fit();
    const double s2 = static_cast<double>(seq) * seq;
    out.emplace_back(
        1, (f.per_sample_s2() * s2 + f.per_sample_s1() * seq + f.per_sample_s0() + f.constant()) *
               kMsPerSecond);
  }
  return out;
}

double BytesToMb(int64_t bytes) { return static_cast<double>(bytes) / internal::kBytesPerMb; }

// layertype_i[_sp] → {seq: {parameter_size, tp_activation_per_bsz_dict}}.
absl::StatusOr<Json> LayerMemoryTable(const v1::ComputeProfile& p, int seq,
                                      v1::SequenceParallel sp) {
  Json by_tp = Json::object();
  double checkpoint_mb = -1;
  for (const v1::ActivationMemory& a : p.activations()) {
    if (a.sp() != sp) continue;
    by_tp[absl::StrCat(a.tp_degree())] = BytesToMb(a.bytes_per_sample());
    if (a.tp_degree() == 1) checkpoint_mb = BytesToMb(a.checkpoint_bytes_per_sample());
  }
  if (checkpoint_mb < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(p.layer_type(), ": no ", v1::SequenceParallel_Name(sp),
                     " activation memory at tp 1 (Galvatron's tables need it)"));
  }
  by_tp["checkpoint"] = checkpoint_mb;
  Json entry = Json::object();
  entry["parameter_size"] = BytesToMb(p.parameter_bytes());
  entry["tp_activation_per_bsz_dict"] = by_tp;
  Json table = Json::object();
  table[absl::StrCat(seq)] = entry;
  return table;
}

bool HasActivationsAtTp1(const v1::ComputeProfile& p, v1::SequenceParallel sp) {
  return std::any_of(
      p.activations().begin(), p.activations().end(),
      [sp](const v1::ActivationMemory& a) { return a.sp() == sp && a.tp_degree() == 1; });
}

}  // namespace

absl::StatusOr<GalvatronModelJson> FormatGalvatronModelProfiles(
    const v1::ModelSpec& spec, const std::vector<v1::ComputeProfile>& profiles) {
  RETURN_IF_ERROR(ValidateModelSpec(spec));
  const std::vector<LayerType> types = DistinctLayerTypes(spec);
  std::vector<const v1::ComputeProfile*> layers;
  std::vector<int> seqs;
  for (const LayerType& t : types) {
    ASSIGN_OR_RETURN(const v1::ComputeProfile* p, ProfileOf(profiles, t.key, spec));
    layers.push_back(p);
    seqs.push_back(t.seq);
  }
  ASSIGN_OR_RETURN(const v1::ComputeProfile* head,
                   ProfileOf(profiles, EmbeddingTypeKey(spec), spec));
  const std::string seq_key = SeqText(seqs);

  Json computation = Json::object();
  for (size_t i = 0; i < layers.size(); ++i) {
    for (const auto& [b, ms] : ForwardMsPerSample(*layers[i], seqs[i])) {
      computation[absl::StrCat("layertype_", i, "_bsz", b, "_seq", seqs[i])] = ms;
    }
  }
  for (const auto& [b, ms] : ForwardMsPerSample(*head, seqs.front())) {
    computation[absl::StrCat("layertype_other_bsz", b, "_seq", seq_key)] = ms;
  }

  // The plain tables and the `_sp` ones, each where every layer type has it.
  auto all_have = [&](v1::SequenceParallel sp) {
    return std::all_of(layers.begin(), layers.end(),
                       [sp](const v1::ComputeProfile* p) { return HasActivationsAtTp1(*p, sp); });
  };
  const bool plain = all_have(v1::SEQUENCE_PARALLEL_NONE);
  const bool sp = all_have(v1::SEQUENCE_PARALLEL_MEGATRON);
  if (!plain && !sp) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model \"", spec.name(),
        "\": its layer types' activation memory at tp 1 is missing (Galvatron's tables need it, "
        "without or with Megatron-SP)"));
  }
  Json memory = Json::object();
  for (const bool sp_table : {false, true}) {
    if (sp_table ? !sp : !plain) continue;
    const std::string suffix = sp_table ? "_sp" : "";
    for (size_t i = 0; i < layers.size(); ++i) {
      ASSIGN_OR_RETURN(
          memory[absl::StrCat("layertype_", i, suffix)],
          LayerMemoryTable(*layers[i], seqs[i],
                           sp_table ? v1::SEQUENCE_PARALLEL_MEGATRON : v1::SEQUENCE_PARALLEL_NONE));
    }
    const std::pair<const char*, v1::PipelinePosition> positions[] = {
        {"other_memory_pp_off", v1::PIPELINE_POSITION_OFF},
        {"other_memory_pp_on_first", v1::PIPELINE_POSITION_FIRST},
        {"other_memory_pp_on_last", v1::PIPELINE_POSITION_LAST},
    };
    for (const auto& [base, position] : positions) {
      Json states = Json::object(), activation = Json::object();
      for (const v1::OtherLayersMemory& m : head->other_memory()) {
        if (m.position() != position) continue;
        states[absl::StrCat(m.vocab_tp_degree())] = BytesToMb(m.model_state_bytes());
        activation[absl::StrCat(m.vocab_tp_degree())] = BytesToMb(m.activation_bytes_per_sample());
      }
      if (states.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat(head->layer_type(), ": no other_memory at ",
                         v1::PipelinePosition_Name(position), " (Galvatron's ", base, ")"));
      }
      Json entry = Json::object();
      entry["model_states"] = states;
      entry["activation"] = activation;
      memory[base + suffix][seq_key] = entry;
    }
  }
  return GalvatronModelJson{internal::DumpLikePython(computation),
                            internal::DumpLikePython(memory)};
}

absl::StatusOr<std::pair<std::string, std::string>> WriteGalvatronModelProfiles(
    const v1::ModelSpec& spec, const std::vector<v1::ComputeProfile>& profiles,
    const std::string& dir) {
  ASSIGN_OR_RETURN(GalvatronModelJson files, FormatGalvatronModelProfiles(spec, profiles));
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create directory ", dir, ": ", error.message()));
  }
  const std::string precision = PrecisionToken(spec.precision());
  const std::filesystem::path base(dir);
  const std::string computation =
      (base / GalvatronComputationProfileFileName(precision, spec.name())).string();
  const std::string memory =
      (base / GalvatronMemoryProfileFileName(precision, spec.name())).string();
  RETURN_IF_ERROR(WriteTextFile(computation, files.computation));
  RETURN_IF_ERROR(WriteTextFile(memory, files.memory));
  return std::make_pair(computation, memory);
}

absl::StatusOr<std::vector<v1::ComputeProfile>> ReadGalvatronModelProfiles(
    const GalvatronModelFiles& files) {
  ASSIGN_OR_RETURN(std::string computation, ReadTextFile(files.computation_profile_path));
  ASSIGN_OR_RETURN(std::string memory, ReadTextFile(files.memory_profile_path));
  return ParseGalvatronModelProfiles(computation, memory, files);
}

}  // namespace galvatron::interop
