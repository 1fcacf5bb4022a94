// Every series the Grafana dashboard and the alert rules query is one weir
// really exposes: a Publisher, a consumer group and the DLQ monitor run
// against an embedded broker with the ALPR prefix, and their /metrics output
// is the reference (not a list kept by hand).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "broker/broker_test_util.h"
#include "consume/consume_test_util.h"
#include "support/test_support.h"
#include "weir/consume/runtime.h"
#include "weir/observe/metrics.h"
#include "weir/ops/dlq_monitor.h"
#include "weir/publish/publisher.h"

namespace weir::observe {
namespace {

using std::chrono::seconds;

// The series names of a rendered registry: every family, with _bucket, _sum
// and _count for histograms.
std::set<std::string> Exposed(const std::string& text) {
  std::set<std::string> out;
  const std::regex type_re(R"(# TYPE (\S+) (\S+))");
  for (std::sregex_iterator it(text.begin(), text.end(), type_re), end; it != end; ++it) {
    const std::string name = (*it)[1];
    if ((*it)[2] == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) out.insert(name + suffix);
    } else {
      out.insert(name);
    }
  }
  return out;
}

// The alpr_ series an expression refers to.
std::set<std::string> Queried(const std::string& expr) {
  std::set<std::string> out;
  const std::regex name_re(R"(\balpr_[a-zA-Z0-9_:]+)");
  for (std::sregex_iterator it(expr.begin(), expr.end(), name_re), end; it != end; ++it) {
    out.insert(it->str());
  }
  return out;
}

TEST(ExposedMetricsTest, DashboardAndAlertRulesQueryOnlySeriesWeirExposes) {
  broker::testing::TestBroker broker;
  broker.CreateTopic("orders", 3);
  broker.CreateTopic("orders.legacy", 2);
  broker.CreateTopic("dlq", 1);
  weir::testing::TempDir dir;
  dir.WriteFile("order.schema.json", consume::testing::kOrderSchema);
  Topology topo = weir::testing::MakeTopology(
      dir, consume::testing::OrdersYaml("  g: {topics: [orders], dlq: dlq, timeout: 30s}\n"
                                        "  monitor: {topics: [dlq]}") +
               "publisher: {spool: off}\n");
  Registry metrics("alpr_");
  publish::PublisherOptions po;
  po.metrics = &metrics;
  auto pub = publish::Publisher::Create(topo, broker.Config(), po);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  ASSERT_EQ((*pub)->Publish("Order", consume::testing::Order("k", 1)).outcome,
            publish::PublishOutcome::kDelivered);
  // A refused event registers the error series.
  ASSERT_EQ((*pub)->Publish("Order", "{}").outcome, publish::PublishOutcome::kRefused);
  ASSERT_EQ((*pub)->Publish("Order", consume::testing::Order("k", 2, "x")).outcome,
            publish::PublishOutcome::kDelivered);
  consume::RuntimeOptions ro;
  ro.metrics = &metrics;
  ro.commit_interval = std::chrono::milliseconds(100);
  auto rt = consume::GroupRuntime::Create(topo, "g", broker.Config(), ro);
  ASSERT_TRUE(rt.ok()) << rt.status().ToString();
  ASSERT_TRUE((*rt)
                  ->OnTopic("orders",
                            [](const consume::Message& m) {
                              return nlohmann::json::parse(m.json()).contains("fail")
                                         ? consume::HandlerResult::Reject("no")
                                         : consume::HandlerResult::Ok();
                            })
                  .ok());
  ASSERT_TRUE((*rt)->Start().ok());
  auto monitor = ops::DlqMonitor::Create(topo, "monitor", broker.Config(), &metrics);
  ASSERT_TRUE(monitor.ok()) << monitor.status().ToString();
  ASSERT_TRUE((*monitor)->Start().ok());
  // Wait until the record is dead-lettered, the monitor read it and the
  // lag of the group's partitions is known.
  ASSERT_TRUE(consume::testing::WaitForStats(**rt, [&](const consume::GroupStats& s) {
    const std::string text = metrics.Render();
    return s.dead_lettered == 1 && (*monitor)->Stats().total == 1 &&
           text.find("alpr_consumer_lag_records{") != std::string::npos;
  }));
  const std::set<std::string> exposed = Exposed(metrics.Render());
  ASSERT_TRUE((*monitor)->Stop().ok());
  ASSERT_TRUE((*rt)->Stop(seconds(10)).ok());
  ASSERT_TRUE((*pub)->Close().ok());

  std::set<std::string> queried;
  const auto dash = nlohmann::json::parse(weir::testing::ReadFile(
      weir::testing::SourcePath("deploy/grafana/multi-topic-kafka-health.json")));
  size_t targets = 0;
  for (const auto& panel : dash.at("panels")) {
    for (const auto& target : panel.at("targets")) {
      ++targets;
      for (const std::string& name : Queried(target.at("expr").get<std::string>())) {
        queried.insert(name);
        EXPECT_TRUE(exposed.count(name))
            << "dashboard panel \"" << panel.at("title").get<std::string>() << "\" queries " << name
            << ", which weir does not expose";
      }
    }
  }
  EXPECT_GE(targets, 10u);
  const std::string rules =
      weir::testing::ReadFile(weir::testing::SourcePath("deploy/prometheus/alerts.yml"));
  for (const std::string& name : Queried(rules)) {
    queried.insert(name);
    EXPECT_TRUE(exposed.count(name))
        << "alerts.yml queries " << name << ", which weir does not expose";
  }
  // The ALPR plan's series are among them.
  for (const char* name :
       {"alpr_multi_topic_events_published_total", "alpr_multi_topic_publish_errors_total",
        "alpr_consumer_dlq_messages_sent_total", "alpr_consumer_retry_attempts_total",
        "alpr_consumer_processing_timeout_total", "alpr_dlq_messages_total",
        "alpr_dlq_oldest_message_age_seconds"}) {
    EXPECT_TRUE(exposed.count(name)) << name;
    EXPECT_TRUE(queried.count(name)) << name << " is not on the dashboard or in the rules";
  }
}

}  // namespace
}  // namespace weir::observe
