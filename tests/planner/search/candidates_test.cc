// Candidate generation: Galvatron 3.0's lists exactly (galvatron_compatible),
// and the extended space's additions.
#include "planner/search/candidates.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

namespace galvatron::search {
namespace {

using cost::DpType;
using cost::EmbeddingStrategy;
using cost::LayerStrategy;

template <typename Strategy>
std::string Names(const std::vector<Strategy>& list) {
  std::string out;
  for (const Strategy& s : list) {
    if (!out.empty()) out += ", ";
    out += s.ShortName();
  }
  return out;
}

CandidateOptions Galvatron(int world_size) {
  CandidateOptions o;
  o.world_size = world_size;
  o.num_layers = 32;
  o.galvatron_compatible = true;
  o.default_dp_type = DpType::kZero2;  // as in Galvatron's test
  return o;
}

// Verbatim from Galvatron's tests/search_engine/test_generate_strategies.py.
constexpr char kGalvatron8Gpus[] =
    "1-1-8, 1-1-8-c, 1-1-8f, 1-1-8f-c, 1-2*-4-sp, 1-2*-4-c-sp, 1-2*-4f-sp, 1-2*-4f-c-sp, "
    "1-4*-2-sp, 1-4*-2-c-sp, 1-4*-2f-sp, 1-4*-2f-c-sp, 1-8*-1-sp, 1-8*-1-c-sp, 1-2*-4, "
    "1-2*-4-c, 1-2*-4f, 1-2*-4f-c, 1-4*-2, 1-4*-2-c, 1-4*-2f, 1-4*-2f-c, 1-8*-1, 1-8*-1-c, "
    "2-1-4, 2-1-4-c, 2-1-4f, 2-1-4f-c, 2-2*-2-sp, 2-2*-2-c-sp, 2-2*-2f-sp, 2-2*-2f-c-sp, "
    "2-4*-1-sp, 2-4*-1-c-sp, 2-2*-2, 2-2*-2-c, 2-2*-2f, 2-2*-2f-c, 2-4*-1, 2-4*-1-c, 4-1-2, "
    "4-1-2-c, 4-1-2f, 4-1-2f-c, 4-2*-1-sp, 4-2*-1-c-sp, 4-2*-1, 4-2*-1-c, 8-1-1, 8-1-1-c";

// Produced by Galvatron's generate_strategy_list + filter_strategy_list code
// (search_engine.py at the mirrored HEAD) for 16 GPUs, default maxima (8).
constexpr char kGalvatron16Gpus[] =
    "1-1-16, 1-1-16-c, 1-1-16f, 1-1-16f-c, 1-2*-8-sp, 1-2*-8-c-sp, 1-2*-8f-sp, 1-2*-8f-c-sp, "
    "1-4*-4-sp, 1-4*-4-c-sp, 1-4*-4f-sp, 1-4*-4f-c-sp, 1-8*-2-sp, 1-8*-2-c-sp, 1-8*-2f-sp, "
    "1-8*-2f-c-sp, 1-2*-8, 1-2*-8-c, 1-2*-8f, 1-2*-8f-c, 1-4*-4, 1-4*-4-c, 1-4*-4f, 1-4*-4f-c, "
    "1-8*-2, 1-8*-2-c, 1-8*-2f, 1-8*-2f-c, 2-1-8, 2-1-8-c, 2-1-8f, 2-1-8f-c, 2-2*-4-sp, "
    "2-2*-4-c-sp, 2-2*-4f-sp, 2-2*-4f-c-sp, 2-4*-2-sp, 2-4*-2-c-sp, 2-4*-2f-sp, 2-4*-2f-c-sp, "
    "2-8*-1-sp, 2-8*-1-c-sp, 2-2*-4, 2-2*-4-c, 2-2*-4f, 2-2*-4f-c, 2-4*-2, 2-4*-2-c, 2-4*-2f, "
    "2-4*-2f-c, 2-8*-1, 2-8*-1-c, 4-1-4, 4-1-4-c, 4-1-4f, 4-1-4f-c, 4-2*-2-sp, 4-2*-2-c-sp, "
    "4-2*-2f-sp, 4-2*-2f-c-sp, 4-4*-1-sp, 4-4*-1-c-sp, 4-2*-2, 4-2*-2-c, 4-2*-2f, 4-2*-2f-c, "
    "4-4*-1, 4-4*-1-c, 8-1-2, 8-1-2-c, 8-1-2f, 8-1-2f-c, 8-2*-1-sp, 8-2*-1-c-sp, 8-2*-1, "
    "8-2*-1-c";

TEST_CASE("Galvatron's 50 layer strategies for 8 GPUs, in order") {
  const std::vector<LayerStrategy> list = GenerateLayerStrategies(Galvatron(8));
  REQUIRE(list.size() == 50);
  CHECK(Names(list) == kGalvatron8Gpus);
  // The fields behind the short names: zero2 is the non-f type, Ulysses is sp.
  CHECK(list[0] == LayerStrategy{1, 1, 1, 8, DpType::kZero2, false, false});
  CHECK(list[7] == LayerStrategy{1, 1, 2, 4, DpType::kZero3, true, false});
  CHECK(list[12] == LayerStrategy{1, 1, 8, 1, DpType::kDdp, false, false});
  CHECK(list[23] == LayerStrategy{1, 8, 1, 1, DpType::kDdp, true, false});
  CHECK(list[49] == LayerStrategy{8, 1, 1, 1, DpType::kDdp, true, false});
  for (const LayerStrategy& s : list) {
    CHECK(s.pp * s.tp_sp() * s.dp == 8);
    CHECK(!(s.tp > 1 && s.sp > 1));
    CHECK(!s.megatron_sp);
    CHECK(s.dp_type != DpType::kZero1);
    if (s.dp == 1) CHECK(s.dp_type == DpType::kDdp);
  }
}

TEST_CASE("default_dp_type ddp swaps ZeRO-2 for DDP and nothing else") {
  CandidateOptions o = Galvatron(8);
  o.default_dp_type = DpType::kDdp;
  const std::vector<LayerStrategy> list = GenerateLayerStrategies(o);
  REQUIRE(list.size() == 50);
  CHECK(Names(list) == kGalvatron8Gpus);
  for (const LayerStrategy& s : list) CHECK(s.dp_type != DpType::kZero2);
}

TEST_CASE("Galvatron's 76 layer strategies for 16 GPUs, in order") {
  const std::vector<LayerStrategy> list = GenerateLayerStrategies(Galvatron(16));
  REQUIRE(list.size() == 76);
  CHECK(Names(list) == kGalvatron16Gpus);
}

TEST_CASE("Galvatron's counts under filters and maxima (16 GPUs)") {
  // Expected counts come from running Galvatron's own generate/filter code.
  struct Case {
    const char* name;
    void (*tweak)(CandidateOptions*);
    size_t layers;
    size_t embeddings;
  };
  const Case cases[] = {
      {"defaults", [](CandidateOptions*) {}, 76, 38},
      {"maxima 16", [](CandidateOptions* o) { o->max_pp = o->max_tp = o->max_sp = 16; }, 82, 41},
      {"disable_pp", [](CandidateOptions* o) { o->disable_pp = true; }, 28, 14},
      {"disable_tp", [](CandidateOptions* o) { o->disable_tp = true; }, 46, 23},
      {"disable_sp", [](CandidateOptions* o) { o->disable_sp = true; }, 46, 23},
      {"disable_dp", [](CandidateOptions* o) { o->disable_dp = true; }, 12, 6},
      {"disable_ckpt", [](CandidateOptions* o) { o->disable_ckpt = true; }, 38, 38},
      {"disable_fsdp", [](CandidateOptions* o) { o->disable_fsdp = true; }, 44, 22},
      {"disable_embedding_lmhead_tp",
       [](CandidateOptions* o) { o->disable_embedding_lmhead_tp = true; }, 76, 23},
      {"disable_embedding_lmhead_sp",
       [](CandidateOptions* o) { o->disable_embedding_lmhead_sp = true; }, 76, 23},
      {"2 layers", [](CandidateOptions* o) { o->num_layers = 2; }, 52, 26},
      {"32 GPUs, small maxima, no fsdp/ckpt",
       [](CandidateOptions* o) {
         o->world_size = 32;
         o->max_tp = 4;
         o->max_sp = 2;
         o->max_pp = 4;
         o->disable_fsdp = true;
         o->disable_ckpt = true;
       },
       12, 12},
      {"1 GPU", [](CandidateOptions* o) { o->world_size = 1; }, 2, 1},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CandidateOptions o = Galvatron(16);
    c.tweak(&o);
    CHECK(GenerateLayerStrategies(o).size() == c.layers);
    CHECK(GenerateEmbeddingStrategies(o).size() == c.embeddings);
  }
}

TEST_CASE("Galvatron's embedding strategies for 8 GPUs, in order") {
  const std::vector<EmbeddingStrategy> list = GenerateEmbeddingStrategies(Galvatron(8));
  REQUIRE(list.size() == 25);
  CHECK(Names(list) ==
        "1-1-8, 1-1-8f, 1-2*-4-sp, 1-2*-4f-sp, 1-4*-2-sp, 1-4*-2f-sp, 1-8*-1-sp, 1-2*-4, "
        "1-2*-4f, 1-4*-2, 1-4*-2f, 1-8*-1, 2-1-4, 2-1-4f, 2-2*-2-sp, 2-2*-2f-sp, 2-4*-1-sp, "
        "2-2*-2, 2-2*-2f, 2-4*-1, 4-1-2, 4-1-2f, 4-2*-1-sp, 4-2*-1, 8-1-1");
}

TEST_CASE("embedding filters keep only the allowed modes") {
  CandidateOptions o = Galvatron(8);
  o.disable_embedding_lmhead_tp = true;
  for (const EmbeddingStrategy& e : GenerateEmbeddingStrategies(o)) CHECK(e.tp == 1);
  // Layers are untouched by the embedding filters.
  CHECK(GenerateLayerStrategies(o).size() == 50);
  o.disable_embedding_lmhead_tp = false;
  o.disable_embedding_lmhead_sp = true;
  for (const EmbeddingStrategy& e : GenerateEmbeddingStrategies(o)) CHECK(e.sp == 1);
}

TEST_CASE("extended space adds Megatron-SP, ZeRO-1 and ZeRO-2") {
  CandidateOptions o;
  o.world_size = 8;
  o.num_layers = 32;
  const std::vector<LayerStrategy> list = GenerateLayerStrategies(o);
  // Per (pp, mode, tp_sp) cell: 4 dp types when dp > 1, x2 checkpoint, x2
  // Megatron-SP for Megatron TP > 1: 62 (pp 1) + 38 (pp 2) + 14 (pp 4) + 2.
  CHECK(list.size() == 116);
  CHECK(std::is_sorted(list.begin(), list.end()));
  CHECK(std::adjacent_find(list.begin(), list.end()) == list.end());
  std::set<DpType> dp_types;
  int megatron_sp = 0;
  for (const LayerStrategy& s : list) {
    CHECK(s.pp * s.tp_sp() * s.dp == 8);
    if (s.megatron_sp) {
      CHECK(s.tp > 1);
      ++megatron_sp;
    }
    dp_types.insert(s.dp_type);
  }
  CHECK(megatron_sp == 30);
  CHECK(dp_types.size() == 4);

  SECTION("Megatron-SP choice") {
    o.megatron_sp = MegatronSpChoice::kWith;
    CHECK(GenerateLayerStrategies(o).size() == 86);
    o.megatron_sp = MegatronSpChoice::kWithout;
    CHECK(GenerateLayerStrategies(o).size() == 86);
  }
  SECTION("without the extensions it is Galvatron's list with default ddp") {
    o.megatron_sp = MegatronSpChoice::kWithout;
    o.offer_zero1 = false;
    o.offer_zero2 = false;
    CandidateOptions g = o;
    g.galvatron_compatible = true;
    g.default_dp_type = DpType::kDdp;
    CHECK(GenerateLayerStrategies(o) == GenerateLayerStrategies(g));
    CHECK(GenerateEmbeddingStrategies(o) == GenerateEmbeddingStrategies(g));
  }
  SECTION("TP within a node") {
    o.devices_per_node = 4;
    const std::vector<LayerStrategy> within = GenerateLayerStrategies(o);
    CHECK(within.size() == 110);  // drops 1-8*-1 (x4) and 1-8*-1-sp (x2)
    for (const LayerStrategy& s : within) CHECK(s.tp_sp() <= 4);
    o.keep_tp_within_node = false;
    CHECK(GenerateLayerStrategies(o).size() == 116);
  }
  SECTION("ZeRO-3 and ZeRO-1 filters") {
    o.disable_fsdp = true;
    o.offer_zero1 = false;
    for (const LayerStrategy& s : GenerateLayerStrategies(o)) {
      CHECK(s.dp_type != DpType::kZero3);
      CHECK(s.dp_type != DpType::kZero1);
    }
  }
  SECTION("embeddings carry Megatron-SP too, never checkpoint") {
    const std::vector<EmbeddingStrategy> emb = GenerateEmbeddingStrategies(o);
    CHECK(emb.size() == 58);
    CHECK(std::any_of(emb.begin(), emb.end(),
                      [](const EmbeddingStrategy& e) { return e.megatron_sp; }));
  }
}

TEST_CASE("galvatron_compatible ignores the extension fields") {
  CandidateOptions o = Galvatron(8);
  o.devices_per_node = 2;
  o.megatron_sp = MegatronSpChoice::kWith;
  o.offer_zero1 = true;
  CHECK(Names(GenerateLayerStrategies(o)) == kGalvatron8Gpus);
}

TEST_CASE("degenerate world sizes") {
  CandidateOptions o = Galvatron(8);
  o.world_size = 0;
  CHECK(GenerateLayerStrategies(o).empty());
  CHECK(GenerateEmbeddingStrategies(o).empty());
  o.world_size = 6;  // not a power of two: only degrees dividing 6
  for (const LayerStrategy& s : GenerateLayerStrategies(o)) CHECK(s.pp * s.tp_sp() * s.dp == 6);
}

}  // namespace
}  // namespace galvatron::search
