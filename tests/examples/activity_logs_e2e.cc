// The activity logs end to end (see activity_logs_e2e.h): events POSTed to
// the REST API (weir's HTTP ingest), the consumer storing them in the
// store under test, duplicates, bad requests, a flaky and a poison event,
// redeliveries and a record that breaks the schema, then every event
// accounted for: stored once with its JSON, or in the DLQ with its
// provenance, or refused with a 400 that names the field.
#include "activity_logs_e2e.h"

#include <httplib.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "activity_consumer.h"
#include "activity_events.h"
#include "activity_store.h"
#include "broker/broker_test_util.h"
#include "consume/consume_test_util.h"
#include "examples_test_util.h"
#include "publish/publish_test_util.h"
#include "weir/http/server.h"
#include "weir/kafka/producer.h"
#include "weir/ops/dlq.h"
#include "weir/publish/publisher.h"
#include "weir/schema/json_schema.h"

namespace activity_logs::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using weir::broker::testing::TestBroker;
using weir::consume::GroupStats;
using weir::consume::testing::WaitForStats;
using weir::examples::testing::LoadTopologyOnBroker;
using weir::examples::testing::StartPublisher;
using weir::testing::ReadRecord;
using weir::testing::TempDir;

json Event(const std::string& id, const std::string& user, const std::string& type) {
  return json{
      {"userId", user},
      {"activityType", type},
      {"timestamp", "2024-01-12T10:30:00.000Z"},
      {"metadata",
       {{"ipAddress", "192.168.1.1"}, {"userAgent", "Mozilla/5.0"}, {"sessionId", "s-" + user}}},
      {"eventId", id},
      {"version", "1.0"}};
}

// A JSON Schema of examples/activity-logs/schemas, its "$ref"s read from
// that folder.
weir::schema::JsonSchema LoadSchema(const std::string& name) {
  const std::string folder = weir::testing::SourcePath("examples/activity-logs/schemas/");
  weir::schema::JsonSchemaOptions o;
  o.base_uri = "file://" + folder + name;
  o.resolver = [folder](const std::string& uri) -> weir::Result<std::string> {
    const std::string file = uri.substr(uri.rfind('/') + 1);
    std::string text = weir::testing::ReadFile(folder + file);
    if (text.empty()) return weir::Status::NotFound(uri);
    return text;
  };
  auto s = weir::schema::JsonSchema::Parse(weir::testing::ReadFile(folder + name), o);
  EXPECT_TRUE(s.ok()) << name << ": " << s.status().ToString();
  return std::move(s).value();
}

class ActivityLogsEndToEnd : public ::testing::TestWithParam<StoreKind> {
 protected:
  void SetUp() override {
    store_for_test_.Start(GetParam(), "activity_e2e");
    if (store_for_test_.spec().empty()) return;  // skipped or failed
    ASSERT_NO_FATAL_FAILURE(LoadTopologyOnBroker(ActivityLogsConfig(), broker_, &topology_));
    auto store = OpenActivityStore(store_for_test_.spec());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    ASSERT_NO_FATAL_FAILURE(
        StartPublisher(topology_, broker_, dir_.path() + "/spool", &publisher_));
    weir::http::ServerOptions so;
    so.listen = "127.0.0.1:0";
    auto server = weir::http::Server::Start(so, publisher_.get(), nullptr);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(*server);
  }
  void TearDown() override {
    if (consumer_) {
      EXPECT_TRUE(consumer_->Stop(seconds(10)).ok());
    }
    if (server_) server_->Stop();
    if (publisher_) {
      EXPECT_TRUE(publisher_->Close(seconds(10)).ok());
    }
  }

  void StartConsumer(std::vector<FailureRule> failures) {
    ActivityConsumerOptions o;
    o.runtime.commit_interval = milliseconds(100);
    o.analytics = true;
    o.failures = std::move(failures);
    auto c = ActivityConsumer::Create(topology_, broker_.ConsumerConfig(), store_.get(),
                                      publisher_.get(), o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    consumer_ = std::move(*c);
    ASSERT_TRUE(consumer_->Start().ok());
  }

  // POSTs |body| to the API; the status and the parsed answer.
  std::pair<int, json> Post(const std::string& body, bool ndjson = false) {
    httplib::Client http("127.0.0.1", server_->port());
    http.set_read_timeout(60, 0);
    auto res = http.Post("/v1/events/UserActivity", body,
                         ndjson ? "application/x-ndjson" : "application/json");
    EXPECT_TRUE(res) << httplib::to_string(res.error());
    if (!res) return {0, json()};
    return {res->status, json::parse(res->body, nullptr, false)};
  }

  // Produces |event| to user-activity-logs around the API (as a second
  // producer, or a retry whose acknowledgement was lost, would).
  void ProduceAround(const json& event) {
    auto producer = weir::kafka::Producer::Create(broker_.Config());
    ASSERT_TRUE(producer.ok());
    const std::string key = event["userId"], value = event.dump();
    const weir::HeaderView type{"weir-event-type", std::string_view("UserActivity")};
    weir::kafka::ProduceRequest req;
    req.topic = kActivityTopic;
    req.key = key;
    req.value = value;
    req.headers = std::span<const weir::HeaderView>(&type, 1);
    ASSERT_TRUE((*producer)->Send(req).get().status.ok());
  }

  std::vector<weir::ops::DlqEntry> DeadLetters() {
    auto client = weir::ops::DlqClient::Open(broker_.Config());
    EXPECT_TRUE(client.ok());
    EXPECT_TRUE((*client)->AddTopic(kDlqTopic).ok());
    auto scan = (*client)->Scan({});
    EXPECT_TRUE(scan.ok()) << scan.status().ToString();
    if (!scan.ok()) return {};
    EXPECT_TRUE(scan->unreadable.empty());
    return scan->entries;
  }

  TempDir dir_;
  StoreForTest store_for_test_;
  TestBroker broker_;
  weir::Topology topology_;
  std::unique_ptr<ActivityStore> store_;
  std::unique_ptr<weir::publish::Publisher> publisher_;
  std::unique_ptr<weir::http::Server> server_;
  std::unique_ptr<ActivityConsumer> consumer_;
};

TEST_P(ActivityLogsEndToEnd, EveryEventStoredOnceDeadLetteredWithProvenanceOrRefused) {
  StartConsumer({{"demo_poison", false, -1}, {"demo_flaky", true, 2}});
  ASSERT_FALSE(HasFatalFailure());

  std::map<std::string, json> accepted;  // eventId → event
  const std::vector<std::string> users = {"user-a", "user-b", "user-c"};
  for (int i = 0; i < 8; ++i) {
    json e = Event("evt-" + std::to_string(i), users[static_cast<size_t>(i) % 3],
                   i % 2 == 0 ? "login" : "page_view");
    auto [status, body] = Post(e.dump());
    ASSERT_EQ(status, 202) << body.dump();
    EXPECT_EQ(body["delivered"], 1);
    accepted[e["eventId"]] = e;
  }
  // The same events again: accepted, not published twice.
  for (const char* id : {"evt-1", "evt-4"}) {
    auto [status, body] = Post(accepted.at(id).dump());
    ASSERT_EQ(status, 202) << body.dump();
    EXPECT_EQ(body["duplicates"], 1);
  }
  // Bad requests: 400 naming the field; nothing of the request published.
  std::set<std::string> refused;
  {
    json e = Event("evt-bad-1", "user-a", "login");
    e.erase("userId");
    auto [status, body] = Post(e.dump());
    EXPECT_EQ(status, 400);
    EXPECT_NE(body.dump().find("userId"), std::string::npos) << body.dump();
    refused.insert("evt-bad-1");
    json v = Event("evt-bad-2", "user-b", "login");
    v["version"] = "2.0";
    std::tie(status, body) = Post(v.dump());
    EXPECT_EQ(status, 400);
    ASSERT_FALSE(body["errors"].empty());
    EXPECT_EQ(body["errors"][0]["pointer"], "/version") << body.dump();
    refused.insert("evt-bad-2");
    json good = Event("evt-bad-3", "user-c", "login");
    json bad = Event("evt-bad-4", "user-c", "");
    std::tie(status, body) = Post(good.dump() + "\n" + bad.dump() + "\n", true);
    EXPECT_EQ(status, 400);
    ASSERT_FALSE(body["errors"].empty());
    EXPECT_EQ(body["errors"][0]["line"], 2);
    EXPECT_EQ(body["errors"][0]["pointer"], "/activityType");
    refused.insert({"evt-bad-3", "evt-bad-4"});
  }
  // Storage fails twice for the flaky one, for good for the poison ones.
  json flaky = Event("evt-flaky", "user-a", "demo_flaky");
  json poison1 = Event("evt-poison-1", "user-b", "demo_poison");
  json poison2 = Event("evt-poison-2", "user-c", "demo_poison");
  for (const json* e : {&flaky, &poison1, &poison2}) ASSERT_EQ(Post(e->dump()).first, 202);
  accepted[flaky["eventId"]] = flaky;
  // Redeliveries of two stored events, and a record that breaks the schema.
  ProduceAround(accepted.at("evt-2"));
  ProduceAround(accepted.at("evt-6"));
  json broken = Event("evt-broken", "user-a", "login");
  broken["version"] = "7";
  ProduceAround(broken);

  // 8 + flaky + 2 poison + 2 redeliveries + 1 broken records.
  constexpr uint64_t kRecords = 14;
  ASSERT_TRUE(WaitForStats(consumer_->runtime(),
                           [](const GroupStats& s) {
                             return s.received == kRecords &&
                                    s.handled + s.dead_lettered == s.received && s.in_flight == 0;
                           }))
      << "received " << consumer_->GroupStats().received;
  const GroupStats gs = consumer_->GroupStats();
  EXPECT_EQ(gs.handled, 11u);
  EXPECT_EQ(gs.dead_lettered, 3u);
  EXPECT_EQ(gs.retries, 2u);  // the flaky event's two
  const ActivityConsumerStats st = consumer_->Stats();
  EXPECT_EQ(st.stored, 9u);
  EXPECT_EQ(st.already_stored, 2u);
  EXPECT_EQ(st.injected_failures, 4u);  // flaky twice, each poison once

  // Stored: every accepted event once, with its JSON; nothing else.
  auto all = store_->All();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), accepted.size());
  for (const StoredActivity& a : *all) {
    SCOPED_TRACE(a.event_id);
    ASSERT_EQ(accepted.count(a.event_id), 1u);
    EXPECT_EQ(json::parse(a.document), accepted.at(a.event_id));
    EXPECT_EQ(a.user_id, accepted.at(a.event_id)["userId"]);
    EXPECT_EQ(a.source_topic, kActivityTopic);
    EXPECT_FALSE(a.stored_at.empty());
  }
  auto count = store_->Count();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, static_cast<int64_t>(accepted.size()));

  // The DLQ: the poison events and the broken record, each with the
  // original bytes, key and provenance, and its error type.
  std::map<std::string, std::pair<ReadRecord, bool>> originals;  // "p:o" → record
  for (const ReadRecord& r : weir::testing::ReadTopic(broker_.Config(), kActivityTopic, 3)) {
    originals[std::to_string(r.partition) + ":" + std::to_string(r.offset)] = {r, false};
  }
  const weir::schema::JsonSchema dlq_schema = LoadSchema("user_activity_dlq.schema.json");
  std::map<std::string, weir::consume::DeadLetter> dead;
  for (const weir::ops::DlqEntry& e : DeadLetters()) {
    const weir::consume::DeadLetter& dl = e.dead_letter;
    const json seed = SeedDeadLetter(dl);
    const std::string id = seed["value"]["eventId"];
    SCOPED_TRACE(id);
    EXPECT_EQ(dl.original_topic, kActivityTopic);
    EXPECT_EQ(dl.consumer_group, kProcessorGroup);
    const auto orig = originals.find(std::to_string(dl.original_partition.value()) + ":" +
                                     std::to_string(dl.original_offset.value()));
    ASSERT_NE(orig, originals.end()) << "no record at the dead letter's original offset";
    EXPECT_EQ(dl.value, orig->second.first.value);
    EXPECT_EQ(dl.key, orig->second.first.key);
    EXPECT_EQ(e.partition.value(), dl.original_partition.value())
        << "the DLQ keeps the userId key, so the same partition (3 and 3)";
    // The seed's shape, accepted by its schema, with the provenance headers.
    const auto valid = dlq_schema.Validate(seed["value"].dump());
    if (id != "evt-broken") {
      EXPECT_TRUE(valid.ok()) << valid.ToStatus().ToString();
    }
    EXPECT_EQ(seed["headers"]["originalTopic"], kActivityTopic);
    EXPECT_EQ(seed["headers"]["originalPartition"], dl.original_partition.value());
    EXPECT_EQ(seed["headers"]["originalOffset"], dl.original_offset.value());
    EXPECT_EQ(seed["value"]["error"]["retryCount"], dl.retry_count);
    dead[id] = dl;
  }
  ASSERT_EQ(dead.size(), 3u);
  for (const char* id : {"evt-poison-1", "evt-poison-2"}) {
    ASSERT_EQ(dead.count(id), 1u) << id;
    EXPECT_EQ(dead[id].error_type, weir::ErrorClass::kBusinessLogic);
    EXPECT_EQ(dead[id].retry_count, 0);  // permanent: not retried
    EXPECT_NE(dead[id].error_message.find("refused"), std::string::npos);
    EXPECT_NE(dead[id].error_context.find("demo_poison:permanent"), std::string::npos);
  }
  ASSERT_EQ(dead.count("evt-broken"), 1u);
  EXPECT_EQ(dead["evt-broken"].error_type, weir::ErrorClass::kSchemaValidation);
  EXPECT_NE(dead["evt-broken"].error_message.find("/version"), std::string::npos)
      << dead["evt-broken"].error_message;

  // Nothing lost: every event is stored, dead-lettered or was refused.
  for (const std::string& id : refused) {
    EXPECT_EQ(accepted.count(id) + dead.count(id), 0u) << id;
  }
  for (const ReadRecord& r : weir::testing::ReadTopic(broker_.Config(), kActivityTopic, 3)) {
    const std::string id = json::parse(*r.value)["eventId"];
    EXPECT_EQ(accepted.count(id) + dead.count(id), 1u) << id;
    EXPECT_EQ(refused.count(id), 0u) << id;
    EXPECT_EQ(*r.key, json::parse(*r.value)["userId"]) << "keyed by userId";
  }

  // Analytics: one event per stored activity, keyed by userId (the
  // redeliveries' copies are dropped by the publisher's dedup on eventId).
  const weir::schema::JsonSchema analytics_schema =
      LoadSchema("user_activity_analytics.schema.json");
  std::set<std::string> analytics_ids;
  for (const ReadRecord& r : weir::testing::ReadTopic(broker_.Config(), kAnalyticsTopic, 3)) {
    const json a = json::parse(*r.value);
    EXPECT_TRUE(analytics_schema.IsValid(*r.value)) << *r.value;
    EXPECT_EQ(*r.key, a["userId"]);
    EXPECT_EQ(a["store"], store_->Kind());
    EXPECT_TRUE(analytics_ids.insert(a["eventId"]).second) << a.dump();
  }
  EXPECT_EQ(analytics_ids.size(), accepted.size());
}

// Compiled into two test programs: the PostgreSQL one (labelled
// "postgres") defines ACTIVITY_LOGS_E2E_POSTGRES.
#ifdef ACTIVITY_LOGS_E2E_POSTGRES
INSTANTIATE_TEST_SUITE_P(Store, ActivityLogsEndToEnd, ::testing::Values(StoreKind::kPostgres),
                         StoreKindName);
#else
INSTANTIATE_TEST_SUITE_P(Store, ActivityLogsEndToEnd, ::testing::Values(StoreKind::kSqlite),
                         StoreKindName);
#endif

}  // namespace
}  // namespace activity_logs::testing
