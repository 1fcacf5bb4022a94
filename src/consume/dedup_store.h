// consume/dedup_store.h — the keys a consumer group has handled, each for a
// time to live; in memory, and optionally in a SQLite file so that they
// survive a restart.
//
// A key moves through two states. Claim() marks it in progress, so that a
// second copy read at the same time (from the legacy and the new topic of a
// migration, or a producer retry) is recognised as a duplicate while the
// first is still being handled. Done() makes it handled for |ttl| and, when
// persistent, writes it to disk before returning. Release() forgets a claim
// whose record was not handled (it is going to the DLQ, or was abandoned),
// so that a later copy — a replay — is handled again.
//
// Times are wall-clock milliseconds, given by the caller, so that expiry
// holds across restarts and tests control it.
//
// Threads: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "weir/consume/dedup.h"
#include "weir/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace weir::consume {

class DedupStore {
 public:
  // An in-memory store.
  explicit DedupStore(std::chrono::milliseconds ttl);
  // A store kept also in the SQLite file |path| (created with its folder);
  // unexpired keys written by an earlier run are loaded.
  static Result<std::unique_ptr<DedupStore>> OpenPersistent(const std::string& path,
                                                            std::chrono::milliseconds ttl,
                                                            int64_t now_ms);
  ~DedupStore();
  DedupStore(const DedupStore&) = delete;
  DedupStore& operator=(const DedupStore&) = delete;

  enum class ClaimResult : uint8_t { kClaimed, kInProgress, kDone };
  // Claims |key| unless it is in progress or was handled within the TTL.
  ClaimResult Claim(std::string_view key, int64_t now_ms);
  // Marks |key| handled until now_ms + ttl. Fails only when the persistent
  // write fails (the key is then still handled in memory).
  Status Done(std::string_view key, int64_t now_ms);
  void Release(std::string_view key);

  size_t size() const;
  bool persistent() const { return db_ != nullptr; }

 private:
  struct Entry {
    int64_t expires_ms = 0;  // 0 while in progress
  };
  void ExpireLocked(int64_t now_ms);

  const int64_t ttl_ms_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> keys_;
  // Handled keys in the order they expire (the TTL is fixed, so insertion
  // order): each with the expiry it was given, to skip stale entries.
  std::deque<std::pair<std::string, int64_t>> expiry_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* upsert_ = nullptr;
  int64_t last_purge_ms_ = 0;
};

}  // namespace weir::consume
