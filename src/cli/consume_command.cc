// `weir consume`: records from topics to stdout, from a group or from
// explicit offsets.
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>

#include "cli/commands.h"
#include "weir/kafka/admin.h"
#include "weir/kafka/consumer.h"
#include "weir/ops/record_json.h"

namespace weir::cli {
namespace {

using std::chrono::milliseconds;

std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop.store(true); }

struct ConsumeOptions {
  std::vector<std::string> topics;
  std::string group;
  bool from_beginning = false;
  std::string offset;  // beginning | end | N
  std::vector<int> partitions;
  int64_t count = -1;
  std::string format = "raw";
  bool exit_at_end = false;
  std::string idle_timeout;
};

// Commits what has been printed: the next offset per partition.
class Progress : public kafka::RebalanceListener {
 public:
  void set_consumer(kafka::Consumer* c) { consumer_ = c; }
  void Done(const Record& r) {
    next_[TopicPartition{std::string(r.topic()), r.partition()}] = r.offset().value() + 1;
  }
  // Commits every partition with progress since the last commit.
  Status CommitAll() {
    std::vector<TopicPartitionOffset> offsets;
    for (const auto& [tp, off] : next_)
      offsets.push_back({tp.topic, tp.partition, Offset(off), {}});
    if (offsets.empty() || consumer_ == nullptr) return Status::Ok();
    std::fflush(stdout);  // what is committed has been written
    Status s = consumer_->Commit(offsets);
    if (s.ok()) next_.clear();
    return s;
  }
  void OnAssigned(const std::vector<TopicPartition>&) override {}
  void OnRevoked(const std::vector<TopicPartition>& partitions, bool lost) override {
    if (!lost) {
      Status s = CommitAll();
      if (!s.ok()) std::cerr << "weir consume: commit on revoke failed: " << s.ToString() << "\n";
    }
    for (const TopicPartition& tp : partitions) next_.erase(tp);
  }

 private:
  kafka::Consumer* consumer_ = nullptr;
  std::map<TopicPartition, int64_t> next_;
};

Offset ParseStartOffsetOrDie(const ConsumeOptions& o) {
  if (o.from_beginning && !o.offset.empty()) {
    throw CliError{kExitBadInput, "--from-beginning and --offset are exclusive"};
  }
  if (o.from_beginning || o.offset == "beginning") return kOffsetBeginning;
  if (o.offset.empty() || o.offset == "end") return kOffsetEnd;
  try {
    size_t used = 0;
    long long v = std::stoll(o.offset, &used);
    if (used == o.offset.size() && v >= 0) return Offset(v);
  } catch (const std::exception&) {
  }
  throw CliError{
      kExitBadInput,
      fmt::format("--offset {}: expected beginning, end or a non-negative offset", o.offset)};
}

void RunConsume(const GlobalOptions& g, const ConsumeOptions& o) {
  std::optional<int64_t> idle_ms;
  if (!o.idle_timeout.empty()) {
    idle_ms = ParseDurationMs(o.idle_timeout);
    if (!idle_ms || *idle_ms < 0) {
      throw CliError{kExitBadInput, fmt::format("--idle-timeout {}: expected a duration such as "
                                                "500ms, 5s or 1m",
                                                o.idle_timeout)};
    }
  }
  const bool group_mode = !o.group.empty();
  if (group_mode && (!o.offset.empty() || !o.partitions.empty() || o.exit_at_end)) {
    throw CliError{kExitBadInput,
                   "--offset, --partition and --exit-at-end read without a group; drop --group "
                   "(a group starts at its committed offsets; use --idle-timeout to stop)"};
  }
  const Offset start = ParseStartOffsetOrDie(o);
  Topology topo = LoadTopologyOrDie(g);
  ops::ClusterConnection conn = ConnectOrDie(g, topo, /*create_declared_topics=*/true);

  kafka::ClientConfig cfg = conn.config;
  if (group_mode) cfg.SetDefault("auto.offset.reset", o.from_beginning ? "earliest" : "latest");
  Progress progress;
  auto consumer_or = kafka::Consumer::Create(
      cfg, kafka::ConsumerOptions{o.group, group_mode ? &progress : nullptr});
  if (!consumer_or.ok()) throw CliError{kExitBadInput, consumer_or.status().ToString()};
  std::unique_ptr<kafka::Consumer> consumer = std::move(consumer_or).value();
  progress.set_consumer(consumer.get());

  // Without a group: the partitions to read and where each ends now.
  std::map<TopicPartition, int64_t> end_at;
  if (group_mode) {
    Status s = consumer->Subscribe(o.topics);
    if (!s.ok()) throw CliError{kExitFailed, s.ToString()};
  } else {
    auto admin = kafka::Admin::Create(conn.config);
    if (!admin.ok()) throw CliError{kExitFailed, admin.status().ToString()};
    auto md = (*admin)->Metadata(milliseconds(30000));
    if (!md.ok()) throw CliError{kExitFailed, md.status().ToString()};
    std::vector<TopicPartitionOffset> assignment;
    for (const std::string& topic : o.topics) {
      const kafka::TopicInfo* t = md->FindTopic(topic);
      if (t == nullptr) throw CliError{kExitFailed, fmt::format("topic {} does not exist", topic)};
      for (const kafka::PartitionInfo& p : t->partitions) {
        if (!o.partitions.empty() && std::find(o.partitions.begin(), o.partitions.end(),
                                               p.id.value()) == o.partitions.end()) {
          continue;
        }
        assignment.push_back({topic, p.id, start, {}});
        if (o.exit_at_end) {
          auto wm = (*admin)->ListOffsets(TopicPartition{topic, p.id}, milliseconds(30000));
          if (!wm.ok()) throw CliError{kExitFailed, wm.status().ToString()};
          int64_t from = start == kOffsetBeginning ? wm->first.value()
                         : start == kOffsetEnd     ? wm->second.value()
                                                   : start.value();
          if (from < wm->second.value()) end_at[TopicPartition{topic, p.id}] = wm->second.value();
        }
      }
    }
    if (assignment.empty()) throw CliError{kExitBadInput, "no partition matches --partition"};
    Status s = consumer->Assign(assignment);
    if (!s.ok()) throw CliError{kExitFailed, s.ToString()};
  }

  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  int64_t printed = 0;
  auto last_record = std::chrono::steady_clock::now();
  Status failure;
  while (!g_stop.load()) {
    if (o.count >= 0 && printed >= o.count) break;
    if (o.exit_at_end && end_at.empty()) break;
    if (idle_ms && std::chrono::steady_clock::now() - last_record > milliseconds(*idle_ms)) break;
    size_t want = o.count >= 0 ? static_cast<size_t>(o.count - printed) : 500;
    auto batch = consumer->Poll(milliseconds(200), std::min<size_t>(want, 500));
    if (!batch.ok()) {
      failure = batch.status();
      break;
    }
    if (batch->empty()) continue;
    last_record = std::chrono::steady_clock::now();
    for (const Record& r : *batch) {
      if (o.format == "json") {
        std::string line = ops::RecordToJson(r);
        line += '\n';
        std::fwrite(line.data(), 1, line.size(), stdout);
      } else {
        if (auto v = r.value()) std::fwrite(v->data(), 1, v->size(), stdout);
        std::fputc('\n', stdout);
      }
      ++printed;
      if (group_mode) progress.Done(r);
      if (!end_at.empty()) {
        auto it = end_at.find(TopicPartition{std::string(r.topic()), r.partition()});
        if (it != end_at.end() && r.offset().value() + 1 >= it->second) end_at.erase(it);
      }
    }
    if (group_mode) {
      Status s = progress.CommitAll();
      if (!s.ok())
        std::cerr << "weir consume: commit failed (will retry): " << s.ToString() << "\n";
    }
  }
  std::fflush(stdout);
  if (group_mode) {
    Status s = progress.CommitAll();
    if (!s.ok() && failure.ok()) failure = s;
  }
  Status closed = consumer->Close();
  if (!failure.ok()) throw CliError{kExitFailed, failure.ToString()};
  if (!closed.ok()) throw CliError{kExitFailed, closed.ToString()};
  std::cerr << fmt::format("weir consume: {} record(s)\n", printed);
}

}  // namespace

void RegisterConsumeCommand(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<ConsumeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "consume",
      "Print records of topics to stdout. With --group, read as a member of a consumer group "
      "and commit what was printed; without, read partitions directly from --offset.");
  cmd->add_option("-t,--topic", o->topics, "Topic to read (repeat for several)")->required();
  cmd->add_option("-g,--group", o->group, "Consumer group id (commits after printing)");
  cmd->add_flag("--from-beginning", o->from_beginning,
                "Start at the earliest offset (with --group: when the group has no commit)");
  cmd->add_option("-o,--offset", o->offset,
                  "Start offset without a group: beginning, end (default) or a number");
  cmd->add_option("-p,--partition", o->partitions, "Only these partitions (without a group)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-n,--count", o->count, "Stop after this many records")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--format", o->format,
                  "raw: the value and a newline; json: one JSON envelope per record (topic, "
                  "partition, offset, timestamp, key, headers, value)")
      ->check(CLI::IsMember({"raw", "json"}))
      ->capture_default_str();
  cmd->add_flag("-e,--exit-at-end", o->exit_at_end,
                "Stop at the end offsets of the partitions as they were at start (no group)");
  cmd->add_option("--idle-timeout", o->idle_timeout,
                  "Stop when no record arrived for this long (e.g. 5s)");
  cmd->callback([&g, o] { RunConsume(g, *o); });
}

}  // namespace weir::cli
