// weir/ops/line_producer.h — the engine of `weir produce`: lines from a file
// descriptor to one topic, with per-record delivery accounting.
//
// Each non-empty line becomes one record. In JSON mode a line must be one
// valid JSON document; the key may come from a field of it. A line that is
// not valid, or lacks its key field, is refused (not produced) and reported
// with its line number; the other lines are still produced. Every produced
// record ends delivered or failed with librdkafka's error name, so the
// summary accounts for every line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weir/kafka/client_config.h"
#include "weir/record.h"
#include "weir/status.h"

namespace weir::ops {

enum class LineFormat : uint8_t { kRaw, kJson };

struct LineProducerOptions {
  std::string topic;
  LineFormat format = LineFormat::kRaw;
  std::optional<std::string> fixed_key;  // the same key for every record
  std::string key_field;        // JSON field path ("camera_id", "node.host"); JSON mode only
  std::vector<Header> headers;  // added to every record
  Partition partition = kAnyPartition;
  char delimiter = '\n';
  // How long Close() waits for outstanding deliveries at the end.
  std::chrono::milliseconds flush_timeout{std::chrono::minutes(5)};
  // At most this many failures are kept with their line numbers.
  size_t max_failures_kept = 1000;
};

struct LineFailure {
  uint64_t line = 0;  // 1-based
  Status status;
};

struct LineProducerSummary {
  uint64_t lines = 0;                 // non-empty lines read
  uint64_t produced = 0;              // records handed to the producer
  uint64_t delivered = 0;             // acknowledged by the cluster
  uint64_t failed = 0;                // delivery failed
  uint64_t refused = 0;               // bad input, not produced
  std::vector<LineFailure> failures;  // sorted by line; at most max_failures_kept
  std::chrono::nanoseconds elapsed{0};
  // Delivery latency of acknowledged records, from hand-off to librdkafka to
  // the broker's acknowledgement (zero when nothing was delivered).
  std::chrono::microseconds latency_p50{0};
  std::chrono::microseconds latency_p95{0};
  std::chrono::microseconds latency_p99{0};
  std::chrono::microseconds latency_max{0};
  bool AllDelivered() const { return failed == 0 && refused == 0 && delivered == lines; }
};

// Reads |fd| to its end and produces every line. Returns a non-OK status only
// when it could not run at all (bad config, unreadable input); per-record
// outcomes are in the summary.
Result<LineProducerSummary> ProduceLines(const kafka::ClientConfig& config, int fd,
                                         const LineProducerOptions& options);

}  // namespace weir::ops
