// The FleetOps example's parts without a cluster: the replay's script
// against the sudden-deceleration rule over many seeds, the alert
// lifecycle table, and the alert store's idempotence and persistence.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "alert_store.h"
#include "deceleration_rule.h"
#include "fleetops_events.h"
#include "fleetops_test_util.h"
#include "support/test_support.h"
#include "telemetry_replay.h"

namespace fleetops {
namespace {

using nlohmann::json;
using testing::ExpectedFromScript;
using testing::ScriptOracle;

// What a consumer with the design's reorder buffer hands the rule: every
// frame of every vehicle once, in frame order, except those sent later
// than the tolerance (dropped).
std::map<std::string, std::vector<std::string>> InOrderFrames(const ReplayPlan& plan) {
  std::set<std::pair<std::string, int64_t>> dropped;
  for (const ScriptedFault& f : plan.faults) {
    if (f.kind == FaultKind::kLateBeyondTolerance) dropped.insert({f.vehicle_id, f.frame_index});
  }
  std::map<std::string, std::vector<std::string>> out;
  for (size_t v = 0; v < plan.vehicles.size(); ++v) {
    const Vehicle& veh = plan.vehicles[v];
    for (size_t i = 0; i < veh.frames.size(); ++i) {
      if (dropped.count({veh.vehicle_id, veh.frames[i].frame_index}) != 0) continue;
      out[veh.vehicle_id].push_back(plan.EventJson(Send{v, i, 0, false}, NowIso8601()));
    }
  }
  return out;
}

TEST(FleetOpsReplay, TheRuleFindsExactlyTheScriptedDecelerationsForEverySeed) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    ReplayOptions o;
    o.seed = seed;
    o.first_scene = 100;
    o.session_id = "s";
    auto plan = PlanReplay(o);
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    ASSERT_EQ(plan->decelerations.size(), 6u);
    std::vector<json> anomalies;
    for (const auto& [vehicle, events] : InOrderFrames(*plan)) {
      VehicleHistory h;
      for (const std::string& text : events) {
        auto frame = ParseTelemetryFrame(json::parse(text));
        ASSERT_TRUE(frame.ok()) << frame.status().ToString();
        bool stale = true;
        auto d = h.Observe(*frame, DecelerationThresholds{}, &stale);
        EXPECT_FALSE(stale);
        if (d) {
          anomalies.push_back(
              json::parse(AnomalyEventJson(vehicle, *d, DecelerationThresholds{}, NowIso8601())));
        }
      }
    }
    ScriptOracle oracle(*plan);
    oracle.ExpectExactly(anomalies);
  }
}

TEST(FleetOpsReplay, ThePlanIsDeterministicAndPhysicallyConsistent) {
  ReplayOptions o;
  o.seed = 9;
  o.first_scene = 500;
  o.session_id = "same";
  auto a = PlanReplay(o);
  auto b = PlanReplay(o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->ScriptJson(), b->ScriptJson());
  ASSERT_EQ(a->sends.size(), b->sends.size());
  for (size_t i = 0; i < a->sends.size(); ++i) {
    EXPECT_EQ(a->EventJson(a->sends[i], "t"), b->EventJson(b->sends[i], "t"));
  }
  // Every frame is sent once, plus the duplicates; records = frames + dups.
  EXPECT_EQ(a->sends.size(), a->DistinctFrames() + a->CountFaults(FaultKind::kDuplicate));
  EXPECT_EQ(a->CountFaults(FaultKind::kDuplicate), 20u);
  EXPECT_EQ(a->CountFaults(FaultKind::kLateWithinTolerance), 10u);
  EXPECT_EQ(a->CountFaults(FaultKind::kLateBeyondTolerance), 5u);
  // Speed changes by acceleration × 0.1 s and position by the mean speed.
  for (const Vehicle& v : a->vehicles) {
    EXPECT_TRUE(v.vehicle_id == v.scene_id + "_ego" ||
                v.vehicle_id == v.scene_id + "_track_" + std::to_string(v.track_id));
    for (size_t i = 1; i < v.frames.size(); ++i) {
      const VehicleFrame& p = v.frames[i - 1];
      const VehicleFrame& f = v.frames[i];
      EXPECT_EQ(f.frame_index, p.frame_index + 1);
      EXPECT_EQ(f.time_ms, p.time_ms + 100);
      EXPECT_NEAR(f.speed, p.speed + f.accel * 0.1, 1e-9);
      const double moved = std::hypot(f.x - p.x, f.y - p.y);
      EXPECT_NEAR(moved, (p.speed + f.speed) / 2 * 0.1, 1e-3);
      EXPECT_NEAR(std::hypot(f.vx, f.vy), f.speed, 1e-9);
      // The reported acceleration projected on the velocity is the
      // longitudinal one.
      if (f.speed > 0) {
        EXPECT_NEAR((f.ax * f.vx + f.ay * f.vy) / f.speed, f.accel, 1e-9);
      }
      EXPECT_GT(f.speed, 0.0);
    }
  }
  // A different seed gives a different script.
  o.seed = 10;
  auto c = PlanReplay(o);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(a->ScriptJson()["decelerations"], c->ScriptJson()["decelerations"]);
}

TEST(FleetOpsReplay, OptionsThatCannotFitAreRefused) {
  ReplayOptions o;
  o.scenes = 1;
  o.tracks_per_scene = 0;
  o.decelerations = 5;  // one vehicle of 200 frames holds at most one
  auto p = PlanReplay(o);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("do not fit"), std::string::npos) << p.status().message();
  o.frames_per_scene = 20;
  EXPECT_FALSE(PlanReplay(o).ok());
}

TEST(FleetOpsRule, FiresOncePerDecelerationWithTheDesignsEvidence) {
  // 10 Hz frames at 20 m/s, then braking at 12 m/s² for 8 frames, then on.
  auto frame = [](int64_t i, double speed, double accel) {
    TelemetryFrame f;
    f.event_id = "e" + std::to_string(i);
    f.frame_index = i;
    f.time_ms = 1000000 + i * 100;
    f.event_time = FormatIso8601Ms(f.time_ms);
    f.speed = speed;
    f.longitudinal_accel = accel;
    f.acceleration_magnitude = std::abs(accel);
    return f;
  };
  VehicleHistory h;
  std::vector<Detection> found;
  double v = 20;
  for (int64_t i = 0; i < 40; ++i) {
    const double a = i >= 10 && i < 18 ? -12.0 : 0.0;
    v += a * 0.1;
    if (auto d = h.Observe(frame(i, v, a), DecelerationThresholds{})) found.push_back(*d);
  }
  ASSERT_EQ(found.size(), 1u);
  const Detection& d = found[0];
  // Frames 10..14 lose 6 m/s: the window 9..14 is the first to reach 5.
  EXPECT_EQ(d.frame_index, 14);
  EXPECT_EQ(d.frame_indices, (std::vector<int64_t>{9, 10, 11, 12, 13, 14}));
  EXPECT_NEAR(d.velocity_delta, -6.0, 1e-9);
  EXPECT_EQ(d.time_window_ms, 500);
  EXPECT_EQ(d.severity, Severity::kWarning);
  EXPECT_NEAR(d.acceleration_history.front(), 0.0, 1e-12);
  EXPECT_NEAR(d.acceleration_history.back(), -12.0, 1e-12);
  // A frame that does not move forward is ignored, not evaluated.
  bool stale = false;
  EXPECT_FALSE(h.Observe(frame(39, 10, -50), DecelerationThresholds{}, &stale));
  EXPECT_TRUE(stale);
  // The AnomalyEvent carries the design's fields.
  const json a =
      json::parse(AnomalyEventJson("scene_1_track_2", d, {}, "2024-01-15T10:23:45.130Z"));
  EXPECT_EQ(a["anomaly_type"], "sudden_deceleration");
  EXPECT_EQ(a["triggered_rule"], "decel_threshold_exceeded");
  EXPECT_EQ(a["severity"], "WARNING");
  EXPECT_EQ(a["thresholds"]["decel_threshold_ms2"], 3.0);
  EXPECT_EQ(a["thresholds"]["velocity_delta_threshold_ms"], 5.0);
  EXPECT_EQ(a["features"]["time_window_ms"], 500);
  EXPECT_EQ(a["event_id"], "e14");
  EXPECT_EQ(a["anomaly_id"], AnomalyIdFor("e14"));
}

TEST(FleetOpsRule, BrakingBelowEitherThresholdIsNotAnAnomaly) {
  VehicleHistory slow, gentle;
  double v1 = 20, v2 = 20;
  for (int64_t i = 0; i < 60; ++i) {
    TelemetryFrame f;
    f.frame_index = i;
    f.time_ms = i * 100;
    // 9.5 m/s² loses 4.75 m/s in 500 ms: below the velocity-delta threshold.
    v1 -= i >= 10 && i < 20 ? 0.95 : 0.0;
    f.speed = v1;
    f.longitudinal_accel = i >= 10 && i < 20 ? -9.5 : 0.0;
    EXPECT_FALSE(slow.Observe(f, DecelerationThresholds{})) << i;
    // Losing 6 m/s over 500 ms while the current deceleration is only
    // 2.9 m/s² (below 3): not sudden any more.
    v2 -= i >= 10 && i < 15 ? 1.2 : 0.0;
    f.speed = v2;
    f.longitudinal_accel = i >= 10 && i < 15 ? -2.9 : 0.0;
    EXPECT_FALSE(gentle.Observe(f, DecelerationThresholds{})) << i;
  }
}

TEST(FleetOpsEvents, TimestampsAndIds) {
  EXPECT_EQ(FormatIso8601Ms(1705314225123), "2024-01-15T10:23:45.123Z");
  EXPECT_EQ(ParseIso8601Ms("2024-01-15T10:23:45.123Z"), 1705314225123);
  EXPECT_EQ(ParseIso8601Ms("2024-01-15T10:23:45Z"), 1705314225000);
  EXPECT_EQ(ParseIso8601Ms("2024-01-15T10:23:45.1Z"), 1705314225100);
  // weir's one ISO-8601 reader (consume::ParseDlqTimestamp) also takes
  // offsets; garbage is refused.
  EXPECT_EQ(ParseIso8601Ms("2024-01-15T11:23:45.123+01:00"), 1705314225123);
  EXPECT_FALSE(ParseIso8601Ms("2024-01-15T10:23:45.123+0x:00"));
  EXPECT_FALSE(ParseIso8601Ms("yesterday"));
  EXPECT_EQ(NameUuid("a"), NameUuid("a"));
  EXPECT_NE(NameUuid("a"), NameUuid("b"));
  const std::string id = NameUuid("x");
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '8');  // version 8
  std::mt19937_64 rng(1);
  EXPECT_EQ(RandomUuid(rng)[14], '4');
}

TEST(FleetOpsLifecycle, TransitionsFollowTheTable) {
  using A = ActionType;
  using S = AlertStatus;
  struct Case {
    S from;
    A action;
    bool allowed;
    S to;
  };
  const Case cases[] = {
      {S::kOpen, A::kAcknowledge, true, S::kAcknowledged},
      {S::kOpen, A::kResolve, false, S::kOpen},
      {S::kOpen, A::kDismiss, true, S::kDismissed},
      {S::kOpen, A::kIntervene, true, S::kAcknowledged},
      {S::kAcknowledged, A::kAcknowledge, false, S::kAcknowledged},
      {S::kAcknowledged, A::kResolve, true, S::kResolved},
      {S::kAcknowledged, A::kDismiss, true, S::kDismissed},
      {S::kAcknowledged, A::kIntervene, true, S::kAcknowledged},
      {S::kResolved, A::kAcknowledge, false, S::kResolved},
      {S::kResolved, A::kResolve, false, S::kResolved},
      {S::kResolved, A::kDismiss, false, S::kResolved},
      {S::kResolved, A::kIntervene, false, S::kResolved},
      {S::kDismissed, A::kAcknowledge, false, S::kDismissed},
      {S::kDismissed, A::kResolve, false, S::kDismissed},
      {S::kDismissed, A::kDismiss, false, S::kDismissed},
      {S::kDismissed, A::kIntervene, false, S::kDismissed},
  };
  for (const Case& c : cases) {
    const LifecycleStep s = NextStatus(c.from, c.action);
    SCOPED_TRACE(std::string(AlertStatusName(c.from)) + " " +
                 std::string(ActionTypeName(c.action)));
    EXPECT_EQ(s.allowed, c.allowed);
    EXPECT_EQ(s.to, c.to);
    EXPECT_EQ(s.changes, c.allowed && c.to != c.from);
    EXPECT_EQ(s.reason.empty(), c.allowed) << s.reason;
  }
}

json Anomaly(const std::string& id, const std::string& vehicle) {
  return {{"anomaly_id", id},
          {"vehicle_id", vehicle},
          {"event_time", "2024-01-15T10:23:45.123Z"},
          {"severity", "CRITICAL"},
          {"anomaly_type", "sudden_deceleration"}};
}

json Action(const std::string& id, const std::string& alert, const std::string& vehicle,
            const std::string& type) {
  return {{"action_id", id},     {"alert_id", alert},   {"vehicle_id", vehicle},
          {"operator_id", "op"}, {"action_type", type}, {"processing_time", NowIso8601()}};
}

TEST(FleetOpsAlertStore, DecidesOnceAndKeepsItsStateAcrossReopening) {
  weir::testing::TempDir dir;
  const std::string path = dir.path() + "/nested/alerts.sqlite";
  const std::string alert = AlertIdFor("an-1");
  {
    auto store = AlertStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ((*store)->OpenAlert(Anomaly("an-1", "v1")).value(), true);
    EXPECT_EQ((*store)->OpenAlert(Anomaly("an-1", "v1")).value(), false);  // redelivered
    auto ack = (*store)->ApplyAction(Action("ac-1", alert, "v1", "ACKNOWLEDGE"));
    ASSERT_TRUE(ack.ok()) << ack.status().ToString();
    EXPECT_TRUE(ack->record.applied);
    EXPECT_FALSE(ack->repeated);
    auto again = (*store)->ApplyAction(Action("ac-1", alert, "v1", "ACKNOWLEDGE"));
    EXPECT_TRUE(again->repeated);
    EXPECT_TRUE(again->record.applied);
    auto wrong_vehicle = (*store)->ApplyAction(Action("ac-2", alert, "v2", "RESOLVE"));
    EXPECT_FALSE(wrong_vehicle->record.applied);
    EXPECT_NE(wrong_vehicle->record.reason.find("vehicle v1"), std::string::npos);
    auto unknown = (*store)->ApplyAction(Action("ac-3", "nope", "v1", "RESOLVE"));
    EXPECT_FALSE(unknown->record.applied);
    auto pending = (*store)->Pending();
    ASSERT_EQ(pending->size(), 2u);  // OPEN, ACKNOWLEDGED
    EXPECT_EQ(json::parse((*pending)[0].json)["alert_status"], "OPEN");
    EXPECT_EQ(json::parse((*pending)[1].json)["alert_status"], "ACKNOWLEDGED");
    EXPECT_EQ(json::parse((*pending)[1].json)["assigned_operator_id"], "op");
    ASSERT_TRUE((*store)->MarkPublished((*pending)[0].seq).ok());
  }
  auto store = AlertStore::Open(path);
  ASSERT_TRUE(store.ok());
  auto a = (*store)->FindAlert(alert);
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ((*a)->status, AlertStatus::kAcknowledged);
  EXPECT_EQ((*a)->assigned_operator_id, "op");
  EXPECT_EQ((*store)->Pending()->size(), 1u);  // the unpublished event survives
  auto resolve = (*store)->ApplyAction(Action("ac-4", alert, "v1", "RESOLVE"));
  EXPECT_TRUE(resolve->record.applied);
  auto late = (*store)->ApplyAction(Action("ac-5", alert, "v1", "DISMISS"));
  EXPECT_FALSE(late->record.applied);
  EXPECT_EQ(late->record.from_status, "RESOLVED");
  EXPECT_EQ((*store)->Actions()->size(), 5u);
  EXPECT_EQ((*store)->CountByStatus()->at(AlertStatus::kResolved), 1);
}

}  // namespace
}  // namespace fleetops
