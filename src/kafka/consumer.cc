#include "weir/kafka/consumer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "kafka/rdkafka_util.h"

namespace weir::kafka {
namespace {

using Clock = std::chrono::steady_clock;

// Forced off: weir commits explicitly (see consumer.h).
constexpr const char* kForcedOff[] = {"enable.auto.commit", "enable.auto.offset.store"};

bool IsFalse(const std::string& v) { return v == "false" || v == "0"; }

}  // namespace

struct Consumer::Impl {
  ClientConfig config;
  ConsumerOptions options;
  internal::ClientState state;
  internal::RdKafkaPtr rk;
  // The consumer queue, for Wakeup(); released before |rk| is destroyed.
  internal::QueuePtr consumer_queue;
  std::atomic<bool> wakeup{false};
  bool closed = false;

  void OnRebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);

  static void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void OffsetCommitCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                   rd_kafka_topic_partition_list_t* offsets, void* opaque);
};

void Consumer::Impl::OnRebalance(rd_kafka_resp_err_t err,
                                 rd_kafka_topic_partition_list_t* partitions) {
  const char* proto = rd_kafka_rebalance_protocol(rk.get());
  const bool cooperative = proto != nullptr && std::strcmp(proto, "COOPERATIVE") == 0;
  std::vector<TopicPartition> tps = internal::FromListPartitions(partitions);
  RebalanceListener* listener = options.listener;

  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (cooperative) {
      internal::ErrorPtr error(rd_kafka_incremental_assign(rk.get(), partitions));
      if (error)
        spdlog::error("{}", internal::ErrorStatus(error.get(), "incremental assign").ToString());
    } else {
      rd_kafka_resp_err_t e = rd_kafka_assign(rk.get(), partitions);
      if (e) spdlog::error("{}", internal::ErrorStatus(e, "assign").ToString());
    }
    if (listener != nullptr && !tps.empty()) {
      try {
        listener->OnAssigned(tps);
      } catch (const std::exception& e) {
        spdlog::error("rebalance listener OnAssigned threw: {}", e.what());
      } catch (...) {
        spdlog::error("rebalance listener OnAssigned threw a non-standard exception");
      }
    }
    return;
  }

  if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    spdlog::error("rebalance error: {}", rd_kafka_err2str(err));
  }
  const bool lost = rd_kafka_assignment_lost(rk.get()) != 0;
  // The listener runs first, while the partitions are still ours, so that
  // it can commit with a valid generation.
  if (listener != nullptr && !tps.empty()) {
    try {
      listener->OnRevoked(tps, lost);
    } catch (const std::exception& e) {
      spdlog::error("rebalance listener OnRevoked threw: {}", e.what());
    } catch (...) {
      spdlog::error("rebalance listener OnRevoked threw a non-standard exception");
    }
  }
  if (cooperative) {
    internal::ErrorPtr error(rd_kafka_incremental_unassign(rk.get(), partitions));
    if (error) {
      spdlog::error("{}", internal::ErrorStatus(error.get(), "incremental unassign").ToString());
    }
  } else {
    rd_kafka_resp_err_t e = rd_kafka_assign(rk.get(), nullptr);
    if (e) spdlog::error("{}", internal::ErrorStatus(e, "unassign").ToString());
  }
}

void Consumer::Impl::RebalanceCallback(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                                       rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  try {
    static_cast<Impl*>(opaque)->OnRebalance(err, partitions);
  } catch (...) {
    spdlog::error("unexpected exception in the rebalance callback");
  }
}

void Consumer::Impl::ErrorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  internal::HandleClientError(rk, err, reason, &static_cast<Impl*>(opaque)->state);
}

void Consumer::Impl::OffsetCommitCallback(rd_kafka_t* /*rk*/, rd_kafka_resp_err_t err,
                                          rd_kafka_topic_partition_list_t* offsets,
                                          void* /*opaque*/) {
  try {
    if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;  // nothing to commit
    Status s = err ? internal::ErrorStatus(err, "offset commit")
                   : internal::FirstPartitionError(offsets, "offset commit");
    if (!s.ok()) spdlog::warn("{}", s.ToString());
  } catch (...) {
    // Never let an exception reach librdkafka.
  }
}

Result<std::unique_ptr<Consumer>> Consumer::Create(ClientConfig config, ConsumerOptions options) {
  for (const char* name : kForcedOff) {
    if (config.Has(name) && !IsFalse(config.Get(name))) {
      return Status::InvalidArgument(fmt::format(
          "librdkafka property \"{}\" cannot be enabled: weir commits offsets explicitly", name));
    }
    config.Set(name, "false");
  }
  config.SetDefault("auto.offset.reset", "earliest");
  config.SetDefault("partition.assignment.strategy", "range,roundrobin");
  if (!options.group_id.empty()) config.Set("group.id", options.group_id);
  if (config.Get("group.id").empty()) {
    // librdkafka's assign API needs a consumer group handle even without
    // group management. A private id gives it one; a consumer that never
    // calls Subscribe() never joins, and commits only when asked.
    static std::atomic<uint64_t> counter{0};
    config.Set("group.id", fmt::format("weir-assign-{}-{}", getpid(), counter.fetch_add(1)));
  }

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  WEIR_ASSIGN_OR_RETURN(internal::ConfPtr conf, internal::BuildConf(config));
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Impl::RebalanceCallback);
  rd_kafka_conf_set_error_cb(conf.get(), &Impl::ErrorCallback);
  rd_kafka_conf_set_offset_commit_cb(conf.get(), &Impl::OffsetCommitCallback);
  rd_kafka_conf_set_opaque(conf.get(), impl.get());
  impl->config = std::move(config);
  WEIR_ASSIGN_OR_RETURN(impl->rk,
                        internal::NewClient(RD_KAFKA_CONSUMER, std::move(conf), impl->config));
  // Serve errors and logs-as-events from the consumer queue, i.e. in Poll().
  rd_kafka_poll_set_consumer(impl->rk.get());
  impl->consumer_queue.reset(rd_kafka_queue_get_consumer(impl->rk.get()));
  return std::unique_ptr<Consumer>(new Consumer(std::move(impl)));
}

Consumer::Consumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Consumer::~Consumer() {
  if (impl_ && !impl_->closed) {
    Status s = Close();
    if (!s.ok()) spdlog::warn("closing consumer: {}", s.ToString());
  }
}

Status Consumer::Subscribe(const std::vector<std::string>& topics) {
  internal::TopicPartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const std::string& t : topics) {
    rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  return internal::ErrorStatus(rd_kafka_subscribe(impl_->rk.get(), list.get()), "subscribe");
}

Status Consumer::Assign(const std::vector<TopicPartitionOffset>& partitions) {
  internal::TopicPartitionListPtr list = internal::ToList(partitions);
  return internal::ErrorStatus(rd_kafka_assign(impl_->rk.get(), list.get()), "assign");
}

Result<std::vector<Record>> Consumer::Poll(std::chrono::milliseconds timeout, size_t max_records) {
  Impl& d = *impl_;
  std::vector<Record> out;
  if (d.closed) return Status::Cancelled("consumer is closed");
  const auto deadline = Clock::now() + timeout;
  while (out.size() < max_records) {
    if (d.state.fatal()) return d.state.FatalStatus();
    int wait_ms = 0;
    if (out.empty()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      wait_ms = internal::TimeoutMs(left);
    }
    rd_kafka_message_t* msg = rd_kafka_consumer_poll(d.rk.get(), wait_ms);
    if (msg == nullptr) {
      // Either the wait ran out, nothing more is ready, or Wakeup() yielded.
      if (!out.empty() || wait_ms == 0) break;
      if (d.wakeup.exchange(false)) break;
      continue;
    }
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      out.push_back(Record::FromRdKafkaMessage(msg));
      continue;
    }
    const rd_kafka_resp_err_t err = msg->err;
    if (err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      rd_kafka_message_destroy(msg);
      continue;
    }
    std::string where;
    if (msg->rkt != nullptr) {
      where = fmt::format("consuming {} [{}]", rd_kafka_topic_name(msg->rkt), msg->partition);
    } else {
      where = "consumer";
    }
    Status s = internal::ErrorStatus(err, where, rd_kafka_message_errstr(msg));
    rd_kafka_message_destroy(msg);
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      return d.state.fatal() ? d.state.FatalStatus() : s;
    }
    spdlog::warn("{}", s.ToString());
  }
  return out;
}

Status Consumer::Commit(const std::vector<TopicPartitionOffset>& offsets) {
  if (offsets.empty()) return Status::Ok();
  internal::TopicPartitionListPtr list = internal::ToList(offsets);
  rd_kafka_resp_err_t err = rd_kafka_commit(impl_->rk.get(), list.get(), 0);
  Status partition_error = internal::FirstPartitionError(list.get(), "commit of");
  if (!partition_error.ok() || !err) return partition_error;
  return internal::ErrorStatus(
      err, fmt::format("commit of {} [{}]{}", offsets[0].topic, offsets[0].partition.value(),
                       offsets.size() > 1 ? " and others" : ""));
}

Status Consumer::CommitAsync(const std::vector<TopicPartitionOffset>& offsets) {
  if (offsets.empty()) return Status::Ok();
  internal::TopicPartitionListPtr list = internal::ToList(offsets);
  return internal::ErrorStatus(rd_kafka_commit(impl_->rk.get(), list.get(), 1), "commit");
}

Status Consumer::Pause(const std::vector<TopicPartition>& partitions) {
  internal::TopicPartitionListPtr list = internal::ToList(partitions);
  rd_kafka_resp_err_t err = rd_kafka_pause_partitions(impl_->rk.get(), list.get());
  if (err) return internal::ErrorStatus(err, "pause");
  return internal::FirstPartitionError(list.get(), "pause");
}

Status Consumer::Resume(const std::vector<TopicPartition>& partitions) {
  internal::TopicPartitionListPtr list = internal::ToList(partitions);
  rd_kafka_resp_err_t err = rd_kafka_resume_partitions(impl_->rk.get(), list.get());
  if (err) return internal::ErrorStatus(err, "resume");
  return internal::FirstPartitionError(list.get(), "resume");
}

Status Consumer::Seek(const TopicPartition& tp, Offset offset, std::chrono::milliseconds timeout) {
  internal::TopicPartitionListPtr list = internal::ToList(
      std::vector<TopicPartitionOffset>{TopicPartitionOffset{tp.topic, tp.partition, offset, {}}});
  internal::ErrorPtr error(
      rd_kafka_seek_partitions(impl_->rk.get(), list.get(), internal::TimeoutMs(timeout)));
  if (error) return internal::ErrorStatus(error.get(), "seek");
  return internal::FirstPartitionError(list.get(), "seek");
}

Result<std::vector<TopicPartitionOffset>> Consumer::OffsetsForTimes(
    const std::vector<TopicPartitionOffset>& timestamps, std::chrono::milliseconds timeout) {
  internal::TopicPartitionListPtr list = internal::ToList(timestamps);
  rd_kafka_resp_err_t err =
      rd_kafka_offsets_for_times(impl_->rk.get(), list.get(), internal::TimeoutMs(timeout));
  if (err) return internal::ErrorStatus(err, "offsets for times");
  WEIR_RETURN_IF_ERROR(internal::FirstPartitionError(list.get(), "offsets for times"));
  std::vector<TopicPartitionOffset> out = internal::FromListOffsets(list.get());
  for (TopicPartitionOffset& tpo : out) {
    if (tpo.offset.value() < 0) tpo.offset = kOffsetEnd;
  }
  return out;
}

Result<std::vector<TopicPartitionOffset>> Consumer::Committed(
    const std::vector<TopicPartition>& partitions, std::chrono::milliseconds timeout) {
  internal::TopicPartitionListPtr list = internal::ToList(partitions);
  rd_kafka_resp_err_t err =
      rd_kafka_committed(impl_->rk.get(), list.get(), internal::TimeoutMs(timeout));
  if (err) return internal::ErrorStatus(err, "committed offsets");
  WEIR_RETURN_IF_ERROR(internal::FirstPartitionError(list.get(), "committed offsets"));
  return internal::FromListOffsets(list.get());
}

Result<Watermarks> Consumer::QueryWatermarks(const TopicPartition& tp,
                                             std::chrono::milliseconds timeout) {
  int64_t low = -1;
  int64_t high = -1;
  rd_kafka_resp_err_t err =
      rd_kafka_query_watermark_offsets(impl_->rk.get(), tp.topic.c_str(), tp.partition.value(),
                                       &low, &high, internal::TimeoutMs(timeout));
  if (err) {
    return internal::ErrorStatus(
        err, fmt::format("watermarks of {} [{}]", tp.topic, tp.partition.value()));
  }
  return Watermarks{Offset(low), Offset(high)};
}

Watermarks Consumer::CachedWatermarks(const TopicPartition& tp) const {
  int64_t low = -1;
  int64_t high = -1;
  if (rd_kafka_get_watermark_offsets(impl_->rk.get(), tp.topic.c_str(), tp.partition.value(), &low,
                                     &high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Watermarks{};
  }
  return Watermarks{low >= 0 ? Offset(low) : kOffsetInvalid,
                    high >= 0 ? Offset(high) : kOffsetInvalid};
}

Result<std::vector<TopicPartition>> Consumer::Assignment() const {
  rd_kafka_topic_partition_list_t* raw = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_assignment(impl_->rk.get(), &raw);
  internal::TopicPartitionListPtr list(raw);
  if (err) return internal::ErrorStatus(err, "assignment");
  return internal::FromListPartitions(list.get());
}

RebalanceProtocol Consumer::rebalance_protocol() const {
  const char* p = rd_kafka_rebalance_protocol(impl_->rk.get());
  if (p == nullptr || std::strcmp(p, "NONE") == 0) return RebalanceProtocol::kNone;
  if (std::strcmp(p, "COOPERATIVE") == 0) return RebalanceProtocol::kCooperative;
  return RebalanceProtocol::kEager;
}

std::string Consumer::MemberId() const {
  char* id = rd_kafka_memberid(impl_->rk.get());
  if (id == nullptr) return {};
  std::string out(id);
  rd_kafka_mem_free(impl_->rk.get(), id);
  return out;
}

void Consumer::Wakeup() {
  // Yielding the consumer queue makes the rd_kafka_consumer_poll() blocked in
  // Poll(), or the next one, return at once with no message; the flag tells
  // Poll() to return rather than wait out its timeout.
  impl_->wakeup.store(true);
  rd_kafka_queue_yield(impl_->consumer_queue.get());
}

Status Consumer::Close() {
  Impl& d = *impl_;
  if (d.closed) return Status::Ok();
  d.closed = true;
  // Revokes the assignment through the rebalance callback (listener first),
  // leaves the group and stops fetching.
  rd_kafka_resp_err_t err = rd_kafka_consumer_close(d.rk.get());
  // The handle itself is destroyed with the Consumer.
  return internal::ErrorStatus(err, "closing consumer");
}

void* Consumer::native_handle() const { return impl_->rk.get(); }

}  // namespace weir::kafka
