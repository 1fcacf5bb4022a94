// weir/ops/dlq.h as a library: the pure parts (filter, stats, replay
// headers) directly, and DlqClient against an embedded broker in this
// process. `weir dlq` end to end is tests/cli/dlq_cli_test.cc.
#include "weir/ops/dlq.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "broker/broker_test_util.h"
#include "weir/consume/dead_letter.h"
#include "weir/kafka/producer.h"

namespace weir::ops {
namespace {

using consume::DeadLetter;
using std::chrono::seconds;

constexpr int64_t kT0 = 1'800'000'000'000;  // 2027-01-15, ms since the epoch

// A weir dead letter of |topic| [partition] |offset|, dead-lettered at |at_ms|.
DeadLetter Letter(const std::string& topic, int32_t partition, int64_t offset,
                  std::optional<std::string> key, const std::string& group, ErrorClass type,
                  int64_t at_ms, std::vector<Header> headers = {}) {
  Record original =
      Record::Owned(topic, Partition(partition), Offset(offset),
                    Timestamp{at_ms - 1000, TimestampType::kCreateTime}, std::move(key),
                    "value of " + std::to_string(offset), std::move(headers));
  DeadLetter dl = consume::MakeDeadLetter(original, group, type, "failed", "", 1);
  dl.timestamp_ms = at_ms;
  return dl;
}

DlqEntry EntryOf(DeadLetter dl, int64_t dlq_timestamp_ms = -1) {
  return DlqEntry{"orders.dlq", Partition(0), Offset(0), dlq_timestamp_ms, std::move(dl)};
}

DlqFilter GroupFilter(std::string group) {
  DlqFilter f;
  f.groups = {std::move(group)};
  return f;
}

ReplayOptions DryRun(int max_replays) {
  ReplayOptions o;
  o.max_replays = max_replays;
  o.dry_run = true;
  return o;
}

TEST(DlqStats, SummarizeCountsAndFindsTheOldest) {
  std::vector<DlqEntry> entries = {
      EntryOf(Letter("orders", 0, 1, "a", "g1", ErrorClass::kTimeout, kT0 + 50)),
      EntryOf(Letter("orders", 0, 2, "b", "g1", ErrorClass::kTimeout, kT0 + 10)),
      EntryOf(Letter("payments", 0, 3, "c", "", ErrorClass::kBusinessLogic, kT0 + 30)),
  };
  const DlqStats stats = Summarize(entries);
  EXPECT_EQ(stats.total, 3);
  EXPECT_EQ(stats.by_error_type, (std::map<ErrorClass, int64_t>{{ErrorClass::kTimeout, 2},
                                                                {ErrorClass::kBusinessLogic, 1}}));
  EXPECT_EQ(stats.by_original_topic,
            (std::map<std::string, int64_t>{{"orders", 2}, {"payments", 1}}));
  EXPECT_EQ(stats.by_group, (std::map<std::string, int64_t>{{"", 1}, {"g1", 2}}));
  EXPECT_EQ(stats.oldest_ms, kT0 + 10);

  // Counting one at a time, as a monitor would, gives the same.
  DlqStats incremental;
  for (const DlqEntry& e : entries) incremental.Add(e.dead_letter, e.dlq_timestamp_ms);
  EXPECT_EQ(incremental.total, stats.total);
  EXPECT_EQ(incremental.by_group, stats.by_group);
  EXPECT_EQ(incremental.oldest_ms, stats.oldest_ms);
}

TEST(DlqStats, TheOldestFallsBackToTheDlqRecordsTime) {
  EXPECT_EQ(Summarize({}).oldest_ms, -1);
  EXPECT_EQ(Summarize({}).total, 0);
  DeadLetter timeless = Letter("orders", 0, 1, "a", "g", ErrorClass::kUnknown, kT0);
  timeless.timestamp_ms = -1;
  EXPECT_EQ(Summarize({EntryOf(timeless)}).oldest_ms, -1);
  EXPECT_EQ(Summarize({EntryOf(timeless, kT0 - 5)}).oldest_ms, kT0 - 5);
  EXPECT_EQ(Summarize({EntryOf(timeless, kT0 - 5),
                       EntryOf(Letter("orders", 0, 2, "b", "g", ErrorClass::kUnknown, kT0 - 9))})
                .oldest_ms,
            kT0 - 9);
}

TEST(DlqFilter, EveryConditionMustHold) {
  const DeadLetter dl =
      Letter("orders", 1, 10, "cust-1", "order-service", ErrorClass::kSchemaValidation, kT0);
  DeadLetter keyless = dl;
  keyless.key.reset();
  struct Case {
    const char* name;
    std::function<void(DlqFilter&)> set;
    bool matches;
  };
  std::vector<Case> cases = {
      {"empty", [](DlqFilter&) {}, true},
      {"error type", [](DlqFilter& f) { f.error_types = {ErrorClass::kSchemaValidation}; }, true},
      {"other error type", [](DlqFilter& f) { f.error_types = {ErrorClass::kTimeout}; }, false},
      {"topic",
       [](DlqFilter& f) {
         f.original_topics = {"payments", "orders"};
       },
       true},
      {"other topic", [](DlqFilter& f) { f.original_topics = {"payments"}; }, false},
      {"group", [](DlqFilter& f) { f.groups = {"order-service"}; }, true},
      {"other group", [](DlqFilter& f) { f.groups = {""}; }, false},
      {"key", [](DlqFilter& f) { f.keys = {"cust-1"}; }, true},
      {"other key", [](DlqFilter& f) { f.keys = {"cust-2"}; }, false},
      {"since, inclusive", [](DlqFilter& f) { f.since_ms = kT0; }, true},
      {"since, later", [](DlqFilter& f) { f.since_ms = kT0 + 1; }, false},
      {"until, inclusive", [](DlqFilter& f) { f.until_ms = kT0; }, true},
      {"until, earlier", [](DlqFilter& f) { f.until_ms = kT0 - 1; }, false},
      {"all of them",
       [](DlqFilter& f) {
         f.error_types = {ErrorClass::kSchemaValidation};
         f.groups = {"x"};
       },
       false},
  };
  for (const Case& c : cases) {
    DlqFilter filter;
    c.set(filter);
    EXPECT_EQ(filter.Matches(dl), c.matches) << c.name;
  }
  DlqFilter empty_key;
  empty_key.keys = {""};
  EXPECT_FALSE(empty_key.Matches(keyless)) << "a null key matches no key";
  EXPECT_TRUE(DlqFilter{}.Matches(keyless));
}

TEST(DlqReplayHeaders, TheCountReplacesTheFirstAndDropsTheRest) {
  const std::string count(consume::kReplayCountHeader);
  EXPECT_EQ(ReplayHeaders({{"a", "1"}, {"b", std::nullopt}}, 1).back().value,
            std::optional<std::string>("1"));
  std::vector<Header> h = ReplayHeaders({{"a", "1"}, {count, "2"}, {"b", "x"}, {count, "7"}}, 3);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0].key, "a");
  EXPECT_EQ(h[1].key, count);
  EXPECT_EQ(h[1].value, std::optional<std::string>("3"));
  EXPECT_EQ(h[2].key, "b");
}

// A broker with orders (3 partitions) and orders.dlq (2 partitions):
//   orders.dlq 0:0  orders:1:10    TIMEOUT         key k1  group g
//   orders.dlq 0:1  not a dead letter
//   orders.dlq 0:2  orders:2:11    BUSINESS_LOGIC  key k2  group g, replayed 2 times
//   orders.dlq 1:0  gone:0:12      UNKNOWN         key k3  group h (its topic does not exist)
class DlqClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_.CreateTopic("orders", 3);
    broker_.CreateTopic("orders.dlq", 2);
    if (HasFatalFailure()) return;
    auto producer = kafka::Producer::Create(broker_.Config());
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    producer_ = std::move(producer).value();
    Produce(0, Letter("orders", 1, 10, "k1", "g", ErrorClass::kTimeout, kT0));
    ProduceRaw(0, "junk", {}, kT0);
    Produce(0, Letter("orders", 2, 11, "k2", "g", ErrorClass::kBusinessLogic, kT0 + 1,
                      {Header{std::string(consume::kReplayCountHeader), "2"}}));
    Produce(1, Letter("gone", 0, 12, "k3", "h", ErrorClass::kUnknown, kT0 + 2));
    auto client = DlqClient::Open(broker_.Config(), DlqClientOptions{seconds(10), seconds(5)});
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
  }

  void Produce(int32_t partition, const DeadLetter& dl) {
    ProduceRaw(partition, dl.key, consume::DeadLetterHeaders(dl), dl.timestamp_ms);
  }
  void ProduceRaw(int32_t partition, std::optional<std::string> key,
                  const std::vector<Header>& headers, int64_t timestamp_ms) {
    std::vector<HeaderView> views;
    for (const Header& h : headers) {
      views.push_back(
          HeaderView{h.key, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
    }
    kafka::ProduceRequest req;
    req.topic = "orders.dlq";
    req.partition = Partition(partition);
    if (key) req.key = *key;
    req.value = "value";
    req.headers = views;
    req.timestamp_ms = timestamp_ms;
    kafka::DeliveryReport r = producer_->Send(req).get();
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  }

  // The whole DLQ, unfiltered.
  DlqScan ScanAll(const DlqFilter& filter = {}) {
    EXPECT_TRUE(client_->AddTopic("orders.dlq").ok());
    auto scan = client_->Scan(filter);
    EXPECT_TRUE(scan.ok()) << scan.status().ToString();
    return scan.ok() ? std::move(scan).value() : DlqScan{};
  }

  std::pair<int64_t, int64_t> Watermarks(const std::string& topic, int32_t partition) {
    auto wm = broker_.MakeAdmin()->ListOffsets({topic, Partition(partition)}, seconds(10));
    EXPECT_TRUE(wm.ok()) << wm.status().ToString();
    return wm.ok() ? std::make_pair(wm->first.value(), wm->second.value())
                   : std::make_pair<int64_t, int64_t>(-1, -1);
  }

  broker::testing::TestBroker broker_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<DlqClient> client_;
};

TEST_F(DlqClientTest, ScanReadsToTheStartingEndAndSaysWhatItSkipped) {
  DlqScan scan = ScanAll();
  // In offset order per partition; the partitions may interleave.
  std::stable_sort(scan.entries.begin(), scan.entries.end(),
                   [](const DlqEntry& a, const DlqEntry& b) { return a.partition < b.partition; });
  EXPECT_EQ(scan.read, 4);
  ASSERT_EQ(scan.entries.size(), 3u);
  EXPECT_EQ(scan.entries[0].dead_letter.original_offset, Offset(10));
  EXPECT_EQ(scan.entries[0].dlq_timestamp_ms, kT0);
  EXPECT_EQ(scan.entries[1].offset, Offset(2));
  EXPECT_EQ(scan.entries[1].dead_letter.replay_count, 2);
  ASSERT_EQ(scan.unreadable.size(), 1u);
  EXPECT_EQ(scan.unreadable[0].offset, Offset(1));
  EXPECT_NE(scan.unreadable[0].error.message().find("orders.dlq [0] offset 1"), std::string::npos)
      << scan.unreadable[0].error.ToString();
  ASSERT_EQ(scan.partitions.size(), 2u);
  EXPECT_EQ(scan.partitions[0].high, 3);
  EXPECT_TRUE(scan.partitions[0].gave_up.ok());
  EXPECT_EQ(scan.Covered(), "orders.dlq [0] 0-2, orders.dlq [1] 0-0");

  // A scan forgets its partitions; the next reads only what is added again.
  auto empty = client_->Scan({});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->read, 0);
  EXPECT_EQ(empty->Covered(), "");
}

TEST_F(DlqClientTest, ScanFiltersAndStopsAtTheLimit) {
  DlqScan scan = ScanAll(GroupFilter("g"));
  ASSERT_EQ(scan.entries.size(), 2u);
  EXPECT_EQ(
      Summarize(scan.entries).by_error_type,
      (std::map<ErrorClass, int64_t>{{ErrorClass::kTimeout, 1}, {ErrorClass::kBusinessLogic, 1}}));

  DlqFilter first;
  first.limit = 1;
  scan = ScanAll(first);
  ASSERT_EQ(scan.entries.size(), 1u);
  EXPECT_EQ(scan.read, 1);

  DlqFilter unknown;
  unknown.error_types = {ErrorClass::kUnknown};
  auto by_function = ScanDlq(broker_.Config(), {"orders.dlq"}, unknown);
  ASSERT_TRUE(by_function.ok()) << by_function.status().ToString();
  ASSERT_EQ(by_function->entries.size(), 1u);
  EXPECT_EQ(by_function->entries[0].dead_letter.original_topic, "gone");
}

TEST_F(DlqClientTest, MissingTopicsAreAnswersNotFailures) {
  EXPECT_EQ(client_->PartitionCount("orders.dlq").value(), 2);
  EXPECT_EQ(client_->PartitionCount("nowhere").value(), -1);
  Status s = client_->AddTopic("nowhere");
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  EXPECT_NE(s.message().find("DLQ topic nowhere does not exist"), std::string::npos);
  auto scan = ScanDlq(broker_.Config(), {"orders.dlq", "nowhere"}, {});
  EXPECT_EQ(scan.status().code(), StatusCode::kNotFound);
}

TEST_F(DlqClientTest, ReadAtFindsOneDeadLetterOrSaysWhyNot) {
  auto found = client_->ReadAt("orders.dlq", Partition(0), Offset(2));
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  ASSERT_TRUE(found->status.ok()) << found->status.ToString();
  EXPECT_EQ(found->entry.offset, Offset(2));
  EXPECT_EQ(found->entry.dead_letter.key, std::optional<std::string>("k2"));

  struct Case {
    int32_t partition;
    int64_t offset;
    StatusCode code;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {0, 3, StatusCode::kInvalidArgument, "0:3: orders.dlq [0] holds offsets 0-2"},
           {2, 0, StatusCode::kInvalidArgument, "2:0: orders.dlq has 2 partition(s)"},
           {0, 1, StatusCode::kCorruption, "orders.dlq [0] offset 1"},
       }) {
    auto r = client_->ReadAt("orders.dlq", Partition(c.partition), Offset(c.offset));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status.code(), c.code) << r->status.ToString();
    EXPECT_NE(r->status.message().find(c.message), std::string::npos) << r->status.ToString();
  }
}

TEST_F(DlqClientTest, ReplayDryRunDecidesEverythingAndSendsNothing) {
  DlqScan scan = ScanAll();
  std::stable_sort(scan.entries.begin(), scan.entries.end(),
                   [](const DlqEntry& a, const DlqEntry& b) { return a.partition < b.partition; });
  auto replay = client_->Replay(scan.entries, DryRun(2));
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  ASSERT_EQ(replay->outcomes.size(), 3u);
  const ReplayOutcome& first = replay->outcomes[0];
  EXPECT_EQ(first.action, ReplayAction::kWouldReplay);
  EXPECT_EQ(first.topic, "orders");
  EXPECT_EQ(first.partition, Partition(1));  // back where it came from
  EXPECT_EQ(first.replay_count, 1);
  EXPECT_EQ(first.header_count, 1u);
  EXPECT_EQ(replay->outcomes[1].action, ReplayAction::kSkipped);  // replayed 2 times already
  EXPECT_EQ(replay->outcomes[2].action, ReplayAction::kNoTarget);
  EXPECT_EQ(replay->outcomes[2].error.code(), StatusCode::kNotFound);
  EXPECT_EQ(replay->would_replay, 1);
  EXPECT_EQ(replay->skipped, 1);
  EXPECT_EQ(replay->failed, 1);
  for (int32_t p = 0; p < 3; ++p) EXPECT_EQ(Watermarks("orders", p).second, 0) << p;

  // A higher limit takes the twice-replayed one too, with count 3.
  replay = client_->Replay(scan.entries, DryRun(3));
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  EXPECT_EQ(replay->outcomes[1].action, ReplayAction::kWouldReplay);
  EXPECT_EQ(replay->outcomes[1].replay_count, 3);
  EXPECT_EQ(replay->outcomes[1].header_count, 1u);  // the count replaced, not repeated
}

TEST_F(DlqClientTest, ReplaySendsAndReportsWhereEachLanded) {
  DlqScan scan = ScanAll();
  std::stable_sort(scan.entries.begin(), scan.entries.end(),
                   [](const DlqEntry& a, const DlqEntry& b) { return a.partition < b.partition; });
  auto replay = client_->Replay({scan.entries[0], scan.entries[1]}, ReplayOptions{});
  ASSERT_TRUE(replay.ok()) << replay.status().ToString();
  EXPECT_EQ(replay->replayed, 2);
  EXPECT_TRUE(replay->closed.ok()) << replay->closed.ToString();
  EXPECT_EQ(replay->outcomes[0].action, ReplayAction::kReplayed);
  EXPECT_EQ(replay->outcomes[0].partition, Partition(1));
  EXPECT_EQ(replay->outcomes[0].offset, Offset(0));
  EXPECT_EQ(Watermarks("orders", 1).second, 1);
  EXPECT_EQ(Watermarks("orders", 2).second, 1);

  ReplayOptions to_nowhere_options;
  to_nowhere_options.to = "nowhere";
  auto to_nowhere = client_->Replay(scan.entries, to_nowhere_options);
  EXPECT_EQ(to_nowhere.status().code(), StatusCode::kNotFound) << to_nowhere.status().ToString();
}

TEST_F(DlqClientTest, PurgePlansRefuseWhatCannotBeDeleted) {
  struct Case {
    std::vector<DlqPosition> before;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {{{Partition(0), Offset(1)}, {Partition(0), Offset(2)}}, "0:2: partition 0 given twice"},
           {{{Partition(5), Offset(0)}}, "5:0: orders.dlq has 2 partition(s)"},
           {{{Partition(0), Offset(4)}},
            "0:4: beyond the end of orders.dlq [0] (its next offset is 3)"},
       }) {
    auto plan = client_->PlanPurge("orders.dlq", c.before);
    EXPECT_EQ(plan.status().code(), StatusCode::kRefused) << plan.status().ToString();
    EXPECT_EQ(plan.status().message(), c.message);
  }
  EXPECT_EQ(client_->PlanPurge("nowhere", {}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Watermarks("orders.dlq", 0).first, 0);
}

TEST_F(DlqClientTest, PurgeDeletesWhatWasPlanned) {
  auto plan =
      client_->PlanPurge("orders.dlq", {{Partition(0), Offset(2)}, {Partition(1), Offset(0)}});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ((*plan)[0].low, 0);
  EXPECT_EQ((*plan)[0].high, 3);
  EXPECT_EQ((*plan)[0].PlannedLow(), 2);
  EXPECT_FALSE((*plan)[0].Empty());
  EXPECT_TRUE((*plan)[1].Empty());
  auto done = client_->Purge(*plan);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(Watermarks("orders.dlq", 0), (std::pair<int64_t, int64_t>(2, 3)));

  plan = client_->PlanPurge("orders.dlq", {});  // everything
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ((*plan)[0].before, kOffsetEnd);
  EXPECT_EQ((*plan)[0].PlannedLow(), 3);
  EXPECT_EQ((*plan)[1].PlannedLow(), 1);
  done = client_->Purge(*plan);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  for (const kafka::DeleteRecordsResult& r : *done)
    EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(Watermarks("orders.dlq", 0), (std::pair<int64_t, int64_t>(3, 3)));
  EXPECT_EQ(Watermarks("orders.dlq", 1), (std::pair<int64_t, int64_t>(1, 1)));
}

}  // namespace
}  // namespace weir::ops
