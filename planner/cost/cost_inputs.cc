#include "planner/cost/cost_inputs.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/layer_type.h"
#include "common/status_macros.h"
#include "planner/cost/analytic_efficiency.h"

namespace galvatron::cost {
double TimeLine::At(double b) const {
  if (measured.size() >= 2 && b >= measured.front().first && b <= measured.back().first) {
    auto hi =
        std::lower_bound(measured.begin(), measured.end(), b,
                         [](const std::pair<double, double>& p, double x) { return p.first < x; });
    if (hi->first == b) return hi->second;
    const auto lo = hi - 1;
    const double w = (b - lo->first) / (hi->first - lo->first);
    return lo->second + w * (hi->second - lo->second);
  }
  if (measured.size() == 1 && b == measured.front().first) return measured.front().second;
  return per_sample_ms * b + constant_ms;
}

namespace {

constexpr double kBytesPerMb = 1048576.0;
constexpr double kMsPerSecond = 1000.0;

int EffectiveSeq(const v1::ModelSpec& spec, const v1::LayerGroup& g) {
  return g.seq_len() != 0 ? g.seq_len() : spec.seq_len();
}

// What a layer's activation between layers holds: T5's encoder and decoder
// sequences (one of each group kind; the first of each), else its own.
int CarriedSeq(const v1::ModelSpec& spec, const v1::LayerGroup& g) {
  if (g.kind() != v1::LAYER_KIND_T5_ENCODER && g.kind() != v1::LAYER_KIND_T5_DECODER) {
    return EffectiveSeq(spec, g);
  }
  int encoder = 0, decoder = 0;
  for (const v1::LayerGroup& other : spec.layers()) {
    int& length = other.kind() == v1::LAYER_KIND_T5_DECODER ? decoder : encoder;
    if (length == 0) length = EffectiveSeq(spec, other);
  }
  return encoder + decoder;
}

// A key without its sequence-length tokens (":s2048", ":x512", ":so4096"), so
// that a profile measured at another sequence length (e.g. with a sequence
// fit) still matches.
std::string WithoutSeq(const std::string& key) {
  std::vector<std::string> kept;
  for (absl::string_view token : absl::StrSplit(key, ':')) {
    absl::string_view rest = token;
    bool seq = false;
    for (absl::string_view prefix : {"so", "s", "x"}) {
      if (rest.size() > prefix.size() && rest.substr(0, prefix.size()) == prefix &&
          std::all_of(rest.begin() + prefix.size(), rest.end(),
                      [](char c) { return c >= '0' && c <= '9'; })) {
        seq = true;
        break;
      }
    }
    if (!seq) kept.emplace_back(token);
  }
  return absl::StrJoin(kept, ":");
}

// Profiles by key, exact first, then by key without sequence tokens.
class ProfileIndex {
 public:
  explicit ProfileIndex(const std::vector<v1::ComputeProfile>& compute) {
    for (const v1::ComputeProfile& p : compute) {
      exact_.emplace(p.layer_type(), &p);
      loose_.emplace(WithoutSeq(p.layer_type()), &p);
    }
  }
  const v1::ComputeProfile* Find(const std::string& key) const {
    auto it = exact_.find(key);
    if (it != exact_.end()) return it->second;
    auto jt = loose_.find(WithoutSeq(key));
    return jt == loose_.end() ? nullptr : jt->second;
  }

 private:
  std::map<std::string, const v1::ComputeProfile*> exact_, loose_;
};

// The profile's samples at exactly `seq` ((micro-batch, ms), sorted; the
// median where one size appears twice).
std::vector<std::pair<double, double>> MeasuredAt(const v1::ComputeProfile& p, bool backward,
                                                  int seq) {
  std::map<int, std::vector<double>> by_batch;
  for (const v1::LayerTimeSample& s : p.time_samples()) {
    const double secs = backward ? s.backward_seconds() : s.forward_seconds();
    if (s.seq_len() != seq || !(secs > 0) || !std::isfinite(secs) || s.micro_batch() < 1) continue;
    by_batch[s.micro_batch()].push_back(secs * kMsPerSecond);
  }
  std::vector<std::pair<double, double>> out;
  for (auto& [b, ms] : by_batch) {
    std::sort(ms.begin(), ms.end());
    const size_t n = ms.size();
    out.emplace_back(b, n % 2 == 1 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]));
  }
  return out;
}

bool IsZero(const v1::LayerTimeFit& f) {
  return f.per_sample_s2() == 0 && f.per_sample_s1() == 0 && f.per_sample_s0() == 0 &&
         f.constant() == 0;
}

// One profile's time at sequence length `seq`: the fit when given
// (b·(s2·S² + s1·S + s0) + constant, seconds), else a least-squares line in
// the micro-batch over the samples at `seq` (or at the nearest measured
// length, scaled by `flops_ratio(from_seq)`), else nothing.
std::optional<TimeLine> TimeFromProfile(const v1::LayerTimeFit& fit, const v1::ComputeProfile& p,
                                        bool backward, int seq,
                                        const std::function<double(int)>& flops_ratio) {
  if (!IsZero(fit)) {
    const double s = seq;
    TimeLine t;
    t.per_sample_ms =
        (fit.per_sample_s2() * s * s + fit.per_sample_s1() * s + fit.per_sample_s0()) *
        kMsPerSecond;
    t.constant_ms = fit.constant() * kMsPerSecond;
    return t;
  }
  std::map<int, std::vector<std::pair<double, double>>> by_seq;  // seq -> (b, ms)
  for (const v1::LayerTimeSample& s : p.time_samples()) {
    const double secs = backward ? s.backward_seconds() : s.forward_seconds();
    if (!(secs > 0) || s.micro_batch() < 1) continue;
    by_seq[s.seq_len()].emplace_back(s.micro_batch(), secs * kMsPerSecond);
  }
  if (by_seq.empty()) return std::nullopt;
  int from = by_seq.begin()->first;
  for (const auto& [s, unused] : by_seq) {
    if (std::abs(s - seq) < std::abs(from - seq)) from = s;
  }
  const auto& pts = by_seq[from];
  TimeLine t;
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double n = static_cast<double>(pts.size());
  for (const auto& [x, y] : pts) {
    sx += x;
    sy += y;
    sxx += x * x;
    sxy += x * y;
  }
  const double var = sxx - sx * sx / n;
  if (pts.size() >= 2 && var > 0) {
    t.per_sample_ms = (sxy - sx * sy / n) / var;
    t.constant_ms = (sy - t.per_sample_ms * sx) / n;
  } else {
    t.per_sample_ms = sy / sx;  // one batch size: proportional
  }
  if (from != seq) {
    const double r = flops_ratio(from);
    t.per_sample_ms *= r;
    t.constant_ms *= r;
  }
  return t;
}

// Entries measured at `seq` (0 = unspecified counts as `seq`); without any,
// those at the largest measured length, with a linear scale factor
// seq / that length (Galvatron's memory_profile_mode "sequence").
template <typename Entry>
std::vector<const Entry*> AtSeq(const google::protobuf::RepeatedPtrField<Entry>& entries, int seq,
                                double* scale) {
  std::vector<const Entry*> exact;
  int largest = 0;
  for (const Entry& e : entries) {
    if (e.seq_len() == 0 || e.seq_len() == seq) exact.push_back(&e);
    largest = std::max(largest, e.seq_len());
  }
  *scale = 1;
  if (!exact.empty() || largest == 0) return exact;
  std::vector<const Entry*> out;
  for (const Entry& e : entries) {
    if (e.seq_len() == largest) out.push_back(&e);
  }
  *scale = static_cast<double>(seq) / largest;
  return out;
}

void FillActivations(const v1::ComputeProfile& p, int seq, LayerTypeData* t) {
  double scale = 1;
  for (const v1::ActivationMemory* a : AtSeq(p.activations(), seq, &scale)) {
    ActivationTable* table = &t->act_none;
    if (a->sp() == v1::SEQUENCE_PARALLEL_MEGATRON) table = &t->act_megatron;
    if (a->sp() == v1::SEQUENCE_PARALLEL_ULYSSES) table = &t->act_ulysses;
    const int degree = std::max(a->tp_degree(), 1);
    table->per_sample.mb[degree] = static_cast<double>(a->bytes_per_sample()) / kBytesPerMb * scale;
    // Galvatron's single ['checkpoint'] entry: measured at degree 1; keep the
    // lowest degree that carries one.
    if (a->checkpoint_bytes_per_sample() > 0) {
      const double ckpt =
          static_cast<double>(a->checkpoint_bytes_per_sample()) / kBytesPerMb * scale;
      auto lowest = table->per_sample.mb.begin();
      if (table->checkpoint_mb == 0 || degree <= lowest->first) table->checkpoint_mb = ckpt;
    }
  }
}

void FillOtherMemory(const v1::ComputeProfile& p, const std::vector<int>& seq_of_position,
                     EmbeddingData* e) {
  for (int position :
       {v1::PIPELINE_POSITION_OFF, v1::PIPELINE_POSITION_FIRST, v1::PIPELINE_POSITION_LAST}) {
    google::protobuf::RepeatedPtrField<v1::OtherLayersMemory> mine;
    for (const v1::OtherLayersMemory& m : p.other_memory()) {
      if (m.position() == position) *mine.Add() = m;
    }
    OtherMemory* out = position == v1::PIPELINE_POSITION_OFF     ? &e->off
                       : position == v1::PIPELINE_POSITION_FIRST ? &e->first
                                                                 : &e->last;
    double scale = 1;
    for (const v1::OtherLayersMemory* m : AtSeq(mine, seq_of_position[position], &scale)) {
      const int vtp = std::max(m->vocab_tp_degree(), 1);
      out->model_states.mb[vtp] = static_cast<double>(m->model_state_bytes()) / kBytesPerMb;
      out->activation.mb[vtp] =
          static_cast<double>(m->activation_bytes_per_sample()) / kBytesPerMb * scale;
    }
  }
}

// A time taken from a compute profile must be a time: finite, and positive
// for one sample. A fit that fails this (Galvatron files with negative times
// give such fits) makes the search prefer the plans that run the most of the
// impossible layer; the error names the profile it came from. The slope may
// be slightly negative: the least-squares line through the noisy timings of
// a layer whose time hardly grows with the micro-batch (a small embedding
// on a CPU) is one.
absl::Status CheckMeasuredTime(const v1::ComputeProfile& p, const char* pass, int seq,
                               const TimeLine& t) {
  const double one = t.At(1);
  if (std::isfinite(t.per_sample_ms) && std::isfinite(t.constant_ms) && one > 0 &&
      std::isfinite(one)) {
    return absl::OkStatus();
  }
  const bool from_fit = pass[0] == 'f' ? !IsZero(p.forward_fit()) : !IsZero(p.backward_fit());
  return absl::InvalidArgumentError(absl::StrCat(
      "compute profile ", p.id().empty() ? "" : absl::StrCat(p.id(), " "), "of layer type \"",
      p.layer_type(), "\": its ", pass, " time at seq ", seq, " is ", t.per_sample_ms,
      " ms per sample + ", t.constant_ms, " ms (", one, " ms for one sample, from its ",
      from_fit ? absl::StrCat(pass, "_fit") : std::string("time_samples"),
      "); a layer's time must be finite and > 0 for one sample: re-profile the layer or fix the "
      "profile"));
}

absl::Status NeedPeakFlops(const std::string& what, const std::string& key) {
  return absl::InvalidArgumentError(absl::StrCat(
      what, " \"", key,
      "\" has no compute profile with forward times, and hardware.device.peak_flops is 0: "
      "a compute profile or the device's peak FLOP/s is needed to estimate its time"));
}

}  // namespace

double DegreeTable::Lookup(int degree) const {
  if (mb.empty()) return 0;
  auto it = mb.find(degree);
  if (it != mb.end()) return it->second;
  // Nearest measured degree (in powers of two; ties go to the lower one).
  const auto* best = &*mb.begin();
  double best_distance = 1e300;
  for (const auto& entry : mb) {
    const double d = std::abs(std::log2(static_cast<double>(entry.first)) -
                              std::log2(static_cast<double>(std::max(degree, 1))));
    if (d < best_distance - 1e-12) {
      best = &entry;
      best_distance = d;
    }
  }
  return best->second * best->first / std::max(degree, 1);
}

absl::StatusOr<CostInputs> CostInputs::Build(const v1::ModelSpec& model_in,
                                             const std::vector<v1::ComputeProfile>& compute,
                                             double peak_flops, const CostOptions& options) {
  CostInputs in;
  in.model = model_in;
  v1::ModelSpec& model = in.model;
  // Default mode reads measured sizes as measured (TimeLine::measured);
  // Galvatron's formulas read the fitted line only.
  const bool interpolate = options.mode == Mode::kDefault;
  if (model.layers().empty()) {
    return absl::InvalidArgumentError("model.layers: empty, the cost model needs >= 1 layer");
  }
  if (options.seq_len > 0) {
    // Groups that followed the model's length follow the new one.
    const int old_seq = model.seq_len();
    for (v1::LayerGroup& g : *model.mutable_layers()) {
      if (g.seq_len() == old_seq) g.set_seq_len(0);
    }
    model.set_seq_len(options.seq_len);
  }
  for (int i = 0; i < model.layers_size(); ++i) {
    const v1::LayerGroup& g = model.layers(i);
    if (g.count() < 1 || g.hidden() < 1 || g.heads() < 1 || EffectiveSeq(model, g) < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.layers[", i, "]: count ", g.count(), ", hidden ", g.hidden(),
                       ", heads ", g.heads(), ", seq_len ", EffectiveSeq(model, g),
                       "; the cost model needs each >= 1 (seq_len from the model or the options)"));
    }
  }
  in.precision =
      model.precision() == v1::PRECISION_UNSPECIFIED ? v1::PRECISION_BF16_MIXED : model.precision();
  in.mixed_precision = analytic::IsMixedPrecision(in.precision);
  in.seq_len = EffectiveSeq(model, model.layers(0));
  in.hidden = model.layers(0).hidden();

  const ProfileIndex profiles(compute);
  // Analytic times: the options' fixed efficiency, or by layer size from
  // published measurements (planner/cost/analytic_efficiency.h).
  const auto efficiency_for = [&](int hidden) {
    if (options.analytic_efficiency > 0) {
      EfficiencyEstimate fixed;
      fixed.fraction = fixed.low = fixed.high = options.analytic_efficiency;
      fixed.basis = "the cost options' fixed efficiency";
      return fixed;
    }
    return EstimatedEfficiency(hidden);
  };
  std::vector<std::string> estimated;  // for the prediction's note
  const auto note_estimate = [&](const std::string& what, const EfficiencyEstimate& e) {
    estimated.push_back(
        absl::StrFormat("%s at %.1f %% of peak (%s)", what, 100 * e.fraction, e.basis));
  };

  std::map<std::string, int> index_of_key;
  for (int i = 0; i < model.layers_size(); ++i) {
    const v1::LayerGroup& g = model.layers(i);
    const std::string key = LayerTypeKey(model, i);
    auto [it, inserted] = index_of_key.emplace(key, static_cast<int>(in.types.size()));
    if (inserted) {
      LayerTypeData t;
      t.group = g;
      t.group.set_seq_len(EffectiveSeq(model, g));
      t.info.key = key;
      t.info.hidden = g.hidden();
      t.info.seq_len = EffectiveSeq(model, g);
      t.info.message_seq = CarriedSeq(model, g);
      t.info.heads = g.heads();
      t.info.ffn_hidden = g.ffn_hidden();
      in.types.push_back(std::move(t));
    }
    in.types[it->second].count += g.count();
    for (int l = 0; l < g.count(); ++l) in.type_of.push_back(it->second);
  }

  for (LayerTypeData& t : in.types) {
    in.max_seq = std::max(in.max_seq, t.info.seq_len);
    const int seq = t.info.seq_len;
    // A T5 decoder's cross-attention reads the encoder's sequence.
    const int memory =
        t.group.kind() == v1::LAYER_KIND_T5_DECODER ? t.info.message_seq - t.info.seq_len : 0;
    const double flops_here = analytic::LayerForwardFlopsPerSample(t.group, seq, memory);
    const auto flops_ratio = [&](int from) {
      return flops_here / analytic::LayerForwardFlopsPerSample(t.group, from, memory);
    };
    const v1::ComputeProfile* p = profiles.Find(t.info.key);
    std::optional<TimeLine> forward;
    if (p != nullptr) {
      forward = TimeFromProfile(p->forward_fit(), *p, false, seq, flops_ratio);
      t.backward = TimeFromProfile(p->backward_fit(), *p, true, seq, flops_ratio);
      if (interpolate) {
        if (forward) forward->measured = MeasuredAt(*p, false, seq);
        if (t.backward) t.backward->measured = MeasuredAt(*p, true, seq);
      }
      if (forward) RETURN_IF_ERROR(CheckMeasuredTime(*p, "forward", seq, *forward));
      if (t.backward) RETURN_IF_ERROR(CheckMeasuredTime(*p, "backward", seq, *t.backward));
      FillActivations(*p, seq, &t);
      if (p->parameter_bytes() > 0) {
        t.info.parameter_mb = static_cast<double>(p->parameter_bytes()) / kBytesPerMb;
      } else if (p->parameter_count() > 0) {
        t.info.parameter_mb = static_cast<double>(p->parameter_count()) * 4 / kBytesPerMb;
      }
    }
    t.time_measured = forward.has_value();
    t.memory_measured = !t.act_none.empty() || !t.act_megatron.empty() || !t.act_ulysses.empty();
    if (forward) {
      t.forward = *forward;
    } else {
      if (!(peak_flops > 0)) return NeedPeakFlops("layer type", t.info.key);
      const EfficiencyEstimate e = efficiency_for(t.group.hidden());
      t.forward.per_sample_ms = flops_here / (peak_flops * e.fraction / kMsPerSecond);
      t.info.analytic_efficiency = e.fraction;
      note_estimate(absl::StrCat("layer type ", t.info.key), e);
    }
    if (t.info.parameter_mb <= 0) {
      t.info.parameter_mb =
          static_cast<double>(analytic::LayerParameterCount(t.group)) * 4 / kBytesPerMb;
    }
    t.info.measured = t.time_measured && t.memory_measured;
    in.analytic = in.analytic || !t.info.measured;
  }

  // Embedding / final norm / head.
  EmbeddingData& e = in.embedding;
  e.key = EmbeddingTypeKey(model);
  const v1::ComputeProfile* p = profiles.Find(e.key);
  const int last_seq = EffectiveSeq(model, model.layers(model.layers_size() - 1));
  std::optional<TimeLine> forward;
  if (p != nullptr) {
    const auto seq_ratio = [&](int from) { return static_cast<double>(in.seq_len) / from; };
    forward = TimeFromProfile(p->forward_fit(), *p, false, in.seq_len, seq_ratio);
    e.backward = TimeFromProfile(p->backward_fit(), *p, true, in.seq_len, seq_ratio);
    if (interpolate) {
      if (forward) forward->measured = MeasuredAt(*p, false, in.seq_len);
      if (e.backward) e.backward->measured = MeasuredAt(*p, true, in.seq_len);
    }
    if (forward) RETURN_IF_ERROR(CheckMeasuredTime(*p, "forward", in.seq_len, *forward));
    if (e.backward) RETURN_IF_ERROR(CheckMeasuredTime(*p, "backward", in.seq_len, *e.backward));
    std::vector<int> seq_of_position(4, in.seq_len);
    seq_of_position[v1::PIPELINE_POSITION_LAST] = last_seq;
    FillOtherMemory(*p, seq_of_position, &e);
  }
  e.time_measured = forward.has_value();
  e.memory_measured =
      !e.off.model_states.empty() || !e.first.model_states.empty() || !e.last.model_states.empty();
  if (forward) {
    e.forward = *forward;
  } else {
    if (!(peak_flops > 0)) return NeedPeakFlops("embedding/head", e.key);
    const EfficiencyEstimate eff = efficiency_for(in.hidden);
    e.forward.per_sample_ms = analytic::EmbeddingForwardFlopsPerSample(model) /
                              (peak_flops * eff.fraction / kMsPerSecond);
    note_estimate("the embedding/head", eff);
  }
  in.analytic = in.analytic || !e.time_measured || !e.memory_measured;
  if (!estimated.empty()) {
    in.analytic_note = absl::StrCat(
        "compute times without a measured profile are FLOP estimates: ",
        absl::StrJoin(estimated, "; "),
        ". Published runs of similar size reached the band named; a calibration from finished "
        "jobs (docs/calibration.md) replaces the estimate with what this cluster does");
  } else if (in.analytic) {
    in.analytic_note = "activation or model-state memory without a measured profile is estimated";
  }
  return in;
}

double AnalyticActivationMb(const CostInputs& in, const LayerTypeData& t, int degree,
                            analytic::ActivationSharding sharding) {
  return analytic::LayerActivationBytesPerSample(t.group, t.info.seq_len, in.precision, degree,
                                                 sharding) /
         kBytesPerMb;
}

double AnalyticCheckpointMb(const CostInputs& in, const LayerTypeData& t) {
  return analytic::CheckpointActivationBytesPerSample(t.group, t.info.seq_len, in.precision) /
         kBytesPerMb;
}

}  // namespace galvatron::cost
