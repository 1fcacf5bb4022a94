#include "image_features.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <numbers>

namespace deeplens {
namespace {

// Resamples |n_in| samples (stride |step| apart, starting at |in|) to |n_out|
// by area averaging: output i covers input [i·n_in/n_out, (i+1)·n_in/n_out).
void ResampleLine(const double* in, size_t n_in, size_t step, double* out, size_t n_out,
                  size_t out_step) {
  const double scale = static_cast<double>(n_in) / static_cast<double>(n_out);
  for (size_t i = 0; i < n_out; ++i) {
    const double lo = static_cast<double>(i) * scale;
    const double hi = lo + scale;
    double sum = 0;
    for (size_t k = static_cast<size_t>(lo); k < n_in && static_cast<double>(k) < hi; ++k) {
      const double from = std::max(lo, static_cast<double>(k));
      const double to = std::min(hi, static_cast<double>(k + 1));
      sum += in[k * step] * (to - from);
    }
    out[i * out_step] = sum / scale;
  }
}

// |plane| (w × h) resampled to |ow| × |oh|, rows then columns.
std::vector<double> ResamplePlane(const std::vector<double>& plane, size_t w, size_t h, size_t ow,
                                  size_t oh) {
  std::vector<double> rows(ow * h);
  for (size_t y = 0; y < h; ++y) ResampleLine(&plane[y * w], w, 1, &rows[y * ow], ow, 1);
  std::vector<double> out(ow * oh);
  for (size_t x = 0; x < ow; ++x) ResampleLine(&rows[x], h, ow, &out[x], oh, ow);
  return out;
}

constexpr size_t kHashSide = 32;
constexpr size_t kLowSide = 8;

}  // namespace

std::vector<double> ColourHistogram(const RgbImage& image) {
  std::vector<double> bins(kHistogramBins, 0.0);
  const size_t pixels = static_cast<size_t>(image.width) * image.height;
  if (pixels == 0) return bins;
  std::vector<uint64_t> counts(kHistogramBins, 0);
  for (size_t i = 0; i < pixels; ++i) {
    const uint8_t* p = image.rgb.data() + i * 3;
    ++counts[(p[0] >> 6) * 16 + (p[1] >> 6) * 4 + (p[2] >> 6)];
  }
  for (size_t b = 0; b < kHistogramBins; ++b) {
    bins[b] = static_cast<double>(counts[b]) / static_cast<double>(pixels);
  }
  return bins;
}

uint64_t PerceptualHash(const RgbImage& image) {
  const size_t w = image.width, h = image.height;
  if (w == 0 || h == 0) return 0;
  std::vector<double> luma(w * h);
  for (size_t i = 0; i < w * h; ++i) {
    const uint8_t* p = image.rgb.data() + i * 3;
    luma[i] = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
  }
  const std::vector<double> small = ResamplePlane(luma, w, h, kHashSide, kHashSide);
  // cosines[u][x] = α(u)·cos((2x+1)uπ / 2N), orthonormal DCT-II.
  double cosines[kLowSide][kHashSide];
  for (size_t u = 0; u < kLowSide; ++u) {
    const double alpha = std::sqrt((u == 0 ? 1.0 : 2.0) / kHashSide);
    for (size_t x = 0; x < kHashSide; ++x) {
      cosines[u][x] =
          alpha * std::cos((2.0 * static_cast<double>(x) + 1.0) * static_cast<double>(u) *
                           std::numbers::pi / (2.0 * kHashSide));
    }
  }
  // Separable: first along x (rows), then along y.
  double along_x[kHashSide][kLowSide];
  for (size_t y = 0; y < kHashSide; ++y) {
    for (size_t u = 0; u < kLowSide; ++u) {
      double s = 0;
      for (size_t x = 0; x < kHashSide; ++x) s += small[y * kHashSide + x] * cosines[u][x];
      along_x[y][u] = s;
    }
  }
  std::array<double, kLowSide * kLowSide> coef{};
  for (size_t v = 0; v < kLowSide; ++v) {
    for (size_t u = 0; u < kLowSide; ++u) {
      double s = 0;
      for (size_t y = 0; y < kHashSide; ++y) s += along_x[y][u] * cosines[v][y];
      coef[v * kLowSide + u] = s;
    }
  }
  std::array<double, kLowSide* kLowSide> sorted = coef;
  std::sort(sorted.begin(), sorted.end());
  const double median = (sorted[31] + sorted[32]) / 2;
  uint64_t hash = 0;
  for (size_t i = 0; i < coef.size(); ++i) {
    hash = (hash << 1) | (coef[i] > median ? 1u : 0u);
  }
  return hash;
}

int HammingDistance(uint64_t a, uint64_t b) { return std::popcount(a ^ b); }

std::string HashToHex(uint64_t hash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kDigits[hash & 0xf];
    hash >>= 4;
  }
  return out;
}

std::optional<uint64_t> HashFromHex(std::string_view hex) {
  if (hex.size() != 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : hex) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

RgbImage Resample(const RgbImage& image, uint32_t width, uint32_t height) {
  RgbImage out;
  out.width = width;
  out.height = height;
  out.rgb.resize(static_cast<size_t>(width) * height * 3);
  const size_t n = static_cast<size_t>(image.width) * image.height;
  for (size_t c = 0; c < 3; ++c) {
    std::vector<double> plane(n);
    for (size_t i = 0; i < n; ++i) plane[i] = image.rgb[i * 3 + c];
    const std::vector<double> r = ResamplePlane(plane, image.width, image.height, width, height);
    for (size_t i = 0; i < r.size(); ++i) {
      out.rgb[i * 3 + c] = static_cast<uint8_t>(std::clamp(std::lround(r[i]), 0L, 255L));
    }
  }
  return out;
}

}  // namespace deeplens
