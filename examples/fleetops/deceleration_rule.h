// examples/fleetops/deceleration_rule.h — the FleetOps design's
// sudden-deceleration rule over one vehicle's recent frames.
//
// The design's anomalies event names the rule and its numbers:
//   anomaly_type "sudden_deceleration", triggered_rule
//   "decel_threshold_exceeded", thresholds {decel_threshold_ms2: 3.0,
//   velocity_delta_threshold_ms: 5.0}, features {velocity_delta,
//   acceleration_magnitude, time_window_ms: 500}, evidence {frame_indices,
//   velocity_history, acceleration_history}.
// Read as a rule, for each frame f of a vehicle, in frame order:
//   window          the vehicle's frames whose event_time lies within
//                   time_window_ms (500 ms) before f's, f included; at the
//                   design's 10 Hz that is frames f-5 .. f;
//   velocity_delta  speed at f minus speed at the oldest frame of the window
//                   (speed = telemetry.velocity.magnitude);
//   deceleration    the longitudinal acceleration at f, i.e. the
//                   acceleration projected on the direction of travel
//                   (negative = slowing down).
//   The rule holds at f when velocity_delta <= -velocity_delta_threshold
//   AND the longitudinal acceleration <= -decel_threshold: the vehicle lost
//   at least 5 m/s within 500 ms and is still braking at 3 m/s² or more.
// One anomaly per deceleration: the rule fires on the first frame where it
// holds and not again until a frame where it does not hold (an episode).
// Severity (the design lists INFO, WARNING, CRITICAL without a rule):
// CRITICAL when the speed lost in the window is at least twice the
// velocity-delta threshold (>= 10 m/s in 500 ms: an impact rather than
// braking), WARNING otherwise. INFO is not used by this rule.
// Evidence: the window's frame indices, speeds and longitudinal
// accelerations, oldest first; acceleration_magnitude is |acceleration| at f.
#pragma once

#include <cstdint>
#include <deque>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "fleetops_events.h"
#include "weir/status.h"

namespace fleetops {

inline constexpr const char* kSuddenDeceleration = "sudden_deceleration";
inline constexpr const char* kDecelRule = "decel_threshold_exceeded";

// The design's thresholds (anomalies.thresholds, features.time_window_ms).
struct DecelerationThresholds {
  double decel_threshold_ms2 = 3.0;
  double velocity_delta_threshold_ms = 5.0;
  int64_t time_window_ms = 500;
};

// What the rule reads of one RawTelemetryEvent.
struct TelemetryFrame {
  std::string event_id;
  std::string event_time;
  int64_t time_ms = 0;  // event_time in Unix milliseconds
  int64_t frame_index = 0;
  double speed = 0;                   // telemetry.velocity.magnitude
  double longitudinal_accel = 0;      // acceleration · velocity / |velocity|
  double acceleration_magnitude = 0;  // telemetry.acceleration.magnitude
};

// Reads the fields above from a RawTelemetryEvent (already schema-checked);
// InvalidArgument naming the field when one is missing or malformed.
weir::Result<TelemetryFrame> ParseTelemetryFrame(const nlohmann::json& event);

// A firing of the rule.
struct Detection {
  std::string event_id;  // the frame that fired it
  std::string event_time;
  int64_t frame_index = 0;
  Severity severity = Severity::kWarning;
  double velocity_delta = 0;
  double acceleration_magnitude = 0;
  double longitudinal_accel = 0;
  int64_t time_window_ms = 0;
  std::vector<int64_t> frame_indices;  // the window, oldest first
  std::vector<double> velocity_history;
  std::vector<double> acceleration_history;  // longitudinal, signed
};

// One vehicle's window and episode state. A plain value: the anomaly
// service copies it, applies a frame to the copy, and keeps the copy only
// once the anomaly (if any) is published, so that a retried frame sees the
// state it saw the first time. Not thread-safe.
class VehicleHistory {
 public:
  // Applies the next frame of the vehicle; returns the detection when the
  // rule fires on it. Frames must come in frame order (the runtime's
  // reorder buffer sees to it); a frame that does not advance past the
  // newest one seen is ignored and reported through |stale|.
  std::optional<Detection> Observe(const TelemetryFrame& frame,
                                   const DecelerationThresholds& thresholds, bool* stale = nullptr);

 private:
  std::deque<TelemetryFrame> window_;
  bool in_episode_ = false;
};

// The AnomalyEvent for |detection| of |vehicle_id|, as JSON text. Its
// anomaly_id is NameUuid(event_id + "/" + rule), so the same frame always
// yields the same anomaly.
std::string AnomalyEventJson(const std::string& vehicle_id, const Detection& detection,
                             const DecelerationThresholds& thresholds,
                             const std::string& processing_time);
// The anomaly_id AnomalyEventJson gives the anomaly fired by |event_id|.
std::string AnomalyIdFor(const std::string& event_id);

}  // namespace fleetops
