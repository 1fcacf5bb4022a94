// Producer against the mock cluster: byte-exact round trips, every delivery
// path, injected Produce errors, a broker going down, and Close() purging.
#include "weir/kafka/producer.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include "kafka/kafka_test_util.h"
#include "weir/kafka/admin.h"

namespace weir::kafka {
namespace {

using namespace testing;  // NOLINT(build/namespaces)

struct Sent {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<Header> headers;
};

TEST(ProducerTest, RoundTripIsByteIdentical) {
  auto mc = StartCluster(1);
  ASSERT_TRUE(mc);
  ASSERT_TRUE(mc->CreateTopic("rt", 1).ok());
  auto producer = MakeProducer(BaseConfig(*mc));
  ASSERT_TRUE(producer);

  const std::string binary("\0\x01\xff\xfe zero\0inside", 17);
  std::vector<Sent> sent = {
      {"k1", "v1", {{"h1", "x"}, {"h-null", std::nullopt}, {"h-empty", ""}}},
      {std::nullopt, "null key", {}},
      {"null value", std::nullopt, {}},
      {"", "", {}},
      {binary, binary, {{"bin", binary}, {"h1", "dup"}, {"h1", "dup2"}}},
      {std::nullopt, std::nullopt, {{"only", "headers"}}},
  };
  std::vector<std::future<DeliveryReport>> futures;
  for (const Sent& s : sent) {
    std::vector<HeaderView> hv;
    for (const Header& h : s.headers) {
      hv.push_back(
          HeaderView{h.key, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
    }
    ProduceRequest req;
    req.topic = "rt";
    req.partition = Partition(0);
    if (s.key) req.key = *s.key;
    if (s.value) req.value = *s.value;
    req.headers = hv;
    req.timestamp_ms = 1700000000000;
    futures.push_back(producer->Send(req));
  }
  for (size_t i = 0; i < futures.size(); ++i) {
    DeliveryReport r = futures[i].get();
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.topic, "rt");
    EXPECT_EQ(r.partition, Partition(0));
    EXPECT_EQ(r.offset, Offset(static_cast<int64_t>(i)));
  }
  ASSERT_TRUE(producer->Close().ok());

  auto consumer = MakeConsumer(ConsumerConfig(*mc));
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(consumer->Assign({{"rt", Partition(0), kOffsetBeginning, {}}}).ok());
  std::vector<Record> got = PollCount(*consumer, sent.size());
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    SCOPED_TRACE(i);
    const Record& r = got[i];
    EXPECT_EQ(r.topic(), "rt");
    EXPECT_EQ(r.offset(), Offset(static_cast<int64_t>(i)));
    EXPECT_EQ(r.timestamp().ms, 1700000000000);
    EXPECT_EQ(r.key().has_value(), sent[i].key.has_value());
    if (r.key() && sent[i].key) {
      EXPECT_EQ(*r.key(), *sent[i].key);
    }
    EXPECT_EQ(r.value().has_value(), sent[i].value.has_value());
    if (r.value() && sent[i].value) {
      EXPECT_EQ(*r.value(), *sent[i].value);
    }
    ASSERT_EQ(r.headers().size(), sent[i].headers.size());
    for (size_t h = 0; h < sent[i].headers.size(); ++h) {
      EXPECT_EQ(r.headers()[h].key, sent[i].headers[h].key);
      EXPECT_EQ(r.headers()[h].value.has_value(), sent[i].headers[h].value.has_value());
      if (r.headers()[h].value && sent[i].headers[h].value) {
        EXPECT_EQ(*r.headers()[h].value, *sent[i].headers[h].value);
      }
    }
  }
  // A clone owns its bytes and stays valid after the consumer is gone; the
  // zero-copy records must go first (they pin librdkafka's partition state).
  Record clone = got[0].Clone();
  ASSERT_TRUE(consumer->Close().ok());
  got.clear();
  consumer.reset();
  EXPECT_EQ(*clone.value(), "v1");
  EXPECT_EQ(*clone.key(), "k1");
  ASSERT_NE(clone.FindHeader("h-null"), nullptr);
  EXPECT_FALSE(clone.FindHeader("h-null")->value.has_value());
}

// Collects SendWithToken reports.
class TokenListener : public DeliveryListener {
 public:
  void OnDelivery(uint64_t token, const Status& status, std::string_view topic, Partition partition,
                  Offset offset, std::chrono::microseconds latency) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (status.ok()) {
      EXPECT_GE(latency.count(), 0);
    }
    reports_[token].push_back(status);
    last_topic_ = std::string(topic);
    (void)partition;
    (void)offset;
  }
  std::map<uint64_t, std::vector<Status>> reports() {
    std::lock_guard<std::mutex> lock(mu_);
    return reports_;
  }
  std::string last_topic() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_topic_;
  }

 private:
  std::mutex mu_;
  std::map<uint64_t, std::vector<Status>> reports_;
  std::string last_topic_;
};

TEST(ProducerTest, EveryDeliveryPathReportsExactlyOnce) {
  auto mc = StartCluster(1);
  ASSERT_TRUE(mc);
  ASSERT_TRUE(mc->CreateTopic("paths", 3).ok());
  TokenListener listener;
  ProducerOptions opts;
  opts.listener = &listener;
  auto producer = MakeProducer(BaseConfig(*mc), opts);
  ASSERT_TRUE(producer);
  EXPECT_EQ(producer->config().Get("enable.idempotence"), "true");
  EXPECT_EQ(producer->config().Get("acks"), "all");
  EXPECT_EQ(producer->config().Get("compression.type"), "lz4");

  constexpr uint64_t kN = 2000;
  std::atomic<int> callbacks{0};
  for (uint64_t i = 0; i < kN; ++i) {
    std::string v = std::to_string(i);
    ProduceRequest req;
    req.topic = "paths";
    req.key = v;
    req.value = v;
    ASSERT_TRUE(producer->SendWithToken(req, i).ok());
    if (i % 100 == 0) {
      ASSERT_TRUE(producer
                      ->Send(req,
                             [&callbacks](const DeliveryReport& r) {
                               EXPECT_TRUE(r.status.ok()) << r.status.ToString();
                               callbacks.fetch_add(1);
                               throw std::runtime_error("a throwing callback is contained");
                             })
                      .ok());
    }
  }
  // The largest token the encoding allows, and one it refuses.
  ProduceRequest req;
  req.topic = "paths";
  req.value = "max";
  ASSERT_TRUE(producer->SendWithToken(req, (uint64_t{1} << 63) - 1).ok());
  EXPECT_EQ(producer->SendWithToken(req, uint64_t{1} << 63).code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(producer->Flush(seconds(60)).ok());
  EXPECT_EQ(producer->InFlight(), 0);
  EXPECT_EQ(callbacks.load(), static_cast<int>(kN / 100));
  auto reports = listener.reports();
  EXPECT_EQ(reports.size(), kN + 1);
  for (const auto& [token, statuses] : reports) {
    ASSERT_EQ(statuses.size(), 1u) << token;
    EXPECT_TRUE(statuses[0].ok()) << statuses[0].ToString();
  }
  EXPECT_EQ(listener.last_topic(), "paths");
  EXPECT_TRUE(producer->Close().ok());
}

TEST(ProducerTest, RetriableProduceErrorsAreRetried) {
  auto mc = StartCluster(1);
  ASSERT_TRUE(mc);
  ASSERT_TRUE(mc->CreateTopic("retry", 1).ok());
  auto producer = MakeProducer(BaseConfig(*mc));
  ASSERT_TRUE(producer);
  // Warm up (InitProducerId, metadata) so the errors hit Produce requests.
  ProduceAll(*producer, "retry", Partition(0), {"warm"});
  mc->PushRequestErrors(
      kApiProduce, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS});
  std::vector<std::string> values;
  for (int i = 0; i < 10; ++i) values.push_back("r" + std::to_string(i));
  ProduceAll(*producer, "retry", Partition(0), values);
  ASSERT_TRUE(producer->Close().ok());

  auto consumer = MakeConsumer(ConsumerConfig(*mc));
  ASSERT_TRUE(consumer->Assign({{"retry", Partition(0), kOffsetBeginning, {}}}).ok());
  std::vector<Record> got = PollCount(*consumer, 11);
  std::set<std::string> seen;
  for (const Record& r : got) seen.insert(ValueOf(r));
  for (const std::string& v : values) EXPECT_TRUE(seen.count(v)) << v;
}

TEST(ProducerTest, NonRetriableProduceErrorFailsTheRecordWithItsName) {
  auto mc = StartCluster(1);
  ASSERT_TRUE(mc);
  ASSERT_TRUE(mc->CreateTopic("fail", 1).ok());
  ClientConfig cfg = BaseConfig(*mc);
  cfg.Set("enable.idempotence", "false");
  auto producer = MakeProducer(cfg);
  ASSERT_TRUE(producer);
  ProduceAll(*producer, "fail", Partition(0), {"warm"});

  for (rd_kafka_resp_err_t err :
       {RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_INVALID_RECORD}) {
    SCOPED_TRACE(rd_kafka_err2name(err));
    mc->PushRequestErrors(kApiProduce, {err});
    ProduceRequest req;
    req.topic = "fail";
    req.partition = Partition(0);
    req.value = "doomed";
    DeliveryReport r = producer->Send(req).get();
    EXPECT_FALSE(r.status.ok());
    EXPECT_EQ(r.status.kafka_error(), rd_kafka_err2name(err));
    EXPECT_NE(r.status.message().find("fail [0]"), std::string::npos) << r.status.message();
  }
  // The producer is still usable afterwards.
  ProduceAll(*producer, "fail", Partition(0), {"after"});
  EXPECT_TRUE(producer->Close().ok());
}

TEST(ProducerTest, BrokerDownAndUpLosesNothing) {
  auto mc = StartCluster(3);
  ASSERT_TRUE(mc);
  constexpr int kPartitions = 6;
  ASSERT_TRUE(mc->CreateTopic("down", kPartitions, 3).ok());
  for (int p = 0; p < kPartitions; ++p) {
    ASSERT_TRUE(mc->SetPartitionLeader("down", p, p % 3 + 1).ok());
  }
  ClientConfig cfg = BaseConfig(*mc);
  cfg.Set("socket.timeout.ms", "3000");
  auto producer = MakeProducer(cfg);
  ASSERT_TRUE(producer);

  std::mutex mu;
  std::vector<DeliveryReport> reports;
  std::set<std::string> produced;
  std::atomic<int> delivered_elsewhere{0};  // acked by partitions not on broker 2
  auto send = [&](int i) {
    std::string v = "rec-" + std::to_string(i);
    produced.insert(v);
    ProduceRequest req;
    req.topic = "down";
    req.partition = Partition(i % kPartitions);
    req.value = v;
    Status s = producer->Send(req, [&](const DeliveryReport& r) {
      std::lock_guard<std::mutex> lock(mu);
      if (r.status.ok() && r.partition.value() % 3 != 1) delivered_elsewhere.fetch_add(1);
      reports.push_back(r);
    });
    ASSERT_TRUE(s.ok()) << s.ToString();
  };
  int i = 0;
  for (; i < 120; ++i) send(i);
  ASSERT_TRUE(producer->Flush(seconds(30)).ok());

  ASSERT_TRUE(mc->SetBrokerDown(2).ok());
  const int before = delivered_elsewhere.load();
  for (; i < 240; ++i) send(i);
  // Partitions led by brokers 1 and 3 keep flowing while broker 2 is down.
  EXPECT_TRUE(WaitFor([&] { return delivered_elsewhere.load() >= before + 80; },
                      [&] { (void)producer->Flush(milliseconds(100)); }));
  ASSERT_TRUE(mc->SetBrokerUp(2).ok());
  for (; i < 360; ++i) send(i);
  ASSERT_TRUE(producer->Flush(seconds(60)).ok());
  ASSERT_TRUE(producer->Close().ok());
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(reports.size(), produced.size());
    for (const DeliveryReport& r : reports) EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  }

  auto consumer = MakeConsumer(ConsumerConfig(*mc));
  std::vector<TopicPartitionOffset> all;
  for (int p = 0; p < kPartitions; ++p) all.push_back({"down", Partition(p), kOffsetBeginning, {}});
  ASSERT_TRUE(consumer->Assign(all).ok());
  std::set<std::string> consumed;
  PollUntil(*consumer, [&](const std::vector<Record>& rs) {
    for (const Record& r : rs) consumed.insert(ValueOf(r));
    return consumed.size() >= produced.size();
  });
  EXPECT_EQ(consumed, produced);
}

TEST(ProducerTest, CloseReportsUndeliveredRecordsAsFailed) {
  auto mc = StartCluster(1);
  ASSERT_TRUE(mc);
  ASSERT_TRUE(mc->CreateTopic("stuck", 1).ok());
  auto producer = MakeProducer(BaseConfig(*mc));
  ASSERT_TRUE(producer);
  ProduceAll(*producer, "stuck", Partition(0), {"warm"});
  ASSERT_TRUE(mc->SetBrokerDown(1).ok());

  std::atomic<int> failed{0};
  std::atomic<int> reported{0};
  std::vector<std::future<DeliveryReport>> futures;
  for (int i = 0; i < 5; ++i) {
    ProduceRequest req;
    req.topic = "stuck";
    req.partition = Partition(0);
    req.value = "never";
    ASSERT_TRUE(producer
                    ->Send(req,
                           [&](const DeliveryReport& r) {
                             reported.fetch_add(1);
                             if (!r.status.ok()) failed.fetch_add(1);
                           })
                    .ok());
    futures.push_back(producer->Send(req));
  }
  Status s = producer->Close(milliseconds(300));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.kafka_error(), "_PURGE_QUEUE") << s.ToString();
  EXPECT_EQ(reported.load(), 5);
  EXPECT_EQ(failed.load(), 5);
  for (auto& f : futures) {
    DeliveryReport r = f.get();
    EXPECT_FALSE(r.status.ok());
    EXPECT_TRUE(r.status.kafka_error() == "_PURGE_QUEUE" ||
                r.status.kafka_error() == "_PURGE_INFLIGHT")
        << r.status.ToString();
  }
  EXPECT_EQ(producer->InFlight(), 0);
}

TEST(ProducerTest, ManualPollServesReports) {
  auto mc = StartCluster(1);
  ASSERT_TRUE(mc);
  ASSERT_TRUE(mc->CreateTopic("manual", 1).ok());
  ProducerOptions opts;
  opts.poll_thread = false;
  auto producer = MakeProducer(BaseConfig(*mc), opts);
  ASSERT_TRUE(producer);
  std::atomic<int> ok{0};
  ProduceRequest req;
  req.topic = "manual";
  req.value = "v";
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(producer->Send(req, [&](const DeliveryReport& r) { ok += r.status.ok(); }).ok());
  }
  EXPECT_TRUE(WaitFor([&] { return ok.load() == 10; }, [&] { producer->Poll(milliseconds(50)); }));
  EXPECT_TRUE(producer->Close().ok());
}

TEST(ProducerTest, UnknownTopicIsAPerRecordFailure) {
  auto mc = StartCluster(1);
  ASSERT_TRUE(mc);
  ClientConfig cfg = BaseConfig(*mc);
  cfg.Set("message.timeout.ms", "2000");
  auto producer = MakeProducer(cfg);
  ASSERT_TRUE(producer);
  ProduceRequest req;
  req.topic = "no-such-topic";
  req.partition = Partition(7);  // the mock auto-creates 4 partitions
  req.value = "x";
  DeliveryReport r = producer->Send(req).get();
  EXPECT_FALSE(r.status.ok());
  EXPECT_FALSE(r.status.kafka_error().empty()) << r.status.ToString();
}

}  // namespace
}  // namespace weir::kafka
