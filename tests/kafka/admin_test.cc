// Admin against the mock cluster: what the mock serves (metadata, watermarks,
// committed offsets) works; what it does not (topic admin, configs, group
// listing, DeleteRecords) fails cleanly with a clear Status, within the
// timeout. DeleteRecords is also run against the embedded broker, which
// serves it.
#include "weir/kafka/admin.h"

#include <gtest/gtest.h>

#include "broker/broker_test_util.h"
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
  } else if (api == "DeleteRecords") {
    auto deleted = admin.DeleteRecords({{"adm", Partition(0), kOffsetEnd, {}}}, timeout);
    if (deleted.ok()) {
      ASSERT_EQ(deleted->size(), 1u);
      ExpectCleanFailure(deleted->at(0).status, "DeleteRecords item");
    } else {
      ExpectCleanFailure(deleted.status(), "DeleteRecords");
    }
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
                                           "DescribeConfigs", "AlterConfigs", "ListGroups",
                                           "DeleteRecords"),
                         [](const auto& param_info) { return param_info.param; });

TEST(AdminTest, DeleteRecordsMovesTheLowWatermarksOfTheEmbeddedBroker) {
  broker::testing::TestBroker tb;
  tb.CreateTopic("dr", 3);
  auto producer = MakeProducer(tb.Config());
  ASSERT_TRUE(producer);
  ProduceAll(*producer, "dr", Partition(0), {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
  ProduceAll(*producer, "dr", Partition(1), {"a", "b", "c"});
  auto admin = tb.MakeAdmin();
  ASSERT_TRUE(admin);

  // Listed out of order: the results come back sorted by partition.
  auto deleted = admin->DeleteRecords(
      {{"dr", Partition(1), kOffsetEnd, {}}, {"dr", Partition(0), Offset(4), {}}}, seconds(10));
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_EQ(deleted->size(), 2u);
  EXPECT_EQ(deleted->at(0).partition, (TopicPartition{"dr", Partition(0)}));
  EXPECT_TRUE(deleted->at(0).status.ok()) << deleted->at(0).status.ToString();
  EXPECT_EQ(deleted->at(0).low_watermark, Offset(4));
  EXPECT_EQ(deleted->at(1).partition, (TopicPartition{"dr", Partition(1)}));
  EXPECT_TRUE(deleted->at(1).status.ok()) << deleted->at(1).status.ToString();
  EXPECT_EQ(deleted->at(1).low_watermark, Offset(3));  // everything: up to the high watermark

  auto wm = admin->ListOffsets({"dr", Partition(0)}, seconds(10));
  ASSERT_TRUE(wm.ok()) << wm.status().ToString();
  EXPECT_EQ(wm->first, Offset(4));
  EXPECT_EQ(wm->second, Offset(10));
  // A consumer from the beginning starts at the new low watermark.
  auto consumer = MakeConsumer(tb.ConsumerConfig());
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(consumer->Assign({{"dr", Partition(0), kOffsetBeginning, {}}}).ok());
  std::vector<Record> records = PollCount(*consumer, 6);
  ASSERT_EQ(records.size(), 6u);
  EXPECT_EQ(records.front().offset(), Offset(4));
  EXPECT_EQ(ValueOf(records.front()), "4");
  records.clear();

  // Deleting below the low watermark changes nothing and succeeds.
  deleted = admin->DeleteRecords({{"dr", Partition(0), Offset(2), {}}}, seconds(10));
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_EQ(deleted->size(), 1u);
  EXPECT_TRUE(deleted->at(0).status.ok()) << deleted->at(0).status.ToString();
  EXPECT_EQ(deleted->at(0).low_watermark, Offset(4));

  // Each failing partition fails alone, named; the others are deleted.
  deleted = admin->DeleteRecords({{"dr", Partition(0), Offset(11), {}},
                                  {"dr", Partition(2), kOffsetEnd, {}},
                                  {"dr", Partition(7), Offset(1), {}}},
                                 seconds(10));
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  ASSERT_EQ(deleted->size(), 3u);
  EXPECT_EQ(deleted->at(0).status.kafka_error(), "OFFSET_OUT_OF_RANGE")
      << deleted->at(0).status.ToString();
  EXPECT_NE(deleted->at(0).status.message().find("dr [0]"), std::string::npos)
      << deleted->at(0).status.ToString();
  EXPECT_EQ(deleted->at(0).low_watermark, kOffsetInvalid);
  EXPECT_TRUE(deleted->at(1).status.ok()) << deleted->at(1).status.ToString();
  EXPECT_EQ(deleted->at(1).low_watermark, Offset(0));  // an empty partition
  EXPECT_FALSE(deleted->at(2).status.ok());
  EXPECT_NE(deleted->at(2).status.message().find("dr [7]"), std::string::npos)
      << deleted->at(2).status.ToString();
  ASSERT_TRUE(consumer->Close().ok());
}

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
