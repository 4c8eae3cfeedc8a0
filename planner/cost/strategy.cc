#include "planner/cost/strategy.h"

#include "absl/strings/str_cat.h"

namespace galvatron::cost {

namespace {

std::string Short(int pp, int tp_sp, int dp, DpType dp_type, bool checkpoint, int sp) {
  std::string s = absl::StrCat(pp, "-", tp_sp, tp_sp != 1 ? "*" : "", "-", dp,
                               dp_type == DpType::kZero3 ? "f" : "");
  if (checkpoint) absl::StrAppend(&s, "-c");
  if (sp > 1) absl::StrAppend(&s, "-sp");
  return s;
}

}  // namespace

std::string LayerStrategy::ShortName() const {
  return Short(pp, tp_sp(), dp, dp_type, checkpoint, sp);
}

std::string EmbeddingStrategy::ShortName() const {
  return Short(pp, tp_sp(), dp, dp_type, false, sp);
}

v1::DataParallelType ToProto(DpType t) {
  switch (t) {
    case DpType::kDdp:
      return v1::DATA_PARALLEL_TYPE_DDP;
    case DpType::kZero1:
      return v1::DATA_PARALLEL_TYPE_ZERO1;
    case DpType::kZero2:
      return v1::DATA_PARALLEL_TYPE_ZERO2;
    case DpType::kZero3:
      return v1::DATA_PARALLEL_TYPE_ZERO3;
  }
  return v1::DATA_PARALLEL_TYPE_UNSPECIFIED;
}

DpType FromProto(v1::DataParallelType t) {
  switch (t) {
    case v1::DATA_PARALLEL_TYPE_ZERO1:
      return DpType::kZero1;
    case v1::DATA_PARALLEL_TYPE_ZERO2:
      return DpType::kZero2;
    case v1::DATA_PARALLEL_TYPE_ZERO3:
      return DpType::kZero3;
    default:
      return DpType::kDdp;
  }
}

v1::LayerStrategy ToProto(const LayerStrategy& s) {
  v1::LayerStrategy out;
  out.set_tp(s.tp_sp());
  if (s.sp > 1) {
    out.set_sp(v1::SEQUENCE_PARALLEL_ULYSSES);
  } else if (s.tp > 1 && s.megatron_sp) {
    out.set_sp(v1::SEQUENCE_PARALLEL_MEGATRON);
  }
  out.set_dp(s.dp);
  out.set_dp_type(ToProto(s.dp_type));
  out.set_checkpoint(s.checkpoint);
  return out;
}

LayerStrategy FromProto(const v1::LayerStrategy& s, int pp) {
  LayerStrategy out;
  out.pp = pp;
  if (s.sp() == v1::SEQUENCE_PARALLEL_ULYSSES) {
    out.sp = s.tp();
  } else {
    out.tp = s.tp();
    out.megatron_sp = s.sp() == v1::SEQUENCE_PARALLEL_MEGATRON;
  }
  out.dp = s.dp();
  out.dp_type = FromProto(s.dp_type());
  out.checkpoint = s.checkpoint();
  return out;
}

v1::EmbeddingStrategy ToProto(const EmbeddingStrategy& e) {
  v1::EmbeddingStrategy out;
  out.set_vocab_tp(e.tp_sp());
  if (e.sp > 1) {
    out.set_sp(v1::SEQUENCE_PARALLEL_ULYSSES);
  } else if (e.tp > 1 && e.megatron_sp) {
    out.set_sp(v1::SEQUENCE_PARALLEL_MEGATRON);
  }
  out.set_dp_type(ToProto(e.dp_type));
  return out;
}

EmbeddingStrategy AsEmbedding(const LayerStrategy& s) {
  return EmbeddingStrategy{s.pp, s.tp, s.sp, s.dp, s.dp_type, s.megatron_sp};
}

LayerStrategy AsLayer(const EmbeddingStrategy& e) {
  LayerStrategy s;
  s.pp = e.pp;
  s.tp = e.tp;
  s.sp = e.sp;
  s.dp = e.dp;
  s.dp_type = e.dp_type;
  s.megatron_sp = e.megatron_sp;
  return s;
}

}  // namespace galvatron::cost
