// broker/messages.h — the Kafka requests and responses the embedded broker
// speaks, each described once by a Serialize(io, version) template that both
// the Decoder and the Encoder of wire.h run.
//
// Only non-flexible (pre-KIP-482) versions are described; ApiVersions
// advertises exactly the ranges in kSupportedApis. Field names follow the
// Kafka protocol's message definitions; a field present only in some
// versions is read and written only in those.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "broker/wire.h"

namespace weir::broker {

enum class ApiKey : int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kDescribeGroups = 15,
  kListGroups = 16,
  kApiVersions = 18,
  kCreateTopics = 19,
  kDeleteTopics = 20,
  kDeleteRecords = 21,
  kInitProducerId = 22,
  kDescribeConfigs = 32,
  kAlterConfigs = 33,
  kCreatePartitions = 37,
};

struct ApiRange {
  ApiKey key;
  int16_t min_version;
  int16_t max_version;
  const char* name;
};

// Produce starts at v3 and Fetch at v4: older versions carry message formats
// v0/v1, which the broker neither stores nor converts to.
inline constexpr std::array<ApiRange, 21> kSupportedApis = {{
    {ApiKey::kProduce, 3, 7, "Produce"},
    {ApiKey::kFetch, 4, 11, "Fetch"},
    {ApiKey::kListOffsets, 0, 5, "ListOffsets"},
    {ApiKey::kMetadata, 0, 8, "Metadata"},
    {ApiKey::kOffsetCommit, 0, 7, "OffsetCommit"},
    {ApiKey::kOffsetFetch, 0, 5, "OffsetFetch"},
    {ApiKey::kFindCoordinator, 0, 2, "FindCoordinator"},
    {ApiKey::kJoinGroup, 0, 5, "JoinGroup"},
    {ApiKey::kHeartbeat, 0, 3, "Heartbeat"},
    {ApiKey::kLeaveGroup, 0, 2, "LeaveGroup"},
    {ApiKey::kSyncGroup, 0, 3, "SyncGroup"},
    {ApiKey::kDescribeGroups, 0, 3, "DescribeGroups"},
    {ApiKey::kListGroups, 0, 2, "ListGroups"},
    {ApiKey::kApiVersions, 0, 2, "ApiVersions"},
    {ApiKey::kCreateTopics, 0, 4, "CreateTopics"},
    {ApiKey::kDeleteTopics, 0, 3, "DeleteTopics"},
    {ApiKey::kDeleteRecords, 0, 1, "DeleteRecords"},
    {ApiKey::kInitProducerId, 0, 1, "InitProducerId"},
    {ApiKey::kDescribeConfigs, 0, 2, "DescribeConfigs"},
    {ApiKey::kAlterConfigs, 0, 1, "AlterConfigs"},
    {ApiKey::kCreatePartitions, 0, 1, "CreatePartitions"},
}};

// The supported range of |key|, or nullptr when the broker does not serve it.
const ApiRange* FindApi(int16_t key);

// Request header v1 (all non-flexible requests). The response header (v0) is
// just the correlation id.
struct RequestHeader {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  std::optional<std::string> client_id;

  template <typename Io>
  void Serialize(Io& io) {
    io.Int16(api_key);
    io.Int16(api_version);
    io.Int32(correlation_id);
    io.NullableString(client_id);
  }
};

// ---- ApiVersions (18) ----
struct ApiVersionsRequest {
  template <typename Io>
  void Serialize(Io&, int16_t) {}
};
struct ApiVersionsResponse {
  int16_t error_code = 0;
  struct ApiVersion {
    int16_t api_key = 0;
    int16_t min_version = 0;
    int16_t max_version = 0;
  };
  std::vector<ApiVersion> api_keys;
  int32_t throttle_time_ms = 0;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    io.Int16(error_code);
    io.Array(api_keys, [&](ApiVersion& a) {
      io.Int16(a.api_key);
      io.Int16(a.min_version);
      io.Int16(a.max_version);
    });
    if (v >= 1) io.Int32(throttle_time_ms);
  }
};

// ---- Produce (0) ----
struct ProduceRequest {
  std::optional<std::string> transactional_id;
  int16_t acks = 0;
  int32_t timeout_ms = 0;
  struct Partition {
    int32_t index = 0;
    BytesView records;  // into the request frame
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v >= 3) io.NullableString(transactional_id);
    io.Int16(acks);
    io.Int32(timeout_ms);
    io.Array(topics, [&](Topic& t) {
      io.String(t.name);
      io.Array(t.partitions, [&](Partition& p) {
        io.Int32(p.index);
        io.NullableBytesView(p.records);
      });
    });
  }
};
struct ProduceResponse {
  struct Partition {
    int32_t index = 0;
    int16_t error_code = 0;
    int64_t base_offset = -1;
    int64_t log_append_time_ms = -1;
    int64_t log_start_offset = -1;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
  int32_t throttle_time_ms = 0;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    io.Array(topics, [&](Topic& t) {
      io.String(t.name);
      io.Array(t.partitions, [&](Partition& p) {
        io.Int32(p.index);
        io.Int16(p.error_code);
        io.Int64(p.base_offset);
        if (v >= 2) io.Int64(p.log_append_time_ms);
        if (v >= 5) io.Int64(p.log_start_offset);
      });
    });
    if (v >= 1) io.Int32(throttle_time_ms);
  }
};

// ---- Fetch (1) ----
struct FetchRequest {
  int32_t replica_id = -1;
  int32_t max_wait_ms = 0;
  int32_t min_bytes = 0;
  int32_t max_bytes = 0x7fffffff;
  int8_t isolation_level = 0;
  int32_t session_id = 0;
  int32_t session_epoch = -1;
  struct Partition {
    int32_t partition = 0;
    int32_t current_leader_epoch = -1;
    int64_t fetch_offset = 0;
    int64_t log_start_offset = -1;
    int32_t partition_max_bytes = 0;
  };
  struct Topic {
    std::string topic;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
  struct ForgottenTopic {
    std::string topic;
    std::vector<int32_t> partitions;
  };
  std::vector<ForgottenTopic> forgotten_topics;
  std::string rack_id;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    io.Int32(replica_id);
    io.Int32(max_wait_ms);
    io.Int32(min_bytes);
    if (v >= 3) io.Int32(max_bytes);
    if (v >= 4) io.Int8(isolation_level);
    if (v >= 7) {
      io.Int32(session_id);
      io.Int32(session_epoch);
    }
    io.Array(topics, [&](Topic& t) {
      io.String(t.topic);
      io.Array(t.partitions, [&](Partition& p) {
        io.Int32(p.partition);
        if (v >= 9) io.Int32(p.current_leader_epoch);
        io.Int64(p.fetch_offset);
        if (v >= 5) io.Int64(p.log_start_offset);
        io.Int32(p.partition_max_bytes);
      });
    });
    if (v >= 7) {
      io.Array(forgotten_topics, [&](ForgottenTopic& f) {
        io.String(f.topic);
        io.Int32Array(f.partitions);
      });
    }
    if (v >= 11) io.String(rack_id);
  }
};
struct FetchResponse {
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;
  int32_t session_id = 0;
  struct AbortedTransaction {
    int64_t producer_id = 0;
    int64_t first_offset = 0;
  };
  struct Partition {
    int32_t partition_index = 0;
    int16_t error_code = 0;
    int64_t high_watermark = -1;
    int64_t last_stable_offset = -1;
    int64_t log_start_offset = -1;
    std::optional<std::vector<AbortedTransaction>> aborted_transactions;
    int32_t preferred_read_replica = -1;
    std::optional<std::string> records;
  };
  struct Topic {
    std::string topic;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v >= 1) io.Int32(throttle_time_ms);
    if (v >= 7) {
      io.Int16(error_code);
      io.Int32(session_id);
    }
    io.Array(topics, [&](Topic& t) {
      io.String(t.topic);
      io.Array(t.partitions, [&](Partition& p) {
        io.Int32(p.partition_index);
        io.Int16(p.error_code);
        io.Int64(p.high_watermark);
        if (v >= 4) {
          io.Int64(p.last_stable_offset);
          if (v >= 5) io.Int64(p.log_start_offset);
          io.NullableArray(p.aborted_transactions, [&](AbortedTransaction& a) {
            io.Int64(a.producer_id);
            io.Int64(a.first_offset);
          });
        }
        if (v >= 11) io.Int32(p.preferred_read_replica);
        io.NullableBytes(p.records);
      });
    });
  }
};

// ---- ListOffsets (2) ----
struct ListOffsetsRequest {
  int32_t replica_id = -1;
  int8_t isolation_level = 0;
  struct Partition {
    int32_t partition_index = 0;
    int32_t current_leader_epoch = -1;
    int64_t timestamp = 0;  // -1 latest, -2 earliest, else a time in ms
    int32_t max_num_offsets = 1;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    io.Int32(replica_id);
    if (v >= 2) io.Int8(isolation_level);
    io.Array(topics, [&](Topic& t) {
      io.String(t.name);
      io.Array(t.partitions, [&](Partition& p) {
        io.Int32(p.partition_index);
        if (v >= 4) io.Int32(p.current_leader_epoch);
        io.Int64(p.timestamp);
        if (v == 0) io.Int32(p.max_num_offsets);
      });
    });
  }
};
struct ListOffsetsResponse {
  int32_t throttle_time_ms = 0;
  struct Partition {
    int32_t partition_index = 0;
    int16_t error_code = 0;
    std::vector<int64_t> old_style_offsets;  // v0
    int64_t timestamp = -1;
    int64_t offset = -1;
    int32_t leader_epoch = -1;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v >= 2) io.Int32(throttle_time_ms);
    io.Array(topics, [&](Topic& t) {
      io.String(t.name);
      io.Array(t.partitions, [&](Partition& p) {
        io.Int32(p.partition_index);
        io.Int16(p.error_code);
        if (v == 0) {
          io.Array(p.old_style_offsets, [&](int64_t& o) { io.Int64(o); });
        } else {
          io.Int64(p.timestamp);
          io.Int64(p.offset);
          if (v >= 4) io.Int32(p.leader_epoch);
        }
      });
    });
  }
};

// ---- Metadata (3) ----
struct MetadataRequest {
  // nullopt (v1+) or empty (v0): every topic.
  std::optional<std::vector<std::string>> topics;
  bool allow_auto_topic_creation = true;
  bool include_cluster_authorized_operations = false;
  bool include_topic_authorized_operations = false;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v == 0) {
      if constexpr (Io::kDecoding) topics.emplace();
      io.StringArray(*topics);
    } else {
      io.NullableArray(topics, [&](std::string& s) { io.String(s); });
    }
    if (v >= 4) io.Bool(allow_auto_topic_creation);
    if (v >= 8) {
      io.Bool(include_cluster_authorized_operations);
      io.Bool(include_topic_authorized_operations);
    }
  }
};
struct MetadataResponse {
  int32_t throttle_time_ms = 0;
  struct Broker {
    int32_t node_id = 0;
    std::string host;
    int32_t port = 0;
    std::optional<std::string> rack;
  };
  std::vector<Broker> brokers;
  std::optional<std::string> cluster_id;
  int32_t controller_id = -1;
  struct Partition {
    int16_t error_code = 0;
    int32_t partition_index = 0;
    int32_t leader_id = -1;
    int32_t leader_epoch = -1;
    std::vector<int32_t> replica_nodes;
    std::vector<int32_t> isr_nodes;
    std::vector<int32_t> offline_replicas;
  };
  struct Topic {
    int16_t error_code = 0;
    std::string name;
    bool is_internal = false;
    std::vector<Partition> partitions;
    int32_t topic_authorized_operations = INT32_MIN;
  };
  std::vector<Topic> topics;
  int32_t cluster_authorized_operations = INT32_MIN;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v >= 3) io.Int32(throttle_time_ms);
    io.Array(brokers, [&](Broker& b) {
      io.Int32(b.node_id);
      io.String(b.host);
      io.Int32(b.port);
      if (v >= 1) io.NullableString(b.rack);
    });
    if (v >= 2) io.NullableString(cluster_id);
    if (v >= 1) io.Int32(controller_id);
    io.Array(topics, [&](Topic& t) {
      io.Int16(t.error_code);
      io.String(t.name);
      if (v >= 1) io.Bool(t.is_internal);
      io.Array(t.partitions, [&](Partition& p) {
        io.Int16(p.error_code);
        io.Int32(p.partition_index);
        io.Int32(p.leader_id);
        if (v >= 7) io.Int32(p.leader_epoch);
        io.Int32Array(p.replica_nodes);
        io.Int32Array(p.isr_nodes);
        if (v >= 5) io.Int32Array(p.offline_replicas);
      });
      if (v >= 8) io.Int32(t.topic_authorized_operations);
    });
    if (v >= 8) io.Int32(cluster_authorized_operations);
  }
};

// ---- OffsetCommit (8) ----
struct OffsetCommitRequest {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  int64_t retention_time_ms = -1;
  struct Partition {
    int32_t partition_index = 0;
    int64_t committed_offset = 0;
    int32_t committed_leader_epoch = -1;
    int64_t commit_timestamp = -1;
    std::optional<std::string> committed_metadata;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    io.String(group_id);
    if (v >= 1) {
      io.Int32(generation_id);
      io.String(member_id);
    }
    if (v >= 7) io.NullableString(group_instance_id);
    if (v >= 2 && v <= 4) io.Int64(retention_time_ms);
    io.Array(topics, [&](Topic& t) {
      io.String(t.name);
      io.Array(t.partitions, [&](Partition& p) {
        io.Int32(p.partition_index);
        io.Int64(p.committed_offset);
        if (v >= 6) io.Int32(p.committed_leader_epoch);
        if (v == 1) io.Int64(p.commit_timestamp);
        io.NullableString(p.committed_metadata);
      });
    });
  }
};
struct OffsetCommitResponse {
  int32_t throttle_time_ms = 0;
  struct Partition {
    int32_t partition_index = 0;
    int16_t error_code = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v >= 3) io.Int32(throttle_time_ms);
    io.Array(topics, [&](Topic& t) {
      io.String(t.name);
      io.Array(t.partitions, [&](Partition& p) {
        io.Int32(p.partition_index);
        io.Int16(p.error_code);
      });
    });
  }
};

// ---- OffsetFetch (9) ----
struct OffsetFetchRequest {
  std::string group_id;
  struct Topic {
    std::string name;
    std::vector<int32_t> partition_indexes;
  };
  // nullopt (v2+): every committed partition of the group.
  std::optional<std::vector<Topic>> topics;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    io.String(group_id);
    auto each = [&](Topic& t) {
      io.String(t.name);
      io.Int32Array(t.partition_indexes);
    };
    if (v >= 2) {
      io.NullableArray(topics, each);
    } else {
      if constexpr (Io::kDecoding) topics.emplace();
      io.Array(*topics, each);
    }
  }
};
struct OffsetFetchResponse {
  int32_t throttle_time_ms = 0;
  struct Partition {
    int32_t partition_index = 0;
    int64_t committed_offset = -1;
    int32_t committed_leader_epoch = -1;
    std::optional<std::string> metadata;
    int16_t error_code = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
  int16_t error_code = 0;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v >= 3) io.Int32(throttle_time_ms);
    io.Array(topics, [&](Topic& t) {
      io.String(t.name);
      io.Array(t.partitions, [&](Partition& p) {
        io.Int32(p.partition_index);
        io.Int64(p.committed_offset);
        if (v >= 5) io.Int32(p.committed_leader_epoch);
        io.NullableString(p.metadata);
        io.Int16(p.error_code);
      });
    });
    if (v >= 2) io.Int16(error_code);
  }
};

// ---- FindCoordinator (10) ----
struct FindCoordinatorRequest {
  std::string key;
  int8_t key_type = 0;  // 0 group, 1 transaction

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    io.String(key);
    if (v >= 1) io.Int8(key_type);
  }
};
struct FindCoordinatorResponse {
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;
  std::optional<std::string> error_message;
  int32_t node_id = -1;
  std::string host;
  int32_t port = -1;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v >= 1) io.Int32(throttle_time_ms);
    io.Int16(error_code);
    if (v >= 1) io.NullableString(error_message);
    io.Int32(node_id);
    io.String(host);
    io.Int32(port);
  }
};

// ---- JoinGroup (11) ----
struct JoinGroupRequest {
  std::string group_id;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string protocol_type;
  struct Protocol {
    std::string name;
    std::string metadata;
  };
  std::vector<Protocol> protocols;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    io.String(group_id);
    io.Int32(session_timeout_ms);
    if (v >= 1) io.Int32(rebalance_timeout_ms);
    io.String(member_id);
    if (v >= 5) io.NullableString(group_instance_id);
    io.String(protocol_type);
    io.Array(protocols, [&](Protocol& p) {
      io.String(p.name);
      io.Bytes(p.metadata);
    });
  }
};
struct JoinGroupResponse {
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;
  int32_t generation_id = -1;
  std::string protocol_name;
  std::string leader;
  std::string member_id;
  struct Member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::string metadata;
  };
  std::vector<Member> members;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v >= 2) io.Int32(throttle_time_ms);
    io.Int16(error_code);
    io.Int32(generation_id);
    io.String(protocol_name);
    io.String(leader);
    io.String(member_id);
    io.Array(members, [&](Member& m) {
      io.String(m.member_id);
      if (v >= 5) io.NullableString(m.group_instance_id);
      io.Bytes(m.metadata);
    });
  }
};

// ---- Heartbeat (12) ----
struct HeartbeatRequest {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    io.String(group_id);
    io.Int32(generation_id);
    io.String(member_id);
    if (v >= 3) io.NullableString(group_instance_id);
  }
};
// Heartbeat, LeaveGroup: a throttle time (v1+) and an error code.
struct ErrorOnlyResponse {
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v >= 1) io.Int32(throttle_time_ms);
    io.Int16(error_code);
  }
};

// ---- LeaveGroup (13) ----
struct LeaveGroupRequest {
  std::string group_id;
  std::string member_id;

  template <typename Io>
  void Serialize(Io& io, int16_t) {
    io.String(group_id);
    io.String(member_id);
  }
};

// ---- SyncGroup (14) ----
struct SyncGroupRequest {
  std::string group_id;
  int32_t generation_id = -1;
  std::string member_id;
  std::optional<std::string> group_instance_id;
  struct Assignment {
    std::string member_id;
    std::string assignment;
  };
  std::vector<Assignment> assignments;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    io.String(group_id);
    io.Int32(generation_id);
    io.String(member_id);
    if (v >= 3) io.NullableString(group_instance_id);
    io.Array(assignments, [&](Assignment& a) {
      io.String(a.member_id);
      io.Bytes(a.assignment);
    });
  }
};
struct SyncGroupResponse {
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;
  std::string assignment;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v >= 1) io.Int32(throttle_time_ms);
    io.Int16(error_code);
    io.Bytes(assignment);
  }
};

// ---- DescribeGroups (15) ----
struct DescribeGroupsRequest {
  std::vector<std::string> groups;
  bool include_authorized_operations = false;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    io.StringArray(groups);
    if (v >= 3) io.Bool(include_authorized_operations);
  }
};
struct DescribeGroupsResponse {
  int32_t throttle_time_ms = 0;
  struct Member {
    std::string member_id;
    std::string client_id;
    std::string client_host;
    std::string member_metadata;
    std::string member_assignment;
  };
  struct Group {
    int16_t error_code = 0;
    std::string group_id;
    std::string group_state;
    std::string protocol_type;
    std::string protocol_data;
    std::vector<Member> members;
    int32_t authorized_operations = INT32_MIN;
  };
  std::vector<Group> groups;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v >= 1) io.Int32(throttle_time_ms);
    io.Array(groups, [&](Group& g) {
      io.Int16(g.error_code);
      io.String(g.group_id);
      io.String(g.group_state);
      io.String(g.protocol_type);
      io.String(g.protocol_data);
      io.Array(g.members, [&](Member& m) {
        io.String(m.member_id);
        io.String(m.client_id);
        io.String(m.client_host);
        io.Bytes(m.member_metadata);
        io.Bytes(m.member_assignment);
      });
      if (v >= 3) io.Int32(g.authorized_operations);
    });
  }
};

// ---- ListGroups (16) ----
struct ListGroupsRequest {
  template <typename Io>
  void Serialize(Io&, int16_t) {}
};
struct ListGroupsResponse {
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;
  struct Group {
    std::string group_id;
    std::string protocol_type;
  };
  std::vector<Group> groups;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v >= 1) io.Int32(throttle_time_ms);
    io.Int16(error_code);
    io.Array(groups, [&](Group& g) {
      io.String(g.group_id);
      io.String(g.protocol_type);
    });
  }
};

// ---- CreateTopics (19) ----
struct ConfigEntry {
  std::string name;
  std::optional<std::string> value;
};

struct CreateTopicsRequest {
  struct Assignment {
    int32_t partition_index = 0;
    std::vector<int32_t> broker_ids;
  };
  struct Topic {
    std::string name;
    int32_t num_partitions = -1;
    int16_t replication_factor = -1;
    std::vector<Assignment> assignments;
    std::vector<ConfigEntry> configs;
  };
  std::vector<Topic> topics;
  int32_t timeout_ms = 0;
  bool validate_only = false;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    io.Array(topics, [&](Topic& t) {
      io.String(t.name);
      io.Int32(t.num_partitions);
      io.Int16(t.replication_factor);
      io.Array(t.assignments, [&](Assignment& a) {
        io.Int32(a.partition_index);
        io.Int32Array(a.broker_ids);
      });
      io.Array(t.configs, [&](ConfigEntry& c) {
        io.String(c.name);
        io.NullableString(c.value);
      });
    });
    io.Int32(timeout_ms);
    if (v >= 1) io.Bool(validate_only);
  }
};
// CreateTopics and CreatePartitions results: name, error, message (v1+).
struct TopicErrorResult {
  std::string name;
  int16_t error_code = 0;
  std::optional<std::string> error_message;
};
struct CreateTopicsResponse {
  int32_t throttle_time_ms = 0;
  std::vector<TopicErrorResult> topics;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v >= 2) io.Int32(throttle_time_ms);
    io.Array(topics, [&](TopicErrorResult& t) {
      io.String(t.name);
      io.Int16(t.error_code);
      if (v >= 1) io.NullableString(t.error_message);
    });
  }
};

// ---- DeleteTopics (20) ----
struct DeleteTopicsRequest {
  std::vector<std::string> topic_names;
  int32_t timeout_ms = 0;

  template <typename Io>
  void Serialize(Io& io, int16_t) {
    io.StringArray(topic_names);
    io.Int32(timeout_ms);
  }
};
struct DeleteTopicsResponse {
  int32_t throttle_time_ms = 0;
  struct Result {
    std::string name;
    int16_t error_code = 0;
  };
  std::vector<Result> responses;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    if (v >= 1) io.Int32(throttle_time_ms);
    io.Array(responses, [&](Result& r) {
      io.String(r.name);
      io.Int16(r.error_code);
    });
  }
};

// ---- DeleteRecords (21) ----
struct DeleteRecordsRequest {
  struct Partition {
    int32_t partition_index = 0;
    int64_t offset = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;
  int32_t timeout_ms = 0;

  template <typename Io>
  void Serialize(Io& io, int16_t) {
    io.Array(topics, [&](Topic& t) {
      io.String(t.name);
      io.Array(t.partitions, [&](Partition& p) {
        io.Int32(p.partition_index);
        io.Int64(p.offset);
      });
    });
    io.Int32(timeout_ms);
  }
};
struct DeleteRecordsResponse {
  int32_t throttle_time_ms = 0;
  struct Partition {
    int32_t partition_index = 0;
    int64_t low_watermark = -1;
    int16_t error_code = 0;
  };
  struct Topic {
    std::string name;
    std::vector<Partition> partitions;
  };
  std::vector<Topic> topics;

  template <typename Io>
  void Serialize(Io& io, int16_t) {
    io.Int32(throttle_time_ms);
    io.Array(topics, [&](Topic& t) {
      io.String(t.name);
      io.Array(t.partitions, [&](Partition& p) {
        io.Int32(p.partition_index);
        io.Int64(p.low_watermark);
        io.Int16(p.error_code);
      });
    });
  }
};

// ---- InitProducerId (22) ----
struct InitProducerIdRequest {
  std::optional<std::string> transactional_id;
  int32_t transaction_timeout_ms = 0;

  template <typename Io>
  void Serialize(Io& io, int16_t) {
    io.NullableString(transactional_id);
    io.Int32(transaction_timeout_ms);
  }
};
struct InitProducerIdResponse {
  int32_t throttle_time_ms = 0;
  int16_t error_code = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;

  template <typename Io>
  void Serialize(Io& io, int16_t) {
    io.Int32(throttle_time_ms);
    io.Int16(error_code);
    io.Int64(producer_id);
    io.Int16(producer_epoch);
  }
};

// ---- DescribeConfigs (32) ----
inline constexpr int8_t kResourceTopic = 2;
inline constexpr int8_t kResourceBroker = 4;
// DescribeConfigs v1+ config sources.
inline constexpr int8_t kSourceDynamicTopic = 1;
inline constexpr int8_t kSourceStaticBroker = 4;
inline constexpr int8_t kSourceDefault = 5;

struct DescribeConfigsRequest {
  struct Resource {
    int8_t resource_type = 0;
    std::string resource_name;
    std::optional<std::vector<std::string>> configuration_keys;
  };
  std::vector<Resource> resources;
  bool include_synonyms = false;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    io.Array(resources, [&](Resource& r) {
      io.Int8(r.resource_type);
      io.String(r.resource_name);
      io.NullableArray(r.configuration_keys, [&](std::string& s) { io.String(s); });
    });
    if (v >= 1) io.Bool(include_synonyms);
  }
};
struct DescribeConfigsResponse {
  int32_t throttle_time_ms = 0;
  struct Synonym {
    std::string name;
    std::optional<std::string> value;
    int8_t source = 0;
  };
  struct Config {
    std::string name;
    std::optional<std::string> value;
    bool read_only = false;
    bool is_default = false;    // v0
    int8_t config_source = -1;  // v1+
    bool is_sensitive = false;
    std::vector<Synonym> synonyms;  // v1+
  };
  struct Result {
    int16_t error_code = 0;
    std::optional<std::string> error_message;
    int8_t resource_type = 0;
    std::string resource_name;
    std::vector<Config> configs;
  };
  std::vector<Result> results;

  template <typename Io>
  void Serialize(Io& io, int16_t v) {
    io.Int32(throttle_time_ms);
    io.Array(results, [&](Result& r) {
      io.Int16(r.error_code);
      io.NullableString(r.error_message);
      io.Int8(r.resource_type);
      io.String(r.resource_name);
      io.Array(r.configs, [&](Config& c) {
        io.String(c.name);
        io.NullableString(c.value);
        io.Bool(c.read_only);
        if (v == 0) io.Bool(c.is_default);
        if (v >= 1) io.Int8(c.config_source);
        io.Bool(c.is_sensitive);
        if (v >= 1) {
          io.Array(c.synonyms, [&](Synonym& s) {
            io.String(s.name);
            io.NullableString(s.value);
            io.Int8(s.source);
          });
        }
      });
    });
  }
};

// ---- AlterConfigs (33) ----
struct AlterConfigsRequest {
  struct Resource {
    int8_t resource_type = 0;
    std::string resource_name;
    std::vector<ConfigEntry> configs;
  };
  std::vector<Resource> resources;
  bool validate_only = false;

  template <typename Io>
  void Serialize(Io& io, int16_t) {
    io.Array(resources, [&](Resource& r) {
      io.Int8(r.resource_type);
      io.String(r.resource_name);
      io.Array(r.configs, [&](ConfigEntry& c) {
        io.String(c.name);
        io.NullableString(c.value);
      });
    });
    io.Bool(validate_only);
  }
};
struct AlterConfigsResponse {
  int32_t throttle_time_ms = 0;
  struct Result {
    int16_t error_code = 0;
    std::optional<std::string> error_message;
    int8_t resource_type = 0;
    std::string resource_name;
  };
  std::vector<Result> responses;

  template <typename Io>
  void Serialize(Io& io, int16_t) {
    io.Int32(throttle_time_ms);
    io.Array(responses, [&](Result& r) {
      io.Int16(r.error_code);
      io.NullableString(r.error_message);
      io.Int8(r.resource_type);
      io.String(r.resource_name);
    });
  }
};

// ---- CreatePartitions (37) ----
struct CreatePartitionsRequest {
  struct Assignment {
    std::vector<int32_t> broker_ids;
  };
  struct Topic {
    std::string name;
    int32_t count = 0;
    std::optional<std::vector<Assignment>> assignments;
  };
  std::vector<Topic> topics;
  int32_t timeout_ms = 0;
  bool validate_only = false;

  template <typename Io>
  void Serialize(Io& io, int16_t) {
    io.Array(topics, [&](Topic& t) {
      io.String(t.name);
      io.Int32(t.count);
      io.NullableArray(t.assignments, [&](Assignment& a) { io.Int32Array(a.broker_ids); });
    });
    io.Int32(timeout_ms);
    io.Bool(validate_only);
  }
};
struct CreatePartitionsResponse {
  int32_t throttle_time_ms = 0;
  std::vector<TopicErrorResult> results;

  template <typename Io>
  void Serialize(Io& io, int16_t) {
    io.Int32(throttle_time_ms);
    io.Array(results, [&](TopicErrorResult& r) {
      io.String(r.name);
      io.Int16(r.error_code);
      io.NullableString(r.error_message);
    });
  }
};

// Decodes a message body of |version| from |r|; throws DecodeError.
template <typename M>
M DecodeMessage(Reader& r, int16_t version) {
  M m;
  Decoder d(r);
  m.Serialize(d, version);
  return m;
}

// Appends the encoding of |m| at |version| to |w|.
template <typename M>
void EncodeMessage(M& m, int16_t version, Writer& w) {
  Encoder e(w);
  m.Serialize(e, version);
}

}  // namespace weir::broker
