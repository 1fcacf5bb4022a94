#include "kafka/rdkafka_util.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "common/log.h"
#include "weir/topology.h"

namespace weir::kafka::internal {

StatusCode CodeForError(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
      return StatusCode::kOk;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
      return StatusCode::kTimeout;
    case RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
    case RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED:
      return StatusCode::kUnsupported;
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return StatusCode::kInvalidArgument;
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return StatusCode::kAlreadyExists;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
      return StatusCode::kNotFound;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
      return StatusCode::kUnavailable;
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
      return StatusCode::kCancelled;
    default:
      return StatusCode::kKafka;
  }
}

Status ErrorStatus(rd_kafka_resp_err_t err, std::string_view context) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  return ErrorStatus(err, context, rd_kafka_err2str(err));
}

Status ErrorStatus(rd_kafka_resp_err_t err, std::string_view context, std::string_view detail) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Ok();
  std::string msg;
  if (context.empty()) {
    msg = std::string(detail);
  } else {
    msg = fmt::format("{}: {}", context, detail);
  }
  return Status(CodeForError(err), std::move(msg), rd_kafka_err2name(err));
}

Status ErrorStatus(rd_kafka_resp_err_t err, std::string_view context, const char* detail) {
  return ErrorStatus(err, context,
                     std::string_view(detail != nullptr ? detail : rd_kafka_err2str(err)));
}

Status ErrorStatus(const rd_kafka_error_t* error, std::string_view context) {
  if (error == nullptr) return Status::Ok();
  return ErrorStatus(rd_kafka_error_code(error), context, rd_kafka_error_string(error));
}

Status SetConf(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char errstr[512];
  errstr[0] = '\0';
  rd_kafka_conf_res_t res =
      rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof(errstr));
  if (res == RD_KAFKA_CONF_OK) return Status::Ok();
  const bool secret = IsSecretProperty(name);
  if (res == RD_KAFKA_CONF_UNKNOWN) {
    return Status::InvalidArgument(fmt::format(
        "unknown librdkafka property \"{}\" (see librdkafka's CONFIGURATION.md)", name));
  }
  if (secret) {
    return Status::InvalidArgument(
        fmt::format("invalid value for librdkafka property \"{}\" (value [redacted])", name));
  }
  return Status::InvalidArgument(
      fmt::format("invalid value for librdkafka property \"{}\": {}", name, errstr));
}

void ClientState::SetFatal(Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (fatal_.load(std::memory_order_relaxed)) return;
  fatal_status_ = std::move(status);
  fatal_.store(true, std::memory_order_release);
}

Status ClientState::FatalStatus() const {
  if (!fatal()) return Status::Ok();
  std::lock_guard<std::mutex> lock(mu_);
  return fatal_status_;
}

void LogCallback(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  try {
    spdlog::level::level_enum lvl;
    if (level <= 2) {
      lvl = spdlog::level::critical;
    } else if (level == 3) {
      lvl = spdlog::level::err;
    } else if (level == 4) {
      lvl = spdlog::level::warn;
    } else if (level == 5) {
      lvl = spdlog::level::info;
    } else {
      lvl = spdlog::level::debug;
    }
    std::shared_ptr<spdlog::logger> logger = spdlog::default_logger();
    if (!logger || !logger->should_log(lvl)) return;
    logger->log(lvl, "rdkafka {} {}: {}", rk != nullptr ? rd_kafka_name(rk) : "-",
                fac != nullptr ? fac : "", buf != nullptr ? buf : "");
  } catch (...) {
    // Logging must never throw into librdkafka.
  }
}

void HandleClientError(rd_kafka_t* rk, int err, const char* reason, ClientState* state) {
  try {
    auto code = static_cast<rd_kafka_resp_err_t>(err);
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
      char buf[512];
      buf[0] = '\0';
      rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));
      Status st = ErrorStatus(orig != RD_KAFKA_RESP_ERR_NO_ERROR ? orig : code,
                              fmt::format("fatal error in {}", rd_kafka_name(rk)), buf);
      spdlog::error("{}", st.ToString());
      if (state != nullptr) state->SetFatal(std::move(st));
      return;
    }
    spdlog::warn("rdkafka {} error {}: {}", rd_kafka_name(rk), rd_kafka_err2name(code),
                 reason != nullptr ? reason : "");
  } catch (...) {
    // Never let an exception reach librdkafka.
  }
}

Result<ConfPtr> BuildConf(const ClientConfig& config) {
  ConfPtr conf(rd_kafka_conf_new());
  for (const auto& [name, value] : config.properties()) {
    WEIR_RETURN_IF_ERROR(SetConf(conf.get(), name, value));
  }
  rd_kafka_conf_set_log_cb(conf.get(), &LogCallback);
  return conf;
}

Result<RdKafkaPtr> NewClient(rd_kafka_type_t type, ConfPtr conf, const ClientConfig& config) {
  weir::log::EnsureStderr();  // librdkafka's logs and ours go to stderr, never stdout
  char errstr[512];
  errstr[0] = '\0';
  // rd_kafka_new takes ownership of the conf only on success.
  rd_kafka_t* rk = rd_kafka_new(type, conf.get(), errstr, sizeof(errstr));
  if (rk == nullptr) {
    // Cross-property checks may quote values: never let a secret through.
    std::string text(errstr);
    for (const auto& [name, value] : config.properties()) {
      if (value.empty() || !IsSecretProperty(name)) continue;
      for (size_t pos = text.find(value); pos != std::string::npos; pos = text.find(value, pos)) {
        text.replace(pos, value.size(), "[redacted]");
        pos += 10;
      }
    }
    return Status::InvalidArgument(fmt::format("cannot create Kafka client: {}", text));
  }
  (void)conf.release();
  return RdKafkaPtr(rk);
}

TopicPartitionListPtr ToList(const std::vector<TopicPartition>& partitions) {
  TopicPartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(std::max<size_t>(1, partitions.size()))));
  for (const TopicPartition& tp : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition.value());
  }
  return list;
}

TopicPartitionListPtr ToList(const std::vector<TopicPartitionOffset>& offsets) {
  TopicPartitionListPtr list(
      rd_kafka_topic_partition_list_new(static_cast<int>(std::max<size_t>(1, offsets.size()))));
  for (const TopicPartitionOffset& tpo : offsets) {
    rd_kafka_topic_partition_t* p =
        rd_kafka_topic_partition_list_add(list.get(), tpo.topic.c_str(), tpo.partition.value());
    p->offset = tpo.offset.value();
    if (!tpo.metadata.empty()) {
      // librdkafka frees metadata with free(); allocate it with malloc.
      p->metadata = malloc(tpo.metadata.size());
      if (p->metadata != nullptr) {
        memcpy(p->metadata, tpo.metadata.data(), tpo.metadata.size());
        p->metadata_size = tpo.metadata.size();
      }
    }
  }
  return list;
}

std::vector<TopicPartition> FromListPartitions(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  if (list == nullptr) return out;
  out.reserve(static_cast<size_t>(list->cnt));
  for (int i = 0; i < list->cnt; ++i) {
    out.push_back(TopicPartition{list->elems[i].topic, Partition(list->elems[i].partition)});
  }
  return out;
}

std::vector<TopicPartitionOffset> FromListOffsets(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartitionOffset> out;
  if (list == nullptr) return out;
  out.reserve(static_cast<size_t>(list->cnt));
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = list->elems[i];
    TopicPartitionOffset tpo{e.topic, Partition(e.partition), Offset(e.offset), {}};
    if (e.metadata != nullptr && e.metadata_size > 0) {
      tpo.metadata.assign(static_cast<const char*>(e.metadata), e.metadata_size);
    }
    out.push_back(std::move(tpo));
  }
  return out;
}

Status FirstPartitionError(const rd_kafka_topic_partition_list_t* list, std::string_view context) {
  if (list == nullptr) return Status::Ok();
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& e = list->elems[i];
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return ErrorStatus(e.err, fmt::format("{} {} [{}]", context, e.topic, e.partition));
    }
  }
  return Status::Ok();
}

int TimeoutMs(std::chrono::milliseconds timeout) {
  if (timeout.count() < 0) return 0;
  if (timeout.count() > INT_MAX) return INT_MAX;
  return static_cast<int>(timeout.count());
}

}  // namespace weir::kafka::internal
