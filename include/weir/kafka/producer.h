// weir/kafka/producer.h — an idempotent Kafka producer with per-record
// delivery confirmation, over librdkafka's C API.
//
// Defaults (each can be overridden by the ClientConfig, verbatim):
//   enable.idempotence=true, acks=all, compression.type=lz4,
//   linger.ms=5, message.timeout.ms=300000 (librdkafka's default).
//
// Every record sent gets exactly one delivery report: success with its
// partition and offset, or failure with librdkafka's error name and text.
// Reports are delivered on the producer's own poll thread; a callback must
// not block for long and must not throw (an exception that escapes a
// callback is caught, logged, and swallowed — it never reaches librdkafka).
//
// Threads: Send*() and Flush() may be called from any thread concurrently.
// Close() (or the destructor) flushes, waits for every outstanding report,
// and stops the poll thread; no Send*() may run concurrently with Close().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "weir/kafka/client_config.h"
#include "weir/record.h"
#include "weir/status.h"

namespace weir::kafka {

// One record to produce. The views must stay valid for the duration of the
// Send*() call only: librdkafka copies the bytes (unless copy_value is false).
struct ProduceRequest {
  std::string_view topic;
  Partition partition = kAnyPartition;
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  std::span<const HeaderView> headers;
  int64_t timestamp_ms = 0;  // 0 = now
  // False: librdkafka does not copy the value; the caller keeps the value's
  // bytes alive and unchanged until the record's report.
  bool copy_value = true;
};

// The outcome of one record.
struct DeliveryReport {
  Status status;  // OK when the record is acknowledged per `acks`
  std::string topic;
  Partition partition = kAnyPartition;
  Offset offset = kOffsetInvalid;
  int64_t timestamp_ms = -1;
  // From Send() to this report (librdkafka's message latency); -1 if unknown.
  std::chrono::microseconds latency{-1};
};

using DeliveryCallback = std::function<void(const DeliveryReport&)>;

// Receives delivery reports for records sent with SendWithToken(). Called on
// the poll thread; must not throw (exceptions are caught and logged).
class DeliveryListener {
 public:
  virtual ~DeliveryListener() = default;
  // |token| is the value given to SendWithToken(). The report's topic is a
  // view valid only during the call. |latency| runs from SendWithToken() to
  // this report (-1 if unknown).
  virtual void OnDelivery(uint64_t token, const Status& status, std::string_view topic,
                          Partition partition, Offset offset,
                          std::chrono::microseconds latency) = 0;
};

struct ProducerOptions {
  // Receives reports of SendWithToken(); may be null if it is not used.
  // Must outlive the Producer.
  DeliveryListener* listener = nullptr;
  // When librdkafka's queue is full, Send*() waits up to this long for room
  // (serving delivery reports meanwhile) before failing with QUEUE_FULL.
  std::chrono::milliseconds queue_full_wait{std::chrono::minutes(5)};
  // Run a poll thread. When false, the owner must call Poll() regularly.
  bool poll_thread = true;
};

class Producer {
 public:
  // Creates a producer. Fails with InvalidArgument naming the property for
  // an unknown or invalid librdkafka property.
  static Result<std::unique_ptr<Producer>> Create(ClientConfig config,
                                                  ProducerOptions options = {});
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Enqueues |req|; |cb| runs once with the outcome. A non-OK return means
  // the record was not enqueued and |cb| will not run.
  Status Send(const ProduceRequest& req, DeliveryCallback cb);
  // Enqueues |req|; the future resolves with the outcome.
  std::future<DeliveryReport> Send(const ProduceRequest& req);
  // Enqueues |req| without a per-record allocation; the outcome goes to
  // options.listener with |token|.
  Status SendWithToken(const ProduceRequest& req, uint64_t token);

  // Waits until every enqueued record has its report, up to |timeout|.
  Status Flush(std::chrono::milliseconds timeout);
  // Serves delivery reports on the calling thread (when poll_thread=false).
  int Poll(std::chrono::milliseconds timeout);
  // Records enqueued but not yet reported.
  int64_t InFlight() const;
  // Fails every record in librdkafka, queued (_PURGE_QUEUE) or in flight
  // (_PURGE_INFLIGHT), without blocking; each gets its report as usual. A
  // record in flight may still have reached the broker. The Publisher uses
  // this to take records back for its spool when the cluster stays
  // unreachable.
  void PurgeUndelivered();
  // Flushes (up to |timeout|) and stops. Records still unreported after the
  // timeout are reported as failed (_PURGE_QUEUE), never left silent.
  Status Close(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // The underlying rd_kafka_t*, for the admin layer and tests.
  void* native_handle() const;
  // The effective configuration (secrets redacted on print).
  const ClientConfig& config() const;

 private:
  struct Impl;
  explicit Producer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::kafka
