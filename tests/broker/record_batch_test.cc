// Tests for broker/record_batch.h: CRC-32C, header parsing, batch checks and
// the rewrites the broker applies.

#include "broker/record_batch.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace weir::broker {
namespace test_batches {

// Encodes a valid, uncompressed v2 batch of |records| records at base offset
// 0. partition_log_test.cc declares and uses it too (the two files build
// into one test binary).
std::vector<uint8_t> EncodeTestBatch(int records, int value_size, int64_t base_timestamp,
                                     int64_t producer_id, int16_t producer_epoch,
                                     int32_t base_sequence, int16_t attributes);

namespace {

struct BatchOptions {
  int records = 1;
  int value_size = 10;
  int64_t base_timestamp = 1'700'000'000'000;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int16_t attributes = 0;
  std::string raw_payload;  // when set, used as the (opaque) records bytes
  int32_t record_count_override = -1;
};

void PutBig(std::vector<uint8_t>* out, uint64_t v, int n) {
  for (int i = n - 1; i >= 0; --i) out->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

void PutVarint(std::vector<uint8_t>* out, int64_t v) {
  uint64_t u = (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  while (u >= 0x80) {
    out->push_back(static_cast<uint8_t>(u | 0x80));
    u >>= 7;
  }
  out->push_back(static_cast<uint8_t>(u));
}

std::vector<uint8_t> BuildBatch(const BatchOptions& o) {
  std::vector<uint8_t> records;
  if (!o.raw_payload.empty()) {
    records.assign(o.raw_payload.begin(), o.raw_payload.end());
  } else {
    for (int i = 0; i < o.records; ++i) {
      std::vector<uint8_t> body;
      body.push_back(0);    // attributes
      PutVarint(&body, i);  // timestamp delta
      PutVarint(&body, i);  // offset delta
      std::string key = "k" + std::to_string(i);
      PutVarint(&body, static_cast<int64_t>(key.size()));
      body.insert(body.end(), key.begin(), key.end());
      PutVarint(&body, o.value_size);
      for (int j = 0; j < o.value_size; ++j)
        body.push_back(static_cast<uint8_t>('a' + (i + j) % 26));
      PutVarint(&body, 0);  // headers
      PutVarint(&records, static_cast<int64_t>(body.size()));
      records.insert(records.end(), body.begin(), body.end());
    }
  }
  int32_t count = o.record_count_override >= 0 ? o.record_count_override : o.records;
  std::vector<uint8_t> b;
  PutBig(&b, 0, 8);                                           // base offset
  PutBig(&b, static_cast<uint32_t>(49 + records.size()), 4);  // batch length
  PutBig(&b, 0, 4);                                           // leader epoch
  b.push_back(2);                                             // magic
  PutBig(&b, 0, 4);                                           // crc, below
  PutBig(&b, static_cast<uint16_t>(o.attributes), 2);
  PutBig(&b, static_cast<uint32_t>(o.records - 1), 4);  // last offset delta
  PutBig(&b, static_cast<uint64_t>(o.base_timestamp), 8);
  PutBig(&b, static_cast<uint64_t>(o.base_timestamp + o.records - 1), 8);  // max timestamp
  PutBig(&b, static_cast<uint64_t>(o.producer_id), 8);
  PutBig(&b, static_cast<uint16_t>(o.producer_epoch), 2);
  PutBig(&b, static_cast<uint32_t>(o.base_sequence), 4);
  PutBig(&b, static_cast<uint32_t>(count), 4);
  b.insert(b.end(), records.begin(), records.end());
  uint32_t crc = Crc32c(std::span<const uint8_t>(b).subspan(kBatchCrcCoveredStart));
  for (int i = 0; i < 4; ++i) b[kBatchCrcOffset + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  return b;
}

}  // namespace

std::vector<uint8_t> EncodeTestBatch(int records, int value_size, int64_t base_timestamp,
                                     int64_t producer_id, int16_t producer_epoch,
                                     int32_t base_sequence, int16_t attributes) {
  BatchOptions o;
  o.records = records;
  o.value_size = value_size;
  o.base_timestamp = base_timestamp;
  o.producer_id = producer_id;
  o.producer_epoch = producer_epoch;
  o.base_sequence = base_sequence;
  o.attributes = attributes;
  return BuildBatch(o);
}

}  // namespace test_batches

namespace {

using test_batches::BatchOptions;
using test_batches::BuildBatch;

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Crc32c(Bytes("123456789")), 0xE3069283u);
  EXPECT_EQ(Crc32cPortable(Bytes("123456789")), 0xE3069283u);
  EXPECT_EQ(Crc32c(Bytes("")), 0u);
  // RFC 3720 B.4: 32 bytes of zeros.
  std::string zeros(32, '\0');
  EXPECT_EQ(Crc32c(Bytes(zeros)), 0x8A9136AAu);
  EXPECT_EQ(Crc32cPortable(Bytes(zeros)), 0x8A9136AAu);
}

TEST(Crc32cTest, HardwareAndPortableAgreeOnEveryLengthAndAlignment) {
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>(i * 37 + 11));
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len = 0; start + len <= data.size(); len += 7) {
      auto span = Bytes(data).subspan(start, len);
      ASSERT_EQ(Crc32c(span), Crc32cPortable(span)) << start << "+" << len;
    }
  }
}

TEST(RecordBatchTest, ParsesHeaderFields) {
  BatchOptions o;
  o.records = 3;
  o.producer_id = 77;
  o.producer_epoch = 4;
  o.base_sequence = 10;
  o.base_timestamp = 1000;
  auto batch = BuildBatch(o);
  BatchHeader h;
  ASSERT_TRUE(ParseBatchHeader(batch, &h));
  EXPECT_EQ(h.magic, 2);
  EXPECT_EQ(h.total_size(), batch.size());
  EXPECT_EQ(h.record_count, 3);
  EXPECT_EQ(h.last_offset_delta, 2);
  EXPECT_EQ(h.base_timestamp, 1000);
  EXPECT_EQ(h.max_timestamp, 1002);
  EXPECT_EQ(h.producer_id, 77);
  EXPECT_EQ(h.producer_epoch, 4);
  EXPECT_EQ(h.base_sequence, 10);
  EXPECT_EQ(h.last_sequence(), 12);
  EXPECT_TRUE(h.idempotent());
  EXPECT_FALSE(ParseBatchHeader(std::span<const uint8_t>(batch).first(60), &h));
}

TEST(RecordBatchTest, LastSequenceWraps) {
  BatchHeader h;
  h.base_sequence = INT32_MAX - 1;
  h.last_offset_delta = 3;
  EXPECT_EQ(h.last_sequence(), 1);
}

TEST(RecordBatchTest, AcceptsValidBatches) {
  EXPECT_EQ(CheckBatch(BuildBatch({})).error, ErrorCode::kNone);
  BatchOptions o;
  o.records = 50;
  o.value_size = 100;
  EXPECT_EQ(CheckBatch(BuildBatch(o)).error, ErrorCode::kNone);
}

TEST(RecordBatchTest, AcceptsCompressedPayloadWithoutDecompressing) {
  BatchOptions o;
  o.records = 4;
  o.attributes = 1;  // gzip: the records are opaque bytes
  o.raw_payload = "\x1f\x8b not really gzip";
  auto batch = BuildBatch(o);
  BatchCheck c = CheckBatch(batch);
  EXPECT_EQ(c.error, ErrorCode::kNone) << c.message;
  BatchHeader h;
  ASSERT_TRUE(ParseBatchHeader(batch, &h));
  EXPECT_EQ(h.compression(), 1);
}

TEST(RecordBatchTest, RejectsMalformedRecordsInUncompressedBatches) {
  // A correct CRC over records that do not parse: stored, they would break
  // every consumer of the partition.
  BatchOptions o;
  o.records = 2;
  o.raw_payload = std::string("\x7f\x00\x00\x00 garbage", 12);
  BatchCheck c = CheckBatch(BuildBatch(o));
  EXPECT_EQ(c.error, ErrorCode::kCorruptMessage);
  EXPECT_NE(c.message.find("record 0"), std::string::npos) << c.message;
  // A record whose offset delta is not its position.
  o.raw_payload = std::string("\x0e\x00\x00\x02\x01\x02x\x00", 8);  // len 7, delta 1
  o.records = 1;
  c = CheckBatch(BuildBatch(o));
  EXPECT_EQ(c.error, ErrorCode::kCorruptMessage);
  EXPECT_NE(c.message.find("offset delta"), std::string::npos) << c.message;
}

TEST(RecordBatchTest, RejectsUnknownCompressionCodecs) {
  BatchOptions o;
  o.attributes = 5;
  o.raw_payload = "opaque";
  BatchCheck c = CheckBatch(BuildBatch(o));
  EXPECT_EQ(c.error, ErrorCode::kCorruptMessage);
  EXPECT_NE(c.message.find("codec 5"), std::string::npos) << c.message;
}

TEST(RecordBatchTest, RejectsBadCrc) {
  auto batch = BuildBatch({});
  batch.back() ^= 0x01;
  BatchCheck c = CheckBatch(batch);
  EXPECT_EQ(c.error, ErrorCode::kCorruptMessage);
  EXPECT_NE(c.message.find("CRC"), std::string::npos) << c.message;
}

TEST(RecordBatchTest, RejectsTruncatedBatches) {
  auto batch = BuildBatch({});
  std::span<const uint8_t> all(batch);
  EXPECT_EQ(CheckBatch(all.first(all.size() - 1)).error, ErrorCode::kCorruptMessage);
  EXPECT_EQ(CheckBatch(all.first(40)).error, ErrorCode::kCorruptMessage);
  EXPECT_EQ(CheckBatch(all.first(0)).error, ErrorCode::kCorruptMessage);
  // Extra bytes after the batch are a length mismatch too.
  auto longer = batch;
  longer.push_back(0);
  EXPECT_EQ(CheckBatch(longer).error, ErrorCode::kCorruptMessage);
}

TEST(RecordBatchTest, RejectsOldMagic) {
  auto batch = BuildBatch({});
  batch[16] = 1;
  EXPECT_EQ(CheckBatch(batch).error, ErrorCode::kUnsupportedForMessageFormat);
  batch[16] = 0;
  EXPECT_EQ(CheckBatch(batch).error, ErrorCode::kUnsupportedForMessageFormat);
}

TEST(RecordBatchTest, RejectsRecordCountMismatch) {
  BatchOptions o;
  o.records = 3;
  o.record_count_override = 5;
  BatchCheck c = CheckBatch(BuildBatch(o));
  EXPECT_EQ(c.error, ErrorCode::kInvalidRecord) << c.message;
  o.record_count_override = 0;
  o.records = 1;
  EXPECT_EQ(CheckBatch(BuildBatch(o)).error, ErrorCode::kInvalidRecord);
}

TEST(RecordBatchTest, RejectsTransactionalAndControlBatches) {
  BatchOptions o;
  o.attributes = 0x10;
  o.producer_id = 1;
  o.base_sequence = 0;
  EXPECT_EQ(CheckBatch(BuildBatch(o)).error, ErrorCode::kUnsupportedVersion);
  o.attributes = 0x30;
  EXPECT_EQ(CheckBatch(BuildBatch(o)).error, ErrorCode::kUnsupportedVersion);
}

TEST(RecordBatchTest, SetBaseOffsetKeepsCrcValid) {
  auto batch = BuildBatch({});
  SetBaseOffset(batch, 123456789012);
  BatchHeader h;
  ASSERT_TRUE(ParseBatchHeader(batch, &h));
  EXPECT_EQ(h.base_offset, 123456789012);
  EXPECT_EQ(CheckBatch(batch).error, ErrorCode::kNone);
}

TEST(RecordBatchTest, SetLogAppendTimeRewritesTimestampAndCrc) {
  BatchOptions o;
  o.base_timestamp = 5;
  auto batch = BuildBatch(o);
  auto original = batch;
  SetLogAppendTime(batch, 1'700'000'000'123);
  BatchHeader h;
  ASSERT_TRUE(ParseBatchHeader(batch, &h));
  EXPECT_TRUE(h.log_append_time());
  EXPECT_EQ(h.max_timestamp, 1'700'000'000'123);
  EXPECT_EQ(CheckBatch(batch).error, ErrorCode::kNone);
  EXPECT_NE(batch, original);
  // The records themselves are untouched.
  EXPECT_TRUE(std::equal(batch.begin() + kBatchHeaderSize, batch.end(),
                         original.begin() + kBatchHeaderSize));
}

}  // namespace
}  // namespace weir::broker
