// The steps of `weir migrate` (weir/ops/migration.h). Each step reads the
// state, checks, and records every sub-step as a version before the next,
// so that running a step again continues where it stopped.
#include "weir/ops/migration.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <future>
#include <set>
#include <thread>

#include "common/wall_clock.h"
#include "weir/consume/dead_letter.h"
#include "weir/kafka/admin.h"
#include "weir/kafka/consumer.h"
#include "weir/kafka/producer.h"

namespace weir::ops {
namespace {

using migrate::Offsets;
using migrate::Stage;
using migrate::State;
using std::chrono::milliseconds;

// ISO 8601 UTC with milliseconds, as dead letters carry times.
std::string UtcTime(int64_t ms) { return consume::FormatDlqTimestamp(ms); }

std::string FormatOffsets(const Offsets& o) {
  std::string out;
  for (size_t p = 0; p < o.size(); ++p) out += fmt::format("{}{}:{}", p == 0 ? "" : " ", p, o[p]);
  return out.empty() ? "-" : out;
}

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

Status WrongStage(const State& s, std::string_view step) {
  return Status::InvalidArgument(
      fmt::format("migration {} is in stage {}: `{}` is not valid there (valid: {})", s.name,
                  migrate::StageName(s.stage), step, NextCommands(s.stage)));
}

}  // namespace

std::string NextCommands(Stage stage) {
  switch (stage) {
    case Stage::kPlanned:
      return "start, abort, status";
    case Stage::kDualPublish:
      return "dual-subscribe, abort, status";
    case Stage::kDualSubscribe:
      return "dual-subscribe (more groups), cutover, rollback, status";
    case Stage::kCutoverPublish:
      return "cutover (to finish it), rollback, status";
    case Stage::kCutover:
      return "cleanup (after the rollback window), rollback (within it), status";
    case Stage::kRollbackPublish:
      return "rollback (to finish it), status";
    case Stage::kDone:
    case Stage::kAborted:
      return "status; plan to start a new migration";
  }
  return "status";
}

struct Migrator::Impl {
  Topology topology;
  kafka::ClientConfig config;
  MigrationOptions options;
  std::unique_ptr<migrate::ControlLog> log;
  std::unique_ptr<kafka::Admin> admin;

  int64_t Now() const { return options.now_ms ? options.now_ms() : WallClockMs(); }

  void Say(const std::string& line) const {
    if (options.progress) options.progress(line);
  }

  Result<State> Load(std::string_view name) {
    WEIR_ASSIGN_OR_RETURN(migrate::States states, log->Read(options.timeout));
    auto it = states.find(name);
    if (it == states.end()) {
      std::vector<std::string> known;
      for (const auto& [n, s] : states) known.push_back(n);
      return Status::NotFound(
          fmt::format("no migration named \"{}\" on the cluster (known: {})", name,
                      known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", "))));
    }
    return it->second;
  }

  // Records |s| as its next version in |stage|.
  Status Save(State& s, Stage stage, std::string note) {
    State next = s;
    next.version = s.version + 1;
    next.stage = stage;
    next.updated_by = migrate::ProcessIdentity();
    next.updated_at_ms = Now();
    next.history.push_back({next.version, std::string(migrate::StageName(stage)),
                            next.updated_at_ms, next.updated_by, note});
    WEIR_RETURN_IF_ERROR(log->Write(next, options.timeout));
    s = std::move(next);
    Say(fmt::format("recorded  version {}: {} — {}", s.version, migrate::StageName(stage), note));
    return Status::Ok();
  }

  Result<int32_t> PartitionCount(const std::string& topic) {
    WEIR_ASSIGN_OR_RETURN(auto meta, admin->Metadata(options.timeout));
    const kafka::TopicInfo* t = meta.FindTopic(topic);
    if (t == nullptr || !t->error.ok() || t->partitions.empty()) {
      return Status::NotFound(fmt::format("topic {} does not exist on the cluster", topic));
    }
    return static_cast<int32_t>(t->partitions.size());
  }

  // Low (|high| false) or high watermarks of every partition of |topic|.
  Result<Offsets> Watermarks(const std::string& topic, bool high) {
    WEIR_ASSIGN_OR_RETURN(int32_t n, PartitionCount(topic));
    Offsets out;
    for (int32_t p = 0; p < n; ++p) {
      WEIR_ASSIGN_OR_RETURN(auto marks, admin->ListOffsets({topic, Partition(p)}, options.timeout));
      out.push_back(high ? marks.second.value() : marks.first.value());
    }
    return out;
  }

  // Polls |pending| (what is still awaited, one line each) until it is
  // empty — then says |done| — or the wait expires (kTimeout naming it).
  Status WaitFor(const State& s, const std::function<Result<std::vector<std::string>>()>& pending,
                 const std::function<std::string()>& done) {
    const int64_t deadline = Now() + options.wait.count();
    std::string last;
    for (;;) {
      WEIR_ASSIGN_OR_RETURN(std::vector<std::string> waiting, pending());
      if (waiting.empty()) {
        Say("ok        " + done());
        return Status::Ok();
      }
      std::string now_waiting = fmt::format("{}", fmt::join(waiting, "; "));
      if (now_waiting != last) Say("wait      " + now_waiting);
      last = std::move(now_waiting);
      if (Now() >= deadline) {
        return Status::Timeout(
            fmt::format("migration {}: after {} ms: {}", s.name, options.wait.count(), last));
      }
      std::this_thread::sleep_for(milliseconds(200));
    }
  }

  // Waits until every live participant has applied |s| (and publishers have
  // nothing in their spools when |spool_empty|).
  Status WaitParticipants(const State& s, bool spool_empty) {
    size_t live = 0;
    auto pending = [&]() -> Result<std::vector<std::string>> {
      const int64_t now = Now();
      WEIR_ASSIGN_OR_RETURN(auto acks, log->ReadAcks(now - 600'000, options.timeout));
      std::vector<std::string> out;
      live = 0;
      for (const migrate::Ack& a : acks) {
        if (!a.Live(now)) continue;
        ++live;
        auto it = a.applied.find(s.name);
        const int64_t applied = it == a.applied.end() ? 0 : it->second;
        std::string who = a.role == "group" ? fmt::format("group {} member {}", a.group, a.id)
                                            : fmt::format("publisher {}", a.id);
        if (applied < s.version) {
          out.push_back(fmt::format("{} has applied version {} of {}", who, applied, s.version));
        } else if (!a.error.empty()) {
          out.push_back(fmt::format("{} cannot apply version {}: {}", who, s.version, a.error));
        } else if (spool_empty && a.spool_records > 0) {
          out.push_back(fmt::format("{} has {} records in its spool", who, a.spool_records));
        }
      }
      return out;
    };
    return WaitFor(s, pending, [&] {
      return fmt::format("{} live process(es) follow version {}", live, s.version);
    });
  }

  // Waits until every group of |s| has committed at least |target| on |topic|.
  Status WaitGroups(const State& s, const std::string& topic, const Offsets& target) {
    WEIR_ASSIGN_OR_RETURN(Offsets low, Watermarks(topic, /*high=*/false));
    std::vector<TopicPartition> tps;
    for (size_t p = 0; p < target.size(); ++p) {
      tps.push_back({topic, Partition(static_cast<int32_t>(p))});
    }
    auto pending = [&]() -> Result<std::vector<std::string>> {
      std::vector<std::string> out;
      for (const std::string& group : s.groups) {
        WEIR_ASSIGN_OR_RETURN(auto committed, admin->CommittedOffsets(group, tps, options.timeout));
        for (size_t p = 0; p < target.size(); ++p) {
          int64_t c = -1;
          for (const TopicPartitionOffset& tpo : committed) {
            if (tpo.partition.value() == static_cast<int32_t>(p)) c = tpo.offset.value();
          }
          const int64_t reached = std::max(c, p < low.size() ? low[p] : 0);
          if (reached < target[p]) {
            out.push_back(fmt::format("group {} has committed {}/{} at {} of {}", group, topic, p,
                                      c < 0 ? std::string("nothing") : std::to_string(c),
                                      target[p]));
          }
        }
      }
      return out;
    };
    return WaitFor(s, pending, [&] {
      return fmt::format("every group has read {} up to {}", topic, FormatOffsets(target));
    });
  }

  // Copies the records that exist only on N — those in [new_cutover,
  // new_final) without the dual mark — to O, in each N partition's order,
  // skipping the ones an earlier run copied already (found by their source
  // header in O after copy_from). Returns how many it copied.
  Result<int64_t> CopyBack(const State& s) {
    kafka::ClientConfig cc = config;
    cc.Set("enable.auto.commit", "false");
    cc.Set("fetch.wait.max.ms", "50");
    WEIR_ASSIGN_OR_RETURN(auto consumer, kafka::Consumer::Create(cc, kafka::ConsumerOptions{}));
    // What is in O already.
    std::set<std::string> done;
    WEIR_ASSIGN_OR_RETURN(Offsets old_end, Watermarks(s.from, /*high=*/true));
    for (size_t q = 0; q < old_end.size(); ++q) {
      const int64_t from = q < s.copy_from.size() ? s.copy_from[q] : 0;
      WEIR_RETURN_IF_ERROR(ReadRange(
          *consumer, s.from, static_cast<int32_t>(q), from, old_end[q], [&](const Record& r) {
            const HeaderView* c = r.FindHeader(migrate::kCopyHeader);
            const HeaderView* src = r.FindHeader(migrate::kSourceHeader);
            if (c != nullptr && c->value && *c->value == s.name && src != nullptr && src->value) {
              done.insert(std::string(*src->value));
            }
          }));
    }
    kafka::ClientConfig pc = config;
    pc.Set("enable.idempotence", "true");
    pc.SetDefault("linger.ms", "5");
    WEIR_ASSIGN_OR_RETURN(auto producer, kafka::Producer::Create(pc, kafka::ProducerOptions{}));
    std::vector<std::future<kafka::DeliveryReport>> reports;
    int64_t copied = 0;
    for (size_t p = 0; p < s.new_final.size(); ++p) {
      const int64_t from = p < s.new_cutover.size() ? s.new_cutover[p] : 0;
      WEIR_RETURN_IF_ERROR(ReadRange(
          *consumer, s.to, static_cast<int32_t>(p), from, s.new_final[p], [&](const Record& r) {
            const HeaderView* dual = r.FindHeader(migrate::kDualHeader);
            if (dual != nullptr) return;  // its twin is in O
            const std::string source =
                fmt::format("{}/{}@{}", s.to, r.partition().value(), r.offset().value());
            if (done.count(source) != 0) return;
            std::vector<HeaderView> headers(r.headers().begin(), r.headers().end());
            headers.push_back({migrate::kCopyHeader, s.name});
            headers.push_back({migrate::kSourceHeader, source});
            kafka::ProduceRequest req;
            req.topic = s.from;
            req.key = r.key();
            req.value = r.value();
            req.headers = headers;
            req.timestamp_ms = r.timestamp().ms > 0 ? r.timestamp().ms : 0;
            reports.push_back(producer->Send(req));
            ++copied;
          }));
    }
    for (auto& f : reports) {
      kafka::DeliveryReport rep = f.get();
      if (!rep.status.ok()) {
        return rep.status.WithContext(fmt::format("copying to {}", s.from));
      }
    }
    WEIR_RETURN_IF_ERROR(producer->Close(options.timeout));
    return copied;
  }

  Status ReadRange(kafka::Consumer& consumer, const std::string& topic, int32_t partition,
                   int64_t from, int64_t to, const std::function<void(const Record&)>& fn) {
    if (from >= to) return Status::Ok();
    WEIR_RETURN_IF_ERROR(
        consumer.Assign({TopicPartitionOffset{topic, Partition(partition), Offset(from), {}}}));
    int64_t pos = from;
    int64_t deadline = Now() + options.wait.count();
    while (pos < to) {
      if (Now() >= deadline) {
        return Status::Timeout(
            fmt::format("reading {}/{}: at offset {} of {}", topic, partition, pos, to));
      }
      WEIR_ASSIGN_OR_RETURN(auto records, consumer.Poll(milliseconds(200)));
      for (const Record& r : records) {
        if (r.offset().value() < pos || r.offset().value() >= to) continue;
        fn(r);
        pos = r.offset().value() + 1;
      }
      if (records.empty()) {
        // Records below |to| may be gone (compacted or deleted): stop at the end.
        auto marks = consumer.QueryWatermarks({topic, Partition(partition)}, options.timeout);
        if (marks.ok() && marks->high.value() <= pos) break;
      }
    }
    return Status::Ok();
  }
};

Migrator::Migrator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Migrator::~Migrator() = default;

Result<std::unique_ptr<Migrator>> Migrator::Open(const Topology& topology,
                                                 kafka::ClientConfig config,
                                                 MigrationOptions options,
                                                 bool create_control_topics) {
  auto impl = std::make_unique<Impl>();
  impl->topology = topology;
  impl->config = config;
  impl->options = std::move(options);
  WEIR_ASSIGN_OR_RETURN(
      impl->log, migrate::ControlLog::Open(config, create_control_topics, impl->options.timeout));
  WEIR_ASSIGN_OR_RETURN(impl->admin, kafka::Admin::Create(config));
  return std::unique_ptr<Migrator>(new Migrator(std::move(impl)));
}

Result<migrate::States> Migrator::List() { return impl_->log->Read(impl_->options.timeout); }

Result<State> Migrator::Plan(const MigrationPlan& plan) {
  Impl& d = *impl_;
  const Topology& topo = d.topology;
  const std::string& O = plan.from;
  const std::string& N = plan.to;
  if (O == N) {
    return Status::InvalidArgument(fmt::format("FROM and TO are the same topic ({})", O));
  }
  for (const std::string& t : {O, N}) {
    if (topo.FindTopic(t) == nullptr) {
      return Status::InvalidArgument(
          fmt::format("{}: topic {} is not declared under topics:", topo.path, t));
    }
  }
  if (plan.window.count() < 0) return Status::InvalidArgument("--window must not be negative");
  for (const ConsumerGroupSpec& g : topo.consumer_groups) {
    if (g.dlq_topic == O || g.dlq_topic == N) {
      return Status::InvalidArgument(fmt::format(
          "{}: consumer_groups.{}.dlq: {} is a dead-letter topic; weir migrate does not move DLQs",
          g.where.ToString(), g.name, g.dlq_topic));
    }
  }
  State s;
  s.name = plan.name.empty() ? fmt::format("{}-to-{}", O, N) : plan.name;
  s.from = O;
  s.to = N;
  s.window_ms = plan.window.count();
  for (const EventTypeSpec& e : topo.event_types) {
    if (e.mirror_topic == O || e.mirror_topic == N) {
      return Status::InvalidArgument(fmt::format(
          "{}: event_types.{}.mirror_topic: {} — a migration replaces the static mirror; remove it",
          e.where.ToString(), e.name, e.mirror_topic));
    }
    if (Contains(e.topics, N)) {
      return Status::InvalidArgument(fmt::format(
          "{}: event_types.{}.topic: weir.yaml routes it to {} already; weir migrate expects the "
          "layout in use ({}) and changes the routes on the cluster",
          e.where.ToString(), e.name, N, O));
    }
    if (Contains(e.topics, O)) s.event_types.push_back(e.name);
  }
  for (const ConsumerGroupSpec& g : topo.consumer_groups) {
    if (Contains(g.topics, N)) {
      return Status::InvalidArgument(fmt::format(
          "{}: consumer_groups.{}.topics: the group reads {} already; weir migrate expects the "
          "layout in use ({})",
          g.where.ToString(), g.name, N, O));
    }
    if (Contains(g.topics, O)) s.groups.push_back(g.name);
  }
  if (s.event_types.empty() && s.groups.empty()) {
    return Status::InvalidArgument(
        fmt::format("{}: no event type is routed to {} and no group reads it: nothing to migrate",
                    topo.path, O));
  }
  WEIR_ASSIGN_OR_RETURN(migrate::States states, d.log->Read(d.options.timeout));
  int64_t version = 1;
  if (auto it = states.find(s.name); it != states.end()) {
    if (it->second.active()) {
      return Status::InvalidArgument(fmt::format("migration {} exists already, in stage {}", s.name,
                                                 migrate::StageName(it->second.stage)));
    }
    version = it->second.version + 1;
    s.history = it->second.history;
  }
  for (const auto& [name, other] : states) {
    if (name != s.name && other.active() &&
        (other.from == O || other.to == O || other.from == N || other.to == N)) {
      return Status::Refused(fmt::format(
          "migration {} ({} -> {}, stage {}) involves {} already", name, other.from, other.to,
          migrate::StageName(other.stage), other.from == O || other.to == O ? O : N));
    }
  }
  // Both topics on the cluster; N created with weir.yaml's settings.
  WEIR_RETURN_IF_ERROR(d.PartitionCount(O).status());
  if (!d.PartitionCount(N).ok()) {
    const TopicSpec* spec = topo.FindTopic(N);
    kafka::NewTopic nt{N, spec->partitions, spec->replication, spec->DesiredConfigs()};
    WEIR_ASSIGN_OR_RETURN(auto created, d.admin->CreateTopics({nt}, d.options.timeout));
    for (const kafka::ItemResult& r : created) {
      if (!r.status.ok()) return r.status.WithContext(fmt::format("creating {}", N));
    }
    d.Say(
        fmt::format("created   {} ({} partitions, as weir.yaml declares it)", N, spec->partitions));
  }
  // N must hold no records a group would mistake for migrated events.
  WEIR_ASSIGN_OR_RETURN(Offsets low, d.Watermarks(N, false));
  WEIR_ASSIGN_OR_RETURN(Offsets high, d.Watermarks(N, true));
  const bool retry_of_same = version > 1;
  for (size_t p = 0; p < high.size(); ++p) {
    if (high[p] > low[p] && !retry_of_same) {
      return Status::Refused(fmt::format(
          "{} partition {} holds {} record(s) (offsets {}..{}); a migration needs an empty new "
          "topic: delete its records (weir topics) or choose another topic",
          N, p, high[p] - low[p], low[p], high[p] - 1));
    }
  }
  const TopicSpec* o_spec = topo.FindTopic(O);
  const TopicSpec* n_spec = topo.FindTopic(N);
  if (o_spec->key_field != n_spec->key_field) {
    d.Say(
        fmt::format("warning   {} is keyed by \"{}\" and {} by \"{}\"; events keep the key of "
                    "their event type",
                    O, o_spec->key_field, N, n_spec->key_field));
  }
  if (n_spec->retention_ms && *n_spec->retention_ms >= 0 && *n_spec->retention_ms <= s.window_ms) {
    d.Say(fmt::format(
        "warning   {} keeps records {}, not longer than the rollback window ({}): a rollback "
        "late in the window is refused once records from the cutover are deleted",
        N, FormatDurationMs(*n_spec->retention_ms), FormatDurationMs(s.window_ms)));
  }
  d.Say(fmt::format("ok        event types [{}] publish to {}; groups [{}] read it",
                    fmt::join(s.event_types, ", "), O, fmt::join(s.groups, ", ")));
  s.version = version - 1;
  WEIR_RETURN_IF_ERROR(
      d.Save(s, Stage::kPlanned,
             fmt::format("{} -> {}, rollback window {}", O, N, FormatDurationMs(s.window_ms))));
  return s;
}

Result<State> Migrator::Start(std::string_view name) {
  Impl& d = *impl_;
  WEIR_ASSIGN_OR_RETURN(State s, d.Load(name));
  if (s.stage == Stage::kPlanned) {
    WEIR_RETURN_IF_ERROR(
        d.Save(s, Stage::kDualPublish,
               fmt::format("publishers write {} and a marked copy to {}", s.from, s.to)));
  } else if (s.stage != Stage::kDualPublish) {
    return WrongStage(s, "start");
  } else {
    d.Say("nothing to do: publishers write both topics already");
  }
  WEIR_RETURN_IF_ERROR(d.WaitParticipants(s, false));
  return s;
}

Result<State> Migrator::DualSubscribe(std::string_view name, std::vector<std::string> groups) {
  Impl& d = *impl_;
  WEIR_ASSIGN_OR_RETURN(State s, d.Load(name));
  if (s.stage != Stage::kDualPublish && s.stage != Stage::kDualSubscribe) {
    return WrongStage(s, "dual-subscribe");
  }
  if (groups.empty()) groups = s.groups;
  for (const std::string& g : groups) {
    if (!s.HasGroup(g)) {
      return Status::InvalidArgument(
          fmt::format("group {} is not part of migration {} (its groups: {})", g, s.name,
                      fmt::join(s.groups, ", ")));
    }
  }
  // Publishers must write the copies before a group reads N.
  WEIR_RETURN_IF_ERROR(d.WaitParticipants(s, false));
  std::vector<std::string> added;
  for (const std::string& g : groups) {
    if (!s.IsMoved(g)) {
      s.moved.push_back(g);
      added.push_back(g);
    }
  }
  if (added.empty()) {
    d.Say("nothing to do: the groups read both topics already");
    return s;
  }
  WEIR_RETURN_IF_ERROR(
      d.Save(s, Stage::kDualSubscribe,
             fmt::format("groups [{}] read {} and {}", fmt::join(added, ", "), s.from, s.to)));
  WEIR_RETURN_IF_ERROR(d.WaitParticipants(s, false));
  return s;
}

Result<State> Migrator::Cutover(std::string_view name) {
  Impl& d = *impl_;
  WEIR_ASSIGN_OR_RETURN(State s, d.Load(name));
  if (s.stage == Stage::kCutover) {
    d.Say("nothing to do: the migration is cut over");
    return s;
  }
  if (s.stage == Stage::kDualSubscribe) {
    std::vector<std::string> missing;
    for (const std::string& g : s.groups) {
      if (!s.IsMoved(g)) missing.push_back(g);
    }
    if (!missing.empty()) {
      return Status::Refused(
          fmt::format("groups [{}] do not read {} yet: run `weir migrate dual-subscribe {}` first",
                      fmt::join(missing, ", "), s.to, s.name));
    }
    // Every N record below this was dual-published (marked).
    WEIR_ASSIGN_OR_RETURN(s.new_cutover, d.Watermarks(s.to, true));
    s.old_final.clear();
    WEIR_RETURN_IF_ERROR(
        d.Save(s, Stage::kCutoverPublish,
               fmt::format("publishers write {} only; groups drain {}; new_cutover {}", s.to,
                           s.from, FormatOffsets(s.new_cutover))));
  } else if (s.stage != Stage::kCutoverPublish) {
    return WrongStage(s, "cutover");
  }
  if (s.old_final.empty()) {
    // Once every publisher has switched and delivered what it sent before,
    // O's end is final.
    WEIR_RETURN_IF_ERROR(d.WaitParticipants(s, /*spool_empty=*/true));
    WEIR_ASSIGN_OR_RETURN(s.old_final, d.Watermarks(s.from, true));
    WEIR_RETURN_IF_ERROR(
        d.Save(s, Stage::kCutoverPublish, fmt::format("old_final {}", FormatOffsets(s.old_final))));
  }
  WEIR_RETURN_IF_ERROR(d.WaitGroups(s, s.from, s.old_final));
  s.cutover_at_ms = d.Now();
  WEIR_RETURN_IF_ERROR(d.Save(s, Stage::kCutover,
                              fmt::format("groups read {}; rollback window until {}", s.to,
                                          UtcTime(s.cutover_at_ms + s.window_ms))));
  WEIR_RETURN_IF_ERROR(d.WaitParticipants(s, false));
  return s;
}

Result<State> Migrator::Rollback(std::string_view name) {
  Impl& d = *impl_;
  WEIR_ASSIGN_OR_RETURN(State s, d.Load(name));
  switch (s.stage) {
    case Stage::kDualSubscribe: {
      // No record exists only on N yet: the groups just stop reading it.
      std::vector<std::string> moved = s.moved;
      s.moved.clear();
      WEIR_RETURN_IF_ERROR(
          d.Save(s, Stage::kDualPublish,
                 fmt::format("groups [{}] read {} only again", fmt::join(moved, ", "), s.from)));
      WEIR_RETURN_IF_ERROR(d.WaitParticipants(s, false));
      return s;
    }
    case Stage::kCutover:
      if (d.Now() > s.cutover_at_ms + s.window_ms) {
        d.Say(fmt::format("warning   the rollback window ended at {}",
                          UtcTime(s.cutover_at_ms + s.window_ms)));
      }
      [[fallthrough]];
    case Stage::kCutoverPublish: {
      // Every record from new_cutover on must still be on N.
      WEIR_ASSIGN_OR_RETURN(Offsets low, d.Watermarks(s.to, false));
      for (size_t p = 0; p < low.size() && p < s.new_cutover.size(); ++p) {
        if (low[p] > s.new_cutover[p]) {
          return Status::Refused(fmt::format(
              "cannot roll back without loss: {} partition {} starts at offset {}, records from "
              "{} (the cutover) are gone",
              s.to, p, low[p], s.new_cutover[p]));
        }
      }
      ++s.rollbacks;
      s.new_final.clear();
      s.copy_from.clear();
      WEIR_RETURN_IF_ERROR(
          d.Save(s, Stage::kRollbackPublish,
                 fmt::format("publishers write {} and a marked copy to {}; groups drain {}", s.from,
                             s.to, s.to)));
      break;
    }
    case Stage::kRollbackPublish:
      break;
    default:
      return WrongStage(s, "rollback");
  }
  if (s.new_final.empty()) {
    WEIR_RETURN_IF_ERROR(d.WaitParticipants(s, /*spool_empty=*/true));
    WEIR_ASSIGN_OR_RETURN(s.new_final, d.Watermarks(s.to, true));
    WEIR_ASSIGN_OR_RETURN(s.copy_from, d.Watermarks(s.from, true));
    WEIR_RETURN_IF_ERROR(
        d.Save(s, Stage::kRollbackPublish,
               fmt::format("new_final {}; copies go to {} after {}", FormatOffsets(s.new_final),
                           s.from, FormatOffsets(s.copy_from))));
  }
  WEIR_ASSIGN_OR_RETURN(int64_t copied, d.CopyBack(s));
  d.Say(fmt::format("ok        copied {} record(s) that were only on {} to {}", copied, s.to,
                    s.from));
  WEIR_RETURN_IF_ERROR(d.WaitGroups(s, s.to, s.new_final));
  s.moved.clear();
  WEIR_RETURN_IF_ERROR(
      d.Save(s, Stage::kDualPublish,
             fmt::format("rolled back: groups read {} only; {} is complete again ({} copies)",
                         s.from, s.from, copied)));
  WEIR_RETURN_IF_ERROR(d.WaitParticipants(s, false));
  return s;
}

Result<State> Migrator::Cleanup(std::string_view name, bool delete_old_topic) {
  Impl& d = *impl_;
  WEIR_ASSIGN_OR_RETURN(State s, d.Load(name));
  if (s.stage == Stage::kDone) {
    d.Say("nothing to do: the migration is done");
    return s;
  }
  if (s.stage != Stage::kCutover) return WrongStage(s, "cleanup");
  const int64_t ends = s.cutover_at_ms + s.window_ms;
  if (d.Now() < ends) {
    return Status::Refused(
        fmt::format("the rollback window of {} ends at {} (in {}); cleanup deletes {} after it",
                    s.name, UtcTime(ends), FormatDurationMs(ends - d.Now()), s.from));
  }
  // Nothing may have been written to O since the cutover: the groups no
  // longer read it.
  WEIR_ASSIGN_OR_RETURN(Offsets end, d.Watermarks(s.from, true));
  for (size_t p = 0; p < end.size() && p < s.old_final.size(); ++p) {
    if (end[p] > s.old_final[p]) {
      return Status::Refused(fmt::format(
          "{} partition {} has {} record(s) after the cutover (offsets {}..{}), written by a "
          "producer that does not follow migrations; the groups did not read them. Move them to {} "
          "before cleanup",
          s.from, p, end[p] - s.old_final[p], s.old_final[p], end[p] - 1, s.to));
    }
  }
  if (delete_old_topic) {
    WEIR_ASSIGN_OR_RETURN(auto deleted, d.admin->DeleteTopics({s.from}, d.options.timeout));
    for (const kafka::ItemResult& r : deleted) {
      if (!r.status.ok()) return r.status.WithContext(fmt::format("deleting {}", s.from));
    }
    d.Say(fmt::format("deleted   {}", s.from));
  }
  WEIR_RETURN_IF_ERROR(
      d.Save(s, Stage::kDone,
             fmt::format("{} retired{}", s.from, delete_old_topic ? " and deleted" : " (kept)")));
  // What weir.yaml should say now; until then the state keeps routing O to N.
  for (const EventTypeSpec& e : d.topology.event_types) {
    if (Contains(e.topics, s.from)) {
      d.Say(fmt::format("edit      {}: event_types.{}: topic {} -> {}", e.where.ToString(), e.name,
                        s.from, s.to));
    }
  }
  for (const ConsumerGroupSpec& g : d.topology.consumer_groups) {
    if (Contains(g.topics, s.from)) {
      d.Say(fmt::format("edit      {}: consumer_groups.{}.topics: {} -> {}", g.where.ToString(),
                        g.name, s.from, s.to));
    }
  }
  return s;
}

Result<State> Migrator::Abort(std::string_view name) {
  Impl& d = *impl_;
  WEIR_ASSIGN_OR_RETURN(State s, d.Load(name));
  if (s.stage == Stage::kAborted) {
    d.Say("nothing to do: the migration is aborted");
    return s;
  }
  if (s.stage != Stage::kPlanned && s.stage != Stage::kDualPublish) {
    return Status::InvalidArgument(fmt::format(
        "migration {} is in stage {}: groups read {}; run `weir migrate rollback {}` first", s.name,
        migrate::StageName(s.stage), s.to, s.name));
  }
  WEIR_RETURN_IF_ERROR(d.Save(s, Stage::kAborted,
                              fmt::format("publishers write {} only; {} is kept", s.from, s.to)));
  WEIR_RETURN_IF_ERROR(d.WaitParticipants(s, false));
  return s;
}

Result<MigrationStatus> Migrator::Describe(std::string_view name) {
  Impl& d = *impl_;
  MigrationStatus out;
  WEIR_ASSIGN_OR_RETURN(out.state, d.Load(name));
  const State& s = out.state;
  const int64_t now = d.Now();
  WEIR_ASSIGN_OR_RETURN(auto acks, d.log->ReadAcks(now - 600'000, d.options.timeout));
  for (migrate::Ack& a : acks) {
    if (a.Live(now)) out.participants.push_back(std::move(a));
  }
  migrate::States one{{s.name, s}};
  for (const std::string& g : s.groups) {
    GroupProgress gp;
    gp.group = g;
    gp.moved = s.IsMoved(g);
    const ConsumerGroupSpec* spec = d.topology.FindGroup(g);
    gp.reads = migrate::GroupTopics(
        one, g, spec != nullptr ? spec->topics : std::vector<std::string>{s.from});
    for (const std::string& topic : {s.from, s.to}) {
      auto end = d.Watermarks(topic, true);
      if (!end.ok()) continue;  // O after cleanup
      TopicProgress tp;
      tp.topic = topic;
      tp.end = *end;
      std::vector<TopicPartition> tps;
      for (size_t p = 0; p < end->size(); ++p) {
        tps.push_back({topic, Partition(static_cast<int32_t>(p))});
      }
      auto committed = d.admin->CommittedOffsets(g, tps, d.options.timeout);
      tp.committed.assign(end->size(), -1);
      if (committed.ok()) {
        for (const TopicPartitionOffset& c : *committed) {
          const auto p = static_cast<size_t>(c.partition.value());
          if (p < tp.committed.size()) tp.committed[p] = c.offset.value();
        }
      }
      for (size_t p = 0; p < tp.end.size(); ++p) {
        tp.lag += std::max<int64_t>(0, tp.end[p] - std::max<int64_t>(0, tp.committed[p]));
      }
      gp.topics.push_back(std::move(tp));
    }
    out.groups.push_back(std::move(gp));
  }
  out.next = NextCommands(s.stage);
  return out;
}

}  // namespace weir::ops
