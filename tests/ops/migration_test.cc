// `weir migrate` end to end on an in-process embedded broker, while events
// flow: two Publishers and two consumer groups (one of two members) follow
// the migration's state; every step runs through ops::Migrator, including a
// rollback from cutover and a second cutover. At the end each group has
// handled every accepted event exactly once, each camera's events in order,
// and the old topic holds a copy of every record that was only on the new
// one. Also the state's codec and routing rules, and the refusals.
#include "weir/ops/migration.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "broker/broker_test_util.h"
#include "common/wall_clock.h"
#include "publish/publish_test_util.h"
#include "weir/consume/runtime.h"
#include "weir/kafka/admin.h"
#include "weir/kafka/producer.h"
#include "weir/migrate/control.h"
#include "weir/publish/publisher.h"

namespace weir::ops {
namespace {

using migrate::Stage;
using std::chrono::milliseconds;
using std::chrono::seconds;

// --- the state and its routing (pure) -------------------------------------------

migrate::State StateAt(Stage stage) {
  migrate::State s;
  s.name = "m";
  s.version = 3;
  s.from = "old";
  s.to = "new";
  s.stage = stage;
  s.groups = {"g1", "g2"};
  s.moved = {"g1"};
  return s;
}

TEST(MigrationStateTest, JsonRoundTripKeepsEveryField) {
  migrate::State s = StateAt(Stage::kRollbackPublish);
  s.event_types = {"Plate"};
  s.window_ms = 3600000;
  s.cutover_at_ms = 1700000000000;
  s.rollbacks = 2;
  s.old_final = {5, 6};
  s.new_cutover = {1, 2, 3};
  s.new_final = {4, 5, 6};
  s.copy_from = {7, 8};
  s.history.push_back({3, "rollback-publish", 17, "me@host pid 1", "note"});
  s.updated_by = "me@host pid 1";
  auto back = migrate::StateFromJson(migrate::StateToJson(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(migrate::StateToJson(*back), migrate::StateToJson(s));
}

TEST(MigrationStateTest, BadDocumentsNameTheField) {
  EXPECT_FALSE(migrate::StateFromJson("[1]").ok());
  auto no_from = migrate::StateFromJson(R"({"name":"m","version":1,"to":"n","stage":"planned"})");
  ASSERT_FALSE(no_from.ok());
  EXPECT_NE(no_from.status().message().find("\"from\""), std::string::npos);
  auto bad_stage =
      migrate::StateFromJson(R"({"name":"m","version":1,"from":"o","to":"n","stage":"sideways"})");
  ASSERT_FALSE(bad_stage.ok());
  EXPECT_NE(bad_stage.status().message().find("sideways"), std::string::npos);
  auto bad_type =
      migrate::StateFromJson(R"({"name":"m","version":"x","from":"o","to":"n","stage":"planned"})");
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("\"version\""), std::string::npos);
}

TEST(MigrationStateTest, RoutesFollowTheStageTable) {
  using T = migrate::PublishTarget;
  const std::vector<std::string> declared = {"old", "other"};
  struct Case {
    Stage stage;
    std::vector<T> publish;
    std::vector<std::string> g1, g2, stranger;
  };
  const std::vector<Case> cases = {
      {Stage::kPlanned, {{"old", ""}, {"other", ""}}, {"old"}, {"old"}, {"old"}},
      {Stage::kDualPublish, {{"old", ""}, {"new", "m"}, {"other", ""}}, {"old"}, {"old"}, {"old"}},
      {Stage::kDualSubscribe,
       {{"old", ""}, {"new", "m"}, {"other", ""}},
       {"old", "new"},
       {"old"},
       {"old"}},
      {Stage::kCutoverPublish, {{"new", ""}, {"other", ""}}, {"old"}, {"old"}, {"old"}},
      {Stage::kCutover, {{"new", ""}, {"other", ""}}, {"new"}, {"new"}, {"new"}},
      {Stage::kRollbackPublish,
       {{"old", ""}, {"new", "m"}, {"other", ""}},
       {"new"},
       {"new"},
       {"old"}},
      {Stage::kDone, {{"new", ""}, {"other", ""}}, {"new"}, {"new"}, {"new"}},
      {Stage::kAborted, {{"old", ""}, {"other", ""}}, {"old"}, {"old"}, {"old"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(migrate::StageName(c.stage)));
    migrate::States states{{"m", StateAt(c.stage)}};
    EXPECT_EQ(migrate::PublishTargets(states, declared), c.publish);
    std::vector<std::string> with_other;
    auto expect_group = [&](const char* g, std::vector<std::string> want) {
      want.push_back("other");
      EXPECT_EQ(migrate::GroupTopics(states, g, {"old", "other"}), want) << g;
    };
    expect_group("g1", c.g1);
    expect_group("g2", c.g2);
    expect_group("stranger", c.stranger);
  }
  // No migration: as declared.
  EXPECT_EQ(migrate::GroupTopics({}, "g1", {"old"}), std::vector<std::string>{"old"});
}

TEST(MigrationStateTest, GroupsOfTheMigrationSkipMarkedCopiesOthersDoNot) {
  migrate::States states{{"m", StateAt(Stage::kDualSubscribe)}};
  Record dual = Record::Owned("new", Partition(0), Offset(1), {}, std::nullopt, std::string("{}"),
                              {Header{std::string(migrate::kDualHeader), std::string("m")}});
  Record copy = Record::Owned("old", Partition(0), Offset(1), {}, std::nullopt, std::string("{}"),
                              {Header{std::string(migrate::kCopyHeader), std::string("m")}});
  Record plain = Record::Owned("new", Partition(0), Offset(2), {}, std::nullopt, std::string("{}"));
  EXPECT_TRUE(migrate::SkipRecord(states, "g1", dual));
  EXPECT_TRUE(migrate::SkipRecord(states, "g2", copy));
  EXPECT_FALSE(migrate::SkipRecord(states, "g1", plain));
  EXPECT_FALSE(migrate::SkipRecord(states, "stranger", dual));
  EXPECT_FALSE(migrate::SkipRecord(states, "stranger", copy));
  EXPECT_FALSE(migrate::SkipRecord({}, "g1", dual));
  EXPECT_EQ(migrate::HandlerTopic(states, "new"), "old");
  EXPECT_EQ(migrate::HandlerTopic(states, "other"), "other");
}

// --- end to end ------------------------------------------------------------------------

constexpr int kCameras = 16;

constexpr const char* kYaml = R"(
topics:
  plates.old: {partitions: 4, key: camera}
  plates.new: {partitions: 3, key: camera, retention: 7d}
  plates.dlq: {partitions: 1}
event_types:
  Plate: {topic: plates.old, key: camera, id: id}
consumer_groups:
  by-partition:
    topics: [plates.old]
    ordering: partition
    dlq: plates.dlq
  by-key:
    topics: [plates.old]
    ordering: key
    concurrency: 4
    dlq: plates.dlq
)";

struct Handled {
  std::string id;
  int camera = 0;
  int seq = 0;
  std::string topic;
};

class MigrationE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    topology_ = weir::testing::MakeTopology(dir_, kYaml);
    broker_.CreateTopic("plates.old", 4);
    broker_.CreateTopic("plates.dlq", 1);
  }

  void TearDown() override {
    StopTraffic();
    for (auto& rt : runtimes_) (void)rt->Stop(seconds(10));
    for (auto& p : publishers_) (void)p->Close(seconds(10));
  }

  void StartPublishers() {
    for (int i = 0; i < 2; ++i) {
      publish::PublisherOptions po;
      po.spool_dir = fmt::format("{}/spool{}", dir_.path(), i);
      po.migration_heartbeat = milliseconds(1000);
      auto p = publish::Publisher::Create(topology_, broker_.Config(), po);
      ASSERT_TRUE(p.ok()) << p.status().ToString();
      publishers_.push_back(std::move(*p));
    }
  }

  void StartGroup(const std::string& group) {
    consume::RuntimeOptions ro;
    ro.commit_interval = milliseconds(100);
    ro.migration_heartbeat = milliseconds(1000);
    auto rt = consume::GroupRuntime::Create(topology_, group, broker_.ConsumerConfig(), ro);
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    ASSERT_TRUE((*rt)
                    ->OnEventType("Plate",
                                  [this, group](const consume::Message& m) {
                                    auto j = nlohmann::json::parse(m.json());
                                    std::lock_guard<std::mutex> lock(mu_);
                                    handled_[group].push_back(
                                        {j["id"].get<std::string>(), j["cam"].get<int>(),
                                         j["seq"].get<int>(), std::string(m.record().topic())});
                                    return consume::HandlerResult::Ok();
                                  })
                    .ok());
    ASSERT_TRUE((*rt)->Start().ok());
    runtimes_.push_back(std::move(*rt));
  }

  // Each camera publishes through one Publisher, in sequence, so its events
  // have an order to keep. Paced so that every step sees traffic.
  void StartTraffic() {
    traffic_ = std::thread([this] {
      std::vector<int> seq(kCameras, 0);
      for (int n = 0; !stop_traffic_.load(); ++n) {
        const int cam = n % kCameras;
        const int s = ++seq[static_cast<size_t>(cam)];
        const std::string id = fmt::format("c{}-{}", cam, s);
        nlohmann::json ev = {
            {"id", id}, {"camera", fmt::format("cam-{}", cam)}, {"cam", cam}, {"seq", s}};
        auto& pub = *publishers_[static_cast<size_t>(cam % 2)];
        publish::PublishResult r = pub.Publish("Plate", ev.dump());
        if (r.accepted()) {
          std::lock_guard<std::mutex> lock(mu_);
          accepted_.insert(id);
        } else {
          std::lock_guard<std::mutex> lock(mu_);
          refused_.push_back(id + ": " + r.status.ToString());
        }
        published_.fetch_add(1);
        std::this_thread::sleep_for(milliseconds(1));  // pacing, not synchronisation
      }
    });
  }

  void StopTraffic() {
    stop_traffic_ = true;
    if (traffic_.joinable()) traffic_.join();
  }

  // Lets |n| more events be published.
  void MoreTraffic(int n = 300) {
    const int64_t until = published_.load() + n;
    const auto deadline = std::chrono::steady_clock::now() + seconds(60);
    while (published_.load() < until && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    ASSERT_GE(published_.load(), until);
  }

  std::unique_ptr<Migrator> OpenMigrator(bool create = false) {
    MigrationOptions mo;
    mo.wait = seconds(60);
    mo.progress = [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(mu_);
      progress_.push_back(line);
    };
    mo.now_ms = [this] { return WallClockMs() + clock_offset_ms_.load(); };
    auto m = Migrator::Open(topology_, broker_.Config(), mo, create);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? std::move(*m) : nullptr;
  }

  size_t HandledCount(const std::string& group) {
    std::lock_guard<std::mutex> lock(mu_);
    return handled_[group].size();
  }

  weir::testing::TempDir dir_;
  broker::testing::TestBroker broker_;
  Topology topology_;
  std::vector<std::unique_ptr<publish::Publisher>> publishers_;
  std::vector<std::unique_ptr<consume::GroupRuntime>> runtimes_;
  std::thread traffic_;
  std::atomic<bool> stop_traffic_{false};
  std::atomic<int64_t> published_{0};
  std::atomic<int64_t> clock_offset_ms_{0};
  std::mutex mu_;
  std::set<std::string> accepted_;
  std::vector<std::string> refused_;
  std::map<std::string, std::vector<Handled>> handled_;
  std::vector<std::string> progress_;
};

TEST_F(MigrationE2eTest, FullCycleWithRollbackWhileEventsFlowLosesNothing) {
  // The control topics exist before the processes start, as after any
  // earlier migration; the plan step creates them.
  auto migrator = OpenMigrator(/*create=*/true);
  ASSERT_NE(migrator, nullptr);
  ASSERT_NO_FATAL_FAILURE(StartPublishers());
  ASSERT_NO_FATAL_FAILURE(StartGroup("by-partition"));
  ASSERT_NO_FATAL_FAILURE(StartGroup("by-key"));
  ASSERT_NO_FATAL_FAILURE(StartGroup("by-key"));
  StartTraffic();
  ASSERT_NO_FATAL_FAILURE(MoreTraffic());

  MigrationPlan plan;
  plan.from = "plates.old";
  plan.to = "plates.new";
  plan.name = "plates";
  plan.window = std::chrono::hours(1);
  auto planned = migrator->Plan(plan);
  ASSERT_TRUE(planned.ok()) << planned.status().ToString();
  EXPECT_EQ(planned->stage, Stage::kPlanned);
  EXPECT_EQ(planned->groups, (std::vector<std::string>{"by-partition", "by-key"}));
  EXPECT_EQ(planned->event_types, std::vector<std::string>{"Plate"});

  auto step = [&](const char* what, auto&& fn, Stage want) {
    SCOPED_TRACE(what);
    Result<migrate::State> r = fn();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->stage, want) << migrate::StageName(r->stage);
    ASSERT_NO_FATAL_FAILURE(MoreTraffic());
  };
  ASSERT_NO_FATAL_FAILURE(step(
      "start", [&] { return migrator->Start("plates"); }, Stage::kDualPublish));
  ASSERT_NO_FATAL_FAILURE(step(
      "dual-subscribe one group",
      [&] { return migrator->DualSubscribe("plates", {"by-partition"}); }, Stage::kDualSubscribe));
  // Not every group reads the new topic yet: cutover is refused.
  auto early = migrator->Cutover("plates");
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), StatusCode::kRefused);
  EXPECT_NE(early.status().message().find("by-key"), std::string::npos);
  ASSERT_NO_FATAL_FAILURE(step(
      "dual-subscribe the rest", [&] { return migrator->DualSubscribe("plates", {}); },
      Stage::kDualSubscribe));
  ASSERT_NO_FATAL_FAILURE(step(
      "cutover", [&] { return migrator->Cutover("plates"); }, Stage::kCutover));
  ASSERT_NO_FATAL_FAILURE(step(
      "rollback", [&] { return migrator->Rollback("plates"); }, Stage::kDualPublish));
  ASSERT_NO_FATAL_FAILURE(step(
      "dual-subscribe again", [&] { return migrator->DualSubscribe("plates", {}); },
      Stage::kDualSubscribe));
  ASSERT_NO_FATAL_FAILURE(step(
      "cutover again", [&] { return migrator->Cutover("plates"); }, Stage::kCutover));
  // A finished step has nothing to do.
  auto again = migrator->Cutover("plates");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->stage, Stage::kCutover);

  // Cleanup inside the rollback window is refused; after it, O is deleted.
  auto inside = migrator->Cleanup("plates");
  ASSERT_FALSE(inside.ok());
  EXPECT_EQ(inside.status().code(), StatusCode::kRefused);
  EXPECT_NE(inside.status().message().find("rollback window"), std::string::npos);

  StopTraffic();
  for (auto& p : publishers_) ASSERT_TRUE(p->Flush(seconds(30), /*drain_spool=*/true).ok());
  std::set<std::string> accepted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    accepted = accepted_;
    EXPECT_TRUE(refused_.empty()) << refused_.front();
  }
  ASSERT_GT(accepted.size(), 2000u);
  for (const char* group : {"by-partition", "by-key"}) {
    const bool all = [&] {
      const auto deadline = std::chrono::steady_clock::now() + seconds(60);
      while (HandledCount(group) < accepted.size() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(milliseconds(20));
      }
      return HandledCount(group) >= accepted.size();
    }();
    EXPECT_TRUE(all) << group << " handled " << HandledCount(group) << " of " << accepted.size();
  }

  // The copies the rollback made: one per record that was only on N.
  auto o_records = weir::testing::ReadTopic(broker_.Config(), "plates.old", 4);
  std::set<std::string> sources;
  size_t copies = 0;
  for (const auto& r : o_records) {
    auto it = r.headers.find(std::string(migrate::kCopyHeader));
    if (it == r.headers.end()) continue;
    ++copies;
    EXPECT_EQ(it->second, "plates");
    EXPECT_TRUE(sources.insert(r.headers.at(std::string(migrate::kSourceHeader))).second)
        << "copied twice: " << r.headers.at(std::string(migrate::kSourceHeader));
  }
  EXPECT_GT(copies, 0u) << "events flowed during the cutover, so some were only on N";

  clock_offset_ms_ = 2 * 3600 * 1000;
  auto cleaned = migrator->Cleanup("plates");
  ASSERT_TRUE(cleaned.ok()) << cleaned.status().ToString();
  EXPECT_EQ(cleaned->stage, Stage::kDone);

  for (auto& rt : runtimes_) {
    ASSERT_TRUE(rt->Stop(seconds(10)).ok());
  }
  uint64_t skipped = 0;
  for (auto& rt : runtimes_) skipped += rt->Stats().migration_skipped;
  EXPECT_GT(skipped, 0u);

  std::lock_guard<std::mutex> lock(mu_);
  for (const char* group : {"by-partition", "by-key"}) {
    SCOPED_TRACE(group);
    const std::vector<Handled>& seen = handled_[group];
    std::map<std::string, int> times;
    std::map<int, int> last_seq;
    std::set<std::string> topics;
    for (const Handled& h : seen) {
      ++times[h.id];
      topics.insert(h.topic);
      int& last = last_seq[h.camera];
      EXPECT_GT(h.seq, last) << "camera " << h.camera << ": seq " << h.seq << " after " << last
                             << " (" << h.topic << ")";
      last = h.seq;
    }
    std::vector<std::string> missing, twice;
    for (const std::string& id : accepted) {
      if (times[id] == 0) missing.push_back(id);
      if (times[id] > 1) twice.push_back(id);
    }
    EXPECT_TRUE(missing.empty()) << missing.size() << " lost, first " << missing.front();
    EXPECT_TRUE(twice.empty()) << twice.size() << " handled twice, first " << twice.front();
    EXPECT_EQ(topics, (std::set<std::string>{"plates.old", "plates.new"}));
  }
  // The history names every recorded step.
  auto list = migrator->List();
  ASSERT_TRUE(list.ok());
  std::vector<std::string> stages;
  for (const auto& h : list->at("plates").history) stages.push_back(h.stage);
  const std::vector<std::string> want = {"planned",         "dual-publish",     "dual-subscribe",
                                         "dual-subscribe",  "cutover-publish",  "cutover-publish",
                                         "cutover",         "rollback-publish", "rollback-publish",
                                         "dual-publish",    "dual-subscribe",   "cutover-publish",
                                         "cutover-publish", "cutover",          "done"};
  EXPECT_EQ(stages, want);
}

// A step whose wait expires leaves the state at its last recorded sub-step;
// running it again continues from there. Here a group's handler is blocked
// during the cutover, so the group cannot drain the old topic in time.
TEST_F(MigrationE2eTest, AnInterruptedCutoverIsResumedByRunningItAgain) {
  auto migrator = OpenMigrator(/*create=*/true);
  ASSERT_NE(migrator, nullptr);
  ASSERT_NO_FATAL_FAILURE(StartPublishers());
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool blocked = false;
  bool open = true;
  consume::RuntimeOptions ro;
  ro.commit_interval = milliseconds(100);
  ro.migration_heartbeat = milliseconds(1000);
  for (const char* group : {"by-partition", "by-key"}) {
    auto rt = consume::GroupRuntime::Create(topology_, group, broker_.ConsumerConfig(), ro);
    ASSERT_TRUE(rt.ok()) << rt.status().ToString();
    const bool gated = std::string(group) == "by-partition";
    ASSERT_TRUE((*rt)
                    ->OnEventType("Plate",
                                  [&, gated](const consume::Message&) {
                                    if (!gated) return consume::HandlerResult::Ok();
                                    std::unique_lock<std::mutex> lock(gate_mu);
                                    blocked = blocked || !open;
                                    gate_cv.notify_all();
                                    gate_cv.wait(lock, [&] { return open; });
                                    return consume::HandlerResult::Ok();
                                  })
                    .ok());
    ASSERT_TRUE((*rt)->Start().ok());
    runtimes_.push_back(std::move(*rt));
  }
  StartTraffic();
  ASSERT_NO_FATAL_FAILURE(MoreTraffic(100));
  ASSERT_TRUE(migrator->Plan({"plates.old", "plates.new", "plates", std::chrono::hours(1)}).ok());
  ASSERT_TRUE(migrator->Start("plates").ok());
  ASSERT_TRUE(migrator->DualSubscribe("plates", {}).ok());
  ASSERT_NO_FATAL_FAILURE(MoreTraffic(100));
  {
    std::unique_lock<std::mutex> lock(gate_mu);
    open = false;
    // The group is stuck inside a handler.
    ASSERT_TRUE(gate_cv.wait_for(lock, seconds(60), [&] { return blocked; }));
  }
  MigrationOptions quick;
  quick.wait = seconds(2);
  auto impatient = Migrator::Open(topology_, broker_.Config(), quick);
  ASSERT_TRUE(impatient.ok());
  auto expired = (*impatient)->Cutover("plates");
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), StatusCode::kTimeout);
  EXPECT_NE(expired.status().message().find("group by-partition has committed plates.old/"),
            std::string::npos)
      << expired.status().message();
  auto list = migrator->List();
  ASSERT_TRUE(list.ok());
  const migrate::State& mid = list->at("plates");
  EXPECT_EQ(mid.stage, Stage::kCutoverPublish);
  EXPECT_FALSE(mid.old_final.empty()) << "the sub-step before the wait was recorded";
  const migrate::Offsets old_final = mid.old_final;
  {
    std::lock_guard<std::mutex> lock(gate_mu);
    open = true;
    gate_cv.notify_all();
  }
  auto resumed = migrator->Cutover("plates");
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(resumed->stage, Stage::kCutover);
  EXPECT_EQ(resumed->old_final, old_final) << "recorded offsets are never sampled again";
  StopTraffic();
}

// Two writers of the same version: the first record in the log wins, the
// other is told who changed the migration.
TEST_F(MigrationE2eTest, TheFirstWriterOfAVersionWinsTheOtherIsToldWho) {
  auto a = migrate::ControlLog::Open(broker_.Config(), true, seconds(10));
  auto b = migrate::ControlLog::Open(broker_.Config(), false, seconds(10));
  ASSERT_TRUE(a.ok() && b.ok());
  migrate::State s = StateAt(Stage::kPlanned);
  s.version = 1;
  s.updated_by = "alice@ops-1 pid 1";
  ASSERT_TRUE((*a)->Write(s, seconds(10)).ok());
  migrate::State next_a = s;
  next_a.version = 2;
  next_a.stage = Stage::kDualPublish;
  next_a.updated_by = "alice@ops-1 pid 1";
  migrate::State next_b = next_a;
  next_b.stage = Stage::kAborted;
  next_b.updated_by = "bob@ops-2 pid 2";
  ASSERT_TRUE((*a)->Write(next_a, seconds(10)).ok());
  Status lost = (*b)->Write(next_b, seconds(10));
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.code(), StatusCode::kCancelled);
  EXPECT_NE(lost.message().find("alice@ops-1"), std::string::npos) << lost.message();
  auto states = (*b)->Read(seconds(10));
  ASSERT_TRUE(states.ok());
  EXPECT_EQ(states->at("m").stage, Stage::kDualPublish);
  EXPECT_EQ(states->at("m").version, 2);
}

TEST_F(MigrationE2eTest, BadRequestsAreRefusedNamingTheProblem) {
  auto migrator = OpenMigrator(/*create=*/true);
  ASSERT_NE(migrator, nullptr);
  MigrationPlan plan{"plates.old", "nosuch", "", std::chrono::hours(1)};
  auto undeclared = migrator->Plan(plan);
  ASSERT_FALSE(undeclared.ok());
  EXPECT_EQ(undeclared.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(undeclared.status().message().find("nosuch"), std::string::npos);
  EXPECT_NE(undeclared.status().message().find("weir.yaml"), std::string::npos);

  plan.to = "plates.old";
  auto same = migrator->Plan(plan);
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(same.status().code(), StatusCode::kInvalidArgument);

  auto unknown = migrator->Start("nosuch");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);

  // A new topic that holds records is refused.
  broker_.CreateTopic("plates.new", 3);
  {
    auto producer = kafka::Producer::Create(broker_.Config());
    ASSERT_TRUE(producer.ok());
    kafka::ProduceRequest req;
    req.topic = "plates.new";
    req.partition = Partition(1);
    req.value = "stray";
    ASSERT_TRUE((*producer)->Send(req).get().status.ok());
  }
  plan.to = "plates.new";
  auto nonempty = migrator->Plan(plan);
  ASSERT_FALSE(nonempty.ok());
  EXPECT_EQ(nonempty.status().code(), StatusCode::kRefused);
  EXPECT_NE(nonempty.status().message().find("partition 1 holds 1 record"), std::string::npos)
      << nonempty.status().message();

  // Once its records are deleted the topic is empty and the plan is made.
  {
    auto admin = kafka::Admin::Create(broker_.Config());
    ASSERT_TRUE(admin.ok());
    auto del = (*admin)->DeleteRecords({{"plates.new", Partition(1), kOffsetEnd, {}}}, seconds(10));
    ASSERT_TRUE(del.ok()) << del.status().ToString();
  }
  auto made = migrator->Plan(plan);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(made->name, "plates.old-to-plates.new");

  // Steps in the wrong stage name the stage and the valid ones.
  auto cleanup = migrator->Cleanup(made->name);
  ASSERT_FALSE(cleanup.ok());
  EXPECT_EQ(cleanup.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(cleanup.status().message().find("stage planned"), std::string::npos);
  EXPECT_NE(cleanup.status().message().find("start, abort"), std::string::npos);
  auto twice = migrator->Plan(plan);
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("exists already"), std::string::npos);

  auto aborted = migrator->Abort(made->name);
  ASSERT_TRUE(aborted.ok()) << aborted.status().ToString();
  EXPECT_EQ(aborted->stage, Stage::kAborted);
  auto rollback = migrator->Rollback(made->name);
  ASSERT_FALSE(rollback.ok());
  EXPECT_EQ(rollback.status().code(), StatusCode::kInvalidArgument);
  // An aborted migration may be planned again under its name.
  auto replanned = migrator->Plan(plan);
  ASSERT_TRUE(replanned.ok()) << replanned.status().ToString();
  EXPECT_EQ(replanned->version, 3);
}

}  // namespace
}  // namespace weir::ops
