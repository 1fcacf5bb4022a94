#include "sqlite_db.h"

#include <fmt/format.h>
#include <sqlite3.h>

namespace alpr {

struct SqliteDb::Cached {
  std::string sql;
  sqlite3_stmt* stmt = nullptr;
  ~Cached() { sqlite3_finalize(stmt); }
};

weir::Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  std::unique_ptr<SqliteDb> db(new SqliteDb());
  db->path_ = path;
  int rc =
      sqlite3_open_v2(path.c_str(), &db->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return db->Error(rc, "open");
  sqlite3_busy_timeout(db->db_, 5000);
  WEIR_RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"));
  return db;
}

SqliteDb::~SqliteDb() {
  statements_.clear();
  sqlite3_close_v2(db_);
}

weir::Status SqliteDb::Error(int rc, std::string_view what) const {
  std::string msg = fmt::format("{}: {}: {}", path_, what,
                                db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
  const int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) return weir::Status::Unavailable(msg);
  return weir::Status::Internal(msg);
}

weir::Status SqliteDb::Exec(std::string_view sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    const int primary = rc & 0xff;
    std::string m = fmt::format("{}: {}", path_, msg);
    return primary == SQLITE_BUSY || primary == SQLITE_LOCKED ? weir::Status::Unavailable(m)
                                                              : weir::Status::Internal(m);
  }
  return weir::Status::Ok();
}

weir::Result<std::vector<SqlRow>> SqliteDb::Query(std::string_view sql,
                                                  const std::vector<SqlValue>& params) {
  Cached* c = nullptr;
  for (auto& s : statements_) {
    if (s->sql == sql) c = s.get();
  }
  if (c == nullptr) {
    auto fresh = std::make_unique<Cached>();
    fresh->sql = std::string(sql);
    int rc = sqlite3_prepare_v2(db_, fresh->sql.c_str(), static_cast<int>(fresh->sql.size()),
                                &fresh->stmt, nullptr);
    if (rc != SQLITE_OK) return Error(rc, "prepare");
    c = fresh.get();
    statements_.push_back(std::move(fresh));
  }
  sqlite3_stmt* st = c->stmt;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  for (size_t i = 0; i < params.size(); ++i) {
    const int idx = static_cast<int>(i) + 1;
    const SqlValue& p = params[i];
    if (std::holds_alternative<std::nullptr_t>(p)) {
      sqlite3_bind_null(st, idx);
    } else if (const auto* n = std::get_if<int64_t>(&p)) {
      sqlite3_bind_int64(st, idx, *n);
    } else if (const auto* d = std::get_if<double>(&p)) {
      sqlite3_bind_double(st, idx, *d);
    } else {
      const std::string& s = std::get<std::string>(p);
      sqlite3_bind_text(st, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    }
  }
  std::vector<SqlRow> rows;
  for (;;) {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      weir::Status s = Error(rc, "step");
      sqlite3_reset(st);
      return s;
    }
    SqlRow row;
    const int n = sqlite3_column_count(st);
    for (int i = 0; i < n; ++i) {
      switch (sqlite3_column_type(st, i)) {
        case SQLITE_NULL:
          row.emplace_back(nullptr);
          break;
        case SQLITE_INTEGER:
          row.emplace_back(static_cast<int64_t>(sqlite3_column_int64(st, i)));
          break;
        case SQLITE_FLOAT:
          row.emplace_back(sqlite3_column_double(st, i));
          break;
        default: {
          const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
          row.emplace_back(
              std::string(t != nullptr ? t : "", static_cast<size_t>(sqlite3_column_bytes(st, i))));
        }
      }
    }
    rows.push_back(std::move(row));
  }
  sqlite3_reset(st);
  return rows;
}

int64_t SqliteDb::Changes() const { return sqlite3_changes64(db_); }

int64_t AsInt(const SqlValue& v) {
  if (const auto* n = std::get_if<int64_t>(&v)) return *n;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<int64_t>(*d);
  return 0;
}
double AsDouble(const SqlValue& v) {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* n = std::get_if<int64_t>(&v)) return static_cast<double>(*n);
  return 0;
}
std::string AsText(const SqlValue& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* n = std::get_if<int64_t>(&v)) return std::to_string(*n);
  return {};
}

}  // namespace alpr
