// Admin against the mock cluster: what the mock serves (metadata, watermarks,
// committed offsets) works; what it does not (topic admin, configs, group
// listing) fails cleanly with a clear Status, within the timeout.
#include "weir/kafka/admin.h"

#include <gtest/gtest.h>

#include "kafka/kafka_test_util.h"

namespace weir::kafka {
namespace {

using namespace testing;  // NOLINT(build/namespaces)

// A non-OK Status that says what failed.
void ExpectCleanFailure(const Status& s, std::string_view what) {
  SCOPED_TRACE(std::string(what));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.code(), StatusCode::kInternal) << s.ToString();
  EXPECT_FALSE(s.message().empty());
  EXPECT_TRUE(s.code() == StatusCode::kUnsupported || !s.kafka_error().empty()) << s.ToString();
}

TEST(AdminTest, MetadataWatermarksAndCommittedOffsetsWork) {
  auto mc = StartCluster(3);
  ASSERT_TRUE(mc);
  ASSERT_TRUE(mc->CreateTopic("meta-a", 3, 2).ok());
  ASSERT_TRUE(mc->CreateTopic("meta-b", 1, 1).ok());
  EXPECT_EQ(mc->CreateTopic("meta-a", 3, 2).code(), StatusCode::kAlreadyExists);
  auto producer = MakeProducer(BaseConfig(*mc));
  ProduceAll(*producer, "meta-b", Partition(0), {"1", "2", "3"});

  auto admin_or = Admin::Create(BaseConfig(*mc));
  ASSERT_TRUE(admin_or.ok()) << admin_or.status().ToString();
  Admin& admin = **admin_or;

  auto md = admin.Metadata(seconds(10));
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->brokers.size(), 3u);
  const TopicInfo* a = md->FindTopic("meta-a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->partitions.size(), 3u);
  // librdkafka 2.0.2's mock places every partition on every broker, whatever
  // replication factor was asked for.
  EXPECT_GE(a->ReplicationFactor(), 2);
  for (size_t i = 0; i < a->partitions.size(); ++i) {
    EXPECT_EQ(a->partitions[i].id, Partition(static_cast<int32_t>(i)));
    EXPECT_GE(a->partitions[i].leader, 1);
    EXPECT_TRUE(a->partitions[i].error.ok());
  }
  ASSERT_NE(md->FindTopic("meta-b"), nullptr);
  for (const TopicInfo& t : md->topics) EXPECT_FALSE(t.name.starts_with("__")) << t.name;

  auto wm = admin.ListOffsets({"meta-b", Partition(0)}, seconds(10));
  ASSERT_TRUE(wm.ok()) << wm.status().ToString();
  EXPECT_EQ(wm->first, Offset(0));
  EXPECT_EQ(wm->second, Offset(3));

  // Committed offsets use OffsetFetch, which the mock serves.
  auto consumer = MakeConsumer(ConsumerConfig(*mc), ConsumerOptions{"g-admin", nullptr});
  ASSERT_TRUE(consumer->Assign({{"meta-b", Partition(0), kOffsetBeginning, {}}}).ok());
  ASSERT_TRUE(consumer->Commit({{"meta-b", Partition(0), Offset(2), {}}}).ok());
  auto committed = admin.CommittedOffsets("g-admin", {{"meta-b", Partition(0)}}, seconds(10));
  if (committed.ok()) {
    ASSERT_EQ(committed->size(), 1u);
    EXPECT_EQ(committed->at(0).offset, Offset(2));
  } else {
    ExpectCleanFailure(committed.status(), "CommittedOffsets");
  }
  ASSERT_TRUE(consumer->Close().ok());
}

// librdkafka 2.0.2's mock cluster has no topic admin APIs: each call must
// come back as an error value (never hang, never throw), and must leave the
// client usable. One mock per API, so one API's failure cannot mask another's.
class AdminMockLacksTest : public ::testing::TestWithParam<std::string> {};

TEST_P(AdminMockLacksTest, FailsCleanlyAndTheClientStaysUsable) {
  auto mc = StartCluster(1);
  ASSERT_TRUE(mc);
  ASSERT_TRUE(mc->CreateTopic("adm", 1).ok());
  auto admin_or = Admin::Create(BaseConfig(*mc));
  ASSERT_TRUE(admin_or.ok());
  Admin& admin = **admin_or;
  const auto timeout = seconds(2);
  const std::string api = GetParam();
  if (api == "CreateTopics") {
    auto created =
        admin.CreateTopics({NewTopic{"new-topic", 3, 1, {{"retention.ms", "1000"}}}}, timeout);
    if (created.ok()) {
      ASSERT_EQ(created->size(), 1u);
      ExpectCleanFailure(created->at(0).status, "CreateTopics item");
    } else {
      ExpectCleanFailure(created.status(), "CreateTopics");
    }
  } else if (api == "DeleteTopics") {
    auto deleted = admin.DeleteTopics({"adm"}, timeout);
    if (deleted.ok()) {
      ExpectCleanFailure(deleted->at(0).status, "DeleteTopics item");
    } else {
      ExpectCleanFailure(deleted.status(), "DeleteTopics");
    }
  } else if (api == "CreatePartitions") {
    auto parts = admin.CreatePartitions({{"adm", 4}}, timeout);
    if (parts.ok()) {
      ExpectCleanFailure(parts->at(0).status, "CreatePartitions item");
    } else {
      ExpectCleanFailure(parts.status(), "CreatePartitions");
    }
  } else if (api == "DescribeConfigs") {
    ExpectCleanFailure(admin.DescribeTopicConfigs("adm", timeout).status(), "DescribeConfigs");
  } else if (api == "AlterConfigs") {
    ExpectCleanFailure(admin.AlterTopicConfigs("adm", {{"retention.ms", "1000"}}, timeout),
                       "AlterConfigs");
  } else if (api == "ListGroups") {
    ExpectCleanFailure(admin.ListGroups(timeout).status(), "ListGroups");
  }
  // Not DescribeGroups: against the mock it wedges librdkafka 2.0.2's
  // connection and then its rd_kafka_destroy(). It is exercised against the
  // embedded broker, which implements it.
  auto md = admin.Metadata(seconds(10));
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->FindTopic("new-topic"), nullptr);
  EXPECT_NE(md->FindTopic("adm"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Apis, AdminMockLacksTest,
                         ::testing::Values("CreateTopics", "DeleteTopics", "CreatePartitions",
                                           "DescribeConfigs", "AlterConfigs", "ListGroups"),
                         [](const auto& param_info) { return param_info.param; });

TEST(AdminTest, UnreachableClusterTimesOut) {
  ClientConfig cfg;
  cfg.Set("bootstrap.servers", "127.0.0.1:1");  // nothing listens on port 1
  auto admin_or = Admin::Create(cfg);
  ASSERT_TRUE(admin_or.ok());
  auto md = (*admin_or)->Metadata(milliseconds(500));
  EXPECT_FALSE(md.ok());
  auto created = (*admin_or)->CreateTopics({NewTopic{"t", 1, 1, {}}}, milliseconds(500));
  if (created.ok()) {
    ExpectCleanFailure(created->at(0).status, "CreateTopics item");
  } else {
    ExpectCleanFailure(created.status(), "CreateTopics");
  }
}

}  // namespace
}  // namespace weir::kafka
