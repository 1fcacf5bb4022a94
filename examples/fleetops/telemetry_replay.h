// examples/fleetops/telemetry_replay.h — the telemetry replay of the
// FleetOps design ("raw telemetry from dataset replay"), on synthetic scenes.
//
// PlanReplay() builds, from a seed, everything the replay will send:
//   - scenes of tracked vehicles plus one ego vehicle each, every vehicle a
//     kinematically consistent trajectory sampled at the design's 10 Hz
//     (speed, heading, yaw rate and longitudinal acceleration integrated
//     frame by frame; position by the midpoint rule; the reported
//     acceleration vector is the longitudinal one plus the centripetal
//     v·yaw_rate, so its projection on the velocity is exactly the
//     longitudinal acceleration);
//   - a script of sudden decelerations: hard braking at 10.6–14 m/s² for a
//     few frames, or an impact that takes 10.5–14 m/s off in one frame, each
//     preceded by a straight, constant-speed approach so that the frames the
//     rule looks at follow from the script alone;
//   - injected faults, as a real at-least-once feed has them: duplicates
//     (the same event, same event_id, sent again 0–3 frames later), frames
//     sent 1–2 frames late (within the design's 2-frame reorder tolerance)
//     and frames sent 3–5 frames late (beyond it). Faults on one vehicle are
//     at least 8 frames apart, never in a vehicle's first or last 8 frames,
//     and frames sent beyond the tolerance are kept away from the scripted
//     decelerations (the consumer drops them, and the rule would then see a
//     gap). Some duplicates and reorders land on the very frame a
//     deceleration fires on.
// The plan is deterministic for its options. RunReplay() publishes it as
// RawTelemetryEvents (schema-checked, keyed by vehicle_id) in its send
// order, all scenes side by side, optionally paced at the dataset's rate.
#pragma once

#include <atomic>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "deceleration_rule.h"
#include "weir/status.h"

namespace weir::publish {
class Publisher;
}

namespace fleetops {

struct ReplayOptions {
  uint64_t seed = 1;
  int scenes = 3;
  int tracks_per_scene = 6;    // plus one ego vehicle per scene
  int frames_per_scene = 200;  // 20 s at 10 Hz; at least 150
  int decelerations = 6;       // scripted; the 2nd, 5th, 8th, ... are impacts
  int duplicates = 20;
  int reorders_within = 10;  // frames sent 1-2 frames late
  int reorders_beyond = 5;   // frames sent 3-5 frames late
  // Scene ids are "scene_<first_scene + i>"; 0 = a number drawn for the
  // session, so that a second replay does not reuse the vehicles of a first
  // one (a consumer keeps each vehicle's frame cursor).
  int first_scene = 0;
  // Goes into replay metadata and seeds the event ids; empty = random.
  std::string session_id;
  // The dataset time of frame 0 of the first scene (2024-01-15T10:00:00Z);
  // scene i starts i hours later.
  int64_t start_unix_ms = 1705312800000;
};

// How a scripted deceleration happens.
enum class DecelerationKind : uint8_t {
  kHardBrake,  // braking at decel_ms2 for braking_frames frames
  kImpact,     // one frame at decel_ms2 (> 100 m/s²)
};
std::string_view DecelerationKindName(DecelerationKind k);  // "hard_brake", "impact"

// One scripted deceleration. The vehicle drives straight at
// speed_before_ms for the frames up to start_frame; frames start_frame+1 ..
// start_frame+braking_frames show the deceleration (speed falls by
// decel_ms2 / 10 per frame); then it drives on.
struct ScriptedDeceleration {
  std::string vehicle_id;
  DecelerationKind kind = DecelerationKind::kHardBrake;
  int64_t start_frame = 0;
  int braking_frames = 0;
  double decel_ms2 = 0;
  double speed_before_ms = 0;
};

enum class FaultKind : uint8_t { kDuplicate, kLateWithinTolerance, kLateBeyondTolerance };
std::string_view FaultKindName(FaultKind k);  // "duplicate", "late_within", "late_beyond"

// One injected fault: frame |frame_index| of |vehicle_id| is sent again
// (duplicate) or only (late) right after the vehicle's frame
// frame_index + delay_frames.
struct ScriptedFault {
  std::string vehicle_id;
  int64_t frame_index = 0;
  FaultKind kind = FaultKind::kDuplicate;
  int delay_frames = 0;
};

// One frame of one vehicle, in SI units.
struct VehicleFrame {
  int64_t frame_index = 0;
  int64_t time_ms = 0;
  std::string event_id;
  double x = 0, y = 0;
  double speed = 0, yaw = 0, yaw_rate = 0;
  double accel = 0;  // longitudinal, signed
  double vx = 0, vy = 0;
  double ax = 0, ay = 0, accel_magnitude = 0;
};

struct Vehicle {
  std::string vehicle_id;  // "{scene_id}_track_{track_id}" or "{scene_id}_ego"
  std::string scene_id;
  int64_t track_id = 0;  // 0 for the ego vehicle
  bool ego = false;
  double label_probability = 1.0;
  std::vector<VehicleFrame> frames;  // consecutive frame indices
  const VehicleFrame* Frame(int64_t frame_index) const;
};

// One record to send: frame |frame| (an index into the vehicle's frames) of
// vehicle |vehicle| at replay tick |tick| (the scene frame it goes out with).
struct Send {
  size_t vehicle = 0;
  size_t frame = 0;
  int64_t tick = 0;
  bool duplicate = false;
};

struct ReplayPlan {
  ReplayOptions options;
  std::string session_id;
  std::vector<Vehicle> vehicles;
  std::vector<ScriptedDeceleration> decelerations;
  std::vector<ScriptedFault> faults;
  std::vector<Send> sends;  // in send order

  size_t DistinctFrames() const;
  size_t CountFaults(FaultKind kind) const;
  const Vehicle* FindVehicle(const std::string& vehicle_id) const;
  // The RawTelemetryEvent of |send| as JSON text.
  std::string EventJson(const Send& send, const std::string& processing_time) const;
  // The script (decelerations and faults) as JSON, for people and tests.
  nlohmann::json ScriptJson() const;
};

// The anomaly the sudden-deceleration rule (deceleration_rule.h) must
// raise for |d|, worked out from the script alone: the approach is straight
// at constant speed, so the speed at frame start_frame + k is
// speed_before - k·decel/10 while braking, and the rule fires on the first
// such frame where the speed lost within the window reaches the threshold.
struct ExpectedAnomaly {
  std::string vehicle_id;
  int64_t frame_index = 0;
  Severity severity = Severity::kWarning;
  double velocity_delta = 0;
  double acceleration_magnitude = 0;
  int64_t time_window_ms = 0;
  std::vector<int64_t> frame_indices;
  std::vector<double> velocity_history;
  std::vector<double> acceleration_history;
};
// nullopt when the deceleration is too mild for |thresholds| (never with the
// design's thresholds and the decelerations PlanReplay scripts).
std::optional<ExpectedAnomaly> ExpectAnomaly(const ScriptedDeceleration& d,
                                             const DecelerationThresholds& thresholds = {});

// Builds the plan. InvalidArgument when the options are out of range or the
// decelerations and faults do not fit the scenes.
weir::Result<ReplayPlan> PlanReplay(const ReplayOptions& options);

struct ReplayReport {
  uint64_t sent = 0;                  // records handed to the publisher
  uint64_t delivered = 0;             // acknowledged by the cluster
  uint64_t spooled = 0;               // in the publisher's durable spool
  uint64_t dropped_as_duplicate = 0;  // by the publisher's own dedup (publisher.dedup_ttl)
  uint64_t refused = 0;
  uint64_t failed = 0;
  std::vector<std::string> errors;  // the first few refusals and failures
  bool stopped = false;             // |stop| ended it early
  bool ok() const { return refused == 0 && failed == 0; }
};

// Publishes |plan| with |publisher| and waits for every outcome. |speed| 0
// sends as fast as the publisher takes them; otherwise ticks are paced at
// speed × the dataset's 10 Hz (1 = real time). Keep speed at 0 or >= 1: a
// frame held by the consumer's reorder buffer waits at most 1 s for the
// one it misses. Stops between ticks once |stop| is true.
ReplayReport RunReplay(const ReplayPlan& plan, weir::publish::Publisher& publisher, double speed,
                       const std::atomic<bool>* stop = nullptr);

}  // namespace fleetops
