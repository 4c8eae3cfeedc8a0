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
#include "common/model_validation.h"
#include "common/status_macros.h"
#include "google/protobuf/descriptor.h"

namespace galvatron {
namespace {

using P = ProfileLimits;

constexpr size_t kMaxLayerTypeChars = 512;

using field_checks::CheckAtLeast;
using field_checks::CheckCount;
using field_checks::CheckEnum;
using field_checks::CheckFinite;
using field_checks::CheckNonNegativeFinite;
using field_checks::CheckPositiveFinite;
using field_checks::CheckRange;
using field_checks::EnumValueName;
using field_checks::Invalid;

absl::Status ValidateDevice(const v1::Device& d) {
  RETURN_IF_ERROR(CheckEnum("device.kind", v1::DeviceKind_descriptor(), d.kind(), false));
  RETURN_IF_ERROR(CheckAtLeast("device.index", d.index(), 0));
  RETURN_IF_ERROR(CheckAtLeast("device.memory_bytes", d.memory_bytes(), 0));
  return CheckNonNegativeFinite("device.peak_flops", d.peak_flops());
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
  return CheckCount("quality.noisy_measurements", q.noisy_measurements_size(),
                    kMaxNoisyMeasurements, "lines");
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
    RETURN_IF_ERROR(CheckAtLeast(s + "bytes", t.samples(j).bytes(), 1));
    RETURN_IF_ERROR(CheckPositiveFinite(s + "seconds", t.samples(j).seconds()));
  }
  // Least squares over noisy timings may give a slightly negative intercept,
  // so the fit is only required to be finite.
  RETURN_IF_ERROR(CheckFinite(p + "fit.alpha_seconds", t.fit().alpha_seconds()));
  RETURN_IF_ERROR(CheckFinite(p + "fit.beta_seconds_per_byte", t.fit().beta_seconds_per_byte()));
  RETURN_IF_ERROR(CheckNonNegativeFinite(p + "bus_bandwidth_bytes_per_second",
                                         t.bus_bandwidth_bytes_per_second()));
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
  RETURN_IF_ERROR(ValidateDevice(profile.device()));
  const double overlap = profile.overlap_coefficient();
  if (!(overlap == 0 || overlap >= 1)) {
    return Invalid("overlap_coefficient", absl::StrCat(overlap), "must be 0 (unknown) or >= 1");
  }
  RETURN_IF_ERROR(CheckFinite("overlap_coefficient", overlap));
  RETURN_IF_ERROR(CheckAtLeast("runtime_context_bytes", profile.runtime_context_bytes(), 0));
  RETURN_IF_ERROR(CheckEnum("source", v1::ProfileSource_descriptor(), profile.source(), false));
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
  const std::string& layer_type = profile.layer_type();
  if (layer_type.empty()) {
    return Invalid("layer_type", "empty", "must be a layer-type key (common/layer_type.h)");
  }
  if (layer_type.size() > kMaxLayerTypeChars) {
    return Invalid("layer_type", absl::StrCat(layer_type.size(), " characters"),
                   absl::StrCat("must be <= ", kMaxLayerTypeChars));
  }
  for (char c : layer_type) {
    if (c <= ' ' || c > '~') {
      return Invalid("layer_type", absl::StrCat("\"", absl::CEscape(layer_type), "\""),
                     "must be printable ASCII without spaces");
    }
  }
  RETURN_IF_ERROR(ValidateName("cluster", profile.cluster()));
  if (!profile.model().empty()) RETURN_IF_ERROR(ValidateName("model", profile.model()));
  RETURN_IF_ERROR(CheckEnum("precision", v1::Precision_descriptor(), profile.precision(), false));
  RETURN_IF_ERROR(CheckEnum("source", v1::ProfileSource_descriptor(), profile.source(), false));
  if (profile.has_quality()) RETURN_IF_ERROR(ValidateQuality(profile.quality()));

  RETURN_IF_ERROR(
      CheckCount("time_samples", profile.time_samples_size(), P::kMaxTimeSamples, "samples"));
  for (int i = 0; i < profile.time_samples_size(); ++i) {
    const v1::LayerTimeSample& s = profile.time_samples(i);
    const std::string p = absl::StrCat("time_samples[", i, "].");
    RETURN_IF_ERROR(CheckAtLeast(p + "micro_batch", s.micro_batch(), 1));
    RETURN_IF_ERROR(CheckAtLeast(p + "seq_len", s.seq_len(), 1));
    RETURN_IF_ERROR(CheckPositiveFinite(p + "forward_seconds", s.forward_seconds()));
    RETURN_IF_ERROR(CheckNonNegativeFinite(p + "backward_seconds", s.backward_seconds()));
  }
  const std::pair<const char*, const v1::LayerTimeFit*> fits[] = {
      {"forward_fit", &profile.forward_fit()}, {"backward_fit", &profile.backward_fit()}};
  for (const auto& [name, fit] : fits) {
    const std::string p = absl::StrCat(name, ".");
    RETURN_IF_ERROR(CheckFinite(p + "per_sample_s2", fit->per_sample_s2()));
    RETURN_IF_ERROR(CheckFinite(p + "per_sample_s1", fit->per_sample_s1()));
    RETURN_IF_ERROR(CheckFinite(p + "per_sample_s0", fit->per_sample_s0()));
    RETURN_IF_ERROR(CheckFinite(p + "constant", fit->constant()));
  }
  RETURN_IF_ERROR(CheckAtLeast("parameter_count", profile.parameter_count(), 0));
  RETURN_IF_ERROR(CheckAtLeast("parameter_bytes", profile.parameter_bytes(), 0));

  RETURN_IF_ERROR(
      CheckCount("activations", profile.activations_size(), P::kMaxActivationEntries, "entries"));
  for (int i = 0; i < profile.activations_size(); ++i) {
    const v1::ActivationMemory& a = profile.activations(i);
    const std::string p = absl::StrCat("activations[", i, "].");
    RETURN_IF_ERROR(CheckAtLeast(p + "tp_degree", a.tp_degree(), 1));
    RETURN_IF_ERROR(CheckEnum(p + "sp", v1::SequenceParallel_descriptor(), a.sp(), false));
    RETURN_IF_ERROR(CheckAtLeast(p + "seq_len", a.seq_len(), 0));
    RETURN_IF_ERROR(CheckAtLeast(p + "bytes_per_sample", a.bytes_per_sample(), 0));
    RETURN_IF_ERROR(
        CheckAtLeast(p + "checkpoint_bytes_per_sample", a.checkpoint_bytes_per_sample(), 0));
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
    RETURN_IF_ERROR(CheckAtLeast(p + "model_state_bytes", m.model_state_bytes(), 0));
    RETURN_IF_ERROR(
        CheckAtLeast(p + "activation_bytes_per_sample", m.activation_bytes_per_sample(), 0));
  }
  return absl::OkStatus();
}

}  // namespace galvatron
