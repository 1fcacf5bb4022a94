#include "alert_store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <filesystem>
#include <nlohmann/json.hpp>

namespace fleetops {
namespace {

using nlohmann::json;
using weir::Result;
using weir::Status;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS alerts(
  alert_id TEXT PRIMARY KEY,
  anomaly_id TEXT NOT NULL UNIQUE,
  vehicle_id TEXT NOT NULL,
  event_time TEXT NOT NULL,
  severity TEXT NOT NULL,
  anomaly_type TEXT NOT NULL,
  status TEXT NOT NULL,
  assigned_operator_id TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS actions(
  action_id TEXT PRIMARY KEY,
  alert_id TEXT NOT NULL,
  action_type TEXT NOT NULL,
  operator_id TEXT NOT NULL,
  comment TEXT NOT NULL,
  applied INTEGER NOT NULL,
  from_status TEXT NOT NULL,
  to_status TEXT NOT NULL,
  reason TEXT NOT NULL,
  processed_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id TEXT NOT NULL,
  event TEXT NOT NULL,
  published INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox(published, seq);
)sql";

constexpr const char* kAlertColumns =
    "alert_id, anomaly_id, vehicle_id, event_time, severity, anomaly_type, status, "
    "assigned_operator_id, created_at, updated_at";
constexpr const char* kActionColumns =
    "action_id, alert_id, action_type, operator_id, comment, applied, from_status, to_status, "
    "reason, processed_at";

// One prepared statement, finalized on destruction.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &st_, nullptr); }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool prepared() const { return rc_ == SQLITE_OK; }
  Stmt& Bind(int i, const std::string& s) {
    sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, const std::optional<std::string>& s) {
    if (!s) {
      sqlite3_bind_null(st_, i);
      return *this;
    }
    return Bind(i, *s);
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(st_, i, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(st_); }
  std::string Text(int col) const {
    const unsigned char* t = sqlite3_column_text(st_, col);
    return t == nullptr ? std::string()
                        : std::string(reinterpret_cast<const char*>(t),
                                      static_cast<size_t>(sqlite3_column_bytes(st_, col)));
  }
  std::optional<std::string> OptText(int col) const {
    if (sqlite3_column_type(st_, col) == SQLITE_NULL) return std::nullopt;
    return Text(col);
  }
  int64_t Int(int col) const { return sqlite3_column_int64(st_, col); }

 private:
  sqlite3_stmt* st_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

Alert ReadAlert(const Stmt& s) {
  Alert a;
  a.alert_id = s.Text(0);
  a.anomaly_id = s.Text(1);
  a.vehicle_id = s.Text(2);
  a.event_time = s.Text(3);
  a.severity = s.Text(4);
  a.anomaly_type = s.Text(5);
  a.status = ParseAlertStatus(s.Text(6)).value_or(AlertStatus::kOpen);
  a.assigned_operator_id = s.OptText(7);
  a.created_at = s.Text(8);
  a.updated_at = s.Text(9);
  return a;
}

ActionRecord ReadAction(const Stmt& s) {
  ActionRecord r;
  r.action_id = s.Text(0);
  r.alert_id = s.Text(1);
  r.action_type = s.Text(2);
  r.operator_id = s.Text(3);
  r.comment = s.Text(4);
  r.applied = s.Int(5) != 0;
  r.from_status = s.Text(6);
  r.to_status = s.Text(7);
  r.reason = s.Text(8);
  r.processed_at = s.Text(9);
  return r;
}

// The OperatorAlert event announcing |a| as it now is.
std::string AlertEventJson(const Alert& a, const std::string& processing_time) {
  nlohmann::ordered_json j = {
      {"alert_id", a.alert_id},
      {"anomaly_id", a.anomaly_id},
      {"vehicle_id", a.vehicle_id},
      {"event_time", a.event_time},
      {"processing_time", processing_time},
      {"alert_status", std::string(AlertStatusName(a.status))},
      {"severity", a.severity},
      {"anomaly_type", a.anomaly_type},
      {"assigned_operator_id", nullptr},
      {"created_at", a.created_at},
  };
  if (a.assigned_operator_id) j["assigned_operator_id"] = *a.assigned_operator_id;
  return j.dump();
}

// The string at |key| of |j|, or an error naming it.
Result<std::string> StringField(const json& j, const char* what, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) {
    return Status::InvalidArgument(fmt::format("{}: {} is missing or not a string", what, key));
  }
  return j[key].get<std::string>();
}

}  // namespace

LifecycleStep NextStatus(AlertStatus from, ActionType action) {
  LifecycleStep s;
  if (from == AlertStatus::kResolved || from == AlertStatus::kDismissed) {
    s.to = from;
    s.reason = fmt::format("{} of a {} alert: {} is final", ActionTypeName(action),
                           AlertStatusName(from), AlertStatusName(from));
    return s;
  }
  const bool open = from == AlertStatus::kOpen;
  switch (action) {
    case ActionType::kAcknowledge:
      s.allowed = open;
      s.to = AlertStatus::kAcknowledged;
      break;
    case ActionType::kResolve:
      s.allowed = !open;
      s.to = AlertStatus::kResolved;
      break;
    case ActionType::kDismiss:
      s.allowed = true;
      s.to = AlertStatus::kDismissed;
      break;
    case ActionType::kIntervene:
      s.allowed = true;
      s.to = AlertStatus::kAcknowledged;
      break;
  }
  if (!s.allowed) {
    s.reason =
        open ? fmt::format("{} of an OPEN alert: acknowledge it first", ActionTypeName(action))
             : fmt::format("{} of an {} alert: it is acknowledged already", ActionTypeName(action),
                           AlertStatusName(from));
    s.to = from;
    return s;
  }
  s.changes = s.to != from;
  return s;
}

std::string AlertIdFor(const std::string& anomaly_id) {
  return NameUuid(fmt::format("alert/{}", anomaly_id));
}

Result<std::unique_ptr<AlertStore>> AlertStore::Open(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return Status::Io(fmt::format("cannot create {}: {}", parent.string(), ec.message()));
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    Status s = Status::Io(fmt::format("cannot open the alert store {}: {}", path,
                                      db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<AlertStore> store(new AlertStore(db, path));
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  const std::string setup =
      std::string("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;") + kSchema;
  if (sqlite3_exec(db, setup.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    Status s = Status::Io(
        fmt::format("cannot set up the alert store {}: {}", path, err ? err : "unknown error"));
    sqlite3_free(err);
    return s;
  }
  return store;
}

AlertStore::~AlertStore() { sqlite3_close(db_); }

// The Status of a failed SQLite call inside an AlertStore method.
#define FLEETOPS_SQL_ERROR(what) \
  Status::Io(fmt::format("alert store {}: {}: {}", path_, what, sqlite3_errmsg(db_)))

namespace {

Status Exec(sqlite3* db, const std::string& path, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) == SQLITE_OK) return Status::Ok();
  Status s = Status::Io(fmt::format("alert store {}: {}: {}", path, sql, err ? err : "?"));
  sqlite3_free(err);
  return s;
}

// An IMMEDIATE transaction: committed by Commit(), rolled back otherwise.
class Transaction {
 public:
  Transaction(sqlite3* db, const std::string& path) : db_(db), path_(path) {
    begun_ = Exec(db_, path_, "BEGIN IMMEDIATE");
  }
  ~Transaction() {
    if (begun_.ok() && !done_) (void)Exec(db_, path_, "ROLLBACK");
  }
  const Status& begun() const { return begun_; }
  Status Commit() {
    done_ = true;
    Status s = Exec(db_, path_, "COMMIT");
    if (!s.ok()) (void)Exec(db_, path_, "ROLLBACK");
    return s;
  }

 private:
  sqlite3* db_;
  const std::string& path_;
  Status begun_;
  bool done_ = false;
};

}  // namespace

Result<bool> AlertStore::OpenAlert(const json& anomaly) {
  Alert a;
  WEIR_ASSIGN_OR_RETURN(a.anomaly_id, StringField(anomaly, "AnomalyEvent", "anomaly_id"));
  WEIR_ASSIGN_OR_RETURN(a.vehicle_id, StringField(anomaly, "AnomalyEvent", "vehicle_id"));
  WEIR_ASSIGN_OR_RETURN(a.event_time, StringField(anomaly, "AnomalyEvent", "event_time"));
  WEIR_ASSIGN_OR_RETURN(a.severity, StringField(anomaly, "AnomalyEvent", "severity"));
  WEIR_ASSIGN_OR_RETURN(a.anomaly_type, StringField(anomaly, "AnomalyEvent", "anomaly_type"));
  a.alert_id = AlertIdFor(a.anomaly_id);
  a.status = AlertStatus::kOpen;
  a.created_at = NowIso8601();
  a.updated_at = a.created_at;

  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn(db_, path_);
  WEIR_RETURN_IF_ERROR(txn.begun());
  {
    Stmt q(db_, "SELECT 1 FROM alerts WHERE anomaly_id = ?1");
    if (!q.prepared()) return FLEETOPS_SQL_ERROR("select alert");
    q.Bind(1, a.anomaly_id);
    const int rc = q.Step();
    if (rc == SQLITE_ROW) return false;
    if (rc != SQLITE_DONE) return FLEETOPS_SQL_ERROR("select alert");
  }
  Stmt ins(db_, fmt::format("INSERT INTO alerts({}) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                            kAlertColumns)
                    .c_str());
  if (!ins.prepared()) return FLEETOPS_SQL_ERROR("insert alert");
  ins.Bind(1, a.alert_id)
      .Bind(2, a.anomaly_id)
      .Bind(3, a.vehicle_id)
      .Bind(4, a.event_time)
      .Bind(5, a.severity)
      .Bind(6, a.anomaly_type)
      .Bind(7, std::string(AlertStatusName(a.status)))
      .Bind(8, a.assigned_operator_id)
      .Bind(9, a.created_at)
      .Bind(10, a.updated_at);
  if (ins.Step() != SQLITE_DONE) return FLEETOPS_SQL_ERROR("insert alert");
  Stmt out(db_, "INSERT INTO outbox(alert_id, event) VALUES(?1, ?2)");
  if (!out.prepared()) return FLEETOPS_SQL_ERROR("insert event");
  out.Bind(1, a.alert_id).Bind(2, AlertEventJson(a, a.created_at));
  if (out.Step() != SQLITE_DONE) return FLEETOPS_SQL_ERROR("insert event");
  WEIR_RETURN_IF_ERROR(txn.Commit());
  return true;
}

Result<AlertStore::ActionOutcome> AlertStore::ApplyAction(const json& action) {
  ActionOutcome out;
  ActionRecord& r = out.record;
  WEIR_ASSIGN_OR_RETURN(r.action_id, StringField(action, "OperatorAction", "action_id"));
  WEIR_ASSIGN_OR_RETURN(r.alert_id, StringField(action, "OperatorAction", "alert_id"));
  WEIR_ASSIGN_OR_RETURN(r.action_type, StringField(action, "OperatorAction", "action_type"));
  WEIR_ASSIGN_OR_RETURN(r.operator_id, StringField(action, "OperatorAction", "operator_id"));
  WEIR_ASSIGN_OR_RETURN(std::string vehicle_id,
                        StringField(action, "OperatorAction", "vehicle_id"));
  if (action.contains("metadata") && action["metadata"].is_object() &&
      action["metadata"].contains("comment") && action["metadata"]["comment"].is_string()) {
    r.comment = action["metadata"]["comment"].get<std::string>();
  }
  const std::optional<ActionType> type = ParseActionType(r.action_type);
  if (!type) {
    return Status::InvalidArgument(
        fmt::format("OperatorAction {}: unknown action_type {}", r.action_id, r.action_type));
  }
  r.processed_at = NowIso8601();

  std::lock_guard<std::mutex> lock(mu_);
  Transaction txn(db_, path_);
  WEIR_RETURN_IF_ERROR(txn.begun());
  {
    Stmt q(db_, fmt::format("SELECT {} FROM actions WHERE action_id = ?1", kActionColumns).c_str());
    if (!q.prepared()) return FLEETOPS_SQL_ERROR("select action");
    q.Bind(1, r.action_id);
    const int rc = q.Step();
    if (rc == SQLITE_ROW) {
      out.record = ReadAction(q);
      out.repeated = true;
      return out;
    }
    if (rc != SQLITE_DONE) return FLEETOPS_SQL_ERROR("select action");
  }
  std::optional<Alert> alert;
  {
    Stmt q(db_, fmt::format("SELECT {} FROM alerts WHERE alert_id = ?1", kAlertColumns).c_str());
    if (!q.prepared()) return FLEETOPS_SQL_ERROR("select alert");
    q.Bind(1, r.alert_id);
    const int rc = q.Step();
    if (rc == SQLITE_ROW) {
      alert = ReadAlert(q);
    } else if (rc != SQLITE_DONE) {
      return FLEETOPS_SQL_ERROR("select alert");
    }
  }
  if (!alert) {
    r.reason = fmt::format("no alert {}", r.alert_id);
  } else if (alert->vehicle_id != vehicle_id) {
    r.from_status = r.to_status = std::string(AlertStatusName(alert->status));
    r.reason = fmt::format("alert {} is about vehicle {}, not {}", r.alert_id, alert->vehicle_id,
                           vehicle_id);
  } else {
    const LifecycleStep step = NextStatus(alert->status, *type);
    r.from_status = std::string(AlertStatusName(alert->status));
    r.to_status = std::string(AlertStatusName(step.to));
    r.applied = step.allowed;
    r.reason = step.reason;
    if (step.changes) {
      alert->status = step.to;
      alert->assigned_operator_id = r.operator_id;
      alert->updated_at = r.processed_at;
      Stmt up(db_,
              "UPDATE alerts SET status = ?2, assigned_operator_id = ?3, updated_at = ?4 "
              "WHERE alert_id = ?1");
      if (!up.prepared()) return FLEETOPS_SQL_ERROR("update alert");
      up.Bind(1, alert->alert_id)
          .Bind(2, r.to_status)
          .Bind(3, alert->assigned_operator_id)
          .Bind(4, alert->updated_at);
      if (up.Step() != SQLITE_DONE) return FLEETOPS_SQL_ERROR("update alert");
      Stmt ev(db_, "INSERT INTO outbox(alert_id, event) VALUES(?1, ?2)");
      if (!ev.prepared()) return FLEETOPS_SQL_ERROR("insert event");
      ev.Bind(1, alert->alert_id).Bind(2, AlertEventJson(*alert, r.processed_at));
      if (ev.Step() != SQLITE_DONE) return FLEETOPS_SQL_ERROR("insert event");
    }
  }
  Stmt ins(db_, fmt::format("INSERT INTO actions({}) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                            kActionColumns)
                    .c_str());
  if (!ins.prepared()) return FLEETOPS_SQL_ERROR("insert action");
  ins.Bind(1, r.action_id)
      .Bind(2, r.alert_id)
      .Bind(3, r.action_type)
      .Bind(4, r.operator_id)
      .Bind(5, r.comment)
      .Bind(6, int64_t{r.applied ? 1 : 0})
      .Bind(7, r.from_status)
      .Bind(8, r.to_status)
      .Bind(9, r.reason)
      .Bind(10, r.processed_at);
  if (ins.Step() != SQLITE_DONE) return FLEETOPS_SQL_ERROR("insert action");
  WEIR_RETURN_IF_ERROR(txn.Commit());
  return out;
}

Result<std::vector<PendingAlertEvent>> AlertStore::Pending() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT seq, alert_id, event FROM outbox WHERE published = 0 ORDER BY seq");
  if (!q.prepared()) return FLEETOPS_SQL_ERROR("select events");
  std::vector<PendingAlertEvent> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back({q.Int(0), q.Text(1), q.Text(2)});
  if (rc != SQLITE_DONE) return FLEETOPS_SQL_ERROR("select events");
  return out;
}

weir::Status AlertStore::MarkPublished(int64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt up(db_, "UPDATE outbox SET published = 1 WHERE seq = ?1");
  if (!up.prepared()) return FLEETOPS_SQL_ERROR("mark event published");
  up.Bind(1, seq);
  if (up.Step() != SQLITE_DONE) return FLEETOPS_SQL_ERROR("mark event published");
  return Status::Ok();
}

Result<std::optional<Alert>> AlertStore::FindAlert(const std::string& alert_id) {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, fmt::format("SELECT {} FROM alerts WHERE alert_id = ?1", kAlertColumns).c_str());
  if (!q.prepared()) return FLEETOPS_SQL_ERROR("select alert");
  q.Bind(1, alert_id);
  const int rc = q.Step();
  if (rc == SQLITE_ROW) return std::optional<Alert>(ReadAlert(q));
  if (rc != SQLITE_DONE) return FLEETOPS_SQL_ERROR("select alert");
  return std::optional<Alert>();
}

Result<std::vector<Alert>> AlertStore::Alerts() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, fmt::format("SELECT {} FROM alerts ORDER BY rowid", kAlertColumns).c_str());
  if (!q.prepared()) return FLEETOPS_SQL_ERROR("select alerts");
  std::vector<Alert> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(ReadAlert(q));
  if (rc != SQLITE_DONE) return FLEETOPS_SQL_ERROR("select alerts");
  return out;
}

Result<std::vector<ActionRecord>> AlertStore::Actions() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, fmt::format("SELECT {} FROM actions ORDER BY rowid", kActionColumns).c_str());
  if (!q.prepared()) return FLEETOPS_SQL_ERROR("select actions");
  std::vector<ActionRecord> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) out.push_back(ReadAction(q));
  if (rc != SQLITE_DONE) return FLEETOPS_SQL_ERROR("select actions");
  return out;
}

Result<std::map<AlertStatus, int64_t>> AlertStore::CountByStatus() {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt q(db_, "SELECT status, COUNT(*) FROM alerts GROUP BY status");
  if (!q.prepared()) return FLEETOPS_SQL_ERROR("count alerts");
  std::map<AlertStatus, int64_t> out;
  for (AlertStatus s : kAllAlertStatuses) out[s] = 0;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    if (auto s = ParseAlertStatus(q.Text(0))) out[*s] = q.Int(1);
  }
  if (rc != SQLITE_DONE) return FLEETOPS_SQL_ERROR("count alerts");
  return out;
}

}  // namespace fleetops
