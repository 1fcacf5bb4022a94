#include "weir/kafka/admin.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>

#include "kafka/rdkafka_util.h"

namespace weir::kafka {
namespace {

using internal::ErrorStatus;
using internal::TimeoutMs;

// Extra time granted to the result queue beyond the request timeout, so that
// librdkafka's own timeout (with its precise error) normally fires first.
constexpr std::chrono::milliseconds kQueueSlack{1000};

// The error a DescribeConfigs/AlterConfigs result carries for one resource.
Status ResourceStatus(const rd_kafka_ConfigResource_t* resource, std::string_view what) {
  return ErrorStatus(rd_kafka_ConfigResource_error(resource), what,
                     rd_kafka_ConfigResource_error_string(resource));
}

ConfigSource SourceFrom(rd_kafka_ConfigSource_t s) {
  switch (s) {
    case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG:
      return ConfigSource::kDynamicTopic;
    case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG:
    case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG:
      return ConfigSource::kDynamicBroker;
    case RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG:
      return ConfigSource::kStatic;
    case RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG:
      return ConfigSource::kDefault;
    default:
      return ConfigSource::kUnknown;
  }
}

std::vector<ItemResult> TopicResults(const rd_kafka_topic_result_t** results, size_t cnt,
                                     std::string_view what) {
  std::vector<ItemResult> out;
  out.reserve(cnt);
  for (size_t i = 0; i < cnt; ++i) {
    const char* name = rd_kafka_topic_result_name(results[i]);
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    ItemResult item{name != nullptr ? name : "", Status::Ok()};
    if (err) {
      item.status = ErrorStatus(err, fmt::format("{} \"{}\"", what, item.name),
                                rd_kafka_topic_result_error_string(results[i]));
    }
    out.push_back(std::move(item));
  }
  return out;
}

}  // namespace

int TopicInfo::ReplicationFactor() const {
  if (partitions.empty()) return 0;
  return static_cast<int>(partitions.front().replicas.size());
}

const TopicInfo* ClusterMetadata::FindTopic(std::string_view name) const {
  for (const TopicInfo& t : topics) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

struct Admin::Impl {
  internal::ClientState state;
  internal::RdKafkaPtr rk;

  // Issues one admin request with |start| on a private queue and waits for
  // its result event up to |timeout| (+ slack). The event's top-level error
  // becomes the Status.
  Result<internal::EventPtr> Run(
      rd_kafka_admin_op_t op, std::chrono::milliseconds timeout, bool operation_timeout,
      bool validate_only, std::string_view what,
      const std::function<void(rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>& start);

  static void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque);
};

void Admin::Impl::ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  internal::HandleClientError(rk, err, reason, &static_cast<Impl*>(opaque)->state);
}

Result<internal::EventPtr> Admin::Impl::Run(
    rd_kafka_admin_op_t op, std::chrono::milliseconds timeout, bool operation_timeout,
    bool validate_only, std::string_view what,
    const std::function<void(rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>& start) {
  rd_kafka_poll(rk.get(), 0);  // serve client-level errors (error_cb)
  if (state.fatal()) return state.FatalStatus();
  internal::QueuePtr queue(rd_kafka_queue_new(rk.get()));
  internal::AdminOptionsPtr options(rd_kafka_AdminOptions_new(rk.get(), op));
  char errstr[256];
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), TimeoutMs(timeout), errstr,
                                                sizeof(errstr))) {
    return Status::InvalidArgument(fmt::format("{}: {}", what, errstr));
  }
  if (operation_timeout) {
    // How long the controller waits for the change to propagate.
    rd_kafka_AdminOptions_set_operation_timeout(options.get(), TimeoutMs(timeout), errstr,
                                                sizeof(errstr));
  }
  if (validate_only) {
    if (rd_kafka_AdminOptions_set_validate_only(options.get(), 1, errstr, sizeof(errstr))) {
      return Status::InvalidArgument(fmt::format("{}: {}", what, errstr));
    }
  }
  start(options.get(), queue.get());
  internal::EventPtr ev(rd_kafka_queue_poll(queue.get(), TimeoutMs(timeout + kQueueSlack)));
  if (!ev) {
    return Status(StatusCode::kTimeout,
                  fmt::format("{}: no answer from the cluster within {} ms", what, timeout.count()),
                  rd_kafka_err2name(RD_KAFKA_RESP_ERR__TIMED_OUT));
  }
  rd_kafka_resp_err_t err = rd_kafka_event_error(ev.get());
  if (err) return ErrorStatus(err, what, rd_kafka_event_error_string(ev.get()));
  return ev;
}

Result<std::unique_ptr<Admin>> Admin::Create(ClientConfig config) {
  auto impl = std::make_unique<Impl>();
  WEIR_ASSIGN_OR_RETURN(internal::ConfPtr conf, internal::BuildConf(config));
  rd_kafka_conf_set_error_cb(conf.get(), &Impl::ErrorCallback);
  rd_kafka_conf_set_opaque(conf.get(), impl.get());
  WEIR_ASSIGN_OR_RETURN(impl->rk, internal::NewClient(RD_KAFKA_PRODUCER, std::move(conf), config));
  return std::unique_ptr<Admin>(new Admin(std::move(impl)));
}

Admin::Admin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Admin::~Admin() = default;

Result<ClusterMetadata> Admin::Metadata(std::chrono::milliseconds timeout, bool include_internal) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(impl_->rk.get(), 1, nullptr, &md, TimeoutMs(timeout));
  if (err) return ErrorStatus(err, "cluster metadata");
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> owned(
      md, &rd_kafka_metadata_destroy);
  ClusterMetadata out;
  out.controller_id = -1;  // Metadata v0-v2 via this API does not expose it
  for (int i = 0; i < md->broker_cnt; ++i) {
    out.brokers.push_back(BrokerInfo{md->brokers[i].id, md->brokers[i].host, md->brokers[i].port});
  }
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    if (t.topic == nullptr) continue;
    if (!include_internal && std::string_view(t.topic).starts_with("__")) continue;
    TopicInfo info;
    info.name = t.topic;
    info.error = ErrorStatus(t.err, fmt::format("topic \"{}\"", info.name));
    for (int p = 0; p < t.partition_cnt; ++p) {
      const rd_kafka_metadata_partition_t& mp = t.partitions[p];
      PartitionInfo pi;
      pi.id = Partition(mp.id);
      pi.leader = mp.leader;
      pi.replicas.assign(mp.replicas, mp.replicas + mp.replica_cnt);
      pi.isr.assign(mp.isrs, mp.isrs + mp.isr_cnt);
      pi.error = ErrorStatus(mp.err, fmt::format("{} [{}]", info.name, mp.id));
      info.partitions.push_back(std::move(pi));
    }
    std::sort(info.partitions.begin(), info.partitions.end(),
              [](const PartitionInfo& a, const PartitionInfo& b) { return a.id < b.id; });
    out.topics.push_back(std::move(info));
  }
  std::sort(out.topics.begin(), out.topics.end(),
            [](const TopicInfo& a, const TopicInfo& b) { return a.name < b.name; });
  return out;
}

Result<std::vector<ItemResult>> Admin::CreateTopics(const std::vector<NewTopic>& topics,
                                                    std::chrono::milliseconds timeout,
                                                    bool validate_only) {
  if (topics.empty()) return std::vector<ItemResult>{};
  std::vector<rd_kafka_NewTopic_t*> news;
  auto free_news = [&news] {
    for (rd_kafka_NewTopic_t* n : news) rd_kafka_NewTopic_destroy(n);
  };
  char errstr[256];
  for (const NewTopic& t : topics) {
    rd_kafka_NewTopic_t* n =
        rd_kafka_NewTopic_new(t.name.c_str(), t.partitions, t.replication, errstr, sizeof(errstr));
    if (n == nullptr) {
      free_news();
      return Status::InvalidArgument(fmt::format("topic \"{}\": {}", t.name, errstr));
    }
    news.push_back(n);
    for (const auto& [k, v] : t.configs) {
      rd_kafka_resp_err_t err = rd_kafka_NewTopic_set_config(n, k.c_str(), v.c_str());
      if (err) {
        free_news();
        return ErrorStatus(err, fmt::format("topic \"{}\" config \"{}\"", t.name, k));
      }
    }
  }
  auto ev = impl_->Run(RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout, true, validate_only,
                       "create topics", [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                         rd_kafka_CreateTopics(impl_->rk.get(), news.data(), news.size(), o, q);
                       });
  free_news();
  if (!ev.ok()) return ev.status();
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev->get());
  if (res == nullptr) return Status::Internal("create topics: unexpected result event");
  size_t cnt = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &cnt);
  return TopicResults(results, cnt, "create topic");
}

Result<std::vector<ItemResult>> Admin::DeleteTopics(const std::vector<std::string>& topics,
                                                    std::chrono::milliseconds timeout) {
  if (topics.empty()) return std::vector<ItemResult>{};
  std::vector<rd_kafka_DeleteTopic_t*> dels;
  for (const std::string& t : topics) dels.push_back(rd_kafka_DeleteTopic_new(t.c_str()));
  auto ev = impl_->Run(RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout, true, false, "delete topics",
                       [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                         rd_kafka_DeleteTopics(impl_->rk.get(), dels.data(), dels.size(), o, q);
                       });
  rd_kafka_DeleteTopic_destroy_array(dels.data(), dels.size());
  if (!ev.ok()) return ev.status();
  const rd_kafka_DeleteTopics_result_t* res = rd_kafka_event_DeleteTopics_result(ev->get());
  if (res == nullptr) return Status::Internal("delete topics: unexpected result event");
  size_t cnt = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_DeleteTopics_result_topics(res, &cnt);
  return TopicResults(results, cnt, "delete topic");
}

Result<std::vector<ItemResult>> Admin::CreatePartitions(
    const std::vector<std::pair<std::string, int32_t>>& topic_totals,
    std::chrono::milliseconds timeout) {
  if (topic_totals.empty()) return std::vector<ItemResult>{};
  std::vector<rd_kafka_NewPartitions_t*> news;
  char errstr[256];
  for (const auto& [topic, total] : topic_totals) {
    rd_kafka_NewPartitions_t* n = rd_kafka_NewPartitions_new(
        topic.c_str(), static_cast<size_t>(std::max(total, 0)), errstr, sizeof(errstr));
    if (n == nullptr) {
      rd_kafka_NewPartitions_destroy_array(news.data(), news.size());
      return Status::InvalidArgument(fmt::format("topic \"{}\": {}", topic, errstr));
    }
    news.push_back(n);
  }
  auto ev = impl_->Run(RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, timeout, true, false,
                       "create partitions", [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                         rd_kafka_CreatePartitions(impl_->rk.get(), news.data(), news.size(), o, q);
                       });
  rd_kafka_NewPartitions_destroy_array(news.data(), news.size());
  if (!ev.ok()) return ev.status();
  const rd_kafka_CreatePartitions_result_t* res = rd_kafka_event_CreatePartitions_result(ev->get());
  if (res == nullptr) return Status::Internal("create partitions: unexpected result event");
  size_t cnt = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreatePartitions_result_topics(res, &cnt);
  return TopicResults(results, cnt, "create partitions for topic");
}

Result<std::map<std::string, ConfigEntry>> Admin::DescribeTopicConfigs(
    const std::string& topic, std::chrono::milliseconds timeout) {
  rd_kafka_ConfigResource_t* resource =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  const std::string what = fmt::format("describe configs of topic \"{}\"", topic);
  auto ev = impl_->Run(RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout, false, false, what,
                       [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                         rd_kafka_DescribeConfigs(impl_->rk.get(), &resource, 1, o, q);
                       });
  rd_kafka_ConfigResource_destroy(resource);
  if (!ev.ok()) return ev.status();
  const rd_kafka_DescribeConfigs_result_t* res = rd_kafka_event_DescribeConfigs_result(ev->get());
  if (res == nullptr) return Status::Internal(what + ": unexpected result event");
  size_t cnt = 0;
  const rd_kafka_ConfigResource_t** resources =
      rd_kafka_DescribeConfigs_result_resources(res, &cnt);
  if (cnt == 0) return Status::Internal(what + ": empty result");
  WEIR_RETURN_IF_ERROR(ResourceStatus(resources[0], what));
  size_t n = 0;
  const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(resources[0], &n);
  std::map<std::string, ConfigEntry> out;
  for (size_t i = 0; i < n; ++i) {
    const char* name = rd_kafka_ConfigEntry_name(entries[i]);
    const char* value = rd_kafka_ConfigEntry_value(entries[i]);
    if (name == nullptr) continue;
    ConfigEntry e;
    e.value = value != nullptr ? value : "";
    e.source = SourceFrom(rd_kafka_ConfigEntry_source(entries[i]));
    e.read_only = rd_kafka_ConfigEntry_is_read_only(entries[i]) != 0;
    e.sensitive = rd_kafka_ConfigEntry_is_sensitive(entries[i]) != 0;
    out.emplace(name, std::move(e));
  }
  return out;
}

Status Admin::AlterTopicConfigs(const std::string& topic,
                                const std::map<std::string, std::string>& changes,
                                std::chrono::milliseconds timeout) {
  if (changes.empty()) return Status::Ok();
  // AlterConfigs (non-incremental) replaces the topic's whole dynamic config
  // set, so resend every current dynamic topic config with the changes.
  auto current = DescribeTopicConfigs(topic, timeout);
  if (!current.ok()) return current.status();
  std::map<std::string, std::string> desired;
  for (const auto& [name, entry] : *current) {
    if (entry.source != ConfigSource::kDynamicTopic) continue;
    if (entry.sensitive && changes.count(name) == 0) {
      return Status::Refused(fmt::format(
          "topic \"{}\": config \"{}\" is sensitive, so its value cannot be read back and "
          "would be lost by AlterConfigs; set it explicitly together with the change",
          topic, name));
    }
    desired[name] = entry.value;
  }
  for (const auto& [name, value] : changes) desired[name] = value;

  rd_kafka_ConfigResource_t* resource =
      rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  for (const auto& [name, value] : desired) {
    rd_kafka_resp_err_t err =
        rd_kafka_ConfigResource_set_config(resource, name.c_str(), value.c_str());
    if (err) {
      rd_kafka_ConfigResource_destroy(resource);
      return ErrorStatus(err, fmt::format("topic \"{}\" config \"{}\"", topic, name));
    }
  }
  const std::string what = fmt::format("alter configs of topic \"{}\"", topic);
  auto ev = impl_->Run(RD_KAFKA_ADMIN_OP_ALTERCONFIGS, timeout, false, false, what,
                       [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                         rd_kafka_AlterConfigs(impl_->rk.get(), &resource, 1, o, q);
                       });
  rd_kafka_ConfigResource_destroy(resource);
  if (!ev.ok()) return ev.status();
  const rd_kafka_AlterConfigs_result_t* res = rd_kafka_event_AlterConfigs_result(ev->get());
  if (res == nullptr) return Status::Internal(what + ": unexpected result event");
  size_t cnt = 0;
  const rd_kafka_ConfigResource_t** resources = rd_kafka_AlterConfigs_result_resources(res, &cnt);
  for (size_t i = 0; i < cnt; ++i) WEIR_RETURN_IF_ERROR(ResourceStatus(resources[i], what));
  return Status::Ok();
}

Result<std::vector<GroupListing>> Admin::ListGroups(std::chrono::milliseconds timeout) {
  auto ev =
      impl_->Run(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, timeout, false, false,
                 "list consumer groups", [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                   rd_kafka_ListConsumerGroups(impl_->rk.get(), o, q);
                 });
  if (!ev.ok()) return ev.status();
  const rd_kafka_ListConsumerGroups_result_t* res =
      rd_kafka_event_ListConsumerGroups_result(ev->get());
  if (res == nullptr) return Status::Internal("list consumer groups: unexpected result event");
  // A broker that failed to answer makes the listing incomplete: report it
  // rather than return a partial list as if it were whole.
  size_t nerr = 0;
  const rd_kafka_error_t** errors = rd_kafka_ListConsumerGroups_result_errors(res, &nerr);
  if (nerr > 0) return ErrorStatus(errors[0], "list consumer groups");
  size_t cnt = 0;
  const rd_kafka_ConsumerGroupListing_t** groups =
      rd_kafka_ListConsumerGroups_result_valid(res, &cnt);
  std::vector<GroupListing> out;
  for (size_t i = 0; i < cnt; ++i) {
    GroupListing g;
    g.group_id = rd_kafka_ConsumerGroupListing_group_id(groups[i]);
    g.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(groups[i]));
    g.simple = rd_kafka_ConsumerGroupListing_is_simple_consumer_group(groups[i]) != 0;
    out.push_back(std::move(g));
  }
  return out;
}

Result<std::vector<GroupDescription>> Admin::DescribeGroups(const std::vector<std::string>& groups,
                                                            std::chrono::milliseconds timeout) {
  if (groups.empty()) return std::vector<GroupDescription>{};
  std::vector<const char*> names;
  for (const std::string& g : groups) names.push_back(g.c_str());
  auto ev = impl_->Run(
      RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, timeout, false, false, "describe consumer groups",
      [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
        rd_kafka_DescribeConsumerGroups(impl_->rk.get(), names.data(), names.size(), o, q);
      });
  if (!ev.ok()) return ev.status();
  const rd_kafka_DescribeConsumerGroups_result_t* res =
      rd_kafka_event_DescribeConsumerGroups_result(ev->get());
  if (res == nullptr) return Status::Internal("describe consumer groups: unexpected result event");
  size_t cnt = 0;
  const rd_kafka_ConsumerGroupDescription_t** descs =
      rd_kafka_DescribeConsumerGroups_result_groups(res, &cnt);
  std::vector<GroupDescription> out;
  for (size_t i = 0; i < cnt; ++i) {
    const rd_kafka_ConsumerGroupDescription_t* d = descs[i];
    GroupDescription g;
    g.group_id = rd_kafka_ConsumerGroupDescription_group_id(d);
    g.error = ErrorStatus(rd_kafka_ConsumerGroupDescription_error(d),
                          fmt::format("consumer group \"{}\"", g.group_id));
    g.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(d));
    const char* assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(d);
    g.protocol = assignor != nullptr ? assignor : "";
    const rd_kafka_Node_t* coord = rd_kafka_ConsumerGroupDescription_coordinator(d);
    g.coordinator_id = coord != nullptr ? rd_kafka_Node_id(coord) : -1;
    const size_t members = rd_kafka_ConsumerGroupDescription_member_count(d);
    for (size_t m = 0; m < members; ++m) {
      const rd_kafka_MemberDescription_t* md = rd_kafka_ConsumerGroupDescription_member(d, m);
      GroupMember gm;
      gm.member_id = rd_kafka_MemberDescription_consumer_id(md);
      gm.client_id = rd_kafka_MemberDescription_client_id(md);
      gm.host = rd_kafka_MemberDescription_host(md);
      const rd_kafka_MemberAssignment_t* a = rd_kafka_MemberDescription_assignment(md);
      if (a != nullptr) {
        gm.assignment = internal::FromListPartitions(rd_kafka_MemberAssignment_partitions(a));
      }
      g.members.push_back(std::move(gm));
    }
    out.push_back(std::move(g));
  }
  return out;
}

Result<std::vector<TopicPartitionOffset>> Admin::CommittedOffsets(
    const std::string& group, const std::vector<TopicPartition>& partitions,
    std::chrono::milliseconds timeout) {
  internal::TopicPartitionListPtr list;
  if (!partitions.empty()) list = internal::ToList(partitions);
  rd_kafka_ListConsumerGroupOffsets_t* req =
      rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), list.get());
  const std::string what = fmt::format("committed offsets of group \"{}\"", group);
  auto ev = impl_->Run(RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS, timeout, false, false, what,
                       [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                         rd_kafka_ListConsumerGroupOffsets(impl_->rk.get(), &req, 1, o, q);
                       });
  rd_kafka_ListConsumerGroupOffsets_destroy(req);
  if (!ev.ok()) return ev.status();
  const rd_kafka_ListConsumerGroupOffsets_result_t* res =
      rd_kafka_event_ListConsumerGroupOffsets_result(ev->get());
  if (res == nullptr) return Status::Internal(what + ": unexpected result event");
  size_t cnt = 0;
  const rd_kafka_group_result_t** groups =
      rd_kafka_ListConsumerGroupOffsets_result_groups(res, &cnt);
  if (cnt == 0) return Status::Internal(what + ": empty result");
  WEIR_RETURN_IF_ERROR(ErrorStatus(rd_kafka_group_result_error(groups[0]), what));
  const rd_kafka_topic_partition_list_t* offsets = rd_kafka_group_result_partitions(groups[0]);
  WEIR_RETURN_IF_ERROR(internal::FirstPartitionError(offsets, what));
  return internal::FromListOffsets(offsets);
}

Result<std::vector<DeleteRecordsResult>> Admin::DeleteRecords(
    const std::vector<TopicPartitionOffset>& before, std::chrono::milliseconds timeout) {
  if (before.empty()) return std::vector<DeleteRecordsResult>{};
  internal::TopicPartitionListPtr list = internal::ToList(before);
  rd_kafka_DeleteRecords_t* req = rd_kafka_DeleteRecords_new(list.get());
  auto ev = impl_->Run(RD_KAFKA_ADMIN_OP_DELETERECORDS, timeout, true, false, "delete records",
                       [&](rd_kafka_AdminOptions_t* o, rd_kafka_queue_t* q) {
                         rd_kafka_DeleteRecords(impl_->rk.get(), &req, 1, o, q);
                       });
  rd_kafka_DeleteRecords_destroy(req);
  if (!ev.ok()) return ev.status();
  const rd_kafka_DeleteRecords_result_t* res = rd_kafka_event_DeleteRecords_result(ev->get());
  if (res == nullptr) return Status::Internal("delete records: unexpected result event");
  const rd_kafka_topic_partition_list_t* offsets = rd_kafka_DeleteRecords_result_offsets(res);
  std::vector<DeleteRecordsResult> out;
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = offsets->elems[i];
    DeleteRecordsResult r;
    r.partition = TopicPartition{e.topic, Partition(e.partition)};
    if (e.err) {
      r.status = ErrorStatus(e.err, fmt::format("delete records of {} [{}]", e.topic, e.partition));
    } else {
      r.low_watermark = Offset(e.offset);
    }
    out.push_back(std::move(r));
  }
  std::sort(out.begin(), out.end(), [](const DeleteRecordsResult& a, const DeleteRecordsResult& b) {
    return a.partition < b.partition;
  });
  return out;
}

Result<std::pair<Offset, Offset>> Admin::ListOffsets(const TopicPartition& tp,
                                                     std::chrono::milliseconds timeout) {
  int64_t low = -1;
  int64_t high = -1;
  rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
      impl_->rk.get(), tp.topic.c_str(), tp.partition.value(), &low, &high, TimeoutMs(timeout));
  if (err) {
    return ErrorStatus(err, fmt::format("watermarks of {} [{}]", tp.topic, tp.partition.value()));
  }
  return std::make_pair(Offset(low), Offset(high));
}

void* Admin::native_handle() const { return impl_->rk.get(); }

}  // namespace weir::kafka
