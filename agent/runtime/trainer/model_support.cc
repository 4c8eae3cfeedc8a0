#include "agent/runtime/trainer/model_support.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/runtime/inputs/span_corruption.h"
#include "common/status_macros.h"

namespace galvatron::runtime {
namespace {

// Runs the block without a graph in forward and keeps only its input; in
// backward re-runs it with a graph and back-propagates through that, which
// also accumulates the block's parameter gradients. The block is kept as its
// address: the model outlives every graph built from it.
struct Checkpoint : public torch::autograd::Function<Checkpoint> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor x,
                               int64_t block_address) {
    ctx->save_for_backward({x});
    ctx->saved_data["block"] = block_address;
    torch::NoGradGuard no_grad;
    return Block(block_address)->forward(x);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    torch::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    torch::Tensor y;
    {
      torch::AutoGradMode grad(true);
      y = Block(ctx->saved_data["block"].toInt())->forward(x);
    }
    torch::autograd::backward({y}, {grads[0]});
    return {x.grad(), torch::Tensor()};
  }

  static TransformerBlockImpl* Block(int64_t address) {
    return reinterpret_cast<TransformerBlockImpl*>(static_cast<intptr_t>(address));
  }
};

}  // namespace

absl::Status CheckModelIsTrainable(const v1::ModelSpec& model) {
  for (int g = 0; g < model.layers_size(); ++g) {
    RETURN_IF_ERROR(ResolveBlockShape(model, g, 1).status());
  }
  if (model.family() == v1::MODEL_FAMILY_VIT || model.family() == v1::MODEL_FAMILY_SWIN) {
    const bool swin = model.family() == v1::MODEL_FAMILY_SWIN;
    const v1::VisionSpec& v = model.vision();
    if (v.image_size() < 1 || v.patch_size() < 1 || v.image_size() % v.patch_size() != 0) {
      return absl::InvalidArgumentError(absl::StrCat("vision.patch_size: ", v.patch_size(),
                                                     ", expected a divisor of ",
                                                     "vision.image_size (", v.image_size(), ")"));
    }
    if (v.channels() < 1 || v.num_classes() < 1 || v.class_token() == swin) {
      return absl::InvalidArgumentError(
          absl::StrCat("vision: expected channels >= 1, num_classes >= 1 and ",
                       swin ? "no class_token (Swin classifies the mean of its last stage's tokens)"
                            : "class_token (the runtime's ViT classifies from the class token)"));
    }
    const int side = v.image_size() / v.patch_size();
    const int expected = side * side + (swin ? 0 : 1);
    const v1::LayerGroup& first = model.layers(0);
    const int seq = first.seq_len() > 0 ? first.seq_len() : model.seq_len();
    if (seq != expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          swin ? "layers[0].seq_len: " : "seq_len: ", seq, ", expected ", expected,
          swin ? " for Swin's first stage (one token per patch of vision.image_size / patch_size)"
               : " for ViT (the class token and one token per patch of vision.image_size / "
                 "patch_size)"));
    }
    return absl::OkStatus();
  }
  if (model.family() == v1::MODEL_FAMILY_T5) {
    ASSIGN_OR_RETURN(const T5Lengths lengths, T5SequenceLengths(model));
    const SpanLengths spans =
        SpanLengthsFitting(static_cast<int>(lengths.encoder), static_cast<int>(lengths.decoder));
    if (spans.raw < 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          "layers: the decoder's seq_len ", lengths.decoder, " with the encoder's ",
          lengths.encoder, " fits no span-corrupted sample (the decoder needs >= 3 tokens)"));
    }
    if (model.vocab_size() < spans.spans + 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("vocab_size: ", model.vocab_size(), ", expected >= ", spans.spans + 2,
                       " (pad, end of sequence and one sentinel per corrupted span)"));
    }
  }
  if (model.vocab_size() < 1) {
    return absl::UnimplementedError(
        "vocab_size: 0; a model without a vocabulary must be a ViT or a Swin (family)");
  }
  return absl::OkStatus();
}

torch::Tensor CheckpointedForward(TransformerBlock block, const torch::Tensor& x) {
  return Checkpoint::apply(x, static_cast<int64_t>(reinterpret_cast<intptr_t>(block.get())));
}

}  // namespace galvatron::runtime
