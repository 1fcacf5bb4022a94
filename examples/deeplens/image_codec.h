// examples/deeplens/image_codec.h — what an uploaded file is and its pixels:
// the format sniffed from its magic bytes, decoded with libpng or libjpeg
// into 8-bit RGB, and the encoders the sample images are written with.
//
// The bytes are untrusted (anyone who can reach the upload API chooses
// them), so decoding is bounded and cannot crash:
//  - the size of the file and the pixel count and sides the header declares
//    are checked against ImageLimits before a pixel buffer is allocated;
//  - libpng is used through its "simplified" API (png_image_*), which
//    catches every libpng error inside libpng and reports it as a message;
//  - libjpeg's error_exit longjmps back to a setjmp in a function whose
//    frame, and every frame between, holds only trivially destructible
//    objects (no C++ destructor is skipped), and its warnings (libjpeg
//    "recovers" from a truncated or corrupt stream by inventing grey
//    pixels) are counted and turn the image into a rejection.
// A rejection is a value (ImageRejection) with a stable code and a message
// naming the problem; nothing here throws except std::bad_alloc.
//
// Threads: every function is thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace deeplens {

enum class ImageFormat : uint8_t { kUnknown, kPng, kJpeg, kGif, kWebp, kBmp, kTiff };
// "unknown", "png", "jpeg", "gif", "webp", "bmp", "tiff".
std::string_view ImageFormatName(ImageFormat f);
// "image/png", ...; "application/octet-stream" for kUnknown.
std::string_view ImageMimeType(ImageFormat f);

// The format |bytes| start like (magic bytes only; nothing is decoded).
ImageFormat SniffFormat(std::string_view bytes);

struct ImageLimits {
  // Largest file accepted, in bytes (the upload API's request limit too).
  uint64_t max_bytes = uint64_t{10} << 20;
  // Largest image accepted: width × height, and either side. A 10 MiB
  // file can declare gigapixels; these keep a decode's memory bounded
  // (max_pixels × 3 bytes).
  uint64_t max_pixels = uint64_t{40'000'000};
  uint32_t max_side = 16384;
};

// Why an image was rejected. The names are stable: they are the
// reason_code of ImageFailedEvent.
enum class RejectCode : uint8_t {
  kEmpty,              // zero bytes
  kTooLarge,           // more bytes than max_bytes
  kNotAnImage,         // no known magic bytes
  kUnsupportedFormat,  // a known image format other than PNG or JPEG
  kTooManyPixels,      // declared dimensions beyond max_pixels / max_side
  kUndecodable,        // corrupt or truncated data
};
// "empty", "too_large", "not_an_image", "unsupported_format",
// "too_many_pixels", "undecodable".
std::string_view RejectCodeName(RejectCode c);

struct ImageRejection {
  RejectCode code = RejectCode::kUndecodable;
  std::string message;  // what is wrong, e.g. "PNG: IDAT: CRC error"
};

// 8-bit RGB pixels, rows top to bottom, 3 bytes per pixel.
struct RgbImage {
  uint32_t width = 0;
  uint32_t height = 0;
  std::vector<uint8_t> rgb;
  const uint8_t* Pixel(uint32_t x, uint32_t y) const {
    return rgb.data() + (static_cast<size_t>(y) * width + x) * 3;
  }
};

struct DecodedImage {
  ImageFormat format = ImageFormat::kUnknown;
  RgbImage image;
};

// Checks |bytes| against |limits| and decodes them (PNG or JPEG only).
std::variant<DecodedImage, ImageRejection> DecodeImage(std::string_view bytes,
                                                       const ImageLimits& limits = {});

// Encoders for generated images. Return the file's bytes, or nullopt when
// the library refuses (|error| says why).
std::optional<std::string> EncodePng(const RgbImage& image, std::string* error = nullptr);
// |quality| 1..100.
std::optional<std::string> EncodeJpeg(const RgbImage& image, int quality,
                                      std::string* error = nullptr);

}  // namespace deeplens
