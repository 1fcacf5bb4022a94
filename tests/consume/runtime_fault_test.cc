// The consumer runtime against librdkafka's mock cluster: a DLQ that cannot
// be written pauses the group and holds its commits until it can.
#include <gtest/gtest.h>

#include "consume/consume_test_util.h"
#include "kafka/kafka_test_util.h"
#include "weir/consume/runtime.h"
#include "weir/kafka/admin.h"

namespace weir::consume {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Order;
using testing::OrdersYaml;
using testing::ProduceOne;
using testing::Recorder;
using testing::WaitForStats;

int64_t CommittedOffset(const kafka::ClientConfig& base, const std::string& group,
                        const TopicPartition& tp) {
  kafka::ClientConfig c = base;
  c.Set("group.id", group);
  auto consumer = kafka::Consumer::Create(c, {});
  EXPECT_TRUE(consumer.ok());
  auto offsets = (*consumer)->Committed({tp}, seconds(10));
  EXPECT_TRUE(offsets.ok()) << offsets.status().ToString();
  return offsets.ok() && !offsets->empty() ? (*offsets)[0].offset.value() : -1;
}

TEST(RuntimeFaultTest, AnUnwritableDlqPausesTheGroupAndHoldsItsCommits) {
  auto mc = kafka::testing::StartCluster(1);
  ASSERT_TRUE(mc);
  ASSERT_TRUE(mc->CreateTopic("orders", 3).ok());
  ASSERT_TRUE(mc->CreateTopic("orders.legacy", 2).ok());
  ASSERT_TRUE(mc->CreateTopic("dlq", 1).ok());
  weir::testing::TempDir dir;
  dir.WriteFile("order.schema.json", testing::kOrderSchema);
  Topology topo = weir::testing::MakeTopology(
      dir, OrdersYaml("  g: {topics: [orders], ordering: partition, dlq: dlq}"));
  kafka::ClientConfig config = kafka::testing::BaseConfig(*mc);
  auto producer = kafka::Producer::Create(config);
  ASSERT_TRUE(producer.ok());
  for (int i = 0; i < 10; ++i) {
    ProduceOne(**producer, "orders", std::string("k"), Order("k", i, i == 3 ? "x" : ""), {},
               Partition(0));
  }
  // The DLQ's partition has no leader: every write to it times out.
  ASSERT_TRUE(mc->SetPartitionLeader("dlq", 0, -1).ok());
  kafka::ClientConfig rc = config;
  rc.Set("message.timeout.ms", "1000");
  RuntimeOptions options;
  options.commit_interval = milliseconds(100);
  auto rt = GroupRuntime::Create(topo, "g", rc, options);
  ASSERT_TRUE(rt.ok()) << rt.status().ToString();
  Recorder rec;
  ASSERT_TRUE((*rt)
                  ->OnTopic("orders",
                            [&](const Message& m) {
                              rec.Add(m);
                              return nlohmann::json::parse(m.json()).contains("fail")
                                         ? HandlerResult::Reject("refused")
                                         : HandlerResult::Ok();
                            })
                  .ok());
  ASSERT_TRUE((*rt)->Start().ok());
  ASSERT_TRUE(WaitForStats(**rt, [](const GroupStats& s) {
    return s.dlq_blocked && s.dlq_errors >= 2 && s.handled == 9 && s.paused_partitions == 3;
  }));
  // Records 0..2 are committed; nothing past the record that waits for the
  // DLQ is, although 4..9 are handled.
  ASSERT_TRUE(WaitForStats(**rt, [&](const GroupStats&) {
    return CommittedOffset(config, "g", {"orders", Partition(0)}) == 3;
  }));
  EXPECT_EQ(CommittedOffset(config, "g", {"orders", Partition(0)}), 3);
  EXPECT_EQ((*rt)->Stats().dead_lettered, 0u);
  // The DLQ comes back: the dead letter is written, the group resumes and
  // commits everything.
  ASSERT_TRUE(mc->SetPartitionLeader("dlq", 0, 1).ok());
  ASSERT_TRUE(WaitForStats(**rt, [](const GroupStats& s) {
    return s.dead_lettered == 1 && !s.dlq_blocked && s.paused_partitions == 0;
  }));
  ASSERT_TRUE((*rt)->Stop(seconds(10)).ok());
  EXPECT_EQ(CommittedOffset(config, "g", {"orders", Partition(0)}), 10);
  EXPECT_EQ(rec.seen().size(), 10u);
}

}  // namespace
}  // namespace weir::consume
