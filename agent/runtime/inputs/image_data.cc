#include "agent/runtime/inputs/image_data.h"

#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "agent/runtime/inputs/token_data.h"

namespace galvatron::runtime {
namespace {

class SyntheticImages final : public ImageSource {
 public:
  SyntheticImages(const ImageShape& shape, int classes, int64_t samples, uint64_t seed)
      : shape_(shape), classes_(classes), samples_(samples), seed_(seed) {}
  int64_t num_samples() const override { return samples_; }
  absl::Status Sample(int64_t index, uint8_t* pixels, int64_t* label) override {
    const uint64_t base = Mix(seed_ ^ Mix(static_cast<uint64_t>(index)));
    *label = static_cast<int64_t>(base % static_cast<uint64_t>(classes_));
    const int level = classes_ > 1 ? static_cast<int>(*label * 191 / (classes_ - 1)) : 96;
    for (int64_t i = 0; i < shape_.pixels(); ++i) {
      pixels[i] = static_cast<uint8_t>(level + Mix(base ^ static_cast<uint64_t>(i)) % 64);
    }
    return absl::OkStatus();
  }
  std::string Describe() const override {
    return absl::StrCat("synthetic images: ", samples_, " of ", shape_.channels, "x", shape_.height,
                        "x", shape_.width, ", ", classes_, " classes");
  }

 private:
  ImageShape shape_;
  int classes_;
  int64_t samples_;
  uint64_t seed_;
};

uint32_t ReadU32(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

class ImageFile final : public ImageSource {
 public:
  ImageFile(std::string path, std::ifstream in, const ImageShape& shape, int classes, int64_t count)
      : path_(std::move(path)),
        in_(std::move(in)),
        shape_(shape),
        classes_(classes),
        count_(count) {}
  int64_t num_samples() const override { return count_; }
  absl::Status Sample(int64_t index, uint8_t* pixels, int64_t* label) override {
    const int64_t record = 4 + shape_.pixels();
    in_.seekg(static_cast<std::streamoff>(kHeader + index * record));
    unsigned char raw[4];
    in_.read(reinterpret_cast<char*>(raw), 4);
    in_.read(reinterpret_cast<char*>(pixels), static_cast<std::streamsize>(shape_.pixels()));
    if (!in_) {
      in_.clear();
      return absl::DataLossError(absl::StrCat(path_, ": record ", index, " cannot be read"));
    }
    const uint32_t value = ReadU32(raw);
    if (value >= static_cast<uint32_t>(classes_)) {
      return absl::InvalidArgumentError(absl::StrCat(path_, ": record ", index, ": label ", value,
                                                     ", expected 0..", classes_ - 1,
                                                     " (the model's vision.num_classes)"));
    }
    *label = value;
    return absl::OkStatus();
  }
  std::string Describe() const override {
    return absl::StrCat("image file ", path_, ": ", count_, " images of ", shape_.channels, "x",
                        shape_.height, "x", shape_.width);
  }

  static constexpr int64_t kHeader = 8 + 4 * 4;

 private:
  std::string path_;
  std::ifstream in_;
  ImageShape shape_;
  int classes_;
  int64_t count_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ImageSource>> OpenImageData(const std::string& data,
                                                           const ImageShape& shape, int num_classes,
                                                           int64_t synthetic_samples,
                                                           uint64_t seed) {
  if (num_classes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("vision.num_classes: ", num_classes, ", expected >= 1"));
  }
  if (data == "synthetic") {
    return std::unique_ptr<ImageSource>(
        new SyntheticImages(shape, num_classes, synthetic_samples, seed));
  }
  std::ifstream in(data, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("--data: cannot open ", data));
  unsigned char header[ImageFile::kHeader];
  in.read(reinterpret_cast<char*>(header), sizeof(header));
  if (!in || std::memcmp(header, kImageFileMagic, sizeof(kImageFileMagic)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--data: ", data,
                     " is not an image file (expected the magic \"GLVIMG01\" and a header "
                     "of count, channels, height, width; docs/data.md)"));
  }
  const uint32_t count = ReadU32(header + 8);
  const ImageShape file{static_cast<int>(ReadU32(header + 12)),
                        static_cast<int>(ReadU32(header + 16)),
                        static_cast<int>(ReadU32(header + 20))};
  const std::pair<const char*, std::pair<int, int>> fields[] = {
      {"channels", {file.channels, shape.channels}},
      {"height", {file.height, shape.height}},
      {"width", {file.width, shape.width}}};
  for (const auto& [name, values] : fields) {
    if (values.first != values.second) {
      return absl::InvalidArgumentError(absl::StrCat("--data: ", data, ": ", name, " ",
                                                     values.first, ", but the model expects ",
                                                     values.second));
    }
  }
  if (count == 0) return absl::InvalidArgumentError(absl::StrCat("--data: ", data, ": no images"));
  std::error_code error;
  const auto size = std::filesystem::file_size(data, error);
  const uint64_t needed =
      ImageFile::kHeader + uint64_t{count} * (4 + static_cast<uint64_t>(shape.pixels()));
  if (error || size < needed) {
    return absl::InvalidArgumentError(absl::StrCat("--data: ", data, ": ", size,
                                                   " bytes, but its header promises ", count,
                                                   " images (", needed, " bytes)"));
  }
  return std::unique_ptr<ImageSource>(
      new ImageFile(data, std::move(in), shape, num_classes, count));
}

}  // namespace galvatron::runtime
