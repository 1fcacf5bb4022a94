// examples/deeplens/image_features.h — the features DeepLens extracts from
// an image's pixels, in place of the seed's ResNet50/CLIP embedding
// ("Feature Extraction Service"): a colour histogram, the vector the index
// stores, and a perceptual hash, which near-duplicate detection compares.
//
// Both are computed here, in C++, from decoded RGB pixels; nothing is
// downloaded. Threads: every function is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image_codec.h"

namespace deeplens {

// The feature_model of ImageProcessedEvent: what `features` and
// `perceptual_hash` hold.
inline constexpr const char* kFeatureModel = "rgb-histogram-4x4x4+phash-dct-64";

// 4 bins per channel (each channel's top two bits), 4×4×4 = 64 bins, bin
// index r*16 + g*4 + b, each the fraction of the pixels that fall in it
// (they sum to 1). Scaling an image or re-encoding it barely moves them.
inline constexpr size_t kHistogramBins = 64;
std::vector<double> ColourHistogram(const RgbImage& image);

// A 64-bit DCT perceptual hash (pHash): the image in greyscale (BT.601
// luma), resampled by area averaging to 32×32, its 2-D DCT-II (orthonormal),
// the 8×8 lowest frequencies, and one bit per coefficient: 1 when it is
// above the median of the 64. Bit 63 is coefficient (0,0), then row by row.
// Scaling, mild recompression and small brightness changes leave most bits
// alone; a different picture flips about half of them.
uint64_t PerceptualHash(const RgbImage& image);

// Bits that differ.
int HammingDistance(uint64_t a, uint64_t b);

// 16 lower-case hex digits, and back (nullopt for anything else).
std::string HashToHex(uint64_t hash);
std::optional<uint64_t> HashFromHex(std::string_view hex);

// |image| resampled to |width| × |height| by area averaging (each output
// pixel the mean of the input area it covers); for scaling sample images.
RgbImage Resample(const RgbImage& image, uint32_t width, uint32_t height);

}  // namespace deeplens
