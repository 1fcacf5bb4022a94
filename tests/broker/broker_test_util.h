// tests/broker/broker_test_util.h — an embedded broker for a test, and
// clients configured for it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "broker/clock.h"
#include "support/test_support.h"
#include "weir/broker/broker.h"
#include "weir/kafka/admin.h"
#include "weir/kafka/client_config.h"
#include "weir/kafka/producer.h"

namespace weir::broker::testing {

// A broker on a fresh data folder and a free loopback port.
class TestBroker {
 public:
  explicit TestBroker(BrokerOptions options = {}) {
    options_ = std::move(options);
    if (options_.data_dir.empty()) options_.data_dir = dir_.path() + "/data";
    options_.listen = "127.0.0.1:" + std::to_string(port_);
    Start();
  }
  void Start() {
    auto b = Broker::Start(options_);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
    port_ = broker_->port();
    options_.listen = "127.0.0.1:" + std::to_string(port_);  // a restart keeps the port
  }
  void Stop() { broker_.reset(); }
  void Restart() {
    Stop();
    Start();
  }
  Broker& broker() { return *broker_; }
  std::string bootstrap() const { return "127.0.0.1:" + std::to_string(port_); }
  const BrokerOptions& options() const { return options_; }
  const weir::testing::TempDir& dir() const { return dir_; }

  kafka::ClientConfig Config() const {
    kafka::ClientConfig c;
    c.Set("bootstrap.servers", bootstrap());
    c.Set("reconnect.backoff.ms", "20");
    c.Set("reconnect.backoff.max.ms", "200");
    return c;
  }
  kafka::ClientConfig ConsumerConfig() const {
    kafka::ClientConfig c = Config();
    c.Set("fetch.wait.max.ms", "100");
    c.Set("session.timeout.ms", "6000");
    c.Set("heartbeat.interval.ms", "200");
    c.Set("topic.metadata.refresh.interval.ms", "500");
    c.Set("auto.offset.reset", "earliest");
    return c;
  }
  std::unique_ptr<kafka::Admin> MakeAdmin() const {
    auto a = kafka::Admin::Create(Config());
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? std::move(a).value() : nullptr;
  }
  void CreateTopic(const std::string& name, int32_t partitions,
                   std::map<std::string, std::string> configs = {}) {
    auto admin = MakeAdmin();
    ASSERT_TRUE(admin);
    auto r =
        admin->CreateTopics({{name, partitions, -1, std::move(configs)}}, std::chrono::seconds(10));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE((*r)[0].status.ok()) << (*r)[0].status.ToString();
  }
  // Produces |count| records (value "v"), record i to partition
  // i % |partitions|, and waits until all are acknowledged.
  void ProduceSpread(const std::string& topic, int32_t partitions, int count) {
    auto producer = kafka::Producer::Create(Config(), {});
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    for (int i = 0; i < count; ++i) {
      kafka::ProduceRequest req;
      req.topic = topic;
      req.partition = Partition(i % partitions);
      req.value = "v";
      ASSERT_TRUE((*producer)->Send(req, [](const kafka::DeliveryReport&) {}).ok());
    }
    ASSERT_TRUE((*producer)->Flush(std::chrono::seconds(30)).ok());
  }

 private:
  weir::testing::TempDir dir_;
  BrokerOptions options_;
  std::unique_ptr<Broker> broker_;
  uint16_t port_ = 0;
};

}  // namespace weir::broker::testing
