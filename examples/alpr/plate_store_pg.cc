// The PostgreSQL plate store: the same table as SQLite's, in the database
// of the URL, idempotent by event_id (ON CONFLICT DO NOTHING).
#include <mutex>

#include "pg_client.h"
#include "plate_store.h"

namespace alpr {
namespace {

using weir::examples::PgConnection;
using weir::examples::PgParam;

PgParam Text(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return s;
}

class PostgresPlateStore : public PlateStore {
 public:
  explicit PostgresPlateStore(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}

  weir::Status Init() {
    return conn_
        ->Exec(R"sql(
      CREATE TABLE IF NOT EXISTS plate_reads (
        event_id TEXT PRIMARY KEY,
        captured_at TIMESTAMPTZ NOT NULL,
        camera_id TEXT NOT NULL,
        track_id TEXT NOT NULL,
        frame_number BIGINT NOT NULL,
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
        published_at TIMESTAMPTZ NOT NULL,
        stored_at TIMESTAMPTZ NOT NULL DEFAULT now());
      CREATE INDEX IF NOT EXISTS plate_reads_plate ON plate_reads(normalized_text);
      CREATE INDEX IF NOT EXISTS plate_reads_camera_time ON plate_reads(camera_id, captured_at);
    )sql")
        .status();
  }

  weir::Result<bool> Insert(const PlateRow& r) override {
    std::lock_guard<std::mutex> lock(mu_);
    WEIR_ASSIGN_OR_RETURN(
        auto rows,
        conn_->Exec(
            "INSERT INTO plate_reads (event_id, captured_at, camera_id, track_id, frame_number, "
            "plate_text, normalized_text, confidence, region, vehicle_type, vehicle_color, "
            "vehicle_make, vehicle_model, direction, quality_score, site, host, published_at) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18) "
            "ON CONFLICT (event_id) DO NOTHING",
            {r.event_id, r.captured_at, r.camera_id, r.track_id, std::to_string(r.frame_number),
             r.plate_text, r.normalized_text, std::to_string(r.confidence), Text(r.region),
             Text(r.vehicle_type), Text(r.vehicle_color), Text(r.vehicle_make),
             Text(r.vehicle_model), Text(r.direction), std::to_string(r.quality_score),
             Text(r.site), Text(r.host), r.published_at}));
    return rows.affected > 0;
  }

  weir::Result<int64_t> Count() override {
    std::lock_guard<std::mutex> lock(mu_);
    WEIR_ASSIGN_OR_RETURN(auto rows, conn_->Exec("SELECT COUNT(*) FROM plate_reads"));
    return std::stoll(rows.Get(0, "count").value_or("0"));
  }

  weir::Result<std::vector<std::string>> EventIds() override {
    std::lock_guard<std::mutex> lock(mu_);
    WEIR_ASSIGN_OR_RETURN(auto rows, conn_->Exec("SELECT event_id FROM plate_reads"));
    std::vector<std::string> ids;
    for (size_t i = 0; i < rows.rows.size(); ++i)
      ids.push_back(rows.Get(i, "event_id").value_or(""));
    return ids;
  }

  std::string Describe() const override { return "PostgreSQL " + conn_->redacted_url(); }

 private:
  std::mutex mu_;
  std::unique_ptr<PgConnection> conn_;
};

}  // namespace

weir::Result<std::unique_ptr<PlateStore>> OpenPostgresPlateStore(const std::string& url) {
  WEIR_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(url));
  auto store = std::make_unique<PostgresPlateStore>(std::move(conn));
  WEIR_RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<PlateStore>(std::move(store));
}

}  // namespace alpr
