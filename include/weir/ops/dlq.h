// weir/ops/dlq.h — working on DLQ topics: scanning their dead letters,
// counting them, replaying them and purging them (`weir dlq`, docs/dlq.md).
//
// Reads take no consumer group and commit nothing: a DlqClient assigns the
// DLQ partitions itself and reads each from where it is asked to start up to
// the high watermark the partition had when it was added. A read therefore
// ends, even while dead letters keep arriving, and a replay into the DLQ
// topic itself never reads its own output. A partition whose last offsets
// hold no record (a transaction marker, a compacted tail) is given up after
// DlqClientOptions::idle_limit without any record, and the scan says so.
//
// The record format is consume::DeadLetter's (weir/consume/dead_letter.h):
// weir's own dead letters, Spring Kafka's and Kafka Connect's.
//
// Errors: failures of the cluster or the Kafka client are returned as the
// kafka layer reports them (with librdkafka's error name). Answers about
// the request itself are kept apart from them, so that a caller can tell
// "the cluster failed" from "there is nothing there" without reading
// messages: a missing topic is a partition count of -1, a record that is not
// a dead letter is listed in DlqScan::unreadable, a position that ReadAt()
// cannot serve is DlqLookup::status, and a purge weir will not make is
// kRefused. Messages name the topic, partition and offset.
//
// Threads: a DlqClient is used by one thread at a time. Everything else here
// is a plain value or a pure function, safe from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "weir/consume/dead_letter.h"
#include "weir/kafka/admin.h"
#include "weir/kafka/client_config.h"
#include "weir/record.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::kafka {
class Consumer;
}

namespace weir::ops {

// Which dead letters a scan keeps. Each non-empty set must contain the dead
// letter's value; the conditions are and-ed.
struct DlqFilter {
  std::set<ErrorClass> error_types;
  std::set<std::string> original_topics;
  std::set<std::string> groups;     // consumer groups; "" is a dead letter without one
  std::set<std::string> keys;       // a null key matches none of them
  std::optional<int64_t> since_ms;  // dead-lettered at or after (ms since the epoch)
  std::optional<int64_t> until_ms;  // dead-lettered at or before
  // Stop reading after this many matches (> 0); nullopt reads everything.
  std::optional<int64_t> limit;

  bool Matches(const consume::DeadLetter& dl) const;
};

// A dead letter read from a DLQ topic, with its place there.
struct DlqEntry {
  std::string dlq_topic;
  Partition partition;
  Offset offset = kOffsetInvalid;
  int64_t dlq_timestamp_ms = -1;  // the DLQ record's own timestamp; -1 when it has none
  consume::DeadLetter dead_letter;
};

// A DLQ record that is not a dead letter (it lacks or garbles the
// provenance headers).
struct DlqUnreadable {
  std::string dlq_topic;
  Partition partition;
  Offset offset = kOffsetInvalid;
  Status error;  // from consume::ParseDeadLetter(), naming topic, partition and offset
};

// How far a scan read one DLQ partition.
struct DlqPartitionRange {
  std::string topic;
  Partition partition;
  int64_t low = 0;          // the watermarks when the partition was added
  int64_t high = 0;         // the scan reads offsets below this
  int64_t first_read = -1;  // offsets of the first and last record read; -1 when none
  int64_t last_read = -1;
  // Not OK (kTimeout) when the scan gave up on the partition before |high|:
  // "gave up on orders.dlq [0] at offset 7: no record for 30 s before its
  // end offset 9".
  Status gave_up;
};

struct DlqScan {
  std::vector<DlqEntry> entries;  // the matching dead letters, in offset order per partition
  int64_t read = 0;               // records read, dead letters or not
  std::vector<DlqUnreadable> unreadable;
  std::vector<DlqPartitionRange> partitions;  // in the order they were added

  // "orders.dlq [0] 0-41, orders.dlq [1] none": the offsets read.
  std::string Covered() const;
};

// What DlqClient::ReadAt() found at one position.
struct DlqLookup {
  // OK when the record at the position was read and is a dead letter; then
  // |entry| holds it. Else why not, with the position as PARTITION:OFFSET
  // first ("0:99: orders.dlq [0] holds offsets 0-41"):
  //   kInvalidArgument  the partition or offset is outside the topic;
  //   kNotFound         no record at that offset (deleted or compacted), or
  //                     none read before the idle limit (see |gave_up|);
  //   kCorruption       the record is not a dead letter (ParseDeadLetter's
  //                     message).
  Status status;
  DlqEntry entry;
  Status gave_up;  // as DlqPartitionRange::gave_up
};

// Counts of dead letters, for `weir dlq stats` and for monitors that keep
// them while dead letters arrive.
struct DlqStats {
  int64_t total = 0;
  std::map<ErrorClass, int64_t> by_error_type;
  std::map<std::string, int64_t> by_original_topic;
  std::map<std::string, int64_t> by_group;  // "" for dead letters without a group
  // The time (ms since the epoch) of the oldest dead letter; -1 when none
  // has a time.
  int64_t oldest_ms = -1;

  // Counts |dl|. Its time is dl.timestamp_ms (when it was dead-lettered),
  // or |dlq_timestamp_ms|, the DLQ record's timestamp, when it has none.
  void Add(const consume::DeadLetter& dl, int64_t dlq_timestamp_ms);
};

DlqStats Summarize(const std::vector<DlqEntry>& entries);

// --- Replay -----------------------------------------------------------------

struct ReplayOptions {
  // Publish every dead letter to this topic (partitioned by key) instead of
  // its original topic and partition. Empty: the original.
  std::string to;
  // Skip dead letters already replayed this many times or more (their
  // consume::kReplayCountHeader).
  int max_replays = 3;
  // Decide everything, send nothing.
  bool dry_run = false;
};

enum class ReplayAction : uint8_t {
  kSkipped,      // replay_count >= max_replays
  kNoTarget,     // the target topic does not exist
  kWouldReplay,  // dry run
  kReplayed,     // sent and acknowledged
  kFailed,       // sent, but its delivery failed
};

struct ReplayOutcome {
  size_t entry = 0;  // the index of the dead letter in the entries given to Replay()
  ReplayAction action = ReplayAction::kSkipped;
  std::string topic;  // the target topic
  // kWouldReplay: the partition asked for (kAnyPartition: the partitioner's
  // choice); kReplayed: where the record landed, with |offset|.
  Partition partition = kAnyPartition;
  Offset offset = kOffsetInvalid;
  int replay_count = 0;     // the consume::kReplayCountHeader value sent (or that would be)
  size_t header_count = 0;  // how many headers were sent (or would be)
  Status error;             // kNoTarget and kFailed: why
};

struct ReplaySummary {
  std::vector<ReplayOutcome> outcomes;  // one per entry, in the entries' order
  int64_t replayed = 0;
  int64_t would_replay = 0;
  int64_t skipped = 0;
  int64_t failed = 0;  // kNoTarget and kFailed
  // The producer's Close(): a failure here does not undo acknowledged
  // deliveries.
  Status closed;
};

// The headers a replay sends: |original| with consume::kReplayCountHeader
// set to |count| in place of the first earlier one (any later ones are
// dropped), or appended when there was none.
std::vector<Header> ReplayHeaders(const std::vector<Header>& original, int count);

// --- Purge ------------------------------------------------------------------

// Records to delete in one partition.
struct PurgeStep {
  std::string topic;
  Partition partition;
  // Delete the offsets below this one; kOffsetEnd deletes everything up to
  // the partition's end when the purge runs.
  Offset before = kOffsetEnd;
  int64_t low = 0;  // the watermarks when planned
  int64_t high = 0;

  // The offset the low watermark moves to, as planned (|high| for kOffsetEnd).
  int64_t PlannedLow() const;
  // True when the plan deletes nothing here (|before| is at or below |low|).
  bool Empty() const { return PlannedLow() <= low; }
};

// A partition of a DLQ topic and an offset in it ("0:42" on the command line).
struct DlqPosition {
  Partition partition;
  Offset offset;
};

// --- The client ---------------------------------------------------------------

struct DlqClientOptions {
  // For metadata, watermark and DeleteRecords requests.
  std::chrono::milliseconds request_timeout{10000};
  // How long a read waits without any record before it gives up on the
  // partitions it has not read to their end.
  std::chrono::milliseconds idle_limit{30000};
};

// An admin client on one cluster, a consumer without a group (made by the
// first read), and the cluster's metadata (fetched on first use and kept for
// the client's life). Owns its clients and closes them when destroyed.
class DlqClient {
 public:
  // Fails (kInvalidArgument) when |config| cannot make a Kafka client; no
  // request is sent yet. The consumer is made from the same |config| by the
  // first AddTopic() or ReadAt(), which return its failure.
  static Result<std::unique_ptr<DlqClient>> Open(const kafka::ClientConfig& config,
                                                 const DlqClientOptions& options = {});
  ~DlqClient();
  DlqClient(const DlqClient&) = delete;
  DlqClient& operator=(const DlqClient&) = delete;

  // The number of partitions of |topic|: -1 when the cluster does not know
  // it, 0 when its metadata lists none (an error for that topic). Fails only
  // when the metadata cannot be fetched.
  Result<int32_t> PartitionCount(const std::string& topic);

  // Adds every partition of |topic| to the next Scan(), from its low
  // watermark, noting its high watermark now. kNotFound "DLQ topic X does
  // not exist on the cluster" when it has no partitions.
  Status AddTopic(const std::string& topic);

  // Reads the partitions added since the last Scan() (which are then
  // forgotten) below their noted high watermarks, keeping the dead letters
  // that match |filter|, until every partition is read, the filter's limit
  // is reached, or the idle limit gives up on what is left. Fails only on
  // errors of the cluster or the client.
  Result<DlqScan> Scan(const DlqFilter& filter);

  // Reads the record at |offset| of |topic| [|partition|] (independently of
  // AddTopic and Scan). The result fails only on errors of the cluster or
  // the client; what was found is DlqLookup::status.
  Result<DlqLookup> ReadAt(const std::string& topic, Partition partition, Offset offset);

  // Re-publishes |entries| (the original key, value bytes and headers, with
  // kReplayCountHeader raised by one) to their original topic and partition,
  // or to options.to, and waits for every delivery. A dead letter whose
  // original partition is beyond its topic's partitions goes where the
  // partitioner puts it. Fails with kNotFound when options.to does not
  // exist, kInvalidArgument when no producer can be made from the client's
  // config, or on a metadata error; every other outcome is per entry.
  Result<ReplaySummary> Replay(const std::vector<DlqEntry>& entries, const ReplayOptions& options);

  // Plans to delete the records of |topic| below |before| (at most one
  // position per partition), or, when |before| is empty, all of its records.
  // kNotFound when the topic does not exist; kRefused, naming the position
  // as PARTITION:OFFSET, when a partition is given twice or does not exist,
  // or its offset is negative or beyond the partition's end ("0:99: beyond
  // the end of orders.dlq [0] (its next offset is 4)"). Other failures are
  // the cluster's (metadata, watermarks).
  Result<std::vector<PurgeStep>> PlanPurge(const std::string& topic,
                                           const std::vector<DlqPosition>& before);

  // Carries out |steps| with one DeleteRecords request. Failures of single
  // partitions are in their results.
  Result<std::vector<kafka::DeleteRecordsResult>> Purge(const std::vector<PurgeStep>& steps);

 private:
  DlqClient(std::unique_ptr<kafka::Admin> admin, kafka::ClientConfig config,
            const DlqClientOptions& options);
  Result<const kafka::TopicInfo*> FindTopic(const std::string& topic);
  Result<kafka::Consumer*> GetConsumer();

  std::unique_ptr<kafka::Admin> admin_;
  std::unique_ptr<kafka::Consumer> consumer_;  // made by GetConsumer()
  kafka::ClientConfig config_;                 // for the consumer and Replay()'s producer
  DlqClientOptions options_;
  std::optional<kafka::ClusterMetadata> metadata_;  // fetched on first use
  std::vector<DlqPartitionRange> added_;            // for the next Scan()
};

// Opens a client on |config|, adds |topics| and scans them with |filter|.
Result<DlqScan> ScanDlq(const kafka::ClientConfig& config, const std::vector<std::string>& topics,
                        const DlqFilter& filter, const DlqClientOptions& options = {});

}  // namespace weir::ops
