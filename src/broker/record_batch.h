// broker/record_batch.h — the record batch v2 header: parse, check, rewrite.
//
// The broker stores batches exactly as producers sent them (any compression
// codec) and never decompresses them. It reads and checks only the 61-byte
// batch header, verifies the CRC-32C (which covers attributes..end, i.e. not
// the base offset, length, leader epoch or magic), and rewrites the base offset
// (and, for LogAppendTime topics, the timestamps and the CRC).
//
//   baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 |
//   magic int8 (=2) | crc uint32 | attributes int16 | lastOffsetDelta int32 |
//   baseTimestamp int64 | maxTimestamp int64 | producerId int64 |
//   producerEpoch int16 | baseSequence int32 | recordCount int32 | records...
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "broker/error_codes.h"

namespace weir::broker {

inline constexpr size_t kBatchHeaderSize = 61;
// Bytes before the CRC-covered region (baseOffset..crc).
inline constexpr size_t kBatchCrcOffset = 17;
inline constexpr size_t kBatchCrcCoveredStart = 21;
// batchLength counts the bytes after the length field itself.
inline constexpr size_t kBatchLengthFieldEnd = 12;

struct BatchHeader {
  int64_t base_offset = 0;
  int32_t batch_length = 0;  // bytes after the length field
  int32_t partition_leader_epoch = 0;
  int8_t magic = 0;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t record_count = 0;

  size_t total_size() const { return static_cast<size_t>(batch_length) + kBatchLengthFieldEnd; }
  int64_t last_offset() const { return base_offset + last_offset_delta; }
  int compression() const { return attributes & 0x7; }
  bool is_transactional() const { return (attributes & 0x10) != 0; }
  bool is_control() const { return (attributes & 0x20) != 0; }
  bool log_append_time() const { return (attributes & 0x08) != 0; }
  bool idempotent() const { return producer_id >= 0; }
  int32_t last_sequence() const;  // base_sequence + last_offset_delta, wrapping at INT32_MAX
};

// Parses the header at the start of |bytes| without checking the CRC.
// Returns false when fewer than kBatchHeaderSize bytes are present.
bool ParseBatchHeader(std::span<const uint8_t> bytes, BatchHeader* out);

struct BatchCheck {
  ErrorCode error = ErrorCode::kNone;
  std::string message;  // why, for the broker log (never record bytes)
};

// Checks one whole batch: magic 2, length consistent with |bytes|, CRC-32C,
// record count >= 1 and last_offset_delta == record_count - 1, no
// transactional or control bits (transactions are not supported), a known
// compression codec (0-4), and for uncompressed batches every record's
// framing (lengths within bounds, offset deltas 0, 1, 2, ...). Errors:
// kCorruptMessage (CRC, truncation, bad lengths), kUnsupportedForMessageFormat
// (magic 0/1), kInvalidRecord (inconsistent counts), kUnsupportedVersion
// (transactional batches).
BatchCheck CheckBatch(std::span<const uint8_t> batch);

// One record of a batch the broker writes itself.
struct BatchRecord {
  std::string key;
  std::optional<std::string> value;  // nullopt: a tombstone
};

// An uncompressed, non-idempotent CreateTime batch (base offset 0, every
// record stamped |timestamp_ms|, no headers) that passes CheckBatch(); for
// records the broker produces itself (__consumer_offsets). |records| must not
// be empty.
std::string EncodeRecordBatch(const std::vector<BatchRecord>& records, int64_t timestamp_ms);

// CRC-32C (Castagnoli) of |bytes|.
uint32_t Crc32c(std::span<const uint8_t> bytes);

// The table-driven CRC-32C that Crc32c() falls back to without SSE4.2;
// exposed so tests can compare both implementations.
uint32_t Crc32cPortable(std::span<const uint8_t> bytes);

// Writes |base_offset| into the batch at |batch| (the CRC does not cover it).
void SetBaseOffset(std::span<uint8_t> batch, int64_t base_offset);

// Marks the batch as LogAppendTime with |timestamp_ms| as its max timestamp
// and recomputes the CRC.
void SetLogAppendTime(std::span<uint8_t> batch, int64_t timestamp_ms);

}  // namespace weir::broker

namespace weir::broker {

// For an uncompressed CreateTime batch (whole, as stored), finds the first
// record whose timestamp is >= |timestamp_ms| by walking the records.
// Returns false when the batch is compressed, uses LogAppendTime, holds no
// such record or is malformed; the caller then falls back to the batch.
bool FindRecordByTimestamp(std::span<const uint8_t> batch, int64_t timestamp_ms, int64_t* offset,
                           int64_t* record_timestamp);

}  // namespace weir::broker
