#include "consume/dedup_store.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <filesystem>

#include "common/wall_clock.h"

namespace weir::consume {
namespace {

constexpr const char* kCreateSql =
    "CREATE TABLE IF NOT EXISTS weir_dedup (key TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL)";
constexpr const char* kUpsertSql =
    "INSERT INTO weir_dedup (key, expires_ms) VALUES (?, ?) "
    "ON CONFLICT(key) DO UPDATE SET expires_ms = MAX(expires_ms, excluded.expires_ms)";

Status SqliteError(sqlite3* db, const std::string& path, std::string_view what) {
  return Status::Io(fmt::format("dedup store {}: {}: {}", path, what,
                                db != nullptr ? sqlite3_errmsg(db) : "cannot open"));
}

}  // namespace

DedupStore::DedupStore(std::chrono::milliseconds ttl) : ttl_ms_(ttl.count()) {}

DedupStore::~DedupStore() {
  sqlite3_finalize(upsert_);
  sqlite3_close(db_);
}

Result<std::unique_ptr<DedupStore>> DedupStore::OpenPersistent(const std::string& path,
                                                               std::chrono::milliseconds ttl,
                                                               int64_t now_ms) {
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return Status::Io(fmt::format("dedup store {}: {}", path, ec.message()));
  auto store = std::make_unique<DedupStore>(ttl);
  if (sqlite3_open_v2(path.c_str(), &store->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    return SqliteError(store->db_, path, "open");
  }
  sqlite3_busy_timeout(store->db_, 10000);
  // synchronous=FULL: a key the runtime reports handled is on disk before the
  // record's offset can be committed.
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", kCreateSql}) {
    if (sqlite3_exec(store->db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return SqliteError(store->db_, path, sql);
    }
  }
  sqlite3_stmt* del = nullptr;
  if (sqlite3_prepare_v2(store->db_, "DELETE FROM weir_dedup WHERE expires_ms <= ?", -1, &del,
                         nullptr) != SQLITE_OK) {
    return SqliteError(store->db_, path, "prepare");
  }
  sqlite3_bind_int64(del, 1, now_ms);
  sqlite3_step(del);
  sqlite3_finalize(del);
  sqlite3_stmt* sel = nullptr;
  if (sqlite3_prepare_v2(store->db_, "SELECT key, expires_ms FROM weir_dedup ORDER BY expires_ms",
                         -1, &sel, nullptr) != SQLITE_OK) {
    return SqliteError(store->db_, path, "prepare");
  }
  while (sqlite3_step(sel) == SQLITE_ROW) {
    std::string key(reinterpret_cast<const char*>(sqlite3_column_text(sel, 0)),
                    static_cast<size_t>(sqlite3_column_bytes(sel, 0)));
    const int64_t expires = sqlite3_column_int64(sel, 1);
    store->keys_[key] = Entry{expires};
    store->expiry_.emplace_back(std::move(key), expires);
  }
  sqlite3_finalize(sel);
  if (sqlite3_prepare_v2(store->db_, kUpsertSql, -1, &store->upsert_, nullptr) != SQLITE_OK) {
    return SqliteError(store->db_, path, "prepare");
  }
  store->last_purge_ms_ = now_ms;
  return store;
}

void DedupStore::ExpireLocked(int64_t now_ms) {
  while (!expiry_.empty() && expiry_.front().second <= now_ms) {
    auto it = keys_.find(expiry_.front().first);
    // A key handled again later carries a later expiry: keep it.
    if (it != keys_.end() && it->second.expires_ms == expiry_.front().second) keys_.erase(it);
    expiry_.pop_front();
  }
  if (db_ != nullptr && now_ms - last_purge_ms_ > ttl_ms_) {
    last_purge_ms_ = now_ms;
    const std::string sql = fmt::format("DELETE FROM weir_dedup WHERE expires_ms <= {}", now_ms);
    sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr);
  }
}

DedupStore::ClaimResult DedupStore::Claim(std::string_view key, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now_ms);
  auto [it, inserted] = keys_.try_emplace(std::string(key), Entry{0});
  if (inserted) return ClaimResult::kClaimed;
  return it->second.expires_ms == 0 ? ClaimResult::kInProgress : ClaimResult::kDone;
}

Status DedupStore::Done(std::string_view key, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t expires = now_ms + ttl_ms_;
  keys_[std::string(key)] = Entry{expires};
  expiry_.emplace_back(std::string(key), expires);
  if (db_ == nullptr) return Status::Ok();
  sqlite3_reset(upsert_);
  sqlite3_bind_text(upsert_, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(upsert_, 2, expires);
  if (sqlite3_step(upsert_) != SQLITE_DONE) {
    return Status::Io(
        fmt::format("dedup store: cannot record key {}: {}", key, sqlite3_errmsg(db_)));
  }
  return Status::Ok();
}

void DedupStore::Release(std::string_view key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = keys_.find(std::string(key));
  if (it != keys_.end() && it->second.expires_ms == 0) keys_.erase(it);
}

size_t DedupStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.size();
}

}  // namespace weir::consume

namespace weir::consume {

Status RecordHandledKey(sqlite3* db, std::string_view key, std::chrono::milliseconds ttl) {
  if (sqlite3_exec(db, kCreateSql, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return Status::Io(fmt::format("dedup: {}", sqlite3_errmsg(db)));
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, kUpsertSql, -1, &stmt, nullptr) != SQLITE_OK) {
    return Status::Io(fmt::format("dedup: {}", sqlite3_errmsg(db)));
  }
  const int64_t now = WallClockMs();
  sqlite3_bind_text(stmt, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(stmt, 2, now + ttl.count());
  const int rc = sqlite3_step(stmt);
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) return Status::Io(fmt::format("dedup: {}", sqlite3_errmsg(db)));
  return Status::Ok();
}

}  // namespace weir::consume
