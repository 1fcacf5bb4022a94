// weir-fleetops — the FleetOps system of the design
// (shared/seeds/fleetops-kafka-design.md) running on weir:
//
//   replay            synthetic scenes → raw_telemetry (keyed by vehicle_id)
//   anomaly-service   raw_telemetry → sudden-deceleration rule → anomalies
//   operator-service  anomalies → operator alerts (SQLite) ↔ operator_actions
//                     → operator_alerts
//   action            one operator action → operator_actions
//   alerts            the alert store, as the operator service left it
//   run               all of it in one process, with a summary: the
//                     example's one command
//
// On the embedded cluster (weir.yaml's default) the declared topics are
// created on first use; against a real cluster (-b or cluster.bootstrap)
// create them with `weir topics apply` first.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "anomaly_service.h"
#include "example_cli.h"
#include "fleetops_events.h"
#include "group_progress.h"
#include "operator_service.h"
#include "telemetry_replay.h"
#include "weir/kafka/admin.h"
#include "weir/publish/publisher.h"
#include "weir/topology.h"

namespace weir::examples {
namespace {

using fleetops::AlertStatus;
using fleetops::AlertStatusName;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr Program kProgram{
    .name = "weir-fleetops",
    .system = "fleetops",
    .config_help = "The FleetOps topology",
    .bootstrap_help = kBootstrapHelp,
};

// "<weir.yaml folder>/.weir/fleetops/<name>" unless |given|.
std::string StatePath(const weir::Topology& t, const std::string& given, const std::string& name) {
  return weir::examples::StatePath(t, kProgram.system, given, name);
}

struct ReplayArgs {
  fleetops::ReplayOptions options;
  double speed = 0;
  std::string script_path;
  std::string spool_dir;
};

void AddReplayOptions(CLI::App* cmd, ReplayArgs& a) {
  fleetops::ReplayOptions& o = a.options;
  cmd->add_option("--seed", o.seed, "Seed of the synthetic scenes and script")
      ->capture_default_str();
  cmd->add_option("--scenes", o.scenes, "Scenes")->capture_default_str();
  cmd->add_option("--tracks", o.tracks_per_scene, "Tracked vehicles per scene (plus one ego)")
      ->capture_default_str();
  cmd->add_option("--frames", o.frames_per_scene, "Frames per scene at 10 Hz (>= 150)")
      ->capture_default_str();
  cmd->add_option("--decelerations", o.decelerations, "Scripted sudden decelerations")
      ->capture_default_str();
  cmd->add_option("--duplicates", o.duplicates, "Frames sent twice (same event_id)")
      ->capture_default_str();
  cmd->add_option("--late-within", o.reorders_within,
                  "Frames sent 1-2 frames late (within the 2-frame reorder tolerance)")
      ->capture_default_str();
  cmd->add_option("--late-beyond", o.reorders_beyond,
                  "Frames sent 3-5 frames late (beyond the tolerance: dropped by the consumer)")
      ->capture_default_str();
  cmd->add_option("--first-scene", o.first_scene,
                  "Number of the first scene (scene_<n>); 0 = drawn per session");
  cmd->add_option("--session", o.session_id, "Replay session id; default random");
  cmd->add_option("--speed", a.speed,
                  "Pace: 0 = as fast as possible, 1 = the dataset's 10 Hz, 2 = twice that")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 10000.0));
  cmd->add_option("--script", a.script_path,
                  "Write the script (decelerations, faults) as JSON to this file ('-' = stdout)");
}

fleetops::ReplayPlan PlanOrThrow(const ReplayArgs& a) {
  auto plan = fleetops::PlanReplay(a.options);
  if (!plan.ok()) throw CommandError{kExitBadInput, plan.status().message()};
  if (!a.script_path.empty()) {
    const std::string text = plan->ScriptJson().dump(2) + "\n";
    if (a.script_path == "-") {
      fmt::print("{}", text);
    } else {
      std::ofstream out(a.script_path);
      out << text;
      if (!out) throw CommandError{kExitFailed, "cannot write " + a.script_path};
    }
  }
  return std::move(*plan);
}

void PrintScript(const fleetops::ReplayPlan& plan) {
  using fleetops::FaultKind;
  fmt::print(
      "replay {} (seed {}): {} vehicles in {} scenes, {} frames as {} records; faults: {} "
      "duplicates, {} late within the reorder tolerance, {} late beyond it\n",
      plan.session_id, plan.options.seed, plan.vehicles.size(), plan.options.scenes,
      plan.DistinctFrames(), plan.sends.size(), plan.CountFaults(FaultKind::kDuplicate),
      plan.CountFaults(FaultKind::kLateWithinTolerance),
      plan.CountFaults(FaultKind::kLateBeyondTolerance));
  fmt::print("scripted decelerations:\n");
  for (const fleetops::ScriptedDeceleration& d : plan.decelerations) {
    auto e = fleetops::ExpectAnomaly(d);
    fmt::print(
        "  {:<24} {:<10} frames {}..{} at {:.1f} m/s² from {:.2f} m/s -> expect {} at "
        "frame {}\n",
        d.vehicle_id, fleetops::DecelerationKindName(d.kind), d.start_frame + 1,
        d.start_frame + d.braking_frames, d.decel_ms2, d.speed_before_ms,
        e ? std::string(fleetops::SeverityName(e->severity)) : std::string("nothing"),
        e ? e->frame_index : -1);
  }
}

void PrintReplayReport(const fleetops::ReplayReport& r) {
  fmt::print(
      "replay: {} records sent: {} delivered, {} spooled, {} dropped by the publisher's "
      "dedup, {} refused, {} failed{}\n",
      r.sent, r.delivered, r.spooled, r.dropped_as_duplicate, r.refused, r.failed,
      r.stopped ? " (stopped early)" : "");
  for (const std::string& e : r.errors) fmt::print(stderr, "  {}\n", e);
}

std::string AnomalyLine(const json& a) {
  const json& ev = a["evidence"];
  return fmt::format(
      "anomaly {} {:<24} frame {:<4} {:<8} speed {:+.2f} m/s in {} ms, decel {:.2f} m/s²",
      a["anomaly_id"].get<std::string>().substr(0, 8), a["vehicle_id"].get<std::string>(),
      ev["frame_indices"].back().get<int64_t>(), a["severity"].get<std::string>(),
      a["features"]["velocity_delta"].get<double>(), a["features"]["time_window_ms"].get<int64_t>(),
      a["features"]["acceleration_magnitude"].get<double>());
}

std::string AlertLine(const json& e) {
  return fmt::format("alert   {} {:<24} {:<12} {:<8} operator={}", e["alert_id"].get<std::string>(),
                     e["vehicle_id"].get<std::string>(), e["alert_status"].get<std::string>(),
                     e["severity"].get<std::string>(),
                     e["assigned_operator_id"].is_null()
                         ? std::string("-")
                         : e["assigned_operator_id"].get<std::string>());
}

std::string RefusedLine(const fleetops::ActionRecord& r) {
  return fmt::format("refused {} {} of alert {} by {}: {}", r.action_id.substr(0, 8), r.action_type,
                     r.alert_id, r.operator_id, r.reason);
}

// Compares the anomalies found for |plan| with those its script implies;
// returns one line per difference.
std::vector<std::string> CheckAgainstScript(const fleetops::ReplayPlan& plan,
                                            const std::vector<json>& anomalies) {
  std::vector<std::string> problems;
  std::vector<bool> matched(anomalies.size(), false);
  auto near = [](double a, double b) {
    return std::abs(a - b) <= 1e-6 * std::max(1.0, std::abs(b));
  };
  for (const fleetops::ScriptedDeceleration& d : plan.decelerations) {
    const auto e = fleetops::ExpectAnomaly(d);
    if (!e) continue;
    bool found = false;
    for (size_t i = 0; i < anomalies.size() && !found; ++i) {
      const json& a = anomalies[i];
      if (matched[i] || a["vehicle_id"] != e->vehicle_id ||
          a["evidence"]["frame_indices"].back().get<int64_t>() != e->frame_index) {
        continue;
      }
      found = true;
      matched[i] = true;
      const auto vh = a["evidence"]["velocity_history"].get<std::vector<double>>();
      const auto ah = a["evidence"]["acceleration_history"].get<std::vector<double>>();
      bool same =
          a["severity"] == std::string(fleetops::SeverityName(e->severity)) &&
          a["evidence"]["frame_indices"].get<std::vector<int64_t>>() == e->frame_indices &&
          near(a["features"]["velocity_delta"].get<double>(), e->velocity_delta) &&
          near(a["features"]["acceleration_magnitude"].get<double>(), e->acceleration_magnitude) &&
          vh.size() == e->velocity_history.size() && ah.size() == e->acceleration_history.size();
      for (size_t k = 0; same && k < vh.size(); ++k) {
        same = near(vh[k], e->velocity_history[k]) && near(ah[k], e->acceleration_history[k]);
      }
      if (!same)
        problems.push_back(fmt::format("{} frame {}: evidence differs from the script: {}",
                                       e->vehicle_id, e->frame_index, a.dump()));
    }
    if (!found) {
      problems.push_back(fmt::format("{} frame {}: the scripted {} raised no anomaly",
                                     e->vehicle_id, e->frame_index,
                                     fleetops::DecelerationKindName(d.kind)));
    }
  }
  for (size_t i = 0; i < anomalies.size(); ++i) {
    if (!matched[i]) problems.push_back("not in the script: " + AnomalyLine(anomalies[i]));
  }
  return problems;
}

// Polls |pred| every 50 ms until it holds, |timeout| passes or |stop|.
bool WaitUntil(const std::function<bool()>& pred, milliseconds timeout,
               const std::atomic<bool>* stop) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline || (stop && stop->load())) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return true;
}

// --- replay -----------------------------------------------------------------

int ReplayCommand(const CommonOptions& c, const ReplayArgs& a) {
  Setup s = Connect(c);
  PrintCluster(s);
  fleetops::ReplayPlan plan = PlanOrThrow(a);
  PrintScript(plan);
  auto publisher = MakePublisher(s, StatePath(s.topology, a.spool_dir, "spool/replay"));
  StopWatch stop{seconds(0)};
  const fleetops::ReplayReport r = fleetops::RunReplay(plan, *publisher, a.speed, stop.flag());
  Check(publisher->Close(seconds(30)), "closing the publisher");
  PrintReplayReport(r);
  return r.ok() ? kExitOk : kExitFailed;
}

// --- anomaly-service ----------------------------------------------------------

int AnomalyServiceCommand(const CommonOptions& c, int duration_s, const std::string& spool_dir) {
  Setup s = Connect(c);
  PrintCluster(s);
  auto publisher = MakePublisher(s, StatePath(s.topology, spool_dir, "spool/anomaly-service"));
  fleetops::AnomalyServiceOptions options;
  options.on_anomaly = [](const json& a) { Say(AnomalyLine(a)); };
  auto svc = fleetops::AnomalyService::Create(s.topology, s.conn.config, publisher.get(), options);
  if (!svc.ok()) throw CommandError{kExitBadInput, svc.status().ToString()};
  Check((*svc)->Start(), "starting the anomaly service");
  fmt::print("anomaly service: group {} on raw_telemetry; Ctrl-C stops\n",
             fleetops::kAnomalyServiceGroup);
  std::fflush(stdout);
  StopWatch stop{seconds(duration_s)};
  while (!stop.stopped() && !(*svc)->runtime().WaitStopped(milliseconds(200))) {
  }
  const weir::Status stopped = (*svc)->Stop(seconds(30));
  const auto st = (*svc)->Stats();
  const auto gs = (*svc)->GroupStats();
  fmt::print(
      "anomaly service: {} records, {} frames to the rule, {} duplicates and {} late "
      "frames dropped, {} reordered, {} anomalies over {} vehicles\n",
      gs.received, st.frames, gs.duplicates, gs.late_dropped, gs.reordered, st.anomalies,
      st.vehicles);
  Check(stopped, "the anomaly service stopped");
  Check(publisher->Close(seconds(30)), "closing the publisher");
  return kExitOk;
}

// --- operator-service ---------------------------------------------------------

int OperatorServiceCommand(const CommonOptions& c, int duration_s, const std::string& db,
                           const std::string& spool_dir) {
  Setup s = Connect(c);
  PrintCluster(s);
  auto publisher = MakePublisher(s, StatePath(s.topology, spool_dir, "spool/operator-service"));
  fleetops::OperatorServiceOptions options;
  options.db_path = StatePath(s.topology, db, "alerts.sqlite");
  options.on_alert_event = [](const json& e) { Say(AlertLine(e)); };
  options.on_refused = [](const fleetops::ActionRecord& r) { Say(RefusedLine(r)); };
  auto svc = fleetops::OperatorService::Create(s.topology, s.conn.config, publisher.get(), options);
  if (!svc.ok()) throw CommandError{kExitBadInput, svc.status().ToString()};
  Check((*svc)->Start(), "starting the operator service");
  fmt::print(
      "operator service: groups {} (anomalies) and {} (operator_actions), alerts in {}; "
      "Ctrl-C stops\n",
      fleetops::kOperatorServiceGroup, fleetops::kOperatorActionsGroup, options.db_path);
  std::fflush(stdout);
  StopWatch stop{seconds(duration_s)};
  while (!stop.stopped() && (*svc)->Error().ok()) std::this_thread::sleep_for(milliseconds(200));
  const weir::Status error = (*svc)->Error();
  const weir::Status stopped = (*svc)->Stop(seconds(30));
  const auto st = (*svc)->Stats();
  fmt::print(
      "operator service: {} alerts opened, {} actions applied, {} refused, {} alert events "
      "published\n",
      st.alerts_opened, st.actions_applied, st.actions_refused, st.events_published);
  Check(error, "the operator service stopped");
  Check(stopped, "the operator service stopped");
  Check(publisher->Close(seconds(30)), "closing the publisher");
  return kExitOk;
}

// --- action -------------------------------------------------------------------

struct ActionArgs {
  fleetops::OperatorActionRequest request;
  std::string type;
  std::string db;
  std::string spool_dir;
};

int ActionCommand(const CommonOptions& c, ActionArgs& a) {
  auto type = fleetops::ParseActionType(a.type);
  if (!type) {
    throw CommandError{kExitBadInput, fmt::format("--type {}: expected ACKNOWLEDGE, RESOLVE, "
                                                  "DISMISS or INTERVENE",
                                                  a.type)};
  }
  a.request.type = *type;
  Setup s = Connect(c);
  if (a.request.vehicle_id.empty()) {
    // The operator service's store knows the alert's vehicle.
    const std::string db = StatePath(s.topology, a.db, "alerts.sqlite");
    if (!std::filesystem::exists(db)) {
      throw CommandError{kExitBadInput,
                         fmt::format("--vehicle is needed: there is no alert store at {}", db)};
    }
    auto store = fleetops::AlertStore::Open(db);
    if (!store.ok()) throw CommandError{kExitFailed, store.status().ToString()};
    auto alert = (*store)->FindAlert(a.request.alert_id);
    if (!alert.ok()) throw CommandError{kExitFailed, alert.status().ToString()};
    if (!*alert) {
      throw CommandError{kExitBadInput, fmt::format("--vehicle is needed: alert {} is not in {}",
                                                    a.request.alert_id, db)};
    }
    a.request.vehicle_id = (*alert)->vehicle_id;
  }
  auto publisher = MakePublisher(s, StatePath(s.topology, a.spool_dir, "spool/action"));
  const std::string event = fleetops::OperatorActionJson(a.request);
  const weir::publish::PublishResult r = publisher->Publish(fleetops::kOperatorAction, event);
  const weir::Status closed = publisher->Close(seconds(30));
  const std::string action_id = json::parse(event)["action_id"].get<std::string>();
  if (!r.accepted()) {
    throw CommandError{
        r.outcome == weir::publish::PublishOutcome::kRefused ? kExitBadInput : kExitFailed,
        fmt::format("action {} not sent: {}", action_id, r.status.ToString())};
  }
  std::string where;
  for (const auto& d : r.deliveries) {
    where += d.spooled ? fmt::format(" {} (spooled)", d.topic)
                       : fmt::format(" {}[{}]@{}", d.topic, d.partition.value(), d.offset.value());
  }
  fmt::print("action {} {} of alert {} (vehicle {}) by {}: {}{}\n", action_id,
             fleetops::ActionTypeName(a.request.type), a.request.alert_id, a.request.vehicle_id,
             a.request.operator_id, weir::publish::PublishOutcomeName(r.outcome), where);
  Check(closed, "closing the publisher");
  return kExitOk;
}

// --- alerts -------------------------------------------------------------------

int AlertsCommand(const CommonOptions& c, const std::string& db_arg, bool actions) {
  const std::string db = StatePath(LoadTopologyOrThrow(c), db_arg, "alerts.sqlite");
  if (!std::filesystem::exists(db)) throw CommandError{kExitBadInput, "no alert store at " + db};
  auto store = fleetops::AlertStore::Open(db);
  if (!store.ok()) throw CommandError{kExitFailed, store.status().ToString()};
  auto alerts = (*store)->Alerts();
  if (!alerts.ok()) throw CommandError{kExitFailed, alerts.status().ToString()};
  for (const fleetops::Alert& al : *alerts) {
    fmt::print("{} {:<24} {:<12} {:<8} operator={:<14} created {}\n", al.alert_id, al.vehicle_id,
               AlertStatusName(al.status), al.severity, al.assigned_operator_id.value_or("-"),
               al.created_at);
  }
  if (actions) {
    auto list = (*store)->Actions();
    if (!list.ok()) throw CommandError{kExitFailed, list.status().ToString()};
    for (const fleetops::ActionRecord& r : *list) {
      fmt::print("action {} {:<11} alert {} by {:<14} {} {} -> {}{}\n", r.action_id, r.action_type,
                 r.alert_id, r.operator_id, r.applied ? "applied" : "REFUSED", r.from_status,
                 r.to_status, r.applied ? "" : ": " + r.reason);
    }
  }
  return kExitOk;
}

// --- run ----------------------------------------------------------------------

struct RunArgs {
  ReplayArgs replay;
  int duration_s = 0;
  int timeout_s = 120;
  bool operator_demo = true;
  std::string db;
};

// The operators of `run`: real actions through operator_actions, each
// waiting (like a person at a console) until the alert shows the last one.
struct DemoCounts {
  int sent = 0;
  std::vector<std::string> problems;
};

DemoCounts OperatorDemo(weir::publish::Publisher& publisher, fleetops::AlertStore& store,
                        const std::vector<json>& anomalies, milliseconds timeout,
                        const std::atomic<bool>* stop) {
  using fleetops::ActionType;
  DemoCounts out;
  auto send = [&](const json& anomaly, ActionType type, const std::string& op,
                  const std::string& comment) {
    fleetops::OperatorActionRequest req;
    req.alert_id = fleetops::AlertIdFor(anomaly["anomaly_id"].get<std::string>());
    req.vehicle_id = anomaly["vehicle_id"].get<std::string>();
    req.operator_id = op;
    req.type = type;
    req.comment = comment;
    const std::string event = fleetops::OperatorActionJson(req);
    const auto r = publisher.Publish(fleetops::kOperatorAction, event);
    ++out.sent;
    if (!r.accepted()) out.problems.push_back("action not sent: " + r.status.ToString());
    return json::parse(event)["action_id"].get<std::string>();
  };
  auto status_is = [&](const json& anomaly, AlertStatus want) {
    return WaitUntil(
        [&] {
          auto a = store.FindAlert(fleetops::AlertIdFor(anomaly["anomaly_id"].get<std::string>()));
          return a.ok() && a->has_value() && (*a)->status == want;
        },
        timeout, stop);
  };
  bool tried_illegal = false;
  for (size_t i = 0; i < anomalies.size() && !(stop && stop->load()); ++i) {
    const json& a = anomalies[i];
    const std::string who = fmt::format("operator_{:03}", 1 + i % 3);
    bool ok = true;
    switch (i % 4) {
      case 0:
        send(a, ActionType::kAcknowledge, who, "Investigating anomaly");
        ok = status_is(a, AlertStatus::kAcknowledged);
        if (ok) {
          send(a, ActionType::kResolve, who, "Driver confirmed: emergency braking, no damage");
          ok = status_is(a, AlertStatus::kResolved);
        }
        break;
      case 1:
        send(a, ActionType::kDismiss, who, "Sensor glitch");
        ok = status_is(a, AlertStatus::kDismissed);
        if (ok && !tried_illegal) {
          // Resolving a dismissed alert is refused (alert_store.h).
          tried_illegal = true;
          const std::string id = send(a, ActionType::kResolve, who, "late resolve");
          ok = WaitUntil(
              [&] {
                auto acts = store.Actions();
                if (!acts.ok()) return false;
                for (const auto& r : *acts) {
                  if (r.action_id == id) return !r.applied;
                }
                return false;
              },
              timeout, stop);
        }
        break;
      case 2:
        send(a, ActionType::kAcknowledge, who, "Watching");
        ok = status_is(a, AlertStatus::kAcknowledged);
        break;
      default:
        break;  // left OPEN
    }
    if (!ok && !(stop && stop->load())) {
      out.problems.push_back(fmt::format("alert of {} did not reach the expected state",
                                         a["vehicle_id"].get<std::string>()));
    }
  }
  return out;
}

int RunCommand(const CommonOptions& c, const RunArgs& a) {
  Setup s = Connect(c);
  PrintCluster(s);
  fleetops::ReplayPlan plan = PlanOrThrow(a.replay);
  PrintScript(plan);
  std::fflush(stdout);
  StopWatch stop{seconds(a.duration_s)};
  const milliseconds timeout = seconds(a.timeout_s);

  auto publisher = MakePublisher(s, StatePath(s.topology, a.replay.spool_dir, "spool/run"));
  fleetops::AnomalyServiceOptions aopts;
  aopts.on_anomaly = [](const json& an) { Say(AnomalyLine(an)); };
  auto anomaly_svc =
      fleetops::AnomalyService::Create(s.topology, s.conn.config, publisher.get(), aopts);
  if (!anomaly_svc.ok()) throw CommandError{kExitBadInput, anomaly_svc.status().ToString()};
  fleetops::OperatorServiceOptions oopts;
  oopts.db_path = StatePath(s.topology, a.db, "alerts.sqlite");
  oopts.on_alert_event = [](const json& e) { Say(AlertLine(e)); };
  oopts.on_refused = [](const fleetops::ActionRecord& r) { Say(RefusedLine(r)); };
  auto operator_svc =
      fleetops::OperatorService::Create(s.topology, s.conn.config, publisher.get(), oopts);
  if (!operator_svc.ok()) throw CommandError{kExitBadInput, operator_svc.status().ToString()};
  Check((*anomaly_svc)->Start(), "starting the anomaly service");
  Check((*operator_svc)->Start(), "starting the operator service");

  const fleetops::ReplayReport replay =
      fleetops::RunReplay(plan, *publisher, a.replay.speed, stop.flag());
  PrintReplayReport(replay);
  std::fflush(stdout);

  auto admin = weir::kafka::Admin::Create(s.conn.config);
  if (!admin.ok()) throw CommandError{kExitFailed, admin.status().ToString()};
  std::vector<std::string> problems;
  auto wait_group = [&](const char* group, const char* topic) {
    weir::Status w = fleetops::WaitGroupCaughtUp(**admin, group, {topic}, timeout, stop.flag());
    if (!w.ok() && !stop.stopped()) problems.push_back(w.ToString());
    return w.ok();
  };
  bool processed = wait_group(fleetops::kAnomalyServiceGroup, "raw_telemetry") &&
                   wait_group(fleetops::kOperatorServiceGroup, "anomalies");

  // This replay's anomalies (an interrupted earlier run may leave frames
  // that are processed now; they are reported apart).
  std::set<std::string> plan_events;
  for (const fleetops::Vehicle& v : plan.vehicles) {
    for (const fleetops::VehicleFrame& f : v.frames) plan_events.insert(f.event_id);
  }
  std::vector<json> mine;
  size_t earlier = 0;
  for (const json& an : (*anomaly_svc)->Anomalies()) {
    if (plan_events.count(an["event_id"].get<std::string>()) != 0) {
      mine.push_back(an);
    } else {
      ++earlier;
    }
  }
  DemoCounts demo;
  if (processed && a.operator_demo && !stop.stopped()) {
    fmt::print(
        "operators at work: acknowledge+resolve, dismiss, acknowledge, leave open, in turn; "
        "one illegal RESOLVE of a dismissed alert\n");
    std::fflush(stdout);
    demo = OperatorDemo(*publisher, (*operator_svc)->store(), mine, timeout, stop.flag());
    for (const std::string& p : demo.problems) problems.push_back(p);
    processed = wait_group(fleetops::kOperatorActionsGroup, "operator_actions");
  }

  // Summary.
  const auto ast = (*anomaly_svc)->Stats();
  const auto ags = (*anomaly_svc)->GroupStats();
  const auto ost = (*operator_svc)->Stats();
  using fleetops::FaultKind;
  const size_t dups = plan.CountFaults(FaultKind::kDuplicate);
  const size_t within = plan.CountFaults(FaultKind::kLateWithinTolerance);
  const size_t beyond = plan.CountFaults(FaultKind::kLateBeyondTolerance);
  fmt::print("\n== FleetOps summary ==\n");
  fmt::print(
      "frames published      {} of {} records ({} frames, {} duplicates, {} late within "
      "tolerance, {} late beyond) — {} delivered, {} spooled, {} failed\n",
      replay.sent, plan.sends.size(), plan.DistinctFrames(), dups, within, beyond, replay.delivered,
      replay.spooled, replay.failed + replay.refused);
  fmt::print(
      "anomaly-service-group {} received, {} handled, {} duplicates dropped (dedup), {} "
      "late frames dropped (reorder), {} reordered\n",
      ags.received, ags.handled, ags.duplicates, ags.late_dropped, ags.reordered);
  fmt::print(
      "                      (a re-sent frame repeats a frame number already released, so "
      "the reorder buffer drops it as late before dedup sees it: {} + {} injected)\n",
      dups, beyond);
  std::map<std::string, std::vector<std::string>> by_vehicle;
  for (const json& an : mine) {
    by_vehicle[an["vehicle_id"].get<std::string>()].push_back(
        fmt::format("frame {} {}", an["evidence"]["frame_indices"].back().get<int64_t>(),
                    an["severity"].get<std::string>()));
  }
  fmt::print("anomalies             {} ({} from earlier replays)\n", mine.size(), earlier);
  for (const auto& [v, list] : by_vehicle) fmt::print("  {:<24} {}\n", v, fmt::join(list, ", "));
  std::map<AlertStatus, int> states;
  for (const json& an : mine) {
    auto alert = (*operator_svc)
                     ->store()
                     .FindAlert(fleetops::AlertIdFor(an["anomaly_id"].get<std::string>()));
    if (alert.ok() && alert->has_value()) ++states[(*alert)->status];
  }
  std::vector<std::string> state_text;
  for (AlertStatus st : fleetops::kAllAlertStatuses) {
    state_text.push_back(fmt::format("{} {}", states[st], AlertStatusName(st)));
  }
  fmt::print("alerts (this replay)  {}\n", fmt::join(state_text, ", "));
  fmt::print(
      "operator actions      {} sent, {} applied, {} refused; {} operator_alerts events "
      "published; alert store {}\n",
      demo.sent, ost.actions_applied, ost.actions_refused, ost.events_published, oopts.db_path);

  const bool complete = processed && !replay.stopped && !stop.stopped();
  if (complete) {
    for (const std::string& p : CheckAgainstScript(plan, mine)) problems.push_back(p);
    if (ags.late_dropped + ags.duplicates < dups + beyond) {
      problems.push_back(fmt::format("{} frames dropped, {} injected as duplicates or late",
                                     ags.late_dropped + ags.duplicates, dups + beyond));
    }
  }
  if (!replay.ok()) problems.push_back("the replay was not fully delivered");
  if (ast.stale_frames > 0)
    problems.push_back(fmt::format("{} frames out of order reached the rule", ast.stale_frames));

  const weir::Status e1 = (*anomaly_svc)->Stop(seconds(10));
  const weir::Status e2 = (*operator_svc)->Stop(seconds(10));
  const weir::Status e3 = publisher->Close(seconds(30));
  for (const weir::Status* e : {&e1, &e2, &e3}) {
    if (!e->ok()) problems.push_back(e->ToString());
  }
  if (!complete) {
    fmt::print("{}: not checked against the script\n",
               stop.stopped() || replay.stopped
                   ? "stopped before everything was processed"
                   : fmt::format("not everything was processed within {} s", a.timeout_s));
  } else if (problems.empty()) {
    fmt::print(
        "check                 anomalies match the script: {} of {} decelerations, with "
        "their evidence\n",
        mine.size(), plan.decelerations.size());
  }
  for (const std::string& p : problems) fmt::print(stderr, "problem: {}\n", p);
  return problems.empty() ? kExitOk : kExitFailed;
}

}  // namespace
}  // namespace weir::examples

int main(int argc, char** argv) {
  using namespace weir::examples;
  CommonOptions common;
  CLI::App app{
      "weir-fleetops: the FleetOps design on weir — telemetry replay, anomaly service, "
      "operator alerts and actions"};
  AddCommonOptions(app, kProgram, &common);

  ReplayArgs replay_args;
  CLI::App* replay = app.add_subcommand("replay", "Publish synthetic telemetry to raw_telemetry");
  AddReplayOptions(replay, replay_args);
  replay->add_option("--spool-dir", replay_args.spool_dir, "The publisher's spool");

  int duration_s = 0;
  std::string spool_dir, db;
  CLI::App* anomaly = app.add_subcommand(
      "anomaly-service", "Run the anomaly service (group anomaly-service-group) until Ctrl-C");
  anomaly->add_option("--duration", duration_s, "Stop after this many seconds (0 = Ctrl-C only)");
  anomaly->add_option("--spool-dir", spool_dir, "The publisher's spool");

  CLI::App* op = app.add_subcommand(
      "operator-service",
      "Run the operator service (groups operator-service-group, operator-actions-group)");
  op->add_option("--duration", duration_s, "Stop after this many seconds (0 = Ctrl-C only)");
  op->add_option("--db", db,
                 "The alert store (SQLite); default .weir/fleetops/alerts.sqlite "
                 "beside weir.yaml");
  op->add_option("--spool-dir", spool_dir, "The publisher's spool");

  ActionArgs action_args;
  CLI::App* action = app.add_subcommand("action", "Send one operator action to operator_actions");
  action->add_option("--alert-id", action_args.request.alert_id, "The alert")->required();
  action->add_option("--type", action_args.type, "ACKNOWLEDGE, RESOLVE, DISMISS or INTERVENE")
      ->required();
  action->add_option("--operator", action_args.request.operator_id, "Who acts")->required();
  action->add_option("--note,--comment", action_args.request.comment, "metadata.comment");
  action->add_option("--vehicle", action_args.request.vehicle_id,
                     "The alert's vehicle_id; default: read from the alert store (--db)");
  action->add_option("--db", action_args.db, "The alert store to find the vehicle in");
  action->add_option("--spool-dir", action_args.spool_dir, "The publisher's spool");

  bool list_actions = false;
  CLI::App* alerts = app.add_subcommand("alerts", "List the alerts of the alert store");
  alerts->add_option("--db", db, "The alert store");
  alerts->add_flag("--actions", list_actions, "Also list every operator action and its outcome");

  RunArgs run_args;
  CLI::App* run = app.add_subcommand(
      "run", "Everything in one process: services, replay, operators, summary (the one command)");
  AddReplayOptions(run, run_args.replay);
  run->add_option("--duration", run_args.duration_s,
                  "Stop after this many seconds, wherever it is (0 = run to the end)");
  run->add_option("--timeout", run_args.timeout_s,
                  "Give up waiting for a group to catch up after this many seconds")
      ->capture_default_str();
  run->add_option("--db", run_args.db, "The alert store");
  run->add_option("--spool-dir", run_args.replay.spool_dir, "The publisher's spool");
  bool no_operators = false;
  run->add_flag("--no-operators", no_operators, "Do not send the demo operator actions");

  return RunProgram(app, kProgram, common, argc, argv, [&] {
    if (replay->parsed()) return ReplayCommand(common, replay_args);
    if (anomaly->parsed()) return AnomalyServiceCommand(common, duration_s, spool_dir);
    if (op->parsed()) return OperatorServiceCommand(common, duration_s, db, spool_dir);
    if (action->parsed()) return ActionCommand(common, action_args);
    if (alerts->parsed()) return AlertsCommand(common, db, list_actions);
    run_args.operator_demo = !no_operators;
    return RunCommand(common, run_args);
  });
}
