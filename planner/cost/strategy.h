// Parallel strategies as the cost model and the search see them. Pure value
// types; thread-compatible.
#pragma once

#include <string>
#include <tuple>

#include "galvatron/v1/plan.pb.h"

namespace galvatron::cost {

enum class DpType { kDdp = 0, kZero1 = 1, kZero2 = 2, kZero3 = 3 };

enum class Schedule { kGpipe, k1F1B };

// How one transformer layer runs on the devices of its pipeline stage.
// Mirrors Galvatron's LayerStrategy: tensor parallelism (Megatron, tp) and
// Ulysses sequence parallelism (sp) are exclusive; tp * sp * dp * pp devices.
struct LayerStrategy {
  int pp = 1;
  int tp = 1;  // Megatron tensor-parallel degree
  int sp = 1;  // Ulysses sequence-parallel degree
  int dp = 1;
  DpType dp_type = DpType::kDdp;
  bool checkpoint = false;
  // With tp > 1: Megatron-SP (norms/dropout sharded along the sequence,
  // all-reduce → all-gather + reduce-scatter).
  bool megatron_sp = false;

  int tp_sp() const { return tp > sp ? tp : sp; }
  // Devices that hold a replica shard of the parameters' gradients.
  int sdp() const { return dp * sp; }
  int devices_per_stage() const { return tp_sp() * dp; }

  auto Tie() const {
    return std::make_tuple(pp, tp, sp, dp, static_cast<int>(dp_type), checkpoint, megatron_sp);
  }
  bool operator==(const LayerStrategy& o) const { return Tie() == o.Tie(); }
  bool operator!=(const LayerStrategy& o) const { return !(*this == o); }
  bool operator<(const LayerStrategy& o) const { return Tie() < o.Tie(); }

  // Galvatron's short form "pp-tp[*]-dp[f][-c][-sp]", e.g. "1-4*-2f-c".
  std::string ShortName() const;
};

// How the embedding and LM head run (no checkpointing).
struct EmbeddingStrategy {
  int pp = 1;
  int tp = 1;
  int sp = 1;
  int dp = 1;
  DpType dp_type = DpType::kDdp;
  bool megatron_sp = false;

  int tp_sp() const { return tp > sp ? tp : sp; }
  int sdp() const { return dp * sp; }
  auto Tie() const {
    return std::make_tuple(pp, tp, sp, dp, static_cast<int>(dp_type), megatron_sp);
  }
  bool operator==(const EmbeddingStrategy& o) const { return Tie() == o.Tie(); }
  bool operator<(const EmbeddingStrategy& o) const { return Tie() < o.Tie(); }
  std::string ShortName() const;
};

// The embedding/head run as a layer would be (no checkpointing), and the
// layout a layer's strategy gives the embedding/head (its checkpointing
// dropped): the search prices the switches between the two and derives
// embedding candidates from layer ones.
EmbeddingStrategy AsEmbedding(const LayerStrategy& s);
LayerStrategy AsLayer(const EmbeddingStrategy& e);

// Conversions to and from the API's messages.
v1::LayerStrategy ToProto(const LayerStrategy& s);
LayerStrategy FromProto(const v1::LayerStrategy& s, int pp);
v1::EmbeddingStrategy ToProto(const EmbeddingStrategy& e);
v1::DataParallelType ToProto(DpType t);
DpType FromProto(v1::DataParallelType t);

}  // namespace galvatron::cost
