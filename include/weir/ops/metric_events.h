// weir/ops/metric_events.h — the metrics topic (the ALPR plan §2.3, §5.2,
// §5.3): processes publish gauges as MetricEvents to a Kafka topic, and one
// consumer group turns them into Prometheus gauges.
//
//   MetricEventPublisher   samples gauges (process memory and CPU, and
//                          whatever the program adds: records/s, latency,
//                          custom values) every interval and publishes each
//                          as one MetricEvent through a publish::Publisher,
//                          which validates it against the event type's
//                          schema and keys it by host_id.
//   MetricsConsumer        a consumer group that reads MetricEvents and
//                          exposes the latest value of each as a gauge
//                          <prefix><metric_name>{host_id, site_id,
//                          metric_type, unit, <tags>} of an observe::Registry,
//                          for a /metrics endpoint (`weir metrics consume`).
//
// A MetricEvent has the fields of examples/alpr/schemas/metric_event.avsc:
// metric_id, timestamp (ISO-8601), host_id, site_id (nullable), metric_type
// (FPS, LATENCY, GPU_UTIL, MEMORY, SERVICE_HEALTH, CUSTOM), metric_name,
// value, unit and tags (string → string). Any weir.yaml event type whose
// schema accepts that shape (Avro or JSON Schema) can carry them.
// docs/metrics.md ("Metrics topic") lists the series and the naming rules.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "weir/kafka/client_config.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::observe {
class Registry;
}
namespace weir::publish {
class Publisher;
}
namespace weir::registry {
class Registry;
}
namespace weir::consume {
class Clock;
}

namespace weir::ops {

// The MetricType enum of the ALPR MetricEvent schema.
enum class MetricType : uint8_t { kFps, kLatency, kGpuUtil, kMemory, kServiceHealth, kCustom };
// "FPS", "LATENCY", "GPU_UTIL", "MEMORY", "SERVICE_HEALTH", "CUSTOM".
std::string_view MetricTypeName(MetricType type);
// The type named |name| (upper case, as MetricTypeName() writes it), or nullopt.
std::optional<MetricType> ParseMetricType(std::string_view name);

// One metric sample.
struct MetricEvent {
  std::string metric_id;  // unique per event (NewMetricId())
  std::string timestamp;  // ISO-8601 UTC with milliseconds ("2026-11-23T15:04:05.123Z")
  std::string host_id;    // the partition key of the ALPR topology
  std::optional<std::string> site_id;
  MetricType metric_type = MetricType::kCustom;
  std::string metric_name;
  double value = 0;
  std::string unit;  // free text: "bytes", "percent", "fps", "ms", ""
  std::map<std::string, std::string> tags;
};

// The event as the JSON the Publisher takes (Avro in weir's plain JSON mode:
// site_id null or a string; all nine fields present). A non-finite value is
// written as "NaN", "Infinity" or "-Infinity", which an Avro float takes and
// a JSON Schema "number" refuses.
std::string MetricEventToJson(const MetricEvent& event);

// Reads a decoded MetricEvent. Required: host_id and metric_name (non-empty
// strings), metric_type (one of the enum's symbols) and value (a number, or
// "NaN", "Infinity", "-Infinity" as an Avro float is written in JSON).
// Optional: metric_id, timestamp and unit (strings, default ""), site_id (a
// string or null) and tags (an object of strings, or null). Other fields are
// ignored. Fails with kInvalidArgument naming the first bad field.
Result<MetricEvent> ParseMetricEvent(std::string_view json);

// A random version-4 UUID ("1b4e28ba-2fa1-41d2-883f-0016d3cca427").
std::string NewMetricId();

// The name of the gauge family (before the registry's prefix) that the
// consumer gives |metric_name|: lower-case snake_case of the characters
// [a-z0-9_] — camelCase is split ("pipelineFPS" → "pipeline_fps"), every
// other character (also ':') becomes '_', a leading digit gets a leading
// '_', and a name ending in _total, _count, _sum or _bucket (the suffixes of
// counters, histograms and summaries) gets "_value" appended, as the series
// is a gauge. Empty for an empty name.
std::string MetricFamilyName(std::string_view metric_name);
// The label name the consumer gives the tag |key|: the same character rules
// as MetricFamilyName(); a key that would start with "__" (reserved by
// Prometheus) gets "tag" before it, and one equal to a fixed label
// (host_id, site_id, metric_type, unit) or to le or quantile (reserved for
// histograms and summaries) gets "tag_" before it. "" becomes "_".
std::string MetricLabelName(std::string_view key);
// True when |family| (a MetricFamilyName()) lies in a namespace of weir's
// own series — consumer_, publisher_, multi_topic_, dlq_, metric_event —
// which the consumer refuses so that a producer cannot shadow or corrupt
// them (docs/metrics.md).
bool IsReservedMetricFamily(std::string_view family);

// --- Publisher ---------------------------------------------------------------

struct MetricEventPublisherOptions {
  // The weir.yaml event type the events are published as; its schema must
  // take the MetricEvent shape.
  std::string event_type = "MetricEvent";
  // host_id of every event; empty = gethostname().
  std::string host_id;
  std::optional<std::string> site_id;
  // How often Start()'s thread publishes a round.
  std::chrono::milliseconds interval{10000};
  // Tags of every event; a source's own tags override them key by key.
  std::map<std::string, std::string> tags;
  // The built-in process gauges (see MetricEventPublisher).
  bool process_metrics = true;
  // Time for rates and the interval; null = consume::Clock::Steady(). Tests
  // pass a consume::ManualClock. Must outlive the publisher.
  const consume::Clock* clock = nullptr;
};

struct MetricEventPublisherStats {
  uint64_t rounds = 0;         // rounds run (PublishNow() and the thread)
  uint64_t published = 0;      // events accepted: delivered, spooled or duplicate
  uint64_t failed = 0;         // events refused or failed by the Publisher
  uint64_t source_errors = 0;  // sources whose function threw
  uint64_t skipped = 0;        // samples left out: NaN, infinite, or a rate's first sample
};

// Publishes gauges as MetricEvents, one event per source and round.
//
// Sources:
//   - built-in, unless options.process_metrics is false:
//       process_resident_memory_bytes  MEMORY  "bytes"    resident set size
//                                                          (/proc/self/statm)
//       process_cpu_percent            CUSTOM  "percent"  CPU time used by the
//                                                          process between two
//                                                          rounds, as a percentage
//                                                          of one core (200 = two
//                                                          cores busy); from the
//                                                          second round on
//   - AddGauge(): the value a function returns when the round runs;
//   - AddRate(): the per-second rate of a monotonically increasing counter
//     between two rounds (records/s), from the second round on; a counter
//     that went down is taken as restarted from 0.
// A source whose value is NaN or infinite publishes nothing that round (NaN
// means "no value now"). The event's value is the schema's: an Avro float
// keeps about seven significant digits.
//
// Each event gets a fresh metric_id, the current time (ISO-8601 UTC, ms) and
// the options' host_id and site_id; the Publisher validates it, keys it (the
// topology's key: host_id in the ALPR topology) and routes it to the event
// type's topics. A failed publish is logged and counted, never thrown.
//
// Lifetime: |publisher| must outlive this object. Threads: every method may
// be called from any thread; rounds run one at a time. Source functions run
// on the thread of the round (PublishNow()'s caller, or Start()'s thread),
// must be thread-safe and must not call back into this object; an exception
// they throw is caught, logged and counted.
class MetricEventPublisher {
 public:
  // Fails with kNotFound when options.event_type is not declared, and with
  // kInvalidArgument, naming the event type and the field, when a sample
  // event does not pass Publisher::Check (the schema lacks the MetricEvent
  // shape), or for an empty host_id or a non-positive interval.
  static Result<std::unique_ptr<MetricEventPublisher>> Create(publish::Publisher* publisher,
                                                              MetricEventPublisherOptions options);
  ~MetricEventPublisher();  // Stop()s
  MetricEventPublisher(const MetricEventPublisher&) = delete;
  MetricEventPublisher& operator=(const MetricEventPublisher&) = delete;

  // Add a source (at any time, also while started). kInvalidArgument for an
  // empty name or function. |tags| are added to the options' tags.
  Status AddGauge(MetricType type, std::string name, std::string unit,
                  std::map<std::string, std::string> tags, std::function<double()> value);
  Status AddRate(MetricType type, std::string name, std::string unit,
                 std::map<std::string, std::string> tags, std::function<double()> counter);

  // Samples every source, publishes the events and waits for their outcomes.
  // OK when every event was accepted (delivered, spooled or a duplicate);
  // otherwise the first error (a refused or failed event, a throwing source),
  // after the rest of the round was published. kCancelled when Stop() ended
  // the wait.
  Status PublishNow();

  // Starts a thread that runs a round at once and then every interval.
  // kInvalidArgument when already started.
  Status Start();
  // Stops the thread: wakes it at once, and stops waiting for the outcomes
  // of a round in progress (they are still counted when they arrive).
  // Idempotent; Start() may be called again.
  void Stop();

  MetricEventPublisherStats Stats() const;
  const std::string& host_id() const;

 private:
  struct Impl;
  explicit MetricEventPublisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// --- Consumer ----------------------------------------------------------------

struct MetricsConsumerOptions {
  // Series (gauge family + label values) held at most; an event that would
  // add another is dropped and counted. 0 = no limit.
  size_t max_series = 10000;
  // A series not updated for this long is removed (and its slot freed);
  // 0 = never. Measured on the consumer's clock when events arrive.
  std::chrono::milliseconds series_ttl{0};
  // Events with more tags than this are invalid.
  size_t max_tags = 32;
  // Events with a metric_name, host_id, site_id, unit, tag key or tag value
  // longer than this (bytes) are invalid.
  size_t max_field_bytes = 1024;
  // Decodes Avro; null = the topology's registry (`registry:`). Must outlive
  // the consumer.
  registry::Registry* schema_registry = nullptr;
  // Time for series_ttl; null = consume::Clock::Steady(). Must outlive the
  // consumer.
  const consume::Clock* clock = nullptr;
  // How often the group commits (consume::RuntimeOptions::commit_interval).
  std::chrono::milliseconds commit_interval{1000};
};

struct MetricsConsumerStats {
  uint64_t received = 0;              // records read whose handling is final
  uint64_t invalid = 0;               // records that are not valid MetricEvents
  uint64_t dropped_series_limit = 0;  // valid events that would have passed max_series
  uint64_t dropped_reserved = 0;      // valid events named in weir's own namespaces
  uint64_t expired = 0;               // series removed by series_ttl
  size_t series = 0;                  // series held now
};

// Reads MetricEvents with a consumer group of weir.yaml and exposes each
// series' latest value in |metrics| (docs/metrics.md, "Metrics topic"):
//
//   <prefix><family>{host_id, site_id, metric_type, unit, <tags>}     gauge
//   <prefix>metric_events_received_total                             counter
//   <prefix>metric_events_invalid_total                              counter
//   <prefix>metric_events_dropped_total{reason}                      counter
//   <prefix>metric_events_series                                     gauge
//   <prefix>metric_event_last_seen_timestamp_seconds{host_id}        gauge
//
// family = MetricFamilyName(metric_name); site_id is "" when null; each tag
// becomes a label named MetricLabelName(key) (when two keys give one name,
// the first key in byte order wins). Events whose family is reserved
// (IsReservedMetricFamily) are dropped with reason="reserved_name"; new
// series beyond max_series with reason="series_limit"; both are logged at
// most every 10 s. The gauges are rendered at scrape time by a collector.
// The value of an Avro event type whose value field is a float is shown as
// the float's shortest decimal (87.3, not 87.30000305175781).
//
// It runs the group with consume::GroupRuntime (its consumer_* series go to
// |metrics| too) and never fails a record for its content: a record that is
// not a valid MetricEvent — bytes that do not decode, a value of another
// shape — is counted as invalid, logged (at most every 10 s) and committed.
// Records are decoded here, not by the runtime, so that they are never
// dead-lettered. Only a schema registry that cannot be reached fails a record
// (PROCESSING_FAILURE), so that the group's retry: policy applies.
//
// Threads: every method may be called from any thread.
class MetricsConsumer {
 public:
  // Prepares group |group| of |topology| (its topics carry MetricEvents, of
  // JSON or Avro event types, or JSON without a type). |metrics| must not be
  // null and must outlive the consumer; it should serve one MetricsConsumer
  // (two would expose the metric_events_* series, and maybe gauges, twice).
  static Result<std::unique_ptr<MetricsConsumer>> Create(const Topology& topology,
                                                         std::string_view group,
                                                         kafka::ClientConfig config,
                                                         observe::Registry* metrics,
                                                         MetricsConsumerOptions options = {});
  ~MetricsConsumer();
  MetricsConsumer(const MetricsConsumer&) = delete;
  MetricsConsumer& operator=(const MetricsConsumer&) = delete;

  Status Start();
  Status Stop(std::chrono::milliseconds deadline = std::chrono::seconds(10));

  MetricsConsumerStats Stats() const;

 private:
  struct Impl;
  explicit MetricsConsumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::ops
