// The FleetOps tests' oracle: the anomalies a replay's script implies,
// worked out here from the script's numbers alone (not by the example's
// own ExpectAnomaly), and a check that a set of AnomalyEvents is exactly
// that.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "telemetry_replay.h"

namespace fleetops::testing {

struct Expected {
  std::string vehicle_id;
  std::string event_id;  // of the frame the rule fires on
  int64_t frame_index = 0;
  std::string severity;
  double velocity_delta = 0;
  double acceleration_magnitude = 0;
  std::vector<int64_t> frame_indices;
  std::vector<double> velocity_history;
  std::vector<double> acceleration_history;
};

// The design's rule, applied to a scripted deceleration: 10 Hz frames, the
// window is the 5 frames (500 ms) before the current one plus itself; the
// vehicle cruises at speed_before_ms up to start_frame and loses
// decel_ms2 / 10 m/s per frame after it; the rule fires on the first frame
// whose window has lost >= 5 m/s while braking at >= 3 m/s²; CRITICAL when
// the window lost >= 10 m/s.
inline Expected ExpectedFromScript(const ReplayPlan& plan, const ScriptedDeceleration& d) {
  const double per_frame = d.decel_ms2 / 10.0;
  int k = 1;
  while (per_frame * std::min(k, 5) < 5.0) ++k;
  EXPECT_LE(k, d.braking_frames) << d.vehicle_id << ": braking too short to fire";
  EXPECT_GE(d.decel_ms2, 3.0);
  Expected e;
  e.vehicle_id = d.vehicle_id;
  e.frame_index = d.start_frame + k;
  for (int64_t f = e.frame_index - 5; f <= e.frame_index; ++f) {
    const int64_t braking = std::max<int64_t>(0, f - d.start_frame);
    e.frame_indices.push_back(f);
    e.velocity_history.push_back(d.speed_before_ms - per_frame * static_cast<double>(braking));
    e.acceleration_history.push_back(braking > 0 ? -d.decel_ms2 : 0.0);
  }
  e.velocity_delta = -per_frame * std::min(k, 5);
  e.acceleration_magnitude = d.decel_ms2;
  e.severity = e.velocity_delta <= -10.0 ? "CRITICAL" : "WARNING";
  const Vehicle* v = plan.FindVehicle(d.vehicle_id);
  EXPECT_NE(v, nullptr) << d.vehicle_id;
  if (v != nullptr && v->Frame(e.frame_index) != nullptr) {
    e.event_id = v->Frame(e.frame_index)->event_id;
  }
  return e;
}

class ScriptOracle {
 public:
  explicit ScriptOracle(const ReplayPlan& plan) {
    for (const ScriptedDeceleration& d : plan.decelerations) {
      expected_.push_back(ExpectedFromScript(plan, d));
    }
  }
  const std::vector<Expected>& expected() const { return expected_; }

  // Checks that |anomalies| (AnomalyEvents) are one per scripted
  // deceleration, with its vehicle, frame and evidence, and nothing else.
  void ExpectExactly(const std::vector<nlohmann::json>& anomalies) const {
    EXPECT_EQ(anomalies.size(), expected_.size());
    std::map<std::pair<std::string, int64_t>, const nlohmann::json*> found;
    for (const nlohmann::json& a : anomalies) {
      const auto key = std::make_pair(a["vehicle_id"].get<std::string>(),
                                      a["evidence"]["frame_indices"].back().get<int64_t>());
      EXPECT_TRUE(found.emplace(key, &a).second)
          << "two anomalies for " << key.first << " frame " << key.second;
    }
    for (const Expected& e : expected_) {
      SCOPED_TRACE(e.vehicle_id + " frame " + std::to_string(e.frame_index));
      auto it = found.find({e.vehicle_id, e.frame_index});
      if (it == found.end()) {
        ADD_FAILURE() << "no anomaly for the scripted deceleration";
        continue;
      }
      const nlohmann::json& a = *it->second;
      EXPECT_EQ(a["anomaly_type"], "sudden_deceleration");
      EXPECT_EQ(a["triggered_rule"], "decel_threshold_exceeded");
      EXPECT_EQ(a["event_id"], e.event_id);
      EXPECT_EQ(a["severity"], e.severity);
      EXPECT_EQ(a["thresholds"]["decel_threshold_ms2"], 3.0);
      EXPECT_EQ(a["thresholds"]["velocity_delta_threshold_ms"], 5.0);
      EXPECT_EQ(a["features"]["time_window_ms"], 500);
      Near(a["features"]["velocity_delta"], e.velocity_delta);
      Near(a["features"]["acceleration_magnitude"], e.acceleration_magnitude);
      EXPECT_EQ(a["evidence"]["frame_indices"].get<std::vector<int64_t>>(), e.frame_indices);
      const auto vh = a["evidence"]["velocity_history"].get<std::vector<double>>();
      const auto ah = a["evidence"]["acceleration_history"].get<std::vector<double>>();
      ASSERT_EQ(vh.size(), e.velocity_history.size());
      ASSERT_EQ(ah.size(), e.acceleration_history.size());
      for (size_t i = 0; i < vh.size(); ++i) {
        Near(vh[i], e.velocity_history[i]);
        Near(ah[i], e.acceleration_history[i]);
      }
    }
  }

 private:
  static void Near(const nlohmann::json& got, double want) {
    EXPECT_NEAR(got.get<double>(), want, 1e-9 * std::max(1.0, std::abs(want)));
  }
  std::vector<Expected> expected_;
};

}  // namespace fleetops::testing
