// broker/group_coordinator.h — consumer groups: membership, rebalances,
// committed offsets.
//
// Implements the classic (pre-KIP-848) group protocol as a Kafka broker does,
// for a single node that coordinates every group. Assignors run in the
// clients (range, roundrobin, cooperative-sticky all just exchange opaque
// metadata/assignment bytes), so the coordinator never parses them.
//
// States: Empty -> PreparingRebalance -> CompletingRebalance -> Stable, and
// back to PreparingRebalance when a member joins, leaves, changes its
// metadata or misses its session timeout. Join and Sync block the calling
// (connection) thread until their response is ready, as a Kafka broker parks
// the request; Shutdown() releases them with kCoordinatorNotAvailable.
//
// Committed offsets are durable: they live in DATA/groups/ and are reloaded
// by Open(). Group membership is not persisted (members rejoin after a
// restart, as they do after a coordinator move in Kafka).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/clock.h"
#include "broker/error_codes.h"
#include "weir/status.h"

namespace weir::broker {

struct GroupOptions {
  // group.initial.rebalance.delay.ms: how long a new (Empty) group waits for
  // more members before completing its first rebalance. Kafka's default is
  // 3000; weir's is 0 (a single-node dev broker should not make every
  // first join wait).
  int64_t initial_rebalance_delay_ms = 0;
  int32_t min_session_timeout_ms = 1000;     // group.min.session.timeout.ms (Kafka: 6000)
  int32_t max_session_timeout_ms = 1800000;  // group.max.session.timeout.ms
  bool fsync = false;                        // fdatasync offset commits before acknowledging
};

struct JoinGroupRequestData {
  int16_t api_version = 0;  // v4+: an empty member id gets kMemberIdRequired first
  std::string group_id;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;  // v0 requests: equal to the session timeout
  std::string member_id;
  std::optional<std::string> group_instance_id;  // static membership (v5+)
  std::string protocol_type;                     // "consumer"
  struct Protocol {
    std::string name;  // assignor name, e.g. "range", "cooperative-sticky"
    std::string metadata;
  };
  std::vector<Protocol> protocols;
  std::string client_id;
  std::string client_host;
};

struct JoinGroupMember {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string metadata;  // for the chosen protocol
};

struct JoinGroupResult {
  ErrorCode error = ErrorCode::kNone;
  int32_t generation_id = -1;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  std::vector<JoinGroupMember> members;  // filled for the leader only
};

struct SyncGroupRequestData {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  struct Assignment {
    std::string member_id;
    std::string assignment;
  };
  std::vector<Assignment> assignments;  // sent by the leader only
};

struct SyncGroupResult {
  ErrorCode error = ErrorCode::kNone;
  std::string assignment;
};

struct CommitOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::optional<std::string> metadata;
};

struct CommittedOffset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = -1;  // -1: nothing committed
  int32_t leader_epoch = -1;
  std::optional<std::string> metadata;
  ErrorCode error = ErrorCode::kNone;
};

struct GroupMemberDescription {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  std::string metadata;
  std::string assignment;
};

struct GroupDescription {
  ErrorCode error = ErrorCode::kNone;
  std::string group_id;
  std::string state;  // "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"
  std::string protocol_type;
  std::string protocol;
  std::vector<GroupMemberDescription> members;
};

struct GroupListing {
  std::string group_id;
  std::string protocol_type;
  std::string state;
};

class GroupCoordinator {
 public:
  // Loads committed offsets from |dir| (created when absent). Recovery
  // tolerates a torn last record (truncated, logged).
  static Result<std::unique_ptr<GroupCoordinator>> Open(std::filesystem::path dir,
                                                        GroupOptions options, const Clock& clock);
  ~GroupCoordinator();
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  // Blocks until the rebalance this join takes part in completes (or fails).
  JoinGroupResult JoinGroup(const JoinGroupRequestData& request);
  // Blocks a follower until the leader's assignment arrives.
  SyncGroupResult SyncGroup(const SyncGroupRequestData& request);
  ErrorCode Heartbeat(const std::string& group_id, int32_t generation_id,
                      const std::string& member_id,
                      const std::optional<std::string>& group_instance_id);
  ErrorCode LeaveGroup(const std::string& group_id, const std::string& member_id);

  // generation_id -1 with an empty member id is a "simple" commit (a consumer
  // that assigns partitions itself); otherwise the generation and member must
  // match (kIllegalGeneration, kUnknownMemberId) and the group must not be
  // CompletingRebalance (kRebalanceInProgress). Returns one error per offset,
  // in order. Durable before returning.
  std::vector<ErrorCode> CommitOffsets(const std::string& group_id, int32_t generation_id,
                                       const std::string& member_id,
                                       const std::vector<CommitOffset>& offsets);
  // |partitions| empty/nullopt: every committed offset of the group.
  std::vector<CommittedOffset> FetchOffsets(
      const std::string& group_id,
      const std::optional<std::vector<std::pair<std::string, int32_t>>>& partitions) const;

  GroupDescription DescribeGroup(const std::string& group_id) const;
  std::vector<GroupListing> ListGroups() const;

  // Forgets committed offsets of a deleted topic (durably).
  void DeleteTopicOffsets(const std::string& topic);

  // Expires members whose session timed out and completes rebalances whose
  // rebalance timeout or initial delay elapsed. Called by the broker's timer
  // thread every ~100 ms, and by tests after moving a ManualClock. Blocked
  // Join/Sync calls are woken as needed.
  void Tick();

  // Wakes every blocked call with kCoordinatorNotAvailable; later calls get it too.
  void Shutdown();

  // How many JoinGroup/SyncGroup calls are blocked right now, waiting for a
  // rebalance or a leader's assignment. For metrics and for tests that must
  // know a call is parked before they act.
  size_t ParkedRequestCount() const;

 private:
  struct Impl;
  explicit GroupCoordinator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::broker
