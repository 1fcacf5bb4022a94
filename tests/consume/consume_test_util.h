// Helpers of the consumer runtime tests: a topology of JSON "Order" events,
// producing them, and a recorder that handlers write to and tests wait on.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "publish/publish_test_util.h"
#include "weir/consume/runtime.h"
#include "weir/kafka/producer.h"

namespace weir::consume::testing {

using std::chrono::milliseconds;
using std::chrono::seconds;

inline constexpr const char* kOrderSchema = R"({
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "required": ["id", "key", "seq"],
  "properties": {
    "id": {"type": "string"}, "key": {"type": "string"}, "seq": {"type": "integer"},
    "fail": {"type": "string"}
  }
})";

// weir.yaml with topics orders (3 partitions), orders.legacy (2), dlq (1),
// the event type Order (routed to orders, mirrored to orders.legacy) and the
// consumer group text |groups| (YAML under consumer_groups:).
inline std::string OrdersYaml(const std::string& groups) {
  return fmt::format(R"(
topics:
  orders: {{partitions: 3, key: key}}
  orders.legacy: {{partitions: 2, key: key}}
  dlq: {{partitions: 1}}
event_types:
  Order: {{schema: order.schema.json, topic: orders, mirror_topic: orders.legacy, key: key, id: id}}
consumer_groups:
{}
)",
                     groups);
}

inline std::string Order(const std::string& key, int seq, const std::string& fail = "") {
  nlohmann::json j = {{"id", fmt::format("{}-{}", key, seq)}, {"key", key}, {"seq", seq}};
  if (!fail.empty()) j["fail"] = fail;
  return j.dump();
}

// Produces |value| with |key| to |topic| and waits for the acknowledgement.
inline void ProduceOne(kafka::Producer& p, const std::string& topic, std::optional<std::string> key,
                       std::optional<std::string> value, std::vector<HeaderView> headers = {},
                       Partition partition = kAnyPartition) {
  kafka::ProduceRequest req;
  req.topic = topic;
  req.partition = partition;
  if (key) req.key = *key;
  if (value) req.value = *value;
  req.headers = headers;
  auto f = p.Send(req);
  kafka::DeliveryReport rep = f.get();
  ASSERT_TRUE(rep.status.ok()) << rep.status.ToString();
}

// Produces (key, value) pairs to |topic| and waits for every acknowledgement.
inline void ProduceAll(kafka::Producer& p, const std::string& topic,
                       const std::vector<std::pair<std::string, std::string>>& records) {
  std::vector<std::future<kafka::DeliveryReport>> acks;
  acks.reserve(records.size());
  for (const auto& [key, value] : records) {
    kafka::ProduceRequest req;
    req.topic = topic;
    req.key = key;
    req.value = value;
    acks.push_back(p.Send(req));
  }
  for (auto& f : acks) {
    kafka::DeliveryReport rep = f.get();
    ASSERT_TRUE(rep.status.ok()) << rep.status.ToString();
  }
}

struct Seen {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
  std::string key;
  nlohmann::json event;
  int attempt = 0;
};

// What handlers saw; tests wait on it.
class Recorder {
 public:
  void Add(const Message& m) {
    Seen s;
    s.topic = std::string(m.record().topic());
    s.partition = m.record().partition().value();
    s.offset = m.record().offset().value();
    s.key = std::string(m.record().key().value_or(""));
    s.event = nlohmann::json::parse(m.json());
    s.attempt = m.attempt();
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back(std::move(s));
    cv_.notify_all();
  }
  // Waits until |pred| holds over what was seen, up to |timeout|.
  bool WaitFor(const std::function<bool(const std::vector<Seen>&)>& pred,
               milliseconds timeout = seconds(60)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return pred(seen_); });
  }
  bool WaitCount(size_t n, milliseconds timeout = seconds(60)) {
    return WaitFor([n](const std::vector<Seen>& s) { return s.size() >= n; }, timeout);
  }
  std::vector<Seen> seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }
  void Notify() { cv_.notify_all(); }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Seen> seen_;
};

// A handler that records every message in |rec| and succeeds.
inline Handler RecordingHandler(Recorder& rec) {
  return [&rec](const Message& m) {
    rec.Add(m);
    return HandlerResult::Ok();
  };
}

// Waits, up to |timeout|, until |pred| holds for the runtime's stats. The
// runtime has no stats callback, so this polls every few milliseconds.
inline bool WaitForStats(const GroupRuntime& rt, const std::function<bool(const GroupStats&)>& pred,
                         milliseconds timeout = seconds(60)) {
  std::mutex mu;
  std::condition_variable cv;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock<std::mutex> lock(mu);
  while (!pred(rt.Stats())) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    cv.wait_for(lock, milliseconds(5));
  }
  return true;
}

}  // namespace weir::consume::testing
