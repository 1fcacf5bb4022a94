// broker/topic_manager.h — the broker's topics: their metadata and configs on
// disk, and one PartitionLog per partition.
//
// DATA/meta.json holds the cluster id, the next producer-id block and every
// topic with its partition count and its dynamic (explicitly set) configs.
// It is replaced atomically (write a temporary file, fsync, rename, fsync the
// folder) on every change, before the change is acknowledged.
// DATA/topics/<topic>-<partition>/ holds each partition's log.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "broker/clock.h"
#include "broker/error_codes.h"
#include "broker/partition_log.h"
#include "weir/status.h"

namespace weir::broker {

// Broker-wide defaults for topic configs (Kafka's log.* broker settings).
struct TopicDefaults {
  int64_t retention_ms = 7LL * 24 * 3600 * 1000;  // log.retention.ms
  int64_t retention_bytes = -1;                   // log.retention.bytes
  int64_t segment_bytes = 1LL << 30;              // log.segment.bytes
  int64_t segment_ms = 7LL * 24 * 3600 * 1000;    // log.roll.ms
  int32_t max_message_bytes = 1048588;            // message.max.bytes
  int32_t num_partitions = 1;                     // num.partitions (auto-create, -1 requests)
  FlushPolicy flush = FlushPolicy::kOnWrite;
};

struct Topic {
  std::string name;
  // Guarded by TopicManager's lock; a Topic found by Find() keeps its logs
  // alive after a concurrent delete (reads of a deleted topic still finish).
  std::vector<std::shared_ptr<PartitionLog>> partitions;
  std::map<std::string, std::string> configs;  // dynamic configs only
};

struct ConfigValue {
  std::string name;
  std::string value;
  bool is_default = true;  // not set on the topic
  bool read_only = false;
};

// The outcome of an admin operation: an error code and, when it failed, a
// message for the client (CreateTopics v1+ carries it) and the broker log.
struct AdminResult {
  ErrorCode error = ErrorCode::kNone;
  std::string message;
  bool ok() const { return error == ErrorCode::kNone; }
};

class TopicManager {
 public:
  // Loads DATA/meta.json (absent: a new cluster) and opens every partition
  // log, running their recovery.
  static Result<std::unique_ptr<TopicManager>> Open(std::filesystem::path data_dir,
                                                    TopicDefaults defaults, const Clock& clock);
  ~TopicManager();

  const std::string& cluster_id() const { return cluster_id_; }
  FlushPolicy flush_policy() const { return defaults_.flush; }

  std::shared_ptr<const Topic> Find(const std::string& name) const;
  std::vector<std::shared_ptr<const Topic>> List() const;
  // The partition's log, or nullptr when the topic or partition does not exist.
  std::shared_ptr<PartitionLog> Partition(const std::string& topic, int32_t partition) const;

  // Topic names: 1-249 characters of [a-zA-Z0-9._-], not "." or "..".
  static AdminResult ValidateTopicName(const std::string& name);
  // Checks one config name and value (known name, type, range, supported).
  static AdminResult ValidateConfig(const std::string& name, const std::string& value);

  // partitions -1: the default. replication_factor must be -1 or 1.
  AdminResult CreateTopic(const std::string& name, int32_t partitions, int16_t replication_factor,
                          const std::map<std::string, std::string>& configs, bool validate_only);
  AdminResult DeleteTopic(const std::string& name);
  // Grows the topic to |count| partitions (never shrinks).
  AdminResult CreatePartitions(const std::string& name, int32_t count, bool validate_only);
  // Replaces the topic's dynamic configs with |configs| (AlterConfigs semantics).
  AdminResult AlterConfigs(const std::string& name,
                           const std::map<std::string, std::string>& configs, bool validate_only);
  // Every topic config with its effective value; nullopt for an unknown topic.
  std::optional<std::vector<ConfigValue>> DescribeConfigs(const std::string& name) const;
  // The broker's own settings, for a BROKER DescribeConfigs.
  std::vector<ConfigValue> BrokerConfigs() const;

  // A new producer id for InitProducerId, never reused across restarts.
  Result<int64_t> NextProducerId();

  // Runs retention (and age-based segment roll) on every partition.
  int ApplyRetention();

  // Blocks until a record is appended anywhere after |seen| (see
  // append_sequence()), |deadline| passes or Wake() is called.
  void WaitForAppend(uint64_t seen, std::chrono::steady_clock::time_point deadline);
  uint64_t append_sequence() const { return append_sequence_.load(); }
  // Called after every successful append.
  void NotifyAppend();
  // Releases every WaitForAppend (shutdown).
  void Wake();

  void Close();

 private:
  TopicManager(std::filesystem::path data_dir, TopicDefaults defaults, const Clock& clock);
  LogConfig LogConfigFor(const std::map<std::string, std::string>& configs) const;
  Status SaveMetaLocked();
  std::filesystem::path PartitionDir(const std::string& topic, int32_t partition) const;

  const std::filesystem::path data_dir_;
  const TopicDefaults defaults_;
  const Clock& clock_;
  std::string cluster_id_;

  mutable std::shared_mutex mu_;
  std::map<std::string, std::shared_ptr<Topic>> topics_;  // GUARDED_BY(mu_)
  int64_t next_producer_id_ = 1000;                       // GUARDED_BY(mu_)
  int64_t producer_id_limit_ = 0;                         // GUARDED_BY(mu_): persisted block end
  uint64_t delete_counter_ = 0;  // GUARDED_BY(mu_): unique names for folders being deleted

  std::atomic<uint64_t> append_sequence_{0};
  std::mutex wait_mu_;
  std::condition_variable append_cv_;
  bool woken_ = false;  // GUARDED_BY(wait_mu_)
};

}  // namespace weir::broker
