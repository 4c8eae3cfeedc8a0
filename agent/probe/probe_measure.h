// One collective table of the probe, measured with an eye on noise
// (common/measurement_quality.h, docs/measurement.md): every message size is
// timed, the group agrees on each repetition's slowest time and on the
// highest load of its ranks (so that every rank of the group judges the same
// numbers and takes the same decision), and a noisy table is measured again,
// up to the options' bound, keeping the least noisy attempt.
// Thread-compatible: one probe thread drives the backend.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/probe/collective_backend.h"
#include "agent/probe/probe_plan.h"
#include "common/measurement_quality.h"
#include "galvatron/v1/hardware.pb.h"

namespace galvatron::probe {

struct TableMeasurement {
  // This rank's median at each size, of the attempt kept (a clock tick at
  // least, never 0).
  std::vector<v1::TimeSample> samples;
  MeasurementOutcome outcome;
};

// "COLLECTIVE_ALL_REDUCE on group s4-consecutive-0": how logs and the
// profile's quality record name one table's measurement.
std::string TableName(v1::Collective collective, const ProbeGroup& group);

// Measures `collective` on `group` (opened before) at every size of `sizes`.
// Every rank of the group calls it with the same arguments. `load` brackets
// each attempt (Begin/End).
absl::StatusOr<TableMeasurement> MeasureTable(CollectiveBackend& backend, v1::Collective collective,
                                              const ProbeGroup& group,
                                              const std::vector<int64_t>& sizes,
                                              const TimingOptions& timing,
                                              const NoiseOptions& noise, LoadSource& load);

}  // namespace galvatron::probe
