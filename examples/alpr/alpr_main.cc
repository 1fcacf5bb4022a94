// weir-alpr — the ALPR reference system on weir (see alpr_system.h and
// README.md): `run` runs it end to end with a live summary, `search` finds
// stored plates, `alerts` lists the alert store.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "alpr_system.h"
#include "common/log.h"
#include "example_cli.h"
#include "weir/consume/dead_letter.h"
#include "weir/ops/cluster.h"
#include "weir/topology.h"

namespace {

namespace fs = std::filesystem;
using weir::examples::kExitBadInput;
using weir::examples::kExitFailed;
constexpr const char* kMarker = ".weir-alpr-data";

struct Common {
  std::string config = "examples/alpr/weir.yaml";
  std::string data;  // default: <weir.yaml folder>/.weir/alpr
};

std::string DataDir(const Common& c, const weir::Topology& topo) {
  if (!c.data.empty()) return c.data;
  return (fs::path(topo.folder) / ".weir" / "alpr").lexically_normal().string();
}

struct RunFlags {
  std::string bootstrap;
  bool keep_data = false;
  double duration_s = 0;
  double drain_timeout_s = 60;
  bool quiet = false;
  bool json = false;
  std::vector<std::string> roles;
  alpr::AlprOptions o;
};

// Waits up to |timeout| for SIGINT or SIGTERM (blocked in every thread).
int WaitSignal(const sigset_t& set, std::chrono::milliseconds timeout) {
  timespec ts{static_cast<time_t>(timeout.count() / 1000),
              static_cast<long>((timeout.count() % 1000) * 1'000'000)};
  const int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

nlohmann::json SnapshotJson(const alpr::Snapshot& s) {
  nlohmann::json groups = nlohmann::json::object();
  for (const alpr::GroupView& g : s.groups) {
    groups[g.group] = {{"handled", g.stats.handled},
                       {"retries", g.stats.retries},
                       {"dead_lettered", g.stats.dead_lettered},
                       {"duplicates", g.stats.duplicates},
                       {"lag", g.lag ? nlohmann::json(*g.lag) : nlohmann::json(nullptr)}};
  }
  const alpr::ProcessorStats& p = s.source.processor;
  return {{"uptime_s", s.uptime_s},
          {"source",
           {{"passes", p.passes},
            {"reads", p.reads},
            {"low_confidence", p.low_confidence},
            {"near_duplicates", p.near_duplicates},
            {"plate_events", s.source.plate_events},
            {"vehicle_events", s.source.vehicle_events},
            {"resent", s.source.resent},
            {"duplicates_dropped", s.source.duplicates_dropped},
            {"failed", s.source.failed},
            {"watchlist_plates", s.source.watchlist_plates},
            {"poison", s.source.poison},
            {"metric_events", s.source.metric_events}}},
          {"published_by_topic", s.published_by_topic},
          {"groups", groups},
          {"stored", s.stored},
          {"indexed", s.indexed},
          {"alerts", s.alerts},
          {"windows_emitted", s.windows_emitted},
          {"dlq_total", s.dlq_total},
          {"dlq_by_type", s.dlq_by_type},
          {"latency_ms",
           {{"p50", s.p50_ms},
            {"p95", s.p95_ms},
            {"p99", s.p99_ms},
            {"max", s.max_ms},
            {"samples", s.latency_samples}}}};
}

int Run(const Common& c, RunFlags& f) {
  auto topo = weir::LoadTopology(c.config);
  if (!topo.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", topo.status().message());
    return kExitBadInput;
  }
  f.o.data_dir = DataDir(c, *topo);
  // Each run starts from empty stores, state and (embedded) topics unless
  // --keep-data; only a folder this program made is emptied.
  std::error_code ec;
  if (!f.keep_data && fs::exists(f.o.data_dir, ec)) {
    if (!fs::exists(fs::path(f.o.data_dir) / kMarker, ec) && !fs::is_empty(f.o.data_dir, ec)) {
      fmt::print(stderr,
                 "weir-alpr: --data {}: the folder exists and was not made by weir-alpr; pass "
                 "--keep-data to use it as it is, or name another folder\n",
                 f.o.data_dir);
      return kExitBadInput;
    }
    fs::remove_all(f.o.data_dir, ec);
  }
  fs::create_directories(f.o.data_dir, ec);
  if (ec) {
    fmt::print(stderr, "weir-alpr: --data {}: {}\n", f.o.data_dir, ec.message());
    return kExitBadInput;
  }
  std::ofstream(fs::path(f.o.data_dir) / kMarker) << "weir-alpr run data\n";
  f.o.roles.insert(f.roles.begin(), f.roles.end());
  if (topo->cluster.embedded && f.bootstrap.empty()) {
    topo->cluster.embedded_data_dir = fs::absolute(fs::path(f.o.data_dir) / "broker").string();
  }

  // Stop signals are taken by the main thread only (blocked before any
  // thread starts, so every thread inherits the mask).
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  weir::ops::ConnectOptions copts;
  copts.bootstrap = f.bootstrap;
  copts.create_declared_topics = true;
  auto conn = weir::ops::ConnectCluster(*topo, copts);
  if (!conn.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", conn.status().ToString());
    return kExitFailed;
  }
  const std::string where =
      conn->embedded
          ? fmt::format("weir's embedded broker on {} (data in {})",
                        conn->config.Get("bootstrap.servers"), weir::ops::EmbeddedDataDir(*topo))
          : fmt::format("Kafka at {}", conn->config.Get("bootstrap.servers"));
  auto system = alpr::AlprSystem::Create(*topo, conn->config, f.o);
  if (!system.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", system.status().ToString());
    const weir::StatusCode code = system.status().code();
    return code == weir::StatusCode::kInvalidArgument || code == weir::StatusCode::kNotFound
               ? kExitBadInput
               : kExitFailed;
  }
  alpr::AlprSystem& sys = **system;
  if (weir::Status s = sys.Start(); !s.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", s.ToString());
    return kExitFailed;
  }
  const std::string title = fmt::format("ALPR on weir — {}", where);
  fmt::print(stderr, "weir-alpr: running on {}; data in {}; Ctrl-C stops\n", where, f.o.data_dir);
  for (const std::string& e : sys.Endpoints()) fmt::print(stderr, "  {}\n", e);

  const bool live = !f.quiet && isatty(STDOUT_FILENO) == 1;
  // Log lines would scroll the live screen away; what they report (dead
  // letters, retries) is on it.
  if (live) weir::log::Init("error");
  const auto started = std::chrono::steady_clock::now();
  alpr::Snapshot prev = sys.Take();
  auto last_line = started;
  bool interrupted = false;
  // Run until Ctrl-C, --duration or the source's --events.
  for (;;) {
    if (int sig = WaitSignal(stop, std::chrono::seconds(1)); sig != 0) {
      fmt::print(stderr, "\nweir-alpr: {} received; stopping the source and draining\n",
                 strsignal(sig));
      interrupted = true;
      break;
    }
    alpr::Snapshot now = sys.Take();
    if (live) {
      fmt::print("\x1b[H\x1b[2J{}\n", alpr::RenderSummary(now, &prev, sys.Endpoints(), title));
      std::fflush(stdout);
    } else if (!f.quiet &&
               std::chrono::steady_clock::now() - last_line >= std::chrono::seconds(5)) {
      last_line = std::chrono::steady_clock::now();
      fmt::print(
          stderr,
          "weir-alpr: {:.0f} s: {} plate events published, {} stored, {} alerts, {} dead letters\n",
          now.uptime_s, now.source.plate_events, now.stored, now.alerts, now.dlq_total);
    }
    prev = std::move(now);
    if (weir::Status e = sys.Error(); !e.ok()) {
      fmt::print(stderr, "weir-alpr: a consumer group stopped: {}\n", e.ToString());
      break;
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (sys.SourceDone() || (f.duration_s > 0 && elapsed >= f.duration_s)) break;
  }

  if (weir::Status s = sys.StopSource(); !s.ok()) {
    fmt::print(stderr, "weir-alpr: flushing the publisher: {}\n", s.ToString());
  }
  // Drain: every group finishes what was published (a second Ctrl-C skips it).
  const auto drain_deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(f.drain_timeout_s * 1000));
  bool drained = false;
  bool skipped = false;
  while (!(drained = sys.Drained()) && std::chrono::steady_clock::now() < drain_deadline &&
         sys.Error().ok()) {
    if (WaitSignal(stop, std::chrono::milliseconds(200)) != 0) {
      fmt::print(stderr, "weir-alpr: second signal; stopping without draining\n");
      skipped = true;
      break;
    }
  }
  alpr::Snapshot last = sys.Take();
  std::vector<std::string> problems;
  if (drained) problems = sys.Check();
  const weir::Status group_error = sys.Error();
  const weir::Status stopped = sys.Stop();
  if (f.json) {
    nlohmann::json j = SnapshotJson(last);
    j["drained"] = drained;
    j["problems"] = problems;
    fmt::print("{}\n", j.dump());
  } else {
    fmt::print("{}{}\n", live ? "\x1b[H\x1b[2J" : "\n",
               alpr::RenderSummary(last, nullptr, {}, title));
  }
  int rc = 0;
  if (!group_error.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", group_error.ToString());
    rc = kExitFailed;
  }
  if (!stopped.ok()) fmt::print(stderr, "weir-alpr: stopping: {}\n", stopped.ToString());
  if (!drained) {
    fmt::print(stderr,
               "weir-alpr: {}; the checks were not run (committed offsets keep the rest for "
               "the next run with --keep-data)\n",
               skipped ? "stopped without draining"
                       : fmt::format("not drained within {:.0f} s", f.drain_timeout_s));
    return interrupted ? rc : kExitFailed;
  }
  for (const std::string& p : problems) fmt::print(stderr, "weir-alpr: CHECK FAILED: {}\n", p);
  if (!problems.empty()) return kExitFailed;
  fmt::print(stderr,
             "weir-alpr: checks passed: every published plate event stored and indexed once, an "
             "alert for every watchlist plate, only the injected poison dead-lettered, camera "
             "counts equal to the published events\n");
  return rc;
}

std::optional<int64_t> ParseTime(const std::string& flag, const std::string& v) {
  if (v.empty()) return std::nullopt;
  auto t = weir::consume::ParseDlqTimestamp(v);
  if (!t) throw CLI::ValidationError(flag, "\"" + v + "\" is not an ISO-8601 UTC time");
  return t;
}

struct SearchFlags {
  std::string index;
  std::string plate;
  std::string camera;
  std::string from, to;
  double min_similarity = 0.7;
  size_t limit = 20;
  bool json = false;
};

int Search(const Common& c, const SearchFlags& f) {
  alpr::SearchQuery q;
  q.plate = f.plate;
  q.camera_id = f.camera;
  q.from_ms = ParseTime("--from", f.from);
  q.to_ms = ParseTime("--to", f.to);
  q.min_similarity = f.min_similarity;
  q.limit = f.limit;
  std::string target = f.index;
  if (target.empty()) {
    auto topo = weir::LoadTopology(c.config);
    if (!topo.ok()) {
      fmt::print(stderr, "weir-alpr: {}\n", topo.status().message());
      return kExitBadInput;
    }
    target = (fs::path(DataDir(c, *topo)) / "search.sqlite").string();
    if (!fs::exists(target)) {
      fmt::print(stderr,
                 "weir-alpr: no search index at {} (run `weir-alpr run` first, or pass --index)\n",
                 target);
      return kExitBadInput;
    }
  }
  auto index = alpr::SearchIndex::Open(target);
  if (!index.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", index.status().ToString());
    return kExitFailed;
  }
  auto hits = (*index)->Search(q);
  if (!hits.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", hits.status().ToString());
    return kExitFailed;
  }
  if (f.json) {
    for (const alpr::SearchHit& h : *hits) {
      fmt::print("{}\n", nlohmann::json{{"event_id", h.event_id},
                                        {"plate", h.plate},
                                        {"camera_id", h.camera_id},
                                        {"captured_at", h.captured_at},
                                        {"confidence", h.confidence},
                                        {"score", h.score}}
                             .dump());
    }
  } else {
    fmt::print("{:<12}{:<8}{:<10}{:<26}{:<6}{}\n", "plate", "score", "camera", "captured_at",
               "conf", "event_id");
    for (const alpr::SearchHit& h : *hits) {
      fmt::print("{:<12}{:<8.2f}{:<10}{:<26}{:<6.2f}{}\n", h.plate, h.score, h.camera_id,
                 h.captured_at, h.confidence, h.event_id);
    }
    fmt::print(stderr, "{} match(es) in {}\n", hits->size(), (*index)->Describe());
  }
  return 0;
}

int Alerts(const Common& c) {
  auto topo = weir::LoadTopology(c.config);
  if (!topo.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", topo.status().message());
    return kExitBadInput;
  }
  const std::string path = (fs::path(DataDir(c, *topo)) / "alerts.sqlite").string();
  if (!fs::exists(path)) {
    fmt::print(stderr, "weir-alpr: no alert store at {}\n", path);
    return kExitBadInput;
  }
  auto notifier = alpr::Notifier::Open("/dev/null");
  auto engine = alpr::AlertEngine::Open(path, alpr::Watchlist(), std::move(*notifier));
  if (!engine.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", engine.status().ToString());
    return kExitFailed;
  }
  auto all = (*engine)->Alerts();
  if (!all.ok()) {
    fmt::print(stderr, "weir-alpr: {}\n", all.status().ToString());
    return kExitFailed;
  }
  for (const alpr::Alert& a : *all) {
    fmt::print("{} {:<10} {} {:<26} {} {}\n", a.alert_id, a.plate, a.camera_id, a.captured_at,
               a.notified_at.empty() ? "NOT NOTIFIED" : "notified " + a.notified_at, a.reason);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  weir::log::Init("warn");
  Common c;
  CLI::App app{"weir-alpr: the ALPR reference system on weir (examples/alpr/README.md)"};
  app.add_option("-c,--config", c.config, "The ALPR topology")->capture_default_str();
  app.add_option("--data", c.data,
                 "Folder of the stores, state and embedded broker (default: .weir/alpr beside "
                 "weir.yaml)");
  app.require_subcommand(0, 1);

  RunFlags rf;
  rf.o.sim.cameras = 8;
  CLI::App* run = app.add_subcommand(
      "run",
      "Run the system end to end (the default): topics provisioned, camera simulator, every "
      "consumer, a live summary; checks the business outcomes after draining");
  run->fallthrough();  // --config and --data may follow the subcommand
  run->add_option("-b,--bootstrap", rf.bootstrap,
                  "Kafka cluster (host:port,...) instead of weir.yaml's");
  run->add_option("-d,--duration", rf.duration_s,
                  "Stop the source after this many seconds (0: at Ctrl-C or --events)")
      ->check(CLI::Range(0.0, 1e9));
  run->add_option("-n,--events", rf.o.max_events,
                  "Stop the source after this many events (0: no limit)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  run->add_option("-r,--rate", rf.o.rate,
                  "Events per second the cameras publish (0: as fast as possible)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e7));
  run->add_option("--cameras", rf.o.sim.cameras, "Number of cameras")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  run->add_option("--seed", rf.o.sim.seed, "Seed of the simulation")->capture_default_str();
  run->add_option("--store", rf.o.store,
                  "Plate store: a SQLite file or a postgresql:// URL (default DATA/plates.sqlite)");
  run->add_option(
      "--search-index", rf.o.search,
      "Search index: a SQLite file or an OpenSearch http(s):// URL (default DATA/search.sqlite)");
  run->add_option(
      "--notify", rf.o.notify,
      "Alert notifications: a webhook http(s):// URL or a file (default DATA/notifications.jsonl)");
  run->add_option("--watchlist", rf.o.watchlist,
                  "Watchlist file, PLATE[,reason] per line (default: the simulator's, written to "
                  "DATA/watchlist.txt)");
  run->add_option("--roles", rf.roles,
                  "Run only these roles: " + fmt::format("{}", fmt::join(alpr::AllRoles(), ", ")))
      ->delimiter(',');
  run->add_option("--dlq-listen", rf.o.dlq_listen, "DLQ monitor /metrics (\"off\" for none)")
      ->capture_default_str();
  run->add_option("--metrics-consumer-listen", rf.o.metrics_consumer_listen,
                  "Metrics consumer /metrics (\"off\" for none)")
      ->capture_default_str();
  run->add_option("--metrics-listen", rf.o.metrics_listen,
                  "weir's own /metrics: publisher and consumer groups (default weir.yaml "
                  "metrics.listen; \"off\")");
  run->add_option("--inject-poison", rf.o.inject_poison,
                  "Undecodable records to produce into alpr.events.plates at start (each group "
                  "dead-letters them)")
      ->capture_default_str()
      ->check(CLI::Range(0, 100000));
  run->add_option("--drain-timeout", rf.drain_timeout_s,
                  "Seconds to wait for the consumers to finish after the source stops")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
  run->add_flag("--keep-data", rf.keep_data,
                "Keep DATA from the last run instead of starting empty");
  run->add_flag("-q,--quiet", rf.quiet, "No live summary; the final one only");
  run->add_flag("--json", rf.json, "Print the final numbers as one JSON object (for benchmarks)");

  SearchFlags sf;
  CLI::App* search = app.add_subcommand(
      "search", "Search stored plate reads: fuzzy plate text, camera, time range");
  search->fallthrough();
  search->add_option("plate", sf.plate,
                     "Plate text in any form (\"abc-1234\", \"A8C1234\"); empty matches any");
  search->add_option("--index", sf.index,
                     "SQLite index file or OpenSearch URL (default DATA/search.sqlite)");
  search->add_option("--camera", sf.camera, "Only this camera");
  search->add_option("--from", sf.from, "Captured at or after (ISO-8601 UTC)");
  search->add_option("--to", sf.to, "Captured before (ISO-8601 UTC)");
  search->add_option("--min-similarity", sf.min_similarity, "Least similarity to the query, 0..1")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  search->add_option("--limit", sf.limit, "Most results")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  search->add_flag("--json", sf.json, "One JSON object per result");

  CLI::App* alerts = app.add_subcommand("alerts", "List the alert store of the last run");
  alerts->fallthrough();

  try {
    app.parse(argc, argv);
    if (*search) return Search(c, sf);
    if (*alerts) return Alerts(c);
    return Run(c, rf);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitBadInput;
  }
}
