#include "agent/runtime/trainer/batches.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "agent/runtime/inputs/training_data.h"
#include "common/status_macros.h"
#include "spdlog/spdlog.h"

namespace galvatron::runtime {

absl::StatusOr<std::unique_ptr<BatchSource>> BatchSource::Open(const TrainOptions& o,
                                                               const v1::ModelSpec& model,
                                                               const v1::Plan& plan,
                                                               const Stage& stage,
                                                               torch::Dtype weights_dtype) {
  std::unique_ptr<BatchSource> b(new BatchSource());
  b->seed_ = static_cast<uint64_t>(o.seed);
  b->vocab_size_ = model.vocab_size();
  b->mlm_ = model.family() == v1::MODEL_FAMILY_BERT;
  b->seq_ = plan.seq_len() > 0 ? plan.seq_len() : model.seq_len();
  b->global_batch_ = plan.global_batch();
  b->chunks_ = std::max(1, plan.micro_batches());
  b->m_ = b->global_batch_ / b->chunks_;
  b->weights_dtype_ = weights_dtype;
  const int64_t synthetic = std::max<int64_t>(4096, o.steps * b->global_batch_);
  if (model.family() == v1::MODEL_FAMILY_VIT || model.family() == v1::MODEL_FAMILY_SWIN) {
    const v1::VisionSpec& v = model.vision();
    b->image_shape_ = {v.channels(), v.image_size(), v.image_size()};
    ASSIGN_OR_RETURN(b->images_,
                     OpenImageData(o.data, b->image_shape_, v.num_classes(), synthetic, b->seed_));
    if (o.rank == 0) spdlog::info("data: {}", b->images_->Describe());
    b->order_ = std::make_unique<SampleOrder>(b->images_->num_samples(), b->seed_);
  } else if (model.family() == v1::MODEL_FAMILY_T5) {
    // The activation holds the encoder's and the decoder's sequences; the
    // data are windows of the raw length whose corruption fits both.
    ASSIGN_OR_RETURN(const T5Lengths lengths, T5SequenceLengths(model));
    b->encoder_seq_ = static_cast<int>(lengths.encoder);
    b->decoder_seq_ = static_cast<int>(lengths.decoder);
    b->spans_ = SpanLengthsFitting(b->encoder_seq_, b->decoder_seq_);
    if (b->spans_.raw < 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "layers: T5's encoder length ", b->encoder_seq_, " and decoder length ", b->decoder_seq_,
          " fit no span-corrupted window (the decoder needs >= 3 tokens)"));
    }
    b->seq_ = b->encoder_seq_ + b->decoder_seq_;
    if (b->spans_.inputs < b->encoder_seq_ && o.rank == 0) {
      spdlog::warn(
          "T5: the decoder's {} tokens limit the corrupted windows to {} input tokens; the "
          "encoder's other {} positions are padding, which its attention does not mask (choose "
          "lengths that fit exactly, e.g. 512 and 114)",
          b->decoder_seq_, b->spans_.inputs, b->encoder_seq_ - b->spans_.inputs);
    }
    ASSIGN_OR_RETURN(b->data_, OpenTrainingData(o.data, b->spans_.raw - 1, model.vocab_size(),
                                                synthetic, b->seed_));
    if (o.rank == 0) {
      spdlog::info("data: {}; span corruption: {} tokens -> {} input + {} target tokens",
                   b->data_->Describe(), b->spans_.raw, b->spans_.inputs, b->spans_.targets);
    }
    b->order_ = std::make_unique<SampleOrder>(b->data_->num_samples(), b->seed_);
  } else {
    ASSIGN_OR_RETURN(b->data_,
                     OpenTrainingData(o.data, b->seq_, model.vocab_size(), synthetic, b->seed_));
    if (o.rank == 0) spdlog::info("data: {}", b->data_->Describe());
    b->order_ = std::make_unique<SampleOrder>(b->data_->num_samples(), b->seed_);
  }
  // The token windows [samples, seq + 1] of this rank's embedding/head slice.
  b->slice_ = b->m_ / stage.embedding_layout.dp;
  b->slice_start_ = (stage.position / stage.embedding_layout.tp) * b->slice_;
  b->window_.resize(static_cast<size_t>(std::max(b->seq_, b->spans_.raw)) + 1);
  b->chosen_.resize(static_cast<size_t>(b->seq_));
  return b;
}

absl::StatusOr<MicroBatch> BatchSource::Get(int64_t step, int c) {
  MicroBatch mb;
  if (images_) {
    const ImageShape& s = image_shape_;
    torch::Tensor bytes = torch::empty({slice_, s.channels, s.height, s.width}, torch::kUInt8);
    mb.labels = torch::empty({slice_}, torch::kInt64);
    for (int64_t i = 0; i < slice_; ++i) {
      const int64_t position = c * m_ + slice_start_ + i;
      int64_t label = 0;
      RETURN_IF_ERROR(images_->Sample(order_->At(step, global_batch_, position),
                                      bytes[i].data_ptr<uint8_t>(), &label));
      mb.labels[i] = label;
    }
    mb.inputs = bytes.to(torch::kFloat32) / 255.0;
    return mb;
  }
  if (spans_.raw > 0) return GetT5(step, c);
  mb.inputs = torch::empty({slice_, seq_}, torch::kInt64);
  mb.labels = torch::empty({slice_, seq_}, torch::kInt64);
  if (mlm_) mb.weights = torch::zeros({slice_, seq_}, torch::TensorOptions().dtype(weights_dtype_));
  for (int64_t i = 0; i < slice_; ++i) {
    const int64_t position = c * m_ + slice_start_ + i;
    RETURN_IF_ERROR(data_->Sample(order_->At(step, global_batch_, position), window_.data()));
    int64_t* in = mb.inputs[i].data_ptr<int64_t>();
    int64_t* labels = mb.labels[i].data_ptr<int64_t>();
    if (mlm_) {
      std::copy(window_.begin(), window_.begin() + seq_, labels);
      std::copy(window_.begin(), window_.begin() + seq_, in);
      MaskForMlm(seed_, step, position, vocab_size_, seq_, in, chosen_.data());
      for (int t = 0; t < seq_; ++t) {
        if (chosen_[static_cast<size_t>(t)]) mb.weights[i][t] = 1.0;
      }
    } else {
      std::copy(window_.begin(), window_.begin() + seq_, in);
      std::copy(window_.begin() + 1, window_.end(), labels);
    }
  }
  return mb;
}

absl::StatusOr<MicroBatch> BatchSource::GetT5(int64_t step, int c) {
  MicroBatch mb;
  mb.inputs = torch::empty({slice_, seq_}, torch::kInt64);
  mb.labels = torch::empty({slice_, decoder_seq_}, torch::kInt64);
  mb.weights = torch::zeros({slice_, decoder_seq_}, torch::TensorOptions().dtype(weights_dtype_));
  for (int64_t i = 0; i < slice_; ++i) {
    const int64_t position = c * m_ + slice_start_ + i;
    RETURN_IF_ERROR(data_->Sample(order_->At(step, global_batch_, position), window_.data()));
    int64_t* in = mb.inputs[i].data_ptr<int64_t>();
    int64_t* labels = mb.labels[i].data_ptr<int64_t>();
    const int length = CorruptSpans(seed_, step, position, spans_, vocab_size_, window_.data(),
                                    encoder_seq_, decoder_seq_, in, labels);
    // The decoder reads the target shifted right, after the start token.
    int64_t* decoder_in = in + encoder_seq_;
    decoder_in[0] = kT5PadId;
    std::copy(labels, labels + decoder_seq_ - 1, decoder_in + 1);
    mb.weights[i].narrow(0, 0, length).fill_(1.0);
  }
  return mb;
}

absl::StatusOr<double> BatchSource::CountedTokens(int64_t step) {
  if (images_) return static_cast<double>(global_batch_);
  if (spans_.raw > 0) return static_cast<double>(global_batch_) * spans_.targets;
  if (!mlm_) return static_cast<double>(global_batch_) * seq_;
  int64_t count = 0;
  for (int64_t position = 0; position < global_batch_; ++position) {
    RETURN_IF_ERROR(data_->Sample(order_->At(step, global_batch_, position), window_.data()));
    count += MaskForMlm(seed_, step, position, vocab_size_, seq_, window_.data(), chosen_.data());
  }
  return static_cast<double>(std::max<int64_t>(count, 1));
}

}  // namespace galvatron::runtime
