#include "pg_client.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <regex>

namespace weir::examples {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The value of keyword |name| in libpq's reading of |url|; "" when absent.
std::string ConninfoValue(const std::string& url, const char* name) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  std::string value;
  for (PQconninfoOption* o = options; o != nullptr && o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == name && o->val != nullptr) value = o->val;
  }
  if (options != nullptr) PQconninfoFree(options);
  return value;
}

// Replaces every occurrence of |secret| in |text| by "***".
std::string Scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 3)) {
    text.replace(pos, secret.size(), "***");
  }
  return text;
}

std::string TrimEnd(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::optional<std::string> PgRows::Get(size_t row, std::string_view column) const {
  if (row >= rows.size()) return std::nullopt;
  for (size_t c = 0; c < columns.size(); ++c) {
    if (columns[c] == column) return rows[row][c];
  }
  return std::nullopt;
}

std::string RedactPgUrl(std::string_view url) {
  std::string out(url);
  if (StartsWith(url, "postgresql://") || StartsWith(url, "postgres://")) {
    const size_t authority = out.find("://") + 3;
    size_t end = out.find_first_of("/?", authority);
    if (end == std::string::npos) end = out.size();
    const size_t at = out.rfind('@', end);
    if (at != std::string::npos && at >= authority) {
      const size_t colon = out.find(':', authority);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
    // ?password=... among the query parameters.
    static const std::regex query_password(R"(([?&]password=)[^&]*)");
    return std::regex_replace(out, query_password, "$1***");
  }
  // key=value form: password=secret or password='a secret'.
  static const std::regex kv_password(R"((password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*))");
  return std::regex_replace(out, kv_password, "$1***");
}

StatusCode PgStatusCodeForSqlState(std::string_view s) {
  if (s.empty() || StartsWith(s, "08") || StartsWith(s, "53")) return StatusCode::kUnavailable;
  if (s == "40001" || s == "40P01" || s == "40003") return StatusCode::kUnavailable;
  if (s == "57P01" || s == "57P02" || s == "57P03" || s == "57014" || s == "55P03") {
    return StatusCode::kUnavailable;
  }
  if (StartsWith(s, "22") || StartsWith(s, "23")) return StatusCode::kInvalidArgument;
  return StatusCode::kInternal;
}

ErrorClass PgErrorClass(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
      return ErrorClass::kProcessingFailure;
    case StatusCode::kInvalidArgument:
      return ErrorClass::kBusinessLogic;
    default:
      return ErrorClass::kUnknown;
  }
}

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(std::string url) {
  std::unique_ptr<PgConnection> c(new PgConnection());
  c->redacted_url_ = RedactPgUrl(url);
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    std::string why = error != nullptr ? TrimEnd(error) : "out of memory";
    if (error != nullptr) PQfreemem(error);
    return Status::InvalidArgument(fmt::format("PostgreSQL URL {}: {}", c->redacted_url_,
                                               Scrub(why, ConninfoValue(url, "password"))));
  }
  PQconninfoFree(options);
  c->password_ = ConninfoValue(url, "password");
  c->url_ = std::move(url);
  WEIR_RETURN_IF_ERROR(c->Open());
  return c;
}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

Status PgConnection::Open() {
  if (conn_ != nullptr) PQfinish(conn_);
  conn_ = PQconnectdb(url_.c_str());
  ++connects_;
  if (conn_ == nullptr) return Failure("connecting", "", "out of memory");
  if (PQstatus(conn_) != CONNECTION_OK) {
    return Failure("connecting", "", PQerrorMessage(conn_));
  }
  return Status::Ok();
}

Status PgConnection::Failure(const char* what, const char* sqlstate, std::string message) const {
  const std::string state = sqlstate != nullptr ? sqlstate : "";
  std::string text = fmt::format("{}: {}: {}{}", redacted_url_, what,
                                 state.empty() ? "" : "SQLSTATE " + state + ": ",
                                 TrimEnd(Scrub(std::move(message), password_)));
  return Status(PgStatusCodeForSqlState(state), std::move(text));
}

Result<PgRows> PgConnection::Exec(std::string_view sql, const std::vector<PgParam>& params) {
  if (conn_ == nullptr || PQstatus(conn_) == CONNECTION_BAD) WEIR_RETURN_IF_ERROR(Open());
  const std::string text(sql);
  PGresult* res = nullptr;
  if (params.empty()) {
    res = PQexec(conn_, text.c_str());
  } else {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const PgParam& p : params) values.push_back(p ? p->c_str() : nullptr);
    res = PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                       nullptr, nullptr, 0);
  }
  const ExecStatusType st = res != nullptr ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    const char* field = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    const std::string sqlstate = field != nullptr ? field : "";
    std::string message = res != nullptr ? PQresultErrorMessage(res) : PQerrorMessage(conn_);
    if (message.empty()) message = PQerrorMessage(conn_);
    if (res != nullptr) PQclear(res);
    // A connection that broke under the statement is a transient failure
    // whatever SQLSTATE came with it; the next Exec() reconnects.
    if (PQstatus(conn_) == CONNECTION_BAD) {
      return Failure("connection lost", StartsWith(sqlstate, "57") ? sqlstate.c_str() : "",
                     std::move(message));
    }
    return Failure("statement failed", sqlstate.c_str(), std::move(message));
  }
  PgRows rows;
  const int ncols = PQnfields(res);
  const int nrows = PQntuples(res);
  rows.columns.reserve(static_cast<size_t>(ncols));
  for (int c = 0; c < ncols; ++c) rows.columns.emplace_back(PQfname(res, c));
  rows.rows.resize(static_cast<size_t>(nrows));
  for (int r = 0; r < nrows; ++r) {
    auto& row = rows.rows[static_cast<size_t>(r)];
    row.reserve(static_cast<size_t>(ncols));
    for (int c = 0; c < ncols; ++c) {
      if (PQgetisnull(res, r, c)) {
        row.emplace_back(std::nullopt);
      } else {
        row.emplace_back(
            std::string(PQgetvalue(res, r, c), static_cast<size_t>(PQgetlength(res, r, c))));
      }
    }
  }
  const char* affected = PQcmdTuples(res);
  if (affected != nullptr && *affected != '\0') rows.affected = std::atoll(affected);
  PQclear(res);
  return rows;
}

}  // namespace weir::examples
