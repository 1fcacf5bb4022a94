// weir/kafka/admin.h — cluster administration over librdkafka's Admin API.
//
// Every call is synchronous with a timeout and returns a Result; per-topic or
// per-group failures are reported per item where the API allows it. Topic
// configs are changed by merging the requested values into the topic's
// current dynamic configs (librdkafka 2.0.2 has only the non-incremental
// AlterConfigs, which replaces the whole set): configs weir does not manage
// are preserved.
//
// Threads: an Admin may be used from several threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/kafka/client_config.h"
#include "weir/record.h"
#include "weir/status.h"

namespace weir::kafka {

struct BrokerInfo {
  int32_t id = -1;
  std::string host;
  int port = 0;
};

struct PartitionInfo {
  Partition id;
  int32_t leader = -1;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
  Status error;
};

struct TopicInfo {
  std::string name;
  std::vector<PartitionInfo> partitions;
  Status error;
  // The replication factor of partition 0, or 0 when unknown.
  int ReplicationFactor() const;
};

struct ClusterMetadata {
  std::vector<BrokerInfo> brokers;
  std::vector<TopicInfo> topics;  // internal topics (leading "__") excluded unless asked for
  int32_t controller_id = -1;
  const TopicInfo* FindTopic(std::string_view name) const;
};

enum class ConfigSource : uint8_t { kUnknown, kDefault, kDynamicTopic, kDynamicBroker, kStatic };

struct ConfigEntry {
  std::string value;
  ConfigSource source = ConfigSource::kUnknown;
  bool read_only = false;
  bool sensitive = false;
};

struct NewTopic {
  std::string name;
  int32_t partitions = 1;
  int16_t replication = -1;  // -1 = broker default
  std::map<std::string, std::string> configs;
};

struct GroupListing {
  std::string group_id;
  std::string state;  // "Stable", "Empty", "PreparingRebalance", ...
  bool simple = false;
};

struct GroupMember {
  std::string member_id;
  std::string client_id;
  std::string host;
  std::vector<TopicPartition> assignment;
};

struct GroupDescription {
  std::string group_id;
  std::string state;
  std::string protocol;  // the assignor in use
  int32_t coordinator_id = -1;
  std::vector<GroupMember> members;
  Status error;
};

// Per-item outcome of a batch admin call.
struct ItemResult {
  std::string name;
  Status status;
};

// The outcome of DeleteRecords for one partition.
struct DeleteRecordsResult {
  TopicPartition partition;
  // The partition's low watermark after the deletion: its first offset still
  // readable. kOffsetInvalid when |status| is not OK.
  Offset low_watermark = kOffsetInvalid;
  Status status;  // names the topic and partition when not OK
};

class Admin {
 public:
  static Result<std::unique_ptr<Admin>> Create(ClientConfig config);
  ~Admin();
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  // |include_internal|: also list Kafka's internal topics (__consumer_offsets).
  Result<ClusterMetadata> Metadata(std::chrono::milliseconds timeout,
                                   bool include_internal = false);

  Result<std::vector<ItemResult>> CreateTopics(const std::vector<NewTopic>& topics,
                                               std::chrono::milliseconds timeout,
                                               bool validate_only = false);
  Result<std::vector<ItemResult>> DeleteTopics(const std::vector<std::string>& topics,
                                               std::chrono::milliseconds timeout);
  // Grows |topic| to |total| partitions.
  Result<std::vector<ItemResult>> CreatePartitions(
      const std::vector<std::pair<std::string, int32_t>>& topic_totals,
      std::chrono::milliseconds timeout);

  Result<std::map<std::string, ConfigEntry>> DescribeTopicConfigs(
      const std::string& topic, std::chrono::milliseconds timeout);
  // Sets |changes| on |topic|, keeping its other dynamic configs.
  Status AlterTopicConfigs(const std::string& topic,
                           const std::map<std::string, std::string>& changes,
                           std::chrono::milliseconds timeout);

  Result<std::vector<GroupListing>> ListGroups(std::chrono::milliseconds timeout);
  Result<std::vector<GroupDescription>> DescribeGroups(const std::vector<std::string>& groups,
                                                       std::chrono::milliseconds timeout);
  // The group's committed offsets; all partitions it has committed when
  // |partitions| is empty.
  Result<std::vector<TopicPartitionOffset>> CommittedOffsets(
      const std::string& group, const std::vector<TopicPartition>& partitions,
      std::chrono::milliseconds timeout);

  // Deletes, in each partition of |before|, every record below the given
  // offset (exclusive); kOffsetEnd deletes up to the high watermark. One
  // result per partition, sorted by topic and partition: a partition that
  // does not exist, or an offset beyond its high watermark
  // (OFFSET_OUT_OF_RANGE), fails alone. A failure of the whole request (the
  // cluster unreachable, a partition named twice) is the returned Status.
  // Needs a broker with DeleteRecords (Kafka 0.11+, the embedded broker);
  // librdkafka 2.0.2's mock cluster lacks it.
  Result<std::vector<DeleteRecordsResult>> DeleteRecords(
      const std::vector<TopicPartitionOffset>& before, std::chrono::milliseconds timeout);

  // Low and high watermarks of one partition.
  Result<std::pair<Offset, Offset>> ListOffsets(const TopicPartition& tp,
                                                std::chrono::milliseconds timeout);

  void* native_handle() const;

 private:
  struct Impl;
  explicit Admin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::kafka
