// broker/partition_log.h — one partition's durable log: segments, indexes,
// recovery, retention, idempotent-producer state.
//
// On disk, in the partition's folder (e.g. DATA/topics/alpr.events.plates-0/):
//   <20-digit base offset>.log        record batches, back to back, as sent
//                                     (base offset rewritten)
//   <20-digit base offset>.index      sparse offset index: (uint32 relative
//                                     offset, uint32 file position) big-endian,
//                                     one entry per index_interval_bytes
//   <20-digit base offset>.timeindex  time index: (int64 max timestamp so far,
//                                     uint32 relative offset) big-endian, an
//                                     entry whenever an indexed batch raises
//                                     the segment's max timestamp
//   log-start-offset                  the log start offset (DeleteRecords,
//                                     retention) as decimal text, replaced
//                                     atomically (write temp, fsync, rename)
//
// Thread safety: every public method may be called from any thread; the log
// serialises them internally.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "broker/clock.h"
#include "broker/error_codes.h"
#include "weir/status.h"

namespace weir::broker {

// How appends reach the disk.
enum class FlushPolicy {
  // write() before acknowledging: survives kill -9 of the broker (the data
  // is in the kernel's page cache), not a power loss.
  kOnWrite,
  // fdatasync() before acknowledging: survives power loss, costs a disk
  // flush per produce request and partition.
  kAlways,
};

struct LogConfig {
  int64_t segment_bytes = 1LL << 30;              // segment.bytes
  int64_t segment_ms = 7LL * 24 * 3600 * 1000;    // segment.ms: roll the active segment when older
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;  // retention.ms; -1 = keep forever
  int64_t retention_bytes = -1;                   // retention.bytes per partition; -1 = no limit
  int32_t max_message_bytes = 1048588;            // max.message.bytes: largest batch accepted
  int32_t index_interval_bytes = 4096;            // index.interval.bytes
  bool log_append_time = false;                   // message.timestamp.type=LogAppendTime
  FlushPolicy flush = FlushPolicy::kOnWrite;
};

struct AppendResult {
  int64_t base_offset = -1;      // offset of the first record appended (or of the duplicate)
  int64_t log_append_time = -1;  // set for LogAppendTime topics
  int64_t log_start_offset = 0;
  bool duplicate = false;  // an idempotent retry of a batch already in the log
};

struct ReadResult {
  std::string bytes;  // whole batches, back to back
  int64_t high_watermark = 0;
  int64_t log_start_offset = 0;
};

class PartitionLog {
 public:
  // Opens (creating when absent) the log in |dir|. Recovery: every segment's
  // files are checked; the last segment is scanned batch by batch with CRC
  // checks and anything after the last valid batch (a torn tail) is truncated,
  // with a log line naming the file and the bytes dropped. Indexes that do not
  // match their segment are rebuilt. Idempotent-producer state is rebuilt
  // from the batch headers in the log.
  static Result<std::unique_ptr<PartitionLog>> Open(std::filesystem::path dir, LogConfig config,
                                                    const Clock& clock);
  ~PartitionLog();
  PartitionLog(const PartitionLog&) = delete;
  PartitionLog& operator=(const PartitionLog&) = delete;

  // Appends the record batches in |batches| (usually exactly one, as
  // producers send them). Each batch is checked with CheckBatch(); a batch
  // larger than max_message_bytes is kMessageTooLarge. Idempotent batches
  // (producer id >= 0) are checked against the producer's state: a retry of
  // one of the producer's last 5 batches on this partition is a success that
  // returns the original base offset without writing (duplicate = true); a
  // sequence gap is kOutOfOrderSequenceNumber; an older epoch is
  // kInvalidProducerEpoch; a newer epoch must start at sequence 0; an unknown
  // producer id with a sequence other than 0 is kUnknownProducerId... unless
  // the log start offset moved past the producer's batches (then accept).
  // Nothing is written unless every batch passes. |batches| is modified in
  // place (base offsets). Rolls a new segment first when the active one would
  // exceed segment_bytes or is older than segment_ms.
  // With FlushPolicy::kAlways the append is fdatasync'd before it returns,
  // unless |defer_sync|: then the caller must call SyncData() before it
  // acknowledges the append (the broker does, once for all the appends of
  // the requests waiting on a connection: a group commit).
  ErrorCode Append(std::span<uint8_t> batches, AppendResult* out, std::string* error_message,
                   bool defer_sync = false);

  // fdatasync()s the data of every append made so far, without blocking
  // appends and reads meanwhile.
  Status SyncData();

  // Reads whole batches starting with the batch that contains |offset|, up to
  // |max_bytes| — but always at least one whole batch when one exists at
  // |offset| (KIP-74). kOffsetOutOfRange when |offset| < log start offset or
  // > high watermark. |offset| == high watermark returns no bytes.
  ErrorCode Read(int64_t offset, int32_t max_bytes, ReadResult* out) const;

  // The first batch whose max timestamp is >= |timestamp_ms| (found via the
  // time index); offset -1 when none. In an uncompressed CreateTime batch
  // the answer is exact: the first record with timestamp >= |timestamp_ms|
  // and its timestamp. Compressed batches are never decompressed, so their
  // answer is the batch's base offset (raised to the log start offset) and
  // max timestamp: a consumer may re-read up to one batch, never skip.
  void OffsetForTimestamp(int64_t timestamp_ms, int64_t* offset, int64_t* timestamp) const;

  // Moves the log start offset to |offset| (-1 = the high watermark), deleting
  // whole segments below it. kOffsetOutOfRange when |offset| > high watermark.
  // Persisted before returning. |new_start| receives the resulting start.
  ErrorCode DeleteRecordsBefore(int64_t offset, int64_t* new_start);

  // Applies retention.ms (segments whose largest timestamp is older) and
  // retention.bytes (oldest segments while the log exceeds it), never deleting
  // the active segment, and rolls the active segment when older than
  // segment_ms and not empty. Returns the number of segments deleted.
  int ApplyRetention();

  void SetConfig(const LogConfig& config);
  LogConfig config() const;

  int64_t log_start_offset() const;
  int64_t high_watermark() const;  // next offset to be assigned
  int64_t size_bytes() const;      // bytes of all segment .log files (not indexes)
  size_t segment_count() const;

  // fdatasync()s the active segment and its indexes.
  Status Flush();

  // Closes files; a later Open() finds a clean log. Idempotent. Afterwards
  // Append/Read/DeleteRecordsBefore return kNotLeaderOrFollower and the
  // getters report the state at close.
  void Close();

 private:
  struct Impl;
  explicit PartitionLog(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::broker
