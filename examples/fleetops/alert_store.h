// examples/fleetops/alert_store.h — operator alerts and their lifecycle,
// kept in SQLite so that a restarted operator service carries on where it
// stopped.
//
// The lifecycle (OPEN → ACKNOWLEDGED → RESOLVED / DISMISSED; the design's
// alert_status values, its action types ACKNOWLEDGE, RESOLVE, DISMISS,
// INTERVENE):
//
//   from \ action   ACKNOWLEDGE    RESOLVE      DISMISS     INTERVENE
//   OPEN            ACKNOWLEDGED   refused      DISMISSED   ACKNOWLEDGED
//   ACKNOWLEDGED    refused        RESOLVED     DISMISSED   (recorded, no change)
//   RESOLVED        refused        refused      refused     refused
//   DISMISSED       refused        refused      refused     refused
//
// RESOLVE needs an acknowledged alert (someone must have taken it); a false
// alarm may be dismissed at once. INTERVENE (an operator acting on the
// vehicle) takes an open alert like ACKNOWLEDGE and is only recorded on one
// already taken. RESOLVED and DISMISSED are final. An action on an unknown
// alert, or naming another vehicle than the alert's, is refused too.
// A refused action changes nothing and publishes nothing; it is recorded
// with its reason in the actions table (`weir-fleetops alerts --actions`
// lists it) and reported by the service. assigned_operator_id is the
// operator of the last action that changed the alert.
//
// Every change of an alert and the OperatorAlert event that announces it
// are written in one transaction (the event to an outbox table); the
// operator service publishes the outbox in order and marks each event
// published once the cluster has it, so a crash between the two never
// loses an event (it is published on restart; at worst twice). Opening the
// alert of an anomaly that already has one, and applying an action whose
// action_id was applied or refused before, change nothing: redelivered
// events are harmless.
//
// Threads: every method may be called from any thread; calls are
// serialized on one connection.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fleetops_events.h"
#include "weir/status.h"

struct sqlite3;

namespace fleetops {

// What an action does to an alert in |from| (the table above).
struct LifecycleStep {
  bool allowed = false;
  AlertStatus to = AlertStatus::kOpen;
  bool changes = false;  // allowed and the alert changes (status or operator)
  std::string reason;    // why not, when refused
};
LifecycleStep NextStatus(AlertStatus from, ActionType action);

struct Alert {
  std::string alert_id;
  std::string anomaly_id;
  std::string vehicle_id;
  std::string event_time;  // of the anomaly
  std::string severity;
  std::string anomaly_type;
  AlertStatus status = AlertStatus::kOpen;
  std::optional<std::string> assigned_operator_id;
  std::string created_at;
  std::string updated_at;
};

// One operator action as it was decided.
struct ActionRecord {
  std::string action_id;
  std::string alert_id;
  std::string action_type;
  std::string operator_id;
  std::string comment;
  bool applied = false;     // false: refused
  std::string from_status;  // "" for an unknown alert
  std::string to_status;    // = from_status when refused
  std::string reason;       // why it was refused
  std::string processed_at;
};

// An OperatorAlert event waiting in the outbox.
struct PendingAlertEvent {
  int64_t seq = 0;
  std::string alert_id;
  std::string json;
};

// The alert id of the alert raised for |anomaly_id| (a name-based UUID).
std::string AlertIdFor(const std::string& anomaly_id);

class AlertStore {
 public:
  // Opens (creating when absent) the database at |path|, and its folder.
  static weir::Result<std::unique_ptr<AlertStore>> Open(const std::string& path);
  ~AlertStore();
  AlertStore(const AlertStore&) = delete;
  AlertStore& operator=(const AlertStore&) = delete;

  // Creates the OPEN alert of |anomaly| (an AnomalyEvent) and queues its
  // event. Returns false, changing nothing, when the anomaly has its alert.
  weir::Result<bool> OpenAlert(const nlohmann::json& anomaly);

  struct ActionOutcome {
    ActionRecord record;
    bool repeated = false;  // this action_id was decided before; nothing done now
  };
  // Decides |action| (an OperatorAction) per the lifecycle, records it and,
  // when it changes the alert, queues the alert's new event.
  weir::Result<ActionOutcome> ApplyAction(const nlohmann::json& action);

  // Outbox events not yet published, oldest first.
  weir::Result<std::vector<PendingAlertEvent>> Pending();
  weir::Status MarkPublished(int64_t seq);

  weir::Result<std::optional<Alert>> FindAlert(const std::string& alert_id);
  weir::Result<std::vector<Alert>> Alerts();          // oldest first
  weir::Result<std::vector<ActionRecord>> Actions();  // in the order decided
  weir::Result<std::map<AlertStatus, int64_t>> CountByStatus();

  const std::string& path() const { return path_; }

 private:
  AlertStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  std::mutex mu_;
  sqlite3* db_;  // guarded by mu_
  std::string path_;
};

}  // namespace fleetops
