// Labelled images: synthetic ones are a function of (seed, index), files in
// our format read back as written, and bad files are refused by field.
#include "agent/runtime/inputs/image_data.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "common/json_file.h"
#include "tests/agent/runtime/inputs/image_file_writer.h"
#include "tests/support/test_support.h"

namespace galvatron::runtime {
namespace {

using testing::ImageFileHeader;
using testing::ImageRecord;

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST_CASE("Synthetic images depend only on the seed and index", "[runtime][data]") {
  const ImageShape shape{3, 4, 4};
  auto a = OpenImageData("synthetic", shape, 10, 100, 7);
  auto b = OpenImageData("synthetic", shape, 10, 100, 7);
  auto c = OpenImageData("synthetic", shape, 10, 100, 8);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(c.ok());
  CHECK((*a)->num_samples() == 100);
  std::vector<uint8_t> pa(48), pb(48), pc(48);
  int differ = 0;
  std::vector<int> seen(10, 0);
  for (int64_t i = 0; i < 100; ++i) {
    int64_t la = -1, lb = -1, lc = -1;
    REQUIRE((*a)->Sample(i, pa.data(), &la).ok());
    REQUIRE((*b)->Sample(i, pb.data(), &lb).ok());
    REQUIRE((*c)->Sample(i, pc.data(), &lc).ok());
    CHECK(la == lb);
    CHECK(pa == pb);
    REQUIRE(la >= 0);
    REQUIRE(la < 10);
    ++seen[static_cast<size_t>(la)];
    differ += pa != pc;
  }
  CHECK(differ > 90);  // another seed, other images
  for (int count : seen) CHECK(count > 0);
}

TEST_CASE("An image file reads back what was written", "[runtime][data]") {
  testing::TempDir dir;
  const ImageShape shape{1, 2, 3};
  const std::vector<uint8_t> first{0, 1, 2, 3, 4, 5}, second{250, 251, 252, 253, 254, 255};
  const std::string path = dir.File("x.img");
  REQUIRE(WriteTextFile(
              path, ImageFileHeader(2, 1, 2, 3) + ImageRecord(4, first) + ImageRecord(0, second))
              .ok());
  auto source = OpenImageData(path, shape, 5, 0, 0);
  REQUIRE(source.ok());
  CHECK((*source)->num_samples() == 2);
  CHECK_THAT((*source)->Describe(), Catch::Contains("2 images of 1x2x3"));
  std::vector<uint8_t> pixels(6);
  int64_t label = -1;
  REQUIRE((*source)->Sample(1, pixels.data(), &label).ok());
  CHECK(label == 0);
  CHECK(pixels == second);
  REQUIRE((*source)->Sample(0, pixels.data(), &label).ok());
  CHECK(label == 4);
  CHECK(pixels == first);
}

TEST_CASE("Bad image files are refused by field", "[runtime][data]") {
  testing::TempDir dir;
  const ImageShape shape{1, 2, 3};
  const std::vector<uint8_t> pixels(6, 9);
  auto open = [&](const std::string& name, const std::string& bytes) {
    REQUIRE(WriteTextFile(dir.File(name), bytes).ok());
    return OpenImageData(dir.File(name), shape, 5, 0, 0);
  };
  auto missing = OpenImageData(dir.File("none.img"), shape, 5, 0, 0);
  CHECK(missing.status().code() == absl::StatusCode::kNotFound);
  auto magic = open("magic.img",
                    "NOTIMAGE" + ImageFileHeader(1, 1, 2, 3).substr(8) + ImageRecord(0, pixels));
  CHECK_THAT(Message(magic.status()), Catch::Contains("GLVIMG01"));
  auto width =
      open("width.img", ImageFileHeader(1, 1, 2, 4) + ImageRecord(0, std::vector<uint8_t>(8, 1)));
  CHECK_THAT(Message(width.status()), Catch::Contains("width 4") && Catch::Contains("expects 3"));
  auto channels =
      open("channels.img", ImageFileHeader(1, 3, 2, 3) + ImageRecord(0, std::vector<uint8_t>(18)));
  CHECK_THAT(Message(channels.status()), Catch::Contains("channels 3"));
  auto short_file = open("short.img", ImageFileHeader(3, 1, 2, 3) + ImageRecord(0, pixels));
  CHECK_THAT(Message(short_file.status()), Catch::Contains("promises 3 images"));
  auto label = open("label.img", ImageFileHeader(1, 1, 2, 3) + ImageRecord(5, pixels));
  REQUIRE(label.ok());  // labels are checked as they are read
  std::vector<uint8_t> out(6);
  int64_t value = 0;
  absl::Status read = (*label)->Sample(0, out.data(), &value);
  CHECK(read.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(Message(read), Catch::Contains("label 5") && Catch::Contains("0..4"));
  CHECK(OpenImageData("synthetic", shape, 0, 10, 1).status().code() ==
        absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace galvatron::runtime
