// examples/alpr/alert_engine.h — the alert engine ([plan] §4.2): plate
// events matched against a watchlist; a match becomes an alert, recorded in
// the alert store and sent to a notifier. A notification that keeps failing
// is retried by the group's policy and then dead-lettered
// (PROCESSING_FAILURE), as the plan asks ("send to DLQ on persistent
// notification failures").
//
// Idempotent: the alert id is the event id, an alert is notified once
// (a redelivered event whose alert was notified is not sent again).
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "plate_store.h"
#include "weir/status.h"

namespace alpr {

class SqliteDb;

// Plates to alert on, one per line: "PLATE[,reason]"; '#' starts a comment.
// Plates are matched normalized (upper case, no spaces or dashes).
class Watchlist {
 public:
  static weir::Result<Watchlist> Load(const std::string& path);
  static Watchlist FromPlates(const std::vector<std::string>& plates, const std::string& reason);
  // Writes the file Load() reads.
  weir::Status Save(const std::string& path) const;
  // The entry's reason, when |normalized_plate| is listed.
  std::optional<std::string> Find(const std::string& normalized_plate) const;
  size_t size() const { return entries_.size(); }

 private:
  std::unordered_map<std::string, std::string> entries_;  // plate -> reason
};

// Where alerts are sent. Errors: Unavailable = worth a retry.
class Notifier {
 public:
  // |target|: an http(s):// webhook (POST of the alert as JSON; 2xx is
  // success, 429/5xx/unreachable are retried, other 4xx are permanent), or
  // a file path (one JSON alert per line, appended and flushed).
  static weir::Result<std::unique_ptr<Notifier>> Open(const std::string& target);
  virtual ~Notifier() = default;
  virtual weir::Status Notify(const std::string& alert_json) = 0;
  virtual std::string Describe() const = 0;
};

struct Alert {
  std::string alert_id;  // = the event id
  std::string plate;
  std::string reason;
  std::string camera_id;
  std::string captured_at;
  std::string notified_at;
};

class AlertEngine {
 public:
  // |store_path|: the SQLite file of the alert store.
  static weir::Result<std::unique_ptr<AlertEngine>> Open(const std::string& store_path,
                                                         Watchlist watchlist,
                                                         std::unique_ptr<Notifier> notifier);
  ~AlertEngine();

  // One plate event: nothing when not listed; else the alert is recorded
  // and notified. Unavailable when the notification should be retried.
  weir::Status Handle(const PlateRow& row);

  weir::Result<std::vector<Alert>> Alerts();
  const Watchlist& watchlist() const { return watchlist_; }
  const Notifier& notifier() const { return *notifier_; }

 private:
  AlertEngine() = default;
  Watchlist watchlist_;
  std::unique_ptr<Notifier> notifier_;
  std::mutex mu_;  // guards db_
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace alpr
