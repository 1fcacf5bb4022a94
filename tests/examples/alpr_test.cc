// The ALPR system end to end on an in-process embedded broker (and, in
// alpr_pg_test, with its plate store in a real PostgreSQL): the camera
// simulator through the edge processor and the Publisher to every consumer
// group, asserting business outcomes — every published plate event stored
// and indexed once, an alert for every watchlist plate seen, injected
// failures dead-lettered with their provenance and error type, camera
// counts equal to the published events — and the weir-alpr binary.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "alpr_system.h"
#include "broker/broker_test_util.h"
#include "examples_test_util.h"
#include "publish/publish_test_util.h"
#include "support/test_support.h"
#include "weir/consume/dead_letter.h"
#include "weir/ops/dlq.h"
#include "weir/ops/migration.h"
#ifdef ALPR_E2E_POSTGRES
#include "pg_client.h"
#include "support/postgres_server.h"
#endif

namespace alpr {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using weir::broker::testing::TestBroker;
using weir::testing::TempDir;

constexpr int64_t kT0 = 1'800'000'000'000;  // 2027-01-15T08:00:00Z

// Polls |pred| every 20 ms until it holds or 120 s pass.
bool Eventually(const std::function<bool()>& pred) {
  return weir::examples::testing::Eventually(pred, seconds(120), milliseconds(20));
}

[[maybe_unused]] std::string AlprBinary() {
  return std::string(WEIR_BINARY_DIR) + "/bin/weir-alpr";
}
std::string ExampleConfig() { return weir::testing::SourcePath("examples/alpr/weir.yaml"); }

// A webhook that answers 503 for some plates and 200 for the rest, and
// counts the calls per alert.
class Webhook {
 public:
  explicit Webhook(std::set<std::string> failing) : failing_(std::move(failing)) {
    server_.Post("/alerts", [this](const httplib::Request& req, httplib::Response& res) {
      json alert = json::parse(req.body, nullptr, false);
      std::lock_guard<std::mutex> lock(mu_);
      const std::string id = alert.value("alert_id", "");
      ++calls_[id];
      res.status = failing_.count(alert.value("plate", "")) > 0 ? 503 : 200;
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Webhook() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return fmt::format("http://127.0.0.1:{}/alerts", port_); }
  std::map<std::string, int> calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  std::set<std::string> failing_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, int> calls_;
};

// A stand-in for OpenSearch's bulk endpoint (no OpenSearch in Debian): it
// checks the NDJSON shape weir's indexer sends, keeps documents by _id, and
// refuses documents of |rejected| plates as OpenSearch refuses a document
// its mapping cannot take (item status 400, "errors": true).
class BulkEndpoint {
 public:
  explicit BulkEndpoint(std::string rejected) : rejected_(std::move(rejected)) {
    server_.Post("/_bulk", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu_);
      std::istringstream in(req.body);
      std::string action_line, doc_line;
      json items = json::array();
      bool errors = false;
      if (req.get_header_value("Content-Type") != "application/x-ndjson") bad_requests_++;
      while (std::getline(in, action_line) && std::getline(in, doc_line)) {
        json action = json::parse(action_line, nullptr, false);
        json doc = json::parse(doc_line, nullptr, false);
        if (action.is_discarded() || doc.is_discarded() || !action.contains("index")) {
          ++bad_requests_;
          continue;
        }
        const std::string id = action["index"].value("_id", "");
        if (id != doc.value("event_id", "") ||
            action["index"].value("_index", "") != "alpr-plates") {
          ++bad_requests_;
        }
        if (doc.value("plate", "") == rejected_) {
          errors = true;
          ++refused_[id];
          items.push_back({{"index",
                            {{"_id", id},
                             {"status", 400},
                             {"error",
                              {{"type", "mapper_parsing_exception"},
                               {"reason", "failed to parse field [plate]"}}}}}});
        } else {
          docs_[id] = doc;
          items.push_back({{"index", {{"_id", id}, {"status", 201}, {"result", "created"}}}});
        }
      }
      res.set_content(json{{"took", 1}, {"errors", errors}, {"items", items}}.dump(),
                      "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~BulkEndpoint() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return fmt::format("http://127.0.0.1:{}", port_); }
  std::map<std::string, json> docs() {
    std::lock_guard<std::mutex> lock(mu_);
    return docs_;
  }
  std::map<std::string, int> refused() {
    std::lock_guard<std::mutex> lock(mu_);
    return refused_;
  }
  int bad_requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return bad_requests_;
  }

 private:
  std::string rejected_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::map<std::string, json> docs_;
  std::map<std::string, int> refused_;
  int bad_requests_ = 0;
};

class AlprTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto topo = weir::LoadTopology(ExampleConfig());
    ASSERT_TRUE(topo.ok()) << topo.status().ToString();
    topology_ = std::move(*topo);
    for (const weir::TopicSpec& t : topology_.topics) broker_.CreateTopic(t.name, t.partitions);
#ifdef ALPR_E2E_POSTGRES
    pg_ = weir::testing::StartPostgresOrSkip();
    if (pg_ == nullptr) return;
    auto url = pg_->CreateDatabase("alpr");
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    pg_url_ = *url;
#endif
  }

  AlprOptions Options(int64_t events) {
    AlprOptions o;
    o.data_dir = dir_.path() + "/data";
#ifdef ALPR_E2E_POSTGRES
    o.store = pg_url_;
#endif
    o.dlq_listen = "127.0.0.1:0";
    o.metrics_consumer_listen = "127.0.0.1:0";
    o.metrics_listen = "127.0.0.1:0";
    o.sim.seed = 42;
    o.sim.cameras = 6;
    o.sim.start_ms = kT0;
    o.sim.watchlist_share = 0.02;
    o.processor.id_seed = 42;
    o.rate = 0;
    o.max_events = events;
    o.host_metrics_interval = milliseconds(200);
    o.runtime.commit_interval = milliseconds(100);
    o.runtime.jitter_seed = 1;
    return o;
  }

  // Sets the backoff of |group|'s retries (the shipped 2 s would make the
  // retry tests slow; the attempts stay the shipped 3).
  void FastRetries(const std::string& group) {
    for (weir::ConsumerGroupSpec& g : topology_.consumer_groups) {
      if (g.name == group) {
        g.retry.initial_backoff = milliseconds(10);
        g.retry.max_backoff = milliseconds(40);
      }
    }
  }

  std::unique_ptr<AlprSystem> StartSystem(AlprOptions o) {
    auto sys = AlprSystem::Create(topology_, broker_.Config(), std::move(o));
    EXPECT_TRUE(sys.ok()) << sys.status().ToString();
    if (!sys.ok()) return nullptr;
    weir::Status s = (*sys)->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return std::move(*sys);
  }

  void RunToEnd(AlprSystem& sys) {
    ASSERT_TRUE(Eventually([&] { return sys.SourceDone(); }));
    ASSERT_TRUE(sys.StopSource().ok());
    ASSERT_TRUE(Eventually([&] { return sys.Drained() || !sys.Error().ok(); }))
        << RenderSummary(sys.Take(), nullptr, {}, "not drained");
    ASSERT_TRUE(sys.Error().ok()) << sys.Error().ToString();
  }

  std::vector<weir::ops::DlqEntry> DeadLetters() {
    auto scan = weir::ops::ScanDlq(broker_.Config(), {"alpr.dlq"}, {});
    EXPECT_TRUE(scan.ok()) << scan.status().ToString();
    if (!scan.ok()) return {};
    EXPECT_TRUE(scan->unreadable.empty());
    return scan->entries;
  }

  // The record at |partition|/|offset| of alpr.events.plates, as bytes.
  std::optional<std::string> PlateRecord(int32_t partition, int64_t offset) {
    for (const auto& r : weir::testing::ReadTopic(broker_.Config(), kPlatesTopic, 3)) {
      if (r.partition == partition && r.offset == offset) return r.value;
    }
    return std::nullopt;
  }

  TempDir dir_;
  TestBroker broker_;
  weir::Topology topology_;
#ifdef ALPR_E2E_POSTGRES
  std::unique_ptr<weir::testing::PostgresServer> pg_;
  std::string pg_url_;
#endif
};

TEST_F(AlprTest, EveryPublishedPlateIsStoredIndexedAlertedAndCounted) {
  AlprOptions o = Options(3000);
  o.inject_poison = 2;
  auto sys = StartSystem(o);
  ASSERT_NE(sys, nullptr);
  RunToEnd(*sys);
  const Snapshot snap = sys->Take();
  const auto published = sys->PublishedPlates();

  // The system's own end-of-run checks hold...
  EXPECT_EQ(sys->Check(), std::vector<std::string>{}) << RenderSummary(snap, nullptr, {}, "run");
  // ...and, independently: the store holds exactly the published plate events.
  ASSERT_GT(published.size(), 1000u);
  auto ids = sys->store()->EventIds();
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  std::set<std::string> stored(ids->begin(), ids->end());
  ASSERT_EQ(stored.size(), ids->size()) << "an event stored twice";
  std::set<std::string> expected;
  for (const auto& [id, p] : published) expected.insert(id);
  EXPECT_EQ(stored, expected);
#ifdef ALPR_E2E_POSTGRES
  // Straight from PostgreSQL: one row per event, with typed columns.
  auto conn = weir::examples::PgConnection::Connect(pg_url_);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto rows = (*conn)->Exec(
      "SELECT count(*) AS n, count(DISTINCT event_id) AS d, "
      "bool_and(published_at - captured_at > interval '-1 year')::text AS typed FROM plate_reads");
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->Get(0, "n"), std::to_string(published.size()));
  EXPECT_EQ(rows->Get(0, "d"), std::to_string(published.size()));
  EXPECT_EQ(rows->Get(0, "typed"), "true");
#endif
  EXPECT_EQ(snap.indexed, static_cast<int64_t>(published.size()));
  // Edge re-sends were dropped by the Publisher's dedup, not stored twice.
  EXPECT_GT(snap.source.resent, 0u);
  EXPECT_EQ(snap.source.duplicates_dropped, snap.source.resent);

  // An alert, notified, for every published plate event on the watchlist.
  std::set<std::string> watch_events;
  for (const auto& [id, p] : published) {
    if (sys->watchlist().Find(p.plate)) watch_events.insert(id);
  }
  ASSERT_GE(watch_events.size(), 5u);
  auto alerts = sys->alerts()->Alerts();
  ASSERT_TRUE(alerts.ok());
  std::set<std::string> alerted;
  for (const Alert& a : *alerts) {
    EXPECT_FALSE(a.notified_at.empty()) << a.alert_id;
    alerted.insert(a.alert_id);
  }
  EXPECT_EQ(alerted, watch_events);
  std::ifstream notes(dir_.path() + "/data/notifications.jsonl");
  std::set<std::string> notified;
  for (std::string line; std::getline(notes, line);) {
    notified.insert(json::parse(line)["alert_id"].get<std::string>());
  }
  EXPECT_EQ(notified, watch_events);

  // The poison records: dead-lettered once by each of the four groups that
  // read plates, as SCHEMA_VALIDATION, pointing at where they were produced.
  std::set<std::pair<int32_t, int64_t>> poison(snap.source.poison_at.begin(),
                                               snap.source.poison_at.end());
  ASSERT_EQ(poison.size(), 2u);
  std::map<std::string, int> by_group;
  for (const weir::ops::DlqEntry& e : DeadLetters()) {
    const weir::consume::DeadLetter& dl = e.dead_letter;
    EXPECT_EQ(dl.error_type, weir::ErrorClass::kSchemaValidation) << dl.error_message;
    EXPECT_EQ(dl.original_topic, kPlatesTopic);
    EXPECT_EQ(poison.count({dl.original_partition.value(), dl.original_offset.value()}), 1u);
    EXPECT_EQ(dl.key.value_or(""), "cam-01");
    EXPECT_EQ(dl.value.value_or("").rfind("not a PlateEvent", 0), 0u);
    EXPECT_EQ(dl.retry_count, 0);
    ++by_group[dl.consumer_group];
  }
  EXPECT_EQ(by_group,
            (std::map<std::string, int>{
                {kAlertGroup, 2}, {kCountsGroup, 2}, {kSearchGroup, 2}, {kStorageGroup, 2}}));
  EXPECT_EQ(snap.dlq_total, 8);

  // Camera counts: every window published once, equal to the plate events
  // captured in it; the topic holds one record per window.
  auto windows = sys->counts()->Emitted();
  ASSERT_TRUE(windows.ok());
  ASSERT_GT(windows->size(), 6u);
  std::map<std::pair<std::string, int64_t>, int64_t> truth;
  for (const auto& [id, p] : published) truth[{p.camera_id, p.captured_ms / 60000 * 60000}]++;
  for (const CameraWindow& w : *windows) {
    EXPECT_EQ(w.plates, (truth[{w.camera_id, w.window_start_ms}]))
        << w.camera_id << " " << w.window_start_ms;
  }
  EXPECT_EQ(weir::testing::ReadTopic(broker_.Config(), "alpr.analytics.camera-counts", 3).size(),
            windows->size());

  // Search finds a watchlisted plate from a misread form of it.
  const std::string plate = published.at(*watch_events.begin()).plate;
  std::string misread = plate;
  for (char& c : misread) {
    if (c == '0') c = 'O';
    if (c == '1') c = 'I';
  }
  SearchQuery q;
  q.plate = misread;
  q.limit = 1000;
  auto hits = sys->search()->Search(q);
  ASSERT_TRUE(hits.ok());
  std::set<std::string> found;
  for (const SearchHit& h : *hits) found.insert(h.event_id);
  for (const auto& [id, p] : published) {
    if (p.plate == plate) {
      EXPECT_EQ(found.count(id), 1u) << id;
    }
  }

  // Host metrics went through alpr.metrics to the metrics consumer.
  EXPECT_GT(snap.source.metric_events, 0u);
  ASSERT_TRUE(sys->Stop().ok());
}

#ifndef ALPR_E2E_POSTGRES
// The plan's migration (§6) while the cameras publish: plate events and
// their four groups start on the setup seed's alpr.plates.detected (10
// partitions) and move to alpr.events.plates (3) through weir migrate —
// start, dual-subscribe (storage first, then the rest), cutover, a rollback,
// and the cutover again. The system's business checks must hold at the end:
// every published plate stored and indexed once, every watchlist alert sent,
// every camera-count window right.
TEST_F(AlprTest, MigratesPlatesFromTheLegacyTopicWithARollbackWhileCamerasPublish) {
  constexpr const char* kLegacy = "alpr.plates.detected";
  for (weir::EventTypeSpec& e : topology_.event_types) {
    if (e.name == "PlateEvent") e.topics = {kLegacy};
  }
  for (weir::ConsumerGroupSpec& g : topology_.consumer_groups) {
    for (std::string& t : g.topics) {
      if (t == kPlatesTopic) t = kLegacy;
    }
  }
  weir::ops::MigrationOptions mo;
  mo.wait = seconds(60);
  std::vector<std::string> progress;
  mo.progress = [&](const std::string& line) { progress.push_back(line); };
  auto migrator = weir::ops::Migrator::Open(topology_, broker_.Config(), mo, true);
  ASSERT_TRUE(migrator.ok()) << migrator.status().ToString();

  AlprOptions o = Options(9000);
  o.rate = 1500;
  auto sys = StartSystem(o);
  ASSERT_NE(sys, nullptr);
  auto more = [&](uint64_t n) {
    const uint64_t until = sys->Take().source.plate_events + n;
    ASSERT_TRUE(Eventually([&] { return sys->Take().source.plate_events >= until; }));
  };
  ASSERT_NO_FATAL_FAILURE(more(300));
  auto& m = **migrator;
  auto ok = [](const weir::Result<weir::migrate::State>& r) {
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  };
  ok(m.Plan({kLegacy, kPlatesTopic, "plates", std::chrono::hours(24 * 7)}));
  ok(m.Start("plates"));
  ASSERT_NO_FATAL_FAILURE(more(300));
  ok(m.DualSubscribe("plates", {kStorageGroup}));
  ASSERT_NO_FATAL_FAILURE(more(300));
  ok(m.DualSubscribe("plates", {}));
  ASSERT_NO_FATAL_FAILURE(more(300));
  ok(m.Cutover("plates"));
  ASSERT_NO_FATAL_FAILURE(more(500));
  ok(m.Rollback("plates"));
  ASSERT_NO_FATAL_FAILURE(more(300));
  ok(m.DualSubscribe("plates", {}));
  ok(m.Cutover("plates"));
  auto status = m.Describe("plates");
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_EQ(status->state.stage, weir::migrate::Stage::kCutover);
  EXPECT_EQ(status->state.rollbacks, 1);
  EXPECT_GE(status->participants.size(), 5u) << "the Publisher and the four plate groups";
  EXPECT_FALSE(sys->SourceDone()) << "the source must still publish after the last step";
  RunToEnd(*sys);

  EXPECT_EQ(sys->Check(), std::vector<std::string>{})
      << RenderSummary(sys->Take(), nullptr, {}, "run")
      << fmt::format("{}", fmt::join(progress, "\n"));
  auto ids = sys->store()->EventIds();
  ASSERT_TRUE(ids.ok());
  std::set<std::string> stored(ids->begin(), ids->end());
  EXPECT_EQ(stored.size(), ids->size()) << "an event stored twice";
  EXPECT_EQ(stored.size(), sys->PublishedPlates().size());
  // Events went through both topics, and the rollback copied the events that
  // were only on the new topic back to the legacy one.
  size_t copies = 0;
  for (const auto& r : weir::testing::ReadTopic(broker_.Config(), kLegacy, 10)) {
    copies += r.headers.count(std::string(weir::migrate::kCopyHeader));
  }
  EXPECT_GT(copies, 0u);
  EXPECT_GT(weir::testing::ReadTopic(broker_.Config(), kPlatesTopic, 3).size(), 0u);
  EXPECT_TRUE(DeadLetters().empty());
  ASSERT_TRUE(sys->Stop().ok());
}

TEST_F(AlprTest, APersistentNotificationFailureIsRetriedThenDeadLetteredWithProvenance) {
  FastRetries(kAlertGroup);
  AlprOptions o = Options(1500);
  o.roles = {"source", "alerts"};
  // Fail every notification of the first watchlisted plate.
  CameraSimulator probe(o.sim);
  const std::string failing = NormalizePlate(probe.watchlist().front());
  Webhook hook({failing});
  o.notify = hook.url();
  auto sys = StartSystem(o);
  ASSERT_NE(sys, nullptr);
  RunToEnd(*sys);

  std::set<std::string> failing_events, other_events;
  for (const auto& [id, p] : sys->PublishedPlates()) {
    if (p.plate == failing) {
      failing_events.insert(id);
    } else if (sys->watchlist().Find(p.plate)) {
      other_events.insert(id);
    }
  }
  ASSERT_FALSE(failing_events.empty()) << "the seed must show the failing plate";
  ASSERT_FALSE(other_events.empty());

  // Three attempts each (the group's retry policy), then the DLQ.
  auto calls = hook.calls();
  for (const std::string& id : failing_events) EXPECT_EQ(calls[id], 3) << id;
  for (const std::string& id : other_events) EXPECT_EQ(calls[id], 1) << id;
  auto dead = DeadLetters();
  ASSERT_EQ(dead.size(), failing_events.size());
  for (const weir::ops::DlqEntry& e : dead) {
    const weir::consume::DeadLetter& dl = e.dead_letter;
    EXPECT_EQ(dl.consumer_group, kAlertGroup);
    EXPECT_EQ(dl.error_type, weir::ErrorClass::kProcessingFailure);
    EXPECT_NE(dl.error_message.find("HTTP 503"), std::string::npos) << dl.error_message;
    EXPECT_EQ(dl.retry_count, 2);
    EXPECT_EQ(dl.original_topic, kPlatesTopic);
    // The original bytes, exactly as they sit at the original position.
    EXPECT_EQ(PlateRecord(dl.original_partition.value(), dl.original_offset.value()), dl.value);
  }
  // The alert store records the failures; the other alerts went out.
  auto alerts = sys->alerts()->Alerts();
  ASSERT_TRUE(alerts.ok());
  for (const Alert& a : *alerts) {
    EXPECT_EQ(a.notified_at.empty(), failing_events.count(a.alert_id) == 1) << a.alert_id;
  }
  ASSERT_TRUE(sys->Stop().ok());
}

TEST_F(AlprTest, TheOpenSearchBulkIndexerDeadLettersADocumentOpenSearchRefuses) {
  AlprOptions o = Options(800);
  o.roles = {"source", "search"};
  CameraSimulator probe(o.sim);
  // Refuse one plate that the run publishes: find it from a dry run of the
  // same seed through the processor.
  EventProcessor dry(o.processor);
  std::string refused;
  for (int i = 0; refused.empty() && i < 1000; ++i) {
    for (const EdgeEvent& e : dry.Process(probe.Next())) {
      if (e.type == "PlateEvent") refused = e.normalized_plate;
    }
  }
  ASSERT_FALSE(refused.empty());
  BulkEndpoint bulk(refused);
  o.search = bulk.url();
  auto sys = StartSystem(o);
  ASSERT_NE(sys, nullptr);
  RunToEnd(*sys);

  EXPECT_EQ(bulk.bad_requests(), 0);
  std::set<std::string> refused_events;
  std::set<std::string> indexed_expected;
  for (const auto& [id, p] : sys->PublishedPlates()) {
    (p.plate == refused ? refused_events : indexed_expected).insert(id);
  }
  ASSERT_FALSE(refused_events.empty());
  std::set<std::string> indexed;
  for (const auto& [id, doc] : bulk.docs()) {
    indexed.insert(id);
    EXPECT_EQ(doc["plate_folded"], FoldPlate(doc["plate"].get<std::string>()));
  }
  EXPECT_EQ(indexed, indexed_expected);
  // A refused document is not retried: BUSINESS_LOGIC, straight to the DLQ.
  for (const auto& [id, n] : bulk.refused()) EXPECT_EQ(n, 1) << id;
  auto dead = DeadLetters();
  ASSERT_EQ(dead.size(), refused_events.size());
  for (const weir::ops::DlqEntry& e : dead) {
    EXPECT_EQ(e.dead_letter.consumer_group, kSearchGroup);
    EXPECT_EQ(e.dead_letter.error_type, weir::ErrorClass::kBusinessLogic);
    EXPECT_NE(e.dead_letter.error_message.find("mapper_parsing_exception"), std::string::npos);
  }
  ASSERT_TRUE(sys->Stop().ok());
}

TEST_F(AlprTest, ARestartResumesFromTheCommittedOffsetsAndKeepsTheWindows) {
  AlprOptions first = Options(1200);
  first.roles = {"source"};
  {
    auto src = StartSystem(first);
    ASSERT_NE(src, nullptr);
    ASSERT_TRUE(Eventually([&] { return src->SourceDone(); }));
    ASSERT_TRUE(src->Stop().ok());
  }
  // The sinks start after the events are in Kafka, read them, stop...
  AlprOptions sinks = Options(0);
  sinks.roles = {"storage", "counts"};
  int64_t stored_first = 0;
  size_t windows_first = 0;
  {
    auto sys = StartSystem(sinks);
    ASSERT_NE(sys, nullptr);
    ASSERT_TRUE(Eventually([&] { return sys->Drained(); }));
    stored_first = *sys->store()->Count();
    windows_first = sys->counts()->Emitted()->size();
    ASSERT_TRUE(sys->Stop().ok());
  }
  EXPECT_GT(stored_first, 500);
  EXPECT_GT(windows_first, 0u);
  // ...more events arrive (camera time continues where it stopped)...
  AlprOptions second = Options(1200);
  second.roles = {"source"};
  second.sim.seed = 43;
  second.processor.id_seed = 43;
  second.sim.start_ms = kT0 + 3'600'000;
  {
    auto src = StartSystem(second);
    ASSERT_NE(src, nullptr);
    ASSERT_TRUE(Eventually([&] { return src->SourceDone(); }));
    ASSERT_TRUE(src->Stop().ok());
  }
  // ...and the restarted sinks take only the new ones: nothing stored twice,
  // no window emitted twice.
  auto sys = StartSystem(sinks);
  ASSERT_NE(sys, nullptr);
  ASSERT_TRUE(Eventually([&] { return sys->Drained(); }));
  const int64_t total = *sys->store()->Count();
  EXPECT_GT(total, stored_first + 500);
  EXPECT_EQ(sys->Take().groups.at(0).stats.handled, static_cast<uint64_t>(total - stored_first));
  auto windows = sys->counts()->Emitted();
  ASSERT_TRUE(windows.ok());
  std::set<std::pair<std::string, int64_t>> distinct;
  for (const CameraWindow& w : *windows) distinct.insert({w.camera_id, w.window_start_ms});
  EXPECT_EQ(distinct.size(), windows->size());
  EXPECT_GT(windows->size(), windows_first);
  ASSERT_TRUE(sys->Stop().ok());
}

// The main job's program: one command, a JSON summary, the search CLI, and
// bad input refused with exit 2 naming it.
TEST(AlprBinary, RunsEndToEndThenSearchesTheStoredPlates) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  weir::testing::CommandResult r = weir::testing::RunCommand({AlprBinary(),
                                                              "--config",
                                                              ExampleConfig(),
                                                              "--data",
                                                              data,
                                                              "run",
                                                              "-n",
                                                              "600",
                                                              "--rate",
                                                              "0",
                                                              "--cameras",
                                                              "3",
                                                              "--inject-poison",
                                                              "1",
                                                              "--json",
                                                              "--metrics-listen",
                                                              "127.0.0.1:0",
                                                              "--dlq-listen",
                                                              "127.0.0.1:0",
                                                              "--metrics-consumer-listen",
                                                              "127.0.0.1:0"},
                                                             {}, seconds(180));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json summary = json::parse(
      r.out.substr(r.out.rfind("\n{") == std::string::npos ? 0 : r.out.rfind("\n{") + 1));
  EXPECT_TRUE(summary["drained"].get<bool>());
  EXPECT_TRUE(summary["problems"].empty()) << summary.dump(2);
  const int64_t plates = summary["source"]["plate_events"].get<int64_t>();
  EXPECT_GT(plates, 200);
  EXPECT_EQ(summary["stored"].get<int64_t>(), plates);
  EXPECT_EQ(summary["indexed"].get<int64_t>(), plates);
  EXPECT_EQ(summary["dlq_total"].get<int64_t>(), 4);
  EXPECT_NE(r.err.find("checks passed"), std::string::npos) << r.err;

  // The alert store lists one line per alert; the alerted plate is
  // searchable by its text.
  r = weir::testing::RunCommand(
      {AlprBinary(), "--config", ExampleConfig(), "--data", data, "alerts"}, {}, seconds(30));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_GT(summary["alerts"].get<int64_t>(), 0);
  EXPECT_EQ(static_cast<int64_t>(std::count(r.out.begin(), r.out.end(), '\n')),
            summary["alerts"].get<int64_t>());
  std::istringstream first_alert(r.out);
  std::string alert_id, plate;
  first_alert >> alert_id >> plate;
  r = weir::testing::RunCommand(
      {AlprBinary(), "--config", ExampleConfig(), "--data", data, "search", "--json",
       "--min-similarity", "1", "--limit", "1000", plate},
      {}, seconds(30));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream hits(r.out);
  std::set<std::string> ids;
  for (std::string h; std::getline(hits, h);) {
    EXPECT_EQ(json::parse(h)["plate"], plate);
    ids.insert(json::parse(h)["event_id"].get<std::string>());
  }
  EXPECT_EQ(ids.count(alert_id), 1u) << r.out;
}

TEST(AlprBinary, RefusesBadInputNamingIt) {
  TempDir dir;
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  const std::string not_ours = dir.path() + "/mine";
  std::filesystem::create_directories(not_ours);
  std::ofstream(not_ours + "/precious.txt") << "keep me\n";
  const std::vector<Case> cases = {
      {{"run", "--rate", "-5"}, "--rate"},
      {{"run", "--roles", "storage,bogus", "-n", "1"}, "unknown role \"bogus\""},
      {{"run", "--watchlist", dir.path() + "/none.txt", "-n", "1"}, "none.txt"},
      {{"search", "--from", "yesterday", "ABC"}, "--from"},
      {{"--data", not_ours, "run", "-n", "1"}, "was not made by weir-alpr"},
      {{"--config", dir.path() + "/nope.yaml", "run"}, "nope.yaml"},
      {{"bogus-command"}, "bogus-command"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> argv = {AlprBinary()};
    if (c.args[0] != "--config") argv.insert(argv.end(), {"--config", ExampleConfig()});
    if (c.args[0] != "--data") argv.insert(argv.end(), {"--data", dir.path() + "/data"});
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    weir::testing::CommandResult r = weir::testing::RunCommand(argv, {}, seconds(60));
    EXPECT_EQ(r.exit_code, 2) << fmt::format("{}", fmt::join(c.args, " ")) << "\n" << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos)
        << fmt::format("{}", fmt::join(c.args, " ")) << "\n"
        << r.err;
  }
  EXPECT_TRUE(std::filesystem::exists(not_ours + "/precious.txt"));
}
#endif

}  // namespace
}  // namespace alpr
