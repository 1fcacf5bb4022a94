// examples/alpr/plate_store.h — the storage service's store: one row per
// plate event, idempotent by event_id (a redelivered event is stored once).
// SQLite by default (a file path); PostgreSQL when the target is a
// postgresql:// URL.
//
// Errors: Unavailable for what a retry can fix (database busy, connection
// lost), InvalidArgument for an event the store refuses (the storage group
// dead-letters it as BUSINESS_LOGIC), anything else Internal.
// Thread-safe: calls are serialised.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "weir/status.h"

namespace alpr {

// The columns of a stored plate read.
struct PlateRow {
  std::string event_id;
  std::string captured_at;  // ISO-8601 UTC, as in the event
  int64_t captured_ms = 0;
  std::string camera_id;
  std::string track_id;
  int64_t frame_number = 0;
  std::string plate_text;
  std::string normalized_text;
  double confidence = 0;
  std::string region;
  std::string vehicle_type;
  std::string vehicle_color;
  std::string vehicle_make;
  std::string vehicle_model;
  std::string direction;
  double quality_score = 0;
  std::string site;
  std::string host;
  std::string published_at;
  int64_t published_ms = 0;
};

// The row of a decoded PlateEvent; InvalidArgument naming the field when a
// required one is missing or of the wrong type.
weir::Result<PlateRow> ParsePlateEvent(std::string_view json);

class PlateStore {
 public:
  // |target|: a file path (SQLite) or postgresql://user:pass@host:port/db.
  static weir::Result<std::unique_ptr<PlateStore>> Open(const std::string& target);
  virtual ~PlateStore() = default;
  // True when stored now, false when the event_id was stored before.
  virtual weir::Result<bool> Insert(const PlateRow& row) = 0;
  virtual weir::Result<int64_t> Count() = 0;
  // Every stored event id (tests and the run's checks).
  virtual weir::Result<std::vector<std::string>> EventIds() = 0;
  // Where it stores, without credentials.
  virtual std::string Describe() const = 0;
};

}  // namespace alpr

namespace alpr {
// The PostgreSQL store (plate_store_pg.cc).
weir::Result<std::unique_ptr<PlateStore>> OpenPostgresPlateStore(const std::string& url);
}  // namespace alpr
