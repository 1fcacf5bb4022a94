// cli/lag_command.cc — `weir lag`: committed offset, end offset, lag in
// records and seconds, and a Burrow status per partition and group.

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "weir/http/server.h"
#include "weir/observe/metrics.h"
#include "weir/ops/lag.h"

namespace weir::cli {
namespace {

struct LagOptions {
  std::vector<std::string> groups;
  bool watch = false;
  double interval_s = 5;
  bool json = false;
  int intervals = 10;
  double min_distance_s = 1;
  std::string listen;
};

// The latest evaluation as Prometheus gauges (with --watch --listen),
// statuses as Burrow's numeric codes.
class LagGauges {
 public:
  void Set(std::vector<ops::GroupLag> groups) {
    std::lock_guard lock(mu_);
    groups_ = std::move(groups);
  }
  void Collect(observe::Scrape& s) const {
    std::lock_guard lock(mu_);
    for (const ops::GroupLag& g : groups_) {
      const observe::Labels gl = {{"consumer_group", g.group}};
      s.Gauge("lag_status",
              "Burrow status of a consumer group: 1 OK, 2 WARN, 3 ERR (weir lag, docs/lag.md)", gl,
              static_cast<double>(g.status));
      s.Gauge("lag_total_records", "Records a consumer group is behind, all partitions", gl,
              static_cast<double>(g.total_lag));
      for (const ops::PartitionLag& p : g.partitions) {
        const observe::Labels pl = {{"consumer_group", g.group},
                                    {"topic", p.topic},
                                    {"partition", std::to_string(p.partition)}};
        s.Gauge("lag_partition_status",
                "Burrow status of a partition: 1 OK, 2 WARN, 4 STOP, 5 STALL, 6 REWIND", pl,
                static_cast<double>(p.status));
        s.Gauge("lag_records", "Records a partition's consumer group is behind", pl,
                static_cast<double>(p.lag));
        if (p.lag_seconds) {
          s.Gauge("lag_seconds_estimate",
                  "Lag divided by the rate the group committed through over the window", pl,
                  *p.lag_seconds);
        }
      }
    }
  }

 private:
  mutable std::mutex mu_;
  std::vector<ops::GroupLag> groups_;
};

std::string Seconds(const std::optional<double>& s) {
  if (!s) return "-";
  if (*s < 10) return fmt::format("{:.1f}", *s);
  return fmt::format("{:.0f}", *s);
}

nlohmann::json ToJson(const ops::GroupLag& g) {
  nlohmann::json j = {{"group", g.group},
                      {"status", ops::LagStatusName(g.status)},
                      {"complete", g.complete},
                      {"total_lag", g.total_lag},
                      {"partitions", nlohmann::json::array()}};
  for (const ops::PartitionLag& p : g.partitions) {
    nlohmann::json pj = {{"topic", p.topic},
                         {"partition", p.partition},
                         {"status", ops::LagStatusName(p.status)},
                         {"committed_offset", p.committed},
                         {"end_offset", p.end_offset},
                         {"lag", p.lag},
                         {"lag_seconds", nullptr},
                         {"complete", p.complete},
                         {"window", nlohmann::json::array()}};
    if (p.lag_seconds) pj["lag_seconds"] = *p.lag_seconds;
    for (const ops::LagSample& s : p.window) {
      pj["window"].push_back(
          {{"offset", s.offset}, {"timestamp_ms", s.timestamp_ms}, {"lag", s.lag}});
    }
    j["partitions"].push_back(std::move(pj));
  }
  return j;
}

std::string ToTable(const std::vector<ops::GroupLag>& groups) {
  std::string out;
  for (const ops::GroupLag& g : groups) {
    const ops::PartitionLag* max = g.MaxLag();
    out += fmt::format("GROUP {}  {}  total lag {}  partitions {}  complete {:.0f}%", g.group,
                       ops::LagStatusName(g.status), g.total_lag, g.partitions.size(),
                       g.complete * 100);
    if (max != nullptr && max->lag > 0) {
      out += fmt::format("  max lag {}-{} ({})", max->topic, max->partition, max->lag);
    }
    out += "\n";
    out += fmt::format("  {:<32} {:>9} {:>12} {:>12} {:>10} {:>8}  {}\n", "TOPIC", "PARTITION",
                       "COMMITTED", "END", "LAG", "LAG_S", "STATUS");
    for (const ops::PartitionLag& p : g.partitions) {
      out += fmt::format("  {:<32} {:>9} {:>12} {:>12} {:>10} {:>8}  {}\n", p.topic, p.partition,
                         p.committed, p.end_offset, p.lag, Seconds(p.lag_seconds),
                         ops::LagStatusName(p.status));
    }
  }
  return out;
}

// One evaluation of the wanted groups; throws CliError for a --group that
// has no commits.
std::vector<ops::GroupLag> Evaluate(ops::LagMonitor& monitor, const LagOptions& o) {
  std::vector<std::string> names = o.groups;
  if (names.empty()) names = monitor.Groups();
  std::vector<ops::GroupLag> out;
  for (const std::string& name : names) {
    auto g = monitor.Evaluate(name);
    if (!g) {
      if (o.groups.empty()) continue;  // expired since listed
      throw CliError{kExitBadInput, fmt::format("--group {}: no offset commits of this group in "
                                                "__consumer_offsets (within the last 7 days)",
                                                name)};
    }
    out.push_back(std::move(*g));
  }
  return out;
}

void Refresh(ops::LagMonitor& monitor) {
  if (Status s = monitor.RefreshEndOffsets(); !s.ok()) {
    throw CliError{ExitCodeFor(s), fmt::format("reading end offsets: {}", s.ToString())};
  }
  auto read = monitor.ReadCommits();
  if (!read.ok()) {
    throw CliError{ExitCodeFor(read.status()),
                   fmt::format("reading commits: {}", read.status().ToString())};
  }
}

void Print(const std::vector<ops::GroupLag>& groups, const LagOptions& o, bool clear) {
  if (o.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const ops::GroupLag& g : groups) j.push_back(ToJson(g));
    std::cout << j.dump() << "\n";
  } else {
    if (clear) std::cout << "\x1b[H\x1b[2J";
    if (groups.empty()) std::cout << "no consumer group has committed offsets\n";
    std::cout << ToTable(groups);
  }
  std::cout.flush();
}

void RunLag(const GlobalOptions& g, const LagOptions& o) {
  if (o.interval_s <= 0) throw CliError{kExitBadInput, "--interval: must be > 0 seconds"};
  if (o.intervals < 2) throw CliError{kExitBadInput, "--intervals: must be at least 2"};
  if (o.min_distance_s < 0) throw CliError{kExitBadInput, "--min-distance: must be >= 0"};
  if (!o.listen.empty() && !o.watch) throw CliError{kExitBadInput, "--listen needs --watch"};
  // With --watch, signals are blocked before any client thread starts (see
  // BlockStopSignals); a one-shot run keeps the default Ctrl-C.
  sigset_t signals;
  sigemptyset(&signals);
  if (o.watch) signals = BlockStopSignals();
  Topology topo = LoadTopologyOrDie(g);
  ops::ClusterConnection conn = ConnectOrDie(g, topo);
  ops::LagRules rules;
  rules.intervals = o.intervals;
  rules.min_distance = std::chrono::milliseconds(static_cast<int64_t>(o.min_distance_s * 1000));
  auto monitor = ops::LagMonitor::Create(conn.config, rules);
  if (!monitor.ok()) throw CliError{ExitCodeFor(monitor.status()), monitor.status().ToString()};
  Refresh(**monitor);
  LagGauges gauges;
  std::vector<ops::GroupLag> groups = Evaluate(**monitor, o);
  Print(groups, o, false);
  if (!o.watch) return;
  gauges.Set(std::move(groups));
  observe::Registry metrics(topo.metrics.prefix);
  std::unique_ptr<http::Server> server;
  if (!o.listen.empty()) {
    metrics.AddCollector([&gauges](observe::Scrape& s) { gauges.Collect(s); });
    http::ServerOptions so;
    so.listen = o.listen;
    auto started = http::Server::Start(so, nullptr, nullptr, &metrics);
    if (!started.ok()) {
      throw CliError{ExitCodeFor(started.status()),
                     fmt::format("--listen: {}", started.status().ToString())};
    }
    server = std::move(started).value();
    std::cerr << fmt::format("weir lag: metrics on http://{}/metrics\n", server->address());
  }
  const bool tty = isatty(STDOUT_FILENO) == 1 && !o.json;
  const auto interval = std::chrono::milliseconds(static_cast<int64_t>(o.interval_s * 1000));
  for (;;) {
    timespec ts{static_cast<time_t>(interval.count() / 1000),
                static_cast<long>(interval.count() % 1000) * 1'000'000};
    if (sigtimedwait(&signals, nullptr, &ts) > 0) break;  // SIGINT or SIGTERM: done
    try {
      Refresh(**monitor);
    } catch (const CliError& e) {  // a broker restart, say: keep watching
      std::cerr << fmt::format("weir lag: {}; retrying in {} s\n", e.message, o.interval_s);
      continue;
    }
    groups = Evaluate(**monitor, o);
    Print(groups, o, tty);
    gauges.Set(std::move(groups));
  }
  if (server) server->Stop();
}

}  // namespace

void RegisterLagCommand(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<LagOptions>();
  CLI::App* lag = app.add_subcommand(
      "lag",
      "Show consumer lag per group and partition — committed offset, end offset, lag in records "
      "and estimated seconds — with a status (OK, WARN, ERR; per partition OK, WARN, STOP, STALL, "
      "REWIND) evaluated by Burrow's rules over a sliding window of commits read from "
      "__consumer_offsets (docs/lag.md)");
  lag->add_option("--group", o->groups, "Only this group (repeatable); default: every group");
  lag->add_flag("--watch", o->watch,
                "Keep running: refresh every --interval until SIGINT or SIGTERM (WARN needs this: "
                "it compares lags measured at different times)");
  lag->add_option("--interval", o->interval_s, "Seconds between refreshes with --watch")
      ->capture_default_str();
  lag->add_option("--listen", o->listen,
                  "With --watch: serve the latest evaluation on GET /metrics at host:port "
                  "(lag_status, lag_partition_status, lag_records, ...; docs/lag.md)");
  lag->add_flag("--json", o->json, "One JSON array per evaluation instead of a table");
  lag->add_option("--intervals", o->intervals,
                  "Commits kept per partition (the window; Burrow's storage intervals)")
      ->capture_default_str();
  lag->add_option("--min-distance", o->min_distance_s,
                  "Seconds: a commit closer than this to the previous one replaces it (Burrow's "
                  "min-distance)")
      ->capture_default_str();
  lag->callback([&g, o] { RunLag(g, *o); });
}

}  // namespace weir::cli
