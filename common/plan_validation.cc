#include "common/plan_validation.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace galvatron {
namespace {

absl::Status Bad(const std::string& field, int64_t value, const std::string& expected) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", value, ", expected ", expected));
}

// Every layer of the model in order, with its group's sizes.
std::vector<const v1::LayerGroup*> Layers(const v1::ModelSpec& model) {
  std::vector<const v1::LayerGroup*> layers;
  for (const v1::LayerGroup& group : model.layers()) {
    for (int i = 0; i < group.count(); ++i) layers.push_back(&group);
  }
  return layers;
}

}  // namespace

const char* SequenceSplitRefusal(v1::ModelFamily family) {
  switch (family) {
    case v1::MODEL_FAMILY_VIT:
      return " is not supported for ViT: its sequence (the class token + the patches) does not "
             "split evenly and the head reads only the class token; use tensor parallelism "
             "without sequence parallelism";
    case v1::MODEL_FAMILY_T5:
      return " is not supported for T5: its activation holds the encoder's and the decoder's "
             "sequences, and relative-position bias and cross-attention need them whole; use "
             "tensor parallelism without sequence parallelism";
    case v1::MODEL_FAMILY_SWIN:
      return " is not supported for Swin: its attention runs within windows of the 2-D token "
             "grid and patch merging joins neighbouring rows, which a split of the sequence "
             "would cut; use tensor parallelism without sequence parallelism";
    default:
      return nullptr;
  }
}

absl::Status CheckPlanForModel(const v1::Plan& plan, const v1::ModelSpec& model, int world_size) {
  const std::vector<const v1::LayerGroup*> layers = Layers(model);
  if (plan.layers_size() != static_cast<int>(layers.size())) {
    return Bad("layers", plan.layers_size(),
               absl::StrCat("one strategy per layer of ", model.name(), " (", layers.size(), ")"));
  }
  if (world_size < 1) return Bad("world_size", world_size, ">= 1");
  if (plan.world_size() != 0 && plan.world_size() != world_size) {
    return Bad("world_size", plan.world_size(),
               absl::StrCat("the ranks started (", world_size, ")"));
  }
  const int pp = plan.pp();
  if (pp < 1 || world_size % pp != 0) {
    return Bad("pp", pp, absl::StrCat("a divisor of the world size ", world_size));
  }
  const int per_stage = world_size / pp;
  for (int i = 0; i < plan.layers_size(); ++i) {
    const v1::LayerStrategy& s = plan.layers(i);
    const v1::LayerGroup& group = *layers[static_cast<size_t>(i)];
    const std::string at = absl::StrCat("layers[", i, "]");
    if (s.tp() < 1 || s.dp() < 1 || s.tp() * s.dp() != per_stage) {
      return Bad(at + ".tp", s.tp(),
                 absl::StrCat("tp · dp (dp ", s.dp(), ") = ranks per stage (", per_stage, ")"));
    }
    const int heads = group.heads();
    const int kv_heads = group.kv_heads() > 0 ? group.kv_heads() : heads;
    if (heads % s.tp() != 0) {
      return Bad(at + ".tp", s.tp(), absl::StrCat("a divisor of the heads (", heads, ")"));
    }
    // Megatron TP splits the KV heads, or (more ranks than heads) replicates
    // each over tp/kv consecutive ranks.
    if (s.sp() != v1::SEQUENCE_PARALLEL_ULYSSES && kv_heads % s.tp() != 0 &&
        s.tp() % kv_heads != 0) {
      return Bad(at + ".tp", s.tp(),
                 absl::StrCat("a divisor or a multiple of the KV heads (", kv_heads, ")"));
    }
    const int seq = plan.seq_len() > 0    ? plan.seq_len()
                    : group.seq_len() > 0 ? group.seq_len()
                                          : model.seq_len();
    if (s.sp() != v1::SEQUENCE_PARALLEL_NONE && seq % s.tp() != 0) {
      return Bad(
          at + ".tp", s.tp(),
          absl::StrCat("a divisor of the sequence length (", seq, ") with sequence parallelism"));
    }
    const char* refusal = SequenceSplitRefusal(model.family());
    if (refusal != nullptr && s.tp() > 1 && s.sp() != v1::SEQUENCE_PARALLEL_NONE) {
      return absl::InvalidArgumentError(
          absl::StrCat(at, ".sp: ", v1::SequenceParallel_Name(s.sp()), refusal));
    }
  }
  const v1::EmbeddingStrategy& e = plan.embedding();
  const char* refusal = SequenceSplitRefusal(model.family());
  if (refusal != nullptr && e.vocab_tp() > 1 && e.sp() != v1::SEQUENCE_PARALLEL_NONE) {
    return absl::InvalidArgumentError(
        absl::StrCat("embedding.sp: ", v1::SequenceParallel_Name(e.sp()), refusal));
  }
  if (plan.pp_division_size() > 0) {
    if (plan.pp_division_size() != pp) {
      return Bad("pp_division", plan.pp_division_size(), absl::StrCat("pp (", pp, ") stages"));
    }
    const int sum = std::accumulate(plan.pp_division().begin(), plan.pp_division().end(), 0);
    if (sum != plan.layers_size()) {
      return Bad("pp_division", sum, absl::StrCat("layers summing to ", plan.layers_size()));
    }
    for (int i = 0; i < pp; ++i) {
      if (plan.pp_division(i) < 1) {
        return Bad(absl::StrCat("pp_division[", i, "]"), plan.pp_division(i), ">= 1 layer");
      }
    }
  } else if (plan.layers_size() % pp != 0) {
    return Bad("pp_division", 0, "a division when pp does not divide the layers");
  }
  const int micro = std::max(1, plan.micro_batches());
  if (plan.global_batch() < 1 || plan.global_batch() % micro != 0) {
    return Bad("global_batch", plan.global_batch(),
               absl::StrCat("a multiple of micro_batches (", micro, ")"));
  }
  const int micro_batch = plan.global_batch() / micro;
  for (int i = 0; i < plan.layers_size(); ++i) {
    if (micro_batch % plan.layers(i).dp() != 0) {
      return Bad(absl::StrCat("layers[", i, "].dp"), plan.layers(i).dp(),
                 absl::StrCat("a divisor of the micro-batch (", micro_batch, " samples)"));
    }
  }
  const int vtp = std::max(1, plan.embedding().vocab_tp());
  if (per_stage % vtp != 0) {
    return Bad("embedding.vocab_tp", vtp,
               absl::StrCat("a divisor of the ranks per stage (", per_stage, ")"));
  }
  // The embedding and head split the micro-batch over their own dp ranks.
  if (micro_batch % (per_stage / vtp) != 0) {
    return Bad("embedding.vocab_tp", vtp,
               absl::StrCat("large enough that its data-parallel degree (", per_stage / vtp,
                            ") divides the micro-batch (", micro_batch, " samples)"));
  }
  if (model.vocab_size() > 0 && model.vocab_size() % vtp != 0) {
    return Bad("embedding.vocab_tp", vtp,
               absl::StrCat("a divisor of the vocabulary (", model.vocab_size(), ")"));
  }
  return absl::OkStatus();
}

}  // namespace galvatron
