// examples/fleetops/operator_service.h — the FleetOps operator service:
// anomalies become operator alerts (OPEN), operator actions drive their
// lifecycle (alert_store.h), and every change goes out as an OperatorAlert
// on operator_alerts (keyed by alert_id).
//
// Two consumer groups of weir.yaml: operator-service-group reads anomalies
// (the design: "Consumes from anomalies"), operator-actions-group reads
// operator_actions. Each handler decides in one SQLite transaction (the
// alert store) and then publishes the store's outbox, in order, before it
// reports its record done; Start() first publishes whatever an earlier run
// left in the outbox. So every committed anomaly has its alert, every
// committed action its decision, and every decision that changed an alert
// its OperatorAlert event on the topic (at least once).
//
// Refused actions (illegal transitions, unknown alerts) are decisions, not
// failures: they are recorded with their reason, reported to on_refused,
// counted, and their records committed. Nothing is published for them.
//
// Lifetime: the Publisher must outlive the service. Threads: Start, Stop
// and the accessors may be called from any thread; the callbacks run on
// the runtimes' worker threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "alert_store.h"
#include "weir/consume/runtime.h"
#include "weir/kafka/client_config.h"
#include "weir/status.h"
#include "weir/topology.h"

namespace weir::publish {
class Publisher;
}

namespace fleetops {

inline constexpr const char* kOperatorServiceGroup = "operator-service-group";
inline constexpr const char* kOperatorActionsGroup = "operator-actions-group";

struct OperatorServiceOptions {
  std::string db_path;  // the alert store (SQLite); required
  std::string alerts_group = kOperatorServiceGroup;
  std::string actions_group = kOperatorActionsGroup;
  weir::consume::RuntimeOptions runtime;
  // Called with each OperatorAlert event once it is published.
  std::function<void(const nlohmann::json& alert_event)> on_alert_event;
  // Called with each refused action and why.
  std::function<void(const ActionRecord& refused)> on_refused;
};

struct OperatorServiceStats {
  uint64_t alerts_opened = 0;
  uint64_t anomalies_seen_again = 0;  // anomalies whose alert existed already
  uint64_t actions_applied = 0;
  uint64_t actions_refused = 0;
  uint64_t actions_repeated = 0;  // action ids decided before
  uint64_t events_published = 0;  // OperatorAlert events
};

// An operator's command, as `weir-fleetops action` takes it.
struct OperatorActionRequest {
  std::string alert_id;
  std::string vehicle_id;
  std::string operator_id;
  ActionType type = ActionType::kAcknowledge;
  std::string comment;    // metadata.comment; none when empty
  std::string action_id;  // empty = a new random UUID
};
// The OperatorAction event of |request| as JSON text.
std::string OperatorActionJson(const OperatorActionRequest& request);

class OperatorService {
 public:
  static weir::Result<std::unique_ptr<OperatorService>> Create(const weir::Topology& topology,
                                                               weir::kafka::ClientConfig config,
                                                               weir::publish::Publisher* publisher,
                                                               OperatorServiceOptions options);
  ~OperatorService();

  // Publishes the outbox left by an earlier run, then starts both groups.
  weir::Status Start();
  weir::Status Stop(std::chrono::milliseconds deadline = std::chrono::seconds(30));

  // The error that stopped either group (OK while both run or after Stop()).
  weir::Status Error() const;

  AlertStore& store() { return *store_; }
  OperatorServiceStats Stats() const;
  weir::consume::GroupStats AlertsGroupStats() const { return alerts_->Stats(); }
  weir::consume::GroupStats ActionsGroupStats() const { return actions_->Stats(); }

 private:
  OperatorService() = default;
  weir::consume::HandlerResult HandleAnomaly(const weir::consume::Message& m);
  weir::consume::HandlerResult HandleAction(const weir::consume::Message& m);
  // Publishes the outbox in order; an error names the event that failed.
  weir::Status PublishPending();

  weir::publish::Publisher* publisher_ = nullptr;
  OperatorServiceOptions options_;
  std::unique_ptr<AlertStore> store_;
  std::unique_ptr<weir::consume::GroupRuntime> alerts_;
  std::unique_ptr<weir::consume::GroupRuntime> actions_;
  std::mutex publish_mu_;  // one outbox publisher at a time, so events go out in order
  mutable std::mutex mu_;
  OperatorServiceStats stats_;  // guarded by mu_
};

}  // namespace fleetops
