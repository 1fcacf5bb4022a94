// broker/offsets_topic.h — the __consumer_offsets change feed.
//
// A Kafka broker keeps committed offsets in the internal topic
// __consumer_offsets, and lag monitors (Burrow, `weir lag`) read that topic to
// see every commit with its timestamp. weir's broker keeps offsets in
// DATA/groups/ (that is what OffsetFetch answers from) and, in addition,
// appends each accepted commit to __consumer_offsets in Kafka's own record
// format, so those tools work unchanged:
//
//   key   (version 1): int16 1 | string group | string topic | int32 partition
//   value (version 3): int16 3 | int64 offset | int32 leader epoch |
//                      string metadata | int64 commit timestamp (ms)
//
// The topic is created on first use (a commit, or a Metadata request naming
// it), with one partition (the feed is not how coordinators are found here)
// and time retention instead of compaction; clients cannot produce to it.
// Group-metadata records (key version 2) and tombstones are not written.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "broker/clock.h"
#include "broker/group_coordinator.h"
#include "broker/topic_manager.h"

namespace weir::broker {

inline constexpr const char* kOffsetsTopic = "__consumer_offsets";

// Kafka's internal topics: clients cannot produce to them, and Metadata marks
// them is_internal.
bool IsInternalTopic(const std::string& name);

class OffsetsTopic {
 public:
  OffsetsTopic(TopicManager& topics, const Clock& clock) : topics_(topics), clock_(clock) {}

  // Creates the topic when it does not exist yet; false (logged) on failure.
  bool Ensure();

  // Appends one record per entry of |offsets| (commits the coordinator has
  // accepted). Failures are logged, never returned: the commit itself is
  // already durable in DATA/groups/.
  void Append(const std::string& group, const std::vector<CommitOffset>& offsets);

  // The record key and value for one commit (exposed for tests).
  static std::string EncodeKey(const std::string& group, const std::string& topic,
                               int32_t partition);
  static std::string EncodeValue(const CommitOffset& offset, int64_t commit_timestamp_ms);

 private:
  TopicManager& topics_;
  const Clock& clock_;
  std::mutex mu_;  // one append at a time keeps commit order in the feed
};

}  // namespace weir::broker
