// The activity logs on an in-process embedded broker with the SQLite
// store: the seed's retry policy as the shipped weir.yaml declares it, run
// by the consumer runtime on an injected clock (so the 5-minute backoffs
// take no wall time), and the one command `weir-activity-logs run`. The end
// to end test is activity_logs_e2e.cc (instantiated here for SQLite).
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>

#include "activity_consumer.h"
#include "activity_events.h"
#include "activity_logs_e2e.h"
#include "activity_store.h"
#include "broker/broker_test_util.h"
#include "consume/consume_test_util.h"
#include "examples_test_util.h"
#include "weir/ops/dlq.h"
#include "weir/publish/publisher.h"

namespace activity_logs::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using weir::broker::testing::TestBroker;
using weir::consume::GroupStats;
using weir::consume::ManualClock;
using weir::consume::RetryScheduled;
using weir::consume::testing::WaitForStats;
using weir::examples::testing::LoadTopologyOnBroker;
using weir::examples::testing::StartPublisher;
using weir::testing::TempDir;

// The seed's schedule, worked out by hand: "3 attempts with 100ms delay",
// then doubling from there, capped at 5 minutes; retry 15 is the first
// at the cap and the last before the DLQ.
const std::vector<int64_t> kSeedScheduleMs = {
    100, 100, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 102400, 204800, 300000};

class ActivityLogsRetryPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(LoadTopologyOnBroker(ActivityLogsConfig(), broker_, &topology_));
    auto store = OpenActivityStore(dir_.path() + "/activity.sqlite");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    ASSERT_NO_FATAL_FAILURE(
        StartPublisher(topology_, broker_, dir_.path() + "/spool", &publisher_));
  }
  void TearDown() override {
    if (consumer_) {
      EXPECT_TRUE(consumer_->Stop(seconds(10)).ok());
    }
    if (publisher_) {
      EXPECT_TRUE(publisher_->Close(seconds(10)).ok());
    }
  }

  void Start(FailureRule rule) {
    ActivityConsumerOptions o;
    o.runtime.clock = &clock_;
    o.runtime.commit_interval = milliseconds(100);
    o.runtime.on_retry = [this](const RetryScheduled& r) {
      std::lock_guard<std::mutex> lock(mu_);
      retries_.push_back(r);
      cv_.notify_all();
    };
    o.failures = {std::move(rule)};
    auto c = ActivityConsumer::Create(topology_, broker_.ConsumerConfig(), store_.get(),
                                      publisher_.get(), o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    consumer_ = std::move(*c);
    ASSERT_TRUE(consumer_->Start().ok());
  }

  void Publish(const std::string& id, const std::string& type) {
    const json e = {{"userId", "user-r"},
                    {"activityType", type},
                    {"timestamp", "2024-01-12T10:30:00.000Z"},
                    {"eventId", id},
                    {"version", "1.0"}};
    ASSERT_TRUE(publisher_->Publish(kActivityEvent, e.dump()).accepted());
  }

  // Waits for retry number |n| (1-based), checks it against the seed's
  // schedule, and moves the clock to when it is due.
  void ExpectRetryAndAdvance(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, seconds(30), [&] { return retries_.size() >= n; }))
        << "retry " << n << " was not scheduled";
    const RetryScheduled r = retries_[n - 1];
    lock.unlock();
    const int64_t nominal = kSeedScheduleMs[n - 1];
    EXPECT_EQ(r.next_attempt, static_cast<int>(n) + 1);
    EXPECT_EQ(r.error_class, weir::ErrorClass::kProcessingFailure);
    // weir's default jitter: ±20% of each delay.
    EXPECT_GE(r.delay.count(), nominal * 8 / 10) << "retry " << n;
    EXPECT_LE(r.delay.count(), nominal * 12 / 10) << "retry " << n;
    EXPECT_EQ(consumer_->GroupStats().waiting_retry, 1);
    clock_.Advance(r.delay);
  }

  ManualClock clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<RetryScheduled> retries_;  // guarded by mu_
  TempDir dir_;
  TestBroker broker_;
  weir::Topology topology_;
  std::unique_ptr<ActivityStore> store_;
  std::unique_ptr<weir::publish::Publisher> publisher_;
  std::unique_ptr<ActivityConsumer> consumer_;
};

TEST_F(ActivityLogsRetryPolicyTest, AStoreDownForGoodIsRetriedOnTheSeedScheduleThenDeadLettered) {
  Start({"db_down", true, -1});
  ASSERT_FALSE(HasFatalFailure());
  Publish("evt-down", "db_down");
  for (size_t n = 1; n <= kSeedScheduleMs.size(); ++n) {
    ExpectRetryAndAdvance(n);
    if (HasFatalFailure()) return;
  }
  ASSERT_TRUE(
      WaitForStats(consumer_->runtime(), [](const GroupStats& s) { return s.dead_lettered == 1; }));
  const GroupStats gs = consumer_->GroupStats();
  EXPECT_EQ(gs.retries, kSeedScheduleMs.size());
  EXPECT_EQ(gs.attempts, kSeedScheduleMs.size() + 1);
  EXPECT_EQ(consumer_->Stats().injected_failures, kSeedScheduleMs.size() + 1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    EXPECT_EQ(retries_.size(), kSeedScheduleMs.size());  // no 16th retry
  }
  auto count = store_->Count();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 0);

  auto client = weir::ops::DlqClient::Open(broker_.Config());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->AddTopic(kDlqTopic).ok());
  auto scan = (*client)->Scan({});
  ASSERT_TRUE(scan.ok());
  ASSERT_EQ(scan->entries.size(), 1u);
  const weir::consume::DeadLetter& dl = scan->entries[0].dead_letter;
  EXPECT_EQ(dl.error_type, weir::ErrorClass::kProcessingFailure);
  EXPECT_EQ(dl.retry_count, 15);
  EXPECT_EQ(dl.original_topic, kActivityTopic);
  EXPECT_NE(dl.error_message.find("attempt 16"), std::string::npos) << dl.error_message;
  const json seed = SeedDeadLetter(dl);
  EXPECT_EQ(seed["value"]["eventId"], "evt-down");
  EXPECT_EQ(seed["value"]["error"]["code"], "PROCESSING_FAILURE");
  EXPECT_EQ(seed["value"]["error"]["retryCount"], 15);
}

TEST_F(ActivityLogsRetryPolicyTest,
       AStoreThatFailsThreeTimesStoresTheEventOnceAfterTheImmediateRetries) {
  Start({"db_flaky", true, 3});
  ASSERT_FALSE(HasFatalFailure());
  Publish("evt-flaky", "db_flaky");
  for (size_t n = 1; n <= 3; ++n) {
    ExpectRetryAndAdvance(n);
    if (HasFatalFailure()) return;
  }
  ASSERT_TRUE(
      WaitForStats(consumer_->runtime(), [](const GroupStats& s) { return s.handled == 1; }));
  const GroupStats gs = consumer_->GroupStats();
  EXPECT_EQ(gs.retries, 3u);
  EXPECT_EQ(gs.dead_lettered, 0u);
  auto all = store_->All();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].event_id, "evt-flaky");
}

// --- the program ----------------------------------------------------------------

TEST(ActivityLogsRunCommand, TheOneCommandRunsEverythingOnTheEmbeddedBroker) {
  TempDir dir;
  auto r = weir::testing::RunCommand(
      {ActivityLogsBinary(), "-c", ActivityLogsConfig(), "run", "--store",
       dir.path() + "/activity.sqlite", "--analytics", "--spool-dir", dir.path() + "/spool"},
      "", seconds(240), {{"WEIR_EMBEDDED_DATA_DIR", dir.path() + "/data"}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("check                 ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"code\":\"BUSINESS_LOGIC\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"code\":\"SCHEMA_VALIDATION\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(redelivered; stored before, not again)"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("problem:"), std::string::npos) << r.err;

  // The store it left: the 17 accepted events, each once.
  auto store = OpenActivityStore(dir.path() + "/activity.sqlite");
  ASSERT_TRUE(store.ok());
  auto count = (*store)->Count();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 17);

  // `dead-letters` prints this run's three in the seed's shape.
  auto dl = weir::testing::RunCommand(
      {ActivityLogsBinary(), "-c", ActivityLogsConfig(), "dead-letters"}, "", seconds(60),
      {{"WEIR_EMBEDDED_DATA_DIR", dir.path() + "/data"}});
  ASSERT_EQ(dl.exit_code, 0) << dl.err;
  size_t lines = 0;
  for (size_t pos = 0; (pos = dl.out.find('\n', pos)) != std::string::npos; ++pos) ++lines;
  EXPECT_EQ(lines, 3u) << dl.out;
  EXPECT_NE(dl.out.find("\"originalTopic\":\"user-activity-logs\""), std::string::npos);
}

TEST(ActivityLogsRunCommand, BadArgumentsAreNamedAndExitTwo) {
  TempDir dir;
  auto r = weir::testing::RunCommand(
      {ActivityLogsBinary(), "-c", ActivityLogsConfig(), "run", "--inject-failure", "x:sometimes"},
      "", seconds(60), {{"WEIR_EMBEDDED_DATA_DIR", dir.path() + "/data"}});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--inject-failure \"x:sometimes\": unknown kind \"sometimes\""),
            std::string::npos)
      << r.err;
  auto bad_config = weir::testing::RunCommand(
      {ActivityLogsBinary(), "-c", dir.path() + "/missing.yaml", "consumer"}, "", seconds(60));
  EXPECT_EQ(bad_config.exit_code, 2);
  EXPECT_NE(bad_config.err.find("missing.yaml"), std::string::npos) << bad_config.err;
  auto help = weir::testing::RunCommand({ActivityLogsBinary(), "run", "--help"}, "", seconds(30));
  EXPECT_EQ(help.exit_code, 0);
  for (const char* option : {"--store", "--analytics", "--inject-failure", "--timeout"}) {
    EXPECT_NE(help.out.find(option), std::string::npos) << option;
  }
}

}  // namespace
}  // namespace activity_logs::testing
