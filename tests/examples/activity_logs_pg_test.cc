// The activity logs against a real PostgreSQL (a private server per test,
// support/postgres_server.h): the libpq client of examples/common
// (parameters, error classes, reconnecting, password redaction), the
// JSONB store, the one command with --store postgresql://..., and — from
// activity_logs_e2e.cc, compiled in here — the end to end test.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "activity_events.h"
#include "activity_logs_e2e.h"
#include "activity_store.h"
#include "pg_client.h"
#include "support/postgres_server.h"

namespace activity_logs::testing {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using weir::ErrorClass;
using weir::StatusCode;
using weir::examples::PgConnection;
using weir::examples::PgErrorClass;

class ActivityLogsPostgresTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pg_ = weir::testing::StartPostgresOrSkip();
    if (!pg_) return;
    auto url = pg_->CreateDatabase("activity");
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    url_ = *url;
  }
  std::unique_ptr<PgConnection> Connect(const std::string& url) {
    auto c = PgConnection::Connect(url);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }

  std::unique_ptr<weir::testing::PostgresServer> pg_;
  std::string url_;
};

TEST_F(ActivityLogsPostgresTest, ExecBindsParametersNeverSplicesThem) {
  auto c = Connect(url_);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Exec("CREATE TABLE t(id integer PRIMARY KEY, name text, doc jsonb)").ok());
  const std::string hostile = "x'); DROP TABLE t; --";
  auto ins = c->Exec("INSERT INTO t VALUES ($1::integer, $2, $3::jsonb), ($4::integer, $5, NULL)",
                     {"1", hostile, R"({"a": [1, 2]})", "2", std::nullopt});
  ASSERT_TRUE(ins.ok()) << ins.status().ToString();
  EXPECT_EQ(ins->affected, 2);
  auto rows = c->Exec("SELECT id, name, doc->'a' AS a FROM t WHERE id >= $1 ORDER BY id", {"1"});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->rows.size(), 2u);
  EXPECT_EQ(rows->columns, (std::vector<std::string>{"id", "name", "a"}));
  EXPECT_EQ(rows->Get(0, "name"), hostile);  // stored as it is; the table is still there
  EXPECT_EQ(rows->Get(0, "a"), "[1, 2]");
  EXPECT_EQ(rows->Get(1, "name"), std::nullopt);
  EXPECT_EQ(rows->Get(1, "a"), std::nullopt);
  EXPECT_EQ(rows->Get(0, "no_such_column"), std::nullopt);
}

TEST_F(ActivityLogsPostgresTest, ErrorsCarryTheirSqlStateAndClass) {
  auto c = Connect(url_);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Exec("CREATE TABLE t(id text PRIMARY KEY, doc jsonb NOT NULL)").ok());
  ASSERT_TRUE(c->Exec("INSERT INTO t VALUES ($1, $2::jsonb)", {"a", "{}"}).ok());
  struct Case {
    const char* sql;
    std::vector<weir::examples::PgParam> params;
    const char* sqlstate;
    StatusCode code;
    ErrorClass error_class;
  };
  for (const Case& k : {
           Case{"INSERT INTO t VALUES ($1, $2::jsonb)",
                {"a", "{}"},
                "23505",
                StatusCode::kInvalidArgument,
                ErrorClass::kBusinessLogic},
           Case{"INSERT INTO t VALUES ($1, $2::jsonb)",
                {"b", "{not json"},
                "22P02",
                StatusCode::kInvalidArgument,
                ErrorClass::kBusinessLogic},
           Case{"INSERT INTO t VALUES ($1, NULL)",
                {"c"},
                "23502",
                StatusCode::kInvalidArgument,
                ErrorClass::kBusinessLogic},
           Case{"SELEC 1", {}, "42601", StatusCode::kInternal, ErrorClass::kUnknown},
           Case{"SELECT * FROM missing", {}, "42P01", StatusCode::kInternal, ErrorClass::kUnknown},
       }) {
    auto r = c->Exec(k.sql, k.params);
    ASSERT_FALSE(r.ok()) << k.sql;
    EXPECT_EQ(r.status().code(), k.code) << r.status().ToString();
    EXPECT_EQ(PgErrorClass(r.status()), k.error_class) << k.sql;
    EXPECT_NE(r.status().message().find(std::string("SQLSTATE ") + k.sqlstate), std::string::npos)
        << r.status().message();
    EXPECT_NE(r.status().message().find(url_), std::string::npos) << r.status().message();
  }
  // The connection is still good after statement errors.
  EXPECT_TRUE(c->Exec("SELECT 1").ok());
  EXPECT_EQ(c->connects(), 1);
}

TEST_F(ActivityLogsPostgresTest, ALostConnectionFailsTransientlyAndTheNextCallReconnects) {
  auto victim = Connect(url_);
  auto admin = Connect(url_);
  ASSERT_TRUE(victim && admin);
  auto pid = victim->Exec("SELECT pg_backend_pid() AS pid");
  ASSERT_TRUE(pid.ok());
  auto killed = admin->Exec("SELECT pg_terminate_backend($1::integer)", {pid->Get(0, "pid")});
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  auto lost = victim->Exec("SELECT 1");
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kUnavailable) << lost.status().ToString();
  EXPECT_EQ(PgErrorClass(lost.status()), ErrorClass::kProcessingFailure);
  auto again = victim->Exec("SELECT 41 + $1::integer AS n", {"1"});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->Get(0, "n"), "42");
  EXPECT_EQ(victim->connects(), 2);
}

TEST_F(ActivityLogsPostgresTest, TooManyConnectionsIsTransient) {
  auto admin = Connect(url_);
  ASSERT_TRUE(admin);
  ASSERT_TRUE(admin->Exec("CREATE ROLE limited LOGIN CONNECTION LIMIT 1").ok());
  const std::string limited =
      "postgresql://limited@127.0.0.1:" + std::to_string(pg_->port()) + "/activity";
  auto first = Connect(limited);
  ASSERT_TRUE(first);
  auto second = PgConnection::Connect(limited);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable) << second.status().ToString();
  EXPECT_NE(second.status().message().find("too many connections"), std::string::npos)
      << second.status().message();
  EXPECT_EQ(PgErrorClass(second.status()), ErrorClass::kProcessingFailure);
  (void)admin->Exec("DROP ROLE IF EXISTS limited");
}

TEST_F(ActivityLogsPostgresTest, APasswordNeverAppearsInErrors) {
  const std::string url =
      "postgresql://postgres:hunter2-secret@127.0.0.1:" + std::to_string(pg_->port()) +
      "/no_such_database";
  auto c = PgConnection::Connect(url);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message().find("hunter2-secret"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("no_such_database"), std::string::npos)
      << c.status().message();
  EXPECT_NE(c.status().message().find("postgres:***@"), std::string::npos) << c.status().message();
}

TEST_F(ActivityLogsPostgresTest, TheJsonbStoreStoresEachEventIdOnce) {
  auto store = OpenActivityStore(url_);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->Kind(), "postgresql");
  // Opening again finds the table there.
  ASSERT_TRUE(OpenActivityStore(url_).ok());
  const json doc = {{"userId", "user123"},
                    {"activityType", "login"},
                    {"eventId", "evt-1"},
                    {"metadata", {{"sessionId", "sess_abc123"}}}};
  StoredActivity a{"evt-1", "user123", "login", doc.dump(), kActivityTopic, 2, 40, ""};
  auto first = (*store)->Insert(a);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, InsertOutcome::kInserted);
  a.source_offset = 41;
  auto again = (*store)->Insert(a);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, InsertOutcome::kAlreadyStored);
  auto all = (*store)->All();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(json::parse((*all)[0].document), doc);
  EXPECT_EQ((*all)[0].source_offset, 40);
  EXPECT_EQ((*all)[0].stored_at.size(), std::string("2024-01-12T10:30:00.000Z").size());
  // The document is JSONB: queried by its fields.
  auto c = Connect(url_);
  ASSERT_TRUE(c);
  auto q = c->Exec(
      "SELECT event_id FROM user_activity_logs WHERE document @> $1::jsonb AND "
      "document->'metadata'->>'sessionId' = $2",
      {R"({"userId": "user123"})", "sess_abc123"});
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  ASSERT_EQ(q->rows.size(), 1u);
  EXPECT_EQ(q->Get(0, "event_id"), "evt-1");
  // A document PostgreSQL refuses (jsonb has no \u0000) is permanent.
  StoredActivity nul{"evt-2", "u", "login", R"({"a": "\u0000"})", kActivityTopic, 0, 1, ""};
  auto refused = (*store)->Insert(nul);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(StoreErrorClass(refused.status()), ErrorClass::kBusinessLogic)
      << refused.status().ToString();
}

TEST_F(ActivityLogsPostgresTest, TheOneCommandRunsAgainstPostgres) {
  weir::testing::TempDir dir;
  auto r = weir::testing::RunCommand({ActivityLogsBinary(), "-c", ActivityLogsConfig(), "run",
                                      "--store", url_, "--spool-dir", dir.path() + "/spool"},
                                     "", seconds(240),
                                     {{"WEIR_EMBEDDED_DATA_DIR", dir.path() + "/data"}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("check                 ok"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("PostgreSQL " + url_), std::string::npos) << r.out;
  auto c = Connect(url_);
  ASSERT_TRUE(c);
  auto n = c->Exec("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM user_activity_logs");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->Get(0, "n"), "17");
  EXPECT_EQ(n->Get(0, "d"), "17");
}

}  // namespace
}  // namespace activity_logs::testing
