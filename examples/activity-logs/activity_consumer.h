// examples/activity-logs/activity_consumer.h — the activity logs' consumer:
// group user-activity-processor on user-activity-logs, each event stored
// once in the document store, optionally a derived event to
// user-activity-analytics.
//
// What weir.yaml gives the group, and this class therefore does not do
// itself: per-user ordering, the seed's retry policy (3 retries 100 ms
// apart, then exponential backoff up to 5 minutes, then the DLQ), the DLQ
// user-activity-logs-dlq with the original record and its provenance,
// schema validation of every record (a record that fails it is a poison
// pill: SCHEMA_VALIDATION, dead-lettered at once), and at-least-once
// commits (an offset is committed only once its event is stored or
// dead-lettered).
//
// The handler stores the event (idempotently: a redelivered eventId is
// stored once) and maps store errors to the runtime's classes
// (StoreErrorClass): a transient one is retried per the policy, a
// permanent one goes to the DLQ at once. With analytics on, the analytics
// event is published (and confirmed) before the record counts as done; a
// failed publish retries the record, whose store insert is then a no-op.
//
// Injected failures (FailureRule): a demo and test switch that makes the
// storage of chosen events fail, so the retry policy and the DLQ can be
// watched without breaking a database. Off unless rules are given.
//
// Lifetime: the store and the publisher must outlive the consumer.
// Threads: Start, Stop and the accessors may be called from any thread;
// handlers and on_stored run on the runtime's worker threads.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "activity_events.h"
#include "activity_store.h"
#include "weir/consume/runtime.h"
#include "weir/kafka/client_config.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::publish {
class Publisher;
}

namespace activity_logs {

// Makes the storage of events of one activityType fail.
struct FailureRule {
  std::string activity_type;
  // true: a transient failure (the database is unavailable: retried per
  // the policy); false: a permanent one (the database refuses the
  // document: dead-lettered at once as BUSINESS_LOGIC).
  bool transient = true;
  // Fail the first |times| attempts of each matching event; -1 = every one.
  int times = -1;
};

// Reads "ACTIVITY:transient[:TIMES]" or "ACTIVITY:permanent" (TIMES
// defaults to every attempt). kInvalidArgument naming the part that is wrong.
weir::Result<FailureRule> ParseFailureRule(const std::string& text);
std::string FailureRuleText(const FailureRule& rule);

struct ActivityConsumerOptions {
  std::string group = kProcessorGroup;
  weir::consume::RuntimeOptions runtime;
  // Publish a UserActivityAnalytics event per stored activity (needs a
  // publisher).
  bool analytics = false;
  std::vector<FailureRule> failures;
  // Called with each event stored (inserted or found already stored).
  // Must not block for long.
  std::function<void(const StoredActivity&, InsertOutcome)> on_stored;
};

struct ActivityConsumerStats {
  uint64_t stored = 0;          // new documents
  uint64_t already_stored = 0;  // redelivered eventIds, stored before
  uint64_t injected_failures = 0;
  uint64_t store_errors = 0;  // real store failures
  uint64_t analytics_published = 0;
  uint64_t analytics_failures = 0;
};

class ActivityConsumer {
 public:
  // Prepares the group (it is not started). |publisher| may be null unless
  // options.analytics.
  static weir::Result<std::unique_ptr<ActivityConsumer>> Create(
      const weir::Topology& topology, weir::kafka::ClientConfig config, ActivityStore* store,
      weir::publish::Publisher* publisher, ActivityConsumerOptions options = {});
  ~ActivityConsumer();
  ActivityConsumer(const ActivityConsumer&) = delete;
  ActivityConsumer& operator=(const ActivityConsumer&) = delete;

  weir::Status Start();
  // Stops the group (GroupRuntime::Stop); idempotent.
  weir::Status Stop(std::chrono::milliseconds deadline = std::chrono::seconds(30));

  ActivityConsumerStats Stats() const;
  weir::consume::GroupStats GroupStats() const { return runtime_->Stats(); }
  weir::consume::GroupRuntime& runtime() { return *runtime_; }

 private:
  ActivityConsumer() = default;
  weir::consume::HandlerResult Handle(const weir::consume::Message& m);

  ActivityStore* store_ = nullptr;
  weir::publish::Publisher* publisher_ = nullptr;
  ActivityConsumerOptions options_;
  std::unique_ptr<weir::consume::GroupRuntime> runtime_;
  mutable std::mutex mu_;
  ActivityConsumerStats stats_;  // guarded by mu_
};

}  // namespace activity_logs
