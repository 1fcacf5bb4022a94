// weir/topology.h — the parsed, validated form of weir.yaml.
//
// LoadTopology() reads a weir.yaml file, substitutes ${ENV} references,
// rejects unknown and duplicate keys, validates every value and every
// cross-reference (event type → topic, group → topic, DLQ topic), and returns
// a Topology. Every error names file:line:column and the key path, e.g.
//
//   weir.yaml:14:16: topics."alpr.events.plates".retention: invalid duration
//   "7x" (expected a number with a unit: ms, s, m, h, d, w; or -1 for infinite)
//
// A Topology is a plain value: copy it, share it read-only across threads.
// The format is documented in docs/topology.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "weir/status.h"

namespace weir {

// Where a value came from in weir.yaml, for error messages (1-based).
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  // "file:line:column", or "file" when line is 0.
  std::string ToString() const;
};

// A librdkafka property value, with a flag that says whether it must never
// be printed (passwords, keys, tokens, secrets).
struct PropertyValue {
  std::string value;
  bool secret = false;
  SourceLocation where;
};

struct ClusterSpec {
  // True when `bootstrap: embedded` or when no servers are named.
  bool embedded = true;
  // "host:port[,host:port...]" when not embedded.
  std::string bootstrap_servers;
  std::string client_id = "weir";
  // Embedded cluster settings (used by the embedded broker).
  std::string embedded_data_dir;  // relative to weir.yaml's folder; default ".weir/data"
  std::string embedded_listen = "127.0.0.1:0";
  // librdkafka properties, passed through verbatim. Security settings from
  // the `security:` block are merged in here under their librdkafka names
  // (security.protocol, sasl.mechanism, sasl.username, sasl.password,
  // ssl.ca.location, ...). Secret values carry secret=true.
  std::map<std::string, PropertyValue> properties;
  SourceLocation where;
};

enum class CleanupPolicy : uint8_t { kDelete, kCompact, kCompactDelete };
std::string_view CleanupPolicyName(CleanupPolicy p);  // "delete", "compact", "compact,delete"

struct TopicSpec {
  std::string name;
  int32_t partitions = 1;
  // Replication factor; -1 means "the broker's default".
  int16_t replication = -1;
  // retention.ms; nullopt = broker default, -1 = infinite.
  std::optional<int64_t> retention_ms;
  // retention.bytes; nullopt = broker default, -1 = unlimited.
  std::optional<int64_t> retention_bytes;
  std::optional<CleanupPolicy> cleanup_policy;
  // Field path of the partition key in the event ("camera_id", "node.host").
  std::string key_field;
  // Name of the schema (an event type or a schema file) the topic carries.
  std::string schema;
  // Extra topic configs, verbatim ("max.message.bytes": "2097152").
  std::map<std::string, std::string> configs;
  SourceLocation where;

  // The broker-side configs weir manages for this topic: retention.ms,
  // retention.bytes, cleanup.policy (when set) plus |configs|.
  std::map<std::string, std::string> DesiredConfigs() const;
};

enum class EventFormat : uint8_t { kJson, kAvro };

struct EventTypeSpec {
  std::string name;
  // Schema file path relative to weir.yaml's folder (.avsc or .json), or empty.
  std::string schema;
  EventFormat format = EventFormat::kJson;
  std::vector<std::string> topics;  // at least one
  // Dual-publish target during a migration; empty when none.
  std::string mirror_topic;
  std::string key_field;  // field path; empty = the topic's key_field
  std::string id_field;   // field path of the unique event id; empty = none
  SourceLocation where;
};

enum class ErrorClass : uint8_t {
  kSchemaValidation,
  kProcessingFailure,
  kTimeout,
  kBusinessLogic,
  kUnknown,
};
std::string_view ErrorClassName(ErrorClass c);  // "SCHEMA_VALIDATION", ...
// The class named by ErrorClassName(), or nullopt.
std::optional<ErrorClass> ParseErrorClass(std::string_view name);

struct RetryPolicy {
  int immediate_attempts = 0;  // retries at the fixed initial_backoff before it grows
  int max_attempts = 1;        // total attempts including the first (1 = no retry)
  std::chrono::milliseconds initial_backoff{0};
  std::chrono::milliseconds max_backoff{0};
  double multiplier = 2.0;
  double jitter = 0.2;               // ± fraction of each delay
  std::vector<ErrorClass> retry_on;  // classes that are retried
};

enum class Ordering : uint8_t { kPartition, kKey, kUnordered };
std::string_view OrderingName(Ordering o);

struct DedupPolicy {
  std::vector<std::string> fields;  // field paths forming the dedup key
  std::chrono::milliseconds ttl{60000};
  bool persistent = false;
};

enum class LatePolicy : uint8_t { kDrop, kDlq };

struct ReorderPolicy {
  std::string sequence_field;
  int window = 10;
  int tolerance = 2;
  LatePolicy late = LatePolicy::kDrop;
};

struct ConsumerGroupSpec {
  std::string name;                 // the group.id
  std::vector<std::string> topics;  // at least one
  Ordering ordering = Ordering::kPartition;
  int concurrency = 1;
  RetryPolicy retry;
  std::optional<std::chrono::milliseconds> timeout;  // per-record processing timeout
  std::string dlq_topic;                             // empty = no DLQ (failures stop the group)
  std::optional<DedupPolicy> dedup;
  std::optional<ReorderPolicy> reorder;
  std::map<std::string, PropertyValue> properties;  // extra librdkafka consumer props
  SourceLocation where;
};

// Where schemas are registered (`registry:`). With no url, a folder of
// schemas on local disk (weir's own registry); with a url, a Confluent
// Schema Registry reached over its REST API.
struct RegistrySpec {
  std::string url;                        // "http(s)://host:port"; empty = the folder
  std::string folder = ".weir/registry";  // relative to weir.yaml's folder
  // The default compatibility level of subjects that have none of their
  // own: NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE,
  // FULL, FULL_TRANSITIVE.
  std::string compatibility = "BACKWARD";
  std::string username;    // HTTP basic auth for url
  PropertyValue password;  // secret
  SourceLocation where;
};

// How the Publisher delivers (`publisher:`).
struct PublisherSpec {
  // librdkafka message.timeout.ms: how long an event may stay undelivered
  // before it is spilled to the spool (or failed when the spool is off).
  std::chrono::milliseconds delivery_timeout{30000};
  bool spool = true;                           // spill to a local durable spool
  std::string spool_dir = ".weir/spool";       // relative to weir.yaml's folder
  int64_t spool_max_bytes = int64_t{1} << 30;  // refuse new events beyond it
  // Producer-side de-duplication by the event type's `id:` field within
  // this window; 0 = off.
  std::chrono::milliseconds dedup_ttl{0};
  SourceLocation where;
};

// The HTTP server of `weir serve` (`serve:`): ingest, registry REST, metrics.
struct ServeSpec {
  std::string listen = "127.0.0.1:8080";      // loopback unless configured
  int64_t max_body_bytes = int64_t{4} << 20;  // larger requests get 413
  PropertyValue token;                        // bearer token; empty value = no authentication
  SourceLocation where;
};

// Prometheus metrics (`metrics:`): the name prefix of every series, and where
// a process without another HTTP server serves GET /metrics.
struct MetricsSpec {
  std::string prefix = "weir_";           // "alpr_" gives the ALPR plan's names
  std::string listen = "127.0.0.1:9464";  // loopback unless configured
  SourceLocation where;
};

struct Topology {
  std::string path;    // the weir.yaml it was loaded from
  std::string folder;  // its folder, for relative paths
  ClusterSpec cluster;
  RegistrySpec registry;
  PublisherSpec publisher;
  ServeSpec serve;
  MetricsSpec metrics;
  std::vector<TopicSpec> topics;  // in file order
  std::vector<EventTypeSpec> event_types;
  std::vector<ConsumerGroupSpec> consumer_groups;

  const TopicSpec* FindTopic(std::string_view name) const;
  const EventTypeSpec* FindEventType(std::string_view name) const;
  const ConsumerGroupSpec* FindGroup(std::string_view name) const;
};

// Parses and validates |path|. |env| looks up ${NAME} references; by default
// the process environment. On failure the status message holds every error
// found (one per line), each starting with file:line:column.
using EnvLookup = std::optional<std::string> (*)(const std::string& name);
Result<Topology> LoadTopology(const std::string& path, EnvLookup env = nullptr);
// Same, from text already in memory; |path| is used in messages only.
Result<Topology> ParseTopology(const std::string& text, const std::string& path,
                               EnvLookup env = nullptr);

// Parses "7d", "24h", "30m", "15s", "250ms", "2w", or "-1" (infinite) into
// milliseconds. Returns nullopt when malformed.
std::optional<int64_t> ParseDurationMs(std::string_view text);
// Parses "1GiB", "500MB", "1048576", "-1" into bytes. nullopt when malformed.
std::optional<int64_t> ParseBytes(std::string_view text);
// Formats milliseconds the way weir.yaml writes them ("7d", "36h", "1500ms").
std::string FormatDurationMs(int64_t ms);

// True for librdkafka property names whose values must never be printed.
bool IsSecretProperty(std::string_view name);

}  // namespace weir
