#include "deceleration_rule.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

namespace fleetops {
namespace {

using nlohmann::json;

// The number at |pointer| of |event|, or an error naming it.
weir::Result<double> NumberAt(const json& event, const char* pointer) {
  const json::json_pointer p(pointer);
  if (!event.contains(p) || !event.at(p).is_number()) {
    return weir::Status::InvalidArgument(
        fmt::format("RawTelemetryEvent: {} is missing or not a number", pointer));
  }
  return event.at(p).get<double>();
}

}  // namespace

weir::Result<TelemetryFrame> ParseTelemetryFrame(const json& event) {
  TelemetryFrame f;
  if (!event.is_object() || !event.contains("event_id") || !event["event_id"].is_string() ||
      !event.contains("event_time") || !event["event_time"].is_string() ||
      !event.contains("frame_index") || !event["frame_index"].is_number_integer()) {
    return weir::Status::InvalidArgument(
        "RawTelemetryEvent: event_id, event_time or frame_index is missing");
  }
  f.event_id = event["event_id"].get<std::string>();
  f.event_time = event["event_time"].get<std::string>();
  f.frame_index = event["frame_index"].get<int64_t>();
  auto t = ParseIso8601Ms(f.event_time);
  if (!t) {
    return weir::Status::InvalidArgument(
        fmt::format("RawTelemetryEvent: /event_time is not ISO 8601 UTC: \"{}\"", f.event_time));
  }
  f.time_ms = *t;
  WEIR_ASSIGN_OR_RETURN(f.speed, NumberAt(event, "/telemetry/velocity/magnitude"));
  WEIR_ASSIGN_OR_RETURN(double vx, NumberAt(event, "/telemetry/velocity/x"));
  WEIR_ASSIGN_OR_RETURN(double vy, NumberAt(event, "/telemetry/velocity/y"));
  WEIR_ASSIGN_OR_RETURN(double vz, NumberAt(event, "/telemetry/velocity/z"));
  WEIR_ASSIGN_OR_RETURN(double ax, NumberAt(event, "/telemetry/acceleration/x"));
  WEIR_ASSIGN_OR_RETURN(double ay, NumberAt(event, "/telemetry/acceleration/y"));
  WEIR_ASSIGN_OR_RETURN(double az, NumberAt(event, "/telemetry/acceleration/z"));
  WEIR_ASSIGN_OR_RETURN(f.acceleration_magnitude,
                        NumberAt(event, "/telemetry/acceleration/magnitude"));
  // A vehicle at rest has no direction of travel and cannot decelerate.
  const double norm = std::sqrt(vx * vx + vy * vy + vz * vz);
  f.longitudinal_accel = norm > 1e-9 ? (ax * vx + ay * vy + az * vz) / norm : 0.0;
  return f;
}

std::optional<Detection> VehicleHistory::Observe(const TelemetryFrame& frame,
                                                 const DecelerationThresholds& thresholds,
                                                 bool* stale) {
  if (stale != nullptr) *stale = false;
  if (!window_.empty() && (frame.frame_index <= window_.back().frame_index ||
                           frame.time_ms <= window_.back().time_ms)) {
    if (stale != nullptr) *stale = true;
    return std::nullopt;
  }
  window_.push_back(frame);
  while (window_.front().time_ms < frame.time_ms - thresholds.time_window_ms) window_.pop_front();
  const TelemetryFrame& oldest = window_.front();
  const double velocity_delta = frame.speed - oldest.speed;
  const bool holds = window_.size() >= 2 &&
                     velocity_delta <= -thresholds.velocity_delta_threshold_ms &&
                     frame.longitudinal_accel <= -thresholds.decel_threshold_ms2;
  if (!holds) {
    in_episode_ = false;
    return std::nullopt;
  }
  if (in_episode_) return std::nullopt;
  in_episode_ = true;
  Detection d;
  d.event_id = frame.event_id;
  d.event_time = frame.event_time;
  d.frame_index = frame.frame_index;
  d.velocity_delta = velocity_delta;
  d.acceleration_magnitude = frame.acceleration_magnitude;
  d.longitudinal_accel = frame.longitudinal_accel;
  d.time_window_ms = frame.time_ms - oldest.time_ms;
  d.severity = velocity_delta <= -2 * thresholds.velocity_delta_threshold_ms ? Severity::kCritical
                                                                             : Severity::kWarning;
  for (const TelemetryFrame& f : window_) {
    d.frame_indices.push_back(f.frame_index);
    d.velocity_history.push_back(f.speed);
    d.acceleration_history.push_back(f.longitudinal_accel);
  }
  return d;
}

std::string AnomalyIdFor(const std::string& event_id) {
  return NameUuid(fmt::format("{}/{}", event_id, kDecelRule));
}

std::string AnomalyEventJson(const std::string& vehicle_id, const Detection& d,
                             const DecelerationThresholds& thresholds,
                             const std::string& processing_time) {
  nlohmann::ordered_json j = {
      {"anomaly_id", AnomalyIdFor(d.event_id)},
      {"event_id", d.event_id},
      {"vehicle_id", vehicle_id},
      {"event_time", d.event_time},
      {"processing_time", processing_time},
      {"anomaly_type", kSuddenDeceleration},
      {"severity", std::string(SeverityName(d.severity))},
      {"triggered_rule", kDecelRule},
      {"features",
       {{"velocity_delta", d.velocity_delta},
        {"acceleration_magnitude", d.acceleration_magnitude},
        {"time_window_ms", d.time_window_ms},
        {"longitudinal_acceleration", d.longitudinal_accel}}},
      {"thresholds",
       {{"decel_threshold_ms2", thresholds.decel_threshold_ms2},
        {"velocity_delta_threshold_ms", thresholds.velocity_delta_threshold_ms}}},
      {"evidence",
       {{"frame_indices", d.frame_indices},
        {"velocity_history", d.velocity_history},
        {"acceleration_history", d.acceleration_history}}},
  };
  return j.dump();
}

}  // namespace fleetops
