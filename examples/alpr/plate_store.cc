#include "plate_store.h"

#include <fmt/format.h>

#include <mutex>
#include <nlohmann/json.hpp>

#include "sqlite_db.h"
#include "weir/consume/dead_letter.h"

namespace alpr {
namespace {

using nlohmann::json;

// The string at |path| ("plate/text"), "" for null when |nullable|.
weir::Status Field(const json& j, std::string_view path, bool nullable, std::string* out) {
  const json* cur = &j;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string key(
        path.substr(start, slash == std::string_view::npos ? path.size() - start : slash - start));
    if (!cur->is_object() || !cur->contains(key)) {
      if (nullable) return weir::Status::Ok();
      return weir::Status::InvalidArgument(fmt::format("PlateEvent: /{} is missing", path));
    }
    cur = &(*cur)[key];
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (cur->is_null() && nullable) return weir::Status::Ok();
  if (!cur->is_string()) {
    return weir::Status::InvalidArgument(fmt::format("PlateEvent: /{} is not a string", path));
  }
  *out = cur->get<std::string>();
  return weir::Status::Ok();
}

class SqlitePlateStore : public PlateStore {
 public:
  explicit SqlitePlateStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  weir::Status Init() {
    return db_->Exec(R"sql(
      CREATE TABLE IF NOT EXISTS plate_reads (
        event_id TEXT PRIMARY KEY,
        captured_at TEXT NOT NULL,
        captured_ms INTEGER NOT NULL,
        camera_id TEXT NOT NULL,
        track_id TEXT NOT NULL,
        frame_number INTEGER NOT NULL,
        plate_text TEXT NOT NULL,
        normalized_text TEXT NOT NULL,
        confidence REAL NOT NULL,
        region TEXT,
        vehicle_type TEXT,
        vehicle_color TEXT,
        vehicle_make TEXT,
        vehicle_model TEXT,
        direction TEXT,
        quality_score REAL,
        site TEXT,
        host TEXT,
        published_at TEXT NOT NULL,
        stored_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
      CREATE INDEX IF NOT EXISTS plate_reads_plate ON plate_reads(normalized_text);
      CREATE INDEX IF NOT EXISTS plate_reads_camera_time ON plate_reads(camera_id, captured_ms);
    )sql");
  }

  weir::Result<bool> Insert(const PlateRow& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto nullable = [](const std::string& s) -> SqlValue {
      if (s.empty()) return nullptr;
      return s;
    };
    WEIR_ASSIGN_OR_RETURN(
        auto rows,
        db_->Query("INSERT INTO plate_reads (event_id, captured_at, captured_ms, camera_id, "
                   "track_id, frame_number, plate_text, normalized_text, confidence, region, "
                   "vehicle_type, vehicle_color, vehicle_make, vehicle_model, direction, "
                   "quality_score, site, host, published_at) VALUES "
                   "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19) "
                   "ON CONFLICT(event_id) DO NOTHING",
                   {r.event_id, r.captured_at, r.captured_ms, r.camera_id, r.track_id,
                    r.frame_number, r.plate_text, r.normalized_text, r.confidence,
                    nullable(r.region), nullable(r.vehicle_type), nullable(r.vehicle_color),
                    nullable(r.vehicle_make), nullable(r.vehicle_model), nullable(r.direction),
                    r.quality_score, nullable(r.site), nullable(r.host), r.published_at}));
    (void)rows;
    return db_->Changes() > 0;
  }

  weir::Result<int64_t> Count() override {
    std::lock_guard<std::mutex> lock(mu_);
    WEIR_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT COUNT(*) FROM plate_reads", {}));
    return AsInt(rows.at(0).at(0));
  }

  weir::Result<std::vector<std::string>> EventIds() override {
    std::lock_guard<std::mutex> lock(mu_);
    WEIR_ASSIGN_OR_RETURN(auto rows, db_->Query("SELECT event_id FROM plate_reads", {}));
    std::vector<std::string> ids;
    ids.reserve(rows.size());
    for (const SqlRow& row : rows) ids.push_back(AsText(row.at(0)));
    return ids;
  }

  std::string Describe() const override { return "SQLite " + db_->path(); }

 private:
  std::mutex mu_;
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace

weir::Result<PlateRow> ParsePlateEvent(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return weir::Status::InvalidArgument("PlateEvent: not a JSON object");
  }
  PlateRow r;
  WEIR_RETURN_IF_ERROR(Field(j, "event_id", false, &r.event_id));
  WEIR_RETURN_IF_ERROR(Field(j, "captured_at", false, &r.captured_at));
  WEIR_RETURN_IF_ERROR(Field(j, "camera_id", false, &r.camera_id));
  WEIR_RETURN_IF_ERROR(Field(j, "track_id", false, &r.track_id));
  WEIR_RETURN_IF_ERROR(Field(j, "plate/text", false, &r.plate_text));
  WEIR_RETURN_IF_ERROR(Field(j, "plate/normalized_text", false, &r.normalized_text));
  WEIR_RETURN_IF_ERROR(Field(j, "plate/region", true, &r.region));
  WEIR_RETURN_IF_ERROR(Field(j, "vehicle/type", true, &r.vehicle_type));
  WEIR_RETURN_IF_ERROR(Field(j, "vehicle/color", true, &r.vehicle_color));
  WEIR_RETURN_IF_ERROR(Field(j, "vehicle/make", true, &r.vehicle_make));
  WEIR_RETURN_IF_ERROR(Field(j, "vehicle/model", true, &r.vehicle_model));
  WEIR_RETURN_IF_ERROR(Field(j, "direction", true, &r.direction));
  WEIR_RETURN_IF_ERROR(Field(j, "node/site", true, &r.site));
  WEIR_RETURN_IF_ERROR(Field(j, "node/host", true, &r.host));
  WEIR_RETURN_IF_ERROR(Field(j, "published_at", false, &r.published_at));
  if (!j["frame_number"].is_number_integer()) {
    return weir::Status::InvalidArgument("PlateEvent: /frame_number is not an integer");
  }
  r.frame_number = j["frame_number"].get<int64_t>();
  if (!j["plate"]["confidence"].is_number()) {
    return weir::Status::InvalidArgument("PlateEvent: /plate/confidence is not a number");
  }
  r.confidence = j["plate"]["confidence"].get<double>();
  if (j.contains("quality_score") && j["quality_score"].is_number()) {
    r.quality_score = j["quality_score"].get<double>();
  }
  auto captured = weir::consume::ParseDlqTimestamp(r.captured_at);
  if (!captured) {
    return weir::Status::InvalidArgument(
        fmt::format("PlateEvent: /captured_at \"{}\" is not an ISO-8601 UTC time", r.captured_at));
  }
  r.captured_ms = *captured;
  auto published = weir::consume::ParseDlqTimestamp(r.published_at);
  if (!published) {
    return weir::Status::InvalidArgument(fmt::format(
        "PlateEvent: /published_at \"{}\" is not an ISO-8601 UTC time", r.published_at));
  }
  r.published_ms = *published;
  return r;
}

weir::Result<std::unique_ptr<PlateStore>> PlateStore::Open(const std::string& target) {
  if (target.rfind("postgresql://", 0) == 0 || target.rfind("postgres://", 0) == 0) {
    return OpenPostgresPlateStore(target);
  }
  WEIR_ASSIGN_OR_RETURN(auto db, SqliteDb::Open(target));
  auto store = std::make_unique<SqlitePlateStore>(std::move(db));
  WEIR_RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<PlateStore>(std::move(store));
}

}  // namespace alpr
