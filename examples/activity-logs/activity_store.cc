#include "activity_store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <filesystem>
#include <mutex>
#include <optional>

#include "pg_client.h"

namespace activity_logs {
namespace {

using weir::Result;
using weir::Status;
using weir::StatusCode;
using weir::examples::PgConnection;

// --- SQLite -------------------------------------------------------------------

constexpr const char* kSqliteSchema = R"sql(
CREATE TABLE IF NOT EXISTS user_activity_logs(
  event_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  activity_type TEXT NOT NULL,
  document TEXT NOT NULL CHECK (json_valid(document)),
  source_topic TEXT NOT NULL,
  source_partition INTEGER NOT NULL,
  source_offset INTEGER NOT NULL,
  stored_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));
CREATE INDEX IF NOT EXISTS user_activity_logs_user ON user_activity_logs(user_id);
)sql";

constexpr const char* kColumns =
    "event_id, user_id, activity_type, document, source_topic, source_partition, source_offset, "
    "stored_at";

// The StatusCode of a SQLite result code: busy, locked, I/O, full → retry.
StatusCode SqliteCode(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return StatusCode::kUnavailable;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
      return StatusCode::kInvalidArgument;
    default:
      return StatusCode::kInternal;
  }
}

class SqliteStore : public ActivityStore {
 public:
  static Result<std::unique_ptr<ActivityStore>> Open(const std::string& path) {
    std::error_code ec;
    const auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(
        path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
        nullptr);
    std::unique_ptr<SqliteStore> s(new SqliteStore(path, db));
    if (rc != SQLITE_OK) return s->Error("opening", rc);
    sqlite3_busy_timeout(db, 5000);
    char* err = nullptr;
    const std::string setup = std::string("PRAGMA journal_mode=WAL;") + kSqliteSchema;
    if (sqlite3_exec(db, setup.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      Status st = Status::Io(fmt::format("SQLite {}: creating the table: {}", path,
                                         err != nullptr ? err : "unknown error"));
      sqlite3_free(err);
      return st;
    }
    return std::unique_ptr<ActivityStore>(std::move(s));
  }
  ~SqliteStore() override { sqlite3_close(db_); }

  Result<InsertOutcome> Insert(const StoredActivity& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_,
                                "INSERT INTO user_activity_logs(event_id, user_id, activity_type, "
                                "document, source_topic, source_partition, source_offset) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                                "ON CONFLICT(event_id) DO NOTHING",
                                -1, &st, nullptr);
    if (rc != SQLITE_OK) return Error("preparing the insert", rc);
    auto text = [&](int i, const std::string& v) {
      sqlite3_bind_text(st, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    };
    text(1, a.event_id);
    text(2, a.user_id);
    text(3, a.activity_type);
    text(4, a.document);
    text(5, a.source_topic);
    sqlite3_bind_int64(st, 6, a.source_partition);
    sqlite3_bind_int64(st, 7, a.source_offset);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return Error(fmt::format("storing event {}", a.event_id), rc);
    return sqlite3_changes(db_) == 1 ? InsertOutcome::kInserted : InsertOutcome::kAlreadyStored;
  }

  Result<std::vector<StoredActivity>> All() override {
    std::lock_guard<std::mutex> lock(mu_);
    sqlite3_stmt* st = nullptr;
    const std::string sql =
        fmt::format("SELECT {} FROM user_activity_logs ORDER BY event_id", kColumns);
    int rc = sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr);
    if (rc != SQLITE_OK) return Error("reading", rc);
    std::vector<StoredActivity> out;
    auto text = [&](int col) {
      const unsigned char* t = sqlite3_column_text(st, col);
      return t == nullptr ? std::string()
                          : std::string(reinterpret_cast<const char*>(t),
                                        static_cast<size_t>(sqlite3_column_bytes(st, col)));
    };
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      StoredActivity a;
      a.event_id = text(0);
      a.user_id = text(1);
      a.activity_type = text(2);
      a.document = text(3);
      a.source_topic = text(4);
      a.source_partition = static_cast<int32_t>(sqlite3_column_int64(st, 5));
      a.source_offset = sqlite3_column_int64(st, 6);
      a.stored_at = text(7);
      out.push_back(std::move(a));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return Error("reading", rc);
    return out;
  }

  Result<int64_t> Count() override {
    std::lock_guard<std::mutex> lock(mu_);
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db_, "SELECT count(*) FROM user_activity_logs", -1, &st, nullptr);
    if (rc != SQLITE_OK) return Error("counting", rc);
    rc = sqlite3_step(st);
    const int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return Error("counting", rc);
    return n;
  }

  std::string Describe() const override { return "SQLite " + path_; }
  std::string Kind() const override { return "sqlite"; }

 private:
  SqliteStore(std::string path, sqlite3* db) : path_(std::move(path)), db_(db) {}
  Status Error(const std::string& what, int rc) const {
    return Status(SqliteCode(rc),
                  fmt::format("SQLite {}: {}: {} ({})", path_, what,
                              db_ != nullptr ? sqlite3_errmsg(db_) : "", sqlite3_errstr(rc)));
  }

  std::string path_;
  std::mutex mu_;
  sqlite3* db_;  // guarded by mu_ (it is also opened in serialized mode)
};

// --- PostgreSQL ---------------------------------------------------------------

constexpr const char* kPgSchema = R"sql(
CREATE TABLE IF NOT EXISTS user_activity_logs(
  event_id text PRIMARY KEY,
  user_id text NOT NULL,
  activity_type text NOT NULL,
  document jsonb NOT NULL,
  source_topic text NOT NULL,
  source_partition integer NOT NULL,
  source_offset bigint NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX IF NOT EXISTS user_activity_logs_user ON user_activity_logs(user_id);
CREATE INDEX IF NOT EXISTS user_activity_logs_document
  ON user_activity_logs USING gin (document jsonb_path_ops);
)sql";

class PostgresStore : public ActivityStore {
 public:
  static Result<std::unique_ptr<ActivityStore>> Open(const std::string& url) {
    WEIR_ASSIGN_OR_RETURN(auto conn, PgConnection::Connect(url));
    auto created = conn->Exec(kPgSchema);
    if (!created.ok()) return created.status().WithContext("creating the table");
    return std::unique_ptr<ActivityStore>(new PostgresStore(std::move(conn)));
  }

  Result<InsertOutcome> Insert(const StoredActivity& a) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto r = conn_->Exec(
        "INSERT INTO user_activity_logs(event_id, user_id, activity_type, document, "
        "source_topic, source_partition, source_offset) "
        "VALUES ($1, $2, $3, $4::jsonb, $5, $6::integer, $7::bigint) "
        "ON CONFLICT (event_id) DO NOTHING",
        {a.event_id, a.user_id, a.activity_type, a.document, a.source_topic,
         std::to_string(a.source_partition), std::to_string(a.source_offset)});
    if (!r.ok()) return r.status().WithContext(fmt::format("storing event {}", a.event_id));
    return r->affected == 1 ? InsertOutcome::kInserted : InsertOutcome::kAlreadyStored;
  }

  Result<std::vector<StoredActivity>> All() override {
    std::lock_guard<std::mutex> lock(mu_);
    auto r = conn_->Exec(fmt::format(
        "SELECT event_id, user_id, activity_type, document::text AS document, source_topic, "
        "source_partition, source_offset, "
        "to_char(stored_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS stored_at "
        "FROM user_activity_logs ORDER BY event_id"));
    if (!r.ok()) return r.status().WithContext("reading");
    std::vector<StoredActivity> out;
    for (size_t i = 0; i < r->rows.size(); ++i) {
      StoredActivity a;
      a.event_id = r->Get(i, "event_id").value_or("");
      a.user_id = r->Get(i, "user_id").value_or("");
      a.activity_type = r->Get(i, "activity_type").value_or("");
      a.document = r->Get(i, "document").value_or("");
      a.source_topic = r->Get(i, "source_topic").value_or("");
      a.source_partition = std::stoi(r->Get(i, "source_partition").value_or("-1"));
      a.source_offset = std::stoll(r->Get(i, "source_offset").value_or("-1"));
      a.stored_at = r->Get(i, "stored_at").value_or("");
      out.push_back(std::move(a));
    }
    return out;
  }

  Result<int64_t> Count() override {
    std::lock_guard<std::mutex> lock(mu_);
    auto r = conn_->Exec("SELECT count(*) AS n FROM user_activity_logs");
    if (!r.ok()) return r.status().WithContext("counting");
    return std::stoll(r->Get(0, "n").value_or("0"));
  }

  std::string Describe() const override { return "PostgreSQL " + conn_->redacted_url(); }
  std::string Kind() const override { return "postgresql"; }

 private:
  explicit PostgresStore(std::unique_ptr<PgConnection> conn) : conn_(std::move(conn)) {}
  std::mutex mu_;
  std::unique_ptr<PgConnection> conn_;  // guarded by mu_
};

}  // namespace

bool IsPostgresSpec(const std::string& spec) {
  return spec.rfind("postgresql://", 0) == 0 || spec.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<ActivityStore>> OpenActivityStore(const std::string& spec) {
  if (spec.empty()) return Status::InvalidArgument("--store: empty (a SQLite file or a URL)");
  if (IsPostgresSpec(spec)) return PostgresStore::Open(spec);
  return SqliteStore::Open(spec);
}

weir::ErrorClass StoreErrorClass(const Status& status) {
  return weir::examples::PgErrorClass(status);
}

}  // namespace activity_logs
