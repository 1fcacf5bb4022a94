// The DeepLens example's parts without a cluster: the image codec against
// good and bad files (every truncation of a PNG and a JPEG, corrupt data,
// lying headers), the features (histogram, perceptual hash) on generated
// pictures and their near copies, the sample set's expectations, the blob
// store and the SQLite vector index with its duplicate decisions.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <numeric>
#include <set>

#include "blob_store.h"
#include "image_codec.h"
#include "image_features.h"
#include "sample_images.h"
#include "support/test_support.h"
#include "vector_index.h"

namespace deeplens {
namespace {

using weir::testing::TempDir;

std::string Png(const RgbImage& img) {
  auto png = EncodePng(img);
  EXPECT_TRUE(png.has_value());
  return png.value_or("");
}

std::string Jpeg(const RgbImage& img, int quality) {
  auto jpeg = EncodeJpeg(img, quality);
  EXPECT_TRUE(jpeg.has_value());
  return jpeg.value_or("");
}

// The image, or a test failure naming the rejection.
RgbImage MustDecode(const std::string& bytes) {
  auto d = DecodeImage(bytes);
  if (auto* r = std::get_if<ImageRejection>(&d)) {
    ADD_FAILURE() << RejectCodeName(r->code) << ": " << r->message;
    return {};
  }
  return std::get<DecodedImage>(d).image;
}

std::optional<ImageRejection> Rejection(const std::string& bytes, const ImageLimits& limits = {}) {
  auto d = DecodeImage(bytes, limits);
  if (auto* r = std::get_if<ImageRejection>(&d)) return *r;
  return std::nullopt;
}

TEST(DeepLensBlobStore, Sha256KnownAnswers) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256Hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(DeepLensBlobStore, SameBytesOneFileAndReadsAreBounded) {
  TempDir dir;
  BlobStore store(dir.path() + "/blobs");
  auto a = store.Put("image bytes");
  auto b = store.Put("image bytes");
  auto c = store.Put("other bytes");
  ASSERT_TRUE(a.ok() && b.ok() && c.ok()) << a.status().ToString();
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
  EXPECT_EQ(std::filesystem::path(*a).filename().string(), Sha256Hex("image bytes"));
  auto read = BlobStore::Read(*a, 100);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, "image bytes");
  auto over = BlobStore::Read(*a, 5);
  EXPECT_EQ(over.status().code(), weir::StatusCode::kInvalidArgument);
  EXPECT_NE(over.status().message().find("11 bytes"), std::string::npos);
  EXPECT_EQ(BlobStore::Read(dir.path() + "/nope", 100).status().code(),
            weir::StatusCode::kNotFound);
}

TEST(DeepLensCodec, SniffsFormatsByMagicBytes) {
  const RgbImage img = GenerateScene(1, 32, 24);
  EXPECT_EQ(SniffFormat(Png(img)), ImageFormat::kPng);
  EXPECT_EQ(SniffFormat(Jpeg(img, 80)), ImageFormat::kJpeg);
  EXPECT_EQ(SniffFormat("GIF89a...."), ImageFormat::kGif);
  EXPECT_EQ(SniffFormat(std::string("RIFF\0\0\0\0WEBPVP8 ", 16)), ImageFormat::kWebp);
  EXPECT_EQ(SniffFormat("hello"), ImageFormat::kUnknown);
  EXPECT_EQ(SniffFormat(""), ImageFormat::kUnknown);
  EXPECT_EQ(ImageMimeType(ImageFormat::kJpeg), "image/jpeg");
}

TEST(DeepLensCodec, PngRoundTripsExactlyAndJpegClosely) {
  const RgbImage img = GenerateScene(7, 97, 61);
  const RgbImage png = MustDecode(Png(img));
  EXPECT_EQ(png.width, 97u);
  EXPECT_EQ(png.height, 61u);
  EXPECT_EQ(png.rgb, img.rgb);
  const RgbImage jpg = MustDecode(Jpeg(img, 90));
  ASSERT_EQ(jpg.rgb.size(), img.rgb.size());
  double diff = 0;
  for (size_t i = 0; i < img.rgb.size(); ++i) diff += std::abs(jpg.rgb[i] - img.rgb[i]);
  EXPECT_LT(diff / static_cast<double>(img.rgb.size()), 6.0);
}

TEST(DeepLensCodec, RejectsBadFilesWithTheirReason) {
  const RgbImage img = GenerateScene(3, 120, 80);
  const std::string png = Png(img);
  const std::string jpg = Jpeg(img, 85);
  std::string bad_crc = png;
  bad_crc[bad_crc.size() / 2] ^= 0x5a;  // inside IDAT: its CRC no longer matches
  std::string jpeg_garbage = jpg;
  for (size_t i = jpg.size() / 2; i < jpg.size() / 2 + 40; ++i) jpeg_garbage[i] ^= 0x3c;
  // A JPEG whose SOF0 declares 60000×60000.
  std::string jpeg_huge = jpg;
  const size_t sof = jpeg_huge.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  jpeg_huge.replace(sof + 5, 4, "\xea\x60\xea\x60");
  ImageLimits small;
  small.max_bytes = 100;
  const struct {
    const char* name;
    std::string bytes;
    ImageLimits limits;
    RejectCode code;
    const char* says;
  } cases[] = {
      {"empty", "", {}, RejectCode::kEmpty, "empty"},
      {"over max_bytes", png, small, RejectCode::kTooLarge, "limit of 100 bytes"},
      {"text", "just some text", {}, RejectCode::kNotAnImage, "not a PNG or JPEG"},
      {"gif", "GIF89a\x01\x00\x01\x00", {}, RejectCode::kUnsupportedFormat, "gif"},
      {"png declaring 30000x30000",
       PngDeclaring(30000, 30000),
       {},
       RejectCode::kTooManyPixels,
       "30000x30000"},
      {"png declaring 0x10", PngDeclaring(0, 10), {}, RejectCode::kUndecodable, "PNG"},
      {"jpeg declaring 60000x60000", jpeg_huge, {}, RejectCode::kTooManyPixels, "60000x60000"},
      {"png with a bad CRC", bad_crc, {}, RejectCode::kUndecodable, "PNG"},
      {"truncated png", png.substr(0, png.size() / 2), {}, RejectCode::kUndecodable, "PNG"},
      {"truncated jpeg", jpg.substr(0, jpg.size() / 2), {}, RejectCode::kUndecodable, "JPEG"},
      {"corrupt jpeg", jpeg_garbage, {}, RejectCode::kUndecodable, "JPEG"},
      {"jpeg magic only", "\xff\xd8\xff", {}, RejectCode::kUndecodable, "JPEG"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = Rejection(c.bytes, c.limits);
    ASSERT_TRUE(r.has_value()) << "decoded";
    EXPECT_EQ(RejectCodeName(r->code), RejectCodeName(c.code)) << r->message;
    EXPECT_NE(r->message.find(c.says), std::string::npos) << r->message;
  }
}

TEST(DeepLensCodec, EveryTruncationIsRejectedNeverACrash) {
  const RgbImage img = GenerateScene(5, 48, 40);
  for (const std::string& file : {Png(img), Jpeg(img, 80)}) {
    SCOPED_TRACE(file.substr(1, 3));
    // A file cut in its end marker still holds every pixel: the JPEG EOI
    // (2 bytes) and the PNG IEND chunk (12) are not needed to finish. Any
    // shorter file must be refused.
    const size_t must_fail_below = file.size() - (SniffFormat(file) == ImageFormat::kJpeg ? 2 : 12);
    for (size_t n = 0; n < must_fail_below; ++n) {
      ASSERT_TRUE(Rejection(file.substr(0, n)).has_value()) << "truncated to " << n << " bytes";
    }
    EXPECT_FALSE(Rejection(file).has_value());
  }
}

TEST(DeepLensFeatures, HistogramIsNormalisedAndBinsByTopBits) {
  RgbImage solid;
  solid.width = 4;
  solid.height = 2;
  solid.rgb.assign(4 * 2 * 3, 0);
  for (size_t i = 0; i < 8; ++i) {
    solid.rgb[i * 3] = 200;                   // r bin 3
    solid.rgb[i * 3 + 1] = 100;               // g bin 1
    solid.rgb[i * 3 + 2] = i < 2 ? 10 : 255;  // b bin 0 for 2 pixels, 3 for 6
  }
  const std::vector<double> h = ColourHistogram(solid);
  ASSERT_EQ(h.size(), kHistogramBins);
  EXPECT_DOUBLE_EQ(h[3 * 16 + 1 * 4 + 0], 0.25);
  EXPECT_DOUBLE_EQ(h[3 * 16 + 1 * 4 + 3], 0.75);
  const std::vector<double> scene = ColourHistogram(GenerateScene(9, 64, 64));
  EXPECT_NEAR(std::accumulate(scene.begin(), scene.end(), 0.0), 1.0, 1e-12);
}

TEST(DeepLensFeatures, HashHexRoundTrips) {
  EXPECT_EQ(HashToHex(0x0123456789abcdefULL), "0123456789abcdef");
  EXPECT_EQ(HashFromHex("0123456789abcdef"), 0x0123456789abcdefULL);
  EXPECT_FALSE(HashFromHex("0123456789ABCDEF").has_value());
  EXPECT_FALSE(HashFromHex("123").has_value());
  EXPECT_EQ(HammingDistance(0, ~uint64_t{0}), 64);
}

TEST(DeepLensFeatures, PerceptualHashSurvivesCopiesAndSeparatesPictures) {
  constexpr int kSame = kDefaultDuplicateDistance;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const RgbImage img = GenerateScene(seed, 320, 240);
    const uint64_t h = PerceptualHash(img);
    const uint64_t png = PerceptualHash(MustDecode(Png(img)));
    const uint64_t jpeg = PerceptualHash(MustDecode(Jpeg(img, 70)));
    const uint64_t scaled = PerceptualHash(MustDecode(Jpeg(Resample(img, 160, 120), 75)));
    const uint64_t brighter = PerceptualHash(Brighten(img, 12));
    EXPECT_EQ(HammingDistance(h, png), 0);
    EXPECT_LE(HammingDistance(h, jpeg), kSame);
    EXPECT_LE(HammingDistance(h, scaled), kSame);
    EXPECT_LE(HammingDistance(h, brighter), kSame);
  }
  std::vector<uint64_t> hashes;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    hashes.push_back(PerceptualHash(GenerateScene(seed, 320, 240)));
  }
  for (size_t i = 0; i < hashes.size(); ++i) {
    for (size_t j = i + 1; j < hashes.size(); ++j) {
      EXPECT_GT(HammingDistance(hashes[i], hashes[j]), 2 * kSame)
          << "seeds " << i + 1 << " and " << j + 1;
    }
  }
}

TEST(DeepLensSamples, EachSampleIsWhatItSaysItIs) {
  const uint64_t max_bytes = 1 << 20;
  const std::vector<SampleImage> set = MakeSampleSet(42, "acme", "globex", max_bytes);
  std::map<std::string, const SampleImage*> by_name;
  for (const SampleImage& s : set) EXPECT_TRUE(by_name.emplace(s.file_name, &s).second);
  ImageLimits limits;
  limits.max_bytes = max_bytes;
  int originals = 0, duplicates = 0, failed = 0, refused = 0;
  for (const SampleImage& s : set) {
    SCOPED_TRACE(s.file_name);
    auto r = Rejection(s.bytes, limits);
    switch (s.expect) {
      case Expect::kOriginal:
        ++originals;
        EXPECT_FALSE(r.has_value());
        break;
      case Expect::kDuplicate: {
        ++duplicates;
        ASSERT_FALSE(r.has_value()) << r->message;
        const SampleImage* of = by_name.at(s.original);
        EXPECT_EQ(of->tenant_id, s.tenant_id);
        EXPECT_LE(HammingDistance(PerceptualHash(MustDecode(s.bytes)),
                                  PerceptualHash(MustDecode(of->bytes))),
                  kDefaultDuplicateDistance);
        break;
      }
      case Expect::kFailed:
        ++failed;
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(RejectCodeName(r->code), RejectCodeName(s.reject)) << r->message;
        break;
      case Expect::kRefused:
        ++refused;
        EXPECT_TRUE(s.bytes.empty() || s.bytes.size() > max_bytes);
        break;
    }
  }
  EXPECT_EQ(originals, 6);
  EXPECT_EQ(duplicates, 4);
  EXPECT_EQ(failed, 5);
  EXPECT_EQ(refused, 2);
  // Originals of one tenant are far apart: none would be taken for another.
  for (const SampleImage& a : set) {
    for (const SampleImage& b : set) {
      if (&a == &b || a.expect != Expect::kOriginal || b.expect != Expect::kOriginal ||
          a.tenant_id != b.tenant_id) {
        continue;
      }
      EXPECT_GT(
          HammingDistance(PerceptualHash(MustDecode(a.bytes)), PerceptualHash(MustDecode(b.bytes))),
          2 * kDefaultDuplicateDistance)
          << a.file_name << " vs " << b.file_name;
    }
  }
}

IndexEntry Entry(const std::string& id, const std::string& tenant, uint64_t phash,
                 std::vector<double> histogram = {0.5, 0.5}) {
  IndexEntry e;
  e.image_id = id;
  e.tenant_id = tenant;
  e.phash = phash;
  e.histogram = std::move(histogram);
  e.storage_path = "/blobs/" + id;
  return e;
}

TEST(DeepLensVectorIndex, DuplicatesPointAtTheNearestOriginalOfTheTenant) {
  TempDir dir;
  auto idx = VectorIndex::Open(dir.path() + "/index.sqlite");
  ASSERT_TRUE(idx.ok()) << idx.status().ToString();
  VectorIndex& index = **idx;
  const uint64_t a = 0xf0f0f0f0f0f0f0f0ULL;
  const uint64_t b = 0x0123456789abcdefULL;
  auto add = [&](const IndexEntry& e) {
    auto r = index.Add(e, "2026-01-01T00:00:00.000Z");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : AddOutcome{};
  };
  EXPECT_FALSE(add(Entry("a", "t1", a)).entry.duplicate_of.has_value());
  EXPECT_FALSE(add(Entry("b", "t1", b)).entry.duplicate_of.has_value());
  // 10 bits from a: a duplicate (the threshold is inclusive).
  const AddOutcome a1 = add(Entry("a1", "t1", a ^ 0x3ffULL));
  EXPECT_EQ(a1.entry.duplicate_of, "a");
  EXPECT_EQ(a1.entry.hash_distance, 10);
  // 11 bits: not.
  EXPECT_FALSE(add(Entry("c", "t1", a ^ 0x7ffULL)).entry.duplicate_of.has_value());
  // Near a1 (a duplicate) and 12 bits from a: still compared with originals
  // only, so its nearest original within 10 bits is c (1 bit).
  const AddOutcome a2 = add(Entry("a2", "t1", a ^ 0xfffULL));
  EXPECT_EQ(a2.entry.duplicate_of, "c");
  EXPECT_EQ(a2.entry.hash_distance, 1);
  // Same hash, other tenant: an original there.
  EXPECT_FALSE(add(Entry("a-t2", "t2", a)).entry.duplicate_of.has_value());

  // Adding an indexed image again changes nothing and repeats its decision.
  auto again = index.Add(Entry("a1", "t1", b), "2030-01-01T00:00:00.000Z");
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->inserted);
  EXPECT_EQ(again->entry.duplicate_of, "a");
  EXPECT_EQ(again->entry.phash, a ^ 0x3ffULL);
  EXPECT_EQ(again->entry.indexed_at, "2026-01-01T00:00:00.000Z");
  auto all = index.List();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 6u);
  auto t2 = index.List("t2");
  ASSERT_TRUE(t2.ok());
  ASSERT_EQ(t2->size(), 1u);
  EXPECT_EQ(t2->front().image_id, "a-t2");
}

TEST(DeepLensVectorIndex, PersistsAndFindsSimilarHistograms) {
  TempDir dir;
  const std::string path = dir.path() + "/index.sqlite";
  {
    auto idx = VectorIndex::Open(path);
    ASSERT_TRUE(idx.ok());
    ASSERT_TRUE((*idx)->Add(Entry("x", "t", 1, {1.0, 0.0, 0.0}), "now").ok());
    ASSERT_TRUE((*idx)->Add(Entry("near", "t", ~uint64_t{0}, {0.9, 0.1, 0.0}), "now").ok());
    ASSERT_TRUE((*idx)->Add(Entry("far", "t", 0xff00ff00ULL, {0.0, 0.0, 1.0}), "now").ok());
    ASSERT_TRUE((*idx)->Add(Entry("other", "u", 1, {1.0, 0.0, 0.0}), "now").ok());
  }
  auto idx = VectorIndex::Open(path);
  ASSERT_TRUE(idx.ok());
  auto found = (*idx)->Find("near");
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((**found).histogram, (std::vector<double>{0.9, 0.1, 0.0}));
  EXPECT_EQ((**found).phash, ~uint64_t{0});
  auto similar = (*idx)->Similar("x", 5);
  ASSERT_TRUE(similar.ok()) << similar.status().ToString();
  ASSERT_EQ(similar->size(), 2u);  // same tenant only
  EXPECT_EQ((*similar)[0].image_id, "near");
  EXPECT_NEAR((*similar)[0].distance, 0.2, 1e-12);
  EXPECT_EQ((*similar)[1].image_id, "far");
  EXPECT_EQ((*idx)->Similar("missing", 3).status().code(), weir::StatusCode::kNotFound);
}

}  // namespace
}  // namespace deeplens
