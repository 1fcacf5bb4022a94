// cli/migrate_command.cc — `weir migrate`: the steps of a topic migration
// (weir/ops/migration.h), each printing its checks and sub-steps as they
// happen, and `status`.

#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "weir/consume/dead_letter.h"
#include "weir/ops/migration.h"

namespace weir::cli {
namespace {

using nlohmann::json;

struct MigrateOptions {
  std::string from, to, name;
  std::string window = "7d";
  std::string wait = "5m";
  std::vector<std::string> groups;
  bool keep_old_topic = false;
  bool json = false;
};

std::string UtcTime(int64_t ms) { return ms <= 0 ? "-" : consume::FormatDlqTimestamp(ms); }

std::chrono::milliseconds DurationOrDie(const std::string& option, const std::string& text) {
  auto ms = ParseDurationMs(text);
  if (!ms || *ms < 0) {
    throw CliError{kExitBadInput,
                   fmt::format("{} {}: invalid duration (expected a number with a unit: ms, s, m, "
                               "h, d, w)",
                               option, text)};
  }
  return std::chrono::milliseconds(*ms);
}

// The Migrator with the cluster connection it uses (which may serve the
// embedded broker for as long as it lives).
struct Session {
  ops::ClusterConnection conn;
  std::unique_ptr<ops::Migrator> migrator;
  ops::Migrator* operator->() { return migrator.get(); }
  ops::Migrator& operator*() { return *migrator; }
};

Session OpenOrDie(const GlobalOptions& g, const MigrateOptions& o, bool create) {
  Topology topo = LoadTopologyOrDie(g);
  Session s;
  s.conn = ConnectOrDie(g, topo);
  ops::MigrationOptions mo;
  mo.wait = DurationOrDie("--wait", o.wait);
  if (!o.json) {
    mo.progress = [](const std::string& line) { std::cout << line << std::endl; };
  }
  auto m = ops::Migrator::Open(topo, s.conn.config, std::move(mo), create);
  if (!m.ok()) throw CliError{ExitCodeFor(m.status()), m.status().ToString()};
  s.migrator = std::move(*m);
  return s;
}

json StateJson(const migrate::State& s) { return json::parse(migrate::StateToJson(s)); }

// Prints the outcome of a step, or throws CliError naming the step.
void Finish(const std::string& step, const Result<migrate::State>& r, const MigrateOptions& o) {
  if (!r.ok()) {
    std::string message = fmt::format("migrate {}: {}", step, r.status().message());
    if (r.status().code() == StatusCode::kTimeout) {
      message += fmt::format("\nre-run `weir migrate {} {}` to continue", step,
                             o.name.empty() ? "NAME" : o.name);
    }
    throw CliError{ExitCodeFor(r.status()), message};
  }
  if (o.json) {
    std::cout << StateJson(*r).dump(2) << "\n";
    return;
  }
  std::cout << fmt::format("migration {}: stage {} (version {}); next: {}\n", r->name,
                           migrate::StageName(r->stage), r->version, ops::NextCommands(r->stage));
}

std::string Offsets(const std::vector<int64_t>& v) {
  std::string out;
  for (size_t p = 0; p < v.size(); ++p) {
    out += fmt::format("{}{}:{}", p == 0 ? "" : " ", p, v[p] < 0 ? "-" : std::to_string(v[p]));
  }
  return out;
}

void PrintStatus(const ops::MigrationStatus& st, bool as_json) {
  const migrate::State& s = st.state;
  if (as_json) {
    json j = StateJson(s);
    j["participants"] = json::array();
    for (const migrate::Ack& a : st.participants) {
      auto it = a.applied.find(s.name);
      j["participants"].push_back({{"id", a.id},
                                   {"role", a.role},
                                   {"group", a.group},
                                   {"applied", it == a.applied.end() ? 0 : it->second},
                                   {"spool_records", a.spool_records},
                                   {"error", a.error}});
    }
    j["groups"] = json::array();
    for (const ops::GroupProgress& g : st.groups) {
      json topics = json::array();
      for (const ops::TopicProgress& t : g.topics) {
        topics.push_back(
            {{"topic", t.topic}, {"committed", t.committed}, {"end", t.end}, {"lag", t.lag}});
      }
      j["groups"].push_back(
          {{"group", g.group}, {"moved", g.moved}, {"reads", g.reads}, {"topics", topics}});
    }
    j["next"] = st.next;
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::cout << fmt::format("migration {}: {} -> {}\n", s.name, s.from, s.to);
  std::cout << fmt::format("stage      {} (version {}, by {} at {})\n", migrate::StageName(s.stage),
                           s.version, s.updated_by, UtcTime(s.updated_at_ms));
  if (s.stage == migrate::Stage::kCutover) {
    std::cout << fmt::format("window     rollback possible until {}\n",
                             UtcTime(s.cutover_at_ms + s.window_ms));
  }
  std::cout << fmt::format("types      {}\n", fmt::join(s.event_types, ", "));
  std::cout << "history\n";
  for (const migrate::HistoryEntry& h : s.history) {
    std::cout << fmt::format("  v{:<3} {:<17} {}  {}  {}\n", h.version, h.stage, UtcTime(h.at_ms),
                             h.by, h.note);
  }
  std::cout << "processes\n";
  if (st.participants.empty()) std::cout << "  (none live)\n";
  for (const migrate::Ack& a : st.participants) {
    auto it = a.applied.find(s.name);
    std::cout << fmt::format(
        "  {:<9} {:<24} v{}{}{}  {}\n", a.role, a.group, it == a.applied.end() ? 0 : it->second,
        a.role == "publisher" ? fmt::format(", spool {}", a.spool_records) : "",
        a.error.empty() ? "" : ", error: " + a.error, a.id);
  }
  std::cout << "groups\n";
  for (const ops::GroupProgress& g : st.groups) {
    std::cout << fmt::format("  {} reads {}{}\n", g.group, fmt::join(g.reads, " + "),
                             g.moved ? " (moved)" : "");
    for (const ops::TopicProgress& t : g.topics) {
      std::cout << fmt::format("    {:<28} lag {:<8} committed {}  end {}\n", t.topic, t.lag,
                               Offsets(t.committed), Offsets(t.end));
    }
  }
  std::cout << fmt::format("next       {}\n", st.next);
}

}  // namespace

void RegisterMigrateCommands(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<MigrateOptions>();
  CLI::App* mig = app.add_subcommand(
      "migrate",
      "Move the events of a topic to another topic while publishers and consumer groups keep "
      "running: plan, start (dual-publish), dual-subscribe, cutover, rollback, cleanup. The state "
      "lives on the cluster (topic __weir_migrations) and every weir Publisher and consumer group "
      "follows it; each step records its sub-steps, so running a step again continues it "
      "(docs/design/migration.md)");
  mig->require_subcommand(1);

  auto add_wait = [o](CLI::App* cmd) {
    cmd->add_option("--wait", o->wait,
                    "How long to wait for live processes to apply a change and for groups to "
                    "drain (e.g. 30s, 5m); when it expires the state stays where it is and the "
                    "step exits 1: run it again to continue")
        ->capture_default_str();
    cmd->add_flag("--json", o->json, "Print the resulting state as JSON instead of progress lines");
  };
  auto step = [&g, o, mig, add_wait](
                  const char* name, const char* help,
                  std::function<Result<migrate::State>(ops::Migrator&, const MigrateOptions&)> fn) {
    CLI::App* cmd = mig->add_subcommand(name, help);
    cmd->add_option("NAME", o->name, "The migration's name (see `weir migrate status`)")
        ->required();
    add_wait(cmd);
    return std::make_pair(cmd, [&g, o, name, fn] {
      auto m = OpenOrDie(g, *o, false);
      Finish(name, fn(*m, *o), *o);
    });
  };

  CLI::App* plan = mig->add_subcommand(
      "plan",
      "Record a migration of FROM's events to TO (both declared in weir.yaml): the event types "
      "routed to FROM and the groups reading it move. Creates TO with weir.yaml's settings when "
      "it does not exist (it must hold no records) and the control topics. Nothing changes for "
      "running processes until `start`");
  plan->add_option("FROM", o->from, "The topic in use")->required();
  plan->add_option("TO", o->to, "The new topic")->required();
  plan->add_option("--name", o->name, "The migration's name (default FROM-to-TO)");
  plan->add_option("--window", o->window,
                   "The rollback window after cutover; cleanup waits for its end")
      ->capture_default_str();
  add_wait(plan);
  plan->callback([&g, o] {
    ops::MigrationPlan p;
    p.from = o->from;
    p.to = o->to;
    p.name = o->name;
    p.window = DurationOrDie("--window", o->window);
    auto m = OpenOrDie(g, *o, /*create=*/true);
    auto r = m->Plan(p);
    if (r.ok()) o->name = r->name;
    Finish("plan", r, *o);
  });

  auto [start, start_cb] =
      step("start",
           "Publishers write FROM and a marked copy to TO (dual-publish); waits until every live "
           "Publisher and group member has applied it",
           [](ops::Migrator& m, const MigrateOptions& mo) { return m.Start(mo.name); });
  start->callback(start_cb);

  auto [dual, dual_cb] =
      step("dual-subscribe",
           "Groups read TO as well as FROM, skipping the marked copies (their twins on FROM are "
           "handled); one group at a time with --group, else every group of the migration",
           [](ops::Migrator& m, const MigrateOptions& mo) {
             return m.DualSubscribe(mo.name, mo.groups);
           });
  dual->add_option("--group", o->groups, "A group to move (repeatable); default: all");
  dual->callback(dual_cb);

  auto [cutover, cutover_cb] = step(
      "cutover",
      "Publishers write TO only; once every live Publisher has switched and emptied its spool, "
      "FROM's end offsets are recorded and each group drains FROM up to them, then reads TO. "
      "Refused until every group reads both topics. Starts the rollback window",
      [](ops::Migrator& m, const MigrateOptions& mo) { return m.Cutover(mo.name); });
  cutover->callback(cutover_cb);

  auto [rollback, rollback_cb] =
      step("rollback",
           "Back to FROM, losing nothing: publishers write FROM (and the marked copy) again, the "
           "records that exist only on TO are copied to FROM (idempotently), each group drains TO, "
           "then reads FROM and skips the copies. Ends in stage dual-publish",
           [](ops::Migrator& m, const MigrateOptions& mo) { return m.Rollback(mo.name); });
  rollback->callback(rollback_cb);

  auto [cleanup, cleanup_cb] =
      step("cleanup",
           "After the rollback window: deletes FROM (refused while it holds records written after "
           "the cutover) and prints the weir.yaml edits to make",
           [](ops::Migrator& m, const MigrateOptions& mo) {
             return m.Cleanup(mo.name, !mo.keep_old_topic);
           });
  cleanup->add_flag("--keep-old-topic", o->keep_old_topic, "Retire FROM without deleting it");
  cleanup->callback(cleanup_cb);

  auto [abort_cmd, abort_cb] =
      step("abort",
           "End a migration no group reads TO for yet (stage planned or dual-publish): publishers "
           "write FROM only; TO is kept",
           [](ops::Migrator& m, const MigrateOptions& mo) { return m.Abort(mo.name); });
  abort_cmd->callback(abort_cb);

  CLI::App* status = mig->add_subcommand(
      "status",
      "Without NAME one line per migration; with NAME its stage, history, the live processes "
      "following it, each group's committed offsets and lag on both topics, and the valid next "
      "commands");
  status->add_option("NAME", o->name, "A migration");
  status->add_flag("--json", o->json, "One JSON object");
  status->callback([&g, o] {
    auto m = OpenOrDie(g, *o, false);
    if (o->name.empty()) {
      auto list = m->List();
      if (!list.ok()) throw CliError{ExitCodeFor(list.status()), list.status().ToString()};
      if (o->json) {
        json arr = json::array();
        for (const auto& [name, s] : *list) arr.push_back(StateJson(s));
        std::cout << arr.dump(2) << "\n";
        return;
      }
      if (list->empty()) std::cout << "no migrations\n";
      for (const auto& [name, s] : *list) {
        std::cout << fmt::format("{:<32} {} -> {}  {} (version {})\n", name, s.from, s.to,
                                 migrate::StageName(s.stage), s.version);
      }
      return;
    }
    auto st = m->Describe(o->name);
    if (!st.ok()) {
      throw CliError{ExitCodeFor(st.status()), "migrate status: " + st.status().message()};
    }
    PrintStatus(*st, o->json);
  });
}

}  // namespace weir::cli
