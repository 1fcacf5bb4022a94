// examples/common/pg_client.h — a small PostgreSQL client (libpq) for the
// reference systems' stores (activity logs' JSONB documents, ALPR's plates).
//
//   auto conn = weir::examples::PgConnection::Connect("postgresql://app@db:5432/logs");
//   if (!conn.ok()) ...;
//   auto rows = (*conn)->Exec("SELECT doc FROM logs WHERE user_id = $1", {"user123"});
//   if (!rows.ok()) return HandlerResult::Fail(PgErrorClass(rows.status()), ...);
//
// What it promises:
//  - Statements take their values as $1, $2, ... parameters, sent apart
//    from the SQL text (PQexecParams); no value is ever spliced into SQL.
//  - Errors are weir::Status values whose message starts with the server's
//    SQLSTATE ("SQLSTATE 23505: duplicate key value ...") when there is one
//    and names the server by its redacted URL. Their code says whether to
//    try again (PgErrorClass() turns it into the consumer runtime's class):
//      kUnavailable      transient: the connection is lost or cannot be
//                        made, too many connections or other resource
//                        shortage (53xxx), serialization failure or
//                        deadlock (40xxx), the server shutting down or
//                        starting (57P01-57P03), a lock or statement
//                        timeout (55P03, 57014) → PROCESSING_FAILURE
//      kInvalidArgument  permanent: the data is wrong for the table — a
//                        data exception (22xxx) or a constraint violation
//                        (23xxx) → BUSINESS_LOGIC (not retried)
//      kInternal         anything else (a syntax error, a missing table,
//                        a permission) → UNKNOWN
//  - A password in the URL (postgresql://user:secret@..., ?password=...,
//    password=... in a key=value string) never appears in a message or a
//    log: RedactPgUrl() hides it, and error texts are scrubbed of it.
//  - A connection that broke is made again by the next Exec() (one
//    attempt; the statement that saw it break failed with kUnavailable and
//    is not repeated behind the caller's back).
//
// Threads: a PgConnection is used by one thread at a time (libpq's rule);
// share it behind a mutex or open one per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/status.h"
#include "weir/topology.h"

struct pg_conn;

namespace weir::examples {

// The rows a statement returned: every value as text (PostgreSQL's text
// output: jsonb as JSON text, bool as "t"/"f"), NULL as nullopt.
struct PgRows {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
  // Rows inserted, updated or deleted (PQcmdTuples); 0 for other commands.
  int64_t affected = 0;

  // The value of |column| in row |row|; nullopt for NULL or an unknown column.
  std::optional<std::string> Get(size_t row, std::string_view column) const;
};

// One statement parameter: text, or nullopt for SQL NULL.
using PgParam = std::optional<std::string>;

class PgConnection {
 public:
  // Connects to |url| (a postgresql:// or postgres:// URL, or a libpq
  // key=value string). kUnavailable when the server cannot be reached or
  // refuses the connection; kInvalidArgument when |url| is malformed.
  static Result<std::unique_ptr<PgConnection>> Connect(std::string url);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement with |params| bound to $1, $2, ... Reconnects first
  // when the connection was lost. Statements separated by ';' are allowed
  // only without parameters (schema set-up).
  Result<PgRows> Exec(std::string_view sql, const std::vector<PgParam>& params = {});

  // The URL with its password hidden, for messages.
  const std::string& redacted_url() const { return redacted_url_; }
  // Connections made (1 + reconnects), for tests and stats.
  int connects() const { return connects_; }

 private:
  PgConnection() = default;
  Status Open();
  Status Failure(const char* what, const char* sqlstate, std::string message) const;

  std::string url_;
  std::string redacted_url_;
  std::string password_;  // to scrub from error texts; never printed
  pg_conn* conn_ = nullptr;
  int connects_ = 0;
};

// |url| with its password replaced by "***".
std::string RedactPgUrl(std::string_view url);

// The consumer runtime's class for a failed Exec()/Connect(): transient
// (kUnavailable) → kProcessingFailure, permanent (kInvalidArgument) →
// kBusinessLogic, anything else → kUnknown.
ErrorClass PgErrorClass(const Status& status);

// The StatusCode libpq's SQLSTATE |sqlstate| maps to (see above); "" is a
// connection failure.
StatusCode PgStatusCodeForSqlState(std::string_view sqlstate);

}  // namespace weir::examples
