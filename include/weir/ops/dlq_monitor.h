// weir/ops/dlq_monitor.h — the DLQ monitor role (the ALPR plan §5.1): a
// consumer group that reads the DLQ topic(s), keeps counts per error type and
// original topic and the oldest dead letter's age, logs every dead letter in
// one structured line, and exposes them as metrics:
//
//   <prefix>dlq_messages_total{error_type, original_topic}   counter
//   <prefix>dlq_oldest_message_age_seconds                   gauge
//   <prefix>dlq_unreadable_records_total                     counter
//
// It runs the group with consume::GroupRuntime (so its offsets are committed
// like any group's) and never fails a record: a record that is not a dead
// letter is counted as unreadable and logged. Counts start from what the
// group reads, so a fresh group (auto.offset.reset=earliest) counts the
// whole DLQ; the oldest age is that of the oldest dead letter read since the
// monitor started (records purged since are not noticed until a restart).
//
// Threads: every method may be called from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>

#include "weir/kafka/client_config.h"
#include "weir/ops/dlq.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::observe {
class Registry;
}

namespace weir::ops {

class DlqMonitor {
 public:
  // Prepares group |group| of |topology| (its topics are the DLQ topics to
  // watch). |metrics| may be null; it must outlive the monitor.
  static Result<std::unique_ptr<DlqMonitor>> Create(const Topology& topology,
                                                    std::string_view group,
                                                    kafka::ClientConfig config,
                                                    observe::Registry* metrics);
  ~DlqMonitor();
  DlqMonitor(const DlqMonitor&) = delete;
  DlqMonitor& operator=(const DlqMonitor&) = delete;

  Status Start();
  Status Stop(std::chrono::milliseconds deadline = std::chrono::seconds(10));

  // What has been read so far.
  DlqStats Stats() const;
  int64_t unreadable() const;

 private:
  struct Impl;
  explicit DlqMonitor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::ops
