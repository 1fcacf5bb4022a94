// The activity logs without a cluster: the shipped weir.yaml as parsed
// (topics, keys, the retry policy), the demo failure rules, the seed's
// dead-letter shape and the analytics event against their schemas, the
// SQLite store's idempotence and error classes, and the PostgreSQL
// client's URL redaction and SQLSTATE classes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "activity_consumer.h"
#include "activity_events.h"
#include "activity_logs_e2e.h"
#include "activity_store.h"
#include "consume/backoff.h"
#include "pg_client.h"
#include "support/test_support.h"
#include "weir/consume/dead_letter.h"
#include "weir/schema/json_schema.h"

namespace activity_logs::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using weir::ErrorClass;
using weir::StatusCode;

weir::schema::JsonSchema LoadSchema(const std::string& name) {
  const std::string folder = weir::testing::SourcePath("examples/activity-logs/schemas/");
  weir::schema::JsonSchemaOptions o;
  o.base_uri = "file://" + folder + name;
  o.resolver = [folder](const std::string& uri) -> weir::Result<std::string> {
    std::string text = weir::testing::ReadFile(folder + uri.substr(uri.rfind('/') + 1));
    if (text.empty()) return weir::Status::NotFound(uri);
    return text;
  };
  auto s = weir::schema::JsonSchema::Parse(weir::testing::ReadFile(folder + name), o);
  EXPECT_TRUE(s.ok()) << name << ": " << s.status().ToString();
  return std::move(s).value();
}

TEST(ActivityLogsTopology, TheShippedWeirYamlDeclaresTheSeedsTopicsAndRetryPolicy) {
  auto t = weir::LoadTopology(ActivityLogsConfig());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  struct Want {
    const char* name;
    int partitions;
    int64_t retention_hours;
  };
  constexpr int64_t kHourMs = 3600 * 1000;
  for (const Want& w :
       {Want{"user-activity-logs", 3, 7 * 24}, Want{"user-activity-logs-dlq", 3, 30 * 24},
        Want{"user-activity-analytics", 3, 24}}) {
    const weir::TopicSpec* topic = t->FindTopic(w.name);
    ASSERT_NE(topic, nullptr) << w.name;
    EXPECT_EQ(topic->partitions, w.partitions) << w.name;
    EXPECT_EQ(topic->replication, 1) << w.name;
    EXPECT_EQ(topic->retention_ms, w.retention_hours * kHourMs) << w.name;
    EXPECT_EQ(topic->key_field, "userId") << w.name;
  }
  const weir::ConsumerGroupSpec* g = t->FindGroup(kProcessorGroup);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->topics, std::vector<std::string>{kActivityTopic});
  EXPECT_EQ(g->dlq_topic, kDlqTopic);
  EXPECT_EQ(g->ordering, weir::Ordering::kKey);  // one user's events in order
  const weir::RetryPolicy& p = g->retry;
  EXPECT_EQ(p.immediate_attempts, 3);
  EXPECT_EQ(p.initial_backoff, milliseconds(100));
  EXPECT_EQ(p.max_backoff, std::chrono::minutes(5));
  EXPECT_EQ(p.multiplier, 2.0);
  EXPECT_EQ(p.max_attempts, 16);
  // "3 attempts with 100ms delay", then exponential "up to 5 minutes",
  // the last retry at the cap.
  const int64_t want[] = {100,  100,   100,   200,   400,    800,    1600,  3200,
                          6400, 12800, 25600, 51200, 102400, 204800, 300000};
  for (int retry = 1; retry < p.max_attempts; ++retry) {
    EXPECT_EQ(weir::consume::NominalRetryDelay(p, retry).count(), want[retry - 1])
        << "retry " << retry;
  }
  for (ErrorClass c :
       {ErrorClass::kProcessingFailure, ErrorClass::kTimeout, ErrorClass::kUnknown}) {
    EXPECT_TRUE(weir::consume::Retries(p, c)) << weir::ErrorClassName(c);
  }
  EXPECT_FALSE(weir::consume::Retries(p, ErrorClass::kBusinessLogic));
  EXPECT_FALSE(weir::consume::Retries(p, ErrorClass::kSchemaValidation));
}

TEST(ActivityLogsFailureRules, ParseAndNameWhatIsWrong) {
  auto t = ParseFailureRule("demo_flaky:transient:2");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->activity_type, "demo_flaky");
  EXPECT_TRUE(t->transient);
  EXPECT_EQ(t->times, 2);
  EXPECT_EQ(FailureRuleText(*t), "demo_flaky:transient:2");
  auto p = ParseFailureRule("demo_poison:permanent");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->transient);
  EXPECT_EQ(p->times, -1);
  struct Bad {
    const char* text;
    const char* names;
  };
  for (const Bad& b : {Bad{"nocolon", "no activity type"}, Bad{":transient", "no activity type"},
                       Bad{"a:flaky", "unknown kind \"flaky\""},
                       Bad{"a:transient:0", "TIMES \"0\""}, Bad{"a:transient:x", "TIMES \"x\""},
                       Bad{"a:permanent:2", "permanent failure takes no TIMES"}}) {
    auto r = ParseFailureRule(b.text);
    ASSERT_FALSE(r.ok()) << b.text;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(b.names), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(b.text), std::string::npos) << r.status().message();
  }
}

TEST(ActivityLogsShapes, TheSeedDeadLetterOfAWeirDeadLetterMatchesTheDlqSchema) {
  const weir::schema::JsonSchema dlq = LoadSchema("user_activity_dlq.schema.json");
  // The seed's own sample is valid, and so is what SeedDeadLetter makes.
  const std::string sample = weir::testing::ReadFile(
      weir::testing::SourcePath("examples/activity-logs/schemas/samples/user_activity_dlq.json"));
  EXPECT_TRUE(dlq.Validate(sample).ok()) << dlq.Validate(sample).ToStatus().ToString();

  const std::string value = json{
      {"userId", "user123"},
      {"activityType", "login"},
      {"timestamp", "2024-01-12T10:30:00.000Z"},
      {"eventId", "evt_1"},
      {"version", "1.0"}}.dump();
  weir::Record rec =
      weir::Record::Owned(kActivityTopic, weir::Partition(2), weir::Offset(12345),
                          weir::Timestamp{1704969000000, weir::TimestampType::kCreateTime},
                          "user123", value, {weir::Header{"source", "api"}});
  const weir::consume::DeadLetter dl = weir::consume::MakeDeadLetter(
      rec, kProcessorGroup, ErrorClass::kBusinessLogic, "Invalid activity type", "ctx", 3);
  const json seed = SeedDeadLetter(dl);
  EXPECT_TRUE(dlq.Validate(seed["value"].dump()).ok())
      << dlq.Validate(seed["value"].dump()).ToStatus().ToString();
  EXPECT_EQ(seed["key"], "user123");
  EXPECT_EQ(seed["value"]["eventId"], "evt_1");
  EXPECT_EQ(seed["value"]["error"]["code"], "BUSINESS_LOGIC");
  EXPECT_EQ(seed["value"]["error"]["message"], "Invalid activity type");
  EXPECT_EQ(seed["value"]["error"]["retryCount"], 3);
  EXPECT_EQ(seed["value"]["error"]["timestamp"],
            weir::consume::FormatDlqTimestamp(dl.timestamp_ms));
  EXPECT_EQ(seed["headers"], (json{{"source", "api"},
                                   {"originalTopic", kActivityTopic},
                                   {"originalPartition", 2},
                                   {"originalOffset", 12345}}));

  // A value that is not a JSON object is kept as text.
  rec = weir::Record::Owned(kActivityTopic, weir::Partition(0), weir::Offset(1), weir::Timestamp{},
                            "user123", "not json");
  const json j = SeedDeadLetter(weir::consume::MakeDeadLetter(
      rec, kProcessorGroup, ErrorClass::kSchemaValidation, "not JSON", "", 0));
  EXPECT_EQ(j["value"]["original"], "not json");
  EXPECT_EQ(j["value"]["error"]["code"], "SCHEMA_VALIDATION");
}

TEST(ActivityLogsShapes, TheAnalyticsEventMatchesItsSchema) {
  const weir::schema::JsonSchema schema = LoadSchema("user_activity_analytics.schema.json");
  const json activity = json::parse(weir::testing::ReadFile(
      weir::testing::SourcePath("examples/activity-logs/schemas/samples/user_activity.json")));
  const json a = AnalyticsEvent(activity, "postgresql", "2024-01-12T10:30:01.000Z");
  EXPECT_TRUE(schema.Validate(a.dump()).ok()) << schema.Validate(a.dump()).ToStatus().ToString();
  EXPECT_EQ(a["eventId"], activity["eventId"]);
  EXPECT_EQ(a["userId"], activity["userId"]);
  EXPECT_EQ(a["sessionId"], "sess_abc123");
  EXPECT_EQ(a["store"], "postgresql");
}

TEST(ActivityLogsSqliteStore, StoresEachEventIdOnceAndClassifiesRefusals) {
  weir::testing::TempDir dir;
  const std::string path = dir.path() + "/sub/activity.sqlite";  // folders are created
  auto store = OpenActivityStore(path);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->Kind(), "sqlite");
  EXPECT_EQ((*store)->Describe(), "SQLite " + path);
  StoredActivity a{"evt-1", "user-1", "login", R"({"eventId":"evt-1"})", kActivityTopic, 1, 7, ""};
  auto first = (*store)->Insert(a);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, InsertOutcome::kInserted);
  a.source_offset = 99;  // a redelivery: same eventId, another offset
  auto again = (*store)->Insert(a);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, InsertOutcome::kAlreadyStored);
  auto all = (*store)->All();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].source_offset, 7);  // the first copy stays
  EXPECT_EQ((*all)[0].source_partition, 1);
  EXPECT_FALSE((*all)[0].stored_at.empty());

  // A document that is not JSON is refused for good: BUSINESS_LOGIC.
  StoredActivity bad{"evt-2", "user-1", "login", "{not json", kActivityTopic, 0, 1, ""};
  auto refused = (*store)->Insert(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(StoreErrorClass(refused.status()), ErrorClass::kBusinessLogic);
  EXPECT_NE(refused.status().message().find("evt-2"), std::string::npos);
  EXPECT_NE(refused.status().message().find(path), std::string::npos);

  // Reopening keeps what was stored.
  store->reset();
  auto reopened = OpenActivityStore(path);
  ASSERT_TRUE(reopened.ok());
  auto count = (*reopened)->Count();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1);
}

TEST(ActivityLogsSqliteStore, AFileThatCannotBeOpenedIsNamed) {
  weir::testing::TempDir dir;
  const std::string file = dir.WriteFile("plain", "x");
  auto store = OpenActivityStore(file + "/activity.sqlite");  // a folder that is a file
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(file), std::string::npos) << store.status().message();
}

TEST(ActivityLogsPgClient, RedactsPasswordsInEveryUrlForm) {
  using weir::examples::RedactPgUrl;
  EXPECT_EQ(RedactPgUrl("postgresql://app:s3cret@db:5432/logs"),
            "postgresql://app:***@db:5432/logs");
  EXPECT_EQ(RedactPgUrl("postgres://app:s3cret@db/logs?sslmode=require"),
            "postgres://app:***@db/logs?sslmode=require");
  EXPECT_EQ(RedactPgUrl("postgresql://app@db/logs?password=s3cret&sslmode=require"),
            "postgresql://app@db/logs?password=***&sslmode=require");
  EXPECT_EQ(RedactPgUrl("postgresql://app@db:5432/logs"), "postgresql://app@db:5432/logs");
  EXPECT_EQ(RedactPgUrl("host=db user=app password=s3cret dbname=logs"),
            "host=db user=app password=*** dbname=logs");
  EXPECT_EQ(RedactPgUrl("host=db password = 'two words' dbname=logs"),
            "host=db password = *** dbname=logs");
}

TEST(ActivityLogsPgClient, ClassifiesSqlStatesAsTransientOrPermanent) {
  using weir::examples::PgErrorClass;
  using weir::examples::PgStatusCodeForSqlState;
  struct Case {
    const char* sqlstate;
    StatusCode code;
    ErrorClass error_class;
  };
  for (const Case& c : {
           Case{"", StatusCode::kUnavailable, ErrorClass::kProcessingFailure},  // connection
           Case{"08006", StatusCode::kUnavailable, ErrorClass::kProcessingFailure},
           Case{"53300", StatusCode::kUnavailable, ErrorClass::kProcessingFailure},  // too many
           Case{"40001", StatusCode::kUnavailable,
                ErrorClass::kProcessingFailure},  // serialization
           Case{"40P01", StatusCode::kUnavailable, ErrorClass::kProcessingFailure},  // deadlock
           Case{"57P01", StatusCode::kUnavailable, ErrorClass::kProcessingFailure},  // shutdown
           Case{"23505", StatusCode::kInvalidArgument, ErrorClass::kBusinessLogic},  // unique
           Case{"23502", StatusCode::kInvalidArgument, ErrorClass::kBusinessLogic},  // not null
           Case{"22P02", StatusCode::kInvalidArgument, ErrorClass::kBusinessLogic},  // bad text
           Case{"42601", StatusCode::kInternal, ErrorClass::kUnknown},               // syntax
           Case{"42P01", StatusCode::kInternal, ErrorClass::kUnknown},  // undefined table
       }) {
    EXPECT_EQ(PgStatusCodeForSqlState(c.sqlstate), c.code) << c.sqlstate;
    EXPECT_EQ(PgErrorClass(weir::Status(PgStatusCodeForSqlState(c.sqlstate), "x")), c.error_class)
        << c.sqlstate;
  }
}

TEST(ActivityLogsPgClient, AnUnreachableServerIsTransientAndItsPasswordStaysHidden) {
  const uint16_t port = weir::testing::FreeLoopbackPort();  // nothing listens there
  auto conn = weir::examples::PgConnection::Connect(
      "postgresql://app:very-secret-pw@127.0.0.1:" + std::to_string(port) +
      "/logs?connect_timeout=5");
  ASSERT_FALSE(conn.ok());
  EXPECT_EQ(conn.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(weir::examples::PgErrorClass(conn.status()), ErrorClass::kProcessingFailure);
  EXPECT_EQ(conn.status().message().find("very-secret-pw"), std::string::npos)
      << conn.status().message();
  EXPECT_NE(conn.status().message().find("postgresql://app:***@127.0.0.1"), std::string::npos)
      << conn.status().message();

  auto bad = weir::examples::PgConnection::Connect("postgresql://app:pw@[::1/logs");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << bad.status().ToString();
}

}  // namespace
}  // namespace activity_logs::testing
