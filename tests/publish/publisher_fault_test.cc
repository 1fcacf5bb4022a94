// Publisher against librdkafka's mock cluster with the broker taken down for
// longer than the delivery timeout while events keep coming: every event is
// delivered exactly once, in order per key, through the spool.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <semaphore>
#include <thread>

#include "publish/publish_test_util.h"
#include "weir/kafka/mock_cluster.h"
#include "weir/publish/publisher.h"

namespace weir::publish {
namespace {

using nlohmann::json;
using weir::testing::MakeTopology;
using weir::testing::ReadTopic;
using weir::testing::TempDir;

// Waits for |cond| with a generous deadline, checking every few ms. The
// condition is what the test waits for; the deadline only stops a hang.
template <typename F>
bool WaitFor(F cond, std::chrono::seconds deadline = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class PublisherFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mock = kafka::MockCluster::Start(1);
    ASSERT_TRUE(mock.ok()) << mock.status().ToString();
    mock_ = std::move(*mock);
    ASSERT_TRUE(mock_->CreateTopic("orders", 3).ok());
    topo_ = MakeTopology(dir_, R"(
publisher: {delivery_timeout: 300ms, spool: {dir: spool}}
topics: {orders: {partitions: 3, key: customer}}
event_types: {Order: {topic: orders, id: id}}
)");
    config_.Set("bootstrap.servers", mock_->bootstrap_servers());
    config_.Set("reconnect.backoff.ms", "10");
    config_.Set("reconnect.backoff.max.ms", "100");
  }

  static std::string Order(int64_t n) {
    return json{{"id", n}, {"customer", "c" + std::to_string(n % 7)}, {"n", n}}.dump();
  }

  TempDir dir_;
  std::unique_ptr<kafka::MockCluster> mock_;
  Topology topo_;
  kafka::ClientConfig config_;
};

TEST_F(PublisherFaultTest, ClusterDownPastTheTimeoutThenBackDeliversAllOnceInKeyOrder) {
  auto pub = Publisher::Create(topo_, config_);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();

  std::atomic<int64_t> next{0};
  std::atomic<bool> stop{false};
  std::atomic<int64_t> delivered{0}, spooled{0}, bad{0};
  std::mutex mu;
  std::vector<std::string> errors;
  // At most 1000 events without an outcome, as a real client would have.
  std::counting_semaphore<1000> window(1000);
  std::thread producer([&] {
    while (!stop.load()) {
      window.acquire();
      const int64_t n = next.fetch_add(1);
      (*pub)->PublishAsync("Order", Order(n), [&](PublishResult r) {
        window.release();
        if (r.outcome == PublishOutcome::kDelivered) {
          delivered.fetch_add(1);
        } else if (r.outcome == PublishOutcome::kSpooled) {
          spooled.fetch_add(1);
        } else {
          bad.fetch_add(1);
          std::lock_guard<std::mutex> lock(mu);
          errors.push_back(r.status.ToString());
        }
      });
    }
  });
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Joiner() {
      stop.store(true);
      if (t.joinable()) t.join();
    }
  } joiner{stop, producer};

  ASSERT_TRUE(WaitFor([&] { return delivered.load() > 200; }));
  ASSERT_TRUE(mock_->SetBrokerDown(1).ok());
  // Down for longer than the delivery timeout: the publisher spools.
  ASSERT_TRUE(WaitFor([&] { return spooled.load() > 500; }));
  EXPECT_TRUE((*pub)->Stats().spooling);
  ASSERT_TRUE(mock_->SetBrokerUp(1).ok());
  // Back: the spool is forwarded and the publisher goes direct again.
  const int64_t delivered_before = delivered.load();
  ASSERT_TRUE(WaitFor([&] {
    PublisherStats s = (*pub)->Stats();
    return s.forwarded > 0 && !s.spooling && delivered.load() > delivered_before + 200;
  })) << "spool="
      << (*pub)->Stats().spool_records << " in flight=" << (*pub)->Stats().in_flight
      << " forwarded=" << (*pub)->Stats().forwarded;
  stop.store(true);
  producer.join();
  ASSERT_TRUE((*pub)->Flush(std::chrono::seconds(60), /*drain_spool=*/true).ok());
  const int64_t total = next.load();
  ASSERT_TRUE((*pub)->Close().ok());
  EXPECT_EQ(bad.load(), 0) << (errors.empty() ? "" : errors.front());
  EXPECT_EQ(delivered.load() + spooled.load(), total);
  EXPECT_GT(spooled.load(), 0);

  std::vector<testing::ReadRecord> recs = ReadTopic(config_, "orders", 3);
  std::map<int64_t, int> seen;
  std::map<std::string, int64_t> last_of_key;
  for (const testing::ReadRecord& r : recs) {
    json e = json::parse(*r.value);
    const int64_t n = e["n"].get<int64_t>();
    ++seen[n];
    auto it = last_of_key.find(*r.key);
    if (it != last_of_key.end()) {
      ASSERT_GT(n, it->second) << "key " << *r.key << " out of order at partition " << r.partition
                               << " offset " << r.offset;
    }
    last_of_key[*r.key] = n;
  }
  EXPECT_EQ(static_cast<int64_t>(seen.size()), total);
  for (const auto& [n, count] : seen) ASSERT_EQ(count, 1) << "event " << n << " duplicated";
}

TEST_F(PublisherFaultTest, WithoutASpoolEventsFailAfterTheDeliveryTimeoutNamingIt) {
  TempDir dir;
  Topology topo = MakeTopology(dir, R"(
publisher: {delivery_timeout: 200ms, spool: off}
topics: {orders: {partitions: 3, key: customer}}
event_types: {Order: {topic: orders}}
)");
  auto pub = Publisher::Create(topo, config_);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  ASSERT_EQ((*pub)->Publish("Order", Order(1)).outcome, PublishOutcome::kDelivered);
  ASSERT_TRUE(mock_->SetBrokerDown(1).ok());
  PublishResult r = (*pub)->Publish("Order", Order(2));
  EXPECT_EQ(r.outcome, PublishOutcome::kFailed);
  EXPECT_EQ(r.status.kafka_error(), "_MSG_TIMED_OUT") << r.status.ToString();
  ASSERT_TRUE(mock_->SetBrokerUp(1).ok());
}

TEST_F(PublisherFaultTest, ASpoolLeftByAnEarlierRunIsForwardedFirst) {
  {
    // A publisher that never reaches a cluster spools everything.
    kafka::ClientConfig nowhere;
    nowhere.Set("bootstrap.servers", "127.0.0.1:1");
    auto pub = Publisher::Create(topo_, nowhere);
    ASSERT_TRUE(pub.ok()) << pub.status().ToString();
    for (int i = 0; i < 50; ++i) {
      PublishResult r = (*pub)->Publish("Order", Order(i));
      ASSERT_EQ(r.outcome, PublishOutcome::kSpooled) << r.status.ToString();
    }
    ASSERT_TRUE((*pub)->Close(std::chrono::milliseconds(100)).ok());
  }
  auto status = Spool::ReadStatus(dir_.path() + "/spool");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->records, 50);

  auto pub = Publisher::Create(topo_, config_);
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  // Published while the old spool is still being forwarded: queued behind it.
  for (int i = 50; i < 60; ++i) EXPECT_TRUE((*pub)->Publish("Order", Order(i)).accepted());
  ASSERT_TRUE((*pub)->Flush(std::chrono::seconds(60), true).ok());
  ASSERT_TRUE((*pub)->Close().ok());
  auto recs = ReadTopic(config_, "orders", 3);
  ASSERT_EQ(recs.size(), 60u);
  std::map<std::string, int64_t> last;
  for (const auto& r : recs) {
    const int64_t n = json::parse(*r.value)["n"].get<int64_t>();
    if (last.count(*r.key) != 0) {
      EXPECT_GT(n, last[*r.key]);
    }
    last[*r.key] = n;
  }
  EXPECT_EQ(Spool::ReadStatus(dir_.path() + "/spool")->records, 0);
}

}  // namespace
}  // namespace weir::publish
