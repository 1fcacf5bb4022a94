// `weir topics plan|apply|list|describe`.
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "weir/kafka/admin.h"
#include "weir/ops/topic_plan.h"

namespace weir::cli {
namespace {

using std::chrono::milliseconds;

struct TopicsOptions {
  std::string format = "text";
  bool skip_refused = false;
  int timeout_ms = 30000;
  std::vector<std::string> topics;
};

std::unique_ptr<kafka::Admin> AdminOrDie(const ops::ClusterConnection& conn) {
  auto admin = kafka::Admin::Create(conn.config);
  if (!admin.ok()) throw CliError{kExitBadInput, admin.status().ToString()};
  return std::move(admin).value();
}

ops::TopicPlan PlanOrDie(kafka::Admin& admin, const Topology& topo, milliseconds timeout) {
  auto live = ops::ReadLiveState(admin, topo, timeout);
  if (!live.ok()) throw CliError{kExitFailed, live.status().ToString()};
  return ops::ComputeTopicPlan(topo, *live);
}

void RunPlan(const GlobalOptions& g, const TopicsOptions& o) {
  Topology topo = LoadTopologyOrDie(g);
  ops::ClusterConnection conn = ConnectOrDie(g, topo);
  auto admin = AdminOrDie(conn);
  ops::TopicPlan plan = PlanOrDie(*admin, topo, milliseconds(o.timeout_ms));
  std::cout << (o.format == "json" ? ops::PlanToJson(plan) + "\n" : ops::FormatPlan(plan));
  if (plan.HasRefusals())
    throw CliError{kExitRefused, "the plan has refused changes (see `!` lines)"};
}

void RunApply(const GlobalOptions& g, const TopicsOptions& o) {
  Topology topo = LoadTopologyOrDie(g);
  ops::ClusterConnection conn = ConnectOrDie(g, topo);
  auto admin = AdminOrDie(conn);
  ops::TopicPlan plan = PlanOrDie(*admin, topo, milliseconds(o.timeout_ms));
  std::cout << ops::FormatPlan(plan);
  if (!plan.HasChanges() && !plan.HasRefusals()) {
    std::cout << "Nothing to apply: the cluster matches " << topo.path << ".\n";
    return;
  }
  ops::ApplyReport report;
  Status s = ops::ApplyTopicPlan(
      *admin, plan, ops::ApplyOptions{milliseconds(o.timeout_ms), o.skip_refused}, &report);
  for (const std::string& line : report.done) std::cout << "done: " << line << "\n";
  for (const std::string& line : report.failed) std::cerr << "failed: " << line << "\n";
  for (const std::string& line : report.refused) std::cerr << "refused: " << line << "\n";
  if (!s.ok()) {
    throw CliError{s.code() == StatusCode::kRefused ? kExitRefused : kExitFailed, s.message()};
  }
  std::cout << fmt::format("Applied {} change(s).\n", report.done.size());
}

void RunList(const GlobalOptions& g, const TopicsOptions& o) {
  Topology topo = LoadTopologyOrDie(g);
  ops::ClusterConnection conn = ConnectOrDie(g, topo);
  auto admin = AdminOrDie(conn);
  auto md = admin->Metadata(milliseconds(o.timeout_ms));
  if (!md.ok()) throw CliError{kExitFailed, md.status().ToString()};
  std::vector<const kafka::TopicInfo*> topics;
  for (const kafka::TopicInfo& t : md->topics) topics.push_back(&t);
  std::sort(topics.begin(), topics.end(),
            [](const auto* a, const auto* b) { return a->name < b->name; });
  std::cout << fmt::format("{:<40} {:>10} {:>11}  {}\n", "TOPIC", "PARTITIONS", "REPLICATION",
                           "IN WEIR.YAML");
  for (const kafka::TopicInfo* t : topics) {
    std::cout << fmt::format("{:<40} {:>10} {:>11}  {}\n", t->name, t->partitions.size(),
                             t->ReplicationFactor(),
                             topo.FindTopic(t->name) != nullptr ? "yes" : "no");
  }
}

void RunDescribe(const GlobalOptions& g, const TopicsOptions& o) {
  Topology topo = LoadTopologyOrDie(g);
  ops::ClusterConnection conn = ConnectOrDie(g, topo);
  auto admin = AdminOrDie(conn);
  auto md = admin->Metadata(milliseconds(o.timeout_ms));
  if (!md.ok()) throw CliError{kExitFailed, md.status().ToString()};
  std::vector<std::string> names = o.topics;
  if (names.empty()) {
    for (const TopicSpec& t : topo.topics) names.push_back(t.name);
  }
  if (names.empty()) throw CliError{kExitBadInput, "name a topic, or declare topics in weir.yaml"};
  bool missing = false;
  for (const std::string& name : names) {
    const kafka::TopicInfo* t = md->FindTopic(name);
    if (t == nullptr) {
      std::cerr << fmt::format("topic {}: does not exist on the cluster\n", name);
      missing = true;
      continue;
    }
    std::cout << fmt::format("Topic: {}  partitions={} replication={}\n", t->name,
                             t->partitions.size(), t->ReplicationFactor());
    for (const kafka::PartitionInfo& p : t->partitions) {
      auto wm = admin->ListOffsets(TopicPartition{t->name, p.id}, milliseconds(o.timeout_ms));
      std::string offsets =
          wm.ok() ? fmt::format("low={} high={}", wm->first.value(), wm->second.value())
                  : fmt::format("offsets: {}", wm.status().ToString());
      std::cout << fmt::format("  partition {:>3}  leader={} replicas={} isr={}  {}\n",
                               p.id.value(), p.leader, fmt::join(p.replicas, ","),
                               fmt::join(p.isr, ","), offsets);
    }
    auto cfg = admin->DescribeTopicConfigs(t->name, milliseconds(o.timeout_ms));
    if (cfg.ok()) {
      std::cout << "  configs:\n";
      for (const auto& [k, e] : *cfg) {
        if (e.source == kafka::ConfigSource::kDefault) continue;
        std::cout << fmt::format("    {}={}\n", k, e.sensitive ? "[redacted]" : e.value);
      }
    } else {
      std::cout << fmt::format("  configs: unavailable ({})\n", cfg.status().ToString());
    }
  }
  if (missing) throw CliError{kExitFailed, "some topics do not exist"};
}

}  // namespace

void RegisterTopicsCommands(CLI::App& app, const GlobalOptions& g) {
  auto o = std::make_shared<TopicsOptions>();
  CLI::App* topics = app.add_subcommand("topics", "Declared topics vs the live cluster");
  topics->require_subcommand(1);

  CLI::App* plan = topics->add_subcommand(
      "plan",
      "Show what `apply` would change: topics to create, partitions to add, configs to "
      "set, and changes refused (fewer partitions, replication). Exit 3 when anything is "
      "refused.");
  plan->add_option("--format", o->format, "Output format")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  plan->add_option("--timeout-ms", o->timeout_ms, "Admin request timeout")->capture_default_str();
  plan->callback([&g, o] { RunPlan(g, *o); });

  CLI::App* apply = topics->add_subcommand(
      "apply",
      "Make the cluster match weir.yaml (idempotent). Refused changes stop everything "
      "and exit 3, unless --skip-refused.");
  apply->add_flag("--skip-refused", o->skip_refused,
                  "Apply the safe changes even when some are refused (still exits 3)");
  apply->add_option("--timeout-ms", o->timeout_ms, "Admin request timeout")->capture_default_str();
  apply->callback([&g, o] { RunApply(g, *o); });

  CLI::App* list = topics->add_subcommand("list", "List the cluster's topics");
  list->add_option("--timeout-ms", o->timeout_ms, "Admin request timeout")->capture_default_str();
  list->callback([&g, o] { RunList(g, *o); });

  CLI::App* describe = topics->add_subcommand(
      "describe", "Partitions, leaders, offsets and configs of topics (default: weir.yaml's)");
  describe->add_option("topic", o->topics, "Topics to describe");
  describe->add_option("--timeout-ms", o->timeout_ms, "Admin request timeout")
      ->capture_default_str();
  describe->callback([&g, o] { RunDescribe(g, *o); });
}

}  // namespace weir::cli
