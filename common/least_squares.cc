#include "common/least_squares.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <utility>

namespace galvatron {
namespace {

int DistinctX(const std::vector<FitPoint>& points) {
  std::set<double> xs;
  for (const FitPoint& p : points) xs.insert(p.x);
  return static_cast<int>(xs.size());
}

// Solves the 3x3 system m * v = r by Gaussian elimination with partial
// pivoting. The caller guarantees a non-singular m (three distinct x).
std::array<double, 3> Solve3(std::array<std::array<double, 3>, 3> m, std::array<double, 3> r) {
  for (int col = 0; col < 3; ++col) {
    int pivot = col;
    for (int row = col + 1; row < 3; ++row) {
      if (std::fabs(m[row][col]) > std::fabs(m[pivot][col])) pivot = row;
    }
    std::swap(m[col], m[pivot]);
    std::swap(r[col], r[pivot]);
    for (int row = col + 1; row < 3; ++row) {
      const double f = m[row][col] / m[col][col];
      for (int k = col; k < 3; ++k) m[row][k] -= f * m[col][k];
      r[row] -= f * r[col];
    }
  }
  std::array<double, 3> v{};
  for (int row = 2; row >= 0; --row) {
    double s = r[row];
    for (int k = row + 1; k < 3; ++k) s -= m[row][k] * v[k];
    v[row] = s / m[row][row];
  }
  return v;
}

}  // namespace

// beta = Σ(x−x̄)(y−ȳ) / Σ(x−x̄)², alpha = ȳ − beta·x̄ (centred, so byte counts
// of 2^30 lose no precision to cancellation).
AlphaBetaFit FitAlphaBeta(const std::vector<FitPoint>& points) {
  AlphaBetaFit fit;
  if (points.empty()) return fit;
  const double n = static_cast<double>(points.size());
  double mean_x = 0, mean_y = 0;
  for (const FitPoint& p : points) {
    mean_x += p.x;
    mean_y += p.y;
  }
  mean_x /= n;
  mean_y /= n;
  double sxx = 0, sxy = 0;
  for (const FitPoint& p : points) {
    sxx += (p.x - mean_x) * (p.x - mean_x);
    sxy += (p.x - mean_x) * (p.y - mean_y);
  }
  if (DistinctX(points) < 2 || sxx == 0) {
    fit.alpha = mean_y;
    return fit;
  }
  fit.beta = sxy / sxx;
  fit.alpha = mean_y - fit.beta * mean_x;
  return fit;
}

// Normal equations of y = A u² + B u + C with u = x / scale, scale = max|x|,
// then a = A / scale², b = B / scale, c = C.
QuadraticFit FitQuadratic(const std::vector<FitPoint>& points) {
  QuadraticFit fit;
  if (DistinctX(points) < 3) {
    const AlphaBetaFit line = FitAlphaBeta(points);
    fit.b = line.beta;
    fit.c = line.alpha;
    return fit;
  }
  double scale = 0;
  for (const FitPoint& p : points) scale = std::max(scale, std::fabs(p.x));
  // Sums of u^k, k = 0..4, and of y·u^k, k = 0..2.
  std::array<double, 5> su{};
  std::array<double, 3> syu{};
  for (const FitPoint& p : points) {
    const double u = p.x / scale;
    double uk = 1;
    for (int k = 0; k < 5; ++k) {
      su[k] += uk;
      if (k < 3) syu[k] += p.y * uk;
      uk *= u;
    }
  }
  const std::array<std::array<double, 3>, 3> m = {{
      {su[4], su[3], su[2]},
      {su[3], su[2], su[1]},
      {su[2], su[1], su[0]},
  }};
  const std::array<double, 3> v = Solve3(m, {syu[2], syu[1], syu[0]});
  fit.a = v[0] / (scale * scale);
  fit.b = v[1] / scale;
  fit.c = v[2];
  return fit;
}

v1::AlphaBetaFit FitTimeSamples(const google::protobuf::RepeatedPtrField<v1::TimeSample>& samples) {
  std::vector<FitPoint> points;
  points.reserve(samples.size());
  for (const v1::TimeSample& s : samples) {
    points.push_back({static_cast<double>(s.bytes()), s.seconds()});
  }
  const AlphaBetaFit line = FitAlphaBeta(points);
  v1::AlphaBetaFit out;
  out.set_alpha_seconds(line.alpha);
  out.set_beta_seconds_per_byte(line.beta);
  return out;
}

}  // namespace galvatron
