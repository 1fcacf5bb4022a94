// `weir metrics publish|consume` end to end: the built binary against an
// embedded broker in this test process (-b), with the ALPR MetricEvent (Avro,
// examples/alpr/schemas/metric_event.avsc) and a folder registry beside
// weir.yaml; /metrics scraped over HTTP.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include "broker/broker_test_util.h"
#include "support/test_support.h"

namespace weir {
namespace {

using testing::ChildProcess;
using testing::CommandResult;
using testing::RunCommand;
using testing::WeirBinary;

class MetricsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.WriteFile(
        "weir.yaml", fmt::format(R"(
topics:
  alpr.metrics: {{partitions: 1, key: host_id}}
event_types:
  MetricEvent: {{schema: {}, topic: alpr.metrics, key: host_id}}
consumer_groups:
  alpr-metrics-consumer: {{topics: [alpr.metrics]}}
metrics: {{prefix: alpr_}}
)",
                                 testing::SourcePath("examples/alpr/schemas/metric_event.avsc")));
    broker_.CreateTopic("alpr.metrics", 1);
  }

  CommandResult Metrics(std::vector<std::string> args) {
    args.insert(args.begin(), {WeirBinary(), "-b", broker_.bootstrap(), "-c", config_, "metrics"});
    return RunCommand(args, {}, std::chrono::seconds(120));
  }

  broker::testing::TestBroker broker_;
  testing::TempDir dir_;
  std::string config_;
};

TEST_F(MetricsCli, PublishedMetricIsServedByTheConsumer) {
  CommandResult pub = Metrics({"publish", "--type", "FPS", "--name", "pipeline_fps", "--value",
                               "29.5", "--unit", "fps", "--tag", "camera=cam-1", "--tag",
                               "lane=2=left", "--host-id", "edge-1", "--site-id", "site-a"});
  ASSERT_EQ(pub.exit_code, 0) << pub.out << pub.err;
  EXPECT_EQ(
      pub.out.rfind("delivered MetricEvent pipeline_fps=29.5 host_id=edge-1 alpr.metrics/0@", 0),
      0u)
      << pub.out;
  // Lower-case types are taken; no --site-id gives site_id="".
  pub = Metrics({"publish", "--type", "memory", "--name", "memory_usage", "--value", "-0.25",
                 "--host-id", "edge-2"});
  ASSERT_EQ(pub.exit_code, 0) << pub.out << pub.err;

  auto child = ChildProcess::Start({WeirBinary(), "-b", broker_.bootstrap(), "-c", config_,
                                    "metrics", "consume", "--group", "alpr-metrics-consumer",
                                    "--listen", "127.0.0.1:0"});
  ASSERT_TRUE(child);
  const int port = weir::testing::ReadMetricsPort(*child);
  ASSERT_NE(port, 0);
  httplib::Client http("127.0.0.1", port);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  const std::string fps =
      "alpr_pipeline_fps{host_id=\"edge-1\",site_id=\"site-a\",metric_type=\"FPS\",unit=\"fps\","
      "camera=\"cam-1\",lane=\"2=left\"} 29.5\n";
  const std::string memory =
      "alpr_memory_usage{host_id=\"edge-2\",site_id=\"\",metric_type=\"MEMORY\",unit=\"\"} "
      "-0.25\n";
  std::string body;
  while (std::chrono::steady_clock::now() < deadline) {
    auto res = http.Get("/metrics");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    body = res->body;
    if (body.find(fps) != std::string::npos && body.find(memory) != std::string::npos) break;
    std::this_thread::yield();
  }
  EXPECT_NE(body.find(fps), std::string::npos) << body;
  EXPECT_NE(body.find(memory), std::string::npos) << body;
  EXPECT_NE(body.find("alpr_metric_events_received_total 2\n"), std::string::npos) << body;
  EXPECT_NE(body.find("alpr_metric_event_last_seen_timestamp_seconds{host_id=\"edge-1\"} "),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("alpr_consumer_messages_processed_total{consumer_group=\"alpr-metrics-"
                      "consumer\""),
            std::string::npos)
      << body;
  child->Signal(SIGTERM);
  const int status = child->Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  auto check = RunCommand({"promtool", "check", "metrics"}, body);
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

TEST_F(MetricsCli, BadArgumentsAreNamed) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"publish", "--type", "CPU", "--name", "n", "--value", "1"}, "--type CPU: expected FPS"},
      {{"publish", "--name", "n", "--value", "abc"}, "--value abc: expected a finite number"},
      {{"publish", "--name", "n", "--value", "1x"}, "--value 1x: expected a finite number"},
      {{"publish", "--name", "n", "--value", "inf"}, "--value inf: expected a finite number"},
      {{"publish", "--name", "n", "--value", "1", "--tag", "novalue"},
       "--tag novalue: expected KEY=VALUE"},
      {{"publish", "--name", "n", "--value", "1", "--tag", "=v"}, "--tag =v: expected KEY=VALUE"},
      {{"publish", "--name", "", "--value", "1"}, "--name: the metric name must not be empty"},
      {{"publish", "--event-type", "Nope", "--name", "n", "--value", "1"},
       "--event-type Nope: no such event type"},
      {{"publish", "--name", "n", "--value", "1", "--timeout", "soon"}, "--timeout soon"},
      {{"consume", "--group", "nope"}, "--group nope: no such consumer group"},
      {{"consume", "--group", "alpr-metrics-consumer", "--series-ttl", "x"}, "--series-ttl x"},
      {{"consume", "--group", "alpr-metrics-consumer", "--max-series", "-1"}, "--max-series -1"},
  };
  for (const auto& [args, want] : cases) {
    CommandResult r = Metrics(args);
    EXPECT_EQ(r.exit_code, 2) << want << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "") << want;
  }
  // CLI11's own checks: a missing required option.
  CommandResult r = Metrics({"publish", "--name", "n"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--value"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace weir
