// kill -9 of the broker while an idempotent producer with acks=all writes:
// every acknowledged record must be stored once, in order per partition.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "broker/broker_process.h"
#include "kafka/kafka_test_util.h"
#include "support/test_support.h"
#include "weir/kafka/admin.h"
#include "weir/kafka/consumer.h"
#include "weir/kafka/producer.h"

namespace weir::broker::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

kafka::ClientConfig ConfigFor(const std::string& bootstrap) {
  kafka::ClientConfig c;
  c.Set("bootstrap.servers", bootstrap);
  c.Set("reconnect.backoff.ms", "20");
  c.Set("reconnect.backoff.max.ms", "200");
  c.Set("retry.backoff.ms", "20");
  return c;
}

void RunCrashRounds(bool fsync) {
  weir::testing::TempDir dir;
  std::vector<std::string> extra;
  if (fsync) extra.push_back("--fsync");
  BrokerProcess broker(dir.path() + "/data", extra);
  std::string error;
  ASSERT_TRUE(broker.Start(&error)) << error;
  const std::string bootstrap = broker.address();
  {
    auto admin = kafka::Admin::Create(ConfigFor(bootstrap));
    ASSERT_TRUE(admin.ok());
    auto r = (*admin)->CreateTopics({{"crash", 3, -1, {}}}, seconds(10));
    ASSERT_TRUE(r.ok() && (*r)[0].status.ok());
  }

  kafka::ClientConfig pc = ConfigFor(bootstrap);
  pc.Set("enable.idempotence", "true");
  pc.Set("acks", "all");
  pc.Set("message.timeout.ms", "300000");
  pc.Set("linger.ms", "2");
  pc.Set("queue.buffering.max.messages", "20000");
  auto producer = kafka::Producer::Create(pc);
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();

  constexpr int kRounds = 5;
  std::mutex mu;
  std::map<std::string, int64_t> acked;  // value -> offset
  std::vector<std::string> failures;
  std::atomic<int> acked_count{0};
  std::condition_variable acked_cv;
  // The writer streams until the kill rounds are over, so every kill lands
  // while records are in flight.
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::thread writer([&] {
    for (int i = 0; !stop.load(); ++i) {
      std::string value = "v" + std::to_string(i);
      kafka::ProduceRequest req;
      req.topic = "crash";
      req.partition = Partition(i % 3);
      req.value = value;
      Status s = (*producer)->Send(req, [&, value](const kafka::DeliveryReport& r) {
        std::lock_guard lock(mu);
        if (r.status.ok()) {
          acked[value] = r.offset.value();
          acked_count++;
          acked_cv.notify_all();
        } else {
          failures.push_back(value + ": " + r.status.ToString());
        }
      });
      if (!s.ok()) {
        std::lock_guard lock(mu);
        failures.push_back(value + ": send: " + s.ToString());
      }
      sent++;
    }
  });

  // Kill the broker at random points of the stream, restart it on the same
  // port and data folder, several times.
  std::mt19937 rng(fsync ? 7 : 42);
  int kills_with_records_in_flight = 0;
  for (int round = 0; round < kRounds; ++round) {
    int target = acked_count.load() + std::uniform_int_distribution<int>(200, 3000)(rng);
    {
      std::unique_lock lock(mu);
      ASSERT_TRUE(
          acked_cv.wait_for(lock, seconds(60), [&] { return acked_count.load() >= target; }))
          << "round " << round << ": acknowledgements stopped at " << acked_count.load();
    }
    broker.Kill(SIGKILL);
    if (sent.load() > acked_count.load()) kills_with_records_in_flight++;
    ASSERT_TRUE(broker.Start(&error)) << "restart " << round << ": " << error;
    ASSERT_EQ(broker.address(), bootstrap);
  }
  stop = true;
  writer.join();
  const int kRecords = sent.load();
  EXPECT_GT(kills_with_records_in_flight, 0);
  std::printf("%d records acknowledged; %d of %d kills hit records in flight\n", kRecords,
              kills_with_records_in_flight, kRounds);
  Status flushed = (*producer)->Flush(seconds(120));
  ASSERT_TRUE(flushed.ok()) << flushed.ToString();
  {
    std::lock_guard lock(mu);
    ASSERT_TRUE(failures.empty()) << failures.size() << " failed, first: " << failures[0];
    ASSERT_EQ(acked.size(), static_cast<size_t>(kRecords));
  }
  (*producer)->Close();

  // One more kill after the last acknowledgement: nothing acknowledged is lost.
  broker.Kill(SIGKILL);
  ASSERT_TRUE(broker.Start(&error)) << error;

  kafka::ClientConfig cc = ConfigFor(bootstrap);
  cc.Set("fetch.wait.max.ms", "100");
  auto consumer = kafka::Consumer::Create(cc, {});
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE((*consumer)
                  ->Assign({{"crash", Partition(0), kOffsetBeginning, {}},
                            {"crash", Partition(1), kOffsetBeginning, {}},
                            {"crash", Partition(2), kOffsetBeginning, {}}})
                  .ok());
  auto got = kafka::testing::PollCount(**consumer, kRecords, seconds(60));
  // Nothing beyond kRecords either: no duplicates were stored.
  auto extra_records = kafka::testing::PollUntil(
      **consumer, [](const std::vector<Record>&) { return false; }, milliseconds(500));
  EXPECT_TRUE(extra_records.empty()) << extra_records.size() << " records beyond " << kRecords;
  ASSERT_EQ(got.size(), static_cast<size_t>(kRecords));
  std::map<std::string, int> seen;
  std::map<int32_t, int> last_index;  // produce order per partition
  for (const Record& r : got) {
    std::string v = kafka::testing::ValueOf(r);
    EXPECT_EQ(++seen[v], 1) << v << " stored twice";
    EXPECT_EQ(acked[v], r.offset().value()) << v << " moved";
    int index = std::stoi(v.substr(1));
    auto it = last_index.find(r.partition().value());
    if (it != last_index.end()) {
      EXPECT_LT(it->second, index) << "order broken at " << v;
    }
    last_index[r.partition().value()] = index;
  }
  got.clear();
  extra_records.clear();
}

TEST(BrokerCrashTest, AcknowledgedRecordsSurviveKill9) { RunCrashRounds(false); }
TEST(BrokerCrashTest, AcknowledgedRecordsSurviveKill9WithFsync) { RunCrashRounds(true); }

}  // namespace
}  // namespace weir::broker::testing
