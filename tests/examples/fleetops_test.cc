// The FleetOps example end to end on an in-process embedded broker: the
// replay through the anomaly service (the consumer runtime's dedup and
// reorder buffer as weir.yaml configures them) to the anomalies topic, the
// operator service's alert lifecycle driven through operator_actions (the
// `weir-fleetops action` binary and the library path), a restart of the
// operator service, and the one command `weir-fleetops run`.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "anomaly_service.h"
#include "broker/broker_test_util.h"
#include "consume/consume_test_util.h"
#include "examples_test_util.h"
#include "fleetops_events.h"
#include "fleetops_test_util.h"
#include "operator_service.h"
#include "publish/publish_test_util.h"
#include "support/test_support.h"
#include "telemetry_replay.h"
#include "weir/publish/publisher.h"

namespace fleetops {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using weir::broker::testing::TestBroker;
using weir::consume::GroupStats;
using weir::consume::testing::WaitForStats;
using weir::examples::testing::Eventually;
using weir::examples::testing::LoadTopologyOnBroker;
using weir::examples::testing::StartPublisher;
using weir::testing::ReadRecord;
using weir::testing::TempDir;

constexpr milliseconds kWait = seconds(60);

std::string FleetOpsBinary() { return std::string(WEIR_BINARY_DIR) + "/bin/weir-fleetops"; }
std::string ExampleConfig() { return weir::testing::SourcePath("examples/fleetops/weir.yaml"); }

class FleetOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(LoadTopologyOnBroker(ExampleConfig(), broker_, &topology_));
    ASSERT_NO_FATAL_FAILURE(
        StartPublisher(topology_, broker_, dir_.path() + "/spool", &publisher_));
  }
  void TearDown() override {
    if (publisher_) {
      EXPECT_TRUE(publisher_->Close(seconds(10)).ok());
    }
  }

  weir::consume::RuntimeOptions Runtime() const {
    weir::consume::RuntimeOptions o;
    o.commit_interval = milliseconds(100);
    return o;
  }

  std::unique_ptr<AnomalyService> StartAnomalyService() {
    AnomalyServiceOptions o;
    o.runtime = Runtime();
    o.on_frame = [this](const std::string& vehicle, int64_t frame) {
      std::lock_guard<std::mutex> lock(frames_mu_);
      frames_seen_[vehicle].push_back(frame);
    };
    auto s = AnomalyService::Create(topology_, broker_.Config(), publisher_.get(), o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    EXPECT_TRUE((*s)->Start().ok());
    return std::move(*s);
  }

  std::unique_ptr<OperatorService> StartOperatorService() {
    OperatorServiceOptions o;
    o.runtime = Runtime();
    o.db_path = db_path();
    auto s = OperatorService::Create(topology_, broker_.Config(), publisher_.get(), o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    EXPECT_TRUE((*s)->Start().ok());
    return std::move(*s);
  }

  std::string db_path() const { return dir_.path() + "/alerts.sqlite"; }

  // Every event of |topic|, decoded.
  std::vector<json> Events(const std::string& topic) {
    const weir::TopicSpec* t = topology_.FindTopic(topic);
    std::vector<json> out;
    for (const ReadRecord& r : weir::testing::ReadTopic(broker_.Config(), topic, t->partitions)) {
      json j = json::parse(r.value.value_or("null"));
      j["_key"] = r.key.value_or("");
      j["_partition"] = r.partition;
      j["_type"] = r.headers.count("weir-event-type") ? r.headers.at("weir-event-type") : "";
      out.push_back(std::move(j));
    }
    return out;
  }

  // Waits until the anomaly service has finished every record of |plan|.
  void WaitReplayProcessed(AnomalyService& svc, const ReplayPlan& plan) {
    ASSERT_TRUE(WaitForStats(
        svc.runtime(),
        [&](const GroupStats& s) {
          return s.received == plan.sends.size() &&
                 s.handled + s.duplicates + s.late_dropped == s.received && s.in_flight == 0;
        },
        kWait))
        << "received " << svc.GroupStats().received << " of " << plan.sends.size();
  }

  std::mutex frames_mu_;
  std::map<std::string, std::vector<int64_t>> frames_seen_;  // guarded by frames_mu_
  TempDir dir_;
  TestBroker broker_;
  weir::Topology topology_;
  std::unique_ptr<weir::publish::Publisher> publisher_;
};

TEST_F(FleetOpsTest, AnomaliesForExactlyTheScriptedDecelerationsDespiteDuplicatesAndLateFrames) {
  ReplayOptions o;
  o.seed = 42;
  o.scenes = 3;
  o.tracks_per_scene = 5;
  o.frames_per_scene = 180;
  o.decelerations = 6;
  o.duplicates = 20;
  o.reorders_within = 10;
  o.reorders_beyond = 5;
  o.first_scene = 1;
  auto plan = PlanReplay(o);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  // The script puts faults on the very frames decelerations fire on.
  size_t faults_on_triggers = 0;
  testing::ScriptOracle oracle(*plan);
  for (const ScriptedFault& f : plan->faults) {
    for (const testing::Expected& e : oracle.expected()) {
      faults_on_triggers += f.vehicle_id == e.vehicle_id && f.frame_index == e.frame_index;
    }
  }
  EXPECT_EQ(faults_on_triggers, 6u);

  auto svc = StartAnomalyService();
  ASSERT_TRUE(svc);
  const ReplayReport report = RunReplay(*plan, *publisher_, 0);
  ASSERT_TRUE(report.ok()) << (report.errors.empty() ? "" : report.errors[0]);
  EXPECT_EQ(report.delivered, plan->sends.size());
  WaitReplayProcessed(*svc, *plan);

  // What reached the anomalies topic: exactly the script's anomalies,
  // keyed by vehicle_id, with their evidence.
  std::vector<json> anomalies = Events("anomalies");
  for (const json& a : anomalies) {
    EXPECT_EQ(a["_key"], a["vehicle_id"]);
    EXPECT_EQ(a["_type"], "AnomalyEvent");
  }
  oracle.ExpectExactly(anomalies);
  EXPECT_EQ(svc->Anomalies().size(), plan->decelerations.size());

  // The runtime, as weir.yaml configures it: every duplicate and every
  // frame later than the 2-frame tolerance dropped (a re-sent frame
  // repeats a frame number already released, so the reorder buffer takes
  // it before dedup would), frames within the tolerance put back in order,
  // the rest handled once each.
  const GroupStats gs = svc->GroupStats();
  const size_t dups = plan->CountFaults(FaultKind::kDuplicate);
  const size_t within = plan->CountFaults(FaultKind::kLateWithinTolerance);
  const size_t beyond = plan->CountFaults(FaultKind::kLateBeyondTolerance);
  EXPECT_EQ(gs.received, plan->DistinctFrames() + dups);
  EXPECT_EQ(gs.late_dropped + gs.duplicates, dups + beyond);
  EXPECT_EQ(gs.reordered, within);
  EXPECT_EQ(gs.handled, plan->DistinctFrames() - beyond);
  EXPECT_EQ(gs.dead_lettered, 0u);
  const AnomalyServiceStats st = svc->Stats();
  EXPECT_EQ(st.frames, gs.handled);
  EXPECT_EQ(st.stale_frames, 0u);  // the rule saw every vehicle's frames in order
  EXPECT_EQ(st.vehicles, plan->vehicles.size());
  ASSERT_TRUE(svc->Stop(seconds(10)).ok());

  // Per vehicle, the rule took every frame once, in frame order, except
  // exactly those sent later than the tolerance.
  std::set<std::pair<std::string, int64_t>> beyond_frames;
  for (const ScriptedFault& f : plan->faults) {
    if (f.kind == FaultKind::kLateBeyondTolerance)
      beyond_frames.insert({f.vehicle_id, f.frame_index});
  }
  {
    std::lock_guard<std::mutex> lock(frames_mu_);
    ASSERT_EQ(frames_seen_.size(), plan->vehicles.size());
    for (const Vehicle& v : plan->vehicles) {
      std::vector<int64_t> want;
      for (const VehicleFrame& f : v.frames) {
        if (beyond_frames.count({v.vehicle_id, f.frame_index}) == 0) want.push_back(f.frame_index);
      }
      EXPECT_EQ(frames_seen_[v.vehicle_id], want) << v.vehicle_id;
    }
  }

  // raw_telemetry is keyed by vehicle_id: one partition per vehicle.
  std::map<std::string, std::set<int>> partitions;
  for (const json& e : Events("raw_telemetry")) {
    EXPECT_EQ(e["_key"], e["vehicle_id"]);
    partitions[e["vehicle_id"].get<std::string>()].insert(e["_partition"].get<int>());
  }
  EXPECT_EQ(partitions.size(), plan->vehicles.size());
  for (const auto& [vehicle, parts] : partitions) EXPECT_EQ(parts.size(), 1u) << vehicle;
}

// The alert of |anomaly| in the store, or nullopt.
std::optional<Alert> AlertOf(OperatorService& svc, const json& anomaly) {
  auto a = svc.store().FindAlert(AlertIdFor(anomaly["anomaly_id"].get<std::string>()));
  return a.ok() ? *a : std::nullopt;
}

bool HasStatus(OperatorService& svc, const json& anomaly, AlertStatus s) {
  auto a = AlertOf(svc, anomaly);
  return a && a->status == s;
}

// The (status, operator) sequence of every alert on operator_alerts.
std::map<std::string, std::vector<std::pair<std::string, std::string>>> AlertHistory(
    const std::vector<json>& events) {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> out;
  for (const json& e : events) {
    EXPECT_EQ(e["_key"], e["alert_id"]);
    EXPECT_EQ(e["_type"], "OperatorAlert");
    out[e["alert_id"].get<std::string>()].push_back(
        {e["alert_status"].get<std::string>(), e["assigned_operator_id"].is_null()
                                                   ? std::string("-")
                                                   : e["assigned_operator_id"].get<std::string>()});
  }
  return out;
}

TEST_F(FleetOpsTest, AlertLifecycleThroughOperatorActionsSurvivesARestart) {
  ReplayOptions o;
  o.seed = 5;
  o.scenes = 2;
  o.tracks_per_scene = 3;
  o.frames_per_scene = 160;
  o.decelerations = 3;
  o.first_scene = 1;
  auto plan = PlanReplay(o);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  auto anomaly_svc = StartAnomalyService();
  auto ops = StartOperatorService();
  ASSERT_TRUE(anomaly_svc && ops);
  ASSERT_TRUE(RunReplay(*plan, *publisher_, 0).ok());
  WaitReplayProcessed(*anomaly_svc, *plan);
  std::vector<json> anomalies = anomaly_svc->Anomalies();
  ASSERT_EQ(anomalies.size(), 3u);

  // An OPEN alert for every anomaly.
  ASSERT_TRUE(Eventually([&] { return ops->Stats().events_published == 3; }));
  for (const json& a : anomalies) {
    auto alert = AlertOf(*ops, a);
    ASSERT_TRUE(alert) << a.dump();
    EXPECT_EQ(alert->status, AlertStatus::kOpen);
    EXPECT_EQ(alert->vehicle_id, a["vehicle_id"]);
    EXPECT_EQ(alert->severity, a["severity"]);
    EXPECT_FALSE(alert->assigned_operator_id);
  }
  const json& first = anomalies[0];
  const json& second = anomalies[1];
  const json& third = anomalies[2];
  const std::string alert1 = AlertIdFor(first["anomaly_id"].get<std::string>());
  const std::string alert2 = AlertIdFor(second["anomaly_id"].get<std::string>());
  const std::string alert3 = AlertIdFor(third["anomaly_id"].get<std::string>());

  // ACKNOWLEDGE through the CLI (the vehicle is looked up in the store).
  auto cli = weir::testing::RunCommand(
      {FleetOpsBinary(), "action", "-c", ExampleConfig(), "-b", broker_.bootstrap(), "--alert-id",
       alert1, "--type", "ACKNOWLEDGE", "--operator", "operator_007", "--note", "Investigating",
       "--db", db_path(), "--spool-dir", dir_.path() + "/spool-action"},
      "", seconds(60));
  ASSERT_EQ(cli.exit_code, 0) << cli.out << cli.err;
  EXPECT_NE(cli.out.find("delivered operator_actions["), std::string::npos) << cli.out;
  ASSERT_TRUE(Eventually([&] { return HasStatus(*ops, first, AlertStatus::kAcknowledged); }));
  // RESOLVE and DISMISS through the library's action path.
  auto act = [&](const json& anomaly, ActionType type, const std::string& who) {
    OperatorActionRequest r;
    r.alert_id = AlertIdFor(anomaly["anomaly_id"].get<std::string>());
    r.vehicle_id = anomaly["vehicle_id"].get<std::string>();
    r.operator_id = who;
    r.type = type;
    const std::string event = OperatorActionJson(r);
    EXPECT_TRUE(publisher_->Publish(kOperatorAction, event).accepted());
    return json::parse(event)["action_id"].get<std::string>();
  };
  act(first, ActionType::kResolve, "operator_008");
  ASSERT_TRUE(Eventually([&] { return HasStatus(*ops, first, AlertStatus::kResolved); }));
  act(second, ActionType::kDismiss, "operator_009");
  ASSERT_TRUE(Eventually([&] { return HasStatus(*ops, second, AlertStatus::kDismissed); }));
  // An illegal transition is refused, recorded, and changes nothing.
  const std::string illegal = act(second, ActionType::kResolve, "operator_009");
  ASSERT_TRUE(Eventually([&] { return ops->Stats().actions_refused == 1; }));
  auto actions = ops->store().Actions();
  ASSERT_TRUE(actions.ok());
  ASSERT_EQ(actions->size(), 4u);
  EXPECT_EQ(actions->back().action_id, illegal);
  EXPECT_FALSE(actions->back().applied);
  EXPECT_EQ(actions->back().from_status, "DISMISSED");
  EXPECT_NE(actions->back().reason.find("final"), std::string::npos) << actions->back().reason;
  EXPECT_EQ(actions->front().comment, "Investigating");
  EXPECT_TRUE(HasStatus(*ops, second, AlertStatus::kDismissed));
  EXPECT_EQ(ops->Stats().actions_applied, 3u);

  // operator_alerts carries every change, in order per alert, and nothing
  // for the refused action.
  ASSERT_TRUE(Eventually([&] { return ops->Stats().events_published == 6; }));
  using History = std::vector<std::pair<std::string, std::string>>;
  auto history = AlertHistory(Events("operator_alerts"));
  EXPECT_EQ(
      history[alert1],
      (History{{"OPEN", "-"}, {"ACKNOWLEDGED", "operator_007"}, {"RESOLVED", "operator_008"}}));
  EXPECT_EQ(history[alert2], (History{{"OPEN", "-"}, {"DISMISSED", "operator_009"}}));
  EXPECT_EQ(history[alert3], (History{{"OPEN", "-"}}));

  // Restart the operator service on the same store.
  ASSERT_TRUE(ops->Stop(seconds(10)).ok());
  ops.reset();
  ops = StartOperatorService();
  ASSERT_TRUE(ops);
  EXPECT_TRUE(HasStatus(*ops, first, AlertStatus::kResolved));
  EXPECT_TRUE(HasStatus(*ops, second, AlertStatus::kDismissed));
  EXPECT_TRUE(HasStatus(*ops, third, AlertStatus::kOpen));
  // Decisions after the restart start from the stored state: acknowledging
  // the resolved alert is refused, acknowledging the open one is not.
  act(first, ActionType::kAcknowledge, "operator_010");
  act(third, ActionType::kAcknowledge, "operator_010");
  ASSERT_TRUE(Eventually([&] { return HasStatus(*ops, third, AlertStatus::kAcknowledged); }));
  ASSERT_TRUE(Eventually([&] { return ops->Stats().actions_refused == 1; }));
  // An anomaly delivered again opens no second alert.
  ASSERT_TRUE(publisher_->Publish(kAnomalyEvent, first.dump()).accepted());
  ASSERT_TRUE(Eventually([&] { return ops->Stats().anomalies_seen_again == 1; }));
  EXPECT_EQ(ops->Stats().alerts_opened, 0u);
  EXPECT_EQ(ops->store().Alerts()->size(), 3u);
  ASSERT_TRUE(Eventually([&] { return ops->Stats().events_published == 1; }));
  history = AlertHistory(Events("operator_alerts"));
  EXPECT_EQ(history[alert1].size(), 3u);
  EXPECT_EQ(history[alert2].size(), 2u);
  EXPECT_EQ(history[alert3], (History{{"OPEN", "-"}, {"ACKNOWLEDGED", "operator_010"}}));
  ASSERT_TRUE(ops->Stop(seconds(10)).ok());
  ASSERT_TRUE(anomaly_svc->Stop(seconds(10)).ok());

  // `weir-fleetops alerts` shows the store as the service left it.
  auto listed = weir::testing::RunCommand(
      {FleetOpsBinary(), "alerts", "-c", ExampleConfig(), "--db", db_path(), "--actions"}, "",
      seconds(30));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find(alert1 + " " + first["vehicle_id"].get<std::string>()),
            std::string::npos)
      << listed.out;
  EXPECT_NE(listed.out.find("REFUSED DISMISSED -> DISMISSED"), std::string::npos) << listed.out;
}

TEST(FleetOpsRunCommand, TheOneCommandRunsEverythingOnTheEmbeddedBroker) {
  TempDir dir;
  auto r = weir::testing::RunCommand(
      {FleetOpsBinary(), "run", "-c", ExampleConfig(), "--seed", "3", "--db",
       dir.path() + "/alerts.sqlite", "--spool-dir", dir.path() + "/spool"},
      "", seconds(240), {{"WEIR_EMBEDDED_DATA_DIR", dir.path() + "/data"}});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("anomalies match the script: 6 of 6 decelerations"), std::string::npos)
      << r.out;
  // The demo operators: in turn acknowledge+resolve, dismiss, acknowledge,
  // leave open; one illegal RESOLVE of a dismissed alert.
  EXPECT_NE(r.out.find("alerts (this replay)  1 OPEN, 1 ACKNOWLEDGED, 2 RESOLVED, 2 DISMISSED"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("8 sent, 7 applied, 1 refused; 13 operator_alerts events"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("25 late frames dropped"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace fleetops
