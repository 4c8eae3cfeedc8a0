// Labelled images for vision models (ViT): synthetic ones derived from the
// seed, or a file of our own format (docs/data.md), all little-endian:
//
//   header   8 bytes   magic "GLVIMG01"
//            4 × u32   count, channels, height, width
//   records  count ×   u32 label, then channels·height·width u8 pixels,
//                      channel by channel, each row by row
//
// Pixels become floats in [0, 1] (pixel / 255) when batched.
//
// Thread model: a source is thread-compatible (one reader per source).
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace galvatron::runtime {

inline constexpr char kImageFileMagic[8] = {'G', 'L', 'V', 'I', 'M', 'G', '0', '1'};

struct ImageShape {
  int channels = 3;
  int height = 0;
  int width = 0;
  int64_t pixels() const { return int64_t{channels} * height * width; }
};

class ImageSource {
 public:
  virtual ~ImageSource() = default;
  virtual int64_t num_samples() const = 0;
  // Sample `index`'s pixels (shape().pixels() bytes) and label.
  virtual absl::Status Sample(int64_t index, uint8_t* pixels, int64_t* label) = 0;
  virtual std::string Describe() const = 0;
};

// "synthetic": `synthetic_samples` images from `seed`, each label's images
// brighter than the previous label's (so a model can learn them), plus
// noise. Otherwise the file `data` in the format above. INVALID_ARGUMENT
// naming the field when the file's channels, height or width differ from
// `shape`, a label is outside [0, num_classes), or the file is shorter than
// its header says; NOT_FOUND when it cannot be opened.
absl::StatusOr<std::unique_ptr<ImageSource>> OpenImageData(const std::string& data,
                                                           const ImageShape& shape, int num_classes,
                                                           int64_t synthetic_samples,
                                                           uint64_t seed);

}  // namespace galvatron::runtime
