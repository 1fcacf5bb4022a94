// tests/kafka/kafka_test_util.h — helpers for the kafka layer's mock-cluster
// tests: client configs tuned for fast tests, and poll loops with deadlines
// (never sleeps) that wait for a condition.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "weir/kafka/client_config.h"
#include "weir/kafka/consumer.h"
#include "weir/kafka/mock_cluster.h"
#include "weir/kafka/producer.h"

namespace weir::kafka::testing {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Starts a mock cluster or fails the test.
inline std::unique_ptr<MockCluster> StartCluster(int brokers) {
  auto mc = MockCluster::Start(brokers);
  EXPECT_TRUE(mc.ok()) << mc.status().ToString();
  return mc.ok() ? std::move(mc).value() : nullptr;
}

// Fast reconnects, so a broker coming back up is noticed quickly.
inline ClientConfig BaseConfig(const MockCluster& mc) {
  ClientConfig c;
  c.Set("bootstrap.servers", mc.bootstrap_servers());
  c.Set("reconnect.backoff.ms", "50");
  c.Set("reconnect.backoff.max.ms", "500");
  // WEIR_RDKAFKA_DEBUG=broker,protocol,cgrp turns on librdkafka's debug logs.
  if (const char* dbg = std::getenv("WEIR_RDKAFKA_DEBUG")) {
    c.Set("debug", dbg);
    spdlog::set_level(spdlog::level::debug);
  }
  return c;
}

// A consumer config: short fetch waits (the mock holds empty fetches for the
// whole fetch.wait.max.ms) and a short session/heartbeat.
inline ClientConfig ConsumerConfig(const MockCluster& mc) {
  ClientConfig c = BaseConfig(mc);
  c.Set("fetch.wait.max.ms", "50");
  c.Set("session.timeout.ms", "6000");
  c.Set("heartbeat.interval.ms", "300");
  c.Set("topic.metadata.refresh.interval.ms", "1000");
  return c;
}

inline std::unique_ptr<Producer> MakeProducer(ClientConfig config, ProducerOptions options = {}) {
  config.SetDefault("retry.backoff.ms", "50");
  auto p = Producer::Create(config, options);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.ok() ? std::move(p).value() : nullptr;
}

inline std::unique_ptr<Consumer> MakeConsumer(const ClientConfig& config,
                                              ConsumerOptions options = {}) {
  auto c = Consumer::Create(config, options);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

// Produces |values| to |topic| [partition] and waits for every report.
inline void ProduceAll(Producer& producer, const std::string& topic, Partition partition,
                       const std::vector<std::string>& values) {
  std::vector<std::future<DeliveryReport>> futures;
  for (const std::string& v : values) {
    ProduceRequest req;
    req.topic = topic;
    req.partition = partition;
    req.value = v;
    futures.push_back(producer.Send(req));
  }
  for (auto& f : futures) {
    DeliveryReport r = f.get();
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  }
}

// Polls |consumer| until |done| holds for the records seen so far or the
// deadline passes. Returns every record polled.
inline std::vector<Record> PollUntil(Consumer& consumer,
                                     const std::function<bool(const std::vector<Record>&)>& done,
                                     milliseconds deadline = seconds(30)) {
  std::vector<Record> all;
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!done(all) && std::chrono::steady_clock::now() < end) {
    auto batch = consumer.Poll(milliseconds(100));
    EXPECT_TRUE(batch.ok()) << batch.status().ToString();
    if (!batch.ok()) break;
    for (Record& r : *batch) all.push_back(std::move(r));
  }
  return all;
}

inline std::vector<Record> PollCount(Consumer& consumer, size_t n,
                                     milliseconds deadline = seconds(30)) {
  return PollUntil(
      consumer, [n](const std::vector<Record>& rs) { return rs.size() >= n; }, deadline);
}

// Waits until |cond| holds, calling |step| (e.g. a Poll) between checks.
inline bool WaitFor(const std::function<bool()>& cond, const std::function<void()>& step,
                    milliseconds deadline = seconds(30)) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    step();
  }
  return true;
}

inline std::string ValueOf(const Record& r) {
  return r.value() ? std::string(*r.value()) : std::string("<null>");
}

}  // namespace weir::kafka::testing
