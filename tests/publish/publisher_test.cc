// Publisher against an in-process embedded broker: routing, keys, Avro
// framing, dual-publish, validation errors, de-duplication, batches.
#include "weir/publish/publisher.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "broker/broker_test_util.h"
#include "publish/publish_test_util.h"
#include "weir/observe/metrics.h"
#include "weir/schema/avro.h"

namespace weir::publish {
namespace {

using broker::testing::TestBroker;
using nlohmann::json;
using weir::testing::MakeTopology;
using weir::testing::ReadTopic;
using weir::testing::TempDir;

constexpr const char* kTelemetrySchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["vehicle", "speed"],
  "properties": {
    "vehicle": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
    "speed": {"type": "number", "minimum": 0}
  }
})";

class PublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.WriteFile("telemetry.schema.json", kTelemetrySchema);
    topo_ = MakeTopology(
        dir_, fmt::format(R"(
publisher: {{delivery_timeout: 5s, dedup_ttl: 1m, spool: {{dir: spool}}}}
topics:
  plates: {{partitions: 3, key: camera_id}}
  plates.legacy: {{partitions: 2, key: camera_id}}
  telemetry: {{partitions: 2}}
  audit: {{partitions: 1}}
event_types:
  PlateEvent:
    schema: {}
    topic: plates
    mirror_topic: plates.legacy
    id: event_id
  Telemetry: {{schema: telemetry.schema.json, topics: [telemetry, audit], key: vehicle.id}}
)",
                          testing::SourcePath("examples/alpr/schemas/plate_event.avsc")));
    broker_.CreateTopic("plates", 3);
    broker_.CreateTopic("plates.legacy", 2);
    broker_.CreateTopic("telemetry", 2);
    broker_.CreateTopic("audit", 1);
    sample_ = json::parse(
        testing::ReadFile(testing::SourcePath("examples/alpr/schemas/samples/PlateEvent.json")));
  }

  std::unique_ptr<Publisher> Make(observe::Registry* metrics = nullptr) {
    PublisherOptions options;
    options.metrics = metrics;
    options.schema_ids = [this](const std::string& subject, const std::string&) -> Result<int32_t> {
      subjects_.push_back(subject);
      return subject == "plates-value" ? 41 : 42;
    };
    auto p = Publisher::Create(topo_, broker_.Config(), options);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(*p) : nullptr;
  }

  std::string Plate(const std::string& camera, int n) {
    json e = sample_;
    e["camera_id"] = camera;
    e["event_id"] = fmt::format("ev-{}-{}", camera, n);
    e["frame_number"] = n;
    return e.dump();
  }

  TempDir dir_;
  TestBroker broker_;
  Topology topo_;
  json sample_;
  std::vector<std::string> subjects_;
};

TEST_F(PublisherTest, RoutesKeysFramesAndDualPublishes) {
  auto pub = Make();
  ASSERT_TRUE(pub);
  EXPECT_EQ(subjects_, (std::vector<std::string>{"plates-value", "plates.legacy-value"}));
  std::vector<std::string> events;
  for (int i = 0; i < 30; ++i) events.push_back(Plate("cam-" + std::to_string(i % 4), i));
  std::vector<std::string_view> views(events.begin(), events.end());
  std::vector<PublishResult> results = pub->PublishBatch("PlateEvent", views);
  ASSERT_EQ(results.size(), 30u);
  for (const PublishResult& r : results) {
    ASSERT_EQ(r.outcome, PublishOutcome::kDelivered) << r.status.ToString();
    ASSERT_EQ(r.deliveries.size(), 2u);
    EXPECT_EQ(r.deliveries[0].topic, "plates");
    EXPECT_EQ(r.deliveries[1].topic, "plates.legacy");
    EXPECT_GE(r.deliveries[0].offset.value(), 0);
  }
  ASSERT_TRUE(pub->Close().ok());

  auto schema = schema::AvroSchema::Parse(
      testing::ReadFile(testing::SourcePath("examples/alpr/schemas/plate_event.avsc")));
  ASSERT_TRUE(schema.ok());
  for (const auto& [topic, partitions, id] :
       {std::tuple{"plates", 3, 41}, std::tuple{"plates.legacy", 2, 42}}) {
    std::vector<testing::ReadRecord> recs = ReadTopic(broker_.Config(), topic, partitions);
    ASSERT_EQ(recs.size(), 30u) << topic;
    std::map<std::string, int32_t> partition_of;
    std::map<std::string, int> last_frame;
    for (const testing::ReadRecord& r : recs) {
      ASSERT_TRUE(r.key && r.value);
      EXPECT_EQ(r.headers.at("weir-event-type"), "PlateEvent");
      auto frame = schema::UnwrapConfluent(*r.value);
      ASSERT_TRUE(frame.ok()) << frame.status().ToString();
      EXPECT_EQ(frame->schema_id, id);
      auto value = schema::DecodeBinary(*schema, frame->payload);
      ASSERT_TRUE(value.ok()) << value.status().ToString();
      auto text = schema::AvroToJson(*schema, *value);
      ASSERT_TRUE(text.ok());
      json decoded = json::parse(*text);
      EXPECT_EQ(decoded["camera_id"], *r.key);
      // One key, one partition, in publish order.
      auto [it, first] = partition_of.emplace(*r.key, r.partition);
      EXPECT_EQ(it->second, r.partition) << *r.key;
      const int frame_number = decoded["frame_number"].get<int>();
      if (!first) {
        EXPECT_GT(frame_number, last_frame[*r.key]);
      }
      last_frame[*r.key] = frame_number;
    }
  }
}

TEST_F(PublisherTest, JsonEventsPassThroughUnchangedToEveryTopic) {
  auto pub = Make();
  ASSERT_TRUE(pub);
  const std::string event = R"({"vehicle": {"id": "truck-7"},   "speed": 12.5})";
  PublishResult r = pub->Publish("Telemetry", event);
  ASSERT_EQ(r.outcome, PublishOutcome::kDelivered) << r.status.ToString();
  ASSERT_TRUE(pub->Close().ok());
  for (const auto& [topic, partitions] : {std::pair{"telemetry", 2}, std::pair{"audit", 1}}) {
    auto recs = ReadTopic(broker_.Config(), topic, partitions);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].value, event);
    EXPECT_EQ(recs[0].key, "truck-7");
  }
}

TEST_F(PublisherTest, InvalidEventsAreRefusedNamingTheFieldAndNothingIsProduced) {
  auto pub = Make();
  ASSERT_TRUE(pub);
  json bad = json::parse(Plate("cam-1", 1));
  bad["plate"]["confidence"] = "high";
  PublishResult r = pub->Publish("PlateEvent", bad.dump());
  EXPECT_EQ(r.outcome, PublishOutcome::kRefused);
  ASSERT_EQ(r.field_errors.size(), 1u);
  EXPECT_EQ(r.field_errors[0].pointer, "/plate/confidence");
  EXPECT_NE(r.status.message().find("PlateEvent"), std::string::npos) << r.status.message();

  json no_key = json::parse(Plate("cam-1", 2));
  no_key.erase("camera_id");
  r = pub->Publish("PlateEvent", no_key.dump());
  EXPECT_EQ(r.outcome, PublishOutcome::kRefused);
  ASSERT_FALSE(r.field_errors.empty());
  EXPECT_EQ(r.field_errors[0].pointer, "/camera_id");

  r = pub->Publish("Telemetry", R"({"vehicle": {"id": 7}, "speed": -1})");
  EXPECT_EQ(r.outcome, PublishOutcome::kRefused);
  ASSERT_EQ(r.field_errors.size(), 2u) << r.status.message();
  std::set<std::pair<std::string, std::string>> got;
  for (const FieldError& f : r.field_errors) got.emplace(f.pointer, f.keyword);
  EXPECT_EQ(got, (std::set<std::pair<std::string, std::string>>{{"/vehicle/id", "type"},
                                                                {"/speed", "minimum"}}));

  r = pub->Publish("Telemetry", R"({"vehicle": {"id": "x"}, "speed": )");
  EXPECT_EQ(r.outcome, PublishOutcome::kRefused);
  EXPECT_NE(r.status.message().find("not valid JSON (at byte"), std::string::npos)
      << r.status.message();

  r = pub->Publish("Plate", "{}");
  EXPECT_EQ(r.outcome, PublishOutcome::kRefused);
  EXPECT_EQ(r.status.code(), StatusCode::kNotFound);
  EXPECT_NE(r.status.message().find("declared: PlateEvent, Telemetry"), std::string::npos)
      << r.status.message();

  ASSERT_TRUE(pub->Close().ok());
  EXPECT_EQ(pub->Stats().refused, 5u);
  EXPECT_TRUE(ReadTopic(broker_.Config(), "plates", 3).empty());
  EXPECT_TRUE(ReadTopic(broker_.Config(), "telemetry", 2).empty());
}

TEST_F(PublisherTest, MetricsCountCopiesPublishedAndErrorsPerTopic) {
  observe::Registry metrics("alpr_");
  auto pub = Make(&metrics);
  ASSERT_TRUE(pub);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(pub->Publish("PlateEvent", Plate("cam-1", i)).outcome, PublishOutcome::kDelivered);
  }
  EXPECT_EQ(pub->Publish("Telemetry", R"({"vehicle": {"id": "x"}, "speed": -1})").outcome,
            PublishOutcome::kRefused);
  EXPECT_EQ(pub->Publish("Nope", "{}").outcome, PublishOutcome::kRefused);
  // An outcome is reported before its record leaves the in-flight count
  // (the delivery thread must not touch the record after Close() could
  // free it), so Publish() can return while the gauge still reads 1.
  ASSERT_TRUE(pub->Flush(std::chrono::seconds(10)).ok());
  const std::string text = metrics.Render();
  for (const char* line :
       {"alpr_multi_topic_events_published_total{topic=\"plates\"} 3\n",
        "alpr_multi_topic_events_published_total{topic=\"plates.legacy\"} 3\n",
        "alpr_multi_topic_events_published_total{topic=\"telemetry\"} 0\n",
        "alpr_multi_topic_publish_errors_total{topic=\"telemetry\",error_type=\"SCHEMA_"
        "VALIDATION\"} 1\n",
        "alpr_multi_topic_publish_errors_total{topic=\"\",error_type=\"UNKNOWN_EVENT_TYPE\"} 1\n",
        "alpr_publisher_in_flight_records 0\n", "alpr_publisher_spooling 0\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

TEST_F(PublisherTest, DuplicatesWithinTheTtlAreDroppedOnce) {
  auto pub = Make();
  ASSERT_TRUE(pub);
  const std::string event = Plate("cam-2", 7);
  EXPECT_EQ(pub->Publish("PlateEvent", event).outcome, PublishOutcome::kDelivered);
  EXPECT_EQ(pub->Publish("PlateEvent", event).outcome, PublishOutcome::kDuplicate);
  EXPECT_EQ(pub->Publish("PlateEvent", Plate("cam-2", 8)).outcome, PublishOutcome::kDelivered);
  ASSERT_TRUE(pub->Close().ok());
  EXPECT_EQ(pub->Stats().duplicates, 1u);
  EXPECT_EQ(ReadTopic(broker_.Config(), "plates", 3).size(), 2u);
}

TEST_F(PublisherTest, BatchResultsFollowInputOrder) {
  auto pub = Make();
  ASSERT_TRUE(pub);
  std::vector<std::string> events;
  for (int i = 0; i < 200; ++i) {
    events.push_back(i % 10 == 3
                         ? std::string(R"({"vehicle": {}, "speed": 1})")
                         : fmt::format(R"({{"vehicle": {{"id": "v{}"}}, "speed": {}}})", i % 5, i));
  }
  std::vector<std::string_view> views(events.begin(), events.end());
  auto results = pub->PublishBatch("Telemetry", views);
  ASSERT_EQ(results.size(), events.size());
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].outcome,
              i % 10 == 3 ? PublishOutcome::kRefused : PublishOutcome::kDelivered)
        << i << ": " << results[i].status.ToString();
  }
  ASSERT_TRUE(pub->Close().ok());
  EXPECT_EQ(ReadTopic(broker_.Config(), "audit", 1).size(), 180u);
}

TEST_F(PublisherTest, AnUnknownTopicFailsTheEventWithItsKafkaError) {
  TempDir dir;
  Topology topo = MakeTopology(dir, R"(
publisher: {spool: false, delivery_timeout: 5s}
topics: {missing: {partitions: 1}}
event_types: {Thing: {topic: missing}}
)");
  kafka::ClientConfig config = broker_.Config();
  auto pub = Publisher::Create(topo, config);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  PublishResult r = (*pub)->Publish("Thing", R"({"a": 1})");
  EXPECT_EQ(r.outcome, PublishOutcome::kFailed);
  EXPECT_FALSE(r.status.kafka_error().empty()) << r.status.ToString();
  EXPECT_NE(r.status.message().find("missing"), std::string::npos) << r.status.ToString();
}

}  // namespace
}  // namespace weir::publish
