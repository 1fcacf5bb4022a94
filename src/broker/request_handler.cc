#include "broker/request_handler.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>

#include "broker/messages.h"
#include "weir/observe/metrics.h"

namespace weir::broker {
namespace {

using Clock = std::chrono::steady_clock;

// The longest a Fetch may park, whatever the client asks (clients send 100 ms
// to a few seconds).
constexpr int32_t kMaxFetchWaitMs = 30'000;

class Context {
 public:
  Context(TopicManager& topics, GroupCoordinator& groups, const HandlerOptions& options,
          const ConnectionInfo& conn, const RequestHeader& header)
      : topics_(topics), groups_(groups), options_(options), conn_(conn), header_(header) {}

  int16_t version() const { return header_.api_version; }
  std::string client() const {
    return fmt::format("{} ({})", conn_.peer, header_.client_id.value_or("no client id"));
  }

  void ApiVersions(Writer& w) {
    ApiVersionsResponse resp;
    for (const ApiRange& a : kSupportedApis) {
      resp.api_keys.push_back({static_cast<int16_t>(a.key), a.min_version, a.max_version});
    }
    EncodeMessage(resp, version(), w);
  }

  // Produce: returns false when the client asked for no response (acks=0).
  bool Produce(Reader& r, Writer& w) {
    auto req = DecodeMessage<ProduceRequest>(r, version());
    ProduceResponse resp;
    ErrorCode request_error = ErrorCode::kNone;
    if (req.transactional_id) {
      request_error = ErrorCode::kTransactionalIdAuthorizationFailed;
      spdlog::warn("broker: {}: transactional produce refused (transactions are not supported)",
                   client());
    } else if (req.acks != 0 && req.acks != 1 && req.acks != -1) {
      request_error = ErrorCode::kInvalidRequiredAcks;
    }
    const bool defer_sync = topics_.flush_policy() == FlushPolicy::kAlways;
    bool appended = false;
    for (auto& t : req.topics) {
      auto& rt = resp.topics.emplace_back();
      rt.name = t.name;
      for (auto& p : t.partitions) {
        auto& rp = rt.partitions.emplace_back();
        rp.index = p.index;
        ErrorCode err = request_error;
        if (err == ErrorCode::kNone) err = AppendOne(t.name, p, &rp, defer_sync);
        appended |= err == ErrorCode::kNone;
        rp.error_code = Code(err);
      }
    }
    if (appended) topics_.NotifyAppend();
    if (req.acks == 0) return false;
    EncodeMessage(resp, version(), w);
    return true;
  }

  // With |defer_sync| (every append flushed), the log joins sync_first_:
  // the connection fdatasyncs it before sending the acknowledgement.
  ErrorCode AppendOne(const std::string& topic, ProduceRequest::Partition& p,
                      ProduceResponse::Partition* out, bool defer_sync) {
    if (IsInternalTopic(topic)) {
      // Kafka: "Cannot append to internal topic" (only the broker writes it).
      spdlog::warn("broker: {}: produce to internal topic {} refused", client(), topic);
      return ErrorCode::kInvalidTopicException;
    }
    auto log = topics_.Partition(topic, p.index);
    if (!log) {
      spdlog::warn("broker: {}: produce to unknown topic-partition {}-{}", client(), topic,
                   p.index);
      return ErrorCode::kUnknownTopicOrPartition;
    }
    if (p.records.null || p.records.size == 0) {
      spdlog::warn("broker: {}: produce to {}-{} without records", client(), topic, p.index);
      return ErrorCode::kCorruptMessage;
    }
    AppendResult result;
    std::string why;
    auto bytes =
        // The frame is the connection's own mutable buffer (see Handle()); the
        // log rewrites base offsets in place before writing.
        std::span<uint8_t>(const_cast<uint8_t*>(p.records.data), p.records.size);
    ErrorCode err = log->Append(bytes, &result, &why, defer_sync);
    if (err != ErrorCode::kNone) {
      spdlog::warn("broker: {}: produce to {}-{} refused: {}: {}", client(), topic, p.index,
                   ErrorName(err), why);
      out->log_start_offset = log->log_start_offset();
      return err;
    }
    if (defer_sync) sync_first_->push_back(log);
    out->base_offset = result.base_offset;
    out->log_append_time_ms = result.log_append_time;
    out->log_start_offset = result.log_start_offset;
    return ErrorCode::kNone;
  }

  void Fetch(Reader& r, Writer& w) {
    auto req = DecodeMessage<FetchRequest>(r, version());
    auto deadline =
        Clock::now() + std::chrono::milliseconds(std::clamp(req.max_wait_ms, 0, kMaxFetchWaitMs));
    FetchResponse resp;
    for (;;) {
      uint64_t seen = topics_.append_sequence();
      resp = FetchResponse{};
      bool partition_error = false;
      int64_t bytes = FetchOnce(req, &resp, &partition_error);
      // As Kafka: answer at once with enough bytes, with any partition
      // error, or when the client asked for no minimum.
      if (bytes >= req.min_bytes || partition_error || Clock::now() >= deadline) break;
      topics_.WaitForAppend(seen, deadline);
      if (stopping_ != nullptr && stopping_->load()) break;
    }
    EncodeMessage(resp, version(), w);
  }

  int64_t FetchOnce(const FetchRequest& req, FetchResponse* resp, bool* partition_error) {
    int64_t budget = req.max_bytes > 0 ? req.max_bytes : INT32_MAX;
    int64_t total = 0;
    for (const auto& t : req.topics) {
      auto& rt = resp->topics.emplace_back();
      rt.topic = t.topic;
      for (const auto& p : t.partitions) {
        auto& rp = rt.partitions.emplace_back();
        rp.partition_index = p.partition;
        if (version() >= 4) rp.aborted_transactions.emplace();
        auto log = topics_.Partition(t.topic, p.partition);
        if (!log) {
          rp.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
          rp.records.emplace();
          *partition_error = true;
          continue;
        }
        ReadResult read;
        ErrorCode err = ErrorCode::kNone;
        if (budget > 0 || total == 0) {
          int32_t max = static_cast<int32_t>(std::min<int64_t>(
              p.partition_max_bytes > 0 ? p.partition_max_bytes : 1, std::max<int64_t>(budget, 1)));
          err = log->Read(p.fetch_offset, max, &read);
        } else {
          read.high_watermark = log->high_watermark();
          read.log_start_offset = log->log_start_offset();
        }
        rp.error_code = Code(err);
        if (err != ErrorCode::kNone) *partition_error = true;
        rp.high_watermark = err == ErrorCode::kNone ? read.high_watermark : log->high_watermark();
        rp.last_stable_offset = rp.high_watermark;
        rp.log_start_offset =
            err == ErrorCode::kNone ? read.log_start_offset : log->log_start_offset();
        budget -= static_cast<int64_t>(read.bytes.size());
        total += static_cast<int64_t>(read.bytes.size());
        rp.records = std::move(read.bytes);
      }
    }
    return total;
  }

  void ListOffsets(Reader& r, Writer& w) {
    auto req = DecodeMessage<ListOffsetsRequest>(r, version());
    ListOffsetsResponse resp;
    for (const auto& t : req.topics) {
      auto& rt = resp.topics.emplace_back();
      rt.name = t.name;
      for (const auto& p : t.partitions) {
        auto& rp = rt.partitions.emplace_back();
        rp.partition_index = p.partition_index;
        auto log = topics_.Partition(t.name, p.partition_index);
        if (!log) {
          rp.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
          continue;
        }
        int64_t offset = -1;
        int64_t timestamp = -1;
        if (p.timestamp == -1) {
          offset = log->high_watermark();
        } else if (p.timestamp == -2) {
          offset = log->log_start_offset();
        } else if (p.timestamp >= 0) {
          log->OffsetForTimestamp(p.timestamp, &offset, &timestamp);
        } else {
          rp.error_code = Code(ErrorCode::kInvalidRequest);
          continue;
        }
        rp.offset = offset;
        rp.timestamp = timestamp;
        rp.leader_epoch = 0;
        if (version() == 0 && offset >= 0) rp.old_style_offsets.push_back(offset);
      }
    }
    EncodeMessage(resp, version(), w);
  }

  void Metadata(Reader& r, Writer& w) {
    auto req = DecodeMessage<MetadataRequest>(r, version());
    MetadataResponse resp;
    resp.brokers.push_back(
        {options_.node_id, options_.advertised_host, options_.port, std::nullopt});
    resp.cluster_id = topics_.cluster_id();
    resp.controller_id = options_.node_id;
    auto describe = [&](const Topic& t) {
      auto& rt = resp.topics.emplace_back();
      rt.name = t.name;
      rt.is_internal = IsInternalTopic(t.name);
      for (size_t p = 0; p < t.partitions.size(); ++p) {
        auto& rp = rt.partitions.emplace_back();
        rp.partition_index = static_cast<int32_t>(p);
        rp.leader_id = options_.node_id;
        rp.leader_epoch = 0;
        rp.replica_nodes = {options_.node_id};
        rp.isr_nodes = {options_.node_id};
      }
    };
    bool all = !req.topics.has_value() || (version() == 0 && req.topics->empty());
    if (all) {
      for (const auto& t : topics_.List()) describe(*t);
    } else {
      for (const std::string& name : *req.topics) {
        auto t = topics_.Find(name);
        if (!t && IsInternalTopic(name) && offsets_topic_->Ensure()) {
          t = topics_.Find(name);  // Kafka creates it when a client first asks for it
        }
        if (!t && options_.auto_create_topics && req.allow_auto_topic_creation &&
            TopicManager::ValidateTopicName(name).ok()) {
          AdminResult created = topics_.CreateTopic(name, -1, -1, {}, false);
          if (created.ok()) spdlog::info("broker: auto-created topic {} for {}", name, client());
          t = topics_.Find(name);
        }
        if (t) {
          describe(*t);
        } else {
          auto& rt = resp.topics.emplace_back();
          rt.name = name;
          rt.error_code =
              Code(TopicManager::ValidateTopicName(name).ok() ? ErrorCode::kUnknownTopicOrPartition
                                                              : ErrorCode::kInvalidTopicException);
        }
      }
    }
    EncodeMessage(resp, version(), w);
  }

  void FindCoordinator(Reader& r, Writer& w) {
    auto req = DecodeMessage<FindCoordinatorRequest>(r, version());
    FindCoordinatorResponse resp;
    if (req.key_type != 0) {
      resp.error_code = Code(ErrorCode::kCoordinatorNotAvailable);
      resp.error_message = "transactions are not supported by weir's embedded broker";
    } else {
      resp.node_id = options_.node_id;
      resp.host = options_.advertised_host;
      resp.port = options_.port;
    }
    EncodeMessage(resp, version(), w);
  }

  void JoinGroup(Reader& r, Writer& w) {
    auto req = DecodeMessage<JoinGroupRequest>(r, version());
    JoinGroupRequestData data;
    data.api_version = version();
    data.group_id = req.group_id;
    data.session_timeout_ms = req.session_timeout_ms;
    data.rebalance_timeout_ms = version() >= 1 ? req.rebalance_timeout_ms : req.session_timeout_ms;
    data.member_id = req.member_id;
    data.group_instance_id = req.group_instance_id;
    data.protocol_type = req.protocol_type;
    for (auto& p : req.protocols) data.protocols.push_back({p.name, std::move(p.metadata)});
    data.client_id = header_.client_id.value_or("");
    data.client_host = conn_.client_host;
    JoinGroupResult result = groups_.JoinGroup(data);
    JoinGroupResponse resp;
    resp.error_code = Code(result.error);
    resp.generation_id = result.generation_id;
    resp.protocol_name = result.protocol_name;
    resp.leader = result.leader;
    resp.member_id = result.member_id;
    for (auto& m : result.members) {
      resp.members.push_back({m.member_id, m.group_instance_id, std::move(m.metadata)});
    }
    EncodeMessage(resp, version(), w);
  }

  void SyncGroup(Reader& r, Writer& w) {
    auto req = DecodeMessage<SyncGroupRequest>(r, version());
    SyncGroupRequestData data;
    data.group_id = req.group_id;
    data.generation_id = req.generation_id;
    data.member_id = req.member_id;
    data.group_instance_id = req.group_instance_id;
    for (auto& a : req.assignments) {
      data.assignments.push_back({a.member_id, std::move(a.assignment)});
    }
    SyncGroupResult result = groups_.SyncGroup(data);
    SyncGroupResponse resp;
    resp.error_code = Code(result.error);
    resp.assignment = std::move(result.assignment);
    EncodeMessage(resp, version(), w);
  }

  void Heartbeat(Reader& r, Writer& w) {
    auto req = DecodeMessage<HeartbeatRequest>(r, version());
    ErrorOnlyResponse resp;
    resp.error_code = Code(
        groups_.Heartbeat(req.group_id, req.generation_id, req.member_id, req.group_instance_id));
    EncodeMessage(resp, version(), w);
  }

  void LeaveGroup(Reader& r, Writer& w) {
    auto req = DecodeMessage<LeaveGroupRequest>(r, version());
    ErrorOnlyResponse resp;
    resp.error_code = Code(groups_.LeaveGroup(req.group_id, req.member_id));
    EncodeMessage(resp, version(), w);
  }

  void OffsetCommit(Reader& r, Writer& w) {
    auto req = DecodeMessage<OffsetCommitRequest>(r, version());
    std::vector<CommitOffset> offsets;
    OffsetCommitResponse resp;
    // Unknown topics or partitions are refused per partition; the rest go to
    // the coordinator in one durable write.
    std::vector<int16_t*> slots;
    for (auto& t : req.topics) {
      auto& rt = resp.topics.emplace_back();
      rt.name = t.name;
      for (auto& p : t.partitions) {
        auto& rp = rt.partitions.emplace_back();
        rp.partition_index = p.partition_index;
      }
    }
    for (size_t ti = 0; ti < req.topics.size(); ++ti) {
      auto& t = req.topics[ti];
      for (size_t pi = 0; pi < t.partitions.size(); ++pi) {
        auto& p = t.partitions[pi];
        auto& rp = resp.topics[ti].partitions[pi];
        if (!topics_.Partition(t.name, p.partition_index)) {
          rp.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
          continue;
        }
        offsets.push_back({t.name, p.partition_index, p.committed_offset, p.committed_leader_epoch,
                           p.committed_metadata});
        slots.push_back(&rp.error_code);
      }
    }
    if (!offsets.empty()) {
      int32_t generation = version() >= 1 ? req.generation_id : -1;
      std::vector<ErrorCode> errors =
          groups_.CommitOffsets(req.group_id, generation, req.member_id, offsets);
      std::vector<CommitOffset> accepted;
      for (size_t i = 0; i < slots.size() && i < errors.size(); ++i) {
        *slots[i] = Code(errors[i]);
        if (errors[i] == ErrorCode::kNone) accepted.push_back(std::move(offsets[i]));
      }
      offsets_topic_->Append(req.group_id, accepted);
    }
    EncodeMessage(resp, version(), w);
  }

  void OffsetFetch(Reader& r, Writer& w) {
    auto req = DecodeMessage<OffsetFetchRequest>(r, version());
    std::optional<std::vector<std::pair<std::string, int32_t>>> wanted;
    if (req.topics) {
      wanted.emplace();
      for (const auto& t : *req.topics) {
        for (int32_t p : t.partition_indexes) wanted->emplace_back(t.name, p);
      }
    }
    OffsetFetchResponse resp;
    std::map<std::string, size_t> index;
    for (CommittedOffset& c : groups_.FetchOffsets(req.group_id, wanted)) {
      auto it = index.find(c.topic);
      if (it == index.end()) {
        it = index.emplace(c.topic, resp.topics.size()).first;
        resp.topics.emplace_back().name = c.topic;
      }
      resp.topics[it->second].partitions.push_back(
          {c.partition, c.offset, c.leader_epoch, std::move(c.metadata), Code(c.error)});
    }
    EncodeMessage(resp, version(), w);
  }

  void DescribeGroups(Reader& r, Writer& w) {
    auto req = DecodeMessage<DescribeGroupsRequest>(r, version());
    DescribeGroupsResponse resp;
    for (const std::string& g : req.groups) {
      GroupDescription d = groups_.DescribeGroup(g);
      auto& rg = resp.groups.emplace_back();
      rg.error_code = Code(d.error);
      rg.group_id = g;
      rg.group_state = d.state;
      rg.protocol_type = d.protocol_type;
      rg.protocol_data = d.protocol;
      for (auto& m : d.members) {
        rg.members.push_back({m.member_id, m.client_id, m.client_host, std::move(m.metadata),
                              std::move(m.assignment)});
      }
    }
    EncodeMessage(resp, version(), w);
  }

  void ListGroups(Reader& r, Writer& w) {
    DecodeMessage<ListGroupsRequest>(r, version());
    ListGroupsResponse resp;
    for (GroupListing& g : groups_.ListGroups()) {
      resp.groups.push_back({g.group_id, g.protocol_type});
    }
    EncodeMessage(resp, version(), w);
  }

  void CreateTopics(Reader& r, Writer& w) {
    auto req = DecodeMessage<CreateTopicsRequest>(r, version());
    CreateTopicsResponse resp;
    for (auto& t : req.topics) {
      auto& rt = resp.topics.emplace_back();
      rt.name = t.name;
      AdminResult result;
      std::map<std::string, std::string> configs;
      for (const ConfigEntry& c : t.configs) {
        if (!c.value) {
          result = {ErrorCode::kInvalidConfig,
                    fmt::format("topic {}: config {} has a null value", t.name, c.name)};
          break;
        }
        configs[c.name] = *c.value;
      }
      if (result.ok() && !t.assignments.empty()) {
        int32_t partitions = static_cast<int32_t>(t.assignments.size());
        for (const auto& a : t.assignments) {
          if (a.broker_ids.size() != 1 || a.broker_ids[0] != options_.node_id) {
            result = {ErrorCode::kInvalidReplicaAssignment,
                      fmt::format("topic {}: partition {} must be assigned to broker {} only",
                                  t.name, a.partition_index, options_.node_id)};
          }
        }
        t.num_partitions = partitions;
      }
      if (result.ok()) {
        result = topics_.CreateTopic(t.name, t.num_partitions, t.replication_factor, configs,
                                     req.validate_only);
      }
      rt.error_code = Code(result.error);
      if (!result.ok()) {
        rt.error_message = result.message;
        spdlog::warn("broker: {}: create topic refused: {}", client(), result.message);
      }
    }
    EncodeMessage(resp, version(), w);
  }

  void DeleteTopics(Reader& r, Writer& w) {
    auto req = DecodeMessage<DeleteTopicsRequest>(r, version());
    DeleteTopicsResponse resp;
    for (const std::string& name : req.topic_names) {
      AdminResult result = topics_.DeleteTopic(name);
      if (result.ok()) groups_.DeleteTopicOffsets(name);
      resp.responses.push_back({name, Code(result.error)});
    }
    EncodeMessage(resp, version(), w);
  }

  void DeleteRecords(Reader& r, Writer& w) {
    auto req = DecodeMessage<DeleteRecordsRequest>(r, version());
    DeleteRecordsResponse resp;
    for (const auto& t : req.topics) {
      auto& rt = resp.topics.emplace_back();
      rt.name = t.name;
      for (const auto& p : t.partitions) {
        auto& rp = rt.partitions.emplace_back();
        rp.partition_index = p.partition_index;
        auto log = topics_.Partition(t.name, p.partition_index);
        if (!log) {
          rp.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
          continue;
        }
        int64_t start = -1;
        ErrorCode err = log->DeleteRecordsBefore(p.offset, &start);
        rp.error_code = Code(err);
        rp.low_watermark = err == ErrorCode::kNone ? start : log->log_start_offset();
        if (err == ErrorCode::kNone) {
          spdlog::info("broker: {}: {}-{} log start offset is now {}", client(), t.name,
                       p.partition_index, start);
        }
      }
    }
    EncodeMessage(resp, version(), w);
  }

  void InitProducerId(Reader& r, Writer& w) {
    auto req = DecodeMessage<InitProducerIdRequest>(r, version());
    InitProducerIdResponse resp;
    if (req.transactional_id) {
      resp.error_code = Code(ErrorCode::kTransactionalIdAuthorizationFailed);
      spdlog::warn(
          "broker: {}: InitProducerId for transactional id refused: transactions "
          "are not supported",
          client());
    } else {
      auto id = topics_.NextProducerId();
      if (!id.ok()) {
        resp.error_code = Code(ErrorCode::kUnknownServerError);
        spdlog::error("broker: cannot allocate a producer id: {}", id.status().ToString());
      } else {
        resp.producer_id = *id;
        resp.producer_epoch = 0;
      }
    }
    EncodeMessage(resp, version(), w);
  }

  void DescribeConfigs(Reader& r, Writer& w) {
    auto req = DecodeMessage<DescribeConfigsRequest>(r, version());
    DescribeConfigsResponse resp;
    for (const auto& res : req.resources) {
      auto& rr = resp.results.emplace_back();
      rr.resource_type = res.resource_type;
      rr.resource_name = res.resource_name;
      std::optional<std::vector<ConfigValue>> values;
      bool topic = res.resource_type == kResourceTopic;
      if (topic) {
        values = topics_.DescribeConfigs(res.resource_name);
        if (!values) {
          rr.error_code = Code(ErrorCode::kUnknownTopicOrPartition);
          rr.error_message = fmt::format("topic {} does not exist", res.resource_name);
          continue;
        }
      } else if (res.resource_type == kResourceBroker) {
        values = topics_.BrokerConfigs();
      } else {
        rr.error_code = Code(ErrorCode::kInvalidRequest);
        rr.error_message = fmt::format("resource type {} is not supported", res.resource_type);
        continue;
      }
      for (const ConfigValue& v : *values) {
        if (res.configuration_keys &&
            std::find(res.configuration_keys->begin(), res.configuration_keys->end(), v.name) ==
                res.configuration_keys->end()) {
          continue;
        }
        auto& c = rr.configs.emplace_back();
        c.name = v.name;
        c.value = v.value;
        c.read_only = !topic;
        c.is_default = v.is_default;
        c.config_source =
            !topic ? kSourceStaticBroker : (v.is_default ? kSourceDefault : kSourceDynamicTopic);
        if (req.include_synonyms) {
          c.synonyms.push_back({v.name, v.value, c.config_source});
        }
      }
    }
    EncodeMessage(resp, version(), w);
  }

  void AlterConfigs(Reader& r, Writer& w) {
    auto req = DecodeMessage<AlterConfigsRequest>(r, version());
    AlterConfigsResponse resp;
    for (const auto& res : req.resources) {
      auto& rr = resp.responses.emplace_back();
      rr.resource_type = res.resource_type;
      rr.resource_name = res.resource_name;
      AdminResult result;
      if (res.resource_type != kResourceTopic) {
        result = {ErrorCode::kInvalidRequest,
                  "only topic configs can be altered; broker settings are command-line options"};
      } else {
        std::map<std::string, std::string> configs;
        for (const ConfigEntry& c : res.configs) {
          if (c.value) configs[c.name] = *c.value;
        }
        result = topics_.AlterConfigs(res.resource_name, configs, req.validate_only);
      }
      rr.error_code = Code(result.error);
      if (!result.ok()) {
        rr.error_message = result.message;
        spdlog::warn("broker: {}: alter configs refused: {}", client(), result.message);
      }
    }
    EncodeMessage(resp, version(), w);
  }

  void CreatePartitions(Reader& r, Writer& w) {
    auto req = DecodeMessage<CreatePartitionsRequest>(r, version());
    CreatePartitionsResponse resp;
    for (const auto& t : req.topics) {
      AdminResult result = topics_.CreatePartitions(t.name, t.count, req.validate_only);
      auto& rr = resp.results.emplace_back();
      rr.name = t.name;
      rr.error_code = Code(result.error);
      if (!result.ok()) rr.error_message = result.message;
    }
    EncodeMessage(resp, version(), w);
  }

  const std::atomic<bool>* stopping_ = nullptr;
  std::vector<std::shared_ptr<PartitionLog>>* sync_first_ = nullptr;
  OffsetsTopic* offsets_topic_ = nullptr;

 private:
  TopicManager& topics_;
  GroupCoordinator& groups_;
  const HandlerOptions& options_;
  const ConnectionInfo& conn_;
  const RequestHeader& header_;
};

}  // namespace

RequestHandler::RequestHandler(TopicManager& topics, GroupCoordinator& groups,
                               HandlerOptions options)
    : topics_(topics),
      groups_(groups),
      options_(std::move(options)),
      offsets_topic_(topics, options_.clock ? *options_.clock : SystemClock::Instance()) {
  if (options_.metrics == nullptr) return;
  for (const ApiRange& a : kSupportedApis) {
    const auto key = static_cast<size_t>(a.key);
    if (key < requests_.size()) {
      requests_[key] = &options_.metrics->GetCounter(
          "broker_requests_total", "Requests the broker handled, by API", {{"api", a.name}});
    }
  }
  request_bytes_ = &options_.metrics->GetCounter("broker_request_bytes_total",
                                                 "Bytes of request frames received");
  response_bytes_ =
      &options_.metrics->GetCounter("broker_response_bytes_total", "Bytes of response frames sent");
}

void RequestHandler::Shutdown() {
  stopping_.store(true);
  topics_.Wake();
}

RequestHandler::Outcome RequestHandler::Handle(
    std::span<uint8_t> frame, const ConnectionInfo& conn, std::string* response,
    std::vector<std::shared_ptr<PartitionLog>>* sync_first) {
  Reader r(frame);
  RequestHeader header;
  try {
    // The fixed part of every header version: key, version, correlation id.
    header.api_key = r.Int16();
    header.api_version = r.Int16();
    header.correlation_id = r.Int32();
  } catch (const DecodeError& e) {
    spdlog::warn("broker: {}: closing: request header unreadable: {}", conn.peer, e.what());
    return Outcome::kClose;
  }
  // The size prefix is patched in at the end, so the response goes out in
  // one send.
  Writer w;
  w.Int32(0);
  w.Int32(header.correlation_id);
  auto finish = [this, &w, response] {
    w.PatchInt32(0, static_cast<int32_t>(w.size() - 4));
    if (response_bytes_ != nullptr) response_bytes_->Inc(static_cast<double>(w.size()));
    *response = std::move(w.buffer());
  };
  if (request_bytes_ != nullptr) request_bytes_->Inc(static_cast<double>(frame.size() + 4));

  const ApiRange* api = FindApi(header.api_key);
  auto key = static_cast<ApiKey>(header.api_key);
  if (api != nullptr && static_cast<size_t>(header.api_key) < requests_.size() &&
      requests_[static_cast<size_t>(header.api_key)] != nullptr) {
    requests_[static_cast<size_t>(header.api_key)]->Inc();
  }
  if (api == nullptr) {
    spdlog::warn("broker: {}: closing: unsupported API key {} (version {})", conn.peer,
                 header.api_key, header.api_version);
    return Outcome::kClose;
  }
  if (header.api_version < api->min_version || header.api_version > api->max_version) {
    if (key == ApiKey::kApiVersions) {
      // KIP-511: answer an unknown ApiVersions version with a v0 body that
      // carries UNSUPPORTED_VERSION and our ranges; the client retries with
      // a version from them.
      ApiVersionsResponse resp;
      resp.error_code = Code(ErrorCode::kUnsupportedVersion);
      for (const ApiRange& a : kSupportedApis) {
        resp.api_keys.push_back({static_cast<int16_t>(a.key), a.min_version, a.max_version});
      }
      EncodeMessage(resp, 0, w);
      finish();
      return Outcome::kRespond;
    }
    spdlog::warn("broker: {}: closing: {} v{} is not supported (supported: v{}-v{})", conn.peer,
                 api->name, header.api_version, api->min_version, api->max_version);
    return Outcome::kClose;
  }
  try {
    header.client_id = r.NullableString();
    Context ctx(topics_, groups_, options_, conn, header);
    ctx.stopping_ = &stopping_;
    ctx.offsets_topic_ = &offsets_topic_;
    ctx.sync_first_ = sync_first;
    bool respond = true;
    switch (key) {
      case ApiKey::kApiVersions:
        ctx.ApiVersions(w);
        break;
      case ApiKey::kProduce:
        respond = ctx.Produce(r, w);
        break;
      case ApiKey::kFetch:
        ctx.Fetch(r, w);
        break;
      case ApiKey::kListOffsets:
        ctx.ListOffsets(r, w);
        break;
      case ApiKey::kMetadata:
        ctx.Metadata(r, w);
        break;
      case ApiKey::kOffsetCommit:
        ctx.OffsetCommit(r, w);
        break;
      case ApiKey::kOffsetFetch:
        ctx.OffsetFetch(r, w);
        break;
      case ApiKey::kFindCoordinator:
        ctx.FindCoordinator(r, w);
        break;
      case ApiKey::kJoinGroup:
        ctx.JoinGroup(r, w);
        break;
      case ApiKey::kHeartbeat:
        ctx.Heartbeat(r, w);
        break;
      case ApiKey::kLeaveGroup:
        ctx.LeaveGroup(r, w);
        break;
      case ApiKey::kSyncGroup:
        ctx.SyncGroup(r, w);
        break;
      case ApiKey::kDescribeGroups:
        ctx.DescribeGroups(r, w);
        break;
      case ApiKey::kListGroups:
        ctx.ListGroups(r, w);
        break;
      case ApiKey::kCreateTopics:
        ctx.CreateTopics(r, w);
        break;
      case ApiKey::kDeleteTopics:
        ctx.DeleteTopics(r, w);
        break;
      case ApiKey::kDeleteRecords:
        ctx.DeleteRecords(r, w);
        break;
      case ApiKey::kInitProducerId:
        ctx.InitProducerId(r, w);
        break;
      case ApiKey::kDescribeConfigs:
        ctx.DescribeConfigs(r, w);
        break;
      case ApiKey::kAlterConfigs:
        ctx.AlterConfigs(r, w);
        break;
      case ApiKey::kCreatePartitions:
        ctx.CreatePartitions(r, w);
        break;
    }
    if (!respond) return Outcome::kNoResponse;
  } catch (const DecodeError& e) {
    spdlog::warn("broker: {}: closing: malformed {} v{} request (correlation id {}): {}", conn.peer,
                 api->name, header.api_version, header.correlation_id, e.what());
    return Outcome::kClose;
  } catch (const std::exception& e) {
    spdlog::error("broker: {}: closing: {} v{} failed: {}", conn.peer, api->name,
                  header.api_version, e.what());
    return Outcome::kClose;
  }
  finish();
  return Outcome::kRespond;
}

}  // namespace weir::broker
