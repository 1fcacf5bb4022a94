// Spool: records the cluster could not take yet, in SQLite. See
// weir/publish/spool.h for the contract and docs/publisher.md for the design.
#include "weir/publish/spool.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "common/wall_clock.h"

namespace weir::publish {
namespace {

constexpr int kFormatVersion = 1;

constexpr const char* kSchemaSql = R"sql(
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records(
  seq INTEGER PRIMARY KEY,
  topic TEXT NOT NULL,
  key BLOB,
  value BLOB,
  headers BLOB NOT NULL,
  event_type TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dead(
  seq INTEGER PRIMARY KEY,
  topic TEXT NOT NULL,
  key BLOB,
  value BLOB,
  headers BLOB NOT NULL,
  event_type TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  reason TEXT NOT NULL,
  failed_ms INTEGER NOT NULL);
)sql";

// Headers as one blob: per header a 4-byte key length, the key, a 4-byte
// value length (0xFFFFFFFF for a null value) and the value; little-endian.
void PutU32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
  out->append(b, 4);
}

std::string EncodeHeaders(const std::vector<Header>& headers) {
  std::string out;
  for (const Header& h : headers) {
    PutU32(&out, static_cast<uint32_t>(h.key.size()));
    out += h.key;
    if (h.value) {
      PutU32(&out, static_cast<uint32_t>(h.value->size()));
      out += *h.value;
    } else {
      PutU32(&out, 0xFFFFFFFFu);
    }
  }
  return out;
}

bool GetU32(std::string_view* in, uint32_t* v) {
  if (in->size() < 4) return false;
  *v = 0;
  for (int i = 0; i < 4; ++i)
    *v |= static_cast<uint32_t>(static_cast<uint8_t>((*in)[i])) << (8 * i);
  in->remove_prefix(4);
  return true;
}

bool DecodeHeaders(std::string_view in, std::vector<Header>* headers) {
  while (!in.empty()) {
    uint32_t klen = 0;
    uint32_t vlen = 0;
    if (!GetU32(&in, &klen) || in.size() < klen) return false;
    Header h;
    h.key.assign(in.substr(0, klen));
    in.remove_prefix(klen);
    if (!GetU32(&in, &vlen)) return false;
    if (vlen != 0xFFFFFFFFu) {
      if (in.size() < vlen) return false;
      h.value.emplace(in.substr(0, vlen));
      in.remove_prefix(vlen);
    }
    headers->push_back(std::move(h));
  }
  return true;
}

struct StmtDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtDeleter>;

struct DbDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbDeleter>;

Status SqlError(sqlite3* db, const std::string& path, std::string_view what) {
  const int code = db != nullptr ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
  std::string msg = fmt::format("spool {}: {}: {}", path, what,
                                db != nullptr ? sqlite3_errmsg(db) : "cannot allocate");
  if ((code & 0xFF) == SQLITE_CORRUPT || (code & 0xFF) == SQLITE_NOTADB) {
    return Status::Corruption(std::move(msg));
  }
  return Status::Io(std::move(msg));
}

Result<Stmt> Prepare(sqlite3* db, const std::string& path, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) {
    return SqlError(db, path, fmt::format("cannot prepare \"{}\"", sql));
  }
  return Stmt(s);
}

void BindOptionalBlob(sqlite3_stmt* s, int index, const std::optional<std::string>& v) {
  if (v) {
    sqlite3_bind_blob64(s, index, v->data(), v->size(), SQLITE_STATIC);
  } else {
    sqlite3_bind_null(s, index);
  }
}

std::optional<std::string> ColumnOptionalBlob(sqlite3_stmt* s, int col) {
  if (sqlite3_column_type(s, col) == SQLITE_NULL) return std::nullopt;
  const void* p = sqlite3_column_blob(s, col);
  const int n = sqlite3_column_bytes(s, col);
  return std::string(static_cast<const char*>(p != nullptr ? p : ""), static_cast<size_t>(n));
}

std::string ColumnText(sqlite3_stmt* s, int col) {
  const unsigned char* p = sqlite3_column_text(s, col);
  return p != nullptr ? std::string(reinterpret_cast<const char*>(p)) : std::string();
}

// Reads columns seq, topic, key, value, headers, event_type, created_ms.
Result<SpoolRecord> ReadRecordColumns(sqlite3_stmt* s, const std::string& path) {
  SpoolRecord r;
  r.seq = sqlite3_column_int64(s, 0);
  r.topic = ColumnText(s, 1);
  r.key = ColumnOptionalBlob(s, 2);
  r.value = ColumnOptionalBlob(s, 3);
  auto blob = ColumnOptionalBlob(s, 4);
  if (!DecodeHeaders(blob.value_or(""), &r.headers)) {
    return Status::Corruption(
        fmt::format("spool {}: record {} has malformed headers", path, r.seq));
  }
  r.event_type = ColumnText(s, 5);
  r.created_ms = sqlite3_column_int64(s, 6);
  return r;
}

// Opens |path| (read-write or read-only), checks it is a spool and, when
// writable, creates the tables.
Result<Db> OpenDb(const std::string& path, bool read_only) {
  sqlite3* raw = nullptr;
  const int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) return SqlError(raw, path, "cannot open");
  sqlite3_busy_timeout(db.get(), 10000);
  auto exec = [&](const char* sql) -> Status {
    char* err = nullptr;
    if (sqlite3_exec(db.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "error";
      sqlite3_free(err);
      const int code = sqlite3_extended_errcode(db.get()) & 0xFF;
      std::string text = fmt::format("spool {}: {}", path, msg);
      if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
        return Status::Corruption(text + " (not a weir spool database)");
      }
      return Status::Io(std::move(text));
    }
    return Status::Ok();
  };
  if (!read_only) {
    for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", kSchemaSql}) {
      if (Status st = exec(sql); !st.ok()) return st;
    }
    auto version = Prepare(db.get(), path, "SELECT value FROM meta WHERE name='format'");
    if (!version.ok()) return version.status();
    if (sqlite3_step(version->get()) == SQLITE_ROW) {
      std::string v = ColumnText(version->get(), 0);
      if (v != std::to_string(kFormatVersion)) {
        return Status::Unsupported(fmt::format(
            "spool {}: format version {} (this weir reads version {})", path, v, kFormatVersion));
      }
    } else if (Status st = exec(
                   fmt::format("INSERT INTO meta VALUES('format', '{}')", kFormatVersion).c_str());
               !st.ok()) {
      return st;
    }
  } else if (Status st = exec("SELECT count(*) FROM records"); !st.ok()) {
    return st;
  }
  return db;
}

// Who holds DIR/LOCK: 0 when nobody does.
int64_t LockOwner(const std::string& lock_path) {
  int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  int64_t pid = 0;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    pid = n > 0 ? std::atoll(buf) : -1;
    if (pid == 0) pid = -1;
  } else {
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
  return pid;
}

Result<SpoolStatus> QueryStatus(sqlite3* db, const std::string& path) {
  SpoolStatus st;
  auto q = Prepare(
      db, path, "SELECT topic, count(*), sum(size), min(created_ms) FROM records GROUP BY topic");
  if (!q.ok()) return q.status();
  int rc;
  while ((rc = sqlite3_step(q->get())) == SQLITE_ROW) {
    SpoolTopicStatus t;
    t.records = sqlite3_column_int64(q->get(), 1);
    t.bytes = sqlite3_column_int64(q->get(), 2);
    const int64_t oldest = sqlite3_column_int64(q->get(), 3);
    st.records += t.records;
    st.bytes += t.bytes;
    if (st.oldest_created_ms < 0 || oldest < st.oldest_created_ms) st.oldest_created_ms = oldest;
    st.topics[ColumnText(q->get(), 0)] = t;
  }
  if (rc != SQLITE_DONE) return SqlError(db, path, "cannot read the records");
  auto d = Prepare(db, path, "SELECT count(*) FROM dead");
  if (!d.ok()) return d.status();
  if (sqlite3_step(d->get()) != SQLITE_ROW) return SqlError(db, path, "cannot read dead records");
  st.dead = sqlite3_column_int64(d->get(), 0);
  return st;
}

}  // namespace

int64_t SpoolRecord::Size() const {
  int64_t n = static_cast<int64_t>(topic.size() + event_type.size()) + 64;
  if (key) n += static_cast<int64_t>(key->size());
  if (value) n += static_cast<int64_t>(value->size());
  for (const Header& h : headers) {
    n += static_cast<int64_t>(h.key.size() + 8 + (h.value ? h.value->size() : 0));
  }
  return n;
}

struct Spool::Impl {
  std::string dir;
  std::string db_path;
  int64_t max_bytes = 0;
  int lock_fd = -1;
  mutable std::mutex mu;
  Db db;
  int64_t bytes = 0;    // GUARDED_BY(mu)
  int64_t count = 0;    // GUARDED_BY(mu)
  int64_t max_seq = 0;  // GUARDED_BY(mu)
  Stmt insert, remove, read, move_dead, begin, commit, rollback;

  ~Impl() {
    insert.reset();
    remove.reset();
    read.reset();
    move_dead.reset();
    begin.reset();
    commit.reset();
    rollback.reset();
    db.reset();
    if (lock_fd >= 0) ::close(lock_fd);  // releases the flock
  }

  Status Step(sqlite3_stmt* s, std::string_view what) {
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return SqlError(db.get(), db_path, what);
    return Status::Ok();
  }
};

Spool::Spool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Spool::~Spool() = default;

Result<std::unique_ptr<Spool>> Spool::Open(const std::string& dir, int64_t max_bytes) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Io(fmt::format("cannot create spool folder {}: {}", dir, ec.message()));
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->db_path = (std::filesystem::path(dir) / "spool.db").string();
  impl->max_bytes = max_bytes;
  const std::string lock_path = (std::filesystem::path(dir) / "LOCK").string();
  impl->lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (impl->lock_fd < 0) {
    return Status::Io(fmt::format("cannot open {}: {}", lock_path, std::strerror(errno)));
  }
  if (::flock(impl->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    ssize_t n = ::pread(impl->lock_fd, buf, sizeof(buf) - 1, 0);
    return Status::Unavailable(
        fmt::format("the spool {} is in use by process {} (only one process may own a spool; "
                    "that process forwards it itself)",
                    dir, n > 0 ? std::string(buf) : std::string("?")));
  }
  std::string pid = std::to_string(::getpid());
  if (::ftruncate(impl->lock_fd, 0) != 0 ||
      ::pwrite(impl->lock_fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return Status::Io(fmt::format("cannot write {}: {}", lock_path, std::strerror(errno)));
  }
  auto db = OpenDb(impl->db_path, /*read_only=*/false);
  if (!db.ok()) return db.status();
  impl->db = std::move(*db);
  sqlite3* h = impl->db.get();
  const std::string& p = impl->db_path;
  struct {
    Stmt* stmt;
    const char* sql;
  } statements[] = {
      {&impl->insert,
       "INSERT INTO records(seq, topic, key, value, headers, event_type, created_ms, size) "
       "VALUES(?,?,?,?,?,?,?,?)"},
      {&impl->remove, "DELETE FROM records WHERE seq=?"},
      {&impl->read,
       "SELECT seq, topic, key, value, headers, event_type, created_ms FROM records "
       "WHERE seq>? ORDER BY seq LIMIT ?"},
      {&impl->move_dead,
       "INSERT INTO dead SELECT seq, topic, key, value, headers, event_type, created_ms, ?, ? "
       "FROM records WHERE seq=?"},
      {&impl->begin, "BEGIN IMMEDIATE"},
      {&impl->commit, "COMMIT"},
      {&impl->rollback, "ROLLBACK"},
  };
  for (auto& s : statements) {
    auto stmt = Prepare(h, p, s.sql);
    if (!stmt.ok()) return stmt.status();
    *s.stmt = std::move(*stmt);
  }
  auto totals = Prepare(h, p,
                        "SELECT count(*), coalesce(sum(size),0), "
                        "max(coalesce((SELECT max(seq) FROM records),0), "
                        "coalesce((SELECT max(seq) FROM dead),0)) FROM records");
  if (!totals.ok()) return totals.status();
  if (sqlite3_step(totals->get()) != SQLITE_ROW) return SqlError(h, p, "cannot read totals");
  impl->count = sqlite3_column_int64(totals->get(), 0);
  impl->bytes = sqlite3_column_int64(totals->get(), 1);
  impl->max_seq = sqlite3_column_int64(totals->get(), 2);
  if (impl->count > 0) {
    spdlog::info("spool {}: {} records ({} bytes) waiting to be forwarded", dir, impl->count,
                 impl->bytes);
  }
  return std::unique_ptr<Spool>(new Spool(std::move(impl)));
}

Result<SpoolStatus> Spool::ReadStatus(const std::string& dir) {
  const std::string db_path = (std::filesystem::path(dir) / "spool.db").string();
  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) {
    return Status::NotFound(fmt::format("no spool in {} (no spool.db)", dir));
  }
  auto db = OpenDb(db_path, /*read_only=*/true);
  if (!db.ok()) return db.status();
  auto st = QueryStatus(db->get(), db_path);
  if (!st.ok()) return st.status();
  st->dir = dir;
  st->owner_pid = LockOwner((std::filesystem::path(dir) / "LOCK").string());
  return st;
}

Result<std::vector<DeadRecord>> Spool::ReadDead(const std::string& dir, size_t limit) {
  const std::string db_path = (std::filesystem::path(dir) / "spool.db").string();
  std::error_code ec;
  if (!std::filesystem::exists(db_path, ec)) {
    return Status::NotFound(fmt::format("no spool in {} (no spool.db)", dir));
  }
  auto db = OpenDb(db_path, /*read_only=*/true);
  if (!db.ok()) return db.status();
  auto q = Prepare(db->get(), db_path,
                   "SELECT seq, topic, key, value, headers, event_type, created_ms, reason, "
                   "failed_ms FROM dead ORDER BY seq LIMIT ?");
  if (!q.ok()) return q.status();
  sqlite3_bind_int64(q->get(), 1, static_cast<int64_t>(limit));
  std::vector<DeadRecord> out;
  int rc;
  while ((rc = sqlite3_step(q->get())) == SQLITE_ROW) {
    auto r = ReadRecordColumns(q->get(), db_path);
    if (!r.ok()) return r.status();
    out.push_back(
        DeadRecord{std::move(*r), ColumnText(q->get(), 7), sqlite3_column_int64(q->get(), 8)});
  }
  if (rc != SQLITE_DONE) return SqlError(db->get(), db_path, "cannot read dead records");
  return out;
}

Status Spool::Append(std::span<const SpoolRecord> records) {
  if (records.empty()) return Status::Ok();
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mu);
  int64_t add = 0;
  for (const SpoolRecord& r : records) add += r.Size();
  if (d.bytes + add > d.max_bytes) {
    return Status::Unavailable(
        fmt::format("spool {} is full: {} bytes stored, {} more would pass its limit of {} bytes "
                    "(publisher.spool.max_bytes)",
                    d.dir, d.bytes, add, d.max_bytes));
  }
  if (Status st = d.Step(d.begin.get(), "cannot begin"); !st.ok()) return st;
  int64_t max_seq = d.max_seq;
  for (const SpoolRecord& r : records) {
    sqlite3_stmt* s = d.insert.get();
    std::string headers = EncodeHeaders(r.headers);
    sqlite3_bind_int64(s, 1, r.seq);
    sqlite3_bind_text(s, 2, r.topic.data(), static_cast<int>(r.topic.size()), SQLITE_STATIC);
    BindOptionalBlob(s, 3, r.key);
    BindOptionalBlob(s, 4, r.value);
    sqlite3_bind_blob64(s, 5, headers.data(), headers.size(), SQLITE_STATIC);
    sqlite3_bind_text(s, 6, r.event_type.data(), static_cast<int>(r.event_type.size()),
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 7, r.created_ms);
    sqlite3_bind_int64(s, 8, r.Size());
    if (Status st = d.Step(s, fmt::format("cannot store record {}", r.seq)); !st.ok()) {
      (void)d.Step(d.rollback.get(), "rollback");
      return st;
    }
    max_seq = std::max(max_seq, r.seq);
  }
  if (Status st = d.Step(d.commit.get(), "cannot commit"); !st.ok()) {
    (void)d.Step(d.rollback.get(), "rollback");
    return st;
  }
  d.bytes += add;
  d.count += static_cast<int64_t>(records.size());
  d.max_seq = max_seq;
  return Status::Ok();
}

Result<std::vector<SpoolRecord>> Spool::ReadOldest(size_t limit, int64_t after_seq) {
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mu);
  sqlite3_stmt* s = d.read.get();
  sqlite3_bind_int64(s, 1, after_seq);
  sqlite3_bind_int64(s, 2, static_cast<int64_t>(limit));
  std::vector<SpoolRecord> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    auto r = ReadRecordColumns(s, d.db_path);
    if (!r.ok()) {
      sqlite3_reset(s);
      return r.status();
    }
    out.push_back(std::move(*r));
  }
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) return SqlError(d.db.get(), d.db_path, "cannot read records");
  return out;
}

Status Spool::Remove(std::span<const int64_t> seqs) {
  if (seqs.empty()) return Status::Ok();
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mu);
  auto size_of = Prepare(d.db.get(), d.db_path,
                         "SELECT coalesce(sum(size),0), count(*) FROM records WHERE seq=?");
  if (!size_of.ok()) return size_of.status();
  if (Status st = d.Step(d.begin.get(), "cannot begin"); !st.ok()) return st;
  int64_t freed = 0;
  int64_t removed = 0;
  for (int64_t seq : seqs) {
    sqlite3_bind_int64(size_of->get(), 1, seq);
    if (sqlite3_step(size_of->get()) == SQLITE_ROW) {
      freed += sqlite3_column_int64(size_of->get(), 0);
      removed += sqlite3_column_int64(size_of->get(), 1);
    }
    sqlite3_reset(size_of->get());
    sqlite3_bind_int64(d.remove.get(), 1, seq);
    if (Status st = d.Step(d.remove.get(), fmt::format("cannot delete record {}", seq)); !st.ok()) {
      (void)d.Step(d.rollback.get(), "rollback");
      return st;
    }
  }
  if (Status st = d.Step(d.commit.get(), "cannot commit"); !st.ok()) {
    (void)d.Step(d.rollback.get(), "rollback");
    return st;
  }
  d.bytes -= freed;
  d.count -= removed;
  return Status::Ok();
}

Status Spool::MarkDead(int64_t seq, const std::string& reason) {
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mu);
  auto size_of = Prepare(d.db.get(), d.db_path, "SELECT size FROM records WHERE seq=?");
  if (!size_of.ok()) return size_of.status();
  sqlite3_bind_int64(size_of->get(), 1, seq);
  if (sqlite3_step(size_of->get()) != SQLITE_ROW) {
    return Status::NotFound(fmt::format("spool {}: no record {}", d.dir, seq));
  }
  const int64_t size = sqlite3_column_int64(size_of->get(), 0);
  // Copy and delete in one transaction, so the record is in exactly one table.
  if (Status st = d.Step(d.begin.get(), "cannot begin"); !st.ok()) return st;
  sqlite3_bind_text(d.move_dead.get(), 1, reason.data(), static_cast<int>(reason.size()),
                    SQLITE_STATIC);
  sqlite3_bind_int64(d.move_dead.get(), 2, WallClockMs());
  sqlite3_bind_int64(d.move_dead.get(), 3, seq);
  Status st = d.Step(d.move_dead.get(), fmt::format("cannot keep dead record {}", seq));
  if (st.ok()) {
    sqlite3_bind_int64(d.remove.get(), 1, seq);
    st = d.Step(d.remove.get(), fmt::format("cannot delete record {}", seq));
  }
  if (st.ok()) st = d.Step(d.commit.get(), "cannot commit");
  if (!st.ok()) {
    (void)d.Step(d.rollback.get(), "rollback");
    return st;
  }
  d.bytes -= size;
  d.count -= 1;
  return Status::Ok();
}

int64_t Spool::MaxSeq() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->max_seq;
}

int64_t Spool::Count() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->count;
}

SpoolStatus Spool::GetStatus() const {
  Impl& d = *impl_;
  std::lock_guard<std::mutex> lock(d.mu);
  auto st = QueryStatus(d.db.get(), d.db_path);
  SpoolStatus out = st.ok() ? std::move(*st) : SpoolStatus{};
  if (!st.ok()) {
    spdlog::warn("{}", st.status().message());
    out.records = d.count;
    out.bytes = d.bytes;
  }
  out.dir = d.dir;
  out.max_bytes = d.max_bytes;
  out.owner_pid = ::getpid();
  return out;
}

const std::string& Spool::dir() const { return impl_->dir; }

}  // namespace weir::publish
