// Ordinary least-squares fits of measured timings: the alpha-beta line of a
// collective (t = alpha + beta * bytes) and the per-sample time of a layer
// over batch sizes or sequence lengths. Galvatron fits the same forms with
// scipy.optimize.curve_fit, which for these linear-in-parameters models
// converges to the least-squares solution computed here in closed form.
// Used by the probes and the profiler (which fit what they measure) and by
// interop (which fits Galvatron's files). Thread-safe: pure functions.
#pragma once

#include <vector>

#include "galvatron/v1/hardware.pb.h"
#include "google/protobuf/repeated_field.h"

namespace galvatron {

struct FitPoint {
  double x = 0;
  double y = 0;
};

// y ≈ alpha + beta * x.
struct AlphaBetaFit {
  double alpha = 0;
  double beta = 0;
};

// y ≈ a * x^2 + b * x + c.
struct QuadraticFit {
  double a = 0;
  double b = 0;
  double c = 0;
};

// Least-squares line through `points`. Degenerate inputs get a defined answer
// instead of NaN: no points → {0, 0}; fewer than two distinct x → the mean of
// y as alpha and beta 0.
AlphaBetaFit FitAlphaBeta(const std::vector<FitPoint>& points);

// Least-squares parabola through `points` (x is rescaled internally, so x in
// the tens of thousands, e.g. sequence lengths, is well conditioned). Fewer
// than three distinct x → the line of FitAlphaBeta with a = 0.
QuadraticFit FitQuadratic(const std::vector<FitPoint>& points);

// The alpha-beta fit of a collective's samples: alpha in seconds, beta in
// seconds per byte.
v1::AlphaBetaFit FitTimeSamples(const google::protobuf::RepeatedPtrField<v1::TimeSample>& samples);

}  // namespace galvatron
