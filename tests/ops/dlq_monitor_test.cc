// The DLQ monitor against an embedded broker: counts per error type and
// original topic, the oldest age, unreadable records, and its metrics.
#include "weir/ops/dlq_monitor.h"

#include <gtest/gtest.h>

#include "broker/broker_test_util.h"
#include "consume/consume_test_util.h"
#include "weir/consume/dead_letter.h"
#include "weir/observe/metrics.h"

namespace weir::ops {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(DlqMonitorTest, CountsDeadLettersPerErrorTypeAndTopicAndExposesThem) {
  broker::testing::TestBroker broker;
  broker.CreateTopic("alpr.dlq", 1);
  broker.CreateTopic("alpr.events.plates", 1);
  weir::testing::TempDir dir;
  Topology topo = weir::testing::MakeTopology(dir, R"(
topics:
  alpr.events.plates: {}
  alpr.dlq: {}
consumer_groups:
  alpr-dlq-monitor: {topics: [alpr.dlq]}
)");
  auto producer = kafka::Producer::Create(broker.Config());
  ASSERT_TRUE(producer.ok());
  const int64_t now =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  auto send = [&](const std::string& topic, ErrorClass c, int64_t at_ms) {
    Record original = Record::Owned(topic, Partition(0), Offset(7), {}, std::string("cam-1"),
                                    std::string("\x00\x00\x00\x00\x01 avro", 10));
    consume::DeadLetter dl =
        consume::MakeDeadLetter(original, "alpr-storage-service", c, "failed", "", 2);
    dl.timestamp_ms = at_ms;
    std::vector<Header> headers = consume::DeadLetterHeaders(dl);
    std::vector<HeaderView> views;
    for (const Header& h : headers) views.push_back({h.key, *h.value});
    consume::testing::ProduceOne(**producer, "alpr.dlq", dl.key, dl.value, views);
  };
  send("alpr.events.plates", ErrorClass::kTimeout, now - 120000);  // the oldest: 2 min
  send("alpr.events.plates", ErrorClass::kTimeout, now - 1000);
  send("alpr.events.plates", ErrorClass::kSchemaValidation, now - 1000);
  send("alpr.events.vehicles", ErrorClass::kTimeout, now - 1000);
  consume::testing::ProduceOne(**producer, "alpr.dlq", std::string("x"),
                               std::string("not a dead letter"));

  observe::Registry metrics("alpr_");
  auto monitor = DlqMonitor::Create(topo, "alpr-dlq-monitor", broker.Config(), &metrics);
  ASSERT_TRUE(monitor.ok()) << monitor.status().ToString();
  ASSERT_TRUE((*monitor)->Start().ok());
  std::mutex mu;
  std::condition_variable cv;
  const auto deadline = std::chrono::steady_clock::now() + seconds(60);
  {
    std::unique_lock<std::mutex> lock(mu);
    while (((*monitor)->Stats().total < 4 || (*monitor)->unreadable() < 1) &&
           std::chrono::steady_clock::now() < deadline) {
      cv.wait_for(lock, milliseconds(10));
    }
  }
  const DlqStats stats = (*monitor)->Stats();
  EXPECT_EQ(stats.total, 4);
  EXPECT_EQ(stats.by_error_type.at(ErrorClass::kTimeout), 3);
  EXPECT_EQ(stats.by_original_topic.at("alpr.events.plates"), 3);
  EXPECT_EQ(stats.oldest_ms, now - 120000);
  EXPECT_EQ((*monitor)->unreadable(), 1);
  const std::string text = metrics.Render();
  for (const char* line :
       {"alpr_dlq_messages_total{error_type=\"TIMEOUT\",original_topic=\"alpr.events.plates\"} 2\n",
        "alpr_dlq_messages_total{error_type=\"SCHEMA_VALIDATION\",original_topic=\"alpr.events."
        "plates\"} 1\n",
        "alpr_dlq_messages_total{error_type=\"TIMEOUT\",original_topic=\"alpr.events.vehicles\"} "
        "1\n",
        "alpr_dlq_unreadable_records_total 1\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  // The oldest is two minutes old, in seconds.
  const std::string sample = "\nalpr_dlq_oldest_message_age_seconds ";
  const size_t at = text.find(sample);
  ASSERT_NE(at, std::string::npos) << text;
  const double age = std::stod(text.substr(at + sample.size()));
  EXPECT_GE(age, 120.0);
  EXPECT_LT(age, 1000.0);  // seconds, not milliseconds
  ASSERT_TRUE((*monitor)->Stop().ok());
  auto check = weir::testing::RunCommand({"promtool", "check", "metrics"}, text);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

}  // namespace
}  // namespace weir::ops
