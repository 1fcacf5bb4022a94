// The Prometheus registry: names, labels, escaping, histograms, collectors,
// and the rendered text accepted by promtool (Debian's prometheus package).
#include "weir/observe/metrics.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

#include "support/test_support.h"

namespace weir::observe {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndHistogramsWithThePrefix) {
  Registry reg("alpr_");
  reg.GetCounter("multi_topic_events_published_total", "Events published",
                 {{"topic", "alpr.events.plates"}})
      .Inc(3);
  reg.GetCounter("multi_topic_events_published_total", "Events published",
                 {{"topic", "alpr.events.plates"}})
      .Inc();
  reg.GetGauge("dlq_oldest_message_age_seconds", "Age of the oldest dead letter").Set(12.5);
  Histogram& h = reg.GetHistogram("consumer_processing_seconds", "Handler time",
                                  {{"consumer_group", "storage"}}, {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(7);
  EXPECT_EQ(reg.Render(),
            "# HELP alpr_consumer_processing_seconds Handler time\n"
            "# TYPE alpr_consumer_processing_seconds histogram\n"
            "alpr_consumer_processing_seconds_bucket{consumer_group=\"storage\",le=\"0.1\"} 1\n"
            "alpr_consumer_processing_seconds_bucket{consumer_group=\"storage\",le=\"1\"} 2\n"
            "alpr_consumer_processing_seconds_bucket{consumer_group=\"storage\",le=\"+Inf\"} 3\n"
            "alpr_consumer_processing_seconds_sum{consumer_group=\"storage\"} 7.55\n"
            "alpr_consumer_processing_seconds_count{consumer_group=\"storage\"} 3\n"
            "# HELP alpr_dlq_oldest_message_age_seconds Age of the oldest dead letter\n"
            "# TYPE alpr_dlq_oldest_message_age_seconds gauge\n"
            "alpr_dlq_oldest_message_age_seconds 12.5\n"
            "# HELP alpr_multi_topic_events_published_total Events published\n"
            "# TYPE alpr_multi_topic_events_published_total counter\n"
            "alpr_multi_topic_events_published_total{topic=\"alpr.events.plates\"} 4\n");
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  Registry reg("");
  reg.GetCounter("errors_total", "Errors \\ by\nreason", {{"reason", "a \"quoted\"\\ value\nx"}})
      .Inc();
  EXPECT_EQ(reg.Render(),
            "# HELP errors_total Errors \\\\ by\\nreason\n"
            "# TYPE errors_total counter\n"
            "errors_total{reason=\"a \\\"quoted\\\"\\\\ value\\nx\"} 1\n");
}

TEST(MetricsTest, CollectorsAddSamplesAtScrapeTime) {
  Registry reg("weir_");
  int lag = 5;
  const int id = reg.AddCollector([&](Scrape& s) {
    s.Gauge("consumer_lag", "Records behind", {{"partition", "0"}}, lag);
    s.Gauge("consumer_lag", "Records behind", {{"partition", "1"}}, lag * 2);
  });
  reg.AddCollector([](Scrape&) { throw std::runtime_error("broken collector"); });
  lag = 7;
  EXPECT_EQ(reg.Render(),
            "# HELP weir_consumer_lag Records behind\n"
            "# TYPE weir_consumer_lag gauge\n"
            "weir_consumer_lag{partition=\"0\"} 7\n"
            "weir_consumer_lag{partition=\"1\"} 14\n");
  reg.RemoveCollector(id);
  EXPECT_EQ(reg.Render(), "");
}

TEST(MetricsTest, BadNamesAndMismatchedFamiliesAreProgrammingErrors) {
  Registry reg("weir_");
  EXPECT_THROW(reg.GetCounter("bad-name", "x"), std::invalid_argument);
  EXPECT_THROW(reg.GetCounter("ok_total", "x", {{"__reserved", "v"}}), std::invalid_argument);
  EXPECT_THROW(reg.GetCounter("ok_total", "x", {{"le", "v"}}), std::invalid_argument);
  reg.GetCounter("events_total", "x", {{"topic", "a"}});
  EXPECT_THROW(reg.GetGauge("events_total", "x", {{"topic", "a"}}), std::invalid_argument);
  EXPECT_THROW(reg.GetCounter("events_total", "x", {{"group", "a"}}), std::invalid_argument);
  EXPECT_THROW(Registry("9bad"), std::invalid_argument);
  EXPECT_THROW(Histogram({1, 1}), std::invalid_argument);
}

TEST(MetricsTest, ConcurrentIncrementsAreAllCounted) {
  Registry reg;
  Counter& c = reg.GetCounter("hits_total", "Hits");
  Histogram& h = reg.GetHistogram("latency_seconds", "Latency");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        c.Inc();
        h.Observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 400000);
  EXPECT_EQ(h.Take().count, 400000u);
}

TEST(MetricsTest, PromtoolAcceptsTheOutput) {
  ASSERT_TRUE(weir::testing::HaveProgram("promtool")) << "scripts/deps.sh installs prometheus";
  Registry reg("alpr_");
  reg.GetCounter("consumer_dlq_messages_sent_total", "Dead letters sent",
                 {{"consumer_group", "alpr-storage-service"}, {"error_type", "TIMEOUT"}})
      .Inc(2);
  reg.GetGauge("spool_records", "Records in the spool").Set(0);
  reg.GetHistogram("end_to_end_latency_seconds", "Record timestamp to handled",
                   {{"consumer_group", "g"}})
      .Observe(0.02);
  reg.AddCollector([](Scrape& s) {
    s.Gauge("consumer_lag", "Lag", {{"topic", "t\"x"}, {"partition", "0"}}, 1e20);
  });
  auto r = weir::testing::RunCommand({"promtool", "check", "metrics"}, reg.Render());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err << "\n" << reg.Render();
}

}  // namespace
}  // namespace weir::observe
