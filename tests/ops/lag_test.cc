// Burrow's evaluation rules, one case per rule, on a LagEvaluator fed by
// hand; and the __consumer_offsets record format against the embedded
// broker's own records.
#include "weir/ops/lag.h"

#include <gtest/gtest.h>

#include <future>
#include <string>

#include "broker/broker_test_util.h"
#include "broker/offsets_topic.h"
#include "common/wall_clock.h"
#include "weir/kafka/consumer.h"
#include "weir/kafka/producer.h"

namespace weir::ops {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;  // a whole second, as Burrow compares

// A topic "t" with one partition whose end offset is |end|, and commits of
// group "g" 10 s apart ending at kNow.
struct Fixture {
  LagEvaluator eval;
  explicit Fixture(int64_t end, LagRules rules = {}) : eval(rules) {
    eval.AddEndOffset("t", 0, 1, end);
  }
  void Commits(const std::vector<int64_t>& offsets, int64_t last_ts = kNow, int64_t step = 10'000) {
    for (size_t i = 0; i < offsets.size(); ++i) {
      const int64_t ts = last_ts - step * static_cast<int64_t>(offsets.size() - 1 - i);
      ASSERT_TRUE(eval.AddCommit("g", "t", 0, offsets[i], ts, kNow));
    }
  }
  PartitionLag Partition(int64_t now = kNow) {
    auto g = eval.Evaluate("g", now);
    EXPECT_TRUE(g.has_value());
    return g ? g->partitions.at(0) : PartitionLag{};
  }
  LagStatus Group(int64_t now = kNow) { return eval.Evaluate("g", now)->status; }
};

TEST(LagEvaluatorTest, NoLagIsOk) {
  Fixture f(100);
  f.Commits({10, 50, 100});
  EXPECT_EQ(f.Partition().status, LagStatus::kOk);
  EXPECT_EQ(f.Partition().lag, 0);
  EXPECT_EQ(f.Partition().lag_seconds, 0.0);
}

TEST(LagEvaluatorTest, LagThatWasZeroInTheWindowIsOk) {
  Fixture f(100);
  f.Commits({100, 100});  // lag 0 at commit time
  f.eval.AddEndOffset("t", 0, 1, 150);
  ASSERT_TRUE(f.eval.AddCommit("g", "t", 0, 120, kNow + 10'000, kNow));
  EXPECT_EQ(f.Partition(kNow + 10'000).status, LagStatus::kOk);
  EXPECT_EQ(f.Partition(kNow + 10'000).lag, 30);
}

TEST(LagEvaluatorTest, LagDecreasingIsOk) {
  Fixture f(100);
  f.Commits({10, 20, 40, 60});
  PartitionLag p = f.Partition();
  EXPECT_EQ(p.status, LagStatus::kOk);
  EXPECT_EQ(p.lag, 40);
  // 50 records over 30 s: 40 behind is 24 s.
  ASSERT_TRUE(p.lag_seconds.has_value());
  EXPECT_DOUBLE_EQ(*p.lag_seconds, 24.0);
}

TEST(LagEvaluatorTest, LagNeverDecreasingIsWarn) {
  Fixture f(100);
  int64_t end = 100;
  for (int i = 0; i < 5; ++i) {
    // The consumer moves, but the producer moves faster.
    f.eval.AddEndOffset("t", 0, 1, end);
    ASSERT_TRUE(f.eval.AddCommit("g", "t", 0, 50 + 10 * i, kNow - 40'000 + 10'000 * i, kNow));
    end += 20;
  }
  EXPECT_EQ(f.Partition().status, LagStatus::kWarn);
  EXPECT_EQ(f.Group(), LagStatus::kWarn);
}

TEST(LagEvaluatorTest, OffsetNotMovingWithLagIsStallAndTheGroupErr) {
  Fixture f(100);
  f.Commits({40, 40, 40, 40});
  EXPECT_EQ(f.Partition().status, LagStatus::kStall);
  EXPECT_EQ(f.Partition().lag_seconds, std::nullopt);
  EXPECT_EQ(f.Group(), LagStatus::kErr);
}

TEST(LagEvaluatorTest, OffsetGoingBackIsRewind) {
  Fixture f(100);
  f.Commits({50, 60, 30, 40});
  EXPECT_EQ(f.Partition().status, LagStatus::kRewind);
  EXPECT_EQ(f.Group(), LagStatus::kErr);
}

TEST(LagEvaluatorTest, NoCommitForLongerThanTheWindowIsStop) {
  Fixture f(100);
  f.Commits({10, 20, 30}, kNow - 100'000);  // window spans 20 s, last commit 100 s ago
  EXPECT_EQ(f.Partition().status, LagStatus::kStop);
  EXPECT_EQ(f.Group(), LagStatus::kErr);
  // Caught up before it stopped: an end offset at or below the last commit
  // was seen in the window, so it is not STOP (and lag 0 is OK anyway).
  Fixture caught_up(30);
  caught_up.Commits({10, 20, 30}, kNow - 100'000);
  EXPECT_EQ(caught_up.Partition().status, LagStatus::kOk);
}

TEST(LagEvaluatorTest, CommitsCloserThanMinDistanceShareASample) {
  Fixture f(100);
  ASSERT_TRUE(f.eval.AddCommit("g", "t", 0, 10, kNow - 2000, kNow));
  ASSERT_TRUE(f.eval.AddCommit("g", "t", 0, 20, kNow - 1500, kNow));  // replaces, keeps kNow-2000
  ASSERT_TRUE(f.eval.AddCommit("g", "t", 0, 30, kNow, kNow));
  PartitionLag p = f.Partition();
  ASSERT_EQ(p.window.size(), 2u);
  EXPECT_EQ(p.window[0].offset, 20);
  EXPECT_EQ(p.window[0].timestamp_ms, kNow - 2000);
  EXPECT_EQ(p.window[1].offset, 30);
  EXPECT_DOUBLE_EQ(p.complete, 0.2);
}

TEST(LagEvaluatorTest, TheWindowKeepsTheNewestIntervals) {
  LagRules rules;
  rules.intervals = 3;
  Fixture f(100, rules);
  f.Commits({10, 20, 30, 40, 50});
  PartitionLag p = f.Partition();
  ASSERT_EQ(p.window.size(), 3u);
  EXPECT_EQ(p.window.front().offset, 30);
  EXPECT_EQ(p.window.back().offset, 50);
  EXPECT_DOUBLE_EQ(p.complete, 1.0);
  EXPECT_DOUBLE_EQ(f.eval.Evaluate("g", kNow)->complete, 1.0);
}

TEST(LagEvaluatorTest, CommitsBeforeAnyEndOffsetOrTooOldAreDropped) {
  LagEvaluator eval;
  EXPECT_FALSE(eval.AddCommit("g", "unknown", 0, 1, kNow, kNow));
  eval.AddEndOffset("t", 0, 2, 10);
  EXPECT_FALSE(eval.AddCommit("g", "t", 1, 1, kNow, kNow));  // partition 1 has no end offset yet
  EXPECT_FALSE(eval.AddCommit("g", "t", 5, 1, kNow, kNow));
  EXPECT_FALSE(eval.AddCommit("g", "t", 0, 1, kNow - 8LL * 24 * 3600 * 1000, kNow));
  EXPECT_TRUE(eval.Groups().empty());
  EXPECT_EQ(eval.Evaluate("g", kNow), std::nullopt);
  ASSERT_TRUE(eval.AddCommit("g", "t", 0, 1, kNow, kNow));
  EXPECT_EQ(eval.Groups(), std::vector<std::string>{"g"});
  // A week without commits: the group expires.
  EXPECT_EQ(eval.Evaluate("g", kNow + 8LL * 24 * 3600 * 1000), std::nullopt);
}

TEST(LagEvaluatorTest, GroupIsTheWorstPartitionAndSumsLag) {
  LagEvaluator eval;
  eval.AddEndOffset("a", 0, 2, 100);
  eval.AddEndOffset("a", 1, 2, 100);
  eval.AddEndOffset("b", 0, 1, 10);
  for (int i = 0; i < 3; ++i) {
    const int64_t ts = kNow - 20'000 + 10'000 * i;
    eval.AddCommit("g", "a", 0, 100, ts, kNow);     // OK
    eval.AddCommit("g", "a", 1, 20 + i, ts, kNow);  // lag 80, 79, 78: decreasing: OK
    eval.AddCommit("g", "b", 0, 5, ts, kNow);       // STALL
  }
  auto g = eval.Evaluate("g", kNow);
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ(g->status, LagStatus::kErr);
  EXPECT_EQ(g->total_lag, 78 + 5);
  ASSERT_EQ(g->partitions.size(), 3u);
  EXPECT_EQ(g->partitions[0].topic, "a");
  EXPECT_EQ(g->partitions[2].status, LagStatus::kStall);
  ASSERT_NE(g->MaxLag(), nullptr);
  EXPECT_EQ(g->MaxLag()->partition, 1);
}

TEST(OffsetCommitRecordTest, DecodesKafkaFormatsAndRefusesTheRest) {
  broker::CommitOffset c{"orders", 7, 1234, 3, std::string("meta")};
  auto r = DecodeOffsetCommitRecord(broker::OffsetsTopic::EncodeKey("g1", "orders", 7),
                                    broker::OffsetsTopic::EncodeValue(c, 1'700'000'000'123));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->group, "g1");
  EXPECT_EQ(r->topic, "orders");
  EXPECT_EQ(r->partition, 7);
  EXPECT_EQ(r->offset, 1234);
  EXPECT_EQ(r->commit_timestamp_ms, 1'700'000'000'123);
  // Value version 1 (offset, metadata, commit and expire timestamps).
  const std::string v1(
      "\x00\x01"
      "\x00\x00\x00\x00\x00\x00\x00\x2a"
      "\x00\x00"
      "\x00\x00\x00\x00\x00\x00\x00\x05"
      "\x00\x00\x00\x00\x00\x00\x00\x09",
      28);
  auto r1 = DecodeOffsetCommitRecord(broker::OffsetsTopic::EncodeKey("g", "t", 0), v1);
  ASSERT_TRUE(r1.has_value());
  EXPECT_EQ(r1->offset, 42);
  EXPECT_EQ(r1->commit_timestamp_ms, 5);
  // Group metadata (key version 2), tombstones, truncation, unknown versions.
  EXPECT_FALSE(DecodeOffsetCommitRecord(std::string("\x00\x02\x00\x01g", 5), "x"));
  EXPECT_FALSE(DecodeOffsetCommitRecord(broker::OffsetsTopic::EncodeKey("g", "t", 0), ""));
  EXPECT_FALSE(
      DecodeOffsetCommitRecord(broker::OffsetsTopic::EncodeKey("g", "t", 0), v1.substr(0, 15)));
  EXPECT_FALSE(DecodeOffsetCommitRecord(std::string("\x00\x01\x00\x05g", 5), v1));
  std::string v9 = v1;
  v9[1] = 9;
  EXPECT_FALSE(DecodeOffsetCommitRecord(broker::OffsetsTopic::EncodeKey("g", "t", 0), v9));
}

// The embedded broker records commits in __consumer_offsets, clients cannot
// write there, and a LagMonitor reads it back.
TEST(LagMonitorTest, ReadsCommitsTheEmbeddedBrokerRecords) {
  // Commits stamped 10 minutes ago and 10 s apart.
  const int64_t start = WallClockMs() - 600'000;
  broker::ManualClock clock(start);
  broker::BrokerOptions bo;
  bo.clock = &clock;
  broker::testing::TestBroker broker(bo);
  broker.CreateTopic("t", 2);
  auto monitor = LagMonitor::Create(broker.Config());
  ASSERT_TRUE(monitor.ok()) << monitor.status().ToString();
  EXPECT_EQ((*monitor)->ReadCommits().status().code(), StatusCode::kNotFound);

  broker.ProduceSpread("t", 2, 20);

  kafka::ConsumerOptions co;
  co.group_id = "g";
  auto consumer = kafka::Consumer::Create(broker.Config(), co);
  ASSERT_TRUE(consumer.ok());
  for (int64_t off : {2, 4, 6}) {
    ASSERT_TRUE(
        (*consumer)
            ->Commit({{"t", Partition(0), Offset(off), ""}, {"t", Partition(1), Offset(10), ""}})
            .ok());
    clock.Advance(10'000);
  }
  ASSERT_TRUE((*monitor)->RefreshEndOffsets().ok());
  auto read = (*monitor)->ReadCommits();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(*read, 6);
  auto again = (*monitor)->ReadCommits();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);  // it resumes where it stopped
  EXPECT_EQ((*monitor)->Groups(), std::vector<std::string>{"g"});
  auto g = (*monitor)->Evaluate("g");
  ASSERT_TRUE(g.has_value());
  ASSERT_EQ(g->partitions.size(), 2u);
  EXPECT_EQ(g->partitions[0].committed, 6);
  EXPECT_EQ(g->partitions[0].end_offset, 10);
  EXPECT_EQ(g->partitions[0].lag, 4);
  ASSERT_EQ(g->partitions[0].window.size(), 3u);
  EXPECT_EQ(g->partitions[0].window[0].timestamp_ms, start);
  EXPECT_EQ(g->partitions[1].status, LagStatus::kOk);
  // Evaluated at the wall clock, 580 s after a window spanning 20 s:
  // partition 0 lags and stopped committing.
  EXPECT_EQ(g->partitions[0].status, LagStatus::kStop);
  EXPECT_EQ(g->status, LagStatus::kErr);

  // Producing to the internal topic is refused.
  auto producer = kafka::Producer::Create(broker.Config(), {});
  ASSERT_TRUE(producer.ok());
  std::promise<Status> report;
  kafka::ProduceRequest internal;
  internal.topic = "__consumer_offsets";
  internal.partition = Partition(0);
  internal.value = "x";
  ASSERT_TRUE((*producer)
                  ->Send(internal,
                         [&report](const kafka::DeliveryReport& r) { report.set_value(r.status); })
                  .ok());
  ASSERT_TRUE((*producer)->Flush(std::chrono::seconds(30)).ok());
  EXPECT_FALSE(report.get_future().get().ok());
}

}  // namespace
}  // namespace weir::ops
