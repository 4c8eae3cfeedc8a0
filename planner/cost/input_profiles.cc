// CostModelBase::InputProfiles: the cost model's model-side inputs written
// back as compute profiles, so that what the search planned from (measured
// or estimated) can be handed to another engine unchanged.
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "planner/cost/cost_model_impl.h"

namespace galvatron::cost {
namespace {

constexpr double kBytesPerMb = 1048576.0;
constexpr double kMsPerSecond = 1000.0;

int64_t MbToBytes(double mb) { return static_cast<int64_t>(std::llround(mb * kBytesPerMb)); }

// 1, 2, 4, ... up to `world` (at least 1).
std::vector<int> PowerOfTwoDegrees(int world) {
  std::vector<int> out;
  for (int d = 1; d <= std::max(world, 1); d *= 2) out.push_back(d);
  return out;
}

void AddTimeSamples(const TimeLine& forward, const std::optional<TimeLine>& backward, int seq,
                    int batch_sizes, v1::ComputeProfile* p) {
  for (int b = 1; b <= batch_sizes; ++b) {
    v1::LayerTimeSample* s = p->add_time_samples();
    s->set_micro_batch(b);
    s->set_seq_len(seq);
    s->set_forward_seconds(forward.At(b) / kMsPerSecond);
    if (backward) s->set_backward_seconds(backward->At(b) / kMsPerSecond);
  }
  v1::LayerTimeFit* f = p->mutable_forward_fit();
  f->set_per_sample_s0(forward.per_sample_ms / kMsPerSecond);
  f->set_constant(forward.constant_ms / kMsPerSecond);
  if (backward) {
    p->mutable_backward_fit()->set_per_sample_s0(backward->per_sample_ms / kMsPerSecond);
    p->mutable_backward_fit()->set_constant(backward->constant_ms / kMsPerSecond);
  }
}

}  // namespace

std::vector<v1::ComputeProfile> CostModelBase::InputProfiles(const std::string& cluster,
                                                             int batch_sizes) const {
  const std::vector<int> degrees = PowerOfTwoDegrees(cluster_.world_size);
  const auto header = [&](const std::string& key, bool measured) {
    v1::ComputeProfile p;
    p.set_layer_type(key);
    p.set_cluster(cluster);
    p.set_model(in_.model.name());
    p.set_precision(in_.precision);
    p.set_source(measured ? v1::PROFILE_SOURCE_MEASURED : v1::PROFILE_SOURCE_ANALYTIC);
    p.set_measured_by(measured ? "galvatron-planner (the search's measured inputs)"
                               : "galvatron-planner (analytic estimates where unmeasured)");
    return p;
  };
  std::vector<v1::ComputeProfile> out;
  for (const LayerTypeData& t : in_.types) {
    v1::ComputeProfile p = header(t.info.key, t.info.measured);
    AddTimeSamples(t.forward, t.backward, t.info.seq_len, batch_sizes, &p);
    p.set_parameter_bytes(MbToBytes(t.info.parameter_mb));
    p.set_parameter_count(
        static_cast<int64_t>(std::llround(t.info.parameter_mb * kBytesPerMb / 4)));
    // The checkpoint figure the search uses: a table's, else the estimate.
    double checkpoint_mb = 0;
    for (const ActivationTable* a : {&t.act_megatron, &t.act_none, &t.act_ulysses}) {
      if (checkpoint_mb <= 0 && a->checkpoint_mb > 0) checkpoint_mb = a->checkpoint_mb;
    }
    if (checkpoint_mb <= 0) checkpoint_mb = AnalyticCheckpointMb(in_, t);
    // Galvatron mode's choice of table (GalvatronCostModel::ActTable): the
    // first measured one in the order the split prefers, else the estimate.
    const auto first_of = [](std::initializer_list<const ActivationTable*> order) {
      for (const ActivationTable* a : order) {
        if (!a->empty()) return a;
      }
      return static_cast<const ActivationTable*>(nullptr);
    };
    const auto add_table = [&](v1::SequenceParallel sp, const ActivationTable* table,
                               analytic::ActivationSharding split) {
      for (int d : degrees) {
        v1::ActivationMemory* a = p.add_activations();
        a->set_tp_degree(d);
        a->set_sp(sp);
        a->set_seq_len(t.info.seq_len);
        const double mb =
            table != nullptr ? table->per_sample.Lookup(d)
                             : AnalyticActivationMb(
                                   in_, t, d, d == 1 ? analytic::ActivationSharding::kNone : split);
        a->set_bytes_per_sample(MbToBytes(mb));
        a->set_checkpoint_bytes_per_sample(MbToBytes(
            table != nullptr && table->checkpoint_mb > 0 ? table->checkpoint_mb : checkpoint_mb));
      }
    };
    add_table(v1::SEQUENCE_PARALLEL_NONE, first_of({&t.act_none, &t.act_megatron, &t.act_ulysses}),
              analytic::ActivationSharding::kMegatronTp);
    if (options_.sequence_parallel) {
      add_table(v1::SEQUENCE_PARALLEL_MEGATRON,
                first_of({&t.act_megatron, &t.act_ulysses, &t.act_none}),
                analytic::ActivationSharding::kShardedAll);
    }
    out.push_back(std::move(p));
  }

  const EmbeddingData& e = in_.embedding;
  v1::ComputeProfile p = header(e.key, e.time_measured && e.memory_measured);
  AddTimeSamples(e.forward, e.backward, in_.seq_len, batch_sizes, &p);
  const v1::LayerGroup& last = in_.model.layers(in_.model.layers_size() - 1);
  const int last_seq = last.seq_len() != 0 ? last.seq_len() : in_.model.seq_len();
  const std::pair<v1::PipelinePosition, analytic::EmbeddingPart> parts[] = {
      {v1::PIPELINE_POSITION_OFF, analytic::EmbeddingPart::kAll},
      {v1::PIPELINE_POSITION_FIRST, analytic::EmbeddingPart::kFirst},
      {v1::PIPELINE_POSITION_LAST, analytic::EmbeddingPart::kLast},
  };
  for (const auto& [position, part] : parts) {
    for (int d : degrees) {
      v1::OtherLayersMemory* m = p.add_other_memory();
      m->set_position(position);
      m->set_vocab_tp_degree(d);
      m->set_seq_len(position == v1::PIPELINE_POSITION_LAST ? last_seq : in_.seq_len);
      m->set_model_state_bytes(MbToBytes(EmbeddingStatesMb(part, d)));
      m->set_activation_bytes_per_sample(MbToBytes(EmbeddingActivationMb(part, d)));
    }
  }
  out.push_back(std::move(p));
  return out;
}

}  // namespace galvatron::cost
