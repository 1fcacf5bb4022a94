#include "vector_index.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "image_features.h"

namespace deeplens {
namespace {

using weir::Status;

Status SqlError(sqlite3* db, const std::string& what) {
  return Status::Io(fmt::format("vector index: {}: {}", what, sqlite3_errmsg(db)));
}

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &st_, nullptr); }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  void Text(int i, const std::string& s) {
    sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
  }
  void OptText(int i, const std::optional<std::string>& s) {
    if (s) {
      Text(i, *s);
    } else {
      sqlite3_bind_null(st_, i);
    }
  }
  void Int(int i, int64_t v) { sqlite3_bind_int64(st_, i, v); }
  void Blob(int i, const void* p, size_t n) {
    sqlite3_bind_blob(st_, i, p, static_cast<int>(n), SQLITE_TRANSIENT);
  }
  int Step() { return sqlite3_step(st_); }
  std::string ColText(int c) const {
    const unsigned char* t = sqlite3_column_text(st_, c);
    return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t));
  }
  bool IsNull(int c) const { return sqlite3_column_type(st_, c) == SQLITE_NULL; }
  int64_t ColInt(int c) const { return sqlite3_column_int64(st_, c); }
  std::vector<double> ColDoubles(int c) const {
    const void* p = sqlite3_column_blob(st_, c);
    const size_t n = static_cast<size_t>(sqlite3_column_bytes(st_, c)) / sizeof(double);
    std::vector<double> out(n);
    if (n > 0) std::memcpy(out.data(), p, n * sizeof(double));
    return out;
  }

 private:
  sqlite3_stmt* st_ = nullptr;
  int rc_;
};

constexpr const char* kColumns =
    "image_id, tenant_id, phash, histogram, storage_path, duplicate_of, hash_distance, "
    "indexed_at";

IndexEntry ReadEntry(const Stmt& st) {
  IndexEntry e;
  e.image_id = st.ColText(0);
  e.tenant_id = st.ColText(1);
  e.phash = std::bit_cast<uint64_t>(st.ColInt(2));
  e.histogram = st.ColDoubles(3);
  e.storage_path = st.ColText(4);
  if (!st.IsNull(5)) e.duplicate_of = st.ColText(5);
  if (!st.IsNull(6)) e.hash_distance = static_cast<int>(st.ColInt(6));
  e.indexed_at = st.ColText(7);
  return e;
}

bool Exec(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

}  // namespace

weir::Result<std::unique_ptr<VectorIndex>> VectorIndex::Open(const std::string& path,
                                                             int max_distance) {
  std::unique_ptr<VectorIndex> idx(new VectorIndex());
  idx->max_distance_ = max_distance;
  if (sqlite3_open_v2(path.c_str(), &idx->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    return Status::Io(fmt::format("vector index {}: cannot open: {}", path,
                                  idx->db_ ? sqlite3_errmsg(idx->db_) : "out of memory"));
  }
  sqlite3_busy_timeout(idx->db_, 5000);
  if (!Exec(idx->db_, "PRAGMA journal_mode=WAL") || !Exec(idx->db_, "PRAGMA synchronous=NORMAL") ||
      !Exec(idx->db_,
            "CREATE TABLE IF NOT EXISTS images ("
            " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " image_id TEXT NOT NULL UNIQUE,"
            " tenant_id TEXT NOT NULL,"
            " phash INTEGER NOT NULL,"
            " histogram BLOB NOT NULL,"
            " storage_path TEXT NOT NULL,"
            " duplicate_of TEXT,"
            " hash_distance INTEGER,"
            " indexed_at TEXT NOT NULL)") ||
      !Exec(idx->db_,
            "CREATE INDEX IF NOT EXISTS images_originals ON images(tenant_id) "
            "WHERE duplicate_of IS NULL")) {
    return SqlError(idx->db_, fmt::format("preparing {}", path));
  }
  return idx;
}

VectorIndex::~VectorIndex() {
  if (db_ != nullptr) sqlite3_close(db_);
}

weir::Result<std::vector<IndexEntry>> VectorIndex::Query(const std::string& where,
                                                         const std::string& arg) {
  const std::string sql = fmt::format("SELECT {} FROM images {} ORDER BY seq", kColumns, where);
  Stmt st(db_, sql.c_str());
  if (!st.ok()) return SqlError(db_, "query");
  if (!where.empty()) st.Text(1, arg);
  std::vector<IndexEntry> out;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) out.push_back(ReadEntry(st));
  if (rc != SQLITE_DONE) return SqlError(db_, "query");
  return out;
}

weir::Result<AddOutcome> VectorIndex::Add(const IndexEntry& entry, const std::string& now_iso) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!Exec(db_, "BEGIN IMMEDIATE")) return SqlError(db_, "BEGIN");
  auto rollback = [this](Status s) {
    Exec(db_, "ROLLBACK");
    return s;
  };
  auto existing = Query("WHERE image_id = ?1", entry.image_id);
  if (!existing.ok()) return rollback(existing.status());
  if (!existing->empty()) {
    Exec(db_, "ROLLBACK");
    return AddOutcome{std::move(existing->front()), false};
  }
  auto originals = Query("WHERE tenant_id = ?1 AND duplicate_of IS NULL", entry.tenant_id);
  if (!originals.ok()) return rollback(originals.status());
  IndexEntry stored = entry;
  stored.duplicate_of.reset();
  stored.hash_distance.reset();
  stored.indexed_at = now_iso;
  for (const IndexEntry& o : *originals) {
    const int d = HammingDistance(o.phash, entry.phash);
    if (d <= max_distance_ && (!stored.hash_distance || d < *stored.hash_distance)) {
      stored.duplicate_of = o.image_id;
      stored.hash_distance = d;
    }
  }
  Stmt ins(db_,
           "INSERT INTO images (image_id, tenant_id, phash, histogram, storage_path, "
           "duplicate_of, hash_distance, indexed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  if (!ins.ok()) return rollback(SqlError(db_, "insert"));
  ins.Text(1, stored.image_id);
  ins.Text(2, stored.tenant_id);
  ins.Int(3, std::bit_cast<int64_t>(stored.phash));
  ins.Blob(4, stored.histogram.data(), stored.histogram.size() * sizeof(double));
  ins.Text(5, stored.storage_path);
  ins.OptText(6, stored.duplicate_of);
  if (stored.hash_distance) {
    ins.Int(7, *stored.hash_distance);
  } else {
    ins.OptText(7, std::nullopt);
  }
  ins.Text(8, stored.indexed_at);
  if (ins.Step() != SQLITE_DONE) {
    return rollback(SqlError(db_, fmt::format("inserting {}", stored.image_id)));
  }
  if (!Exec(db_, "COMMIT")) return rollback(SqlError(db_, "COMMIT"));
  return AddOutcome{std::move(stored), true};
}

weir::Result<std::optional<IndexEntry>> VectorIndex::Find(const std::string& image_id) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_ASSIGN_OR_RETURN(std::vector<IndexEntry> rows, Query("WHERE image_id = ?1", image_id));
  if (rows.empty()) return std::optional<IndexEntry>();
  return std::optional<IndexEntry>(std::move(rows.front()));
}

weir::Result<std::vector<IndexEntry>> VectorIndex::List(const std::string& tenant_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return tenant_id.empty() ? Query("", "") : Query("WHERE tenant_id = ?1", tenant_id);
}

weir::Result<std::vector<Neighbour>> VectorIndex::Similar(const std::string& image_id, size_t k) {
  std::lock_guard<std::mutex> lock(mu_);
  WEIR_ASSIGN_OR_RETURN(std::vector<IndexEntry> self, Query("WHERE image_id = ?1", image_id));
  if (self.empty()) return Status::NotFound(fmt::format("image {} is not indexed", image_id));
  WEIR_ASSIGN_OR_RETURN(std::vector<IndexEntry> rows,
                        Query("WHERE tenant_id = ?1", self.front().tenant_id));
  std::vector<Neighbour> out;
  for (const IndexEntry& e : rows) {
    if (e.image_id == image_id) continue;
    double d = 0;
    const size_t n = std::min(e.histogram.size(), self.front().histogram.size());
    for (size_t i = 0; i < n; ++i) d += std::abs(e.histogram[i] - self.front().histogram[i]);
    out.push_back(Neighbour{e.image_id, d});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Neighbour& a, const Neighbour& b) { return a.distance < b.distance; });
  if (out.size() > k) out.resize(k);
  return out;
}

}  // namespace deeplens
