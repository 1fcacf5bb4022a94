// weir/kafka/consumer.h — a Kafka consumer with manual commits only.
//
// Auto-commit and the automatic offset store are always off: an offset is
// committed only when the owner calls Commit(). Both rebalance protocols are
// handled: with the eager protocol (range, roundrobin) the whole assignment
// is revoked and re-assigned; with the cooperative one (cooperative-sticky)
// only the moved partitions are, through incremental assign/unassign.
// On revocation the RebalanceListener runs *before* the partitions are given
// up, so it can commit their progress with a still-valid generation. On loss
// (session timeout) it runs with lost=true: committing then is pointless.
//
// Threads: a Consumer is used from one thread (the "poll thread"); every
// method except Wakeup() must be called from it. RebalanceListener callbacks
// run on that thread, inside Poll(). Exceptions never reach librdkafka: one
// thrown by a listener is caught and logged.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "weir/kafka/client_config.h"
#include "weir/record.h"
#include "weir/status.h"

namespace weir::kafka {

enum class RebalanceProtocol : uint8_t { kNone, kEager, kCooperative };

class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // Partitions just added to the assignment (after they are assigned).
  virtual void OnAssigned(const std::vector<TopicPartition>& partitions) = 0;
  // Partitions about to be removed (before they are unassigned). |lost| is
  // true when the group lost them (commits would fail).
  virtual void OnRevoked(const std::vector<TopicPartition>& partitions, bool lost) = 0;
};

struct ConsumerOptions {
  // group.id; empty for a consumer used only with Assign().
  std::string group_id;
  // Must outlive the Consumer; may be null.
  RebalanceListener* listener = nullptr;
};

struct Watermarks {
  Offset low = kOffsetInvalid;   // first offset still in the log
  Offset high = kOffsetInvalid;  // next offset to be written
};

class Consumer {
 public:
  // Defaults (overridable): auto.offset.reset=earliest,
  // partition.assignment.strategy=range,roundrobin.
  // Forced: enable.auto.commit=false, enable.auto.offset.store=false.
  static Result<std::unique_ptr<Consumer>> Create(ClientConfig config, ConsumerOptions options);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  Status Subscribe(const std::vector<std::string>& topics);
  // Assigns explicit partitions and start offsets, without group management
  // (the logical offsets kOffsetBeginning/kOffsetEnd/kOffsetStored work).
  Status Assign(const std::vector<TopicPartitionOffset>& partitions);

  // Waits up to |timeout| for records and returns at most |max_records|.
  // Rebalances are served inside this call. Consumer errors that are not
  // fatal (a broker going away) are logged and retried by librdkafka; a
  // fatal one is returned.
  // Records returned are zero-copy views of librdkafka messages: destroy
  // them (or keep Clone()s) before destroying the Consumer.
  Result<std::vector<Record>> Poll(std::chrono::milliseconds timeout, size_t max_records = 500);

  // Commits |offsets| (each the *next* offset to consume) synchronously.
  Status Commit(const std::vector<TopicPartitionOffset>& offsets);
  // Commits asynchronously; failures are logged.
  Status CommitAsync(const std::vector<TopicPartitionOffset>& offsets);

  Status Pause(const std::vector<TopicPartition>& partitions);
  Status Resume(const std::vector<TopicPartition>& partitions);
  // Moves the fetch position of an assigned partition.
  Status Seek(const TopicPartition& tp, Offset offset, std::chrono::milliseconds timeout);

  // For each partition, the earliest offset whose timestamp is >= the given
  // one (TopicPartitionOffset::offset carries the timestamp in ms on input).
  // Offset is kOffsetEnd when no such record exists. Needs ListOffsets v1+.
  Result<std::vector<TopicPartitionOffset>> OffsetsForTimes(
      const std::vector<TopicPartitionOffset>& timestamps, std::chrono::milliseconds timeout);
  // The group's committed offsets for |partitions|.
  Result<std::vector<TopicPartitionOffset>> Committed(const std::vector<TopicPartition>& partitions,
                                                      std::chrono::milliseconds timeout);
  Result<Watermarks> QueryWatermarks(const TopicPartition& tp, std::chrono::milliseconds timeout);
  // The watermarks librdkafka last learned from fetch responses for an
  // assigned partition, without a request; kOffsetInvalid where unknown.
  Watermarks CachedWatermarks(const TopicPartition& tp) const;

  Result<std::vector<TopicPartition>> Assignment() const;
  RebalanceProtocol rebalance_protocol() const;
  // The member id in the group ("" before joining).
  std::string MemberId() const;

  // Makes a blocked Poll() return early. Safe from any thread.
  void Wakeup();
  // Leaves the group (revoking with the listener first) and closes.
  Status Close();

  void* native_handle() const;

 private:
  struct Impl;
  explicit Consumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::kafka
