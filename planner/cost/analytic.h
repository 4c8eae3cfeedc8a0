// Analytic estimates of a layer's parameters, FLOPs and activation memory,
// used where a layer type (or the embedding/head) has no compute profile.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>

#include "galvatron/v1/model.pb.h"

namespace galvatron::cost::analytic {

// Bytes of one activation element at the model's precision: 2 for bf16/fp16
// mixed (and UNSPECIFIED, which means bf16 mixed), 4 for fp32, 8 for fp64.
int ActivationElementBytes(v1::Precision precision);
// Galvatron's `mixed_precision`: everything but fp32 (and fp64).
bool IsMixedPrecision(v1::Precision precision);

// Exact parameter count of one block of group `g` (weights, biases, norms):
//   attention  q: h·(a·d)  k, v: h·(kv·d) each  o: (a·d)·h  (+ a·d + 2·kv·d + h biases)
//   MLP        GELU/ReLU: 2·h·f (+ f + h biases);  gated (LLaMA's SwiGLU, T5 v1.1's
//              gated GELU): 3·h·f (+ 2f + h)
//   norms      LayerNorm 2h each (GPT, BERT, ViT, Swin: 2 per block),
//              RMSNorm h each (LLaMA: 2, T5 encoder: 2, T5 decoder: 3)
//   position   the block's relative-position bias, per head: T5's buckets (32),
//              Swin's (2·window − 1)² offsets
//   T5 decoder blocks have a second (cross-)attention. (The first T5 decoder
//   block's copy of the encoder's final norm and Swin's patch merging, one
//   block per stage, are not counted.)
int64_t LayerParameterCount(const v1::LayerGroup& g);

// Forward FLOPs of one block for one sample of `seq` tokens:
//   2·params·seq  (every weight does one multiply-add per token)
// + 4·seq·keys·(a·d)  (QKᵀ and attention·V over `keys` keys per query: the
//                     sequence, or a Swin block's window²; twice for T5
//                     decoder blocks).
// A T5 decoder block's cross-attention reads `memory_seq` encoder tokens
// (0: seq): its keys and values are projected from them, and each query
// attends to them.
double LayerForwardFlopsPerSample(const v1::LayerGroup& g, int seq, int memory_seq = 0);

// How a layer's activations are split over its tp/sp group.
enum class ActivationSharding {
  kNone,        // tp_sp == 1
  kMegatronTp,  // Megatron TP without SP: norms, dropout masks and block inputs replicated
  kShardedAll,  // Megatron TP + SP or Ulysses: everything / degree
};

// Activation bytes one block keeps for backward, per sample (Korthikanti et
// al. 2022, "Reducing Activation Recomputation in Large Transformer Models",
// Sec. 4), generalised to GQA and the MLP width f. For 16-bit training:
//   attention: s·(3h + 4·a·d + 4·kv·d) + 5·a·s²   (= 11sh + 5as² for MHA)
//   MLP:       s·(3h + 4f) GELU / s·(3h + 8f) SwiGLU (= 19sh for f = 4h)
//   norms:     2 bytes × s·h per norm (4sh for 2 norms)
// so a GPT block keeps s·h·(34 + 5·a·s/h) bytes. Under Megatron TP without SP
// 10·s·h of it (norm inputs, block inputs, dropout masks) stays replicated and
// the rest is divided by the degree; with SP or Ulysses everything is. fp32
// doubles every term. T5 decoder blocks add a cross-attention block and a norm.
double LayerActivationBytesPerSample(const v1::LayerGroup& g, int seq, v1::Precision precision,
                                     int degree, ActivationSharding sharding);

// A checkpointed block keeps only its input: s·h elements per sample
// (divided by the degree when the input is sequence-sharded).
double CheckpointActivationBytesPerSample(const v1::LayerGroup& g, int seq,
                                          v1::Precision precision);

// Where the embedding/head parameters sit.
enum class EmbeddingPart {
  kAll,    // pp = 1: embedding, final norm and head on one stage
  kFirst,  // first stage: token (and position, type) embeddings
  kLast,   // last stage: final norm and head (a copy of tied embeddings)
};

// Parameters of the embedding/head part held by one device under vocab-tp
// `vtp` (word embeddings and LM head are split over the vocabulary; position
// tables and norms are replicated):
//   GPT:  wte v·h + wpe s·h ; final LayerNorm 2h ; head v·h unless tied
//   LLaMA: embed v·h ; final RMSNorm h ; head v·h unless tied
//   BERT: word v·h + position s·h + type 2h + LayerNorm 2h ;
//         MLM head: dense h·h + h, LayerNorm 2h, decoder bias v (+ v·h if untied)
//   T5:   shared v·h ; final RMSNorm h per stack ; head v·h unless tied
//   ViT/Swin: patch (p²·c)·h + h, class token h, positions s·h ;
//         final LayerNorm 2h ; head h·n + n
// With pp > 1 and tied embeddings the last stage keeps its own copy of the
// word embeddings (Megatron), counted in kLast.
double EmbeddingParameterCount(const v1::ModelSpec& spec, EmbeddingPart part, int vtp);

// Forward FLOPs of the embedding/head per sample: the LM head's 2·s·h·v (the
// lookup is free); vision models 2·s·(p²·c)·h for the patch projection plus
// 2·h·n for the class head.
double EmbeddingForwardFlopsPerSample(const v1::ModelSpec& spec);

// The share of the embedding/head's compute that `part` does, by the FLOPs
// above: language models' lookup counted as one multiply-add per element it
// moves (2·s·h) against the head's 2·s·h·v, so the last stage does nearly
// all of it; vision models' patch projection on the first stage, the class
// head on the last. kAll: 1.
double EmbeddingComputeShare(const v1::ModelSpec& spec, EmbeddingPart part);

// Activation bytes per sample of the embedding/head part (rough, 16-bit; fp32
// doubles): first stage s·h·3 (embedding output + dropout mask); last stage
// s·h·4 (final norm and head inputs) + s·v·10/vtp (bf16 logits, their fp32
// copy and the fp32 softmax of the cross entropy).
double EmbeddingActivationBytesPerSample(const v1::ModelSpec& spec, EmbeddingPart part, int vtp);

}  // namespace galvatron::cost::analytic
