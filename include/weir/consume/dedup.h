// weir/consume/dedup.h — exactly-once effects with persistent de-duplication.
//
// A group with `dedup: {persistent: true}` keeps the keys it has handled in
// a SQLite file (RuntimeOptions::dedup_path, by default
// .weir/dedup/<group>.sqlite beside weir.yaml), table weir_dedup(key TEXT
// PRIMARY KEY, expires_ms INTEGER). The runtime writes a key there after the
// handler returns, so a crash between the handler's effect and that write
// can still repeat the effect once. A handler that stores its effect in the
// same SQLite file closes the gap: it records the key itself, in the
// transaction of its effect,
//
//   BEGIN; INSERT INTO plates ...; RecordHandledKey(db, m.dedup_key(), ttl); COMMIT;
//
// so that either both are on disk (and the redelivered record is dropped as a
// duplicate after the restart) or neither is. docs/consumer.md explains.
#pragma once

#include <chrono>
#include <string_view>

#include "weir/status.h"

struct sqlite3;

namespace weir::consume {

// Records |key| as handled until now + |ttl| (wall clock) in |db|, a
// connection on the group's persistent dedup file, creating the table if
// needed. Call it inside the caller's open transaction.
Status RecordHandledKey(sqlite3* db, std::string_view key, std::chrono::milliseconds ttl);

}  // namespace weir::consume
