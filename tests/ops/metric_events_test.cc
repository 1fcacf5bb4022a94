// The metrics topic: MetricEvent naming and JSON (table-driven), and the
// publisher and the consumer against an embedded broker — gauges, rates,
// tags, invalid records, reserved names, the series limit and expiry — with
// the rendered output checked by promtool.
#include "weir/ops/metric_events.h"

#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>

#include "broker/broker_test_util.h"
#include "consume/consume_test_util.h"
#include "weir/consume/runtime.h"
#include "weir/observe/metrics.h"
#include "weir/publish/publisher.h"

namespace weir::ops {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

// --- Naming and JSON, no broker -------------------------------------------------

TEST(MetricNamingTest, FamilyNames) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"pipeline_fps", "pipeline_fps"},
      {"pipelineFPS", "pipeline_fps"},
      {"GPU_UTIL", "gpu_util"},
      {"gpu2Util", "gpu2_util"},
      {"gpu.util%", "gpu_util_"},
      {"foo:bar", "foo_bar"},
      {"5xx_errors", "_5xx_errors"},
      {"temp-°C", "temp___c"},  // ° is two bytes
      {"frames_total", "frames_total_value"},
      {"total", "total_value"},
      {"queue_count", "queue_count_value"},
      {"latency_sum", "latency_sum_value"},
      {"latency_bucket", "latency_bucket_value"},
      {"subtotal", "subtotal"},
      {"", ""},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(MetricFamilyName(in), want) << in;
}

TEST(MetricNamingTest, LabelNames) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"camera", "camera"},
      {"cameraId", "camera_id"},
      {"Camera ID", "camera_id"},
      {"a.b", "a_b"},
      {"1st", "_1st"},
      {"", "_"},
      {"__name__", "tag__name__"},
      {"host_id", "tag_host_id"},
      {"site_id", "tag_site_id"},
      {"metric_type", "tag_metric_type"},
      {"unit", "tag_unit"},
      {"le", "tag_le"},
      {"quantile", "tag_quantile"},
      {"Unit", "tag_unit"},
  };
  for (const auto& [in, want] : cases) {
    EXPECT_EQ(MetricLabelName(in), want) << in;
    EXPECT_TRUE(observe::IsValidLabelName(MetricLabelName(in))) << in;
  }
}

TEST(MetricNamingTest, ReservedFamilies) {
  for (const char* name :
       {"consumer_lag_records", "consumer_processing_duration_seconds_bucket",
        "publisher_spool_records", "multi_topic_events_published_total", "dlq_messages_total",
        "metric_events_received_total", "metric_event_last_seen_timestamp_seconds"}) {
    EXPECT_TRUE(IsReservedMetricFamily(MetricFamilyName(name))) << name;
  }
  for (const char* name : {"pipeline_fps", "gpu_utilization", "memory_usage", "consumers",
                           "process_resident_memory_bytes", "metric_value"}) {
    EXPECT_FALSE(IsReservedMetricFamily(MetricFamilyName(name))) << name;
  }
}

TEST(MetricEventJsonTest, RoundTrip) {
  MetricEvent e;
  e.metric_id = NewMetricId();
  e.timestamp = "2026-11-23T15:04:05.123Z";
  e.host_id = "edge-1";
  e.site_id = "site-a";
  e.metric_type = MetricType::kGpuUtil;
  e.metric_name = "gpu_utilization";
  e.value = 87.25;
  e.unit = "percent";
  e.tags = {{"gpu", "0"}};
  auto back = ParseMetricEvent(MetricEventToJson(e));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->metric_id, e.metric_id);
  EXPECT_EQ(back->timestamp, e.timestamp);
  EXPECT_EQ(back->host_id, "edge-1");
  EXPECT_EQ(back->site_id, std::optional<std::string>("site-a"));
  EXPECT_EQ(back->metric_type, MetricType::kGpuUtil);
  EXPECT_EQ(back->metric_name, "gpu_utilization");
  EXPECT_EQ(back->value, 87.25);
  EXPECT_EQ(back->unit, "percent");
  EXPECT_EQ(back->tags, e.tags);
  // No site: null.
  e.site_id.reset();
  EXPECT_TRUE(json::parse(MetricEventToJson(e))["site_id"].is_null());
  EXPECT_FALSE(ParseMetricEvent(MetricEventToJson(e))->site_id.has_value());
  // Avro floats in JSON.
  auto nan =
      ParseMetricEvent(R"({"host_id":"h","metric_type":"FPS","metric_name":"fps","value":"NaN"})");
  ASSERT_TRUE(nan.ok()) << nan.status().ToString();
  EXPECT_TRUE(std::isnan(nan->value));
  // Two ids differ and look like UUIDs.
  const std::string id = NewMetricId();
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(id, NewMetricId());
  for (MetricType t : {MetricType::kFps, MetricType::kLatency, MetricType::kGpuUtil,
                       MetricType::kMemory, MetricType::kServiceHealth, MetricType::kCustom}) {
    EXPECT_EQ(ParseMetricType(MetricTypeName(t)), t);
  }
  EXPECT_FALSE(ParseMetricType("fps").has_value());
}

TEST(MetricEventJsonTest, InvalidEventsNameTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[1]", "not a JSON object"},
      {"not json", "not a JSON object"},
      {R"({"metric_type":"FPS","metric_name":"f","value":1})", "host_id is missing"},
      {R"({"host_id":"","metric_type":"FPS","metric_name":"f","value":1})", "host_id is empty"},
      {R"({"host_id":7,"metric_type":"FPS","metric_name":"f","value":1})",
       "host_id is a number, not a string"},
      {R"({"host_id":"h","metric_type":"FPS","value":1})", "metric_name is missing"},
      {R"({"host_id":"h","metric_type":"CPU","metric_name":"f","value":1})",
       "metric_type \"CPU\" is not one of"},
      {R"({"host_id":"h","metric_type":"FPS","metric_name":"f"})", "value is missing"},
      {R"({"host_id":"h","metric_type":"FPS","metric_name":"f","value":"1"})",
       "value is a string, not a number"},
      {R"({"host_id":"h","metric_type":"FPS","metric_name":"f","value":1,"site_id":3})",
       "site_id is a number"},
      {R"({"host_id":"h","metric_type":"FPS","metric_name":"f","value":1,"tags":[]})",
       "tags is a array, not an object"},
      {R"({"host_id":"h","metric_type":"FPS","metric_name":"f","value":1,"tags":{"a":1}})",
       "tags.a is a number, not a string"},
  };
  for (const auto& [in, want] : cases) {
    auto r = ParseMetricEvent(in);
    ASSERT_FALSE(r.ok()) << in;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(want), std::string::npos)
        << in << " → " << r.status().message();
  }
}

// --- Against a broker -------------------------------------------------------------

// Polls |pred| until it holds or |timeout| passes.
bool WaitUntil(const std::function<bool()>& pred, milliseconds timeout = seconds(60)) {
  std::mutex mu;
  std::condition_variable cv;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mu);
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    cv.wait_for(lock, milliseconds(10));
  }
  return true;
}

bool Has(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

void ExpectPromtoolAccepts(const std::string& text) {
  ASSERT_TRUE(weir::testing::HaveProgram("promtool")) << "scripts/deps.sh installs prometheus";
  auto check = weir::testing::RunCommand({"promtool", "check", "metrics"}, text);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err << "\n" << text;
}

class MetricEventsTest : public ::testing::Test {
 protected:
  // weir.yaml with the topic alpr.metrics, the event type MetricEvent
  // (|event_type| is its YAML) and the group "metrics".
  void Load(const std::string& event_type, const std::string& more_topics = "") {
    broker_.CreateTopic("alpr.metrics", 1);
    topo_ = weir::testing::MakeTopology(dir_, fmt::format(R"(
topics:
  alpr.metrics: {{partitions: 1, key: host_id}}
{}
event_types:
  MetricEvent: {}
consumer_groups:
  metrics: {{topics: [alpr.metrics]}}
publisher: {{spool: off}}
)",
                                                          more_topics, event_type));
    auto producer = kafka::Producer::Create(broker_.Config());
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    producer_ = std::move(*producer);
  }
  // The ALPR plan's MetricEvent: Avro, examples/alpr/schemas/metric_event.avsc.
  void LoadAlpr() {
    Load(fmt::format("{{schema: {}, topic: alpr.metrics, key: host_id}}",
                     weir::testing::SourcePath("examples/alpr/schemas/metric_event.avsc")));
  }
  // JSON events without a schema: any object is published; the consumer
  // checks the shape.
  void LoadSchemaless() { Load("{topic: alpr.metrics, key: host_id}"); }

  std::unique_ptr<MetricsConsumer> StartConsumer(MetricsConsumerOptions options = {}) {
    options.commit_interval = milliseconds(100);
    auto c =
        MetricsConsumer::Create(topo_, "metrics", broker_.ConsumerConfig(), &metrics_, options);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    if (!c.ok()) return nullptr;
    EXPECT_TRUE((*c)->Start().ok());
    return std::move(*c);
  }

  void ProduceRaw(const std::string& value, std::vector<HeaderView> headers = {}) {
    consume::testing::ProduceOne(*producer_, "alpr.metrics", std::string("h"), value, headers);
  }

  static std::string Event(const std::string& host, const std::string& name, double value,
                           std::map<std::string, std::string> tags = {}) {
    MetricEvent e;
    e.metric_id = NewMetricId();
    e.timestamp = "2026-11-23T15:04:05.250Z";
    e.host_id = host;
    e.metric_type = MetricType::kCustom;
    e.metric_name = name;
    e.value = value;
    e.unit = "u";
    e.tags = std::move(tags);
    return MetricEventToJson(e);
  }

  broker::testing::TestBroker broker_;
  weir::testing::TempDir dir_;
  Topology topo_;
  std::unique_ptr<kafka::Producer> producer_;
  observe::Registry metrics_{"alpr_"};
};

// The ALPR MetricEvent (Avro) end to end: gauges, a rate with a controlled
// counter and clock, the process gauges, the latest value winning.
TEST_F(MetricEventsTest, PublishedGaugesAndRatesBecomePrometheusGauges) {
  LoadAlpr();
  auto pub = publish::Publisher::Create(topo_, broker_.Config());
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  consume::ManualClock clock;
  MetricEventPublisherOptions po;
  po.host_id = "edge-1";
  po.site_id = "site-a";
  po.tags = {{"env", "test"}};
  po.clock = &clock;
  auto mp = MetricEventPublisher::Create(pub->get(), po);
  ASSERT_TRUE(mp.ok()) << mp.status().ToString();
  std::atomic<double> fps{12.5};
  std::atomic<double> records{1000};
  ASSERT_TRUE((*mp)
                  ->AddGauge(MetricType::kFps, "pipeline_fps", "fps", {{"camera", "cam-1"}},
                             [&] { return fps.load(); })
                  .ok());
  ASSERT_TRUE((*mp)
                  ->AddRate(MetricType::kCustom, "records_per_second", "records/s", {},
                            [&] { return records.load(); })
                  .ok());
  EXPECT_FALSE((*mp)->AddGauge(MetricType::kCustom, "", "", {}, [] { return 1.0; }).ok());
  EXPECT_FALSE((*mp)->AddRate(MetricType::kCustom, "x", "", {}, nullptr).ok());

  // Round 1: the gauges; the rates (records/s, CPU) take their first sample.
  ASSERT_TRUE((*mp)->PublishNow().ok());
  // Round 2, 10 s later on the publisher's clock: 50 more records = 5/s.
  fps = 29.97;  // an Avro float: shown as 29.97, not 29.969999313354492
  records = 1050;
  clock.Advance(seconds(10));
  ASSERT_TRUE((*mp)->PublishNow().ok());
  MetricEventPublisherStats ps = (*mp)->Stats();
  EXPECT_EQ(ps.rounds, 2u);
  EXPECT_EQ(ps.published, 6u);  // 2 + 4
  EXPECT_EQ(ps.skipped, 2u);
  EXPECT_EQ(ps.failed, 0u);

  auto consumer = StartConsumer();
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(WaitUntil([&] { return consumer->Stats().received >= 6; }));
  const std::string text = metrics_.Render();
  const std::string fixed = "host_id=\"edge-1\",site_id=\"site-a\",";
  EXPECT_TRUE(
      Has(text, "alpr_pipeline_fps{" + fixed +
                    "metric_type=\"FPS\",unit=\"fps\",camera=\"cam-1\",env=\"test\"} 29.97\n"))
      << text;
  EXPECT_FALSE(Has(text, "env=\"test\"} 12.5\n")) << text;  // the latest value wins
  EXPECT_TRUE(Has(text, "alpr_records_per_second{" + fixed +
                            "metric_type=\"CUSTOM\",unit=\"records/s\",env=\"test\"} 5\n"))
      << text;
  EXPECT_TRUE(Has(text, "alpr_process_resident_memory_bytes{" + fixed +
                            "metric_type=\"MEMORY\",unit=\"bytes\",env=\"test\"} "))
      << text;
  EXPECT_TRUE(Has(text, "alpr_process_cpu_percent{" + fixed +
                            "metric_type=\"CUSTOM\",unit=\"percent\",env=\"test\"} "))
      << text;
  EXPECT_TRUE(Has(text, "alpr_metric_events_received_total 6\n")) << text;
  EXPECT_TRUE(Has(text, "alpr_metric_events_invalid_total 0\n")) << text;
  EXPECT_TRUE(Has(text, "alpr_metric_events_series 4\n")) << text;
  EXPECT_TRUE(Has(text, "alpr_metric_event_last_seen_timestamp_seconds{host_id=\"edge-1\"} "))
      << text;
  // The group's own series are there too.
  EXPECT_TRUE(Has(text, "alpr_consumer_messages_processed_total{consumer_group=\"metrics\""))
      << text;
  const MetricsConsumerStats cs = consumer->Stats();
  EXPECT_EQ(cs.received, 6u);
  EXPECT_EQ(cs.invalid, 0u);
  EXPECT_EQ(cs.series, 4u);
  ASSERT_TRUE(consumer->Stop().ok());
  ExpectPromtoolAccepts(text);
  ASSERT_TRUE((*pub)->Close().ok());
}

// Records of the topic that are not MetricEvents are counted and skipped;
// the group keeps going (it has no DLQ, so a failed record would stop it).
TEST_F(MetricEventsTest, InvalidRecordsAreCountedAndDoNotStopTheGroup) {
  LoadAlpr();
  const std::vector<HeaderView> typed = {{"weir-event-type", std::string_view("MetricEvent")}};
  ProduceRaw("garbage", typed);                                   // not Confluent-framed
  ProduceRaw(Event("edge-1", "pipeline_fps", 1.0));               // JSON on an Avro topic
  ProduceRaw(std::string("\x00\x00\x00\x7f\x01\x02", 6), typed);  // an unknown schema id
  auto consumer = StartConsumer();
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(WaitUntil([&] { return consumer->Stats().invalid >= 3; }));
  // A valid event after them still arrives.
  auto pub = publish::Publisher::Create(topo_, broker_.Config());
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  auto r = (*pub)->Publish("MetricEvent", Event("edge-2", "pipeline_fps", 30));
  ASSERT_TRUE(r.accepted()) << r.status.ToString();
  ASSERT_TRUE(WaitUntil([&] { return consumer->Stats().received >= 4; }));
  const std::string text = metrics_.Render();
  EXPECT_TRUE(Has(text,
                  "alpr_pipeline_fps{host_id=\"edge-2\",site_id=\"\",metric_type=\"CUSTOM\","
                  "unit=\"u\"} 30\n"))
      << text;
  EXPECT_TRUE(Has(text, "alpr_metric_events_invalid_total 3\n")) << text;
  EXPECT_TRUE(Has(text, "alpr_metric_events_received_total 4\n")) << text;
  EXPECT_FALSE(Has(text, "host_id=\"edge-1\"")) << text;
  ASSERT_TRUE(consumer->Stop().ok());  // OK: no record failed the group
  ExpectPromtoolAccepts(text);
  ASSERT_TRUE((*pub)->Close().ok());
}

// Names and tags from untrusted producers: sanitised, collisions renamed,
// weir's own namespaces refused, invalid JSON counted.
TEST_F(MetricEventsTest, TagsAndNamesAreSanitised) {
  LoadSchemaless();
  ProduceRaw(Event("edge-1", "pipelineFPS.v2", 7,
                   {{"host_id", "x"},
                    {"Camera ID", "c1"},
                    {"le", "0.5"},
                    {"a.b", "dot"},
                    {"a-b", "dash"},
                    {"quote", "say \"hi\"\nbye"}}));
  ProduceRaw(Event("edge-1", "frames_total", 99));
  ProduceRaw(Event("edge-1", "consumer_lag_records", 1e6));        // weir's own series
  ProduceRaw(Event("edge-1", "metric_events_received_total", 1));  // the consumer's own
  ProduceRaw("{\"host_id\": \"edge-1\"}");                         // no metric_name
  ProduceRaw("not json");
  auto consumer = StartConsumer();
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(WaitUntil([&] { return consumer->Stats().received >= 6; }));
  const std::string text = metrics_.Render();
  // Tag labels in name order; "a-b" sorts before "a.b" and wins their label.
  EXPECT_TRUE(Has(text,
                  "alpr_pipeline_fps_v2{host_id=\"edge-1\",site_id=\"\",metric_type=\"CUSTOM\","
                  "unit=\"u\",a_b=\"dash\",camera_id=\"c1\",quote=\"say \\\"hi\\\"\\nbye\","
                  "tag_host_id=\"x\",tag_le=\"0.5\"} 7\n"))
      << text;
  EXPECT_TRUE(Has(text, "# TYPE alpr_frames_total_value gauge\n")) << text;
  EXPECT_TRUE(Has(text, "alpr_metric_events_dropped_total{reason=\"reserved_name\"} 2\n")) << text;
  EXPECT_TRUE(Has(text, "alpr_metric_events_dropped_total{reason=\"series_limit\"} 0\n")) << text;
  EXPECT_TRUE(Has(text, "alpr_metric_events_invalid_total 2\n")) << text;
  EXPECT_TRUE(Has(text, "alpr_metric_events_received_total 6\n")) << text;
  EXPECT_FALSE(Has(text, "alpr_consumer_lag_records{host_id")) << text;
  EXPECT_FALSE(Has(text, "alpr_metric_events_received_total{")) << text;
  EXPECT_EQ(consumer->Stats().dropped_reserved, 2u);
  ASSERT_TRUE(consumer->Stop().ok());
  ExpectPromtoolAccepts(text);
}

// At most max_series series; an existing series still updates at the limit;
// series_ttl frees the slots of series no longer sent.
TEST_F(MetricEventsTest, SeriesLimitAndExpiry) {
  LoadSchemaless();
  consume::ManualClock clock;
  MetricsConsumerOptions options;
  options.max_series = 3;
  options.series_ttl = std::chrono::minutes(5);
  options.clock = &clock;
  options.max_tags = 2;
  for (int i = 0; i < 5; ++i) ProduceRaw(Event(fmt::format("host-{}", i), "load", i));
  ProduceRaw(Event("host-0", "load", 42));  // an update, at the limit
  ProduceRaw(Event("host-0", "load", 1, {{"a", "1"}, {"b", "2"}, {"c", "3"}}));  // 3 tags
  auto consumer = StartConsumer(options);
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(WaitUntil([&] { return consumer->Stats().received >= 7; }));
  std::string text = metrics_.Render();
  MetricsConsumerStats s = consumer->Stats();
  EXPECT_EQ(s.series, 3u);
  EXPECT_EQ(s.dropped_series_limit, 2u);
  EXPECT_EQ(s.invalid, 1u);
  EXPECT_TRUE(Has(text, "alpr_metric_events_dropped_total{reason=\"series_limit\"} 2\n")) << text;
  EXPECT_TRUE(Has(text, "alpr_metric_events_series 3\n")) << text;
  EXPECT_TRUE(Has(text,
                  "alpr_load{host_id=\"host-0\",site_id=\"\",metric_type=\"CUSTOM\","
                  "unit=\"u\"} 42\n"))
      << text;
  EXPECT_FALSE(Has(text, "host_id=\"host-3\"")) << text;
  ExpectPromtoolAccepts(text);

  // Nothing sent for longer than the TTL: every series goes, and new ones fit.
  clock.Advance(std::chrono::minutes(6));
  text = metrics_.Render();
  EXPECT_FALSE(Has(text, "alpr_load{")) << text;
  EXPECT_FALSE(Has(text, "alpr_metric_event_last_seen_timestamp_seconds{")) << text;
  EXPECT_TRUE(Has(text, "alpr_metric_events_series 0\n")) << text;
  EXPECT_EQ(consumer->Stats().expired, 3u);
  ProduceRaw(Event("host-4", "load", 4));
  ASSERT_TRUE(WaitUntil([&] { return consumer->Stats().received >= 8; }));
  text = metrics_.Render();
  EXPECT_TRUE(Has(text,
                  "alpr_load{host_id=\"host-4\",site_id=\"\",metric_type=\"CUSTOM\","
                  "unit=\"u\"} 4\n"))
      << text;
  EXPECT_EQ(consumer->Stats().dropped_series_limit, 2u);
  ASSERT_TRUE(consumer->Stop().ok());
}

TEST_F(MetricEventsTest, PublisherNeedsAnEventTypeOfTheMetricEventShape) {
  broker_.CreateTopic("plates", 1);
  Load(fmt::format("{{schema: {}, topic: alpr.metrics, key: host_id}}\n"
                   "  PlateEvent: {{schema: {}, topic: plates, key: camera_id}}",
                   weir::testing::SourcePath("examples/alpr/schemas/metric_event.avsc"),
                   weir::testing::SourcePath("examples/alpr/schemas/plate_event.avsc")),
       "  plates: {partitions: 1, key: camera_id}");
  auto pub = publish::Publisher::Create(topo_, broker_.Config());
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  MetricEventPublisherOptions po;
  po.event_type = "NoSuchType";
  auto r = MetricEventPublisher::Create(pub->get(), po);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("\"NoSuchType\""), std::string::npos) << r.status().message();
  po.event_type = "PlateEvent";
  r = MetricEventPublisher::Create(pub->get(), po);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("\"PlateEvent\" does not take MetricEvents"),
            std::string::npos)
      << r.status().message();
  po.event_type = "MetricEvent";
  po.interval = milliseconds(0);
  EXPECT_EQ(MetricEventPublisher::Create(pub->get(), po).status().code(),
            StatusCode::kInvalidArgument);
  // The default host_id is the host name.
  po.interval = seconds(10);
  auto ok = MetricEventPublisher::Create(pub->get(), po);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_FALSE((*ok)->host_id().empty());
  ASSERT_TRUE((*pub)->Close().ok());
}

// A throwing source or a NaN does not stop the round; the background thread
// publishes at once and stops promptly (the interval is an hour).
TEST_F(MetricEventsTest, FailingSourcesAndTheBackgroundThread) {
  LoadAlpr();
  auto pub = publish::Publisher::Create(topo_, broker_.Config());
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  MetricEventPublisherOptions po;
  po.host_id = "edge-9";
  po.process_metrics = false;
  po.interval = std::chrono::hours(1);
  auto mp = MetricEventPublisher::Create(pub->get(), po);
  ASSERT_TRUE(mp.ok()) << mp.status().ToString();
  ASSERT_TRUE((*mp)
                  ->AddGauge(MetricType::kCustom, "broken", "", {},
                             []() -> double { throw std::runtime_error("sensor gone"); })
                  .ok());
  ASSERT_TRUE(
      (*mp)->AddGauge(MetricType::kCustom, "no_value", "", {}, [] { return std::nan(""); }).ok());
  ASSERT_TRUE((*mp)->AddGauge(MetricType::kServiceHealth, "up", "", {}, [] { return 1.0; }).ok());
  Status s = (*mp)->PublishNow();
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_NE(s.message().find("broken"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("sensor gone"), std::string::npos) << s.ToString();
  MetricEventPublisherStats st = (*mp)->Stats();
  EXPECT_EQ(st.published, 1u);
  EXPECT_EQ(st.source_errors, 1u);
  EXPECT_EQ(st.skipped, 1u);

  ASSERT_TRUE((*mp)->Start().ok());
  EXPECT_FALSE((*mp)->Start().ok());  // already started
  ASSERT_TRUE(WaitUntil([&] { return (*mp)->Stats().published >= 2; }));
  (*mp)->Stop();  // wakes the hour-long wait
  (*mp)->Stop();  // idempotent
  EXPECT_EQ((*mp)->Stats().published, 2u);
  ASSERT_TRUE((*pub)->Close().ok());
}

}  // namespace
}  // namespace weir::ops
