// examples/alpr/sqlite_db.h — the small part of SQLite the ALPR stores use:
// a connection in WAL mode and prepared statements with bound parameters.
// Errors name the database file and SQLite's message; SQLITE_BUSY and
// SQLITE_LOCKED are Unavailable (worth a retry), everything else Internal.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "weir/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace alpr {

using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string>;
using SqlRow = std::vector<SqlValue>;

class SqliteDb {
 public:
  // Opens (creating) |path| in WAL mode with synchronous=NORMAL.
  static weir::Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements without parameters.
  weir::Status Exec(std::string_view sql);
  // Runs one statement with ?1.. parameters; returns its rows. Statements
  // are prepared once and cached by their text.
  weir::Result<std::vector<SqlRow>> Query(std::string_view sql,
                                          const std::vector<SqlValue>& params);
  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t Changes() const;
  const std::string& path() const { return path_; }

 private:
  SqliteDb() = default;
  weir::Status Error(int rc, std::string_view what) const;
  sqlite3* db_ = nullptr;
  std::string path_;
  struct Cached;
  std::vector<std::unique_ptr<Cached>> statements_;
};

int64_t AsInt(const SqlValue& v);
double AsDouble(const SqlValue& v);
std::string AsText(const SqlValue& v);

}  // namespace alpr
