// Calibration benchmark: measured step times of several plans against the
// cost model, before and after a calibration fitted on some of them and
// judged on the others. The measurements come from
// tests/bench/calibrate/run.sh, which trains each plan on this machine; the
// fit and the calibrated scores are the planner's own code
// (planner/cost/calibration.h, search::PredictPlan).
//
//   bench_calibration --model M --hardware H.json --compute C.json
//       --runs runs.tsv --fit 0,2,4 [--out calibration.json] [--waits use|ignore]
//
// runs.tsv: one plan per line, tab-separated: name, plan JSON file (as
// `galvatron-planner search --json` writes it, uncalibrated), measured
// median step time (s), its relative spread, steps measured, and
// optionally rank 0's median waits for communication in the passes and for
// the gradient sync (s; StepMetrics), which the fit then uses as a job's
// sample does.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/json_file.h"
#include "common/model_catalog.h"
#include "galvatron/v1/service.pb.h"
#include "planner/cost/calibration.h"
#include "planner/search/plan_builder.h"

namespace {

using namespace galvatron;  // NOLINT: a benchmark's main

struct Run {
  std::string name;
  v1::Plan plan;
  double measured = 0, spread = 0;
  int64_t steps = 0;
  std::optional<cost::MeasuredWaits> waits;
};

int Fail(const std::string& message) {
  std::fprintf(stderr, "bench_calibration: %s\n", message.c_str());
  return 1;
}

// What the cost model predicts for `plan` from these profiles (scaled by
// `calibration` when given), as the planner scores plans.
absl::StatusOr<v1::Prediction> Predict(const v1::ModelSpec& model,
                                       const v1::HardwareProfile& hardware,
                                       const std::vector<v1::ComputeProfile>& compute,
                                       const v1::Plan& plan, const v1::Calibration* calibration) {
  search::PlanInputs inputs;
  inputs.model = model;
  inputs.hardware = hardware;
  inputs.compute = compute;
  inputs.request = plan.request();
  if (calibration != nullptr) inputs.calibration = *calibration;
  return search::PredictPlanFor(inputs, plan);
}

absl::StatusOr<double> Score(const v1::ModelSpec& model, const v1::HardwareProfile& hardware,
                             const std::vector<v1::ComputeProfile>& compute, const v1::Plan& plan,
                             const v1::Calibration* calibration) {
  auto prediction = Predict(model, hardware, compute, plan, calibration);
  if (!prediction.ok()) return prediction.status();
  return prediction->iteration_seconds();
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_arg, hardware_path, compute_path, runs_path, fit_arg, out_path;
  bool no_waits = false;  // --waits ignore: fit step times only
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--model")
      model_arg = value;
    else if (flag == "--hardware")
      hardware_path = value;
    else if (flag == "--compute")
      compute_path = value;
    else if (flag == "--runs")
      runs_path = value;
    else if (flag == "--fit")
      fit_arg = value;
    else if (flag == "--out")
      out_path = value;
    else if (flag == "--waits")
      no_waits = value == "ignore";
    else
      return Fail("unknown flag " + flag);
  }
  if (model_arg.empty() || hardware_path.empty() || compute_path.empty() || runs_path.empty() ||
      fit_arg.empty()) {
    return Fail(
        "usage: --model M --hardware H.json --compute C.json --runs runs.tsv --fit 0,2,4 "
        "[--out calibration.json] [--waits use|ignore]");
  }
  auto model = LoadModelArgument(model_arg);
  if (!model.ok()) return Fail(std::string(model.status().message()));
  v1::HardwareProfile hardware;
  if (auto s = ReadJsonFile(hardware_path, &hardware); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  v1::ListComputeProfilesResponse list;
  if (auto s = ReadJsonFile(compute_path, &list); !s.ok()) return Fail(std::string(s.message()));
  const std::vector<v1::ComputeProfile> compute(list.profiles().begin(), list.profiles().end());

  std::vector<Run> runs;
  std::ifstream in(runs_path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    std::vector<std::string> f = absl::StrSplit(line, '\t');
    Run r;
    if ((f.size() != 5 && f.size() != 7) || !absl::SimpleAtod(f[2], &r.measured) ||
        !absl::SimpleAtod(f[3], &r.spread) || !absl::SimpleAtoi(f[4], &r.steps)) {
      return Fail("--runs: bad line: " + line);
    }
    if (f.size() == 7) {
      cost::MeasuredWaits w;
      if (!absl::SimpleAtod(f[5], &w.communication_seconds) ||
          !absl::SimpleAtod(f[6], &w.sync_seconds)) {
        return Fail("--runs: bad waits: " + line);
      }
      if (!no_waits) r.waits = w;
    }
    r.name = f[0];
    if (auto s = ReadJsonFile(f[1], &r.plan); !s.ok()) return Fail(std::string(s.message()));
    runs.push_back(std::move(r));
  }
  // Each plan as this build's cost model predicts it from the same profiles
  // (the search that wrote the plan file may be older).
  for (Run& r : runs) {
    auto raw = Predict(*model, hardware, compute, r.plan, nullptr);
    if (!raw.ok()) return Fail(r.name + ": " + std::string(raw.status().message()));
    if (std::abs(raw->iteration_seconds() - r.plan.prediction().iteration_seconds()) >
        1e-9 * r.plan.prediction().iteration_seconds()) {
      std::printf("%s: the plan file predicted %.4f s; this build predicts %.4f s\n",
                  r.name.c_str(), r.plan.prediction().iteration_seconds(),
                  raw->iteration_seconds());
    }
    *r.plan.mutable_prediction() = *raw;
  }
  std::set<int> fit;
  for (absl::string_view part : absl::StrSplit(fit_arg, ',', absl::SkipEmpty())) {
    int i = 0;
    if (!absl::SimpleAtoi(part, &i) || i < 0 || i >= static_cast<int>(runs.size())) {
      return Fail("--fit: bad index " + std::string(part));
    }
    fit.insert(i);
  }

  // The planner's own fit, on the chosen runs: three factors (compute,
  // critical-path communication, gradient sync; the planner's), and two
  // (the sync sharing communication's factor) side by side on the same
  // measurements.
  v1::Calibration planner_calibration;
  const auto evaluate = [&](bool separate_sync) -> int {
    cost::CalibrationOptions options;
    options.separate_sync = separate_sync;
    std::printf("\n### %s\n\n", separate_sync
                                    ? "Three factors: compute, communication, gradient sync"
                                    : "Two factors: compute, communication (sync included)");
    v1::Calibration calibration;
    calibration.set_cluster(hardware.cluster());
    calibration.set_id("cal-bench-1");
    calibration.set_version(1);
    for (int i : fit) {
      v1::CalibrationSample s =
          cost::MakeCalibrationSample(runs[i].plan.prediction(), runs[i].measured, runs[i].spread,
                                      runs[i].steps, runs[i].waits);
      s.set_job_id(runs[i].name);
      s.set_plan_id(runs[i].plan.id());
      *calibration.add_samples() = s;
    }
    cost::RefitCalibration(options, &calibration);
    std::printf("calibration: %s\n\n", calibration.note().c_str());
    if (separate_sync) planner_calibration = calibration;

    std::printf(
        "| # | plan | set | measured | spread | uncalibrated | error | calibrated | error |\n");
    std::printf("|---|---|---|---|---|---|---|---|---|\n");
    double held_raw = 0, held_cal = 0, fit_raw = 0, fit_cal = 0;
    int held = 0;
    for (size_t i = 0; i < runs.size(); ++i) {
      const Run& r = runs[i];
      auto raw = Score(*model, hardware, compute, r.plan, nullptr);
      auto cal = Score(*model, hardware, compute, r.plan, &calibration);
      if (!raw.ok()) return Fail(r.name + ": " + std::string(raw.status().message()));
      if (!cal.ok()) return Fail(r.name + ": " + std::string(cal.status().message()));
      const double e_raw = (*raw - r.measured) / r.measured;
      const double e_cal = (*cal - r.measured) / r.measured;
      const bool in_fit = fit.count(static_cast<int>(i)) > 0;
      std::string set = in_fit ? "fit" : "held out";
      if (in_fit) {
        const int k = static_cast<int>(std::distance(fit.begin(), fit.find(static_cast<int>(i))));
        if (!calibration.samples(k).used()) {
          set = "fit, left out: " + calibration.samples(k).ignored_reason();
        }
      }
      (in_fit ? fit_raw : held_raw) += std::abs(e_raw);
      (in_fit ? fit_cal : held_cal) += std::abs(e_cal);
      if (!in_fit) ++held;
      std::printf("| %zu | %s | %s | %.4f s | %.3f | %.4f s | %+.1f %% | %.4f s | %+.1f %% |\n", i,
                  r.name.c_str(), set.c_str(), r.measured, r.spread, *raw, 100 * e_raw, *cal,
                  100 * e_cal);
    }
    const int nfit = static_cast<int>(fit.size());
    std::printf("\nfitted plans:    mean absolute error %.1f %% uncalibrated, %.1f %% calibrated\n",
                100 * fit_raw / std::max(nfit, 1), 100 * fit_cal / std::max(nfit, 1));
    std::printf("held-out plans:  mean absolute error %.1f %% uncalibrated, %.1f %% calibrated\n",
                100 * held_raw / std::max(held, 1), 100 * held_cal / std::max(held, 1));
    // Every other choice of as many fitted plans: how much the held-out error
    // depends on which plans the calibration learned from.
    const int n = static_cast<int>(runs.size());
    if (n > 20) return Fail("--runs: at most 20 plans (every subset of them is scored)");
    std::vector<double> raw_seconds(n);
    for (int i = 0; i < n; ++i) raw_seconds[i] = runs[i].plan.prediction().iteration_seconds();
    std::vector<double> held_errors;
    for (int mask = 0; mask < (1 << n); ++mask) {
      if (__builtin_popcount(mask) != nfit) continue;
      v1::Calibration c;
      for (int i = 0; i < n; ++i) {
        if (!(mask & (1 << i))) continue;
        *c.add_samples() =
            cost::MakeCalibrationSample(runs[i].plan.prediction(), runs[i].measured, runs[i].spread,
                                        runs[i].steps, runs[i].waits);
      }
      cost::RefitCalibration(options, &c);
      double sum = 0;
      int count = 0;
      for (int i = 0; i < n; ++i) {
        if (mask & (1 << i)) continue;
        auto cal = Score(*model, hardware, compute, runs[i].plan, &c);
        if (!cal.ok()) return Fail(std::string(cal.status().message()));
        sum += std::abs(*cal - runs[i].measured) / runs[i].measured;
        ++count;
      }
      held_errors.push_back(sum / std::max(count, 1));
    }
    std::sort(held_errors.begin(), held_errors.end());
    if (!held_errors.empty()) {
      double mean = 0;
      int within = 0;
      for (double e : held_errors) {
        mean += e;
        within += e <= 0.10 ? 1 : 0;
      }
      mean /= static_cast<double>(held_errors.size());
      std::printf(
          "every choice of %d fitted plans (%zu): held-out mean absolute error %.1f %% on average, "
          "%.1f %% median, %.1f %% .. %.1f %%; <= 10 %% in %d of them\n",
          nfit, held_errors.size(), 100 * mean, 100 * held_errors[held_errors.size() / 2],
          100 * held_errors.front(), 100 * held_errors.back(), within);
    }
    return 0;
  };
  for (const bool separate_sync : {false, true}) {
    if (const int failed = evaluate(separate_sync); failed != 0) return failed;
  }

  if (!out_path.empty()) {
    if (auto s = WriteTextFile(out_path, MessageToJson(planner_calibration) + "\n"); !s.ok()) {
      return Fail(std::string(s.message()));
    }
  }
  return 0;
}
