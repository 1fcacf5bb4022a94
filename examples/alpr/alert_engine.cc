#include "alert_engine.h"

#include <fmt/format.h>
#include <httplib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "camera_sim.h"
#include "common/wall_clock.h"
#include "sqlite_db.h"
#include "weir/consume/dead_letter.h"

namespace alpr {
namespace {

std::string Trim(std::string s) {
  const char* ws = " \t\r\n";
  s.erase(0, s.find_first_not_of(ws));
  s.erase(s.find_last_not_of(ws) + 1);
  return s;
}

class WebhookNotifier : public Notifier {
 public:
  explicit WebhookNotifier(const std::string& url) {
    const size_t scheme_end = url.find("://") + 3;
    const size_t slash = url.find('/', scheme_end);
    base_ = url.substr(0, slash);
    path_ = slash == std::string::npos ? "/" : url.substr(slash);
    client_ = std::make_unique<httplib::Client>(base_);
    client_->set_connection_timeout(std::chrono::seconds(5));
    client_->set_read_timeout(std::chrono::seconds(10));
  }
  weir::Status Notify(const std::string& alert_json) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto res = client_->Post(path_, alert_json, "application/json");
    if (!res) {
      return weir::Status::Unavailable(fmt::format("notification to {}{} failed: {}", base_, path_,
                                                   httplib::to_string(res.error())));
    }
    if (res->status >= 200 && res->status < 300) return weir::Status::Ok();
    std::string msg =
        fmt::format("notification to {}{} failed: HTTP {}", base_, path_, res->status);
    if (res->status == 429 || res->status >= 500) return weir::Status::Unavailable(msg);
    return weir::Status::InvalidArgument(msg);
  }
  std::string Describe() const override { return "webhook " + base_ + path_; }

 private:
  std::mutex mu_;
  std::string base_, path_;
  std::unique_ptr<httplib::Client> client_;
};

class FileNotifier : public Notifier {
 public:
  explicit FileNotifier(std::string path) : path_(std::move(path)) {}
  weir::Status Notify(const std::string& alert_json) override {
    std::lock_guard<std::mutex> lock(mu_);
    FILE* f = std::fopen(path_.c_str(), "a");
    if (f == nullptr) {
      return weir::Status::Unavailable(
          fmt::format("notification file {}: {}", path_, std::strerror(errno)));
    }
    const bool ok = std::fprintf(f, "%s\n", alert_json.c_str()) > 0 && std::fflush(f) == 0;
    const bool closed = std::fclose(f) == 0;
    if (!ok || !closed) {
      return weir::Status::Unavailable(fmt::format("notification file {}: write failed", path_));
    }
    return weir::Status::Ok();
  }
  std::string Describe() const override { return "file " + path_; }

 private:
  std::mutex mu_;
  std::string path_;
};

}  // namespace

weir::Result<Watchlist> Watchlist::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return weir::Status::NotFound(fmt::format("watchlist {}: cannot be read", path));
  Watchlist w;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (size_t hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    line = Trim(line);
    if (line.empty()) continue;
    std::string plate = line, reason = "watchlist";
    if (size_t comma = line.find(','); comma != std::string::npos) {
      plate = Trim(line.substr(0, comma));
      reason = Trim(line.substr(comma + 1));
    }
    plate = NormalizePlate(plate);
    if (plate.size() < 2 || plate.size() > 10) {
      return weir::Status::InvalidArgument(fmt::format(
          "{}:{}: \"{}\" is not a plate (2 to 10 letters and digits)", path, lineno, plate));
    }
    w.entries_[plate] = reason.empty() ? "watchlist" : reason;
  }
  return w;
}

Watchlist Watchlist::FromPlates(const std::vector<std::string>& plates, const std::string& reason) {
  Watchlist w;
  for (const std::string& p : plates) w.entries_[NormalizePlate(p)] = reason;
  return w;
}

weir::Status Watchlist::Save(const std::string& path) const {
  std::ofstream out(path, std::ios::trunc);
  out << "# ALPR watchlist: PLATE,reason (one per line)\n";
  for (const auto& [plate, reason] : entries_) out << plate << "," << reason << "\n";
  out.flush();
  if (!out) return weir::Status::Io(fmt::format("watchlist {}: cannot be written", path));
  return weir::Status::Ok();
}

std::optional<std::string> Watchlist::Find(const std::string& normalized_plate) const {
  auto it = entries_.find(normalized_plate);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

weir::Result<std::unique_ptr<Notifier>> Notifier::Open(const std::string& target) {
  if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0) {
    if (target.find("://") + 3 >= target.size()) {
      return weir::Status::InvalidArgument(fmt::format("notifier URL {}: no host", target));
    }
    return std::unique_ptr<Notifier>(std::make_unique<WebhookNotifier>(target));
  }
  if (target.empty()) return weir::Status::InvalidArgument("notifier: empty target");
  return std::unique_ptr<Notifier>(std::make_unique<FileNotifier>(target));
}

weir::Result<std::unique_ptr<AlertEngine>> AlertEngine::Open(const std::string& store_path,
                                                             Watchlist watchlist,
                                                             std::unique_ptr<Notifier> notifier) {
  std::unique_ptr<AlertEngine> e(new AlertEngine());
  e->watchlist_ = std::move(watchlist);
  e->notifier_ = std::move(notifier);
  WEIR_ASSIGN_OR_RETURN(e->db_, SqliteDb::Open(store_path));
  WEIR_RETURN_IF_ERROR(e->db_->Exec(R"sql(
    CREATE TABLE IF NOT EXISTS alerts (
      alert_id TEXT PRIMARY KEY,
      plate TEXT NOT NULL,
      reason TEXT NOT NULL,
      camera_id TEXT NOT NULL,
      captured_at TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      last_error TEXT,
      notified_at TEXT);
  )sql"));
  return e;
}

AlertEngine::~AlertEngine() = default;

weir::Status AlertEngine::Handle(const PlateRow& row) {
  std::optional<std::string> reason = watchlist_.Find(row.normalized_text);
  if (!reason) return weir::Status::Ok();
  {
    std::lock_guard<std::mutex> lock(mu_);
    WEIR_ASSIGN_OR_RETURN(
        auto rows,
        db_->Query("SELECT notified_at FROM alerts WHERE alert_id = ?1", {row.event_id}));
    if (!rows.empty() && !std::holds_alternative<std::nullptr_t>(rows[0][0])) {
      return weir::Status::Ok();  // notified before: a redelivery
    }
    WEIR_RETURN_IF_ERROR(
        db_->Query("INSERT INTO alerts (alert_id, plate, reason, camera_id, captured_at) VALUES "
                   "(?1,?2,?3,?4,?5) ON CONFLICT(alert_id) DO NOTHING",
                   {row.event_id, row.normalized_text, *reason, row.camera_id, row.captured_at})
            .status());
  }
  nlohmann::ordered_json alert = {
      {"alert_id", row.event_id},
      {"type", "WATCHLIST_MATCH"},
      {"plate", row.normalized_text},
      {"plate_text", row.plate_text},
      {"reason", *reason},
      {"camera_id", row.camera_id},
      {"site", row.site},
      {"captured_at", row.captured_at},
      {"confidence", row.confidence},
      {"vehicle",
       {{"type", row.vehicle_type}, {"color", row.vehicle_color}, {"make", row.vehicle_make}}},
  };
  weir::Status sent = notifier_->Notify(alert.dump());
  std::lock_guard<std::mutex> lock(mu_);
  if (!sent.ok()) {
    (void)db_->Query(
        "UPDATE alerts SET attempts = attempts + 1, last_error = ?2 WHERE alert_id = ?1",
        {row.event_id, sent.message()});
    return sent;
  }
  return db_
      ->Query(
          "UPDATE alerts SET attempts = attempts + 1, last_error = NULL, notified_at = ?2 "
          "WHERE alert_id = ?1",
          {row.event_id, weir::consume::FormatDlqTimestamp(weir::WallClockMs())})
      .status();
}

weir::Result<std::vector<Alert>> AlertEngine::Alerts() {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_ASSIGN_OR_RETURN(auto rows,
                        db_->Query("SELECT alert_id, plate, reason, camera_id, captured_at, "
                                   "notified_at FROM alerts ORDER BY captured_at",
                                   {}));
  std::vector<Alert> out;
  for (const SqlRow& r : rows) {
    out.push_back(
        {AsText(r[0]), AsText(r[1]), AsText(r[2]), AsText(r[3]), AsText(r[4]), AsText(r[5])});
  }
  return out;
}

}  // namespace alpr
