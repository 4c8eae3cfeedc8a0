// The training data of one rank: which samples each step reads, and the
// micro-batches of this rank's slice. The order of samples depends only on
// (seed, step), so every rank and a resumed run read the same ones.
// Micro-batch c of a step is samples [c·m, (c+1)·m) of the step's global
// batch; the embedding and head split it over their dp ranks, and this rank
// reads its slice. GPT and LLaMA predict the next token; BERT's inputs are
// masked (MaskForMlm) and its labels are the original tokens, counted where
// `weights` is 1. ViT reads labelled images (image_data.h) instead. T5's
// inputs are its encoder's span-corrupted tokens then its decoder's
// (the target shifted right), [samples, encoder_seq + decoder_seq]; its
// labels and weights cover the decoder's [samples, decoder_seq] (weight 0 on
// padding); seq() is the sum, the length of the activation between stages.
//
// Thread model: one thread (scratch buffers are reused between calls).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/runtime/inputs/image_data.h"
#include "agent/runtime/inputs/span_corruption.h"
#include "agent/runtime/inputs/token_data.h"
#include "agent/runtime/trainer/stage.h"
#include "agent/runtime/trainer/trainer.h"
#include "galvatron/v1/model.pb.h"
#include "galvatron/v1/plan.pb.h"

namespace galvatron::runtime {

// This rank's slice of one micro-batch: [samples, seq] each (ViT: images
// [samples, C, H, W] in [0, 1] and classes [samples]).
struct MicroBatch {
  torch::Tensor inputs;   // int64 token ids (ViT: float32 pixels)
  torch::Tensor labels;   // int64 token ids (ViT: int64 classes)
  torch::Tensor weights;  // BERT: 1 where the loss counts (undefined otherwise)
};

class BatchSource {
 public:
  // What --data names (OpenTrainingData); the sequence length, global
  // batch and micro-batches from the plan (the model's sequence length when
  // the plan has none). `weights_dtype`: BERT's weights (the master type).
  static absl::StatusOr<std::unique_ptr<BatchSource>> Open(const TrainOptions& o,
                                                           const v1::ModelSpec& model,
                                                           const v1::Plan& plan, const Stage& stage,
                                                           torch::Dtype weights_dtype);

  int seq() const { return seq_; }
  int global_batch() const { return global_batch_; }
  int micro_batches() const { return chunks_; }
  int64_t micro_batch_samples() const { return m_; }  // m: the whole micro-batch's samples

  // Micro-batch `c` of step `step` (0-based), this rank's slice.
  absl::StatusOr<MicroBatch> Get(int64_t step, int c);
  // The loss is the mean over the global batch's counted tokens: all of
  // them, or BERT's masked ones (every rank counts them for the whole batch);
  // ViT: over its samples.
  absl::StatusOr<double> CountedTokens(int64_t step);

 private:
  BatchSource() = default;
  absl::StatusOr<MicroBatch> GetT5(int64_t step, int c);

  uint64_t seed_ = 0;
  int64_t vocab_size_ = 0;
  bool mlm_ = false;
  int seq_ = 0;
  int global_batch_ = 0;
  int chunks_ = 1;
  int64_t m_ = 0;
  int64_t slice_ = 0, slice_start_ = 0;  // this rank's samples of a micro-batch
  torch::Dtype weights_dtype_ = torch::kFloat32;
  std::unique_ptr<TokenSource> data_;
  std::unique_ptr<ImageSource> images_;  // ViT (then data_ is null)
  ImageShape image_shape_;
  std::unique_ptr<SampleOrder> order_;
  // T5: the encoder's and decoder's lengths (seq_ is their sum) and the
  // span corruption's (spans_.raw > 0 only for T5).
  int encoder_seq_ = 0, decoder_seq_ = 0;
  SpanLengths spans_;
  std::vector<int64_t> window_;  // one sample's seq + 1 tokens (T5: raw + 1)
  std::vector<uint8_t> chosen_;  // BERT: the masked positions of one sample
};

}  // namespace galvatron::runtime
