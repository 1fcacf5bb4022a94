#include "weir/consume/dead_letter.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/uuid.h"
#include "common/wall_clock.h"
#include "weir/schema/avro.h"

namespace weir::consume {
namespace {

using nlohmann::ordered_json;

// Spring Kafka's DeadLetterPublishingRecoverer (KafkaHeaders.DLT_*). Numbers
// are Java ByteBuffer big-endian binaries, text is UTF-8.
constexpr std::string_view kSpringPrefix = "kafka_dlt-";
constexpr std::string_view kSpringTopic = "kafka_dlt-original-topic";
constexpr std::string_view kSpringPartition = "kafka_dlt-original-partition";  // 4 bytes
constexpr std::string_view kSpringOffset = "kafka_dlt-original-offset";        // 8 bytes
constexpr std::string_view kSpringTimestamp = "kafka_dlt-original-timestamp";  // 8 bytes
constexpr std::string_view kSpringTimestampType = "kafka_dlt-original-timestamp-type";
constexpr std::string_view kSpringGroup = "kafka_dlt-original-consumer-group";
constexpr std::string_view kSpringExceptionClass = "kafka_dlt-exception-fqcn";
constexpr std::string_view kSpringCauseClass = "kafka_dlt-exception-cause-fqcn";
constexpr std::string_view kSpringMessage = "kafka_dlt-exception-message";
constexpr std::string_view kSpringStacktrace = "kafka_dlt-exception-stacktrace";
constexpr std::string_view kSpringKeyExceptionClass = "kafka_dlt-key-exception-fqcn";
constexpr std::string_view kSpringKeyMessage = "kafka_dlt-key-exception-message";
constexpr std::string_view kSpringKeyStacktrace = "kafka_dlt-key-exception-stacktrace";

// Kafka Connect's DeadLetterQueueReporter, with
// errors.deadletterqueue.context.headers.enable=true. Everything is UTF-8
// text, numbers in decimal.
constexpr std::string_view kConnectPrefix = "__connect.errors.";
constexpr std::string_view kConnectTopic = "__connect.errors.topic";
constexpr std::string_view kConnectPartition = "__connect.errors.partition";
constexpr std::string_view kConnectOffset = "__connect.errors.offset";
constexpr std::string_view kConnectConnector = "__connect.errors.connector.name";
constexpr std::string_view kConnectTask = "__connect.errors.task.id";
constexpr std::string_view kConnectStage = "__connect.errors.stage";
constexpr std::string_view kConnectClass = "__connect.errors.class.name";
constexpr std::string_view kConnectExceptionClass = "__connect.errors.exception.class.name";
constexpr std::string_view kConnectMessage = "__connect.errors.exception.message";
constexpr std::string_view kConnectStacktrace = "__connect.errors.exception.stacktrace";

std::optional<DeadLetterDialect> DialectOf(std::string_view header) {
  if (header.starts_with(kDlqHeaderPrefix)) return DeadLetterDialect::kWeir;
  if (header.starts_with(kSpringPrefix)) return DeadLetterDialect::kSpring;
  if (header.starts_with(kConnectPrefix)) return DeadLetterDialect::kKafkaConnect;
  return std::nullopt;
}

Header ToHeader(const HeaderView& h) {
  return Header{std::string(h.key),
                h.value ? std::optional<std::string>(std::string(*h.value)) : std::nullopt};
}

std::optional<std::string> CopyBytes(std::optional<std::string_view> bytes) {
  if (!bytes) return std::nullopt;
  return std::string(*bytes);
}

template <typename T>
std::optional<T> ParseNonNegative(std::string_view text) {
  T v{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || ptr != end || v < 0) return std::nullopt;
  return v;
}

// A Java ByteBuffer int (4 bytes) or long (8 bytes), big-endian.
std::optional<int64_t> ParseJavaInteger(std::string_view bytes, size_t width) {
  if (bytes.size() != width) return std::nullopt;
  uint64_t v = 0;
  for (char c : bytes) v = (v << 8) | static_cast<uint8_t>(c);
  if (width == 4) return static_cast<int32_t>(static_cast<uint32_t>(v));
  return static_cast<int64_t>(v);
}

int ReplayCountOf(const std::vector<Header>& headers) {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->key != kReplayCountHeader) continue;
    if (!it->value) return 0;
    return ParseNonNegative<int>(*it->value).value_or(0);
  }
  return 0;
}

// One DLQ record's provenance headers, looked up within [begin, end) of its
// headers; errors name the record and the header.
class ProvenanceReader {
 public:
  ProvenanceReader(const Record& record, size_t begin, size_t end)
      : record_(record), begin_(begin), end_(end) {}

  Status Malformed(std::string_view header, std::string_view why) const {
    return Status::InvalidArgument(fmt::format("{} [{}] offset {}: header {}: {}", record_.topic(),
                                               record_.partition().value(),
                                               record_.offset().value(), header, why));
  }

  // The value of the last header named |name|; nullopt when there is none.
  // A header with a null value is malformed.
  Result<std::optional<std::string_view>> Find(std::string_view name) const {
    const std::vector<HeaderView>& hs = record_.headers();
    for (size_t i = end_; i > begin_; --i) {
      const HeaderView& h = hs[i - 1];
      if (h.key != name) continue;
      if (!h.value) return Malformed(name, "null value");
      return std::optional<std::string_view>(*h.value);
    }
    return std::optional<std::string_view>();
  }

  Result<std::string_view> Require(std::string_view name) const {
    WEIR_ASSIGN_OR_RETURN(std::optional<std::string_view> v, Find(name));
    if (!v) return Malformed(name, "missing");
    return *v;
  }

  // Copies the text of |name| into |out| when the header is present.
  Status Text(std::string_view name, std::string* out) const {
    WEIR_ASSIGN_OR_RETURN(std::optional<std::string_view> v, Find(name));
    if (v) *out = std::string(*v);
    return Status::Ok();
  }

  // Adds |name|'s text to |metadata| under |key| when present.
  Status Metadata(std::string_view name, const char* key,
                  std::map<std::string, std::string>* metadata) const {
    WEIR_ASSIGN_OR_RETURN(std::optional<std::string_view> v, Find(name));
    if (v) (*metadata)[key] = std::string(*v);
    return Status::Ok();
  }

  Result<std::string> Topic(std::string_view name) const {
    WEIR_ASSIGN_OR_RETURN(std::string_view v, Require(name));
    if (v.empty()) return Malformed(name, "empty topic name");
    return std::string(v);
  }

  template <typename T>
  Result<T> Decimal(std::string_view name) const {
    WEIR_ASSIGN_OR_RETURN(std::string_view v, Require(name));
    std::optional<T> n = ParseNonNegative<T>(v);
    if (!n) return Malformed(name, fmt::format("\"{}\" is not a non-negative decimal", v));
    return *n;
  }

  Result<int64_t> JavaInteger(std::string_view name, size_t width) const {
    WEIR_ASSIGN_OR_RETURN(std::string_view v, Require(name));
    std::optional<int64_t> n = ParseJavaInteger(v, width);
    if (!n) {
      return Malformed(name, fmt::format("{} byte(s), expected a {}-byte big-endian {}", v.size(),
                                         width, width == 4 ? "int" : "long"));
    }
    return *n;
  }

 private:
  const Record& record_;
  size_t begin_;
  size_t end_;
};

Status ParseWeir(const Record& record, size_t block_begin, DeadLetter* dl) {
  const std::vector<HeaderView>& hs = record.headers();
  size_t block_end = block_begin;
  while (block_end < hs.size() && hs[block_end].key.starts_with(kDlqHeaderPrefix)) ++block_end;
  ProvenanceReader p(record, block_begin, block_end);

  WEIR_ASSIGN_OR_RETURN(std::string_view id, p.Require(kDlqIdHeader));
  dl->dlq_id = std::string(id);
  WEIR_ASSIGN_OR_RETURN(std::string_view ts, p.Require(kDlqTimestampHeader));
  std::optional<int64_t> ts_ms = ParseDlqTimestamp(ts);
  if (!ts_ms) {
    return p.Malformed(kDlqTimestampHeader, fmt::format("\"{}\" is not an ISO-8601 time such as "
                                                        "2026-11-23T15:04:05.123Z",
                                                        ts));
  }
  dl->timestamp_ms = *ts_ms;
  WEIR_ASSIGN_OR_RETURN(dl->original_topic, p.Topic(kDlqTopicHeader));
  WEIR_ASSIGN_OR_RETURN(int32_t partition, p.Decimal<int32_t>(kDlqPartitionHeader));
  dl->original_partition = Partition(partition);
  WEIR_ASSIGN_OR_RETURN(int64_t offset, p.Decimal<int64_t>(kDlqOffsetHeader));
  dl->original_offset = Offset(offset);
  WEIR_ASSIGN_OR_RETURN(std::optional<std::string_view> original_ts,
                        p.Find(kDlqOriginalTimestampHeader));
  if (original_ts) {
    WEIR_ASSIGN_OR_RETURN(dl->original_timestamp_ms,
                          p.Decimal<int64_t>(kDlqOriginalTimestampHeader));
  }
  WEIR_RETURN_IF_ERROR(p.Text(kDlqGroupHeader, &dl->consumer_group));
  WEIR_ASSIGN_OR_RETURN(std::string_view type, p.Require(kDlqErrorTypeHeader));
  std::optional<ErrorClass> error_class = ParseErrorClass(type);
  if (!error_class) {
    return p.Malformed(kDlqErrorTypeHeader,
                       fmt::format("\"{}\" is not one of SCHEMA_VALIDATION, PROCESSING_FAILURE, "
                                   "TIMEOUT, BUSINESS_LOGIC, UNKNOWN",
                                   type));
  }
  dl->error_type = *error_class;
  WEIR_RETURN_IF_ERROR(p.Text(kDlqErrorMessageHeader, &dl->error_message));
  WEIR_RETURN_IF_ERROR(p.Text(kDlqErrorContextHeader, &dl->error_context));
  WEIR_ASSIGN_OR_RETURN(std::optional<std::string_view> retries, p.Find(kDlqRetryCountHeader));
  if (retries) {
    WEIR_ASSIGN_OR_RETURN(dl->retry_count, p.Decimal<int>(kDlqRetryCountHeader));
  }
  WEIR_ASSIGN_OR_RETURN(std::optional<std::string_view> metadata, p.Find(kDlqMetadataHeader));
  if (metadata) {
    ordered_json j = ordered_json::parse(metadata->begin(), metadata->end(), nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return p.Malformed(kDlqMetadataHeader, "not a JSON object");
    }
    for (const auto& [k, v] : j.items()) {
      dl->metadata[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  for (size_t i = 0; i < hs.size(); ++i) {
    if (i < block_begin || i >= block_end) dl->original_headers.push_back(ToHeader(hs[i]));
  }
  return Status::Ok();
}

Status ParseSpring(const Record& record, DeadLetter* dl) {
  ProvenanceReader p(record, 0, record.headers().size());
  WEIR_ASSIGN_OR_RETURN(dl->original_topic, p.Topic(kSpringTopic));
  WEIR_ASSIGN_OR_RETURN(int64_t partition, p.JavaInteger(kSpringPartition, 4));
  if (partition < 0) return p.Malformed(kSpringPartition, "negative partition");
  dl->original_partition = Partition(static_cast<int32_t>(partition));
  WEIR_ASSIGN_OR_RETURN(int64_t offset, p.JavaInteger(kSpringOffset, 8));
  if (offset < 0) return p.Malformed(kSpringOffset, "negative offset");
  dl->original_offset = Offset(offset);
  WEIR_ASSIGN_OR_RETURN(std::optional<std::string_view> ts, p.Find(kSpringTimestamp));
  if (ts) {
    WEIR_ASSIGN_OR_RETURN(int64_t original_ts, p.JavaInteger(kSpringTimestamp, 8));
    dl->original_timestamp_ms = original_ts >= 0 ? original_ts : -1;  // Java's NO_TIMESTAMP is -1
  }
  WEIR_RETURN_IF_ERROR(p.Text(kSpringGroup, &dl->consumer_group));
  // A key that failed to deserialize has kafka_dlt-key-exception-* headers
  // instead of (or besides) the value's.
  WEIR_RETURN_IF_ERROR(p.Text(kSpringKeyMessage, &dl->error_message));
  WEIR_RETURN_IF_ERROR(p.Text(kSpringMessage, &dl->error_message));
  WEIR_RETURN_IF_ERROR(p.Text(kSpringKeyStacktrace, &dl->error_context));
  WEIR_RETURN_IF_ERROR(p.Text(kSpringStacktrace, &dl->error_context));
  WEIR_RETURN_IF_ERROR(p.Metadata(kSpringExceptionClass, "exception.class", &dl->metadata));
  WEIR_RETURN_IF_ERROR(p.Metadata(kSpringCauseClass, "exception.cause.class", &dl->metadata));
  WEIR_RETURN_IF_ERROR(p.Metadata(kSpringKeyExceptionClass, "key.exception.class", &dl->metadata));
  WEIR_RETURN_IF_ERROR(p.Metadata(kSpringTimestampType, "original.timestamp.type", &dl->metadata));
  return Status::Ok();
}

Status ParseConnect(const Record& record, DeadLetter* dl) {
  ProvenanceReader p(record, 0, record.headers().size());
  WEIR_ASSIGN_OR_RETURN(dl->original_topic, p.Topic(kConnectTopic));
  WEIR_ASSIGN_OR_RETURN(int32_t partition, p.Decimal<int32_t>(kConnectPartition));
  dl->original_partition = Partition(partition);
  WEIR_ASSIGN_OR_RETURN(int64_t offset, p.Decimal<int64_t>(kConnectOffset));
  dl->original_offset = Offset(offset);
  // Connect writes the original record's timestamp on the DLQ record.
  dl->original_timestamp_ms = record.timestamp().ms;
  WEIR_ASSIGN_OR_RETURN(std::optional<std::string_view> connector, p.Find(kConnectConnector));
  if (connector) {
    // A sink connector's consumer group is "connect-<name>" unless overridden.
    dl->consumer_group = "connect-" + std::string(*connector);
    dl->metadata["connect.connector"] = std::string(*connector);
  }
  WEIR_RETURN_IF_ERROR(p.Text(kConnectMessage, &dl->error_message));
  WEIR_RETURN_IF_ERROR(p.Text(kConnectStacktrace, &dl->error_context));
  WEIR_RETURN_IF_ERROR(p.Metadata(kConnectExceptionClass, "exception.class", &dl->metadata));
  WEIR_RETURN_IF_ERROR(p.Metadata(kConnectTask, "connect.task.id", &dl->metadata));
  WEIR_RETURN_IF_ERROR(p.Metadata(kConnectStage, "connect.stage", &dl->metadata));
  WEIR_RETURN_IF_ERROR(p.Metadata(kConnectClass, "connect.class", &dl->metadata));
  return Status::Ok();
}

// weir reads and writes ISO-8601 times in one place, the Avro codec's
// timestamp-millis logical type in plain JSON: the dead-letter timestamps go
// through it too.
const schema::AvroSchema& TimestampMillisSchema() {
  static const schema::AvroSchema kSchema =
      schema::AvroSchema::Parse(R"({"type":"long","logicalType":"timestamp-millis"})").value();
  return kSchema;
}

}  // namespace

std::string TextOrBase64(std::string_view bytes) {
  if (simdjson::validate_utf8(bytes.data(), bytes.size())) return std::string(bytes);
  return "base64:" + Base64Encode(bytes);
}

std::string_view DeadLetterDialectName(DeadLetterDialect d) {
  switch (d) {
    case DeadLetterDialect::kWeir:
      return "weir";
    case DeadLetterDialect::kSpring:
      return "spring";
    case DeadLetterDialect::kKafkaConnect:
      return "kafka-connect";
  }
  return "weir";
}

std::string FormatDlqTimestamp(int64_t ms) {
  auto json = schema::AvroToJson(TimestampMillisSchema(), schema::AvroValue(ms),
                                 schema::AvroJsonMode::kPlain);
  // A JSON string of digits, '-', ':', '.', 'T' and 'Z': no escapes to undo.
  if (json.ok() && json->size() >= 2 && json->front() == '"') {
    return json->substr(1, json->size() - 2);
  }
  return std::to_string(ms);  // beyond the years ISO-8601 can write
}

std::optional<int64_t> ParseDlqTimestamp(std::string_view text) {
  if (text.empty() || !simdjson::validate_utf8(text.data(), text.size())) return std::nullopt;
  const std::string quoted = ordered_json(std::string(text)).dump();
  auto value = schema::JsonToAvro(TimestampMillisSchema(), quoted, schema::AvroJsonMode::kPlain);
  if (!value.ok() || value->type() != schema::AvroType::kLong) return std::nullopt;
  return value->get<int64_t>();
}

std::vector<Header> DeadLetterHeaders(const DeadLetter& dl) {
  std::vector<Header> out;
  out.reserve(dl.original_headers.size() + 12);
  out.insert(out.end(), dl.original_headers.begin(), dl.original_headers.end());
  auto add = [&out](std::string_view name, std::string value) {
    out.push_back(Header{std::string(name), std::move(value)});
  };
  add(kDlqIdHeader, dl.dlq_id);
  add(kDlqTimestampHeader, FormatDlqTimestamp(dl.timestamp_ms));
  add(kDlqTopicHeader, dl.original_topic);
  add(kDlqPartitionHeader, std::to_string(dl.original_partition.value()));
  add(kDlqOffsetHeader, std::to_string(dl.original_offset.value()));
  if (dl.original_timestamp_ms >= 0) {
    add(kDlqOriginalTimestampHeader, std::to_string(dl.original_timestamp_ms));
  }
  add(kDlqGroupHeader, dl.consumer_group);
  add(kDlqErrorTypeHeader, std::string(ErrorClassName(dl.error_type)));
  add(kDlqErrorMessageHeader, dl.error_message);
  if (!dl.error_context.empty()) add(kDlqErrorContextHeader, dl.error_context);
  add(kDlqRetryCountHeader, std::to_string(dl.retry_count));
  if (!dl.metadata.empty()) {
    add(kDlqMetadataHeader,
        ordered_json(dl.metadata).dump(-1, ' ', false, ordered_json::error_handler_t::replace));
  }
  return out;
}

DeadLetter MakeDeadLetter(const Record& record, std::string consumer_group, ErrorClass error_type,
                          std::string error_message, std::string error_context, int retry_count) {
  DeadLetter dl;
  dl.dlq_id = NewUuidV4();
  dl.timestamp_ms = WallClockMs();
  dl.original_topic = std::string(record.topic());
  dl.original_partition = record.partition();
  dl.original_offset = record.offset();
  dl.original_timestamp_ms = record.timestamp().ms >= 0 ? record.timestamp().ms : -1;
  dl.key = CopyBytes(record.key());
  dl.value = CopyBytes(record.value());
  dl.original_headers.reserve(record.headers().size());
  for (const HeaderView& h : record.headers()) dl.original_headers.push_back(ToHeader(h));
  dl.consumer_group = std::move(consumer_group);
  dl.error_type = error_type;
  dl.error_message = std::move(error_message);
  dl.error_context = std::move(error_context);
  dl.retry_count = retry_count;
  dl.replay_count = ReplayCountOf(dl.original_headers);
  return dl;
}

Result<DeadLetter> ParseDeadLetter(const Record& dlq_record) {
  const std::vector<HeaderView>& hs = dlq_record.headers();
  // The dialect of the latest dead-lettering is that of the last provenance
  // header: each writer appends its headers after the record's own.
  std::optional<DeadLetterDialect> dialect;
  for (size_t i = hs.size(); i > 0 && !dialect; --i) dialect = DialectOf(hs[i - 1].key);
  if (!dialect) {
    return Status::InvalidArgument(fmt::format(
        "{} [{}] offset {}: not a dead letter: no provenance headers (weir.dlq.*, "
        "kafka_dlt-*, __connect.errors.*)",
        dlq_record.topic(), dlq_record.partition().value(), dlq_record.offset().value()));
  }
  DeadLetter dl;
  dl.dialect = *dialect;
  dl.key = CopyBytes(dlq_record.key());
  dl.value = CopyBytes(dlq_record.value());
  switch (*dialect) {
    case DeadLetterDialect::kWeir: {
      // The block DeadLetterHeaders() appended starts at the last
      // weir.dlq.id; an earlier block belongs to the original record.
      size_t block_begin = hs.size();
      for (size_t i = hs.size(); i > 0; --i) {
        if (hs[i - 1].key == kDlqIdHeader) {
          block_begin = i - 1;
          break;
        }
      }
      if (block_begin == hs.size()) {
        return ProvenanceReader(dlq_record, 0, hs.size()).Malformed(kDlqIdHeader, "missing");
      }
      WEIR_RETURN_IF_ERROR(ParseWeir(dlq_record, block_begin, &dl));
      break;
    }
    case DeadLetterDialect::kSpring:
    case DeadLetterDialect::kKafkaConnect: {
      WEIR_RETURN_IF_ERROR(*dialect == DeadLetterDialect::kSpring ? ParseSpring(dlq_record, &dl)
                                                                  : ParseConnect(dlq_record, &dl));
      const std::string_view prefix =
          *dialect == DeadLetterDialect::kSpring ? kSpringPrefix : kConnectPrefix;
      for (const HeaderView& h : hs) {
        if (!h.key.starts_with(prefix)) dl.original_headers.push_back(ToHeader(h));
      }
      dl.dlq_id = fmt::format("{}:{}:{}", dlq_record.topic(), dlq_record.partition().value(),
                              dlq_record.offset().value());
      dl.timestamp_ms = dlq_record.timestamp().ms;
      dl.error_type = ErrorClass::kUnknown;
      break;
    }
  }
  dl.replay_count = ReplayCountOf(dl.original_headers);
  return dl;
}

std::string DeadLetterToDlqMessageJson(const DeadLetter& dl) {
  ordered_json j;
  j["dlq_id"] = dl.dlq_id;
  j["timestamp"] = FormatDlqTimestamp(dl.timestamp_ms);
  j["original_topic"] = dl.original_topic;
  j["original_partition"] = dl.original_partition.value();
  j["original_offset"] = dl.original_offset.value();
  j["original_key"] = dl.key ? ordered_json(TextOrBase64(*dl.key)) : ordered_json(nullptr);
  j["original_message"] = dl.value ? TextOrBase64(*dl.value) : std::string();
  j["consumer_group_id"] = dl.consumer_group;
  j["error_type"] = std::string(ErrorClassName(dl.error_type));
  j["error_message"] = dl.error_message;
  j["error_stack_trace"] =
      dl.error_context.empty() ? ordered_json(nullptr) : ordered_json(dl.error_context);
  j["retry_count"] = dl.retry_count;
  ordered_json metadata = ordered_json::object();
  for (const auto& [k, v] : dl.metadata) metadata[k] = v;
  j["metadata"] = std::move(metadata);
  // Texts that are not UTF-8 (a foreign dialect's message) get U+FFFD.
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace weir::consume
