// kafka/rdkafka_util.h — internal helpers over librdkafka's C API: RAII
// handles, error → Status conversion, configuration building and the log
// and error callbacks shared by every client. Not part of the public API.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "weir/kafka/client_config.h"
#include "weir/record.h"
#include "weir/status.h"

namespace weir::kafka::internal {

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct TopicPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};

using RdKafkaPtr = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using TopicPartitionListPtr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, TopicPartitionListDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;
using AdminOptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter>;
using HeadersPtr = std::unique_ptr<rd_kafka_headers_t, HeadersDeleter>;

// The StatusCode that best describes |err| (kTimeout for timeouts,
// kUnsupported for features the broker lacks, ... else kKafka).
StatusCode CodeForError(rd_kafka_resp_err_t err);

// A Status for |err|: kafka_error() is rd_kafka_err2name(err) and the message
// is "<context>: <rd_kafka_err2str(err)>". Ok() for RD_KAFKA_RESP_ERR_NO_ERROR.
Status ErrorStatus(rd_kafka_resp_err_t err, std::string_view context);
// Same, with librdkafka's own error text |detail| instead of err2str.
Status ErrorStatus(rd_kafka_resp_err_t err, std::string_view context, std::string_view detail);
// Same, for librdkafka's *_error_string() results: null means "use err2str".
Status ErrorStatus(rd_kafka_resp_err_t err, std::string_view context, const char* detail);
// Same, from an rd_kafka_error_t (may be null → Ok()). Does not take ownership.
Status ErrorStatus(const rd_kafka_error_t* error, std::string_view context);

// Sets |name|=|value| on |conf|. An unknown or invalid property becomes
// InvalidArgument naming the property; librdkafka's explanation (which may
// quote the value) is included only when the property is not secret.
Status SetConf(rd_kafka_conf_t* conf, const std::string& name, const std::string& value);

// Per-client state reachable from the log and error callbacks: the fatal
// error, if one was raised. Lives as long as the rd_kafka_t that uses it.
class ClientState {
 public:
  // Records the client's fatal error (called from error_cb).
  void SetFatal(Status status);
  bool fatal() const { return fatal_.load(std::memory_order_acquire); }
  // The fatal error, or Ok().
  Status FatalStatus() const;

 private:
  std::atomic<bool> fatal_{false};
  mutable std::mutex mu_;
  Status fatal_status_;  // GUARDED_BY(mu_)
};

// Creates a conf holding every property of |config| with LogCallback
// installed. Each client then sets its own opaque and an error_cb that calls
// HandleClientError with its ClientState.
Result<ConfPtr> BuildConf(const ClientConfig& config);

// The log callback: librdkafka's logs through spdlog (the "weir" logger when
// set up, else spdlog's default). Safe from any librdkafka thread.
void LogCallback(const rd_kafka_t* rk, int level, const char* fac, const char* buf);

// Handles a client-level error from error_cb: logs it and, when fatal,
// records the fatal error (rd_kafka_fatal_error) into |state|.
void HandleClientError(rd_kafka_t* rk, int err, const char* reason, ClientState* state);

// Creates the client. |conf| is consumed on success and on failure.
// |config| is the source of |conf|: the value of every secret property is
// redacted from librdkafka's error text.
Result<RdKafkaPtr> NewClient(rd_kafka_type_t type, ConfPtr conf, const ClientConfig& config);

// Conversions between weir's partition lists and librdkafka's.
TopicPartitionListPtr ToList(const std::vector<TopicPartition>& partitions);
TopicPartitionListPtr ToList(const std::vector<TopicPartitionOffset>& offsets);
std::vector<TopicPartition> FromListPartitions(const rd_kafka_topic_partition_list_t* list);
std::vector<TopicPartitionOffset> FromListOffsets(const rd_kafka_topic_partition_list_t* list);
// The first per-partition error in |list| as a Status naming the partition.
Status FirstPartitionError(const rd_kafka_topic_partition_list_t* list, std::string_view context);

// Clamps a duration to librdkafka's int timeout in milliseconds.
int TimeoutMs(std::chrono::milliseconds timeout);

}  // namespace weir::kafka::internal
