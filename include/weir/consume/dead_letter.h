// weir/consume/dead_letter.h — the dead-letter record: what the consumer
// runtime writes to a DLQ topic, and how `weir dlq` reads it back.
//
// A dead letter is the original record, untouched — its key, its value bytes
// and its headers, in order — plus provenance headers that carry the fields
// of the ALPR seed's DLQMessage (dlq id, timestamp, original topic, partition
// and offset, consumer group, error type and message, stack or context, retry
// count, metadata). Keeping the original bytes means a replay re-publishes
// exactly what the producer wrote; keeping the fields in headers means every
// tool can read them without knowing the payload's schema. The header names
// are listed once, in docs/dlq.md; they are the constants below.
//
// ParseDeadLetter() also reads dead letters written by Spring Kafka
// (kafka_dlt-* headers) and Kafka Connect (__connect.errors.* headers), so
// `weir dlq` can list and replay them too.
//
// All functions are thread-safe. They are pure except MakeDeadLetter(),
// which reads the clock and a random source for the dlq id.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/record.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::consume {

// Provenance header names (values are UTF-8 text unless said otherwise).
inline constexpr std::string_view kDlqHeaderPrefix = "weir.dlq.";
inline constexpr std::string_view kDlqIdHeader = "weir.dlq.id";                // UUID v4
inline constexpr std::string_view kDlqTimestampHeader = "weir.dlq.timestamp";  // ISO-8601 UTC, ms
inline constexpr std::string_view kDlqTopicHeader = "weir.dlq.original.topic";
inline constexpr std::string_view kDlqPartitionHeader = "weir.dlq.original.partition";  // decimal
inline constexpr std::string_view kDlqOffsetHeader = "weir.dlq.original.offset";        // decimal
// The original record's timestamp in ms since the epoch (decimal); absent
// when the record had none.
inline constexpr std::string_view kDlqOriginalTimestampHeader = "weir.dlq.original.timestamp";
inline constexpr std::string_view kDlqGroupHeader = "weir.dlq.consumer.group";
inline constexpr std::string_view kDlqErrorTypeHeader = "weir.dlq.error.type";  // ErrorClassName
inline constexpr std::string_view kDlqErrorMessageHeader = "weir.dlq.error.message";
inline constexpr std::string_view kDlqErrorContextHeader = "weir.dlq.error.context";  // stack etc.
inline constexpr std::string_view kDlqRetryCountHeader = "weir.dlq.retry.count";      // decimal
inline constexpr std::string_view kDlqMetadataHeader = "weir.dlq.metadata";           // JSON object
// Set on a record re-published by `weir dlq replay`: how many times it has
// been replayed (decimal). Not a weir.dlq.* header: it stays on the record
// when it is consumed again and, if it fails again, on its next dead letter.
inline constexpr std::string_view kReplayCountHeader = "weir.replay.count";

// Where a parsed dead letter's provenance came from.
enum class DeadLetterDialect : uint8_t { kWeir, kSpring, kKafkaConnect };
std::string_view DeadLetterDialectName(DeadLetterDialect d);  // "weir", "spring", "kafka-connect"

struct DeadLetter {
  std::string dlq_id;
  int64_t timestamp_ms = -1;  // when it was dead-lettered
  std::string original_topic;
  Partition original_partition{-1};
  Offset original_offset = kOffsetInvalid;
  int64_t original_timestamp_ms = -1;  // -1 when unknown
  std::optional<std::string> key;      // the original key, untouched
  std::optional<std::string> value;    // the original value bytes, untouched
  // The original headers in order, without the provenance headers of the
  // dead-lettering that wrote this record: for weir, the weir.dlq.* block
  // that DeadLetterHeaders() appended (it starts at the last weir.dlq.id);
  // for Spring every kafka_dlt-* header; for Kafka Connect every
  // __connect.errors.* header. Provenance of an earlier dead-lettering of
  // another dialect, or of an earlier weir block, stays here: it was part of
  // the record that failed. kReplayCountHeader is kept here.
  std::vector<Header> original_headers;
  std::string consumer_group;
  ErrorClass error_type = ErrorClass::kUnknown;
  std::string error_message;
  std::string error_context;  // a stack trace or other context; may be empty
  int retry_count = 0;        // retries made before giving up (attempts - 1)
  // From the last kReplayCountHeader of the original headers; 0 when it is
  // absent or not a non-negative decimal (a bad count never makes a dead
  // letter unreadable).
  int replay_count = 0;
  // Free-form context. Spring and Kafka Connect dead letters carry their
  // exception class and other details here (keys listed in docs/dlq.md).
  std::map<std::string, std::string> metadata;
  DeadLetterDialect dialect = DeadLetterDialect::kWeir;
};

// The headers of the DLQ record for |dl|: its original headers in order,
// then the weir.dlq.* headers, weir.dlq.id first. Optional ones are left out
// when empty: original.timestamp (when -1), error.context and metadata. The
// DLQ record's key and value are dl.key and dl.value. replay_count is not
// written: it travels in kReplayCountHeader among the original headers.
std::vector<Header> DeadLetterHeaders(const DeadLetter& dl);

// A new dead letter for |record| (copying its key, value and headers, and
// taking replay_count from its kReplayCountHeader), with a fresh dlq_id and
// the current time.
DeadLetter MakeDeadLetter(const Record& record, std::string consumer_group, ErrorClass error_type,
                          std::string error_message, std::string error_context, int retry_count);

// Reads a record of a DLQ topic. The dialect is that of the last provenance
// header of the record; within it, the last occurrence of each header
// counts (the latest dead-lettering). Fails with kInvalidArgument, naming
// the record's topic/partition/offset and the header, when it carries no
// recognised provenance, lacks a required provenance header, or one is
// malformed. For Spring and Kafka Connect dead letters, dlq_id is
// "<dlq topic>:<partition>:<offset>" and timestamp_ms is the DLQ record's
// timestamp (for Kafka Connect that is the original record's timestamp).
Result<DeadLetter> ParseDeadLetter(const Record& dlq_record);

// The seed's DLQMessage as a JSON object (field names of
// examples/alpr/schemas/dlq_message.avsc). original_message is the value
// as text when it is valid UTF-8, else "base64:" and its base64 encoding
// ("" for a null value); original_key likewise (null for a null key);
// error_stack_trace is null when error_context is empty.
std::string DeadLetterToDlqMessageJson(const DeadLetter& dl);

// |bytes| as text, the way DeadLetterToDlqMessageJson() shows keys and
// values: UTF-8 as it is, anything else as "base64:" and its base64.
std::string TextOrBase64(std::string_view bytes);

// The text of kDlqTimestampHeader for |ms| since the epoch:
// "2026-11-23T15:04:05.123Z" (UTC, milliseconds).
std::string FormatDlqTimestamp(int64_t ms);
// Reads an ISO-8601 time — "2026-11-23", "2026-11-23T15:04",
// "2026-11-23T15:04:05.123Z", "2026-11-23T17:04:05+02:00"; UTC when no zone
// is given — into ms since the epoch. nullopt when malformed.
std::optional<int64_t> ParseDlqTimestamp(std::string_view text);

}  // namespace weir::consume
