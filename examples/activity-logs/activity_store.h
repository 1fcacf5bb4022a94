// examples/activity-logs/activity_store.h — the document store of the
// activity logs: one JSON document per activity event, keyed by eventId.
//
// The seed stores logs in MongoDB. weir's example keeps the same role in
// SQLite by default (a file; the document as JSON text, checked with
// json_valid) or in PostgreSQL (a JSONB column, with a GIN index for
// document queries), chosen by OpenActivityStore()'s spec: a file path, or a
// postgresql:// URL.
//
// Idempotent: Insert() of an eventId already stored stores nothing and says
// so (INSERT ... ON CONFLICT (event_id) DO NOTHING), so a record the
// consumer sees twice — a redelivery after a rebalance or a crash before
// the commit, the same event produced twice — is stored once.
//
// Errors are weir::Status values; their code says whether to retry:
// kUnavailable (the database is busy, locked, unreachable, out of
// connections: transient), kInvalidArgument (the document is refused by
// the database: permanent), anything else (a bug or a broken schema).
// StoreErrorClass() maps them to the consumer runtime's classes.
//
// Threads: every method may be called from any thread (one connection,
// behind a mutex).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weir/status.h"
#include "weir/topology.h"

namespace activity_logs {

// One stored activity: the event and where it was read from.
struct StoredActivity {
  std::string event_id;
  std::string user_id;
  std::string activity_type;
  std::string document;  // the event as JSON (PostgreSQL returns jsonb's normal form)
  std::string source_topic;
  int32_t source_partition = -1;
  int64_t source_offset = -1;
  std::string stored_at;  // when it was first stored (ISO-8601 UTC)
};

enum class InsertOutcome : uint8_t {
  kInserted,       // a new document
  kAlreadyStored,  // that eventId was stored before; nothing changed
};

class ActivityStore {
 public:
  virtual ~ActivityStore() = default;
  // Stores |a| unless its event_id is stored (a.stored_at is ignored).
  virtual weir::Result<InsertOutcome> Insert(const StoredActivity& a) = 0;
  // Every stored activity, by event_id.
  virtual weir::Result<std::vector<StoredActivity>> All() = 0;
  // How many documents are stored.
  virtual weir::Result<int64_t> Count() = 0;
  // "SQLite <path>" or "PostgreSQL <url without password>".
  virtual std::string Describe() const = 0;
  // "sqlite" or "postgresql".
  virtual std::string Kind() const = 0;
};

// True when |spec| names a PostgreSQL database (postgresql:// or postgres://).
bool IsPostgresSpec(const std::string& spec);

// Opens the store |spec| names — a SQLite file (created with its folders) or
// a PostgreSQL URL — and creates the table user_activity_logs when missing.
// Fails naming the file or the (redacted) URL.
weir::Result<std::unique_ptr<ActivityStore>> OpenActivityStore(const std::string& spec);

// The consumer runtime's class of a store error: kUnavailable →
// PROCESSING_FAILURE (retried), kInvalidArgument → BUSINESS_LOGIC (to the
// DLQ at once), others → UNKNOWN (retried, then the DLQ).
weir::ErrorClass StoreErrorClass(const weir::Status& status);

}  // namespace activity_logs
