// broker/record_batch.cc — record batch v2 header parsing, checks and rewrites.

#include "broker/record_batch.h"

#include <fmt/format.h>

#include <climits>
#include <cstring>

#include "broker/file_util.h"
#include "broker/wire.h"

namespace weir::broker {
namespace {

// Zig-zag varint within [*p, end); false when malformed or truncated.
bool ReadVarint(const uint8_t** p, const uint8_t* end, int64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *out = static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
      return true;
    }
  }
  return false;
}

// Checks the records of an uncompressed batch against the Kafka record
// format: every length within bounds, offset deltas 0, 1, 2, ... and exactly
// record_count records filling the batch. A batch that passes can be read
// by every consumer; one that does not would break them all.
std::string CheckRecords(std::span<const uint8_t> batch, int32_t record_count) {
  const uint8_t* p = batch.data() + kBatchHeaderSize;
  const uint8_t* end = batch.data() + batch.size();
  for (int32_t i = 0; i < record_count; ++i) {
    int64_t length = 0;
    if (!ReadVarint(&p, end, &length) || length < 3 || length > end - p) {
      return fmt::format("record {}: length {} does not fit the batch", i, length);
    }
    const uint8_t* rend = p + length;
    const uint8_t* q = p + 1;  // attributes
    int64_t ts_delta = 0, offset_delta = 0, key_len = 0, value_len = 0, headers = 0;
    if (!ReadVarint(&q, rend, &ts_delta) || !ReadVarint(&q, rend, &offset_delta)) {
      return fmt::format("record {}: truncated timestamp or offset delta", i);
    }
    if (offset_delta != i) {
      return fmt::format("record {}: offset delta {} (expected {})", i, offset_delta, i);
    }
    if (!ReadVarint(&q, rend, &key_len) || key_len < -1 || key_len > rend - q) {
      return fmt::format("record {}: key length {} does not fit the record", i, key_len);
    }
    if (key_len > 0) q += key_len;
    if (!ReadVarint(&q, rend, &value_len) || value_len < -1 || value_len > rend - q) {
      return fmt::format("record {}: value length {} does not fit the record", i, value_len);
    }
    if (value_len > 0) q += value_len;
    if (!ReadVarint(&q, rend, &headers) || headers < 0 || headers > rend - q) {
      return fmt::format("record {}: header count {} does not fit the record", i, headers);
    }
    for (int64_t k = 0; k < headers; ++k) {
      int64_t name_len = 0, header_len = 0;
      if (!ReadVarint(&q, rend, &name_len) || name_len < 0 || name_len > rend - q) {
        return fmt::format("record {}: header {} name does not fit the record", i, k);
      }
      q += name_len;
      if (!ReadVarint(&q, rend, &header_len) || header_len < -1 || header_len > rend - q) {
        return fmt::format("record {}: header {} value does not fit the record", i, k);
      }
      if (header_len > 0) q += header_len;
    }
    if (q != rend) {
      return fmt::format("record {}: {} bytes left over after its fields", i, rend - q);
    }
    p = rend;
  }
  if (p != end) return fmt::format("{} bytes after the last of {} records", end - p, record_count);
  return {};
}

// Field positions inside the 61-byte header.
constexpr size_t kMagicPos = 16;
constexpr size_t kAttributesPos = 21;
constexpr size_t kMaxTimestampPos = 35;

}  // namespace

int32_t BatchHeader::last_sequence() const {
  if (base_sequence < 0) return base_sequence;
  int64_t last = static_cast<int64_t>(base_sequence) + last_offset_delta;
  if (last > INT32_MAX) last -= static_cast<int64_t>(INT32_MAX) + 1;
  return static_cast<int32_t>(last);
}

bool ParseBatchHeader(std::span<const uint8_t> bytes, BatchHeader* out) {
  if (bytes.size() < kBatchHeaderSize) return false;
  const uint8_t* p = bytes.data();
  out->base_offset = static_cast<int64_t>(LoadBigEndian(p, 8));
  out->batch_length = static_cast<int32_t>(LoadBigEndian(p + 8, 4));
  out->partition_leader_epoch = static_cast<int32_t>(LoadBigEndian(p + 12, 4));
  out->magic = static_cast<int8_t>(p[16]);
  out->crc = static_cast<uint32_t>(LoadBigEndian(p + 17, 4));
  out->attributes = static_cast<int16_t>(LoadBigEndian(p + 21, 2));
  out->last_offset_delta = static_cast<int32_t>(LoadBigEndian(p + 23, 4));
  out->base_timestamp = static_cast<int64_t>(LoadBigEndian(p + 27, 8));
  out->max_timestamp = static_cast<int64_t>(LoadBigEndian(p + 35, 8));
  out->producer_id = static_cast<int64_t>(LoadBigEndian(p + 43, 8));
  out->producer_epoch = static_cast<int16_t>(LoadBigEndian(p + 51, 2));
  out->base_sequence = static_cast<int32_t>(LoadBigEndian(p + 53, 4));
  out->record_count = static_cast<int32_t>(LoadBigEndian(p + 57, 4));
  return true;
}

BatchCheck CheckBatch(std::span<const uint8_t> batch) {
  // The magic byte sits before the v2 header ends, so old formats are
  // recognised even when shorter than a v2 header.
  if (batch.size() > kMagicPos && batch[kMagicPos] != 2) {
    return {ErrorCode::kUnsupportedForMessageFormat,
            fmt::format("record batch magic {} is not supported (only 2)",
                        static_cast<int8_t>(batch[kMagicPos]))};
  }
  BatchHeader h;
  if (!ParseBatchHeader(batch, &h)) {
    return {ErrorCode::kCorruptMessage,
            fmt::format("record batch of {} bytes is shorter than its {}-byte header", batch.size(),
                        kBatchHeaderSize)};
  }
  if (h.batch_length < static_cast<int32_t>(kBatchHeaderSize - kBatchLengthFieldEnd)) {
    return {ErrorCode::kCorruptMessage,
            fmt::format("record batch length {} is smaller than the header", h.batch_length)};
  }
  if (h.total_size() != batch.size()) {
    return {ErrorCode::kCorruptMessage,
            fmt::format("record batch length {} + {} does not match the {} bytes present",
                        h.batch_length, kBatchLengthFieldEnd, batch.size())};
  }
  uint32_t crc = Crc32c(batch.subspan(kBatchCrcCoveredStart));
  if (crc != h.crc) {
    return {
        ErrorCode::kCorruptMessage,
        fmt::format("record batch CRC mismatch: stored {:#010x}, computed {:#010x}", h.crc, crc)};
  }
  if (h.record_count < 1 || h.last_offset_delta != h.record_count - 1) {
    return {ErrorCode::kInvalidRecord,
            fmt::format("record batch has record count {} and last offset delta {}", h.record_count,
                        h.last_offset_delta)};
  }
  if (h.is_transactional() || h.is_control()) {
    return {ErrorCode::kUnsupportedVersion,
            "transactional and control record batches are not supported"};
  }
  if (h.compression() > 4) {
    return {ErrorCode::kCorruptMessage,
            fmt::format("compression codec {} is not one of none, gzip, snappy, lz4, zstd",
                        h.compression())};
  }
  if (h.compression() == 0) {
    std::string why = CheckRecords(batch, h.record_count);
    if (!why.empty()) return {ErrorCode::kCorruptMessage, "malformed record batch: " + why};
  }
  return {};
}

std::string EncodeRecordBatch(const std::vector<BatchRecord>& records, int64_t timestamp_ms) {
  Writer w;
  w.Int64(0);  // base offset: the log assigns it
  w.Int32(0);  // batch length, patched below
  w.Int32(0);  // partition leader epoch
  w.Int8(2);   // magic
  w.Int32(0);  // CRC, patched below
  w.Int16(0);  // attributes: uncompressed, CreateTime
  w.Int32(static_cast<int32_t>(records.size()) - 1);
  w.Int64(timestamp_ms);  // base timestamp
  w.Int64(timestamp_ms);  // max timestamp
  w.Int64(-1);            // producer id
  w.Int16(-1);            // producer epoch
  w.Int32(-1);            // base sequence
  w.Int32(static_cast<int32_t>(records.size()));
  Writer rec;
  for (size_t i = 0; i < records.size(); ++i) {
    rec.buffer().clear();
    rec.Int8(0);    // record attributes
    rec.Varint(0);  // timestamp delta
    rec.Varint(static_cast<int64_t>(i));
    rec.Varint(static_cast<int64_t>(records[i].key.size()));
    rec.Raw(records[i].key.data(), records[i].key.size());
    if (records[i].value) {
      rec.Varint(static_cast<int64_t>(records[i].value->size()));
      rec.Raw(records[i].value->data(), records[i].value->size());
    } else {
      rec.Varint(-1);
    }
    rec.Varint(0);  // headers
    w.Varint(static_cast<int64_t>(rec.size()));
    w.Raw(rec.buffer().data(), rec.size());
  }
  w.PatchInt32(8, static_cast<int32_t>(w.size() - kBatchLengthFieldEnd));
  const auto* bytes = reinterpret_cast<const uint8_t*>(w.buffer().data());
  w.PatchInt32(kBatchCrcOffset,
               static_cast<int32_t>(Crc32c(std::span<const uint8_t>(
                   bytes + kBatchCrcCoveredStart, w.size() - kBatchCrcCoveredStart))));
  return std::move(w.buffer());
}

void SetBaseOffset(std::span<uint8_t> batch, int64_t base_offset) {
  if (batch.size() < 8) return;
  StoreBigEndian(batch.data(), static_cast<uint64_t>(base_offset), 8);
}

void SetLogAppendTime(std::span<uint8_t> batch, int64_t timestamp_ms) {
  if (batch.size() < kBatchHeaderSize) return;
  uint8_t* p = batch.data();
  uint16_t attributes = static_cast<uint16_t>(LoadBigEndian(p + kAttributesPos, 2)) | 0x08;
  StoreBigEndian(p + kAttributesPos, attributes, 2);
  // As Kafka's broker does, only the max timestamp changes: consumers give
  // every record of a LogAppendTime batch that timestamp and ignore the
  // base timestamp and the per-record deltas.
  StoreBigEndian(p + kMaxTimestampPos, static_cast<uint64_t>(timestamp_ms), 8);
  uint32_t crc = Crc32c(batch.subspan(kBatchCrcCoveredStart));
  StoreBigEndian(p + kBatchCrcOffset, crc, 4);
}

}  // namespace weir::broker

namespace weir::broker {

bool FindRecordByTimestamp(std::span<const uint8_t> batch, int64_t timestamp_ms, int64_t* offset,
                           int64_t* record_timestamp) {
  BatchHeader h;
  if (!ParseBatchHeader(batch, &h) || h.compression() != 0 || h.log_append_time() ||
      batch.size() < h.total_size()) {
    return false;
  }
  const uint8_t* p = batch.data() + kBatchHeaderSize;
  const uint8_t* end = batch.data() + h.total_size();
  for (int32_t i = 0; i < h.record_count && p < end; ++i) {
    int64_t length = 0;
    if (!ReadVarint(&p, end, &length) || length <= 0 || length > end - p) return false;
    const uint8_t* record_end = p + length;
    const uint8_t* q = p + 1;  // attributes
    int64_t ts_delta = 0;
    int64_t offset_delta = 0;
    if (q > record_end || !ReadVarint(&q, record_end, &ts_delta) ||
        !ReadVarint(&q, record_end, &offset_delta)) {
      return false;
    }
    if (h.base_timestamp + ts_delta >= timestamp_ms) {
      *offset = h.base_offset + offset_delta;
      *record_timestamp = h.base_timestamp + ts_delta;
      return true;
    }
    p = record_end;
  }
  return false;
}

}  // namespace weir::broker
