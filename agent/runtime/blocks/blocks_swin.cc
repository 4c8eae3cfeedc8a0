// Swin Transformer blocks (Liu et al. 2021, Sec. 3): a pre-LN block whose
// self-attention runs inside non-overlapping windows of the token grid, with
// a learned relative-position bias per window offset; every second block of
// a stage shifts the grid cyclically by half a window first (and masks the
// pairs that the shift made neighbours). Between stages, patch merging
// concatenates each 2×2 group of tokens and projects them (LayerNorm, then a
// linear without bias): a quarter of the tokens, a wider hidden size. Here
// the merging belongs to the first block of the stage it feeds.
#include <cmath>
#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/runtime/blocks/blocks.h"
#include "common/status_macros.h"

namespace galvatron::runtime {
namespace {

constexpr int64_t kDefaultWindow = 7;

int64_t Side(int64_t tokens) {
  const auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(tokens))));
  return side * side == tokens ? side : 0;
}

// [b, H, W, C] → [b·(H/w)·(W/w), w·w, C], windows in row-major order.
torch::Tensor Partition(const torch::Tensor& x, int64_t w) {
  const int64_t b = x.size(0), h = x.size(1), wd = x.size(2), c = x.size(3);
  return x.view({b, h / w, w, wd / w, w, c}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, w * w, c});
}

// The inverse of Partition.
torch::Tensor Merge(const torch::Tensor& windows, int64_t w, int64_t b, int64_t h, int64_t wd) {
  const int64_t c = windows.size(-1);
  return windows.view({b, h / w, wd / w, w, w, c})
      .permute({0, 1, 3, 2, 4, 5})
      .reshape({b, h, wd, c});
}

}  // namespace

absl::Status ResolveSwinShape(const v1::ModelSpec& model, int group_index, BlockShape* shape) {
  const v1::LayerGroup& g = model.layers(group_index);
  const std::string path = absl::StrCat("layers[", group_index, "]");
  const int64_t side = Side(shape->seq_len);
  if (side == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ".seq_len: ", shape->seq_len, ", expected a square number of tokens (Swin's grid)"));
  }
  if (shape->total_kv_heads != g.heads()) {
    return absl::UnimplementedError(absl::StrCat(
        path, ".kv_heads: ", g.kv_heads(), "; Swin blocks have as many key/value heads as heads"));
  }
  shape->grid_side = side;
  const int64_t window = g.swin().window() > 0 ? g.swin().window() : kDefaultWindow;
  // A grid no larger than the window is one window, never shifted (Swin's rule).
  shape->window = std::min(window, side);
  if (side % shape->window != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ".swin.window: ", window,
                                                   ", expected a divisor of the grid's side (",
                                                   side, " tokens)"));
  }
  shape->shift = 0;  // the block's position in its group decides (SwinShift)
  shape->relative_buckets = (2 * shape->window - 1) * (2 * shape->window - 1);
  if (!g.bias()) {
    return absl::UnimplementedError(
        absl::StrCat(path, ".bias: false; Swin blocks have biases (set it true)"));
  }
  if (!g.swin().merge_patches() && group_index > 0) {
    // Without merging, a group continues the previous one's grid and width.
    const v1::LayerGroup& previous = model.layers(group_index - 1);
    const int64_t previous_seq = previous.seq_len() > 0 ? previous.seq_len() : model.seq_len();
    if (previous_seq != shape->seq_len || previous.hidden() != g.hidden()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ".swin.merge_patches: false, but its seq_len ", shape->seq_len, " and hidden ",
          g.hidden(), " differ from layers[", group_index - 1, "]'s (", previous_seq, ", ",
          previous.hidden(), "); a group that changes them starts with patch merging"));
    }
  }
  if (g.swin().merge_patches()) {
    if (group_index == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".swin.merge_patches: the first group has no tokens to merge"));
    }
    const v1::LayerGroup& previous = model.layers(group_index - 1);
    const int64_t previous_seq = previous.seq_len() > 0 ? previous.seq_len() : model.seq_len();
    if (previous_seq != 4 * shape->seq_len) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".seq_len: ", shape->seq_len, ", expected a quarter of layers[",
                       group_index - 1, "]'s ", previous_seq, " (patch merging joins 2x2 tokens)"));
    }
    shape->merge_from_hidden = previous.hidden();
  }
  return absl::OkStatus();
}

int64_t SwinShift(const BlockShape& shape, const v1::LayerGroup& group, int index_in_group) {
  if (shape.window >= shape.grid_side || index_in_group % 2 == 0) return 0;
  return group.swin().shift() > 0 ? group.swin().shift() : shape.window / 2;
}

void TransformerBlockImpl::AddSwinModules(const BlockShape& shape) {
  const int64_t h = shape.hidden, inner = shape.heads * shape.head_dim;
  if (shape.merge_from_hidden > 0) {
    const int64_t joined = 4 * shape.merge_from_hidden;
    merge_norm_ =
        register_module("merge_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({joined})));
    merge_ = register_module("merge",
                             torch::nn::Linear(torch::nn::LinearOptions(joined, h).bias(false)));
  }
  ln1_ = register_module("ln1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h})));
  ln2_ = register_module("ln2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({h})));
  auto linear = [](int64_t in, int64_t out, bool bias) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
  };
  q_ = register_module("q", linear(h, inner, true));
  k_ = register_module("k", linear(h, inner, true));
  v_ = register_module("v", linear(h, inner, true));
  o_ = register_module("o", linear(inner, h, false));
  o_bias_ = register_parameter("o_bias", torch::zeros({h}));
  relative_bias_ =
      register_parameter("relative_bias", torch::zeros({shape.relative_buckets, shape.heads}));
  up_ = register_module("up", linear(h, shape.ffn, true));
  down_ = register_module("down", linear(shape.ffn, h, false));
  down_bias_ = register_parameter("down_bias", torch::zeros({h}));
}

torch::Tensor TransformerBlockImpl::MergePatches(const torch::Tensor& x) {
  // [b, 4L, C'] on a 2H×2W grid → [b, L, 4C'] in Swin's order (even row and
  // column, odd row, odd column, both odd) → LayerNorm → [b, L, C].
  const int64_t b = x.size(0), side = 2 * shape_.grid_side, c = x.size(2);
  torch::Tensor grid = x.view({b, side, side, c});
  auto take = [&](int64_t row, int64_t column) {
    return grid.slice(1, row, side, 2).slice(2, column, side, 2);
  };
  torch::Tensor joined = torch::cat({take(0, 0), take(1, 0), take(0, 1), take(1, 1)}, -1);
  return merge_(merge_norm_(joined.reshape({b, -1, 4 * c})));
}

torch::Tensor TransformerBlockImpl::WindowAttention(const torch::Tensor& input) {
  TORCH_CHECK(sp_ == v1::SEQUENCE_PARALLEL_NONE,
              "Swin blocks have no sequence parallelism (the plan should have been refused)");
  const int64_t b = input.size(0), side = shape_.grid_side, w = shape_.window, shift = shape_.shift,
                heads = shape_.heads, d = shape_.head_dim;
  const bool tensor = comm_ && tp_ > 1;
  torch::Tensor x = (tensor ? comm_->CopyToGroup(input) : input).view({b, side, side, -1});
  if (shift > 0) x = torch::roll(x, {-shift, -shift}, {1, 2});
  torch::Tensor windows = Partition(x, w);  // [b·nW, w², C]
  const int64_t n = windows.size(0), t = w * w, count = n / b;
  auto heads_of = [&](const torch::Tensor& y) {
    return y.view({n, t, heads, d}).transpose(1, 2);  // [b·nW, heads, w², d]
  };
  torch::Tensor q = heads_of(q_(windows)), k = heads_of(k_(windows)), v = heads_of(v_(windows));
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
  // The relative offset (dy, dx) of two tokens of a window, both in
  // [−(w−1), w−1], indexes a (2w−1)² table.
  const torch::Tensor& index = PositionIndex(x, t, t, [&] {
    torch::Tensor coords = torch::arange(t, torch::TensorOptions().dtype(torch::kInt64));
    torch::Tensor row = coords.div(w, "floor"), column = coords.remainder(w);
    return (row.unsqueeze(1) - row.unsqueeze(0) + (w - 1)) * (2 * w - 1) +
           (column.unsqueeze(1) - column.unsqueeze(0) + (w - 1));
  });
  scores = scores + torch::embedding(relative_bias_, index).permute({2, 0, 1});
  if (shift > 0) {
    // Tokens the cyclic shift brought together from opposite edges of the
    // grid do not attend to each other: label the 3×3 regions the shift
    // cuts the grid into, and mask pairs from different regions.
    if (!window_mask_.defined() || window_mask_.device() != x.device()) {
      std::vector<int64_t> region(static_cast<size_t>(side * side));
      auto band = [&](int64_t i) { return i < side - w ? 0 : i < side - shift ? 1 : 2; };
      for (int64_t i = 0; i < side; ++i) {
        for (int64_t j = 0; j < side; ++j) {
          region[static_cast<size_t>(i * side + j)] = band(i) * 3 + band(j);
        }
      }
      torch::Tensor labels =
          Partition(torch::tensor(region, torch::kInt64).view({1, side, side, 1}), w)
              .view({count, t});
      window_mask_ = (labels.unsqueeze(2) != labels.unsqueeze(1)).to(x.device());  // [nW, w², w²]
    }
    scores = scores.view({b, count, heads, t, t})
                 .masked_fill(window_mask_.unsqueeze(1).unsqueeze(0),
                              -std::numeric_limits<double>::infinity())
                 .view({n, heads, t, t});
  }
  torch::Tensor context =
      torch::matmul(torch::softmax(scores, -1), v).transpose(1, 2).reshape({n, t, heads * d});
  torch::Tensor out = Merge(RowParallelOutput(o_(context)) + o_bias_, w, b, side, side);
  if (shift > 0) out = torch::roll(out, {shift, shift}, {1, 2});
  return out.reshape({b, side * side, -1});
}

torch::Tensor TransformerBlockImpl::SwinForward(const torch::Tensor& input) {
  torch::Tensor x = merge_ ? MergePatches(input) : input;
  x = x + WindowAttention(ln1_(x));
  return x + Mlp(ln2_(x));
}

}  // namespace galvatron::runtime
