#include "common/least_squares.h"

#include <catch2/catch.hpp>
#include <vector>

namespace galvatron {
namespace {

TEST_CASE("FitAlphaBeta matches a least-squares line computed by hand", "[interop]") {
  // x̄ = 2, ȳ = 10/3, Sxx = 2, Sxy = (−1)(2 − 10/3) + (1)(5 − 10/3) = 3:
  // beta = 3/2, alpha = 10/3 − 3 = 1/3.
  const AlphaBetaFit fit = FitAlphaBeta({{1, 2}, {2, 3}, {3, 5}});
  CHECK(fit.beta == Approx(1.5).epsilon(1e-12));
  CHECK(fit.alpha == Approx(1.0 / 3).epsilon(1e-12));

  // Two points: the line through them.
  const AlphaBetaFit two = FitAlphaBeta({{1, 1}, {3, 5}});
  CHECK(two.beta == Approx(2).epsilon(1e-12));
  CHECK(two.alpha == Approx(-1).epsilon(1e-12));
}

TEST_CASE("FitAlphaBeta is exact on a line of byte counts", "[interop]") {
  // A collective of 5 µs latency and 100 GB/s: x in bytes up to 1 GiB.
  std::vector<FitPoint> points;
  for (int mb = 1; mb <= 1024; mb *= 2) {
    const double bytes = mb * 1048576.0;
    points.push_back({bytes, 5e-6 + bytes / 100e9});
  }
  const AlphaBetaFit fit = FitAlphaBeta(points);
  CHECK(fit.alpha == Approx(5e-6).epsilon(1e-9));
  CHECK(fit.beta == Approx(1e-11).epsilon(1e-9));
}

TEST_CASE("FitAlphaBeta gives defined answers on degenerate input", "[interop]") {
  const AlphaBetaFit none = FitAlphaBeta({});
  CHECK(none.alpha == 0);
  CHECK(none.beta == 0);
  const AlphaBetaFit same_x = FitAlphaBeta({{4, 1}, {4, 3}});
  CHECK(same_x.alpha == 2);
  CHECK(same_x.beta == 0);
}

TEST_CASE("FitQuadratic recovers a parabola over sequence lengths", "[interop]") {
  // t(s) = 2e-7 s² + 1e-3 s + 0.5, as an attention-bound layer time in ms.
  std::vector<FitPoint> points;
  for (int s = 1024; s <= 32768; s *= 2)
    points.push_back({double(s), 2e-7 * s * s + 1e-3 * s + 0.5});
  const QuadraticFit fit = FitQuadratic(points);
  CHECK(fit.a == Approx(2e-7).epsilon(1e-8));
  CHECK(fit.b == Approx(1e-3).epsilon(1e-7));
  CHECK(fit.c == Approx(0.5).epsilon(1e-6));

  // Least squares on 4 points off a parabola: the residuals are orthogonal to
  // 1, x and x², i.e. they sum to zero with every weight.
  const std::vector<FitPoint> noisy = {{0, 1}, {1, 0}, {2, 3}, {3, 2}};
  const QuadraticFit q = FitQuadratic(noisy);
  double r0 = 0, r1 = 0, r2 = 0;
  for (const FitPoint& p : noisy) {
    const double r = p.y - (q.a * p.x * p.x + q.b * p.x + q.c);
    r0 += r;
    r1 += r * p.x;
    r2 += r * p.x * p.x;
  }
  CHECK(r0 == Approx(0).margin(1e-12));
  CHECK(r1 == Approx(0).margin(1e-12));
  CHECK(r2 == Approx(0).margin(1e-12));
  // By hand: Σx = 6, Σx² = 14, Σx³ = 36, Σx⁴ = 98, Σy = 6, Σxy = 12,
  // Σx²y = 30; the normal equations [98 36 14; 36 14 6; 14 6 4]·(a, b, c) =
  // (30, 12, 6) give a = 0, b = 3/5, c = 3/5.
  CHECK(q.a == Approx(0).margin(1e-12));
  CHECK(q.b == Approx(0.6).epsilon(1e-12));
  CHECK(q.c == Approx(0.6).epsilon(1e-12));
}

TEST_CASE("FitQuadratic falls back to a line with two distinct x", "[interop]") {
  const QuadraticFit fit = FitQuadratic({{1, 1}, {3, 5}, {3, 5}});
  CHECK(fit.a == 0);
  CHECK(fit.b == Approx(2).epsilon(1e-12));
  CHECK(fit.c == Approx(-1).epsilon(1e-12));
}

TEST_CASE("FitTimeSamples fits seconds over bytes", "[interop]") {
  google::protobuf::RepeatedPtrField<v1::TimeSample> samples;
  v1::TimeSample* a = samples.Add();
  a->set_bytes(1 << 20);
  a->set_seconds(1e-3);
  v1::TimeSample* b = samples.Add();
  b->set_bytes(2 << 20);
  b->set_seconds(1.5e-3);
  const v1::AlphaBetaFit fit = FitTimeSamples(samples);
  CHECK(fit.alpha_seconds() == Approx(0.5e-3).epsilon(1e-12));
  CHECK(fit.beta_seconds_per_byte() == Approx(0.5e-3 / 1048576).epsilon(1e-12));
}

}  // namespace
}  // namespace galvatron
