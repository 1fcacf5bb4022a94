#include "camera_counts.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/wall_clock.h"
#include "sqlite_db.h"
#include "weir/consume/dead_letter.h"
#include "weir/publish/publisher.h"

namespace alpr {

weir::Result<std::unique_ptr<CameraCounter>> CameraCounter::Open(
    CameraCountsOptions options, weir::publish::Publisher* publisher) {
  if (publisher == nullptr || !publisher->HasEventType(kCameraCountEvent)) {
    return weir::Status::InvalidArgument(
        "camera counts: the topology declares no CameraCount event type");
  }
  if (options.window_ms <= 0 || options.grace_ms < 0) {
    return weir::Status::InvalidArgument("camera counts: window must be > 0 and grace >= 0");
  }
  std::unique_ptr<CameraCounter> c(new CameraCounter());
  c->options_ = std::move(options);
  c->publisher_ = publisher;
  WEIR_ASSIGN_OR_RETURN(c->db_, SqliteDb::Open(c->options_.state_path));
  WEIR_RETURN_IF_ERROR(c->db_->Exec(R"sql(
    CREATE TABLE IF NOT EXISTS camera_window_events (
      event_id TEXT PRIMARY KEY,
      camera_id TEXT NOT NULL,
      window_start INTEGER NOT NULL,
      plate TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS camera_window_events_window
      ON camera_window_events(camera_id, window_start);
    CREATE TABLE IF NOT EXISTS windows_emitted (
      camera_id TEXT NOT NULL,
      window_start INTEGER NOT NULL,
      plates INTEGER NOT NULL,
      distinct_plates INTEGER NOT NULL,
      emitted_at TEXT NOT NULL,
      payload TEXT NOT NULL,            -- the CameraCount event
      published INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (camera_id, window_start));
    CREATE INDEX IF NOT EXISTS windows_unpublished ON windows_emitted(published, window_start);
    CREATE TABLE IF NOT EXISTS camera_stream_time (
      camera_id TEXT PRIMARY KEY,
      time_ms INTEGER NOT NULL);
  )sql"));
  WEIR_ASSIGN_OR_RETURN(auto rows,
                        c->db_->Query("SELECT camera_id, time_ms FROM camera_stream_time", {}));
  for (const SqlRow& r : rows) c->stream_time_[AsText(r[0])] = AsInt(r[1]);
  CameraCounter* self = c.get();
  c->emitter_ = std::thread([self] { self->RunEmitter(); });
  return c;
}

CameraCounter::~CameraCounter() { Stop(std::chrono::seconds(5)); }

void CameraCounter::Stop(std::chrono::milliseconds deadline) {
  {
    std::unique_lock<std::mutex> lock(mu_);
    // Give the emitter until |deadline| to publish what is final.
    cv_.wait_for(lock, deadline, [&] { return unpublished_ == 0 && in_flight_ == 0; });
    stopping_ = true;
    cv_.notify_all();
  }
  if (emitter_.joinable()) emitter_.join();
}

int64_t CameraCounter::Unpublished() const {
  std::lock_guard<std::mutex> lock(mu_);
  return unpublished_;
}

// The outbox: windows made final by Handle() are rows with published = 0;
// this thread publishes them (asynchronously, many at once) and marks each
// published once the Publisher reports it delivered or spooled. A row whose
// publishing failed is tried again after a second. After a crash, rows not
// marked are published again: their count_id makes the copy a duplicate.
void CameraCounter::RunEmitter() {
  std::unique_lock<std::mutex> lock(mu_);
  auto count_unpublished = [&] {
    auto n = db_->Query("SELECT COUNT(*) FROM windows_emitted WHERE published = 0", {});
    if (n.ok()) unpublished_ = AsInt(n->at(0).at(0));
  };
  count_unpublished();
  auto retry_at = std::chrono::steady_clock::time_point::min();
  while (!stopping_) {
    // Mark what was confirmed.
    if (!confirmed_.empty()) {
      (void)db_->Exec("BEGIN");
      for (const auto& [camera, start] : confirmed_) {
        (void)db_->Query(
            "UPDATE windows_emitted SET published = 1 WHERE camera_id = ?1 AND window_start = ?2",
            {camera, start});
      }
      (void)db_->Exec("COMMIT");
      stats_.windows_emitted += confirmed_.size();
      confirmed_.clear();
      count_unpublished();
      cv_.notify_all();
    }
    if (unpublished_ > 0 && in_flight_ == 0 && std::chrono::steady_clock::now() >= retry_at) {
      auto rows = db_->Query(
          "SELECT camera_id, window_start, payload FROM windows_emitted "
          "WHERE published = 0 ORDER BY window_start LIMIT 1000",
          {});
      if (rows.ok()) {
        in_flight_ = static_cast<int64_t>(rows->size());
        for (const SqlRow& r : *rows) {
          std::string camera = AsText(r[0]);
          const int64_t start = AsInt(r[1]);
          publisher_->PublishAsync(kCameraCountEvent, AsText(r[2]),
                                   [this, camera, start](weir::publish::PublishResult res) {
                                     std::lock_guard<std::mutex> g(mu_);
                                     --in_flight_;
                                     if (res.accepted()) {
                                       confirmed_.emplace_back(camera, start);
                                     } else {
                                       ++stats_.publish_failures;
                                       failed_round_ = true;
                                       spdlog::warn(
                                           "camera counts: publishing window {}/{} failed: {}",
                                           camera, start, res.status.ToString());
                                     }
                                     cv_.notify_all();
                                   });
        }
      }
    }
    if (in_flight_ == 0 && failed_round_) {
      failed_round_ = false;
      retry_at = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
    cv_.wait_for(lock, std::chrono::milliseconds(200), [&] {
      return stopping_ || !confirmed_.empty() ||
             (unpublished_ > 0 && in_flight_ == 0 && std::chrono::steady_clock::now() >= retry_at);
    });
  }
  // Stopping: wait for reports already due (they touch this object).
  cv_.wait_for(lock, std::chrono::seconds(30), [&] { return in_flight_ == 0; });
  if (!confirmed_.empty()) {
    for (const auto& [camera, start] : confirmed_) {
      (void)db_->Query(
          "UPDATE windows_emitted SET published = 1 WHERE camera_id = ?1 AND window_start = ?2",
          {camera, start});
    }
    stats_.windows_emitted += confirmed_.size();
    confirmed_.clear();
  }
}

weir::Status CameraCounter::Handle(const PlateRow& row) {
  std::lock_guard<std::mutex> lock(mu_);
  // The event's record in one transaction; emitting windows has its own.
  WEIR_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  weir::Status recorded = Record(row);
  if (!recorded.ok()) {
    (void)db_->Exec("ROLLBACK");
    return recorded;
  }
  WEIR_RETURN_IF_ERROR(db_->Exec("COMMIT"));
  const int64_t w = options_.window_ms;
  const std::string& camera = row.camera_id;
  const int64_t st = stream_time_[camera];
  // Windows ending at or before this are final.
  const int64_t final_end = st - options_.grace_ms - (((st - options_.grace_ms) % w) + w) % w;
  auto checked = checked_upto_.find(camera);
  if (checked != checked_upto_.end() && checked->second >= final_end) return weir::Status::Ok();
  WEIR_RETURN_IF_ERROR(
      db_->Query("INSERT INTO camera_stream_time (camera_id, time_ms) VALUES (?1, ?2) "
                 "ON CONFLICT(camera_id) DO UPDATE SET time_ms = ?2",
                 {camera, st})
          .status());
  WEIR_RETURN_IF_ERROR(EmitClosed(camera, final_end));
  checked_upto_[camera] = final_end;
  return weir::Status::Ok();
}

weir::Status CameraCounter::Record(const PlateRow& row) {
  const int64_t w = options_.window_ms;
  const int64_t start = row.captured_ms - (((row.captured_ms % w) + w) % w);
  WEIR_ASSIGN_OR_RETURN(auto done, db_->Query("SELECT 1 FROM windows_emitted WHERE camera_id = ?1 "
                                              "AND window_start = ?2",
                                              {row.camera_id, start}));
  if (!done.empty()) {
    ++stats_.late;
  } else {
    WEIR_RETURN_IF_ERROR(db_->Query("INSERT INTO camera_window_events (event_id, camera_id, "
                                    "window_start, plate) VALUES (?1,?2,?3,?4) "
                                    "ON CONFLICT(event_id) DO NOTHING",
                                    {row.event_id, row.camera_id, start, row.normalized_text})
                             .status());
    if (db_->Changes() > 0) {
      ++stats_.events;
    } else {
      ++stats_.redelivered;
    }
  }
  // Stream time is kept in memory and saved when windows are emitted: a
  // restart resumes from the saved value and the events read after it.
  int64_t& st = stream_time_[row.camera_id];
  st = std::max(st, row.captured_ms);
  return weir::Status::Ok();
}

weir::Status CameraCounter::EmitClosed(const std::string& camera_id, int64_t final_end) {
  const int64_t w = options_.window_ms;
  WEIR_ASSIGN_OR_RETURN(
      auto rows,
      db_->Query("SELECT camera_id, window_start, COUNT(*), COUNT(DISTINCT plate) "
                 "FROM camera_window_events WHERE camera_id = ?1 AND window_start + ?2 <= ?3 "
                 "GROUP BY camera_id, window_start ORDER BY window_start",
                 {camera_id, w, final_end}));
  if (rows.empty()) return weir::Status::Ok();
  WEIR_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  weir::Status s = weir::Status::Ok();
  for (const SqlRow& r : rows) {
    const std::string camera = AsText(r[0]);
    const int64_t start = AsInt(r[1]);
    const std::string emitted_at = weir::consume::FormatDlqTimestamp(weir::WallClockMs());
    nlohmann::ordered_json ev = {
        {"count_id", fmt::format("{}/{}", camera, start)},
        {"camera_id", camera},
        {"window_start", weir::consume::FormatDlqTimestamp(start)},
        {"window_end", weir::consume::FormatDlqTimestamp(start + w)},
        {"plate_count", AsInt(r[2])},
        {"distinct_plates", AsInt(r[3])},
        {"emitted_at", emitted_at},
    };
    s = db_->Query(
               "INSERT INTO windows_emitted (camera_id, window_start, plates, "
               "distinct_plates, emitted_at, payload) VALUES (?1,?2,?3,?4,?5,?6) "
               "ON CONFLICT DO NOTHING",
               {camera, start, AsInt(r[2]), AsInt(r[3]), emitted_at, ev.dump()})
            .status();
    if (s.ok()) {
      s = db_->Query("DELETE FROM camera_window_events WHERE camera_id = ?1 AND window_start = ?2",
                     {camera, start})
              .status();
    }
    if (!s.ok()) break;
  }
  if (!s.ok()) {
    (void)db_->Exec("ROLLBACK");
    return s;
  }
  WEIR_RETURN_IF_ERROR(db_->Exec("COMMIT"));
  unpublished_ += static_cast<int64_t>(rows.size());
  cv_.notify_all();
  return weir::Status::Ok();
}

weir::Result<std::vector<CameraWindow>> CameraCounter::Emitted() {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT camera_id, window_start, plates, "
                                              "distinct_plates FROM windows_emitted "
                                              "ORDER BY window_start, camera_id",
                                              {}));
  std::vector<CameraWindow> out;
  for (const SqlRow& r : rows) out.push_back({AsText(r[0]), AsInt(r[1]), AsInt(r[2]), AsInt(r[3])});
  return out;
}

weir::Result<int64_t> CameraCounter::OpenEvents() {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT COUNT(*) FROM camera_window_events", {}));
  return AsInt(rows.at(0).at(0));
}

CameraCountsStats CameraCounter::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace alpr
