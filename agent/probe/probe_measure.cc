#include "agent/probe/probe_measure.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace galvatron::probe {

std::string TableName(v1::Collective collective, const ProbeGroup& group) {
  return absl::StrCat(v1::Collective_Name(collective), " on group ", group.key);
}

absl::StatusOr<TableMeasurement> MeasureTable(CollectiveBackend& backend, v1::Collective collective,
                                              const ProbeGroup& group,
                                              const std::vector<int64_t>& sizes,
                                              const TimingOptions& timing,
                                              const NoiseOptions& noise, LoadSource& load) {
  // This rank's medians of every attempt; the decision uses the group's view.
  std::vector<std::vector<v1::TimeSample>> attempts;
  auto attempt = [&](int) -> absl::StatusOr<AttemptResult> {
    load.Begin();
    std::vector<std::vector<double>> local;
    for (int64_t bytes : sizes) {
      absl::StatusOr<std::vector<double>> times =
          backend.TimeCollective(collective, group, bytes, timing);
      if (!times.ok()) return times.status();
      local.push_back(std::move(*times));
    }
    const double local_load = load.End();

    std::vector<v1::TimeSample>& samples = attempts.emplace_back();
    std::vector<double> flat;
    for (size_t i = 0; i < sizes.size(); ++i) {
      v1::TimeSample sample;
      sample.set_bytes(sizes[i]);
      sample.set_seconds(std::max(Median(local[i]), 1e-9));  // a clock tick, never 0
      samples.push_back(sample);
      flat.insert(flat.end(), local[i].begin(), local[i].end());
    }
    flat.push_back(local_load);
    absl::StatusOr<std::vector<double>> agreed = backend.MaxOverGroup(group, std::move(flat));
    if (!agreed.ok()) return agreed.status();
    AttemptResult result;
    size_t next = 0;
    for (const std::vector<double>& series : local) {
      result.series.emplace_back(
          agreed->begin() + static_cast<std::ptrdiff_t>(next),
          agreed->begin() + static_cast<std::ptrdiff_t>(next + series.size()));
      next += series.size();
    }
    result.load = agreed->back();
    return result;
  };
  absl::StatusOr<MeasurementOutcome> outcome =
      MeasureUntilQuiet(noise, TableName(collective, group), attempt);
  if (!outcome.ok()) return outcome.status();
  TableMeasurement measured;
  measured.samples = std::move(attempts[static_cast<size_t>(outcome->kept)]);
  measured.outcome = *outcome;
  return measured;
}

}  // namespace galvatron::probe
