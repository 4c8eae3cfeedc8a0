#include "planner/search/partition.h"

#include <algorithm>
#include <limits>
#include <numeric>

namespace galvatron::search {

std::vector<int> EvenPartition(int num_layers, int pp) {
  const int avg = num_layers / pp;
  std::vector<int> division(pp, avg);
  division.back() = num_layers - avg * (pp - 1);
  return division;
}

namespace {

// Per layer: the least of `pick` over the candidates (stage 0's costs).
template <typename Pick>
std::vector<double> PerLayerMin(const cost::CostModel& model,
                                const std::vector<cost::LayerStrategy>& candidates,
                                int global_batch, int chunks, Pick pick) {
  std::vector<double> by_type(model.layer_types().size(), std::numeric_limits<double>::infinity());
  for (size_t t = 0; t < by_type.size(); ++t) {
    for (const auto& s : candidates) {
      by_type[t] = std::min(
          by_type[t], pick(model.Layer(static_cast<int>(t), s, global_batch, chunks, /*stage=*/0)));
    }
  }
  std::vector<double> out;
  for (int type : model.layer_type_of()) out.push_back(by_type[type]);
  return out;
}

}  // namespace

std::vector<int> MemoryBalancedPartition(const cost::CostModel& model,
                                         const std::vector<cost::LayerStrategy>& candidates,
                                         const cost::EmbeddingStrategy& embedding, int global_batch,
                                         int chunks, int pp) {
  const int L = model.num_layers();
  if (pp <= 1 || candidates.empty()) return EvenPartition(L, pp);
  std::vector<double> mem = PerLayerMin(model, candidates, global_batch, chunks,
                                        [](const cost::LayerCost& c) { return c.memory_mb; });
  std::vector<double> other = model.Embedding(embedding, global_batch, chunks).memory_mb;
  const double avg = (std::accumulate(mem.begin(), mem.end(), 0.0) +
                      std::accumulate(other.begin(), other.end(), 0.0)) /
                     pp;
  std::vector<int> division(pp, 0);
  int layer = 0;
  for (int stage = 0; stage < pp - 1; ++stage) {
    double used = other[stage];
    // Stop when what is left below the average is under half the next layer.
    while (layer < L && avg - used >= 0.5 * mem[layer]) {
      used += mem[layer++];
      ++division[stage];
    }
  }
  division[pp - 1] = L - layer;
  // A stage above 1.3x the average hands its last layers to the next.
  int start = 0;
  for (int stage = 0; stage < pp - 1; ++stage) {
    double used = other[stage];
    for (int l = start; l < start + division[stage]; ++l) used += mem[l];
    while (used > 1.3 * avg && division[stage] > 1) {
      --division[stage];
      ++division[stage + 1];
      used -= mem[start + division[stage]];
    }
    start += division[stage];
  }
  // No empty stage: borrow from the neighbours.
  for (int stage = 0; stage < pp - 1; ++stage) {
    while (division[stage] <= 0) {
      ++division[stage];
      --division[stage + 1];
    }
  }
  for (int stage = pp - 1; stage > 0; --stage) {
    while (division[stage] <= 0) {
      ++division[stage];
      --division[stage - 1];
    }
  }
  return division;
}

std::vector<int> MinMaxPartition(const std::vector<double>& weights,
                                 const std::vector<double>& extra, int parts) {
  const int L = static_cast<int>(weights.size());
  std::vector<double> prefix(L + 1, 0);
  for (int i = 0; i < L; ++i) prefix[i + 1] = prefix[i] + weights[i];
  const double inf = std::numeric_limits<double>::infinity();
  // best[k][i]: the least max over the first k parts holding layers [0, i).
  std::vector<std::vector<double>> best(parts + 1, std::vector<double>(L + 1, inf));
  std::vector<std::vector<int>> cut(parts + 1, std::vector<int>(L + 1, -1));
  best[0][0] = 0;
  for (int k = 1; k <= parts; ++k) {
    for (int i = k; i <= L - (parts - k); ++i) {
      for (int j = k - 1; j < i; ++j) {
        if (best[k - 1][j] == inf) continue;
        double v = std::max(best[k - 1][j], prefix[i] - prefix[j] + extra[k - 1]);
        if (v < best[k][i]) {
          best[k][i] = v;
          cut[k][i] = j;
        }
      }
    }
  }
  // No division with a finite maximum (a weight is infinite or NaN, or there
  // are fewer layers than parts): walking `cut` back would index it with -1.
  // The even division is as good as any then.
  if (L < parts || cut[parts][L] < 0) return EvenPartition(L, parts);
  std::vector<int> division(parts, 0);
  int i = L;
  for (int k = parts; k >= 1; --k) {
    int j = cut[k][i];
    division[k - 1] = i - j;
    i = j;
  }
  return division;
}

std::vector<int> TimeBalancedPartition(const cost::CostModel& model,
                                       const std::vector<cost::LayerStrategy>& candidates,
                                       const cost::EmbeddingStrategy& embedding, int global_batch,
                                       int chunks, int pp) {
  const int L = model.num_layers();
  if (pp <= 1 || candidates.empty() || L < pp) return EvenPartition(L, pp);
  std::vector<double> time =
      PerLayerMin(model, candidates, global_batch, chunks,
                  [](const cost::LayerCost& c) { return c.seconds_no_sync; });
  std::vector<double> extra = model.Embedding(embedding, global_batch, chunks).seconds_no_sync;
  extra.resize(pp, 0.0);
  return MinMaxPartition(time, extra, pp);
}

}  // namespace galvatron::search
