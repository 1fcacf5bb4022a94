// cli/lag_command.cc — `weir lag`: committed offset, end offset, lag in
// records and seconds, and a Burrow status per partition and group.

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
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
  Print(Evaluate(**monitor, o), o, false);
  if (!o.watch) return;
  const bool tty = isatty(STDOUT_FILENO) == 1 && !o.json;
  const auto interval = std::chrono::milliseconds(static_cast<int64_t>(o.interval_s * 1000));
  for (;;) {
    timespec ts{static_cast<time_t>(interval.count() / 1000),
                static_cast<long>(interval.count() % 1000) * 1'000'000};
    if (sigtimedwait(&signals, nullptr, &ts) > 0) return;  // SIGINT or SIGTERM: done
    Refresh(**monitor);
    Print(Evaluate(**monitor, o), o, tty);
  }
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
