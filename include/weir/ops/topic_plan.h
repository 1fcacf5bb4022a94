// weir/ops/topic_plan.h — `weir topics plan|apply`: the diff between the
// topics weir.yaml declares and the topics a live cluster has, and the
// admin calls that close it.
//
// Planning is a pure function of (Topology, LiveState), so it is tested
// without a cluster. Only safe changes are planned: creating a topic, adding
// partitions, setting a declared config. Fewer partitions or a different
// replication factor are *refused* with a reason: Kafka cannot shrink a
// topic, and moving replicas is a reassignment, not a config change. Configs
// present on the cluster but not declared in weir.yaml are left alone.
//
// Threads: everything here is called from one thread.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "weir/status.h"
#include "weir/topology.h"

namespace weir::kafka {
class Admin;
}

namespace weir::ops {

// What a cluster has for one topic.
struct LiveTopic {
  std::string name;
  int32_t partitions = 0;
  int32_t replication = 0;  // 0 when unknown
  // Current config values by name; nullopt when the cluster could not
  // describe configs (the mock cluster cannot).
  std::optional<std::map<std::string, std::string>> configs;
  // Why configs is nullopt (the DescribeConfigs error), for the plan.
  std::string configs_error;
};

struct LiveState {
  std::vector<LiveTopic> topics;
  const LiveTopic* Find(std::string_view name) const;
};

enum class ActionKind : uint8_t {
  kCreate,          // topic does not exist
  kAddPartitions,   // partitions_from -> partitions_to
  kAlterConfigs,    // config_changes
  kRefused,         // reason
  kUnknownConfigs,  // cluster could not report configs; they were not compared
};

struct ConfigChange {
  std::string name;
  std::optional<std::string> from;  // nullopt when unset on the cluster
  std::string to;
};

struct TopicAction {
  ActionKind kind = ActionKind::kCreate;
  std::string topic;
  int32_t partitions_from = 0;
  int32_t partitions_to = 0;
  int16_t replication = -1;                    // kCreate
  std::map<std::string, std::string> configs;  // kCreate
  std::vector<ConfigChange> config_changes;    // kAlterConfigs
  std::string reason;                          // kRefused, kUnknownConfigs
};

struct TopicPlan {
  std::vector<TopicAction> actions;     // in weir.yaml's topic order
  std::vector<std::string> unchanged;   // declared topics already as declared
  std::vector<std::string> undeclared;  // live topics weir.yaml does not name (left alone)

  // True when there is something to create, grow or alter.
  bool HasChanges() const;
  bool HasRefusals() const;
};

// Computes the plan. Pure.
TopicPlan ComputeTopicPlan(const Topology& topology, const LiveState& live);

// Reads the live state of the cluster for the topics in |topology| (and the
// names of all others, for `undeclared`). Config descriptions that the
// cluster does not support leave LiveTopic::configs empty.
Result<LiveState> ReadLiveState(kafka::Admin& admin, const Topology& topology,
                                std::chrono::milliseconds timeout);

// Human-readable plan, Terraform-like:
//   + create alpr.events.plates  partitions=3 replication=1  retention.ms=604800000 ...
//   ~ alter  alpr.metrics  retention.ms: 3600000 -> 86400000
//   ~ grow   raw_telemetry  partitions: 3 -> 6
//   ! refuse operator_alerts  partitions 6 -> 3: Kafka cannot remove partitions
std::string FormatPlan(const TopicPlan& plan);
// The plan as a JSON document (for --format json).
std::string PlanToJson(const TopicPlan& plan);

struct ApplyOptions {
  std::chrono::milliseconds timeout{30000};
  // Apply the safe actions even when some are refused (the exit status is
  // still non-zero). By default nothing is applied when anything is refused.
  bool skip_refused = false;
};

struct ApplyReport {
  std::vector<std::string> done;    // one line per action carried out
  std::vector<std::string> failed;  // one line per action that failed, with the error
  std::vector<std::string> refused;
};

// Carries out |plan|. Returns a non-OK status when anything failed or was
// refused; the report says what happened to each action.
Status ApplyTopicPlan(kafka::Admin& admin, const TopicPlan& plan, const ApplyOptions& options,
                      ApplyReport* report);

}  // namespace weir::ops
