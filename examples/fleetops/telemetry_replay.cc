#include "telemetry_replay.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <numbers>
#include <random>
#include <thread>

#include "fleetops_events.h"
#include "weir/publish/publisher.h"

namespace fleetops {
namespace {

using weir::Status;

constexpr double kDt = 1.0 / kFrameRateHz;  // seconds per frame
// Normal driving keeps the speed within these bounds (m/s).
constexpr double kMinCruise = 8.0;
constexpr double kMaxCruise = 25.0;
// Before a scripted deceleration: kApproachFrames of straight driving that
// reaches the needed speed (accelerating at most kApproachAccel), then
// kCruiseFrames at constant speed up to and including start_frame.
constexpr int kApproachFrames = 50;
constexpr int kCruiseFrames = 6;
constexpr double kApproachAccel = 2.8;
// Scripted decelerations on one vehicle are at least this far apart, and
// this far from the ends of its track.
constexpr int kDecelSpacing = 100;
constexpr int kDecelLead = kApproachFrames + kCruiseFrames + 4;
constexpr int kDecelTail = 25;
// Faults on one vehicle are at least this far apart and from the track ends.
constexpr int kFaultSpacing = 8;
// Speed left after a deceleration, at least (m/s).
constexpr double kMinSpeedAfter = 2.5;

// Portable draws (the standard distributions differ between libraries).
double Uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * static_cast<double>(rng() >> 11) * 0x1.0p-53;
}
int64_t UniformInt(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

uint64_t HashString(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// The frame on which the rule fires for |d|: start_frame + k for the
// smallest k whose window has lost at least the threshold.
std::optional<int> TriggerOffset(const ScriptedDeceleration& d, const DecelerationThresholds& th) {
  if (d.decel_ms2 < th.decel_threshold_ms2) return std::nullopt;
  const int64_t window_frames = th.time_window_ms / kFrameIntervalMs;
  for (int k = 1; k <= d.braking_frames; ++k) {
    const double lost =
        d.decel_ms2 * kDt * static_cast<double>(std::min<int64_t>(k, window_frames));
    if (lost >= th.velocity_delta_threshold_ms) return k;
  }
  return std::nullopt;
}

// The speed the approach must reach for |d| to end above kMinSpeedAfter.
double NeededSpeed(const ScriptedDeceleration& d) {
  return kMinSpeedAfter + 0.5 + d.decel_ms2 * kDt * d.braking_frames;
}

struct TrackSpan {
  int64_t first = 0;
  int64_t last = 0;  // inclusive
};

// Integrates one vehicle's trajectory over |span|, following the scripted
// decelerations |decels| (sorted by start_frame) and otherwise driving in
// random segments of gentle acceleration and turning.
Status GenerateTrajectory(std::mt19937_64& rng, const TrackSpan& span,
                          std::vector<ScriptedDeceleration*>& decels, int64_t scene_start_ms,
                          Vehicle* v) {
  double speed = Uniform(rng, kMinCruise, kMaxCruise);
  double yaw = Uniform(rng, -std::numbers::pi, std::numbers::pi);
  double x = Uniform(rng, -200, 200), y = Uniform(rng, -200, 200);
  int seg_left = 0;
  double seg_accel = 0, seg_yaw_rate = 0;
  for (int64_t j = span.first; j <= span.last; ++j) {
    double accel = 0, yaw_rate = 0;
    if (j > span.first) {
      // Which part of a scripted deceleration frame j is in, if any.
      const ScriptedDeceleration* in = nullptr;
      for (ScriptedDeceleration* d : decels) {
        if (j >= d->start_frame - kApproachFrames - kCruiseFrames &&
            j <= d->start_frame + d->braking_frames + 2) {
          in = d;
        }
      }
      if (in != nullptr && j > in->start_frame + in->braking_frames) {
        accel = 0;  // two straight frames after the deceleration
      } else if (in != nullptr && j > in->start_frame) {
        accel = -in->decel_ms2;
      } else if (in != nullptr && j > in->start_frame - kCruiseFrames) {
        accel = 0;
      } else if (in != nullptr) {
        accel = std::clamp((NeededSpeed(*in) - speed) / kDt, 0.0, kApproachAccel);
      } else {
        if (seg_left == 0) {
          seg_left = static_cast<int>(UniformInt(rng, 10, 40));
          seg_accel = Uniform(rng, -1.2, 1.2);
          seg_yaw_rate = Uniform(rng, -0.08, 0.08);
        }
        --seg_left;
        accel = seg_accel;
        yaw_rate = seg_yaw_rate;
        if (speed < kMinCruise) {
          accel = 1.0;  // picking up speed again after a deceleration
        } else if (speed + accel * kDt > kMaxCruise || speed + accel * kDt < kMinCruise) {
          accel = 0;
        }
      }
      const double new_speed = speed + accel * kDt;
      const double mid_yaw = yaw + yaw_rate * kDt / 2;
      x += (speed + new_speed) / 2 * kDt * std::cos(mid_yaw);
      y += (speed + new_speed) / 2 * kDt * std::sin(mid_yaw);
      speed = new_speed;
      yaw += yaw_rate * kDt;
    }
    for (ScriptedDeceleration* d : decels) {
      if (j == d->start_frame) d->speed_before_ms = speed;
    }
    VehicleFrame f;
    f.frame_index = j;
    f.time_ms = scene_start_ms + j * kFrameIntervalMs;
    f.x = x;
    f.y = y;
    f.speed = speed;
    f.yaw = std::remainder(yaw, 2 * std::numbers::pi);
    f.yaw_rate = yaw_rate;
    f.accel = accel;
    f.vx = speed * std::cos(yaw);
    f.vy = speed * std::sin(yaw);
    const double lateral = speed * yaw_rate;  // centripetal
    f.ax = accel * std::cos(yaw) - lateral * std::sin(yaw);
    f.ay = accel * std::sin(yaw) + lateral * std::cos(yaw);
    f.accel_magnitude = std::hypot(accel, lateral);
    v->frames.push_back(std::move(f));
  }
  for (const ScriptedDeceleration* d : decels) {
    if (d->speed_before_ms - d->decel_ms2 * kDt * d->braking_frames < kMinSpeedAfter - 1e-9) {
      return Status::Internal(fmt::format("{}: the approach to frame {} reached {:.2f} m/s only",
                                          v->vehicle_id, d->start_frame, d->speed_before_ms));
    }
  }
  return Status::Ok();
}

}  // namespace

std::string_view DecelerationKindName(DecelerationKind k) {
  return k == DecelerationKind::kImpact ? "impact" : "hard_brake";
}

std::string_view FaultKindName(FaultKind k) {
  switch (k) {
    case FaultKind::kDuplicate:
      return "duplicate";
    case FaultKind::kLateWithinTolerance:
      return "late_within";
    case FaultKind::kLateBeyondTolerance:
      return "late_beyond";
  }
  return "?";
}

const VehicleFrame* Vehicle::Frame(int64_t frame_index) const {
  if (frames.empty()) return nullptr;
  const int64_t i = frame_index - frames.front().frame_index;
  if (i < 0 || i >= static_cast<int64_t>(frames.size())) return nullptr;
  return &frames[static_cast<size_t>(i)];
}

size_t ReplayPlan::DistinctFrames() const {
  size_t n = 0;
  for (const Vehicle& v : vehicles) n += v.frames.size();
  return n;
}

size_t ReplayPlan::CountFaults(FaultKind kind) const {
  return static_cast<size_t>(std::count_if(faults.begin(), faults.end(),
                                           [&](const ScriptedFault& f) { return f.kind == kind; }));
}

const Vehicle* ReplayPlan::FindVehicle(const std::string& vehicle_id) const {
  for (const Vehicle& v : vehicles) {
    if (v.vehicle_id == vehicle_id) return &v;
  }
  return nullptr;
}

std::string ReplayPlan::EventJson(const Send& send, const std::string& processing_time) const {
  const Vehicle& v = vehicles[send.vehicle];
  const VehicleFrame& f = v.frames[send.frame];
  nlohmann::ordered_json j = {
      {"event_id", f.event_id},
      {"vehicle_id", v.vehicle_id},
      {"scene_id", v.scene_id},
      {"track_id", v.track_id},
      {"event_time", FormatIso8601Ms(f.time_ms)},
      {"processing_time", processing_time},
      {"frame_index", f.frame_index},
      {"telemetry",
       {{"position", {{"x", f.x}, {"y", f.y}, {"z", 0.0}}},
        {"velocity", {{"x", f.vx}, {"y", f.vy}, {"z", 0.0}, {"magnitude", f.speed}}},
        {"acceleration", {{"x", f.ax}, {"y", f.ay}, {"z", 0.0}, {"magnitude", f.accel_magnitude}}},
        {"yaw", f.yaw},
        {"yaw_rate", f.yaw_rate},
        {"label_probability", v.label_probability},
        {"track_length", v.frames.size()}}},
      {"metadata", {{"replay_session_id", session_id}, {"replay_rate", kFrameRateHz}}},
  };
  return j.dump();
}

nlohmann::json ReplayPlan::ScriptJson() const {
  nlohmann::json decel = nlohmann::json::array();
  for (const ScriptedDeceleration& d : decelerations) {
    decel.push_back({{"vehicle_id", d.vehicle_id},
                     {"kind", std::string(DecelerationKindName(d.kind))},
                     {"start_frame", d.start_frame},
                     {"braking_frames", d.braking_frames},
                     {"decel_ms2", d.decel_ms2},
                     {"speed_before_ms", d.speed_before_ms}});
  }
  nlohmann::json faults_json = nlohmann::json::array();
  for (const ScriptedFault& f : faults) {
    faults_json.push_back({{"vehicle_id", f.vehicle_id},
                           {"frame_index", f.frame_index},
                           {"kind", std::string(FaultKindName(f.kind))},
                           {"delay_frames", f.delay_frames}});
  }
  return {{"seed", options.seed},          {"session_id", session_id},
          {"frame_rate_hz", kFrameRateHz}, {"vehicles", vehicles.size()},
          {"frames", DistinctFrames()},    {"records", sends.size()},
          {"decelerations", decel},        {"faults", faults_json}};
}

std::optional<ExpectedAnomaly> ExpectAnomaly(const ScriptedDeceleration& d,
                                             const DecelerationThresholds& th) {
  const std::optional<int> k = TriggerOffset(d, th);
  if (!k) return std::nullopt;
  const int64_t window_frames = th.time_window_ms / kFrameIntervalMs;
  ExpectedAnomaly e;
  e.vehicle_id = d.vehicle_id;
  e.frame_index = d.start_frame + *k;
  for (int64_t f = e.frame_index - window_frames; f <= e.frame_index; ++f) {
    const int64_t braking = std::max<int64_t>(0, f - d.start_frame);
    e.frame_indices.push_back(f);
    e.velocity_history.push_back(d.speed_before_ms -
                                 d.decel_ms2 * kDt * static_cast<double>(braking));
    e.acceleration_history.push_back(braking > 0 ? -d.decel_ms2 : 0.0);
  }
  e.velocity_delta = e.velocity_history.back() - e.velocity_history.front();
  e.acceleration_magnitude = d.decel_ms2;
  e.time_window_ms = window_frames * kFrameIntervalMs;
  e.severity = e.velocity_delta <= -2 * th.velocity_delta_threshold_ms ? Severity::kCritical
                                                                       : Severity::kWarning;
  return e;
}

weir::Result<ReplayPlan> PlanReplay(const ReplayOptions& o) {
  if (o.scenes < 1 || o.scenes > 1000 || o.tracks_per_scene < 0 || o.tracks_per_scene > 200 ||
      o.frames_per_scene < 150 || o.frames_per_scene > 1000000 || o.decelerations < 0 ||
      o.duplicates < 0 || o.reorders_within < 0 || o.reorders_beyond < 0 || o.first_scene < 0) {
    return weir::Status::InvalidArgument(
        "replay: scenes must be 1..1000, tracks per scene 0..200, frames per scene at least "
        "150, counts not negative");
  }
  ReplayPlan plan;
  plan.options = o;
  plan.session_id = o.session_id;
  if (plan.session_id.empty()) {
    std::random_device rd;
    plan.session_id = fmt::format("session_{:08x}{:08x}", rd(), rd());
  }
  std::mt19937_64 rng(o.seed);
  std::mt19937_64 id_rng(o.seed ^ HashString(plan.session_id));
  const int first_scene = o.first_scene > 0
                              ? o.first_scene
                              : static_cast<int>(100 + HashString(plan.session_id) % 9000);
  const int64_t frames = o.frames_per_scene;

  // Vehicles and the span of frames each one is tracked.
  std::vector<TrackSpan> spans;
  std::vector<int> scene_of;
  for (int s = 0; s < o.scenes; ++s) {
    const std::string scene_id = fmt::format("scene_{}", first_scene + s);
    Vehicle ego;
    ego.scene_id = scene_id;
    ego.vehicle_id = scene_id + "_ego";
    ego.ego = true;
    plan.vehicles.push_back(std::move(ego));
    spans.push_back({0, frames - 1});
    scene_of.push_back(s);
    std::vector<int64_t> ids;
    for (int t = 0; t < o.tracks_per_scene; ++t) {
      int64_t id = 0;
      do {
        id = UniformInt(rng, 1, 999);
      } while (std::find(ids.begin(), ids.end(), id) != ids.end());
      ids.push_back(id);
      Vehicle v;
      v.scene_id = scene_id;
      v.track_id = id;
      v.vehicle_id = fmt::format("{}_track_{}", scene_id, id);
      v.label_probability = std::round(Uniform(rng, 0.6, 0.99) * 1000) / 1000;
      const int64_t first = UniformInt(rng, 0, frames / 5);
      const int64_t min_len =
          std::min<int64_t>(frames - first, std::max<int64_t>(120, frames * 3 / 5));
      const int64_t len = UniformInt(rng, min_len, frames - first);
      plan.vehicles.push_back(std::move(v));
      spans.push_back({first, first + len - 1});
      scene_of.push_back(s);
    }
  }
  const size_t nv = plan.vehicles.size();

  // The deceleration script.
  std::vector<std::vector<size_t>> decels_of(nv);  // indices into plan.decelerations
  for (int i = 0; i < o.decelerations; ++i) {
    ScriptedDeceleration d;
    d.kind = i % 3 == 1 ? DecelerationKind::kImpact : DecelerationKind::kHardBrake;
    if (d.kind == DecelerationKind::kImpact) {
      d.decel_ms2 = Uniform(rng, 10.5, 14.0) * kFrameRateHz;  // 10.5-14 m/s in one frame
      d.braking_frames = 1;
    } else {
      // Away from the value where 4 frames of braking lose exactly 5 m/s,
      // so that the frame the rule fires on is never a rounding question.
      do {
        d.decel_ms2 = Uniform(rng, 10.6, 14.0);
      } while (std::abs(0.4 * d.decel_ms2 - 5.0) < 0.05);
      d.braking_frames =
          (0.4 * d.decel_ms2 >= 5.0 ? 4 : 5) + 1 + static_cast<int>(UniformInt(rng, 0, 3));
    }
    bool placed = false;
    for (int attempt = 0; attempt < 1000 && !placed; ++attempt) {
      const size_t v = static_cast<size_t>(UniformInt(rng, 0, static_cast<int64_t>(nv) - 1));
      const TrackSpan& sp = spans[v];
      if (sp.last - kDecelTail < sp.first + kDecelLead) continue;
      const int64_t s = UniformInt(rng, sp.first + kDecelLead, sp.last - kDecelTail);
      bool clash = false;
      for (size_t other : decels_of[v]) {
        clash |= std::abs(plan.decelerations[other].start_frame - s) < kDecelSpacing;
      }
      if (clash) continue;
      d.vehicle_id = plan.vehicles[v].vehicle_id;
      d.start_frame = s;
      decels_of[v].push_back(plan.decelerations.size());
      plan.decelerations.push_back(d);
      placed = true;
    }
    if (!placed) {
      return weir::Status::InvalidArgument(fmt::format(
          "replay: {} decelerations do not fit {} vehicles of {} frames (each needs {} frames "
          "and {} between two on one vehicle)",
          o.decelerations, nv, frames, kDecelLead + kDecelTail, kDecelSpacing));
    }
  }

  // Trajectories and event ids.
  for (size_t v = 0; v < nv; ++v) {
    std::vector<ScriptedDeceleration*> mine;
    for (size_t i : decels_of[v]) mine.push_back(&plan.decelerations[i]);
    std::sort(mine.begin(), mine.end(),
              [](const auto* a, const auto* b) { return a->start_frame < b->start_frame; });
    const int64_t scene_start = o.start_unix_ms + int64_t{3600000} * scene_of[v];
    WEIR_RETURN_IF_ERROR(GenerateTrajectory(rng, spans[v], mine, scene_start, &plan.vehicles[v]));
    for (VehicleFrame& f : plan.vehicles[v].frames) f.event_id = RandomUuid(id_rng);
  }

  // Faults: first on the frames the decelerations fire on, then anywhere.
  std::vector<std::vector<int64_t>> faults_of(nv);
  int left[3] = {o.duplicates, o.reorders_within, o.reorders_beyond};
  auto vehicle_index = [&](const std::string& id) {
    for (size_t v = 0; v < nv; ++v) {
      if (plan.vehicles[v].vehicle_id == id) return v;
    }
    return nv;
  };
  auto add_fault = [&](size_t v, int64_t frame, FaultKind kind) {
    ScriptedFault f;
    f.vehicle_id = plan.vehicles[v].vehicle_id;
    f.frame_index = frame;
    f.kind = kind;
    f.delay_frames = kind == FaultKind::kDuplicate ? static_cast<int>(UniformInt(rng, 0, 3))
                     : kind == FaultKind::kLateWithinTolerance
                         ? static_cast<int>(UniformInt(rng, 1, 2))
                         : static_cast<int>(UniformInt(rng, 3, 5));
    plan.faults.push_back(f);
    faults_of[v].push_back(frame);
    --left[static_cast<int>(kind)];
  };
  for (size_t i = 0; i < plan.decelerations.size(); ++i) {
    const ScriptedDeceleration& d = plan.decelerations[i];
    const FaultKind kind = i % 2 == 0 ? FaultKind::kDuplicate : FaultKind::kLateWithinTolerance;
    const std::optional<int> k = TriggerOffset(d, DecelerationThresholds{});
    if (left[static_cast<int>(kind)] == 0 || !k) continue;
    add_fault(vehicle_index(d.vehicle_id), d.start_frame + *k, kind);
  }
  for (FaultKind kind :
       {FaultKind::kDuplicate, FaultKind::kLateWithinTolerance, FaultKind::kLateBeyondTolerance}) {
    int attempts = 0;
    while (left[static_cast<int>(kind)] > 0) {
      if (++attempts > 100000) {
        return weir::Status::InvalidArgument(fmt::format(
            "replay: the {} faults do not fit the scenes (at most one per {} frames of a vehicle)",
            FaultKindName(kind), kFaultSpacing));
      }
      const size_t v = static_cast<size_t>(UniformInt(rng, 0, static_cast<int64_t>(nv) - 1));
      const TrackSpan& sp = spans[v];
      if (sp.last - kFaultSpacing < sp.first + kFaultSpacing) continue;
      const int64_t j = UniformInt(rng, sp.first + kFaultSpacing, sp.last - kFaultSpacing);
      bool clash = false;
      for (int64_t other : faults_of[v]) clash |= std::abs(other - j) < kFaultSpacing;
      if (kind == FaultKind::kLateBeyondTolerance) {
        // Keep frames the consumer will drop out of every rule window.
        for (size_t i : decels_of[v]) {
          const ScriptedDeceleration& d = plan.decelerations[i];
          clash |= j >= d.start_frame - 10 && j <= d.start_frame + d.braking_frames + 10;
        }
      }
      if (!clash) add_fault(v, j, kind);
    }
  }

  // The send order: tick by tick, all scenes side by side; a late frame goes
  // right after the frame it waits for, a duplicate right after the frame
  // it is delayed behind (or its original).
  std::map<std::pair<size_t, int64_t>, std::vector<std::pair<int64_t, bool>>> after;
  std::map<std::pair<size_t, int64_t>, bool> held_back;
  for (const ScriptedFault& f : plan.faults) {
    const size_t v = vehicle_index(f.vehicle_id);
    after[{v, f.frame_index + f.delay_frames}].push_back(
        {f.frame_index, f.kind == FaultKind::kDuplicate});
    if (f.kind != FaultKind::kDuplicate) held_back[{v, f.frame_index}] = true;
  }
  for (int64_t tick = 0; tick < frames; ++tick) {
    for (size_t v = 0; v < nv; ++v) {
      const Vehicle& veh = plan.vehicles[v];
      if (veh.Frame(tick) == nullptr) continue;
      const size_t base = static_cast<size_t>(veh.frames.front().frame_index);
      if (held_back.count({v, tick}) == 0) {
        plan.sends.push_back({v, static_cast<size_t>(tick) - base, tick, false});
      }
      auto it = after.find({v, tick});
      if (it == after.end()) continue;
      for (const auto& [frame, duplicate] : it->second) {
        plan.sends.push_back({v, static_cast<size_t>(frame) - base, tick, duplicate});
      }
    }
  }
  return plan;
}

ReplayReport RunReplay(const ReplayPlan& plan, weir::publish::Publisher& publisher, double speed,
                       const std::atomic<bool>* stop) {
  std::mutex mu;
  std::condition_variable cv;
  ReplayReport report;
  uint64_t done = 0;
  // The bytes first sent for frames that are sent again, so that the
  // duplicate is the same event, processing_time included.
  std::map<std::pair<size_t, size_t>, std::string> sent_json;
  std::map<std::pair<size_t, size_t>, bool> resent;
  for (const Send& s : plan.sends) {
    if (s.duplicate) resent[{s.vehicle, s.frame}] = true;
  }
  const auto start = std::chrono::steady_clock::now();
  int64_t tick = -1;
  for (const Send& s : plan.sends) {
    if (s.tick != tick) {
      if (stop != nullptr && stop->load()) {
        report.stopped = true;
        break;
      }
      tick = s.tick;
      if (speed > 0) {
        std::this_thread::sleep_until(
            start + std::chrono::microseconds(static_cast<int64_t>(
                        static_cast<double>(tick * kFrameIntervalMs) * 1000.0 / speed)));
      }
    }
    std::string json;
    const std::pair<size_t, size_t> id{s.vehicle, s.frame};
    if (s.duplicate) {
      json = sent_json[id];
    } else {
      json = plan.EventJson(s, NowIso8601());
      if (resent.count(id) != 0) sent_json[id] = json;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      ++report.sent;
    }
    publisher.PublishAsync(kRawTelemetryEvent, json, [&](weir::publish::PublishResult r) {
      std::lock_guard<std::mutex> lock(mu);
      switch (r.outcome) {
        case weir::publish::PublishOutcome::kDelivered:
          ++report.delivered;
          break;
        case weir::publish::PublishOutcome::kSpooled:
          ++report.spooled;
          break;
        case weir::publish::PublishOutcome::kDuplicate:
          ++report.dropped_as_duplicate;
          break;
        case weir::publish::PublishOutcome::kRefused:
          ++report.refused;
          break;
        case weir::publish::PublishOutcome::kFailed:
          ++report.failed;
          break;
      }
      if (!r.status.ok() && report.errors.size() < 5) report.errors.push_back(r.status.ToString());
      ++done;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done == report.sent; });
  return report;
}

}  // namespace fleetops
