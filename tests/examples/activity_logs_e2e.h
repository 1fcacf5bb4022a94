// The activity logs end to end, on an in-process embedded broker, against
// one document store: SQLite (in weir_activity_logs_test) or a private
// PostgreSQL server (in weir_activity_logs_pg_test). The test is
// activity_logs_e2e.cc, compiled into both test programs.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <ostream>
#include <string>

#include "support/postgres_server.h"
#include "support/test_support.h"

namespace activity_logs::testing {

enum class StoreKind { kSqlite, kPostgres };

inline void PrintTo(StoreKind kind, std::ostream* os) {
  *os << (kind == StoreKind::kSqlite ? "SQLite" : "PostgreSQL");
}

inline std::string StoreKindName(const ::testing::TestParamInfo<StoreKind>& info) {
  return info.param == StoreKind::kSqlite ? "SQLite" : "PostgreSQL";
}

// A store spec for a test: a SQLite file in a TempDir, or a fresh database
// of a private PostgreSQL server (the test is skipped, or failed with
// CI=true, when PostgreSQL is not installed).
class StoreForTest {
 public:
  // Call from SetUp(); on a skip or failure spec() is empty.
  void Start(StoreKind kind, const std::string& database) {
    if (kind == StoreKind::kSqlite) {
      spec_ = dir_.path() + "/activity.sqlite";
      return;
    }
    pg_ = weir::testing::StartPostgresOrSkip();
    if (!pg_) return;
    auto url = pg_->CreateDatabase(database);
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    spec_ = *url;
  }
  const std::string& spec() const { return spec_; }
  weir::testing::PostgresServer* postgres() { return pg_.get(); }

 private:
  weir::testing::TempDir dir_;
  std::unique_ptr<weir::testing::PostgresServer> pg_;
  std::string spec_;
};

// The built weir-activity-logs program and the shipped topology.
inline std::string ActivityLogsBinary() {
  return std::string(WEIR_BINARY_DIR) + "/bin/weir-activity-logs";
}
inline std::string ActivityLogsConfig() {
  return weir::testing::SourcePath("examples/activity-logs/weir.yaml");
}

}  // namespace activity_logs::testing
