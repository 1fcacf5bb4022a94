// The consumer runtime against an in-process embedded broker: commits,
// ordering at concurrency, retries on an injected clock, timeouts, error
// classes, poison pills, dead letters, dedup across topics, reordering,
// rebalancing.
#include "weir/consume/runtime.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "broker/broker_test_util.h"
#include "consume/consume_test_util.h"
#include "weir/consume/dead_letter.h"
#include "weir/kafka/admin.h"
#include "weir/observe/metrics.h"
#include "weir/publish/publisher.h"

namespace weir::consume {
namespace {

using broker::testing::TestBroker;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::Order;
using testing::OrdersYaml;
using testing::ProduceOne;
using testing::Recorder;
using testing::RecordingHandler;
using testing::Seen;
using testing::WaitForStats;
using weir::testing::MakeTopology;
using weir::testing::TempDir;

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.WriteFile("order.schema.json", testing::kOrderSchema);
    broker_.CreateTopic("orders", 3);
    broker_.CreateTopic("orders.legacy", 2);
    broker_.CreateTopic("dlq", 1);
    auto p = kafka::Producer::Create(broker_.Config());
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    producer_ = std::move(*p);
  }

  kafka::ClientConfig Config() const {
    kafka::ClientConfig c = broker_.Config();
    c.Set("session.timeout.ms", "6000");
    c.Set("heartbeat.interval.ms", "500");
    return c;
  }

  std::unique_ptr<GroupRuntime> Make(const std::string& groups, const std::string& group,
                                     RuntimeOptions options = {}) {
    topo_ = MakeTopology(dir_, OrdersYaml(groups));
    options.commit_interval = milliseconds(100);
    auto rt = GroupRuntime::Create(topo_, group, Config(), std::move(options));
    EXPECT_TRUE(rt.ok()) << rt.status().ToString();
    return rt.ok() ? std::move(*rt) : nullptr;
  }

  void Produce(const std::string& topic, const std::string& key, const std::string& value,
               std::vector<HeaderView> headers = {}) {
    ProduceOne(*producer_, topic, key, value, std::move(headers));
  }

  // The group's committed offsets per partition of |topic|.
  std::map<int32_t, int64_t> Committed(const std::string& group, const std::string& topic) {
    auto admin = kafka::Admin::Create(broker_.Config());
    EXPECT_TRUE(admin.ok());
    auto offsets = (*admin)->CommittedOffsets(group, {}, seconds(10));
    EXPECT_TRUE(offsets.ok()) << offsets.status().ToString();
    std::map<int32_t, int64_t> out;
    if (!offsets.ok()) return out;
    for (const auto& o : *offsets) {
      if (o.topic == topic && o.offset.value() >= 0) out[o.partition.value()] = o.offset.value();
    }
    return out;
  }

  std::map<int32_t, int64_t> EndOffsets(const std::string& topic, int partitions) {
    auto admin = kafka::Admin::Create(broker_.Config());
    std::map<int32_t, int64_t> out;
    for (int p = 0; p < partitions; ++p) {
      auto wm = (*admin)->ListOffsets({topic, Partition(p)}, seconds(10));
      EXPECT_TRUE(wm.ok());
      if (wm.ok() && wm->second.value() > 0) out[p] = wm->second.value();
    }
    return out;
  }

  // Every dead letter of the topic "dlq", read with its headers in order.
  std::vector<DeadLetter> DeadLetters() {
    kafka::ClientConfig c = broker_.Config();
    auto consumer = kafka::Consumer::Create(c, {});
    EXPECT_TRUE(consumer.ok());
    auto wm = (*consumer)->QueryWatermarks({"dlq", Partition(0)}, seconds(10));
    EXPECT_TRUE(wm.ok());
    std::vector<DeadLetter> out;
    if (!wm.ok() || wm->high.value() == 0) return out;
    EXPECT_TRUE((*consumer)->Assign({{"dlq", Partition(0), kOffsetBeginning, {}}}).ok());
    const auto deadline = std::chrono::steady_clock::now() + seconds(30);
    while (static_cast<int64_t>(out.size()) < wm->high.value() &&
           std::chrono::steady_clock::now() < deadline) {
      auto recs = (*consumer)->Poll(milliseconds(200));
      EXPECT_TRUE(recs.ok());
      if (!recs.ok()) break;
      for (const Record& r : *recs) {
        auto dl = ParseDeadLetter(r);
        EXPECT_TRUE(dl.ok()) << dl.status().ToString();
        if (dl.ok()) out.push_back(std::move(*dl));
      }
    }
    return out;
  }

  TempDir dir_;
  TestBroker broker_;
  Topology topo_;
  std::unique_ptr<kafka::Producer> producer_;
};

TEST_F(RuntimeTest, HandlesEveryRecordOnceAndCommitsToTheEnd) {
  observe::Registry metrics("weir_");
  RuntimeOptions options;
  options.metrics = &metrics;
  auto rt = Make("  g: {topics: [orders], ordering: partition, dlq: dlq}", "g", options);
  ASSERT_TRUE(rt);
  Recorder rec;
  ASSERT_TRUE(rt->OnEventType("Order", RecordingHandler(rec)).ok());
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < 300; ++i)
    records.emplace_back(fmt::format("k{}", i % 7), Order(fmt::format("k{}", i % 7), i));
  testing::ProduceAll(*producer_, "orders", records);
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(rec.WaitCount(300));
  // Once everything is committed, the lag gauge of every partition is 0.
  ASSERT_TRUE(WaitForStats(*rt, [&](const GroupStats&) {
    const std::string text = metrics.Render();
    for (int p = 0; p < 3; ++p) {
      if (text.find(fmt::format("weir_consumer_lag_records{{consumer_group=\"g\",topic=\"orders\","
                                "partition=\"{}\"}} 0\n",
                                p)) == std::string::npos) {
        return false;
      }
    }
    return true;
  })) << metrics.Render();
  ASSERT_TRUE(rt->Stop(seconds(10)).ok());
  std::set<std::string> ids;
  for (const Seen& s : rec.seen()) {
    EXPECT_EQ(s.attempt, 1);
    ids.insert(s.event["id"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), 300u);
  EXPECT_EQ(rec.seen().size(), 300u);
  EXPECT_EQ(Committed("g", "orders"), EndOffsets("orders", 3));
  const GroupStats st = rt->Stats();
  EXPECT_EQ(st.handled, 300u);
  EXPECT_EQ(st.received, 300u);
}

TEST_F(RuntimeTest, KeyOrderHoldsAtConcurrency16OverThreePartitions) {
  auto rt = Make("  g: {topics: [orders], ordering: key, concurrency: 16, dlq: dlq}", "g");
  ASSERT_TRUE(rt);
  Recorder rec;
  std::mutex mu;
  std::condition_variable cv;
  int inside = 0, max_inside = 0;
  ASSERT_TRUE(rt->OnTopic("orders", [&](const Message& m) {
                  {
                    // The first records wait until 8 handlers run at once:
                    // more workers than the 3 partitions.
                    std::unique_lock<std::mutex> lock(mu);
                    ++inside;
                    max_inside = std::max(max_inside, inside);
                    cv.notify_all();
                    cv.wait_for(lock, seconds(20), [&] { return max_inside >= 8; });
                    --inside;
                  }
                  rec.Add(m);
                  return HandlerResult::Ok();
                }).ok());
  constexpr int kKeys = 48, kPerKey = 40;
  std::vector<std::pair<std::string, std::string>> records;
  for (int s = 0; s < kPerKey; ++s) {
    for (int k = 0; k < kKeys; ++k) {
      records.emplace_back(fmt::format("key-{}", k), Order(fmt::format("key-{}", k), s));
    }
  }
  testing::ProduceAll(*producer_, "orders", records);
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(rec.WaitCount(kKeys * kPerKey));
  ASSERT_TRUE(rt->Stop(seconds(10)).ok());
  EXPECT_GE(max_inside, 8);
  std::map<std::string, int> last;
  for (const Seen& s : rec.seen()) {
    const int seq = s.event["seq"].get<int>();
    auto it = last.find(s.key);
    if (it != last.end()) {
      EXPECT_EQ(seq, it->second + 1) << "key " << s.key;
    }
    last[s.key] = seq;
  }
  EXPECT_EQ(last.size(), static_cast<size_t>(kKeys));
}

TEST_F(RuntimeTest, ASlowKeyDoesNotStallOtherKeys) {
  auto rt = Make("  g: {topics: [orders], ordering: key, concurrency: 4, dlq: dlq}", "g");
  ASSERT_TRUE(rt);
  Recorder rec;
  std::atomic<bool> others_done{false};
  ASSERT_TRUE(rt->OnTopic("orders", [&](const Message& m) {
                  if (m.record().key() == "slow") {
                    // Blocks until every other key's records are handled.
                    rec.WaitFor([](const std::vector<Seen>& s) { return s.size() >= 100; },
                                seconds(30));
                    others_done = rec.seen().size() >= 100;
                  }
                  rec.Add(m);
                  return HandlerResult::Ok();
                }).ok());
  Produce("orders", "slow", Order("slow", 0));
  Produce("orders", "slow", Order("slow", 1));
  for (int i = 0; i < 100; ++i)
    Produce("orders", fmt::format("k{}", i % 10), Order(fmt::format("k{}", i % 10), i));
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(rec.WaitCount(102));
  ASSERT_TRUE(rt->Stop(seconds(10)).ok());
  EXPECT_TRUE(others_done);
  // The slow key's own records stayed in order.
  std::vector<int> slow;
  for (const Seen& s : rec.seen())
    if (s.key == "slow") slow.push_back(s.event["seq"]);
  EXPECT_EQ(slow, (std::vector<int>{0, 1}));
}

TEST_F(RuntimeTest, RetryScheduleFollowsThePolicyOnAnInjectedClock) {
  ManualClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RetryScheduled> retries;
  RuntimeOptions options;
  options.clock = &clock;
  options.on_retry = [&](const RetryScheduled& r) {
    std::lock_guard<std::mutex> lock(mu);
    retries.push_back(r);
    cv.notify_all();
  };
  auto rt = Make(
      "  g: {topics: [orders], ordering: key, concurrency: 2, dlq: dlq,\n"
      "      retry: {attempts: 5, immediate: 1, backoff: 100ms, max_backoff: 300ms, multiplier: 2, "
      "jitter: 0.2}}",
      "g", options);
  ASSERT_TRUE(rt);
  Recorder rec;
  ASSERT_TRUE(rt->OnTopic("orders", [&](const Message& m) {
                  rec.Add(m);
                  if (m.record().key() == "bad") return HandlerResult::Retry("database is down");
                  return HandlerResult::Ok();
                }).ok());
  Produce("orders", "bad", Order("bad", 0));
  ASSERT_TRUE(rt->Start().ok());
  // Nominal delays: 100 (the immediate retry), 200, 300 (capped), 300.
  const int64_t nominal[] = {100, 200, 300, 300};
  for (int i = 0; i < 4; ++i) {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(
        cv.wait_for(lock, seconds(30), [&] { return retries.size() > static_cast<size_t>(i); }));
    const RetryScheduled r = retries[i];
    lock.unlock();
    EXPECT_EQ(r.next_attempt, i + 2);
    EXPECT_EQ(r.error_class, ErrorClass::kProcessingFailure);
    EXPECT_GE(r.delay.count(), nominal[i] * 8 / 10) << "retry " << i + 1;
    EXPECT_LE(r.delay.count(), nominal[i] * 12 / 10) << "retry " << i + 1;
    EXPECT_EQ(r.due - clock.Now(), r.delay);
    // While it waits, other keys flow: a fresh record is handled before the
    // clock moves.
    Produce("orders", fmt::format("good-{}", i), Order(fmt::format("good-{}", i), i));
    ASSERT_TRUE(rec.WaitFor([&](const std::vector<Seen>& s) {
      return std::any_of(s.begin(), s.end(),
                         [&](const Seen& x) { return x.key == fmt::format("good-{}", i); });
    }));
    EXPECT_EQ(rt->Stats().waiting_retry, 1);
    // Not a moment early: one millisecond short, the attempt does not run.
    clock.Advance(r.delay - milliseconds(1));
    EXPECT_EQ(rt->Stats().waiting_retry, 1);
    clock.Advance(milliseconds(1));
    ASSERT_TRUE(rec.WaitFor([&](const std::vector<Seen>& s) {
      return std::count_if(s.begin(), s.end(), [](const Seen& x) { return x.key == "bad"; }) >=
             i + 2;
    }));
  }
  ASSERT_TRUE(WaitForStats(*rt, [](const GroupStats& s) { return s.dead_lettered == 1; }));
  ASSERT_TRUE(rt->Stop(seconds(10)).ok());
  auto dls = DeadLetters();
  ASSERT_EQ(dls.size(), 1u);
  EXPECT_EQ(dls[0].error_type, ErrorClass::kProcessingFailure);
  EXPECT_EQ(dls[0].retry_count, 4);
  EXPECT_EQ(dls[0].error_message, "database is down");
  EXPECT_EQ(rt->Stats().retries, 4u);
}

TEST_F(RuntimeTest, ATimedOutRecordIsDeadLetteredAndItsSlotFreed) {
  ManualClock clock;
  RuntimeOptions options;
  options.clock = &clock;
  auto rt =
      Make("  g: {topics: [orders], ordering: partition, concurrency: 1, timeout: 30s, dlq: dlq}",
           "g", options);
  ASSERT_TRUE(rt);
  Recorder rec;
  std::mutex mu;
  std::condition_variable cv;
  bool hung_started = false, release = false, saw_cancel = false;
  ASSERT_TRUE(rt->OnTopic("orders", [&](const Message& m) {
                  if (m.record().key() == "hang") {
                    std::unique_lock<std::mutex> lock(mu);
                    hung_started = true;
                    cv.notify_all();
                    cv.wait(lock, [&] { return release; });
                    saw_cancel = m.cancelled();
                    return HandlerResult::Ok();  // discarded: too late
                  }
                  rec.Add(m);
                  return HandlerResult::Ok();
                }).ok());
  // Both on partition 0, so with one worker "after" can only run once the
  // slot of "hang" is freed.
  ProduceOne(*producer_, "orders", std::string("hang"), Order("hang", 0), {}, Partition(0));
  ProduceOne(*producer_, "orders", std::string("after"), Order("after", 1), {}, Partition(0));
  ASSERT_TRUE(rt->Start().ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, seconds(30), [&] { return hung_started; }));
  }
  clock.Advance(seconds(29));
  EXPECT_EQ(rt->Stats().timeouts, 0u);
  clock.Advance(seconds(1));
  ASSERT_TRUE(rec.WaitCount(1));  // "after" ran on the replacement worker
  ASSERT_TRUE(WaitForStats(*rt, [](const GroupStats& s) { return s.dead_lettered == 1; }));
  GroupStats st = rt->Stats();
  EXPECT_EQ(st.timeouts, 1u);
  EXPECT_EQ(st.hung, 1);
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
    cv.notify_all();
  }
  ASSERT_TRUE(WaitForStats(*rt, [](const GroupStats& s) { return s.hung == 0; }));
  EXPECT_TRUE(saw_cancel);
  ASSERT_TRUE(rt->Stop(seconds(10)).ok());
  auto dls = DeadLetters();
  ASSERT_EQ(dls.size(), 1u);
  EXPECT_EQ(dls[0].error_type, ErrorClass::kTimeout);
  EXPECT_EQ(dls[0].key, "hang");
  EXPECT_EQ(rt->Stats().handled, 1u);  // the late success of "hang" was discarded
  EXPECT_EQ(Committed("g", "orders"), EndOffsets("orders", 3));
}

TEST_F(RuntimeTest, EachErrorClassFollowsTheRetryPolicyAndKeepsTheOriginal) {
  observe::Registry metrics("alpr_");
  RuntimeOptions options;
  options.metrics = &metrics;
  auto rt =
      Make("  g: {topics: [orders], ordering: key, concurrency: 4, dlq: dlq, retry: {attempts: 3}}",
           "g", options);
  ASSERT_TRUE(rt);
  std::mutex mu;
  std::map<std::string, int> attempts;
  ASSERT_TRUE(rt->OnTopic("orders", [&](const Message& m) -> HandlerResult {
                  const json e = json::parse(m.json());
                  const std::string fail = e.value("fail", "");
                  {
                    std::lock_guard<std::mutex> lock(mu);
                    ++attempts[fail];
                  }
                  if (fail == "UNKNOWN") throw std::runtime_error("boom");
                  if (fail.empty()) return HandlerResult::Ok();
                  return HandlerResult::Fail(*ParseErrorClass(fail), "failed as " + fail,
                                             "context of " + fail);
                }).ok());
  const std::string header_value = "trace-1";
  std::vector<HeaderView> headers = {{"trace", header_value}};
  for (const char* c :
       {"SCHEMA_VALIDATION", "PROCESSING_FAILURE", "TIMEOUT", "BUSINESS_LOGIC", "UNKNOWN"}) {
    Produce("orders", c, Order(c, 1, c), headers);
  }
  Produce("orders", "ok", Order("ok", 1));
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(WaitForStats(
      *rt, [](const GroupStats& s) { return s.dead_lettered == 5 && s.handled == 1; }));
  ASSERT_TRUE(rt->Stop(seconds(10)).ok());
  // Default `on`: PROCESSING_FAILURE, TIMEOUT, UNKNOWN are retried.
  EXPECT_EQ(attempts["SCHEMA_VALIDATION"], 1);
  EXPECT_EQ(attempts["BUSINESS_LOGIC"], 1);
  EXPECT_EQ(attempts["PROCESSING_FAILURE"], 3);
  EXPECT_EQ(attempts["TIMEOUT"], 3);
  EXPECT_EQ(attempts["UNKNOWN"], 3);
  std::map<std::string, DeadLetter> by_key;
  for (DeadLetter& d : DeadLetters()) by_key[*d.key] = std::move(d);
  ASSERT_EQ(by_key.size(), 5u);
  for (const char* c :
       {"SCHEMA_VALIDATION", "PROCESSING_FAILURE", "TIMEOUT", "BUSINESS_LOGIC", "UNKNOWN"}) {
    const DeadLetter& d = by_key[c];
    EXPECT_EQ(ErrorClassName(d.error_type), c);
    EXPECT_EQ(d.original_topic, "orders");
    EXPECT_EQ(d.consumer_group, "g");
    EXPECT_EQ(d.value, Order(c, 1, c));  // the original bytes
    ASSERT_GE(d.original_headers.size(), 1u);
    EXPECT_EQ(d.original_headers[0].key, "trace");
    EXPECT_EQ(d.original_headers[0].value, "trace-1");
    EXPECT_GE(d.original_offset.value(), 0);
    EXPECT_FALSE(d.dlq_id.empty());
  }
  EXPECT_EQ(by_key["UNKNOWN"].error_message, "handler threw: boom");
  EXPECT_EQ(by_key["BUSINESS_LOGIC"].error_context, "context of BUSINESS_LOGIC");
  EXPECT_EQ(by_key["PROCESSING_FAILURE"].retry_count, 2);
  EXPECT_EQ(by_key["SCHEMA_VALIDATION"].retry_count, 0);
  EXPECT_EQ(Committed("g", "orders"), EndOffsets("orders", 3));
  // The ALPR plan's series, with the prefix.
  const std::string text = metrics.Render();
  for (const char* c :
       {"SCHEMA_VALIDATION", "PROCESSING_FAILURE", "TIMEOUT", "BUSINESS_LOGIC", "UNKNOWN"}) {
    EXPECT_NE(
        text.find(fmt::format(
            "alpr_consumer_dlq_messages_sent_total{{consumer_group=\"g\",error_type=\"{}\"}} 1\n",
            c)),
        std::string::npos)
        << c << "\n"
        << text;
  }
  EXPECT_NE(text.find("alpr_consumer_retry_attempts_total{consumer_group=\"g\"} 6\n"),
            std::string::npos)
      << text;
  EXPECT_NE(
      text.find(
          "alpr_consumer_messages_processed_total{consumer_group=\"g\",topic=\"orders\"} 1\n"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("alpr_consumer_processing_duration_seconds_count{consumer_group=\"g\"} 12\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("alpr_consumer_end_to_end_latency_seconds_count{consumer_group=\"g\"} 1\n"),
            std::string::npos)
      << text;
}

TEST_F(RuntimeTest, APoisonPillIsDeadLetteredAndNeverStallsItsPartition) {
  auto rt = Make(
      "  g: {topics: [orders], ordering: partition, dlq: dlq, retry: {attempts: 5, on: "
      "[SCHEMA_VALIDATION]}}",
      "g");
  ASSERT_TRUE(rt);
  // Even with SCHEMA_VALIDATION retried, bytes that cannot be decoded are
  // dead-lettered; the policy only adds attempts.
  Recorder rec;
  ASSERT_TRUE(rt->OnEventType("Order", RecordingHandler(rec)).ok());
  for (int i = 0; i < 20; ++i)
    ProduceOne(*producer_, "orders", std::string("k"), Order("k", i), {}, Partition(1));
  ProduceOne(*producer_, "orders", std::string("k"), std::string("\xff\xfe not json"), {},
             Partition(1));
  ProduceOne(*producer_, "orders", std::string("k"), std::string(R"({"id": "x", "key": "k"})"), {},
             Partition(1));
  for (int i = 20; i < 40; ++i)
    ProduceOne(*producer_, "orders", std::string("k"), Order("k", i), {}, Partition(1));
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(rec.WaitCount(40));
  ASSERT_TRUE(WaitForStats(*rt, [](const GroupStats& s) { return s.dead_lettered == 2; }));
  ASSERT_TRUE(rt->Stop(seconds(10)).ok());
  auto dls = DeadLetters();
  ASSERT_EQ(dls.size(), 2u);
  for (const DeadLetter& d : dls) {
    EXPECT_EQ(d.error_type, ErrorClass::kSchemaValidation);
    EXPECT_EQ(d.original_partition, Partition(1));
  }
  EXPECT_EQ(dls[0].original_offset, Offset(20));
  EXPECT_EQ(*dls[0].value, "\xff\xfe not json");
  EXPECT_NE(dls[1].error_message.find("seq"), std::string::npos) << dls[1].error_message;
  EXPECT_EQ(Committed("g", "orders"), EndOffsets("orders", 3));
}

TEST_F(RuntimeTest, AvroEventsAreDecodedWithTheRegistryAndGarbageIsAPoisonPill) {
  topo_ = MakeTopology(
      dir_, fmt::format(R"(
topics:
  plates: {{partitions: 2, key: camera_id}}
  dlq: {{partitions: 1}}
event_types:
  PlateEvent: {{schema: {}, topic: plates, key: camera_id, id: event_id}}
consumer_groups:
  store: {{topics: [plates], dlq: dlq}}
)",
                        weir::testing::SourcePath("examples/alpr/schemas/plate_event.avsc")));
  broker_.CreateTopic("plates", 2);
  auto pub = publish::Publisher::Create(topo_, broker_.Config());
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  json sample = json::parse(weir::testing::ReadFile(
      weir::testing::SourcePath("examples/alpr/schemas/samples/PlateEvent.json")));
  for (int i = 0; i < 10; ++i) {
    sample["event_id"] = fmt::format("e-{}", i);
    sample["camera_id"] = "cam-1";
    auto r = (*pub)->Publish("PlateEvent", sample.dump());
    ASSERT_EQ(r.outcome, publish::PublishOutcome::kDelivered) << r.status.ToString();
    if (i == 4) {
      // A record that claims to be a PlateEvent but is not Confluent-framed.
      std::vector<HeaderView> h = {{"weir-event-type", std::string_view("PlateEvent")}};
      ProduceOne(*producer_, "plates", std::string("cam-1"), std::string("garbage"), h);
    }
  }
  ASSERT_TRUE((*pub)->Close().ok());
  auto rt = GroupRuntime::Create(topo_, "store", Config());
  ASSERT_TRUE(rt.ok()) << rt.status().ToString();
  Recorder rec;
  ASSERT_TRUE((*rt)
                  ->OnEventType("PlateEvent",
                                [&](const Message& m) {
                                  EXPECT_EQ(m.event_type(), "PlateEvent");
                                  rec.Add(m);
                                  return HandlerResult::Ok();
                                })
                  .ok());
  ASSERT_TRUE((*rt)->Start().ok());
  ASSERT_TRUE(rec.WaitCount(10));
  ASSERT_TRUE(WaitForStats(**rt, [](const GroupStats& s) { return s.dead_lettered == 1; }));
  ASSERT_TRUE((*rt)->Stop(seconds(10)).ok());
  std::set<std::string> ids;
  for (const Seen& s : rec.seen()) {
    ids.insert(s.event["event_id"].get<std::string>());
    EXPECT_EQ(s.event["camera_id"], "cam-1");
  }
  EXPECT_EQ(ids.size(), 10u);
  auto dls = DeadLetters();
  ASSERT_EQ(dls.size(), 1u);
  EXPECT_EQ(dls[0].error_type, ErrorClass::kSchemaValidation);
  EXPECT_NE(dls[0].error_message.find("Confluent"), std::string::npos) << dls[0].error_message;
}

TEST_F(RuntimeTest, WithoutADlqAFailureStopsTheGroupAndIsNotCommitted) {
  auto rt = Make("  g: {topics: [orders], ordering: partition}", "g");
  ASSERT_TRUE(rt);
  Recorder rec;
  ASSERT_TRUE(rt->OnTopic("orders", [&](const Message& m) {
                  rec.Add(m);
                  return m.attempt() > 0 && json::parse(m.json()).value("fail", "") != ""
                             ? HandlerResult::Reject("not acceptable")
                             : HandlerResult::Ok();
                }).ok());
  for (int i = 0; i < 5; ++i)
    ProduceOne(*producer_, "orders", std::string("k"), Order("k", i, i == 3 ? "x" : ""), {},
               Partition(2));
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(rt->WaitStopped(seconds(60)));
  Status s = rt->Stop(seconds(10));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("orders/2@3"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("BUSINESS_LOGIC"), std::string::npos) << s.ToString();
  auto committed = Committed("g", "orders");
  EXPECT_LE(committed[2], 3);  // never past the failed record
}

TEST_F(RuntimeTest, DedupAcrossTheLegacyAndTheNewTopicHandlesEachEventOnce) {
  auto rt = Make(
      "  g: {topics: [orders, orders.legacy], ordering: key, concurrency: 8, dlq: dlq,\n"
      "      dedup: {fields: [key, id], ttl: 60s}}",
      "g");
  ASSERT_TRUE(rt);
  Recorder rec;
  ASSERT_TRUE(rt->OnEventType("Order", RecordingHandler(rec)).ok());
  // Dual-publish: every event on both topics, plus producer retries.
  for (int i = 0; i < 100; ++i) {
    const std::string key = fmt::format("v{}", i % 5);
    Produce("orders", key, Order(key, i));
    Produce("orders.legacy", key, Order(key, i));
    if (i % 10 == 0) Produce("orders", key, Order(key, i));
  }
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(
      WaitForStats(*rt, [](const GroupStats& s) { return s.handled + s.duplicates == 210; }));
  ASSERT_TRUE(rt->Stop(seconds(10)).ok());
  std::map<std::string, int> count;
  for (const Seen& s : rec.seen()) ++count[s.event["id"].get<std::string>()];
  EXPECT_EQ(count.size(), 100u);
  for (const auto& [id, n] : count) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(rt->Stats().duplicates, 110u);
}

TEST_F(RuntimeTest, ReorderBufferRestoresFrameOrderAndDropsLateFrames) {
  auto rt = Make(
      "  g: {topics: [orders], ordering: key, concurrency: 4, dlq: dlq,\n"
      "      reorder: {sequence_field: seq, window: 10, tolerance: 2, late: drop}}",
      "g");
  ASSERT_TRUE(rt);
  Recorder rec;
  ASSERT_TRUE(rt->OnTopic("orders", RecordingHandler(rec)).ok());
  // Vehicle a: 1 2 4 3 5 → 1..5. Vehicle b: 1 2 4 5 6 3 7 → 3 is late.
  for (int s : {1, 2, 4, 3, 5}) Produce("orders", "a", Order("a", s));
  for (int s : {1, 2, 4, 5, 6, 3, 7}) Produce("orders", "b", Order("b", s));
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(rec.WaitCount(11));
  ASSERT_TRUE(WaitForStats(*rt, [](const GroupStats& s) { return s.late_dropped == 1; }));
  ASSERT_TRUE(rt->Stop(seconds(10)).ok());
  std::map<std::string, std::vector<int>> order;
  for (const Seen& s : rec.seen()) order[s.key].push_back(s.event["seq"]);
  EXPECT_EQ(order["a"], (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_EQ(order["b"], (std::vector<int>{1, 2, 4, 5, 6, 7}));
  EXPECT_EQ(Committed("g", "orders"), EndOffsets("orders", 3));
}

TEST_F(RuntimeTest, LateFramesGoToTheDlqWhenConfigured) {
  auto rt = Make(
      "  g: {topics: [orders], ordering: key, dlq: dlq,\n"
      "      reorder: {sequence_field: seq, window: 10, tolerance: 1, late: dlq}}",
      "g");
  ASSERT_TRUE(rt);
  Recorder rec;
  ASSERT_TRUE(rt->OnTopic("orders", RecordingHandler(rec)).ok());
  for (int s : {1, 3, 4, 2, 5}) Produce("orders", "a", Order("a", s));
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(rec.WaitCount(4));
  ASSERT_TRUE(WaitForStats(*rt, [](const GroupStats& s) { return s.dead_lettered == 1; }));
  ASSERT_TRUE(rt->Stop(seconds(10)).ok());
  auto dls = DeadLetters();
  ASSERT_EQ(dls.size(), 1u);
  EXPECT_EQ(dls[0].error_type, ErrorClass::kBusinessLogic);
  EXPECT_EQ(*dls[0].value, Order("a", 2));
}

TEST_F(RuntimeTest, TwoProcessesRebalancingMidStreamLoseNothing) {
  const std::string groups = "  g: {topics: [orders], ordering: key, concurrency: 4, dlq: dlq}";
  constexpr int kRecords = 3000;
  std::vector<std::pair<std::string, std::string>> records;
  for (int i = 0; i < kRecords; ++i) {
    const std::string key = fmt::format("k{}", i % 30);
    records.emplace_back(key, Order(key, i));
  }
  testing::ProduceAll(*producer_, "orders", records);
  Recorder rec;
  std::mutex mu;
  std::condition_variable cv;
  bool b_started = false;
  std::atomic<int> handled{0};
  auto handler = [&](const Message& m) {
    // After 300 records, the handlers wait until B has partitions: the
    // rebalance finds A with most of the stream read but not handled and
    // its handlers stuck, so its revocation gives them up after
    // revoke_timeout and leaves their records to the new owner.
    if (++handled > 300) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, seconds(30), [&] { return b_started; });
    }
    rec.Add(m);
    return HandlerResult::Ok();
  };
  RuntimeOptions options;
  options.revoke_timeout = milliseconds(500);
  auto a = Make(groups, "g", options);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->OnTopic("orders", handler).ok());
  ASSERT_TRUE(a->Start().ok());
  ASSERT_TRUE(rec.WaitCount(300));
  auto b = Make(groups, "g");
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->OnTopic("orders", handler).ok());
  ASSERT_TRUE(b->Start().ok());
  ASSERT_TRUE(WaitForStats(*b, [](const GroupStats& st) { return st.assigned_partitions > 0; }));
  {
    std::lock_guard<std::mutex> lock(mu);
    b_started = true;
    cv.notify_all();
  }
  ASSERT_TRUE(rec.WaitFor([&](const std::vector<Seen>& seen) {
    std::set<std::string> ids;
    for (const Seen& s : seen) ids.insert(s.event["id"].get<std::string>());
    return ids.size() == kRecords;
  }));
  ASSERT_TRUE(a->Stop(seconds(10)).ok());
  ASSERT_TRUE(b->Stop(seconds(10)).ok());
  EXPECT_GT(a->Stats().received, 300u);
  EXPECT_GT(a->Stats().abandoned, 0u);  // A's revocation gave up its stuck work
  EXPECT_GT(b->Stats().handled, 0u);    // B took over part of the stream
  // Every record handled at least once, and all of it committed.
  EXPECT_EQ(Committed("g", "orders"), EndOffsets("orders", 3));
}

// weir dlq replay → the record fails again → back in the DLQ with its replay
// count; --max-replays then stops it: a record that always fails cannot loop.
TEST_F(RuntimeTest, AReplayedRecordThatFailsAgainReturnsWithItsReplayCount) {
  auto rt = Make("  g: {topics: [orders], ordering: key, dlq: dlq}", "g");
  ASSERT_TRUE(rt);
  ASSERT_TRUE(rt->OnTopic("orders", [&](const Message& m) {
                  return json::parse(m.json()).contains("fail") ? HandlerResult::Reject("still bad")
                                                                : HandlerResult::Ok();
                }).ok());
  for (int i = 0; i < 3; ++i)
    Produce("orders", fmt::format("k{}", i), Order(fmt::format("k{}", i), i, "x"));
  ASSERT_TRUE(rt->Start().ok());
  ASSERT_TRUE(WaitForStats(*rt, [](const GroupStats& s) { return s.dead_lettered == 3; }));
  const std::vector<std::string> weir = {weir::testing::WeirBinary(), "-c",
                                         dir_.path() + "/weir.yaml", "-b", broker_.bootstrap()};
  auto run = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = weir;
    argv.insert(argv.end(), args.begin(), args.end());
    return weir::testing::RunCommand(argv);
  };
  auto r = run({"dlq", "replay", "--max-replays", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Replay 1 fails again: three more dead letters, each with replay count 1.
  ASSERT_TRUE(WaitForStats(*rt, [](const GroupStats& s) { return s.dead_lettered == 6; }));
  auto dls = DeadLetters();
  ASSERT_EQ(dls.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(dls[i].replay_count, i < 3 ? 0 : 1) << i;
    EXPECT_EQ(dls[i].error_type, ErrorClass::kBusinessLogic);
    EXPECT_EQ(dls[i].original_topic, "orders");
  }
  std::multiset<std::string> first, second;  // the same bytes went round
  for (size_t i = 0; i < 6; ++i) (i < 3 ? first : second).insert(*dls[i].value);
  EXPECT_EQ(first, second);
  // Drop the first round; the second is not replayed again.
  r = run({"dlq", "purge", "--before", "0:3", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run({"dlq", "replay", "--max-replays", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("replayed 1 time(s) already"), std::string::npos) << r.out;
  ASSERT_TRUE(rt->Stop(seconds(10)).ok());
  EXPECT_EQ(rt->Stats().dead_lettered, 6u);
  EXPECT_EQ(Committed("g", "orders"), EndOffsets("orders", 3));
}

}  // namespace
}  // namespace weir::consume
