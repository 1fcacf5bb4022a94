// Plan computation against the live metadata of librdkafka's mock cluster,
// and apply's behaviour on a cluster without the admin APIs.
#include <gtest/gtest.h>

#include "weir/kafka/admin.h"
#include "weir/kafka/mock_cluster.h"
#include "weir/ops/topic_plan.h"

namespace weir::ops {
namespace {

using std::chrono::seconds;

class TopicPlanMock : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mc = kafka::MockCluster::Start(1);
    ASSERT_TRUE(mc.ok()) << mc.status().ToString();
    cluster_ = std::move(mc).value();
    ASSERT_TRUE(cluster_->CreateTopic("alpr.events.plates", 3).ok());
    ASSERT_TRUE(cluster_->CreateTopic("alpr.metrics", 4).ok());
    ASSERT_TRUE(cluster_->CreateTopic("unrelated", 1).ok());
    kafka::ClientConfig cfg;
    cfg.Set("bootstrap.servers", cluster_->bootstrap_servers());
    auto admin = kafka::Admin::Create(cfg);
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    admin_ = std::move(admin).value();
    auto topo = ParseTopology(
        "topics:\n"
        "  alpr.events.plates: {partitions: 3, replication: 1}\n"
        "  alpr.metrics: {partitions: 1, retention: 24h}\n"
        "  alpr.dlq: {partitions: 1, retention: 30d}\n",
        "weir.yaml");
    ASSERT_TRUE(topo.ok()) << topo.status().ToString();
    topology_ = std::move(topo).value();
  }

  std::unique_ptr<kafka::MockCluster> cluster_;
  std::unique_ptr<kafka::Admin> admin_;
  Topology topology_;
};

TEST_F(TopicPlanMock, PlanFromLiveMetadata) {
  auto live = ReadLiveState(*admin_, topology_, seconds(2));
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  const LiveTopic* plates = live->Find("alpr.events.plates");
  ASSERT_NE(plates, nullptr);
  EXPECT_EQ(plates->partitions, 3);
  EXPECT_EQ(plates->replication, 1);
  EXPECT_FALSE(plates->configs.has_value());  // the mock has no DescribeConfigs
  EXPECT_FALSE(plates->configs_error.empty());

  TopicPlan plan = ComputeTopicPlan(topology_, *live);
  ASSERT_EQ(plan.actions.size(), 3u) << FormatPlan(plan);
  EXPECT_EQ(plan.actions[0].kind, ActionKind::kRefused);
  EXPECT_EQ(plan.actions[0].topic, "alpr.metrics");
  EXPECT_EQ(plan.actions[1].kind, ActionKind::kUnknownConfigs);
  EXPECT_EQ(plan.actions[2].kind, ActionKind::kCreate);
  EXPECT_EQ(plan.actions[2].topic, "alpr.dlq");
  EXPECT_EQ(plan.unchanged, std::vector<std::string>{"alpr.events.plates"});
  EXPECT_EQ(plan.undeclared, std::vector<std::string>{"unrelated"});
}

TEST_F(TopicPlanMock, ApplyRefusesEverythingWhenAnythingIsRefused) {
  auto live = ReadLiveState(*admin_, topology_, seconds(2));
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  TopicPlan plan = ComputeTopicPlan(topology_, *live);
  ApplyReport report;
  Status s = ApplyTopicPlan(*admin_, plan, ApplyOptions{seconds(3), false}, &report);
  EXPECT_EQ(s.code(), StatusCode::kRefused) << s.ToString();
  EXPECT_TRUE(report.done.empty());
  EXPECT_TRUE(report.failed.empty());
  ASSERT_EQ(report.refused.size(), 1u);
  EXPECT_NE(report.refused[0].find("alpr.metrics"), std::string::npos);
}

TEST_F(TopicPlanMock, ApplyOnClusterWithoutCreateTopicsFailsClearly) {
  auto live = ReadLiveState(*admin_, topology_, seconds(2));
  ASSERT_TRUE(live.ok()) << live.status().ToString();
  TopicPlan plan = ComputeTopicPlan(topology_, *live);
  ApplyReport report;
  Status s = ApplyTopicPlan(*admin_, plan, ApplyOptions{seconds(3), true}, &report);
  EXPECT_FALSE(s.ok());
  // alpr.dlq cannot be created, and alpr.metrics' configs cannot be
  // verified: both are failures, neither is silent.
  ASSERT_EQ(report.failed.size(), 2u);
  std::string all;
  for (const std::string& f : report.failed) all += f + "\n";
  EXPECT_NE(all.find("created alpr.dlq"), std::string::npos) << all;
  EXPECT_NE(all.find("configs of alpr.metrics not verified"), std::string::npos) << all;
}

}  // namespace
}  // namespace weir::ops
