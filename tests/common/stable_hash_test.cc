#include "common/stable_hash.h"

#include <catch2/catch.hpp>

#include "galvatron/v1/hardware.pb.h"

namespace galvatron {
namespace {

TEST_CASE("Fnv1a64 is the standard FNV-1a and chains") {
  // Published FNV-1a 64 test vectors.
  CHECK(Fnv1a64("") == 0xcbf29ce484222325ULL);
  CHECK(Fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(Fnv1a64("foobar") == 0x85944171f73967e8ULL);
  CHECK(Fnv1a64Hex("a") == "af63dc4c8601ec8c");
  CHECK(Fnv1a64Hex("a", 10) == "af63dc4c86");
  CHECK(Fnv1a64Hex("a", 40) == "af63dc4c8601ec8c");
  // Folding in pieces equals folding the whole.
  CHECK(Fnv1a64("bar", Fnv1a64("foo")) == Fnv1a64("foobar"));
  // Another starting state is another stream.
  CHECK(Fnv1a64("a", 1) != Fnv1a64("a"));
}

TEST_CASE("DeterministicBytes round-trips and is stable") {
  v1::HardwareProfile p;
  p.set_cluster("c1");
  p.set_num_nodes(2);
  const std::string bytes = DeterministicBytes(p);
  CHECK(bytes == DeterministicBytes(p));
  v1::HardwareProfile back;
  REQUIRE(back.ParseFromString(bytes));
  CHECK(back.cluster() == "c1");
  CHECK(back.num_nodes() == 2);
}

}  // namespace
}  // namespace galvatron
