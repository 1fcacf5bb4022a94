// weir/ops/lag.h — consumer lag with a health status per partition and group,
// evaluated by Burrow's rules (github.com/linkedin/Burrow, "Consumer Lag
// Evaluation Rules"), so that `weir lag` and a Burrow pointed at the same
// cluster agree.
//
// Inputs, as Burrow takes them:
//   - every offset commit, with its commit timestamp, read from
//     __consumer_offsets (Kafka's internal topic; weir's embedded broker
//     writes it too);
//   - the end offset (high watermark) of every partition, refreshed
//     periodically.
// Each commit becomes a sample {offset, timestamp, lag}, its lag taken
// against the newest end offset known when the commit is read. A partition
// keeps the last |intervals| samples (its window); a commit closer than
// |min_distance| to the previous sample replaces it.
//
// Partition status (first rule that matches):
//   OK      the current lag is 0;
//   STOP    no commit for longer than the window spans (now - last >
//           last - first), unless an end offset seen recently was <= the
//           last committed offset;
// and, only when every sample of the window has lag > 0:
//   REWIND  a committed offset went backwards;
//   STALL   the committed offset has not moved over the window;
//   WARN    the lag never decreased over the window;
// otherwise OK. The group status is the worst partition status, with STOP,
// STALL and REWIND reported as ERR.
//
// Differences from Burrow are deliberate and few: groups and partitions
// are listed sorted, and each partition carries an estimate of its lag in
// seconds (the current lag divided by the rate the group committed through
// over the window), which Burrow does not compute.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/kafka/client_config.h"
#include "weir/status.h"

namespace weir::ops {

// In Burrow's order of severity.
enum class LagStatus { kNotFound, kOk, kWarn, kErr, kStop, kStall, kRewind };
std::string_view LagStatusName(LagStatus s);  // "OK", "WARN", ...

struct LagRules {
  int intervals = 10;                                              // Burrow storage `intervals`
  std::chrono::milliseconds min_distance{1000};                    // Burrow storage `min-distance`
  std::chrono::milliseconds expire_group{7 * 24 * 3600 * 1000LL};  // `expire-group`
};

struct LagSample {
  int64_t offset = 0;
  int64_t timestamp_ms = 0;  // commit timestamp
  int64_t lag = 0;           // end offset known at the time - offset (>= 0)
};

struct PartitionLag {
  std::string topic;
  int32_t partition = 0;
  LagStatus status = LagStatus::kOk;
  int64_t committed = -1;   // offset of the newest commit
  int64_t end_offset = -1;  // newest end offset known; -1: none yet
  int64_t lag = 0;          // end_offset - committed (0 when ahead)
  // lag / (records committed per second over the window); nullopt when the
  // group committed nothing new over the window while lagging.
  std::optional<double> lag_seconds;
  double complete = 0;            // filled fraction of the window
  std::vector<LagSample> window;  // oldest first
};

struct GroupLag {
  std::string group;
  LagStatus status = LagStatus::kOk;  // OK, WARN or ERR
  double complete = 0;                // fraction of partitions with a full window
  int64_t total_lag = 0;
  // Every partition of each topic the group committed to (those without a
  // commit have an empty window, committed -1 and status OK), sorted by
  // topic and partition.
  std::vector<PartitionLag> partitions;
  const PartitionLag* MaxLag() const;  // null when there are no partitions
};

// Burrow's in-memory storage and evaluator, fed by hand (tests) or by a
// LagMonitor. Not thread-safe.
class LagEvaluator {
 public:
  explicit LagEvaluator(LagRules rules = {});
  ~LagEvaluator();
  LagEvaluator(LagEvaluator&&) noexcept;
  LagEvaluator& operator=(LagEvaluator&&) noexcept;

  // Records a new end offset for a partition of a topic with
  // |partition_count| partitions.
  void AddEndOffset(const std::string& topic, int32_t partition, int32_t partition_count,
                    int64_t end_offset);
  // Records a commit. Dropped (false), as Burrow drops it, when no end
  // offset of the partition is known yet or when it is older than
  // |expire_group| before |now_ms|.
  bool AddCommit(const std::string& group, const std::string& topic, int32_t partition,
                 int64_t offset, int64_t timestamp_ms, int64_t now_ms);

  // Groups with at least one sample, sorted.
  std::vector<std::string> Groups() const;
  // nullopt: no such group, or its last commit is older than expire_group.
  std::optional<GroupLag> Evaluate(const std::string& group, int64_t now_ms) const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Reads commits from __consumer_offsets and end offsets from the cluster
// into a LagEvaluator. Used from one thread.
class LagMonitor {
 public:
  static Result<std::unique_ptr<LagMonitor>> Create(kafka::ClientConfig config,
                                                    LagRules rules = {});
  ~LagMonitor();
  LagMonitor(const LagMonitor&) = delete;
  LagMonitor& operator=(const LagMonitor&) = delete;

  // Adds the current end offset of every partition of every topic.
  Status RefreshEndOffsets(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads __consumer_offsets from where the last call stopped (the first
  // call: from the beginning) up to its end offset at the time of the call.
  // Returns the number of commits read. kNotFound when the cluster has no
  // __consumer_offsets topic (no group has committed yet).
  Result<int64_t> ReadCommits(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  std::vector<std::string> Groups() const;
  std::optional<GroupLag> Evaluate(const std::string& group) const;  // at the wall clock now

 private:
  struct Impl;
  explicit LagMonitor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Decodes one __consumer_offsets record holding an offset commit (key
// version 0 or 1, value version 0, 1 or 3). nullopt for other records
// (group metadata, tombstones) and for malformed ones.
struct OffsetCommitRecord {
  std::string group;
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t commit_timestamp_ms = 0;
};
std::optional<OffsetCommitRecord> DecodeOffsetCommitRecord(std::string_view key,
                                                           std::string_view value);

}  // namespace weir::ops
