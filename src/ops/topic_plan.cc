#include "weir/ops/topic_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "weir/kafka/admin.h"

namespace weir::ops {

const LiveTopic* LiveState::Find(std::string_view name) const {
  for (const LiveTopic& t : topics) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

bool TopicPlan::HasChanges() const {
  return std::any_of(actions.begin(), actions.end(), [](const TopicAction& a) {
    return a.kind == ActionKind::kCreate || a.kind == ActionKind::kAddPartitions ||
           a.kind == ActionKind::kAlterConfigs;
  });
}

bool TopicPlan::HasRefusals() const {
  return std::any_of(actions.begin(), actions.end(),
                     [](const TopicAction& a) { return a.kind == ActionKind::kRefused; });
}

namespace {

// Kafka reports list-valued configs in the order they were set; compare them
// as sets so "delete,compact" equals "compact,delete".
std::string NormalizeConfigValue(const std::string& name, const std::string& value) {
  if (name != "cleanup.policy") return value;
  std::set<std::string> parts;
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find(',', start);
    if (end == std::string::npos) end = value.size();
    std::string part = value.substr(start, end - start);
    part.erase(0, part.find_first_not_of(" \t"));
    part.erase(part.find_last_not_of(" \t") + 1);
    if (!part.empty()) parts.insert(part);
    start = end + 1;
  }
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += ',';
    out += p;
  }
  return out;
}

std::string FormatConfigs(const std::map<std::string, std::string>& configs) {
  std::string out;
  for (const auto& [k, v] : configs) out += fmt::format(" {}={}", k, v);
  return out;
}

TopicAction NewAction(ActionKind kind, const std::string& topic) {
  TopicAction a;
  a.kind = kind;
  a.topic = topic;
  return a;
}

}  // namespace

TopicPlan ComputeTopicPlan(const Topology& topology, const LiveState& live) {
  TopicPlan plan;
  std::set<std::string, std::less<>> declared;
  for (const TopicSpec& spec : topology.topics) {
    declared.insert(spec.name);
    const std::map<std::string, std::string> desired = spec.DesiredConfigs();
    const LiveTopic* cur = live.Find(spec.name);
    if (cur == nullptr) {
      TopicAction a = NewAction(ActionKind::kCreate, spec.name);
      a.partitions_to = spec.partitions;
      a.replication = spec.replication;
      a.configs = desired;
      plan.actions.push_back(std::move(a));
      continue;
    }
    bool changed = false;
    if (spec.partitions < cur->partitions) {
      TopicAction a = NewAction(ActionKind::kRefused, spec.name);
      a.partitions_from = cur->partitions;
      a.partitions_to = spec.partitions;
      a.reason = fmt::format(
          "partitions {} -> {}: Kafka cannot remove partitions (recreate the topic under a new "
          "name and migrate with `weir migrate`, or declare partitions: {})",
          cur->partitions, spec.partitions, cur->partitions);
      plan.actions.push_back(std::move(a));
      changed = true;
    } else if (spec.partitions > cur->partitions) {
      TopicAction a = NewAction(ActionKind::kAddPartitions, spec.name);
      a.partitions_from = cur->partitions;
      a.partitions_to = spec.partitions;
      plan.actions.push_back(std::move(a));
      changed = true;
    }
    if (spec.replication > 0 && cur->replication > 0 && spec.replication != cur->replication) {
      TopicAction a = NewAction(ActionKind::kRefused, spec.name);
      a.reason = fmt::format(
          "replication {} -> {}: changing the replication factor is a partition reassignment "
          "(kafka-reassign-partitions), not something weir does; declare replication: {}",
          cur->replication, spec.replication, cur->replication);
      plan.actions.push_back(std::move(a));
      changed = true;
    }
    if (!cur->configs.has_value()) {
      if (!desired.empty()) {
        TopicAction a = NewAction(ActionKind::kUnknownConfigs, spec.name);
        a.reason = fmt::format(
            "declared configs were not compared ({}):{}",
            cur->configs_error.empty() ? "the cluster cannot describe them" : cur->configs_error,
            FormatConfigs(desired));
        plan.actions.push_back(std::move(a));
      }
    } else {
      std::vector<ConfigChange> changes;
      for (const auto& [name, value] : desired) {
        auto it = cur->configs->find(name);
        if (it != cur->configs->end() &&
            NormalizeConfigValue(name, it->second) == NormalizeConfigValue(name, value)) {
          continue;
        }
        ConfigChange c{name, std::nullopt, value};
        if (it != cur->configs->end()) c.from = it->second;
        changes.push_back(std::move(c));
      }
      if (!changes.empty()) {
        TopicAction a = NewAction(ActionKind::kAlterConfigs, spec.name);
        a.config_changes = std::move(changes);
        plan.actions.push_back(std::move(a));
        changed = true;
      }
    }
    if (!changed) plan.unchanged.push_back(spec.name);
  }
  for (const LiveTopic& t : live.topics) {
    if (declared.find(t.name) == declared.end()) plan.undeclared.push_back(t.name);
  }
  std::sort(plan.undeclared.begin(), plan.undeclared.end());
  return plan;
}

Result<LiveState> ReadLiveState(kafka::Admin& admin, const Topology& topology,
                                std::chrono::milliseconds timeout) {
  auto md = admin.Metadata(timeout);
  if (!md.ok()) return md.status().WithContext("reading cluster metadata");
  LiveState live;
  for (const kafka::TopicInfo& t : md->topics) {
    if (!t.error.ok()) continue;  // e.g. a topic being deleted
    LiveTopic lt;
    lt.name = t.name;
    lt.partitions = static_cast<int32_t>(t.partitions.size());
    lt.replication = t.ReplicationFactor();
    if (topology.FindTopic(t.name) != nullptr) {
      auto cfg = admin.DescribeTopicConfigs(t.name, timeout);
      if (cfg.ok()) {
        std::map<std::string, std::string> values;
        for (const auto& [k, e] : *cfg) values[k] = e.value;
        lt.configs = std::move(values);
      } else if (cfg.status().code() == StatusCode::kUnsupported ||
                 cfg.status().code() == StatusCode::kTimeout) {
        // The topic exists (metadata says so) but its configs cannot be read:
        // the plan shows them as not compared, and apply fails on them.
        lt.configs_error = cfg.status().ToString();
      } else {
        return cfg.status().WithContext(fmt::format("describing configs of topic {}", t.name));
      }
    }
    live.topics.push_back(std::move(lt));
  }
  return live;
}

std::string FormatPlan(const TopicPlan& plan) {
  std::string out;
  for (const TopicAction& a : plan.actions) {
    switch (a.kind) {
      case ActionKind::kCreate:
        out +=
            fmt::format("+ create  {}  partitions={} replication={}{}\n", a.topic, a.partitions_to,
                        a.replication < 0 ? std::string("default") : std::to_string(a.replication),
                        FormatConfigs(a.configs));
        break;
      case ActionKind::kAddPartitions:
        out += fmt::format("~ grow    {}  partitions: {} -> {}\n", a.topic, a.partitions_from,
                           a.partitions_to);
        break;
      case ActionKind::kAlterConfigs:
        for (const ConfigChange& c : a.config_changes) {
          out += fmt::format("~ alter   {}  {}: {} -> {}\n", a.topic, c.name,
                             c.from ? *c.from : std::string("(unset)"), c.to);
        }
        break;
      case ActionKind::kRefused:
        out += fmt::format("! refuse  {}  {}\n", a.topic, a.reason);
        break;
      case ActionKind::kUnknownConfigs:
        out += fmt::format("? configs {}  {}\n", a.topic, a.reason);
        break;
    }
  }
  for (const std::string& t : plan.unchanged) out += fmt::format("= ok      {}\n", t);
  for (const std::string& t : plan.undeclared) {
    out += fmt::format("  (not in weir.yaml, left alone: {})\n", t);
  }
  size_t creates = 0, grows = 0, alters = 0, refused = 0;
  for (const TopicAction& a : plan.actions) {
    creates += a.kind == ActionKind::kCreate;
    grows += a.kind == ActionKind::kAddPartitions;
    alters += a.kind == ActionKind::kAlterConfigs;
    refused += a.kind == ActionKind::kRefused;
  }
  out += fmt::format("Plan: {} to create, {} to grow, {} to alter, {} refused, {} unchanged.\n",
                     creates, grows, alters, refused, plan.unchanged.size());
  return out;
}

std::string PlanToJson(const TopicPlan& plan) {
  nlohmann::json j;
  j["actions"] = nlohmann::json::array();
  for (const TopicAction& a : plan.actions) {
    nlohmann::json x;
    x["topic"] = a.topic;
    switch (a.kind) {
      case ActionKind::kCreate:
        x["action"] = "create";
        x["partitions"] = a.partitions_to;
        x["replication"] = a.replication;
        x["configs"] = a.configs;
        break;
      case ActionKind::kAddPartitions:
        x["action"] = "grow";
        x["partitions_from"] = a.partitions_from;
        x["partitions_to"] = a.partitions_to;
        break;
      case ActionKind::kAlterConfigs: {
        x["action"] = "alter";
        nlohmann::json changes = nlohmann::json::array();
        for (const ConfigChange& c : a.config_changes) {
          changes.push_back({{"name", c.name},
                             {"from", c.from ? nlohmann::json(*c.from) : nlohmann::json()},
                             {"to", c.to}});
        }
        x["changes"] = changes;
        break;
      }
      case ActionKind::kRefused:
        x["action"] = "refuse";
        x["reason"] = a.reason;
        break;
      case ActionKind::kUnknownConfigs:
        x["action"] = "configs-unknown";
        x["reason"] = a.reason;
        break;
    }
    j["actions"].push_back(std::move(x));
  }
  j["unchanged"] = plan.unchanged;
  j["undeclared"] = plan.undeclared;
  j["has_changes"] = plan.HasChanges();
  j["has_refusals"] = plan.HasRefusals();
  return j.dump(2);
}

Status ApplyTopicPlan(kafka::Admin& admin, const TopicPlan& plan, const ApplyOptions& options,
                      ApplyReport* report) {
  ApplyReport local;
  ApplyReport& r = report != nullptr ? *report : local;
  for (const TopicAction& a : plan.actions) {
    if (a.kind == ActionKind::kRefused)
      r.refused.push_back(fmt::format("{}: {}", a.topic, a.reason));
  }
  if (!r.refused.empty() && !options.skip_refused) {
    return Status::Refused(fmt::format(
        "{} change(s) refused; nothing was applied (fix weir.yaml, or pass --skip-refused to apply "
        "the safe changes)",
        r.refused.size()));
  }

  std::vector<kafka::NewTopic> creates;
  std::vector<std::pair<std::string, int32_t>> grows;
  for (const TopicAction& a : plan.actions) {
    if (a.kind == ActionKind::kCreate) {
      creates.push_back(kafka::NewTopic{a.topic, a.partitions_to, a.replication, a.configs});
    } else if (a.kind == ActionKind::kAddPartitions) {
      grows.emplace_back(a.topic, a.partitions_to);
    }
  }
  auto record_items = [&r](const Result<std::vector<kafka::ItemResult>>& res,
                           const std::string& what, const std::vector<std::string>& names) {
    if (!res.ok()) {
      for (const std::string& n : names) {
        r.failed.push_back(fmt::format("{} {}: {}", what, n, res.status().ToString()));
      }
      return;
    }
    for (const kafka::ItemResult& item : *res) {
      if (item.status.ok()) {
        r.done.push_back(fmt::format("{} {}", what, item.name));
      } else {
        r.failed.push_back(fmt::format("{} {}: {}", what, item.name, item.status.ToString()));
      }
    }
  };
  if (!creates.empty()) {
    std::vector<std::string> names;
    for (const auto& c : creates) names.push_back(c.name);
    record_items(admin.CreateTopics(creates, options.timeout), "created", names);
  }
  if (!grows.empty()) {
    std::vector<std::string> names;
    for (const auto& g : grows) names.push_back(g.first);
    record_items(admin.CreatePartitions(grows, options.timeout), "grew", names);
  }
  for (const TopicAction& a : plan.actions) {
    if (a.kind == ActionKind::kUnknownConfigs) {
      r.failed.push_back(fmt::format("configs of {} not verified: {}", a.topic, a.reason));
    }
    if (a.kind != ActionKind::kAlterConfigs) continue;
    std::map<std::string, std::string> changes;
    for (const ConfigChange& c : a.config_changes) changes[c.name] = c.to;
    Status s = admin.AlterTopicConfigs(a.topic, changes, options.timeout);
    if (s.ok()) {
      r.done.push_back(fmt::format("altered {}{}", a.topic, FormatConfigs(changes)));
    } else {
      r.failed.push_back(fmt::format("alter {}: {}", a.topic, s.ToString()));
    }
  }
  if (!r.failed.empty()) {
    return Status(StatusCode::kKafka, fmt::format("{} change(s) failed", r.failed.size()));
  }
  if (!r.refused.empty()) {
    return Status::Refused(fmt::format("{} change(s) refused", r.refused.size()));
  }
  return Status::Ok();
}

}  // namespace weir::ops
