#include "image_codec.h"

#include <fmt/format.h>
#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

extern "C" {
#include <jpeglib.h>
}

namespace deeplens {
namespace {

ImageRejection Reject(RejectCode code, std::string message) {
  return ImageRejection{code, std::move(message)};
}

bool DimensionsOk(uint64_t width, uint64_t height, const ImageLimits& limits) {
  return width > 0 && height > 0 && width <= limits.max_side && height <= limits.max_side &&
         width * height <= limits.max_pixels;
}

// Checks declared dimensions before anything is allocated for them.
std::optional<ImageRejection> CheckDimensions(std::string_view what, uint64_t width,
                                              uint64_t height, const ImageLimits& limits) {
  if (width == 0 || height == 0) {
    return Reject(RejectCode::kUndecodable,
                  fmt::format("{}: the header declares {}x{} pixels", what, width, height));
  }
  if (width > limits.max_side || height > limits.max_side || width * height > limits.max_pixels) {
    return Reject(RejectCode::kTooManyPixels,
                  fmt::format("{}: {}x{} pixels is beyond the limit of {} pixels and {} per side",
                              what, width, height, limits.max_pixels, limits.max_side));
  }
  return std::nullopt;
}

std::variant<DecodedImage, ImageRejection> DecodePng(std::string_view bytes,
                                                     const ImageLimits& limits) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  // The simplified API keeps libpng's longjmp inside libpng: failures come
  // back as a zero return and image.message.
  if (png_image_begin_read_from_memory(&image, bytes.data(), bytes.size()) == 0) {
    std::string why = image.message;
    png_image_free(&image);
    return Reject(RejectCode::kUndecodable, "PNG: " + why);
  }
  if (auto bad = CheckDimensions("PNG", image.width, image.height, limits)) {
    png_image_free(&image);
    return *bad;
  }
  image.format = PNG_FORMAT_RGB;  // alpha is composited onto black
  DecodedImage out;
  out.format = ImageFormat::kPng;
  out.image.width = image.width;
  out.image.height = image.height;
  out.image.rgb.resize(PNG_IMAGE_SIZE(image));
  if (png_image_finish_read(&image, nullptr, out.image.rgb.data(), 0, nullptr) == 0) {
    std::string why = image.message;
    png_image_free(&image);
    return Reject(RejectCode::kUndecodable, "PNG: " + why);
  }
  png_image_free(&image);
  return out;
}

// libjpeg's error manager, extended with the jump target and what went
// wrong. Trivially destructible, like everything a longjmp may skip.
struct JpegErrors {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  int warnings;
  char first_warning[JMSG_LENGTH_MAX];
};

extern "C" void JpegErrorExit(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

extern "C" void JpegEmitMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  auto* e = reinterpret_cast<JpegErrors*>(cinfo->err);
  if (e->warnings++ == 0) (*cinfo->err->format_message)(cinfo, e->first_warning);
}

void InitJpegErrors(JpegErrors* e) {
  jpeg_std_error(&e->pub);
  e->pub.error_exit = JpegErrorExit;
  e->pub.emit_message = JpegEmitMessage;
  e->message[0] = '\0';
  e->warnings = 0;
  e->first_warning[0] = '\0';
}

enum class JpegStep : int { kOk, kFailed, kTooManyPixels };

// The whole libjpeg session. Holds no object with a destructor: a longjmp
// from libjpeg lands on the setjmp below and skips only libjpeg's frames.
// |out| lives in the caller's frame and is resized here between libjpeg
// calls, never during one.
JpegStep RunJpegDecode(const unsigned char* data, unsigned long size, const ImageLimits* limits,
                       jpeg_decompress_struct* cinfo, JpegErrors* errors,
                       std::vector<uint8_t>* out) {
  InitJpegErrors(errors);
  cinfo->err = &errors->pub;
  if (setjmp(errors->jump) != 0) {
    jpeg_destroy_decompress(cinfo);
    return JpegStep::kFailed;
  }
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, data, size);
  jpeg_read_header(cinfo, TRUE);
  if (!DimensionsOk(cinfo->image_width, cinfo->image_height, *limits)) {
    jpeg_destroy_decompress(cinfo);
    return JpegStep::kTooManyPixels;
  }
  cinfo->out_color_space = JCS_RGB;
  jpeg_start_decompress(cinfo);
  const size_t stride = static_cast<size_t>(cinfo->output_width) * 3;
  out->resize(stride * cinfo->output_height);
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = out->data() + stride * cinfo->output_scanline;
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  jpeg_destroy_decompress(cinfo);
  return JpegStep::kOk;
}

std::variant<DecodedImage, ImageRejection> DecodeJpeg(std::string_view bytes,
                                                      const ImageLimits& limits) {
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  std::memset(&cinfo, 0, sizeof cinfo);
  DecodedImage out;
  out.format = ImageFormat::kJpeg;
  const JpegStep step = RunJpegDecode(reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<unsigned long>(bytes.size()), &limits, &cinfo,
                                      &errors, &out.image.rgb);
  if (step == JpegStep::kTooManyPixels) {
    return *CheckDimensions("JPEG", cinfo.image_width, cinfo.image_height, limits);
  }
  if (step == JpegStep::kFailed) {
    return Reject(RejectCode::kUndecodable, fmt::format("JPEG: {}", errors.message));
  }
  if (errors.warnings > 0) {
    // libjpeg filled what it could not read; the image is not what was sent.
    return Reject(RejectCode::kUndecodable,
                  fmt::format("JPEG: corrupt or truncated data: {}", errors.first_warning));
  }
  out.image.width = cinfo.output_width;
  out.image.height = cinfo.output_height;
  return out;
}

JpegStep RunJpegEncode(const RgbImage* image, int quality, jpeg_compress_struct* cinfo,
                       JpegErrors* errors, unsigned char** buffer, unsigned long* size) {
  InitJpegErrors(errors);
  cinfo->err = &errors->pub;
  if (setjmp(errors->jump) != 0) {
    jpeg_destroy_compress(cinfo);
    return JpegStep::kFailed;
  }
  jpeg_create_compress(cinfo);
  jpeg_mem_dest(cinfo, buffer, size);
  cinfo->image_width = image->width;
  cinfo->image_height = image->height;
  cinfo->input_components = 3;
  cinfo->in_color_space = JCS_RGB;
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, quality, TRUE);
  jpeg_start_compress(cinfo, TRUE);
  const size_t stride = static_cast<size_t>(image->width) * 3;
  while (cinfo->next_scanline < cinfo->image_height) {
    // libjpeg takes non-const rows but does not write to them.
    JSAMPROW row = const_cast<JSAMPROW>(image->rgb.data() + stride * cinfo->next_scanline);
    jpeg_write_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_compress(cinfo);
  jpeg_destroy_compress(cinfo);
  return JpegStep::kOk;
}

}  // namespace

std::string_view ImageFormatName(ImageFormat f) {
  switch (f) {
    case ImageFormat::kPng:
      return "png";
    case ImageFormat::kJpeg:
      return "jpeg";
    case ImageFormat::kGif:
      return "gif";
    case ImageFormat::kWebp:
      return "webp";
    case ImageFormat::kBmp:
      return "bmp";
    case ImageFormat::kTiff:
      return "tiff";
    case ImageFormat::kUnknown:
      break;
  }
  return "unknown";
}

std::string_view ImageMimeType(ImageFormat f) {
  switch (f) {
    case ImageFormat::kPng:
      return "image/png";
    case ImageFormat::kJpeg:
      return "image/jpeg";
    case ImageFormat::kGif:
      return "image/gif";
    case ImageFormat::kWebp:
      return "image/webp";
    case ImageFormat::kBmp:
      return "image/bmp";
    case ImageFormat::kTiff:
      return "image/tiff";
    case ImageFormat::kUnknown:
      break;
  }
  return "application/octet-stream";
}

ImageFormat SniffFormat(std::string_view b) {
  auto starts = [&](std::string_view magic, size_t at = 0) {
    return b.size() >= at + magic.size() && b.substr(at, magic.size()) == magic;
  };
  if (starts("\x89PNG\r\n\x1a\n")) return ImageFormat::kPng;
  if (starts("\xff\xd8\xff")) return ImageFormat::kJpeg;
  if (starts("GIF87a") || starts("GIF89a")) return ImageFormat::kGif;
  if (starts("RIFF") && starts("WEBP", 8)) return ImageFormat::kWebp;
  if (starts(std::string_view("II*\0", 4)) || starts(std::string_view("MM\0*", 4))) {
    return ImageFormat::kTiff;
  }
  if (starts("BM") && b.size() >= 26) return ImageFormat::kBmp;
  return ImageFormat::kUnknown;
}

std::string_view RejectCodeName(RejectCode c) {
  switch (c) {
    case RejectCode::kEmpty:
      return "empty";
    case RejectCode::kTooLarge:
      return "too_large";
    case RejectCode::kNotAnImage:
      return "not_an_image";
    case RejectCode::kUnsupportedFormat:
      return "unsupported_format";
    case RejectCode::kTooManyPixels:
      return "too_many_pixels";
    case RejectCode::kUndecodable:
      break;
  }
  return "undecodable";
}

std::variant<DecodedImage, ImageRejection> DecodeImage(std::string_view bytes,
                                                       const ImageLimits& limits) {
  if (bytes.empty()) return Reject(RejectCode::kEmpty, "the file is empty (0 bytes)");
  if (bytes.size() > limits.max_bytes) {
    return Reject(RejectCode::kTooLarge, fmt::format("{} bytes is more than the limit of {} bytes",
                                                     bytes.size(), limits.max_bytes));
  }
  const ImageFormat format = SniffFormat(bytes);
  switch (format) {
    case ImageFormat::kPng:
      return DecodePng(bytes, limits);
    case ImageFormat::kJpeg:
      return DecodeJpeg(bytes, limits);
    case ImageFormat::kUnknown:
      return Reject(RejectCode::kNotAnImage, "not a PNG or JPEG image (unknown magic bytes)");
    default:
      return Reject(
          RejectCode::kUnsupportedFormat,
          fmt::format("{} images are not supported (PNG and JPEG are)", ImageFormatName(format)));
  }
}

std::optional<std::string> EncodePng(const RgbImage& image, std::string* error) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  png.width = image.width;
  png.height = image.height;
  png.format = PNG_FORMAT_RGB;
  png_alloc_size_t size = 0;
  // First call: the size the file needs.
  if (png_image_write_to_memory(&png, nullptr, &size, 0, image.rgb.data(), 0, nullptr) == 0) {
    if (error != nullptr) *error = png.message;
    png_image_free(&png);
    return std::nullopt;
  }
  std::string out(size, '\0');
  if (png_image_write_to_memory(&png, out.data(), &size, 0, image.rgb.data(), 0, nullptr) == 0) {
    if (error != nullptr) *error = png.message;
    png_image_free(&png);
    return std::nullopt;
  }
  png_image_free(&png);
  out.resize(size);
  return out;
}

std::optional<std::string> EncodeJpeg(const RgbImage& image, int quality, std::string* error) {
  jpeg_compress_struct cinfo;
  JpegErrors errors;
  std::memset(&cinfo, 0, sizeof cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  const JpegStep step = RunJpegEncode(&image, quality, &cinfo, &errors, &buffer, &size);
  std::optional<std::string> out;
  if (step == JpegStep::kOk) {
    out.emplace(reinterpret_cast<const char*>(buffer), size);
  } else if (error != nullptr) {
    *error = errors.message;
  }
  std::free(buffer);  // allocated by jpeg_mem_dest
  return out;
}

}  // namespace deeplens
