// Consumer against the mock cluster: commit and resume in a group, commit
// errors, pause/resume, seek, watermarks, Committed, explicit Assign, Wakeup.
#include "weir/kafka/consumer.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <map>
#include <thread>

#include "kafka/kafka_test_util.h"

namespace weir::kafka {
namespace {

using namespace testing;  // NOLINT(build/namespaces)

std::vector<std::string> Values(const std::string& prefix, int n) {
  std::vector<std::string> v;
  for (int i = 0; i < n; ++i) v.push_back(prefix + std::to_string(i));
  return v;
}

TEST(ConsumerTest, CommitThenANewMemberResumesAfterTheCommittedOffset) {
  auto mc = StartCluster(1);
  ASSERT_TRUE(mc);
  ASSERT_TRUE(mc->CreateTopic("resume", 2).ok());
  auto producer = MakeProducer(BaseConfig(*mc));
  ProduceAll(*producer, "resume", Partition(0), Values("a", 10));
  ProduceAll(*producer, "resume", Partition(1), Values("b", 10));

  {
    auto first = MakeConsumer(ConsumerConfig(*mc), ConsumerOptions{"g-resume", nullptr});
    ASSERT_TRUE(first);
    EXPECT_EQ(first->MemberId(), "");
    ASSERT_TRUE(first->Subscribe({"resume"}).ok());
    std::vector<Record> got = PollCount(*first, 20);
    ASSERT_EQ(got.size(), 20u);
    EXPECT_NE(first->MemberId(), "");
    EXPECT_EQ(first->rebalance_protocol(), RebalanceProtocol::kEager);
    // Processed 4 records of partition 0 and 7 of partition 1.
    ASSERT_TRUE(first
                    ->Commit({{"resume", Partition(0), Offset(4), "meta"},
                              {"resume", Partition(1), Offset(7), {}}})
                    .ok());
    auto committed =
        first->Committed({{"resume", Partition(0)}, {"resume", Partition(1)}}, seconds(10));
    ASSERT_TRUE(committed.ok()) << committed.status().ToString();
    ASSERT_EQ(committed->size(), 2u);
    EXPECT_EQ((*committed)[0].offset, Offset(4));
    EXPECT_EQ((*committed)[0].metadata, "meta");
    EXPECT_EQ((*committed)[1].offset, Offset(7));
    ASSERT_TRUE(first->Close().ok());
  }

  auto second = MakeConsumer(ConsumerConfig(*mc), ConsumerOptions{"g-resume", nullptr});
  ASSERT_TRUE(second->Subscribe({"resume"}).ok());
  std::vector<Record> got = PollCount(*second, 9);
  ASSERT_EQ(got.size(), 9u);
  std::map<int32_t, std::vector<int64_t>> offsets;
  for (const Record& r : got) offsets[r.partition().value()].push_back(r.offset().value());
  EXPECT_EQ(offsets[0], (std::vector<int64_t>{4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(offsets[1], (std::vector<int64_t>{7, 8, 9}));
  EXPECT_EQ(ValueOf(got.front()), got.front().partition() == Partition(0) ? "a4" : "b7");
  ASSERT_TRUE(second->Close().ok());
}

TEST(ConsumerTest, FailedCommitReturnsTheKafkaErrorAndARetrySucceeds) {
  auto mc = StartCluster(1);
  ASSERT_TRUE(mc);
  ASSERT_TRUE(mc->CreateTopic("commit-err", 1).ok());
  auto producer = MakeProducer(BaseConfig(*mc));
  ProduceAll(*producer, "commit-err", Partition(0), Values("c", 5));

  // A group id but explicit assignment: commits work without a group join.
  auto consumer = MakeConsumer(ConsumerConfig(*mc), ConsumerOptions{"g-commit-err", nullptr});
  ASSERT_TRUE(consumer->Assign({{"commit-err", Partition(0), kOffsetBeginning, {}}}).ok());
  ASSERT_EQ(PollCount(*consumer, 5).size(), 5u);
  ASSERT_TRUE(consumer->Commit({{"commit-err", Partition(0), Offset(2), {}}}).ok());

  mc->PushRequestErrors(kApiOffsetCommit, {RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE});
  Status s = consumer->Commit({{"commit-err", Partition(0), Offset(5), {}}});
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.kafka_error(), "OFFSET_METADATA_TOO_LARGE") << s.ToString();
  EXPECT_NE(s.ToString().find("commit-err"), std::string::npos) << s.ToString();

  auto before = consumer->Committed({{"commit-err", Partition(0)}}, seconds(10));
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(before->at(0).offset, Offset(2));

  ASSERT_TRUE(consumer->Commit({{"commit-err", Partition(0), Offset(5), {}}}).ok());
  auto after = consumer->Committed({{"commit-err", Partition(0)}}, seconds(10));
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->at(0).offset, Offset(5));

  ASSERT_TRUE(consumer->CommitAsync({{"commit-err", Partition(0), Offset(4), {}}}).ok());
  EXPECT_TRUE(WaitFor(
      [&] {
        auto c = consumer->Committed({{"commit-err", Partition(0)}}, seconds(10));
        return c.ok() && c->at(0).offset == Offset(4);
      },
      [&] { (void)consumer->Poll(milliseconds(50)); }));
  ASSERT_TRUE(consumer->Close().ok());
}

TEST(ConsumerTest, PauseResumeSeekWatermarksAndAssign) {
  auto mc = StartCluster(1);
  ASSERT_TRUE(mc);
  ASSERT_TRUE(mc->CreateTopic("pos", 1).ok());
  auto producer = MakeProducer(BaseConfig(*mc));
  ProduceAll(*producer, "pos", Partition(0), Values("p", 10));
  const TopicPartition tp{"pos", Partition(0)};

  auto consumer = MakeConsumer(ConsumerConfig(*mc));
  ASSERT_TRUE(consumer);
  EXPECT_EQ(consumer->rebalance_protocol(), RebalanceProtocol::kNone);

  auto wm = consumer->QueryWatermarks(tp, seconds(10));
  ASSERT_TRUE(wm.ok()) << wm.status().ToString();
  EXPECT_EQ(wm->low, Offset(0));
  EXPECT_EQ(wm->high, Offset(10));

  // Explicit assignment from an offset.
  ASSERT_TRUE(consumer->Assign({{"pos", Partition(0), Offset(4), {}}}).ok());
  auto assignment = consumer->Assignment();
  ASSERT_TRUE(assignment.ok());
  EXPECT_EQ(*assignment, std::vector<TopicPartition>{tp});
  std::vector<Record> got;
  auto batch = PollUntil(*consumer, [](const std::vector<Record>& rs) { return !rs.empty(); });
  ASSERT_FALSE(batch.empty());
  EXPECT_EQ(batch.front().offset(), Offset(4));

  // Pause: nothing arrives; resume: the rest arrives with no gap.
  ASSERT_TRUE(consumer->Seek(tp, Offset(5), seconds(10)).ok());
  ASSERT_TRUE(consumer->Pause({tp}).ok());
  for (int i = 0; i < 3; ++i) {
    auto r = consumer->Poll(milliseconds(100));
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->empty()) << "a paused partition delivered offset "
                            << r->front().offset().value();
  }
  ASSERT_TRUE(consumer->Resume({tp}).ok());
  got = PollUntil(*consumer, [](const std::vector<Record>& rs) {
    return !rs.empty() && rs.back().offset() == Offset(9);
  });
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front().offset(), Offset(5));
  EXPECT_EQ(got.back().offset(), Offset(9));

  // Seek back.
  ASSERT_TRUE(consumer->Seek(tp, Offset(2), seconds(10)).ok());
  got = PollUntil(*consumer, [](const std::vector<Record>& rs) { return !rs.empty(); });
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front().offset(), Offset(2));
  EXPECT_EQ(ValueOf(got.front()), "p2");

  // Assign at the end: only records produced afterwards arrive. The end is
  // resolved asynchronously, so keep producing until one arrives; whichever
  // arrives first, nothing from before the assignment may.
  ASSERT_TRUE(consumer->Assign({{"pos", Partition(0), kOffsetEnd, {}}}).ok());
  got.clear();
  for (int round = 0; round < 50 && got.empty(); ++round) {
    ProduceAll(*producer, "pos", Partition(0), {"late"});
    got = PollUntil(
        *consumer, [](const std::vector<Record>& rs) { return !rs.empty(); }, milliseconds(500));
  }
  ASSERT_FALSE(got.empty());
  EXPECT_GE(got.front().offset(), Offset(10));
  EXPECT_EQ(ValueOf(got.front()), "late");

  // The mock cannot look offsets up by time: the call must still return.
  auto by_time = consumer->OffsetsForTimes({{"pos", Partition(0), Offset(0), {}}}, seconds(5));
  if (by_time.ok()) {
    ASSERT_EQ(by_time->size(), 1u);
  } else {
    EXPECT_FALSE(by_time.status().kafka_error().empty());
  }
  ASSERT_TRUE(consumer->Close().ok());
}

TEST(ConsumerTest, WakeupEndsABlockedPoll) {
  auto mc = StartCluster(1);
  ASSERT_TRUE(mc);
  ASSERT_TRUE(mc->CreateTopic("idle", 1).ok());
  auto consumer = MakeConsumer(ConsumerConfig(*mc));
  ASSERT_TRUE(consumer->Assign({{"idle", Partition(0), kOffsetBeginning, {}}}).ok());

  // Before a Poll: the next Poll returns at once (else the test times out).
  consumer->Wakeup();
  auto r = consumer->Poll(std::chrono::minutes(10));
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());

  // From another thread, while Poll may be blocked.
  std::atomic<bool> returned{false};
  std::thread waker([&] {
    while (!returned.load()) {
      consumer->Wakeup();
      std::this_thread::yield();
    }
  });
  r = consumer->Poll(std::chrono::minutes(10));
  returned = true;
  waker.join();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(consumer->Close().ok());
}

TEST(ConsumerTest, AutoCommitCannotBeEnabled) {
  auto mc = StartCluster(1);
  ASSERT_TRUE(mc);
  for (const char* name : {"enable.auto.commit", "enable.auto.offset.store"}) {
    ClientConfig cfg = ConsumerConfig(*mc);
    cfg.Set(name, "true");
    auto c = Consumer::Create(cfg, ConsumerOptions{"g", nullptr});
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(c.status().message().find(name), std::string::npos) << c.status().ToString();
  }
  ClientConfig cfg = ConsumerConfig(*mc);
  cfg.Set("enable.auto.commit", "false");
  EXPECT_TRUE(Consumer::Create(cfg, ConsumerOptions{"g", nullptr}).ok());
}

}  // namespace
}  // namespace weir::kafka
