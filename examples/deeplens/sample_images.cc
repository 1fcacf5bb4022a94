#include "sample_images.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "image_features.h"

namespace deeplens {
namespace {

// splitmix64: a small, well-mixed deterministic generator.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Uniform(double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(Next() >> 11) / 9007199254740992.0;
  }

 private:
  uint64_t state_;
};

uint8_t Clamp(double v) { return static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L)); }

uint32_t Crc32(std::string_view bytes) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : bytes) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xffffffffu;
}

void PutBigEndian(std::string* out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

void PutChunk(std::string* out, std::string_view type, std::string_view data) {
  PutBigEndian(out, static_cast<uint32_t>(data.size()));
  std::string body(type);
  body.append(data);
  out->append(body);
  PutBigEndian(out, Crc32(body));
}

std::string MustPng(const RgbImage& image) {
  std::string error;
  auto png = EncodePng(image, &error);
  if (!png) throw std::runtime_error("encoding a sample PNG: " + error);
  return std::move(*png);
}

std::string MustJpeg(const RgbImage& image, int quality) {
  std::string error;
  auto jpeg = EncodeJpeg(image, quality, &error);
  if (!jpeg) throw std::runtime_error("encoding a sample JPEG: " + error);
  return std::move(*jpeg);
}

}  // namespace

RgbImage GenerateScene(uint64_t seed, uint32_t width, uint32_t height) {
  Rng rng(seed * 0x2545f4914f6cdd1dULL + 1);
  RgbImage img;
  img.width = width;
  img.height = height;
  img.rgb.resize(static_cast<size_t>(width) * height * 3);
  std::array<std::array<double, 3>, 4> corners;
  for (auto& c : corners) {
    for (double& ch : c) ch = rng.Uniform(0, 255);
  }
  const double wave_fx = rng.Uniform(1, 4), wave_fy = rng.Uniform(1, 4);
  const double wave_phase = rng.Uniform(0, 2 * std::numbers::pi);
  for (uint32_t y = 0; y < height; ++y) {
    const double fy = static_cast<double>(y) / std::max<uint32_t>(1, height - 1);
    for (uint32_t x = 0; x < width; ++x) {
      const double fx = static_cast<double>(x) / std::max<uint32_t>(1, width - 1);
      const double wave =
          40 * std::sin(2 * std::numbers::pi * (wave_fx * fx + wave_fy * fy) + wave_phase);
      uint8_t* p = img.rgb.data() + (static_cast<size_t>(y) * width + x) * 3;
      for (size_t c = 0; c < 3; ++c) {
        const double top = corners[0][c] * (1 - fx) + corners[1][c] * fx;
        const double bottom = corners[2][c] * (1 - fx) + corners[3][c] * fx;
        p[c] = Clamp(top * (1 - fy) + bottom * fy + wave);
      }
    }
  }
  const int shapes = 4 + static_cast<int>(rng.Next() % 4);
  for (int s = 0; s < shapes; ++s) {
    const bool circle = rng.Next() % 2 == 0;
    const double cx = rng.Uniform(0, width), cy = rng.Uniform(0, height);
    const double r = rng.Uniform(0.12, 0.3) * std::min(width, height);
    const std::array<uint8_t, 3> colour = {Clamp(rng.Uniform(0, 255)), Clamp(rng.Uniform(0, 255)),
                                           Clamp(rng.Uniform(0, 255))};
    for (uint32_t y = 0; y < height; ++y) {
      for (uint32_t x = 0; x < width; ++x) {
        const double dx = x - cx, dy = y - cy;
        const bool inside =
            circle ? dx * dx + dy * dy <= r * r : std::abs(dx) <= r && std::abs(dy) <= r * 0.6;
        if (!inside) continue;
        uint8_t* p = img.rgb.data() + (static_cast<size_t>(y) * width + x) * 3;
        std::copy(colour.begin(), colour.end(), p);
      }
    }
  }
  return img;
}

RgbImage Brighten(const RgbImage& image, int delta) {
  RgbImage out = image;
  for (uint8_t& v : out.rgb) v = Clamp(static_cast<double>(v) + delta);
  return out;
}

std::string PngDeclaring(uint32_t width, uint32_t height) {
  std::string out("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  PutBigEndian(&ihdr, width);
  PutBigEndian(&ihdr, height);
  ihdr.append(std::string("\x08\x02\x00\x00\x00", 5));  // 8-bit RGB, deflate, no interlace
  PutChunk(&out, "IHDR", ihdr);
  PutChunk(&out, "IDAT", "");
  PutChunk(&out, "IEND", "");
  return out;
}

std::vector<SampleImage> MakeSampleSet(uint64_t seed, const std::string& tenant_a,
                                       const std::string& tenant_b, uint64_t max_bytes) {
  const RgbImage sunrise = GenerateScene(seed + 1, 320, 240);
  const RgbImage harbour = GenerateScene(seed + 2, 320, 240);
  const RgbImage forest = GenerateScene(seed + 3, 256, 256);
  const RgbImage city = GenerateScene(seed + 4, 400, 300);
  const RgbImage desert = GenerateScene(seed + 5, 300, 200);
  const std::string sunrise_png = MustPng(sunrise);
  const std::string harbour_jpg = MustJpeg(harbour, 90);
  const std::string desert_png = MustPng(desert);

  std::vector<SampleImage> set;
  auto make = [](const std::string& tenant, const std::string& name, std::string bytes) {
    SampleImage s;
    s.tenant_id = tenant;
    s.file_name = name;
    s.bytes = std::move(bytes);
    return s;
  };
  auto original = [&](const std::string& tenant, const std::string& name, std::string bytes) {
    set.push_back(make(tenant, name, std::move(bytes)));
  };
  auto duplicate = [&](const std::string& tenant, const std::string& name, std::string bytes,
                       const std::string& of) {
    SampleImage s = make(tenant, name, std::move(bytes));
    s.expect = Expect::kDuplicate;
    s.original = of;
    s.phase = 2;
    set.push_back(std::move(s));
  };
  auto failed = [&](const std::string& tenant, const std::string& name, std::string bytes,
                    RejectCode code) {
    SampleImage s = make(tenant, name, std::move(bytes));
    s.expect = Expect::kFailed;
    s.reject = code;
    set.push_back(std::move(s));
  };
  auto refused = [&](const std::string& tenant, const std::string& name, std::string bytes,
                     int status) {
    SampleImage s = make(tenant, name, std::move(bytes));
    s.expect = Expect::kRefused;
    s.http_status = status;
    set.push_back(std::move(s));
  };

  original(tenant_a, "sunrise.png", sunrise_png);
  original(tenant_a, "harbour.jpg", harbour_jpg);
  original(tenant_a, "forest.png", MustPng(forest));
  original(tenant_a, "city.jpg", MustJpeg(city, 85));
  original(tenant_b, "sunrise-b.png", sunrise_png);  // same bytes, other tenant
  original(tenant_b, "desert.png", desert_png);

  failed(tenant_a, "truncated.png", sunrise_png.substr(0, sunrise_png.size() / 2),
         RejectCode::kUndecodable);
  std::string corrupt = MustJpeg(city, 85);
  // Overwrite the middle of the entropy-coded data: the markers before it
  // stay valid, so the decoder gets as far as the pixels.
  for (size_t i = corrupt.size() / 2; i < corrupt.size() / 2 + 64; ++i) {
    corrupt[i] = static_cast<char>(0xa5 ^ static_cast<unsigned>(i));
  }
  failed(tenant_a, "corrupt.jpg", std::move(corrupt), RejectCode::kUndecodable);
  failed(tenant_b, "notes.txt", "Meeting notes: bring the harbour photos.\n",
         RejectCode::kNotAnImage);
  failed(tenant_b, "anim.gif", std::string("GIF89a\x01\x00\x01\x00\x00\x00\x00;", 13),
         RejectCode::kUnsupportedFormat);
  failed(tenant_a, "huge.png", PngDeclaring(30000, 30000), RejectCode::kTooManyPixels);

  refused(tenant_a, "empty.png", "", 400);
  std::string too_large(max_bytes + 1, '\0');
  too_large.replace(0, 3, "\xff\xd8\xff");
  refused(tenant_b, "too-large.jpg", std::move(too_large), 413);

  duplicate(tenant_a, "sunrise-copy.png", sunrise_png, "sunrise.png");
  duplicate(tenant_a, "harbour-small.jpg", MustJpeg(Resample(harbour, 240, 180), 75),
            "harbour.jpg");
  duplicate(tenant_a, "forest-bright.png", MustPng(Brighten(forest, 12)), "forest.png");
  duplicate(tenant_b, "desert-recompressed.jpg", MustJpeg(desert, 70), "desert.png");
  return set;
}

}  // namespace deeplens
