#include "common/profile_validation.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/field_checks.h"
#include "common/layer_type.h"
#include "common/model_validation.h"
#include "common/physical_bounds.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"

namespace galvatron {
namespace {

using P = ProfileLimits;
namespace bounds = physical_bounds;

using field_checks::CheckAtLeast;
using field_checks::CheckCount;
using field_checks::CheckEnum;
using field_checks::CheckFinite;
using field_checks::CheckNonNegativeFinite;
using field_checks::CheckPositiveFinite;
using field_checks::CheckRange;
using field_checks::EnumValueName;
using field_checks::Invalid;

// A byte count: >= 0 and within physical_bounds::kMaxBytes.
absl::Status CheckBytes(const std::string& path, int64_t value) {
  RETURN_IF_ERROR(CheckAtLeast(path, value, 0));
  if (static_cast<double>(value) > bounds::kMaxBytes) {
    return Invalid(path, absl::StrCat(value),
                   absl::StrCat("must be <= ", bounds::kMaxBytes, " bytes"));
  }
  return absl::OkStatus();
}

// A measured time that must be there: > 0, finite, within kSeconds.
absl::Status CheckSeconds(const std::string& path, double value) {
  RETURN_IF_ERROR(CheckPositiveFinite(path, value));
  return bounds::CheckWithin(path, value, bounds::kSeconds);
}

// `measured` profiles know their device's memory; others may leave it 0.
absl::Status ValidateDevice(const v1::Device& d, bool measured) {
  RETURN_IF_ERROR(CheckEnum("device.kind", v1::DeviceKind_descriptor(), d.kind(), false));
  RETURN_IF_ERROR(CheckAtLeast("device.index", d.index(), 0));
  RETURN_IF_ERROR(bounds::CheckTextLength("device.name", d.name(), bounds::kMaxDeviceNameBytes));
  RETURN_IF_ERROR(CheckAtLeast("device.memory_bytes", d.memory_bytes(), 0));
  const double memory = static_cast<double>(d.memory_bytes());
  RETURN_IF_ERROR(
      measured
          ? bounds::CheckWithin("device.memory_bytes", memory, bounds::kDeviceMemoryBytes)
          : bounds::CheckZeroOrWithin("device.memory_bytes", memory, bounds::kDeviceMemoryBytes));
  RETURN_IF_ERROR(CheckNonNegativeFinite("device.peak_flops", d.peak_flops()));
  return bounds::CheckZeroOrWithin("device.peak_flops", d.peak_flops(), bounds::kPeakFlops);
}

constexpr int kMaxNoisyMeasurements = 65536;

// The measurement-quality record (common/measurement_quality.h), when there.
absl::Status ValidateQuality(const v1::MeasurementQuality& q) {
  RETURN_IF_ERROR(CheckNonNegativeFinite("quality.spread", q.spread()));
  RETURN_IF_ERROR(CheckFinite("quality.load", q.load()));
  if (q.load() < 0 && q.load() != -1) {
    return Invalid("quality.load", absl::StrCat(q.load()), "must be >= 0, or -1 (unknown)");
  }
  RETURN_IF_ERROR(CheckAtLeast("quality.attempts", q.attempts(), 0));
  RETURN_IF_ERROR(CheckNonNegativeFinite("quality.spread_threshold", q.spread_threshold()));
  RETURN_IF_ERROR(CheckNonNegativeFinite("quality.load_threshold", q.load_threshold()));
  RETURN_IF_ERROR(bounds::CheckTextLength("quality.note", q.note(), bounds::kMaxTextBytes));
  RETURN_IF_ERROR(CheckCount("quality.noisy_measurements", q.noisy_measurements_size(),
                             kMaxNoisyMeasurements, "lines"));
  for (int i = 0; i < q.noisy_measurements_size(); ++i) {
    RETURN_IF_ERROR(bounds::CheckTextLength(absl::StrCat("quality.noisy_measurements[", i, "]"),
                                            q.noisy_measurements(i), bounds::kMaxTextBytes));
  }
  return absl::OkStatus();
}

absl::Status ValidateCollectiveTable(const std::string& p, const v1::CollectiveTable& t,
                                     int64_t world_size) {
  RETURN_IF_ERROR(CheckEnum(p + "collective", v1::Collective_descriptor(), t.collective(), true));
  // For P2P the group size is the pipeline degree, which needs two stages too.
  RETURN_IF_ERROR(CheckAtLeast(p + "group_size", t.group_size(), 2));
  if (t.group_size() > world_size) {
    return Invalid(p + "group_size", absl::StrCat(t.group_size()),
                   absl::StrCat("must be <= num_nodes * devices_per_node (", world_size, ")"));
  }
  // Where a P2P pair sits follows from the pipeline, so its layout may be unset.
  const bool p2p = t.collective() == v1::COLLECTIVE_P2P;
  RETURN_IF_ERROR(CheckEnum(p + "layout", v1::GroupLayout_descriptor(), t.layout(), false));
  if (!p2p && t.layout() == v1::GROUP_LAYOUT_UNSPECIFIED) {
    return Invalid(p + "layout", "GROUP_LAYOUT_UNSPECIFIED",
                   absl::StrCat("must be set for ",
                                EnumValueName(v1::Collective_descriptor(), t.collective())));
  }
  RETURN_IF_ERROR(CheckCount(p + "samples", t.samples_size(), P::kMaxSamplesPerTable, "samples"));
  for (int j = 0; j < t.samples_size(); ++j) {
    const std::string s = absl::StrCat(p, "samples[", j, "].");
    const v1::TimeSample& sample = t.samples(j);
    RETURN_IF_ERROR(CheckAtLeast(s + "bytes", sample.bytes(), 1));
    RETURN_IF_ERROR(CheckBytes(s + "bytes", sample.bytes()));
    RETURN_IF_ERROR(CheckSeconds(s + "seconds", sample.seconds()));
    // A sample can be slow (latency), never faster than any link.
    const double implied = static_cast<double>(sample.bytes()) / sample.seconds();
    if (implied > bounds::kBandwidthBytesPerSecond.max) {
      return Invalid(s + "seconds", absl::StrCat(sample.seconds()),
                     absl::StrCat("implies ", implied, " bytes/s for ", sample.bytes(),
                                  " bytes, must be <= ", bounds::kBandwidthBytesPerSecond.max,
                                  bounds::kBandwidthBytesPerSecond.unit));
    }
  }
  // Least squares over noisy timings may give a slightly negative intercept
  // or slope, so the fit's terms are bounded in size only.
  const double alpha = t.fit().alpha_seconds(), beta = t.fit().beta_seconds_per_byte();
  RETURN_IF_ERROR(CheckFinite(p + "fit.alpha_seconds", alpha));
  RETURN_IF_ERROR(CheckFinite(p + "fit.beta_seconds_per_byte", beta));
  if (std::abs(alpha) > bounds::kSeconds.max) {
    return Invalid(p + "fit.alpha_seconds", absl::StrCat(alpha),
                   absl::StrCat("must be between -", bounds::kSeconds.max, " and ",
                                bounds::kSeconds.max, bounds::kSeconds.unit));
  }
  if (std::abs(beta) > bounds::kMaxAbsSecondsPerByte) {
    return Invalid(p + "fit.beta_seconds_per_byte", absl::StrCat(beta),
                   absl::StrCat("must be between -", bounds::kMaxAbsSecondsPerByte, " and ",
                                bounds::kMaxAbsSecondsPerByte,
                                " s/byte (>= ", bounds::kBandwidthBytesPerSecond.min, " bytes/s)"));
  }
  RETURN_IF_ERROR(CheckNonNegativeFinite(p + "bus_bandwidth_bytes_per_second",
                                         t.bus_bandwidth_bytes_per_second()));
  RETURN_IF_ERROR(bounds::CheckZeroOrWithin(p + "bus_bandwidth_bytes_per_second",
                                            t.bus_bandwidth_bytes_per_second(),
                                            bounds::kBandwidthBytesPerSecond));
  const bool has_fit = t.fit().alpha_seconds() != 0 || t.fit().beta_seconds_per_byte() != 0;
  if (t.samples().empty() && !has_fit && t.bus_bandwidth_bytes_per_second() == 0) {
    return Invalid(p + "samples", "empty",
                   "must be given when neither fit nor bus_bandwidth_bytes_per_second is");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateHardwareProfile(const v1::HardwareProfile& profile) {
  RETURN_IF_ERROR(ValidateName("cluster", profile.cluster()));
  RETURN_IF_ERROR(CheckRange("num_nodes", profile.num_nodes(), 1, P::kMaxNodes));
  RETURN_IF_ERROR(
      CheckRange("devices_per_node", profile.devices_per_node(), 1, P::kMaxDevicesPerNode));
  RETURN_IF_ERROR(CheckEnum("source", v1::ProfileSource_descriptor(), profile.source(), false));
  RETURN_IF_ERROR(
      ValidateDevice(profile.device(), profile.source() == v1::PROFILE_SOURCE_MEASURED));
  RETURN_IF_ERROR(bounds::CheckZeroOrWithin("overlap_coefficient", profile.overlap_coefficient(),
                                            bounds::kOverlapCoefficient));
  RETURN_IF_ERROR(CheckBytes("runtime_context_bytes", profile.runtime_context_bytes()));
  RETURN_IF_ERROR(
      bounds::CheckTextLength("measured_by", profile.measured_by(), bounds::kMaxTextBytes));
  if (profile.has_quality()) RETURN_IF_ERROR(ValidateQuality(profile.quality()));

  RETURN_IF_ERROR(
      CheckCount("collectives", profile.collectives_size(), P::kMaxCollectiveTables, "tables"));
  const int64_t world_size = static_cast<int64_t>(profile.num_nodes()) * profile.devices_per_node();
  std::map<std::tuple<int, int, int>, int> first_index;
  for (int i = 0; i < profile.collectives_size(); ++i) {
    const v1::CollectiveTable& t = profile.collectives(i);
    const std::string p = absl::StrCat("collectives[", i, "].");
    RETURN_IF_ERROR(ValidateCollectiveTable(p, t, world_size));
    auto [it, inserted] =
        first_index.emplace(std::make_tuple(t.collective(), t.group_size(), t.layout()), i);
    if (!inserted) {
      return Invalid(absl::StrCat("collectives[", i, "]"),
                     absl::StrCat(EnumValueName(v1::Collective_descriptor(), t.collective()),
                                  " group_size ", t.group_size(), " ",
                                  EnumValueName(v1::GroupLayout_descriptor(), t.layout())),
                     absl::StrCat("must not repeat collectives[", it->second,
                                  "] (one table per collective, group_size and layout)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateComputeProfile(const v1::ComputeProfile& profile) {
  RETURN_IF_ERROR(CheckLayerTypeKey("layer_type", profile.layer_type()));
  RETURN_IF_ERROR(ValidateName("cluster", profile.cluster()));
  if (!profile.model().empty()) RETURN_IF_ERROR(ValidateName("model", profile.model()));
  RETURN_IF_ERROR(CheckEnum("precision", v1::Precision_descriptor(), profile.precision(), false));
  RETURN_IF_ERROR(CheckEnum("source", v1::ProfileSource_descriptor(), profile.source(), false));
  RETURN_IF_ERROR(
      bounds::CheckTextLength("measured_by", profile.measured_by(), bounds::kMaxTextBytes));
  if (profile.has_quality()) RETURN_IF_ERROR(ValidateQuality(profile.quality()));

  RETURN_IF_ERROR(
      CheckCount("time_samples", profile.time_samples_size(), P::kMaxTimeSamples, "samples"));
  for (int i = 0; i < profile.time_samples_size(); ++i) {
    const v1::LayerTimeSample& s = profile.time_samples(i);
    const std::string p = absl::StrCat("time_samples[", i, "].");
    RETURN_IF_ERROR(CheckAtLeast(p + "micro_batch", s.micro_batch(), 1));
    RETURN_IF_ERROR(CheckAtLeast(p + "seq_len", s.seq_len(), 1));
    RETURN_IF_ERROR(CheckSeconds(p + "forward_seconds", s.forward_seconds()));
    RETURN_IF_ERROR(CheckNonNegativeFinite(p + "backward_seconds", s.backward_seconds()));
    RETURN_IF_ERROR(
        bounds::CheckZeroOrWithin(p + "backward_seconds", s.backward_seconds(), bounds::kSeconds));
  }
  const std::pair<const char*, const v1::LayerTimeFit*> fits[] = {
      {"forward_fit", &profile.forward_fit()}, {"backward_fit", &profile.backward_fit()}};
  for (const auto& [name, fit] : fits) {
    const std::string p = absl::StrCat(name, ".");
    // A fit's terms may be negative (least squares); the time it predicts
    // is checked where it is used (planner/cost/cost_inputs.cc).
    const std::pair<const char*, double> terms[] = {{"per_sample_s2", fit->per_sample_s2()},
                                                    {"per_sample_s1", fit->per_sample_s1()},
                                                    {"per_sample_s0", fit->per_sample_s0()},
                                                    {"constant", fit->constant()}};
    for (const auto& [term, value] : terms) {
      RETURN_IF_ERROR(CheckFinite(p + term, value));
      if (std::abs(value) > bounds::kSeconds.max) {
        return Invalid(
            p + term, absl::StrCat(value),
            absl::StrCat("must be between -", bounds::kSeconds.max, " and ", bounds::kSeconds.max));
      }
    }
  }
  RETURN_IF_ERROR(CheckAtLeast("parameter_count", profile.parameter_count(), 0));
  RETURN_IF_ERROR(CheckBytes("parameter_bytes", profile.parameter_bytes()));

  RETURN_IF_ERROR(
      CheckCount("activations", profile.activations_size(), P::kMaxActivationEntries, "entries"));
  for (int i = 0; i < profile.activations_size(); ++i) {
    const v1::ActivationMemory& a = profile.activations(i);
    const std::string p = absl::StrCat("activations[", i, "].");
    RETURN_IF_ERROR(CheckAtLeast(p + "tp_degree", a.tp_degree(), 1));
    RETURN_IF_ERROR(CheckEnum(p + "sp", v1::SequenceParallel_descriptor(), a.sp(), false));
    RETURN_IF_ERROR(CheckAtLeast(p + "seq_len", a.seq_len(), 0));
    RETURN_IF_ERROR(CheckBytes(p + "bytes_per_sample", a.bytes_per_sample()));
    RETURN_IF_ERROR(CheckBytes(p + "checkpoint_bytes_per_sample", a.checkpoint_bytes_per_sample()));
  }

  RETURN_IF_ERROR(
      CheckCount("other_memory", profile.other_memory_size(), P::kMaxActivationEntries, "entries"));
  for (int i = 0; i < profile.other_memory_size(); ++i) {
    const v1::OtherLayersMemory& m = profile.other_memory(i);
    const std::string p = absl::StrCat("other_memory[", i, "].");
    RETURN_IF_ERROR(
        CheckEnum(p + "position", v1::PipelinePosition_descriptor(), m.position(), true));
    RETURN_IF_ERROR(CheckAtLeast(p + "vocab_tp_degree", m.vocab_tp_degree(), 1));
    RETURN_IF_ERROR(CheckAtLeast(p + "seq_len", m.seq_len(), 0));
    RETURN_IF_ERROR(CheckBytes(p + "model_state_bytes", m.model_state_bytes()));
    RETURN_IF_ERROR(CheckBytes(p + "activation_bytes_per_sample", m.activation_bytes_per_sample()));
  }
  return absl::OkStatus();
}

}  // namespace galvatron
