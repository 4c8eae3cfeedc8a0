// Swin's blocks on their own: what a Swin spec resolves to, the shapes a
// block reads and returns (with and without patch merging), windowed
// attention that stays inside its windows, and what the blocks refuse.
#include <catch2/catch.hpp>

#include <string>

#include "agent/runtime/blocks/blocks.h"
#include "common/model_catalog.h"

namespace galvatron::runtime {
namespace {

TEST_CASE("A Swin spec resolves to its grids, windows and merges", "[blocks][swin]") {
  const v1::ModelSpec swin = *CatalogModel("swin-tiny");
  const BlockShape first = *ResolveBlockShape(swin, 0, 1);
  CHECK(first.grid_side == 56);
  CHECK(first.window == 7);
  CHECK(first.merge_from_hidden == 0);
  CHECK(first.relative_buckets == 13 * 13);
  CHECK_FALSE(first.causal);
  CHECK(SwinShift(first, swin.layers(0), 0) == 0);
  CHECK(SwinShift(first, swin.layers(0), 1) == 3);  // half a window on odd blocks
  const BlockShape last = *ResolveBlockShape(swin, 3, 2);
  CHECK(last.grid_side == 7);
  CHECK(last.merge_from_hidden == 384);
  CHECK(last.heads == 12);                         // 24 over tp 2
  CHECK(SwinShift(last, swin.layers(3), 1) == 0);  // the grid is one window

  // Parameters of a merging block: the merge (norm over 4C', linear 4C' → C)
  // and the block (two norms, q/k/v/o with biases, the bias table, the MLP).
  const int64_t h = 768, f = 3072, joined = 4 * 384;
  TransformerBlock block(*ResolveBlockShape(swin, 3, 1), BlockOptions{});
  CHECK(ParameterCount(*block) ==
        2 * joined + joined * h + 4 * h + 4 * h * h + 3 * h + h + 13 * 13 * 24 + 2 * h * f + f + h);
}

TEST_CASE("Swin blocks keep their grid, merge to a quarter and attend within windows",
          "[blocks][swin]") {
  torch::manual_seed(1);
  const v1::ModelSpec tiny = *CatalogModel("swin-test");  // 8x8 at 64, then 4x4 at 128
  BlockOptions options;
  options.dtype = torch::kFloat64;
  BlockShape plain = *ResolveBlockShape(tiny, 0, 1);
  BlockShape shifted = plain;
  shifted.shift = SwinShift(plain, tiny.layers(0), 1);
  REQUIRE(shifted.shift == 2);
  BlockShape merging = *ResolveBlockShape(tiny, 1, 1);
  REQUIRE(merging.merge_from_hidden == 64);
  TransformerBlock a(plain, options), b(shifted, options), m(merging, options);
  torch::Tensor x = torch::randn({2, 64, 64}, torch::kFloat64);
  CHECK(a->forward(x).sizes() == x.sizes());
  CHECK(b->forward(x).sizes() == x.sizes());
  CHECK(m->forward(x).sizes() == torch::IntArrayRef({2, 16, 128}));

  // Unshifted 4x4 windows: changing a token of the top-left window changes
  // only that window's outputs (the MLP is per token).
  torch::Tensor changed = x.clone();
  changed[0][0].add_(1.0);  // token (0, 0)
  torch::Tensor diff = (a->forward(changed) - a->forward(x)).abs().sum(-1)[0].view({8, 8});
  CHECK(diff.slice(0, 0, 4).slice(1, 0, 4).min().item<double>() > 0);
  CHECK(diff.slice(0, 4, 8).sum().item<double>() == 0);
  CHECK(diff.slice(1, 4, 8).sum().item<double>() == 0);
  // Shifted by 2, token (0, 0) shares a window with (6, 6): the shift wraps
  // it there, but the mask keeps the regions apart, so (6, 6) is unchanged;
  // (1, 1) shares its shifted window (rows and columns 6,7,0,1) and region.
  diff = (b->forward(changed) - b->forward(x)).abs().sum(-1)[0].view({8, 8});
  CHECK(diff[1][1].item<double>() > 0);
  CHECK(diff[6][6].item<double>() == 0);
  CHECK(diff[2][2].item<double>() == 0);
}

TEST_CASE("Swin specs the blocks cannot build are refused with the field", "[blocks][swin]") {
  v1::ModelSpec swin = *CatalogModel("swin-test");
  SECTION("a grid that is not square") {
    swin.mutable_layers(0)->set_seq_len(60);
    auto shape = ResolveBlockShape(swin, 0, 1);
    REQUIRE_FALSE(shape.ok());
    CHECK_THAT(std::string(shape.status().message()),
               Catch::Contains("layers[0].seq_len: 60") && Catch::Contains("square"));
  }
  SECTION("a window that does not divide the grid") {
    swin.mutable_layers(0)->mutable_swin()->set_window(3);
    auto shape = ResolveBlockShape(swin, 0, 1);
    REQUIRE_FALSE(shape.ok());
    CHECK_THAT(std::string(shape.status().message()), Catch::Contains("layers[0].swin.window: 3"));
  }
  SECTION("a merge that does not quarter the tokens") {
    swin.mutable_layers(1)->set_seq_len(64);
    auto shape = ResolveBlockShape(swin, 1, 1);
    REQUIRE_FALSE(shape.ok());
    CHECK_THAT(std::string(shape.status().message()),
               Catch::Contains("layers[1].seq_len: 64") && Catch::Contains("a quarter"));
  }
}

}  // namespace
}  // namespace galvatron::runtime
