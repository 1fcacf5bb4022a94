// The dead-letter record format: weir's own headers round trip every byte
// of the original record; Spring Kafka and Kafka Connect dead letters parse;
// malformed provenance is refused naming the record and the header; the
// DLQMessage JSON is accepted by the ALPR seed's Avro schema.
#include "weir/consume/dead_letter.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "support/test_support.h"
#include "weir/schema/avro.h"

namespace weir::consume {
namespace {

using nlohmann::json;

const std::string kBinary("\x00\xff\x01\x80payload\x00", 12);

// A record as a consumer would see it on alpr.events.plates.
Record OriginalRecord(std::optional<std::string> key, std::optional<std::string> value,
                      std::vector<Header> headers, int64_t timestamp_ms = 1795446245000) {
  return Record::Owned("alpr.events.plates", Partition(2), Offset(1234),
                       Timestamp{timestamp_ms, timestamp_ms >= 0 ? TimestampType::kCreateTime
                                                                 : TimestampType::kNone},
                       std::move(key), std::move(value), std::move(headers));
}

// The DLQ record the runtime would write for |dl|.
Record DlqRecord(const DeadLetter& dl, std::vector<Header> extra_headers = {}) {
  std::vector<Header> headers = DeadLetterHeaders(dl);
  headers.insert(headers.end(), extra_headers.begin(), extra_headers.end());
  return Record::Owned("alpr.dlq", Partition(0), Offset(7),
                       Timestamp{1795446245999, TimestampType::kCreateTime}, dl.key, dl.value,
                       std::move(headers));
}

Record WithHeaders(std::vector<Header> headers, int64_t timestamp_ms = 1795446245999) {
  return Record::Owned("alpr.dlq", Partition(0), Offset(7),
                       Timestamp{timestamp_ms, TimestampType::kCreateTime}, std::string("cam-01"),
                       std::string("{\"plate\":\"ABC123\"}"), std::move(headers));
}

std::string JavaInt(int32_t v) {
  std::string out(4, '\0');
  for (int i = 3; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xFF);
  return out;
}

std::string JavaLong(int64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[i] = static_cast<char>(v & 0xFF);
  return out;
}

void ExpectSameHeaders(const std::vector<Header>& got, const std::vector<Header>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].key, want[i].key) << i;
    EXPECT_EQ(got[i].value, want[i].value) << i;
  }
}

TEST(DeadLetter, RoundTripKeepsEveryField) {
  const std::vector<Header> headers = {Header{"weir-event-type", "PlateEvent"},
                                       Header{"trace", std::nullopt}, Header{"bin", kBinary},
                                       Header{"trace", "second"}, Header{"empty", ""}};
  Record original = OriginalRecord(kBinary, kBinary, headers);
  DeadLetter dl = MakeDeadLetter(original, "alpr-storage-service", ErrorClass::kSchemaValidation,
                                 "frame_number: expected int\nsecond line", "at Validate()\n", 2);
  dl.metadata = {{"handler", "store"}, {"attempts", "3"}};
  EXPECT_EQ(dl.original_topic, "alpr.events.plates");
  EXPECT_EQ(dl.original_partition, Partition(2));
  EXPECT_EQ(dl.original_offset, Offset(1234));
  EXPECT_EQ(dl.original_timestamp_ms, 1795446245000);
  EXPECT_EQ(dl.replay_count, 0);
  EXPECT_EQ(dl.dialect, DeadLetterDialect::kWeir);

  auto parsed = ParseDeadLetter(DlqRecord(dl));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->dlq_id, dl.dlq_id);
  EXPECT_EQ(parsed->timestamp_ms, dl.timestamp_ms);
  EXPECT_EQ(parsed->original_topic, "alpr.events.plates");
  EXPECT_EQ(parsed->original_partition, Partition(2));
  EXPECT_EQ(parsed->original_offset, Offset(1234));
  EXPECT_EQ(parsed->original_timestamp_ms, 1795446245000);
  EXPECT_EQ(parsed->key, std::optional<std::string>(kBinary));  // every byte, NULs included
  EXPECT_EQ(parsed->value, std::optional<std::string>(kBinary));
  ExpectSameHeaders(parsed->original_headers, headers);
  EXPECT_EQ(parsed->consumer_group, "alpr-storage-service");
  EXPECT_EQ(parsed->error_type, ErrorClass::kSchemaValidation);
  EXPECT_EQ(parsed->error_message, "frame_number: expected int\nsecond line");
  EXPECT_EQ(parsed->error_context, "at Validate()\n");
  EXPECT_EQ(parsed->retry_count, 2);
  EXPECT_EQ(parsed->replay_count, 0);
  EXPECT_EQ(parsed->metadata, dl.metadata);
  EXPECT_EQ(parsed->dialect, DeadLetterDialect::kWeir);
}

TEST(DeadLetter, NullAndEmptyKeysAndValuesStayDistinct) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::optional<std::string>, std::optional<std::string>>>{
           {std::nullopt, std::nullopt},
           {std::string(), std::string()},
           {std::nullopt, std::string()},
           {std::string(), std::nullopt}}) {
    SCOPED_TRACE(::testing::Message()
                 << "key " << (key ? "empty" : "null") << ", value " << (value ? "empty" : "null"));
    DeadLetter dl = MakeDeadLetter(OriginalRecord(key, value, {}), "g", ErrorClass::kTimeout,
                                   "timed out", "", 0);
    auto parsed = ParseDeadLetter(DlqRecord(dl));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->key, key);
    EXPECT_EQ(parsed->value, value);
    EXPECT_TRUE(parsed->original_headers.empty());
  }
}

TEST(DeadLetter, HeadersAreTheOriginalsThenTheProvenanceInOrder) {
  DeadLetter dl = MakeDeadLetter(OriginalRecord("k", "v", {Header{"b", "1"}, Header{"a", "2"}}),
                                 "g", ErrorClass::kBusinessLogic, "no such plate", "", 1);
  std::vector<Header> hs = DeadLetterHeaders(dl);
  std::vector<std::string> names;
  for (const Header& h : hs) names.push_back(h.key);
  // error.context and metadata are left out when empty.
  EXPECT_EQ(names, (std::vector<std::string>{
                       "b", "a", "weir.dlq.id", "weir.dlq.timestamp", "weir.dlq.original.topic",
                       "weir.dlq.original.partition", "weir.dlq.original.offset",
                       "weir.dlq.original.timestamp", "weir.dlq.consumer.group",
                       "weir.dlq.error.type", "weir.dlq.error.message", "weir.dlq.retry.count"}));
  EXPECT_EQ(hs[4].value, "alpr.events.plates");
  EXPECT_EQ(hs[5].value, "2");
  EXPECT_EQ(hs[6].value, "1234");
  EXPECT_EQ(hs[7].value, "1795446245000");
  EXPECT_EQ(hs[9].value, "BUSINESS_LOGIC");
  EXPECT_EQ(hs[11].value, "1");

  // A record without a timestamp has no original.timestamp header.
  DeadLetter no_ts =
      MakeDeadLetter(OriginalRecord("k", "v", {}, -1), "g", ErrorClass::kUnknown, "", "", 0);
  EXPECT_EQ(no_ts.original_timestamp_ms, -1);
  for (const Header& h : DeadLetterHeaders(no_ts)) EXPECT_NE(h.key, kDlqOriginalTimestampHeader);
  auto parsed = ParseDeadLetter(DlqRecord(no_ts));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->original_timestamp_ms, -1);

  // Headers added after the block (a producer interceptor) are kept.
  parsed = ParseDeadLetter(DlqRecord(dl, {Header{"traceparent", "00-ab"}}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ExpectSameHeaders(parsed->original_headers,
                    {Header{"b", "1"}, Header{"a", "2"}, Header{"traceparent", "00-ab"}});
}

TEST(DeadLetter, IdsAreFreshUuidV4sAndTimesAreIso8601Utc) {
  const std::regex uuid_v4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    DeadLetter dl =
        MakeDeadLetter(OriginalRecord("k", "v", {}), "g", ErrorClass::kUnknown, "", "", 0);
    EXPECT_TRUE(std::regex_match(dl.dlq_id, uuid_v4)) << dl.dlq_id;
    ids.insert(dl.dlq_id);
    const std::string ts = FormatDlqTimestamp(dl.timestamp_ms);
    EXPECT_TRUE(std::regex_match(ts, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << ts;
  }
  EXPECT_EQ(ids.size(), 100u);

  EXPECT_EQ(FormatDlqTimestamp(1795446245123), "2026-11-23T15:04:05.123Z");
  EXPECT_EQ(FormatDlqTimestamp(0), "1970-01-01T00:00:00.000Z");
  struct Case {
    const char* text;
    std::optional<int64_t> ms;
  };
  for (const Case& c : std::vector<Case>{
           {"2026-11-23T15:04:05.123Z", 1795446245123},
           {"2026-11-23T15:04:05Z", 1795446245000},
           {"2026-11-23T17:04:05.123+02:00", 1795446245123},
           {"2026-11-23T15:04:05.123", 1795446245123},  // no zone: UTC
           {"2026-11-23", 1795392000000},
           {"2026-11-23T15:04", 1795446240000},
           {"2026-02-30", std::nullopt},
           {"2026-11-23T25:00", std::nullopt},
           {"yesterday", std::nullopt},
           {"1795446245123", std::nullopt},
           {"", std::nullopt},
           {"2026-11-23T15:04:05Z trailing", std::nullopt},
       }) {
    EXPECT_EQ(ParseDlqTimestamp(c.text), c.ms) << c.text;
  }
}

TEST(DeadLetter, ReplayCountComesFromTheLastReplayHeader) {
  struct Case {
    std::vector<Header> headers;
    int want;
  };
  for (const Case& c : std::vector<Case>{
           {{}, 0},
           {{Header{"weir.replay.count", "2"}}, 2},
           {{Header{"weir.replay.count", "1"}, Header{"x", "y"}, Header{"weir.replay.count", "3"}},
            3},
           {{Header{"weir.replay.count", "two"}}, 0},  // a bad count never blocks a dead letter
           {{Header{"weir.replay.count", "-4"}}, 0},
           {{Header{"weir.replay.count", std::nullopt}}, 0},
       }) {
    DeadLetter dl =
        MakeDeadLetter(OriginalRecord("k", "v", c.headers), "g", ErrorClass::kUnknown, "", "", 0);
    EXPECT_EQ(dl.replay_count, c.want);
    auto parsed = ParseDeadLetter(DlqRecord(dl));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(parsed->replay_count, c.want);
    // The header stays among the original headers, so a replay can raise it.
    ExpectSameHeaders(parsed->original_headers, c.headers);
  }
}

TEST(DeadLetter, ADeadLetterOfADeadLetterKeepsTheInnerOne) {
  DeadLetter inner = MakeDeadLetter(OriginalRecord("k", kBinary, {Header{"h", "1"}}), "storage",
                                    ErrorClass::kProcessingFailure, "db down", "", 3);
  Record inner_record = DlqRecord(inner);  // alpr.dlq [0] offset 7
  DeadLetter outer = MakeDeadLetter(inner_record, "alpr-dlq-monitor", ErrorClass::kTimeout,
                                    "monitor timed out", "", 0);
  auto parsed = ParseDeadLetter(DlqRecord(outer));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  // The outer dead-lettering: the record failed on alpr.dlq.
  EXPECT_EQ(parsed->original_topic, "alpr.dlq");
  EXPECT_EQ(parsed->original_offset, Offset(7));
  EXPECT_EQ(parsed->consumer_group, "alpr-dlq-monitor");
  EXPECT_EQ(parsed->dlq_id, outer.dlq_id);
  // Its original headers are the inner dead letter's, which still parses.
  ExpectSameHeaders(parsed->original_headers, DeadLetterHeaders(inner));
  Record again = Record::Owned("alpr.dlq", Partition(0), Offset(7), {}, parsed->key, parsed->value,
                               parsed->original_headers);
  auto inner_parsed = ParseDeadLetter(again);
  ASSERT_TRUE(inner_parsed.ok()) << inner_parsed.status().ToString();
  EXPECT_EQ(inner_parsed->dlq_id, inner.dlq_id);
  EXPECT_EQ(inner_parsed->original_topic, "alpr.events.plates");
  EXPECT_EQ(inner_parsed->error_message, "db down");
}

TEST(DeadLetter, ReadsSpringKafkaDeadLetters) {
  Record r = WithHeaders({
      Header{"traceId", "abc"},
      Header{"kafka_dlt-exception-fqcn",
             "org.springframework.kafka.listener.ListenerExecutionFailedException"},
      Header{"kafka_dlt-exception-cause-fqcn", "java.lang.IllegalStateException"},
      Header{"kafka_dlt-exception-message", "Listener failed; plate unreadable"},
      Header{"kafka_dlt-exception-stacktrace", "java.lang.IllegalStateException\n\tat A.b()"},
      Header{"kafka_dlt-original-topic", "alpr.events.plates"},
      Header{"kafka_dlt-original-partition", JavaInt(2)},
      Header{"kafka_dlt-original-offset", JavaLong(5000000000)},
      Header{"kafka_dlt-original-timestamp", JavaLong(1795446245000)},
      Header{"kafka_dlt-original-timestamp-type", "CreateTime"},
      Header{"kafka_dlt-original-consumer-group", "alpr-search-indexer"},
  });
  auto dl = ParseDeadLetter(r);
  ASSERT_TRUE(dl.ok()) << dl.status().ToString();
  EXPECT_EQ(dl->dialect, DeadLetterDialect::kSpring);
  EXPECT_EQ(DeadLetterDialectName(dl->dialect), "spring");
  EXPECT_EQ(dl->original_topic, "alpr.events.plates");
  EXPECT_EQ(dl->original_partition, Partition(2));
  EXPECT_EQ(dl->original_offset, Offset(5000000000));
  EXPECT_EQ(dl->original_timestamp_ms, 1795446245000);
  EXPECT_EQ(dl->consumer_group, "alpr-search-indexer");
  EXPECT_EQ(dl->error_type, ErrorClass::kUnknown);
  EXPECT_EQ(dl->error_message, "Listener failed; plate unreadable");
  EXPECT_EQ(dl->error_context, "java.lang.IllegalStateException\n\tat A.b()");
  EXPECT_EQ(dl->metadata.at("exception.class"),
            "org.springframework.kafka.listener.ListenerExecutionFailedException");
  EXPECT_EQ(dl->metadata.at("exception.cause.class"), "java.lang.IllegalStateException");
  EXPECT_EQ(dl->metadata.at("original.timestamp.type"), "CreateTime");
  EXPECT_EQ(dl->dlq_id, "alpr.dlq:0:7");
  EXPECT_EQ(dl->timestamp_ms, 1795446245999);  // Spring publishes with a fresh timestamp
  EXPECT_EQ(dl->key, std::optional<std::string>("cam-01"));
  ExpectSameHeaders(dl->original_headers, {Header{"traceId", "abc"}});

  // A key that failed to deserialize: the key exception's message.
  auto key_failure = ParseDeadLetter(WithHeaders({
      Header{"kafka_dlt-key-exception-fqcn",
             "org.apache.kafka.common.errors.SerializationException"},
      Header{"kafka_dlt-key-exception-message", "bad key"},
      Header{"kafka_dlt-original-topic", "t"},
      Header{"kafka_dlt-original-partition", JavaInt(0)},
      Header{"kafka_dlt-original-offset", JavaLong(1)},
  }));
  ASSERT_TRUE(key_failure.ok()) << key_failure.status().ToString();
  EXPECT_EQ(key_failure->error_message, "bad key");
  EXPECT_EQ(key_failure->metadata.at("key.exception.class"),
            "org.apache.kafka.common.errors.SerializationException");
  EXPECT_EQ(key_failure->original_timestamp_ms, -1);
  EXPECT_EQ(key_failure->consumer_group, "");
}

TEST(DeadLetter, ReadsKafkaConnectDeadLetters) {
  Record r = WithHeaders(
      {
          Header{"source", "edge"},
          Header{"__connect.errors.topic", "alpr.events.plates"},
          Header{"__connect.errors.partition", "1"},
          Header{"__connect.errors.offset", "77"},
          Header{"__connect.errors.connector.name", "plates-to-s3"},
          Header{"__connect.errors.task.id", "0"},
          Header{"__connect.errors.stage", "VALUE_CONVERTER"},
          Header{"__connect.errors.class.name", "io.confluent.connect.avro.AvroConverter"},
          Header{"__connect.errors.exception.class.name",
                 "org.apache.kafka.connect.errors.DataException"},
          Header{"__connect.errors.exception.message", "Unknown magic byte!"},
          Header{"__connect.errors.exception.stacktrace", "DataException\n\tat X.y()"},
      },
      1795446000000);
  auto dl = ParseDeadLetter(r);
  ASSERT_TRUE(dl.ok()) << dl.status().ToString();
  EXPECT_EQ(dl->dialect, DeadLetterDialect::kKafkaConnect);
  EXPECT_EQ(DeadLetterDialectName(dl->dialect), "kafka-connect");
  EXPECT_EQ(dl->original_topic, "alpr.events.plates");
  EXPECT_EQ(dl->original_partition, Partition(1));
  EXPECT_EQ(dl->original_offset, Offset(77));
  EXPECT_EQ(dl->consumer_group, "connect-plates-to-s3");
  EXPECT_EQ(dl->error_type, ErrorClass::kUnknown);
  EXPECT_EQ(dl->error_message, "Unknown magic byte!");
  EXPECT_EQ(dl->error_context, "DataException\n\tat X.y()");
  EXPECT_EQ(dl->metadata.at("exception.class"), "org.apache.kafka.connect.errors.DataException");
  EXPECT_EQ(dl->metadata.at("connect.connector"), "plates-to-s3");
  EXPECT_EQ(dl->metadata.at("connect.stage"), "VALUE_CONVERTER");
  EXPECT_EQ(dl->metadata.at("connect.task.id"), "0");
  EXPECT_EQ(dl->metadata.at("connect.class"), "io.confluent.connect.avro.AvroConverter");
  // Connect copies the original timestamp onto the DLQ record.
  EXPECT_EQ(dl->original_timestamp_ms, 1795446000000);
  EXPECT_EQ(dl->timestamp_ms, 1795446000000);
  ExpectSameHeaders(dl->original_headers, {Header{"source", "edge"}});
}

// The dialect is that of the last provenance header: a weir dead letter
// that Spring dead-lettered again is a Spring dead letter whose original
// headers hold the weir block.
TEST(DeadLetter, TheLatestDeadLetteringDecidesTheDialect) {
  DeadLetter weir_dl =
      MakeDeadLetter(OriginalRecord("k", "v", {}), "g", ErrorClass::kUnknown, "first", "", 0);
  std::vector<Header> headers = DeadLetterHeaders(weir_dl);
  headers.push_back(Header{"kafka_dlt-original-topic", "alpr.dlq"});
  headers.push_back(Header{"kafka_dlt-original-partition", JavaInt(0)});
  headers.push_back(Header{"kafka_dlt-original-offset", JavaLong(9)});
  auto dl = ParseDeadLetter(WithHeaders(headers));
  ASSERT_TRUE(dl.ok()) << dl.status().ToString();
  EXPECT_EQ(dl->dialect, DeadLetterDialect::kSpring);
  EXPECT_EQ(dl->original_topic, "alpr.dlq");
  ExpectSameHeaders(dl->original_headers, DeadLetterHeaders(weir_dl));
}

TEST(DeadLetter, MalformedProvenanceIsRefusedNamingTheRecordAndTheHeader) {
  DeadLetter dl =
      MakeDeadLetter(OriginalRecord("k", "v", {}), "g", ErrorClass::kUnknown, "m", "", 0);
  dl.metadata["handler"] = "store";  // so that weir.dlq.metadata is written
  auto set = [](std::string name, std::optional<std::string> value) {
    return [name, value](std::vector<Header>& hs) {
      for (Header& h : hs) {
        if (h.key == name) h.value = value;
      }
    };
  };
  auto drop = [](std::string name) {
    return [name](std::vector<Header>& hs) {
      std::erase_if(hs, [&](const Header& h) { return h.key == name; });
    };
  };
  auto only = [](std::vector<Header> replacement) {
    return [replacement](std::vector<Header>& hs) { hs = replacement; };
  };
  const std::vector<Header> spring = {Header{"kafka_dlt-original-topic", "t"},
                                      Header{"kafka_dlt-original-partition", JavaInt(0)},
                                      Header{"kafka_dlt-original-offset", JavaLong(1)}};
  const std::vector<Header> connect = {Header{"__connect.errors.topic", "t"},
                                       Header{"__connect.errors.partition", "0"},
                                       Header{"__connect.errors.offset", "1"}};
  auto spring_with = [&](std::string name, std::string value) {
    std::vector<Header> hs = spring;
    for (Header& h : hs) {
      if (h.key == name) h.value = value;
    }
    return hs;
  };
  struct Case {
    const char* name;
    std::function<void(std::vector<Header>&)> mutate;
    const char* header;  // named in the message
    const char* why;
  };
  for (const Case& c : std::vector<Case>{
           {"no provenance", only({Header{"a", "b"}}), "", "not a dead letter"},
           {"partition", set("weir.dlq.original.partition", "x"), "weir.dlq.original.partition",
            "\"x\" is not a non-negative decimal"},
           {"negative offset", set("weir.dlq.original.offset", "-1"), "weir.dlq.original.offset",
            "non-negative"},
           {"missing topic", drop("weir.dlq.original.topic"), "weir.dlq.original.topic", "missing"},
           {"empty topic", set("weir.dlq.original.topic", ""), "weir.dlq.original.topic", "empty"},
           {"error type", set("weir.dlq.error.type", "OOPS"), "weir.dlq.error.type", "\"OOPS\""},
           {"timestamp", set("weir.dlq.timestamp", "yesterday"), "weir.dlq.timestamp", "ISO-8601"},
           {"metadata", set("weir.dlq.metadata", "[1]"), "weir.dlq.metadata", "JSON object"},
           {"null value", set("weir.dlq.consumer.group", std::nullopt), "weir.dlq.consumer.group",
            "null value"},
           {"retry count", set("weir.dlq.retry.count", "1.5"), "weir.dlq.retry.count",
            "non-negative"},
           {"no id", drop("weir.dlq.id"), "weir.dlq.id", "missing"},
           {"spring partition", only(spring_with("kafka_dlt-original-partition", "\x01\x02\x03")),
            "kafka_dlt-original-partition", "3 byte(s), expected a 4-byte big-endian int"},
           {"spring offset", only(spring_with("kafka_dlt-original-offset", JavaInt(1))),
            "kafka_dlt-original-offset", "expected a 8-byte big-endian long"},
           {"spring negative partition",
            only(spring_with("kafka_dlt-original-partition", JavaInt(-1))),
            "kafka_dlt-original-partition", "negative"},
           {"spring topic", only({spring[1], spring[2]}), "kafka_dlt-original-topic", "missing"},
           {"connect partition",
            only({connect[0], Header{"__connect.errors.partition", "zero"}, connect[2]}),
            "__connect.errors.partition", "\"zero\""},
           {"connect offset", only({connect[0], connect[1]}), "__connect.errors.offset", "missing"},
       }) {
    SCOPED_TRACE(c.name);
    std::vector<Header> hs = DeadLetterHeaders(dl);
    c.mutate(hs);
    auto parsed = ParseDeadLetter(WithHeaders(hs));
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    const std::string msg = parsed.status().message();
    EXPECT_EQ(msg.rfind("alpr.dlq [0] offset 7: ", 0), 0u) << msg;
    if (*c.header != '\0') {
      EXPECT_NE(msg.find(std::string("header ") + c.header), std::string::npos) << msg;
    }
    EXPECT_NE(msg.find(c.why), std::string::npos) << msg;
  }
}

class DlqMessageJson : public ::testing::Test {
 protected:
  void SetUp() override {
    auto parsed = schema::AvroSchema::Parse(
        testing::ReadFile(testing::SourcePath("examples/alpr/schemas/dlq_message.avsc")));
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    schema_ = std::move(parsed).value();
  }
  // The JSON of |dl|, after checking that the seed's schema accepts it and
  // that it encodes.
  json Accepted(const DeadLetter& dl) {
    const std::string text = DeadLetterToDlqMessageJson(dl);
    auto value = schema::JsonToAvro(*schema_, text, schema::AvroJsonMode::kPlain);
    EXPECT_TRUE(value.ok()) << value.status().ToString() << "\n" << text;
    if (value.ok()) {
      EXPECT_TRUE(schema::EncodeBinary(*schema_, *value).ok()) << text;
    }
    return json::parse(text);
  }
  std::optional<schema::AvroSchema> schema_;
};

TEST_F(DlqMessageJson, HasTheSeedsFieldsAndIsAcceptedByItsSchema) {
  DeadLetter dl =
      MakeDeadLetter(OriginalRecord("cam-01", R"({"plate":"ABC123"})", {}), "alpr-storage-service",
                     ErrorClass::kProcessingFailure, "db down", "at Store()", 2);
  dl.metadata = {{"handler", "store"}};
  json j = Accepted(dl);
  std::vector<std::string> names;
  for (const auto& [k, v] : j.items()) names.push_back(k);
  EXPECT_EQ(names.size(), 13u);
  EXPECT_EQ(j["dlq_id"], dl.dlq_id);
  EXPECT_EQ(j["timestamp"], FormatDlqTimestamp(dl.timestamp_ms));
  EXPECT_EQ(j["original_topic"], "alpr.events.plates");
  EXPECT_EQ(j["original_partition"], 2);
  EXPECT_EQ(j["original_offset"], 1234);
  EXPECT_EQ(j["original_key"], "cam-01");
  EXPECT_EQ(j["original_message"], R"({"plate":"ABC123"})");
  EXPECT_EQ(j["consumer_group_id"], "alpr-storage-service");
  EXPECT_EQ(j["error_type"], "PROCESSING_FAILURE");
  EXPECT_EQ(j["error_message"], "db down");
  EXPECT_EQ(j["error_stack_trace"], "at Store()");
  EXPECT_EQ(j["retry_count"], 2);
  EXPECT_EQ(j["metadata"], json({{"handler", "store"}}));
}

TEST_F(DlqMessageJson, BinaryBytesAreBase64AndNullsAreNull) {
  DeadLetter dl = MakeDeadLetter(OriginalRecord(std::nullopt, kBinary, {}), "g",
                                 ErrorClass::kSchemaValidation, "bad \xff utf-8", "", 0);
  json j = Accepted(dl);
  EXPECT_TRUE(j["original_key"].is_null());
  EXPECT_EQ(j["original_message"], "base64:AP8BgHBheWxvYWQA");
  EXPECT_TRUE(j["error_stack_trace"].is_null());
  EXPECT_EQ(j["error_message"], "bad \xef\xbf\xbd utf-8");  // replaced, not thrown
  EXPECT_EQ(j["metadata"], json::object());

  dl.key = kBinary;
  dl.value = std::nullopt;
  j = Accepted(dl);
  EXPECT_EQ(j["original_key"], "base64:AP8BgHBheWxvYWQA");
  EXPECT_EQ(j["original_message"], "");
}

TEST_F(DlqMessageJson, ForeignDialectsAreAcceptedToo) {
  auto dl = ParseDeadLetter(WithHeaders({
      Header{"__connect.errors.topic", "alpr.events.plates"},
      Header{"__connect.errors.partition", "1"},
      Header{"__connect.errors.offset", "77"},
      Header{"__connect.errors.connector.name", "sink"},
      Header{"__connect.errors.exception.class.name", "E"},
  }));
  ASSERT_TRUE(dl.ok()) << dl.status().ToString();
  json j = Accepted(*dl);
  EXPECT_EQ(j["error_type"], "UNKNOWN");
  EXPECT_EQ(j["consumer_group_id"], "connect-sink");
  EXPECT_EQ(j["dlq_id"], "alpr.dlq:0:7");
  EXPECT_EQ(j["metadata"]["exception.class"], "E");
}

}  // namespace
}  // namespace weir::consume
