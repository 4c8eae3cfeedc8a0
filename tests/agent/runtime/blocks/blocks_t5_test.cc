// T5's blocks on their own: the relative-position buckets against values
// worked out from the T5 paper's code by hand, what a T5 spec resolves to,
// and what the blocks refuse.
#include <catch2/catch.hpp>

#include <string>

#include "agent/runtime/blocks/blocks.h"
#include "common/model_catalog.h"

namespace galvatron::runtime {
namespace {

int64_t Bucket(int64_t relative, bool bidirectional, int64_t buckets = 32,
               int64_t max_distance = 128) {
  // Query at position 200, key at 200 + relative.
  const int64_t q = 200;
  return RelativePositionBuckets(q + 1, 400, bidirectional, buckets, max_distance)[q][q + relative]
      .item<int64_t>();
}

TEST_CASE("T5's relative-position buckets", "[blocks][t5]") {
  // Bidirectional (encoder): 16 buckets per direction, 8 exact.
  CHECK(Bucket(0, true) == 0);
  CHECK(Bucket(-1, true) == 1);
  CHECK(Bucket(1, true) == 17);
  CHECK(Bucket(-7, true) == 7);
  CHECK(Bucket(-8, true) == 8);     // 8 + log(8/8)/log(128/8)·8 = 8
  CHECK(Bucket(-20, true) == 10);   // 8 + log(2.5)/log(16)·8 = 10.6
  CHECK(Bucket(-128, true) == 15);  // 8 + 8, capped at 15
  CHECK(Bucket(-199, true) == 15);
  CHECK(Bucket(20, true) == 26);  // 16 + 10
  // Unidirectional (decoder): 32 buckets, 16 exact; the future is bucket 0.
  CHECK(Bucket(5, false) == 0);
  CHECK(Bucket(-15, false) == 15);
  CHECK(Bucket(-16, false) == 16);
  CHECK(Bucket(-20, false) == 17);   // 16 + log(1.25)/log(8)·16 = 17.7
  CHECK(Bucket(-127, false) == 31);  // 16 + 15.9
  CHECK(Bucket(-199, false) == 31);
  // Fewer buckets (t5 options): 8 unidirectional, 4 exact, up to 16.
  CHECK(Bucket(-3, false, 8, 16) == 3);
  CHECK(Bucket(-10, false, 8, 16) == 6);  // 4 + log(2.5)/log(4)·4 = 6.6
  CHECK(Bucket(-100, false, 8, 16) == 7);
}

TEST_CASE("A T5 spec resolves to its two lengths and options", "[blocks][t5]") {
  v1::ModelSpec t5 = *CatalogModel("t5-base");
  auto lengths = T5SequenceLengths(t5);
  REQUIRE(lengths.ok());
  CHECK(lengths->encoder == 512);
  CHECK(lengths->decoder == 114);
  CHECK(lengths->first_decoder_layer == 12);
  auto decoder = ResolveBlockShape(t5, 1, 2);
  REQUIRE(decoder.ok());
  CHECK(decoder->heads == 6);
  CHECK(decoder->causal);
  CHECK(CarriedSeq(*decoder) == 626);
  CHECK(decoder->relative_buckets == 32);
  CHECK(decoder->relative_max_distance == 128);
  CHECK_FALSE(decoder->gated_gelu);
  auto encoder = ResolveBlockShape(t5, 0, 1);
  REQUIRE(encoder.ok());
  CHECK_FALSE(encoder->causal);
  CHECK(ResolveBlockShape(*CatalogModel("t5-v1.1-base"), 0, 1)->gated_gelu);

  // Parameters: two norms, q/k/v/o, the bias table, the FFN; the decoder's
  // cross-attention with its norm; the first decoder block the encoder's norm.
  const int64_t h = 768, inner = 768, f = 3072;
  TransformerBlock enc(*encoder, BlockOptions{});
  CHECK(ParameterCount(*enc) == 2 * h + 4 * h * inner + 32 * 12 + 2 * h * f);
  BlockShape first = *ResolveBlockShape(t5, 1, 1);
  first.encoder_final_norm = true;
  TransformerBlock dec(first, BlockOptions{});
  CHECK(ParameterCount(*dec) == 4 * h + 8 * h * inner + 32 * 12 + 2 * h * f);

  // The carried activation in, the same shape out.
  v1::ModelSpec tiny = *CatalogModel("t5-test");
  for (int g = 0; g < 2; ++g) {
    TransformerBlock block(*ResolveBlockShape(tiny, g, 1), BlockOptions{});
    torch::Tensor x = torch::randn({2, 40, 64});
    torch::Tensor y = block->forward(x);
    CHECK(y.sizes() == x.sizes());
    // An encoder block passes the decoder's part through; a decoder block the encoder's.
    const int64_t kept = g == 0 ? 32 : 0, length = g == 0 ? 8 : 32;
    CHECK(torch::equal(y.narrow(1, kept, length), x.narrow(1, kept, length)));
  }
}

TEST_CASE("T5 specs the blocks cannot build are refused with the field", "[blocks][t5]") {
  v1::ModelSpec t5 = *CatalogModel("t5-test");
  SECTION("an encoder after the decoder") {
    *t5.add_layers() = t5.layers(0);
    auto shape = ResolveBlockShape(t5, 0, 1);
    REQUIRE_FALSE(shape.ok());
    CHECK_THAT(std::string(shape.status().message()),
               Catch::Contains("layers[2].kind") && Catch::Contains("after a decoder"));
  }
  SECTION("two decoder lengths") {
    *t5.add_layers() = t5.layers(1);
    t5.mutable_layers(2)->set_seq_len(16);
    auto shape = ResolveBlockShape(t5, 1, 1);
    REQUIRE_FALSE(shape.ok());
    CHECK_THAT(std::string(shape.status().message()), Catch::Contains("layers[2].seq_len: 16"));
  }
  SECTION("biases") {
    t5.mutable_layers(0)->set_bias(true);
    auto shape = ResolveBlockShape(t5, 0, 1);
    REQUIRE_FALSE(shape.ok());
    CHECK_THAT(std::string(shape.status().message()), Catch::Contains("layers[0].bias"));
  }
  SECTION("no decoder") {
    t5.mutable_layers()->RemoveLast();
    auto shape = ResolveBlockShape(t5, 0, 1);
    REQUIRE_FALSE(shape.ok());
    CHECK_THAT(std::string(shape.status().message()), Catch::Contains("one decoder group"));
  }
}

}  // namespace
}  // namespace galvatron::runtime
