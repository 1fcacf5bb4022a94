// broker/request_handler.h — turns one decoded request into its response.
//
// Handle() is called by a connection thread for each request frame, in order
// (Kafka processes a connection's requests one at a time). It may block: a
// Fetch long-polls, a JoinGroup waits for its rebalance.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "broker/clock.h"
#include "broker/group_coordinator.h"
#include "broker/offsets_topic.h"
#include "broker/topic_manager.h"

namespace weir::observe {
class Counter;
class Registry;
}  // namespace weir::observe

namespace weir::broker {

struct HandlerOptions {
  std::string advertised_host;
  int32_t port = 0;
  int32_t node_id = 1;
  bool auto_create_topics = false;
  // Stamps the commits recorded in __consumer_offsets; null: the system clock.
  const Clock* clock = nullptr;
  // Counts requests and bytes (broker_requests_total{api}, ...); may be null.
  observe::Registry* metrics = nullptr;
};

struct ConnectionInfo {
  std::string peer;         // "127.0.0.1:54321"
  std::string client_host;  // "/127.0.0.1", as Kafka reports members' hosts
};

class RequestHandler {
 public:
  RequestHandler(TopicManager& topics, GroupCoordinator& groups, HandlerOptions options);

  enum class Outcome {
    kRespond,     // *response holds the whole frame body (header + message)
    kNoResponse,  // Produce with acks=0
    kClose,       // a protocol error: log it (done) and close the connection
  };
  // |frame| is one request without its size prefix; it is modified in place
  // (Produce batches get their offsets there before they are written). On
  // kRespond, *response holds the whole response frame, size prefix
  // included. Never throws.
  // With FlushPolicy::kAlways, Produce appends without flushing and lists
  // the logs in *sync_first: the caller must SyncData() each of them before
  // it sends the response (and must not send it if one fails).
  Outcome Handle(std::span<uint8_t> frame, const ConnectionInfo& conn, std::string* response,
                 std::vector<std::shared_ptr<PartitionLog>>* sync_first);

  // Releases requests parked in a long poll (shutdown).
  void Shutdown();

 private:
  TopicManager& topics_;
  GroupCoordinator& groups_;
  const HandlerOptions options_;
  OffsetsTopic offsets_topic_;
  // Indexed by API key; null without a registry (or for unsupported keys).
  std::array<observe::Counter*, 64> requests_{};
  observe::Counter* request_bytes_ = nullptr;
  observe::Counter* response_bytes_ = nullptr;
  std::atomic<bool> stopping_{false};
};

}  // namespace weir::broker
