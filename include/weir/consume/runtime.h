// weir/consume/runtime.h — runs one consumer group of weir.yaml: decoded
// events to handlers, with at-least-once commits, per-key ordering,
// retries, timeouts, a dead-letter queue, de-duplication and reordering.
//
//   auto rt = consume::GroupRuntime::Create(topology, "alpr-storage-service", config);
//   (*rt)->OnEventType("PlateEvent", [&](const consume::Message& m) {
//     if (!store.Insert(m.json())) return consume::HandlerResult::Retry("db busy");
//     return consume::HandlerResult::Ok();
//   });
//   (*rt)->Start();  ...  (*rt)->Stop(std::chrono::seconds(30));
//
// What it promises (docs/consumer.md has the design):
//  - At-least-once. An offset is committed only up to the last contiguous
//    record that is finished — handled, de-duplicated, or dead-lettered with
//    the DLQ write confirmed. Commits happen every commit_interval, when
//    partitions are revoked (after their in-flight work is finished or, past
//    revoke_timeout, abandoned uncommitted) and at Stop().
//  - Ordering (the group's `ordering:`): `partition` runs one record of a
//    partition at a time; `key` runs records of one key in order and different
//    keys in parallel, up to `concurrency` at once — more workers than
//    partitions; `unordered` runs any record on any worker. A record waiting
//    for a retry holds back only its own key (or partition in `partition`
//    mode); every other key keeps flowing.
//  - Retries per the group's `retry:` policy, on the classes it lists: first
//    the immediate attempts, then exponential backoff with jitter, capped.
//    The waiting record sits in a delay queue, not on a worker.
//  - A processing timeout per record (`timeout:`). A record that times out
//    counts as a TIMEOUT failure and its worker slot is given to a fresh
//    thread at once. The hung handler thread is not killed (C++ cannot
//    safely kill a thread): Message::cancelled() turns true so a cooperative
//    handler can give up, and its eventual result is discarded.
//  - A record that cannot be decoded or fails its schema is a poison pill:
//    SCHEMA_VALIDATION, dead-lettered at once, never retried, never blocking.
//  - Dead letters (dead_letter.h) are written to the group's `dlq:` topic and
//    confirmed before the record counts as finished. While the DLQ cannot be
//    written, the group pauses its partitions, keeps retrying the DLQ write,
//    and commits nothing past the record. A group with no `dlq:` stops with
//    an error naming the record instead.
//  - De-duplication (`dedup:`) by the listed fields of the decoded event,
//    across all of the group's topics (so a group reading a topic and its
//    static mirror_topic handles each event once), within the TTL; kept
//    in memory, or also in SQLite when `persistent: true`.
//  - Reordering (`reorder:`) of each key's records by a sequence field,
//    within `tolerance`, holding at most `window` records per key; records
//    later than that are dropped (counted) or dead-lettered, per `late:`.
//  - Topic migrations (`weir migrate`, weir/migrate/state.h): the group's
//    topics follow the cluster's migration state, and a migration's marked
//    copies are finished unhandled (their twins are handled).
//
// Threads: one poll thread owns the Kafka consumer; `concurrency` worker
// threads run handlers; one timer thread runs retries, timeouts, reorder
// flushes and DLQ re-sends. Handlers run on worker threads, several at once
// (never two records of one key at once in `key` mode, nor of one partition
// in `partition` mode), so they must be thread-safe. An exception escaping a
// handler is caught and counts as UNKNOWN; none crosses a thread or a
// librdkafka callback. Every public method may be called from any thread
// except from inside a handler (Stop() from a handler would wait for itself).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/kafka/client_config.h"
#include "weir/record.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::registry {
class Registry;
}
namespace weir::observe {
class Registry;
}

namespace weir::consume {

// What a handler returns: success, or a failure with its class.
class HandlerResult {
 public:
  static HandlerResult Ok() { return HandlerResult(); }
  static HandlerResult Fail(ErrorClass error_class, std::string message, std::string context = {}) {
    HandlerResult r;
    r.ok_ = false;
    r.error_class_ = error_class;
    r.message_ = std::move(message);
    r.context_ = std::move(context);
    return r;
  }
  // A transient failure (PROCESSING_FAILURE): retried when the policy says.
  static HandlerResult Retry(std::string message, std::string context = {}) {
    return Fail(ErrorClass::kProcessingFailure, std::move(message), std::move(context));
  }
  // The event is well formed but cannot be accepted (BUSINESS_LOGIC).
  static HandlerResult Reject(std::string message, std::string context = {}) {
    return Fail(ErrorClass::kBusinessLogic, std::move(message), std::move(context));
  }

  bool ok() const { return ok_; }
  ErrorClass error_class() const { return error_class_; }
  const std::string& message() const { return message_; }
  const std::string& context() const { return context_; }

 private:
  bool ok_ = true;
  ErrorClass error_class_ = ErrorClass::kUnknown;
  std::string message_;
  std::string context_;
};

// One record as a handler sees it. Valid only during the handler call.
class Message {
 public:
  virtual ~Message() = default;
  // The Kafka record: topic, partition, offset, timestamp, key, value, headers.
  virtual const Record& record() const = 0;
  // The event type (the record's "weir-event-type" header, else the only
  // event type routed to its topic); "" when unknown.
  virtual std::string_view event_type() const = 0;
  // The decoded event as JSON: Avro (Confluent-framed) decoded with the
  // writer's schema from the registry and resolved to the event type's
  // schema; JSON events as received. "" for a record of no known event
  // type that has a null value.
  virtual std::string_view json() const = 0;
  // 1 for the first attempt, 2 for the first retry, ...
  virtual int attempt() const = 0;
  // The value of the dedup key ("" when the group has no dedup).
  virtual std::string_view dedup_key() const = 0;
  // True once the processing timeout has passed for this attempt: the
  // result will be discarded, the handler should return.
  virtual bool cancelled() const = 0;
};

using Handler = std::function<HandlerResult(const Message&)>;

// Time as the runtime sees it: steady time for retries, timeouts and reorder
// flushes. Tests inject a ManualClock to observe schedules without sleeping.
class Clock {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Waits on |cv| (with |lock| held) until notified or until Now() reaches
  // |deadline|. May return early (spuriously).
  virtual void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                         TimePoint deadline) const = 0;
  // The real steady clock.
  static const Clock& Steady();
};

// A clock that moves only when Advance() is called; thread-safe.
class ManualClock : public Clock {
 public:
  TimePoint Now() const override;
  void WaitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                 TimePoint deadline) const override;
  void Advance(std::chrono::nanoseconds d);

 private:
  mutable std::mutex mu_;
  TimePoint now_{std::chrono::hours(1)};
};

// A retry that was scheduled, reported to RuntimeOptions::on_retry.
struct RetryScheduled {
  TopicPartition tp;
  Offset offset;
  int next_attempt = 0;  // the attempt that will run
  std::chrono::milliseconds delay{0};
  Clock::TimePoint due;
  ErrorClass error_class = ErrorClass::kUnknown;
};

struct RuntimeOptions {
  // How often finished offsets are committed (asynchronously).
  std::chrono::milliseconds commit_interval{1000};
  // How long a revocation waits for the revoked partitions' running handlers
  // and DLQ writes before abandoning them (uncommitted).
  std::chrono::milliseconds revoke_timeout{std::chrono::seconds(30)};
  // Records read but not finished, per partition; at it the partition is
  // paused until three quarters of them are finished. A pause drops what
  // librdkafka has prefetched for the partition, so the gap is kept wide.
  size_t max_pending_per_partition = 20000;
  // How long a reorder buffer holds a record waiting for an earlier one.
  std::chrono::milliseconds reorder_max_wait{1000};
  // False: records are not decoded — Message::json() and event_type() are
  // empty, nothing is validated — for handlers that read raw records (the
  // DLQ monitor reads dead letters, whose values are other topics' events).
  // A group with dedup: or reorder: needs decoding.
  bool decode = true;
  // Overrides of the group's settings (tests, benchmarks, the CLI).
  std::optional<int> concurrency;
  // Where persistent dedup keeps its SQLite file; default
  // "<topology folder>/.weir/dedup/<group>.sqlite".
  std::string dedup_path;
  // The registry used to decode Avro; null = open the topology's. Must
  // outlive the runtime.
  registry::Registry* registry = nullptr;
  // The clock; null = Clock::Steady(). Must outlive the runtime.
  const Clock* clock = nullptr;
  // Seed of the backoff jitter; 0 = random.
  uint64_t jitter_seed = 0;
  // Where the group's metrics go (docs/metrics.md); null = none. Must
  // outlive the runtime.
  observe::Registry* metrics = nullptr;
  // Called (on a worker thread, under no lock) whenever a retry is
  // scheduled. Must not throw or block.
  std::function<void(const RetryScheduled&)> on_retry;
  // Follow the cluster's topic migrations (weir/migrate/control.h): the
  // group's topics change as `weir migrate` steps are recorded, and it skips
  // a migration's copies whose twins it handles. False keeps weir.yaml's
  // topics.
  bool watch_migrations = true;
  // How often the migration watcher reports that this member is alive.
  std::chrono::milliseconds migration_heartbeat{5000};
};

struct GroupStats {
  uint64_t received = 0;           // records read from Kafka
  uint64_t handled = 0;            // handler returned success
  uint64_t attempts = 0;           // handler calls
  uint64_t retries = 0;            // retries scheduled
  uint64_t timeouts = 0;           // attempts that timed out
  uint64_t dead_lettered = 0;      // dead letters confirmed by the DLQ
  uint64_t dlq_errors = 0;         // DLQ writes that failed (and were retried)
  uint64_t duplicates = 0;         // dropped by dedup
  uint64_t reordered = 0;          // records released out of arrival order
  uint64_t late_dropped = 0;       // records later than the reorder tolerance, dropped
  uint64_t abandoned = 0;          // unfinished records given up on revoke/stop (redelivered)
  uint64_t commits = 0;            // offset commits sent
  uint64_t migration_skipped = 0;  // a migration's copies finished unhandled (migrate/state.h)
  uint64_t dead_by_class[5] = {};  // dead letters by ErrorClass
  int64_t in_flight = 0;           // records read and not yet finished
  int64_t waiting_retry = 0;       // records in the delay queue
  int64_t running = 0;             // handler calls in progress
  int64_t hung = 0;                // timed-out handler calls that have not returned
  bool dlq_blocked = false;        // the DLQ cannot be written; partitions paused
  size_t assigned_partitions = 0;
  size_t paused_partitions = 0;  // paused for backpressure, a blocked DLQ or stopping
};

class GroupRuntime {
 public:
  // Prepares group |group| of |topology|: compiles the event types of its
  // topics, opens the dedup store and the DLQ producer. Fails, naming the
  // weir.yaml location, for an unknown group or an unusable setting.
  static Result<std::unique_ptr<GroupRuntime>> Create(const Topology& topology,
                                                      std::string_view group,
                                                      kafka::ClientConfig config,
                                                      RuntimeOptions options = {});
  ~GroupRuntime();  // Stop()s with a short deadline if still running
  GroupRuntime(const GroupRuntime&) = delete;
  GroupRuntime& operator=(const GroupRuntime&) = delete;

  // Registers the handler of every record of |topic| (one of the group's
  // topics) whose event type has no handler of its own. Before Start().
  Status OnTopic(std::string_view topic, Handler handler);
  // Registers the handler of events of |event_type|. Before Start().
  Status OnEventType(std::string_view event_type, Handler handler);

  // Subscribes and starts the threads. Fails when a topic of the group has
  // no handler that could take its records.
  Status Start();
  // Stops taking records, lets running and queued work finish within
  // |deadline| (abandoning the rest uncommitted), commits, leaves the group.
  // Idempotent; returns the error that stopped the group, if any.
  Status Stop(std::chrono::milliseconds deadline = std::chrono::seconds(30));
  // Waits until the group stops (Stop() from another thread, or a fatal
  // error) or |timeout| passes; returns true when stopped.
  bool WaitStopped(std::chrono::milliseconds timeout);
  // The error that stopped the group (OK while running or after a clean Stop).
  Status error() const;

  GroupStats Stats() const;
  const ConsumerGroupSpec& spec() const;

 private:
  struct Impl;
  explicit GroupRuntime(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace weir::consume
