// Table-driven tests of ComputeTopicPlan / FormatPlan / PlanToJson: the cases
// live in topic_plan_cases.yaml beside this file.
#include "weir/ops/topic_plan.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace weir::ops {
namespace {

struct PlanCase {
  std::string name;
  std::string topology;
  LiveState live;
  std::string expect;
};

std::vector<PlanCase> LoadCases() {
  std::vector<PlanCase> cases;
  YAML::Node root = YAML::LoadFile(testing::SourcePath("tests/ops/topic_plan_cases.yaml"));
  for (const YAML::Node& c : root) {
    PlanCase pc;
    pc.name = c["name"].as<std::string>();
    pc.topology = c["topology"].as<std::string>();
    pc.expect = c["expect"].as<std::string>();
    for (const YAML::Node& t : c["live"]) {
      LiveTopic lt;
      lt.name = t["name"].as<std::string>();
      lt.partitions = t["partitions"].as<int32_t>();
      lt.replication = t["replication"].as<int32_t>();
      if (!t["configs"].IsNull()) {
        std::map<std::string, std::string> cfg;
        for (const auto& kv : t["configs"])
          cfg[kv.first.as<std::string>()] = kv.second.as<std::string>();
        lt.configs = std::move(cfg);
      }
      pc.live.topics.push_back(std::move(lt));
    }
    cases.push_back(std::move(pc));
  }
  return cases;
}

class TopicPlanCase : public ::testing::TestWithParam<PlanCase> {};

TEST_P(TopicPlanCase, MatchesExpectedPlan) {
  const PlanCase& pc = GetParam();
  auto topo = ParseTopology(pc.topology, "weir.yaml");
  ASSERT_TRUE(topo.ok()) << topo.status().ToString();
  TopicPlan plan = ComputeTopicPlan(*topo, pc.live);
  EXPECT_EQ(FormatPlan(plan), pc.expect);
  // The JSON form carries the same actions.
  auto j = nlohmann::json::parse(PlanToJson(plan));
  EXPECT_EQ(j["actions"].size(), plan.actions.size());
  EXPECT_EQ(j["has_refusals"].get<bool>(), plan.HasRefusals());
}

INSTANTIATE_TEST_SUITE_P(Cases, TopicPlanCase, ::testing::ValuesIn(LoadCases()),
                         [](const ::testing::TestParamInfo<PlanCase>& param_info) {
                           std::string n;
                           for (char ch : param_info.param.name) n += std::isalnum(ch) ? ch : '_';
                           return n;
                         });

TEST(TopicPlan, PlanAfterApplyingIsEmpty) {
  auto topo = ParseTopology(
      "topics:\n  a: {partitions: 2, retention: 1d}\n  b: {partitions: 1, cleanup_policy: "
      "compact}\n",
      "weir.yaml");
  ASSERT_TRUE(topo.ok()) << topo.status().ToString();
  TopicPlan first = ComputeTopicPlan(*topo, LiveState{});
  ASSERT_TRUE(first.HasChanges());
  // Simulate a cluster that carried out the plan.
  LiveState after;
  for (const TopicAction& a : first.actions) {
    after.topics.push_back(LiveTopic{a.topic, a.partitions_to, 1, a.configs, ""});
  }
  TopicPlan second = ComputeTopicPlan(*topo, after);
  EXPECT_FALSE(second.HasChanges());
  EXPECT_EQ(second.unchanged.size(), 2u);
}

}  // namespace
}  // namespace weir::ops
