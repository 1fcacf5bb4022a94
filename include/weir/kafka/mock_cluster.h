// weir/kafka/mock_cluster.h — librdkafka's in-process mock cluster, for
// fault-injection tests and (until the embedded broker lands) the demo job.
//
// The mock cluster is memory-only and keeps at most 5 MiB per partition; it
// has no topic admin APIs, no retention, and its first group join waits 3 s.
// It listens on loopback, so other processes (kcat, python clients) on this
// machine can connect to bootstrap_servers().
//
// Threads: all methods are safe from any thread (librdkafka serialises them
// onto the mock cluster's own thread).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weir/status.h"

namespace weir::kafka {

class MockCluster {
 public:
  // Starts a cluster of |brokers| brokers (ids 1..brokers).
  static Result<std::unique_ptr<MockCluster>> Start(int brokers = 1);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  // "127.0.0.1:port,..." for clients.
  std::string bootstrap_servers() const;
  int broker_count() const;

  Status CreateTopic(const std::string& topic, int partitions, int replication = 1);
  Status SetBrokerDown(int32_t broker_id);
  Status SetBrokerUp(int32_t broker_id);
  Status SetBrokerRtt(int32_t broker_id, int rtt_ms);
  // Fails the next |errors.size()| requests of Kafka API |api_key| with the
  // given librdkafka error codes (rd_kafka_resp_err_t values).
  void PushRequestErrors(int16_t api_key, const std::vector<int>& errors);
  void ClearRequestErrors(int16_t api_key);
  Status SetPartitionLeader(const std::string& topic, int32_t partition, int32_t broker_id);
  Status SetGroupCoordinator(const std::string& group, int32_t broker_id);

  void* native_handle() const;  // rd_kafka_mock_cluster_t*

 private:
  MockCluster() = default;
  void* rk_ = nullptr;        // host rd_kafka_t*
  void* mcluster_ = nullptr;  // rd_kafka_mock_cluster_t*
  int brokers_ = 0;
};

// Kafka API keys used with PushRequestErrors.
inline constexpr int16_t kApiProduce = 0;
inline constexpr int16_t kApiFetch = 1;
inline constexpr int16_t kApiListOffsets = 2;
inline constexpr int16_t kApiMetadata = 3;
inline constexpr int16_t kApiOffsetCommit = 8;
inline constexpr int16_t kApiOffsetFetch = 9;
inline constexpr int16_t kApiFindCoordinator = 10;
inline constexpr int16_t kApiJoinGroup = 11;
inline constexpr int16_t kApiHeartbeat = 12;
inline constexpr int16_t kApiSyncGroup = 14;
inline constexpr int16_t kApiInitProducerId = 22;

}  // namespace weir::kafka
