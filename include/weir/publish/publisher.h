// weir/publish/publisher.h — schema-checked events to their topics, with
// per-event delivery outcomes and a spool that loses nothing.
//
// Publish(event_type, json) does, for one event:
//   1. looks the event type up in weir.yaml (`event_types:`);
//   2. parses and validates the JSON against the type's schema (Avro or JSON
//      Schema); an invalid event is refused with every failing field named;
//   3. de-duplicates by the type's `id:` field within publisher.dedup_ttl;
//   4. extracts the partition key (the type's `key:` field path, else the
//      topic's);
//   5. encodes: Avro in the Confluent wire format (magic byte 0, schema id of
//      subject "<topic>-value"), JSON as the bytes it was given;
//   6. produces to each of the type's topics — as a topic migration routes
//      them (weir/migrate/state.h: old, old + new, or new) — and to its
//      mirror_topic, idempotently with acks=all;
//   7. reports the outcome once every copy is delivered, or durably spooled.
//
// Nothing is lost: when the cluster stays unreachable past
// publisher.delivery_timeout, records go to the local spool (spool.h) and are
// forwarded, in the order they were accepted, when it returns. While anything
// is spooled, new events are spooled behind it, so the order of every key is
// kept. Records the cluster refuses for good (unknown topic, too large) fail
// with librdkafka's error name; they are never spooled.
//
// Every record carries the header "weir-event-type" with the type's name.
//
// Threads: every method may be called from any thread. Callbacks run on the
// producer's or the spool's thread, or on the caller's thread for events
// refused before they reach Kafka; they must not block for long and must not
// throw (an escaping exception is caught and logged). Close() waits for
// every outstanding outcome; no Publish may run concurrently with it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weir/kafka/client_config.h"
#include "weir/publish/spool.h"
#include "weir/record.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::observe {
class Registry;
}

namespace weir::publish {

enum class PublishOutcome : uint8_t {
  kDelivered,  // every copy acknowledged by the cluster
  kSpooled,    // at least one copy is in the durable spool, the rest delivered
  kDuplicate,  // same event id seen within the dedup TTL; nothing produced
  kRefused,    // bad input: unknown type, invalid event, missing key
  kFailed,     // the cluster refused it for good, or spooling was impossible
};
// "delivered", "spooled", "duplicate", "refused", "failed".
std::string_view PublishOutcomeName(PublishOutcome o);

// One field of an event that failed validation.
struct FieldError {
  // JSON pointer of the failing value ("/vehicle/colour"; "" = the event).
  std::string pointer;
  // The failing JSON Schema keyword ("required", ...); empty for Avro.
  std::string keyword;
  std::string message;
};

// The fate of one copy of an event (one topic).
struct TopicDelivery {
  std::string topic;
  Partition partition = kAnyPartition;
  Offset offset = kOffsetInvalid;
  bool spooled = false;
  Status status;
};

struct PublishResult {
  PublishOutcome outcome = PublishOutcome::kFailed;
  // OK for delivered, spooled and duplicate; otherwise why, naming the event
  // type and the field, topic or librdkafka error.
  Status status;
  std::vector<FieldError> field_errors;   // kRefused by validation
  std::vector<TopicDelivery> deliveries;  // one per topic, in route order
  // True for outcomes that mean the event is safe (delivered, spooled or a
  // duplicate of one that is).
  bool accepted() const {
    return outcome == PublishOutcome::kDelivered || outcome == PublishOutcome::kSpooled ||
           outcome == PublishOutcome::kDuplicate;
  }
};

using PublishCallback = std::function<void(PublishResult)>;

// Finds the Confluent schema id that Avro events of |subject| are framed
// with, registering |schema_text| under it if needed. Called once per Avro
// event type and topic, at Create().
using SchemaIdResolver =
    std::function<Result<int32_t>(const std::string& subject, const std::string& schema_text)>;

struct PublisherOptions {
  // How Avro schema ids are found. When empty, the registry of the topology
  // (`registry:`) is opened and each schema registered under "<topic>-value".
  SchemaIdResolver schema_ids;
  // Overrides of topology.publisher (tests and the CLI use these).
  std::optional<std::chrono::milliseconds> delivery_timeout;
  std::optional<std::string> spool_dir;  // absolute, or relative to the cwd
  std::optional<bool> spool;
  // Where the publisher's metrics go (docs/metrics.md); null = none. Must
  // outlive the Publisher.
  observe::Registry* metrics = nullptr;
  // Follow the cluster's topic migrations (weir/migrate/control.h): routes
  // change as `weir migrate` steps are recorded. False makes the Publisher
  // invisible to migrations (its events keep weir.yaml's routes).
  bool watch_migrations = true;
  // How often the migration watcher reports that this Publisher is alive.
  std::chrono::milliseconds migration_heartbeat{5000};
};

struct PublisherStats {
  uint64_t accepted = 0;
  uint64_t delivered = 0;  // events
  uint64_t spooled = 0;    // events with a copy spooled
  uint64_t duplicates = 0;
  uint64_t refused = 0;
  uint64_t failed = 0;
  uint64_t forwarded = 0;  // spooled records later delivered
  int64_t spool_records = 0;
  int64_t in_flight = 0;  // records handed to librdkafka, not yet reported
  bool spooling = false;  // new events currently go to the spool
};

struct EncodedEvent;

class Publisher {
 public:
  // Compiles every event type of |topology| (schemas are read relative to the
  // topology's folder) and opens the producer and, when enabled, the spool;
  // records left in the spool by an earlier run are forwarded first.
  // Fails, naming the file and the field, for a schema that does not parse,
  // a key or id field the schema does not have, or an unusable spool.
  static Result<std::unique_ptr<Publisher>> Create(const Topology& topology,
                                                   kafka::ClientConfig config,
                                                   PublisherOptions options = {});
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Publishes one event; |done| runs exactly once with its outcome. Returns
  // once the event is handed on; while a spool is being forwarded after an
  // outage it may wait up to the delivery timeout first (backpressure), so
  // that the backlog drains instead of growing.
  void PublishAsync(std::string_view event_type, std::string_view json, PublishCallback done);
  // Publishes one event and waits for its outcome.
  PublishResult Publish(std::string_view event_type, std::string_view json);
  enum class BatchMode : uint8_t {
    kEach,          // every valid event is published; invalid ones are refused
    kAllOrNothing,  // when any event is invalid, none is published
  };
  // Publishes every event of |events| (all of one type) and waits for all;
  // results are in input order. With kAllOrNothing and an invalid event,
  // the invalid events are refused with their errors and the others with
  // kCancelled ("not published"); nothing reaches Kafka.
  std::vector<PublishResult> PublishBatch(std::string_view event_type,
                                          std::span<const std::string_view> events,
                                          BatchMode mode = BatchMode::kEach);
  // Checks an event without publishing it: parse, validate, key. OK, or the
  // kRefused result Publish would give.
  PublishResult Check(std::string_view event_type, std::string_view json) const;

  // True when |event_type| is declared.
  bool HasEventType(std::string_view event_type) const;

  // Waits until every accepted event has its outcome and, when |drain_spool|,
  // until the spool is empty; up to |timeout|. kTimeout says what is left.
  Status Flush(std::chrono::milliseconds timeout, bool drain_spool = false);

  PublisherStats Stats() const;

  // Stops: waits up to |timeout| for outstanding deliveries, spools what the
  // cluster did not take in that time (when the spool is on), stops the
  // threads. Idempotent.
  Status Close(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  struct Impl;
  struct Route;
  explicit Publisher(std::unique_ptr<Impl> impl);
  // Hands a checked event to Kafka or the spool.
  void Enqueue(const std::string& event_type, const Route& route, EncodedEvent&& enc,
               std::string_view json, PublishCallback done);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::publish
