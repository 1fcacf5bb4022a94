// The `weir` binary end to end: help, bad input, and interoperability with
// kcat (an independent librdkafka client) through a mock cluster hosted in
// this test process.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "weir/kafka/mock_cluster.h"

namespace weir {
namespace {

using testing::CommandResult;
using testing::RunCommand;
using testing::WeirBinary;

std::vector<std::string> Weir(std::vector<std::string> args) {
  args.insert(args.begin(), WeirBinary());
  return args;
}

std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(nlohmann::json::parse(text.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

TEST(Cli, VersionAndHelp) {
  CommandResult r = RunCommand(Weir({"version"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("weir 0."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("librdkafka 2."), std::string::npos) << r.out;
  for (auto args : std::vector<std::vector<std::string>>{{"--help"},
                                                         {"topics", "--help"},
                                                         {"topics", "plan", "--help"},
                                                         {"topics", "apply", "--help"},
                                                         {"produce", "--help"},
                                                         {"consume", "--help"}}) {
    r = RunCommand(Weir(args));
    EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
  r = RunCommand(Weir({"produce", "--help"}));
  for (const char* opt : {"--topic", "--key-field", "--header", "--format", "--file"}) {
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  }
}

TEST(Cli, BadArgumentsExitTwoAndSayWhat) {
  CommandResult r = RunCommand(Weir({"produce"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--topic"), std::string::npos) << r.err;
  r = RunCommand(Weir({"produce", "-t", "x", "--format", "xml"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("xml"), std::string::npos) << r.err;
  r = RunCommand(Weir({"no-such-command"}));
  EXPECT_EQ(r.exit_code, 2);
  r = RunCommand(Weir({"consume", "-t", "x", "-g", "g", "--offset", "5"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--offset"), std::string::npos) << r.err;
  r = RunCommand(Weir({"-b", "127.0.0.1:1", "produce", "-t", "x", "-H", "novalue"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("-H novalue"), std::string::npos) << r.err;
  r = RunCommand(Weir({"-b", "127.0.0.1:1", "-X", "no.such.property=1", "produce", "-t", "x"}),
                 "a\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no.such.property"), std::string::npos) << r.err;
  r = RunCommand(Weir({"-b", "127.0.0.1:1", "consume", "-t", "x", "--count", "-5"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--count"), std::string::npos) << r.err;
  r = RunCommand(Weir({"-b", "127.0.0.1:1", "produce", "-t", "x", "-p", "-3"}), "a\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--partition"), std::string::npos) << r.err;
}

TEST(Cli, BadConfigNamesFileAndLine) {
  testing::TempDir dir;
  std::string path = dir.WriteFile("weir.yaml", "topics:\n  a:\n    partitions: zero\n");
  CommandResult r = RunCommand(Weir({"-c", path, "topics", "plan"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("weir.yaml:3:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("partitions"), std::string::npos) << r.err;
  r = RunCommand(Weir({"-c", dir.path() + "/missing.yaml", "topics", "plan"}));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("missing.yaml"), std::string::npos) << r.err;
}

TEST(Cli, TopicsPlanOfEveryExampleOnTheEmbeddedCluster) {
  testing::TempDir data;
  const std::map<std::string, std::string> env = {{"WEIR_EMBEDDED_DATA_DIR", data.path()}};
  for (const char* ex : {"alpr", "fleetops", "deeplens", "activity-logs"}) {
    std::string cfg = testing::SourcePath(std::string("examples/") + ex + "/weir.yaml");
    CommandResult r =
        RunCommand(Weir({"-c", cfg, "topics", "plan"}), {}, std::chrono::seconds(60), env);
    EXPECT_EQ(r.exit_code, 0) << ex << ": " << r.err;
    EXPECT_NE(r.out.find("+ create"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("0 refused"), std::string::npos) << r.out;
  }
  CommandResult r =
      RunCommand(Weir({"-c", testing::SourcePath("examples/alpr/weir.yaml"), "topics", "plan"}), {},
                 std::chrono::seconds(60), env);
  for (const char* topic : {"alpr.events.plates", "alpr.events.vehicles", "alpr.metrics",
                            "alpr.dlq", "alpr.plates.detected", "alpr.analytics.camera-counts"}) {
    EXPECT_NE(r.out.find(std::string("+ create  ") + topic + " "), std::string::npos) << topic;
  }
}

class CliKafka : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mc = kafka::MockCluster::Start(1);
    ASSERT_TRUE(mc.ok()) << mc.status().ToString();
    cluster_ = std::move(mc).value();
    bootstrap_ = cluster_->bootstrap_servers();
  }
  std::unique_ptr<kafka::MockCluster> cluster_;
  std::string bootstrap_;
};

TEST_F(CliKafka, WeirProduceThenKcatReadsIdenticalBytes) {
  if (!testing::HaveProgram("kcat")) GTEST_SKIP() << "kcat not installed";
  ASSERT_TRUE(cluster_->CreateTopic("interop", 1).ok());
  const std::string input =
      "{\"camera_id\":\"cam-1\",\"plate\":\"ABC 123\",\"note\":\"tab\\there \\\"quoted\\\"\"}\n"
      "{\"camera_id\":\"cam-2\",\"plate\":\"ÖÄÜ-9\",\"confidence\":0.93}\n"
      "{\"camera_id\":7,\"plate\":\"NUM-KEY\"}\n";
  CommandResult p =
      RunCommand(Weir({"-b", bootstrap_, "produce", "-t", "interop", "--format", "json",
                       "--key-field", "camera_id", "-H", "source=weir", "-H", "trace-id=t-42"}),
                 input);
  ASSERT_EQ(p.exit_code, 0) << p.err;
  EXPECT_NE(p.err.find("3 delivered, 0 failed"), std::string::npos) << p.err;

  CommandResult k = RunCommand(
      {"kcat", "-C", "-b", bootstrap_, "-t", "interop", "-o", "beginning", "-e", "-J", "-q"});
  ASSERT_EQ(k.exit_code, 0) << k.err;
  auto rows = JsonLines(k.out);
  ASSERT_EQ(rows.size(), 3u) << k.out;
  const std::vector<std::string> keys = {"cam-1", "cam-2", "7"};
  size_t start = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    size_t end = input.find('\n', start);
    EXPECT_EQ(rows[i]["payload"].get<std::string>(), input.substr(start, end - start));
    start = end + 1;
    EXPECT_EQ(rows[i]["key"].get<std::string>(), keys[i]);
    EXPECT_EQ(rows[i]["headers"], nlohmann::json::array({"source", "weir", "trace-id", "t-42"}));
  }
}

TEST_F(CliKafka, KcatProduceThenWeirConsumeReadsIdenticalBytes) {
  if (!testing::HaveProgram("kcat")) GTEST_SKIP() << "kcat not installed";
  ASSERT_TRUE(cluster_->CreateTopic("interop-back", 1).ok());
  CommandResult k = RunCommand({"kcat", "-P", "-b", bootstrap_, "-t", "interop-back", "-K", "|",
                                "-H", "origin=kcat", "-H", "n=1"},
                               "key-a|value one\nkey-b|{\"json\": [1, 2]}\n");
  ASSERT_EQ(k.exit_code, 0) << k.err;
  CommandResult c = RunCommand(Weir({"-b", bootstrap_, "consume", "-t", "interop-back",
                                     "--from-beginning", "-e", "--format", "json"}));
  ASSERT_EQ(c.exit_code, 0) << c.err;
  auto rows = JsonLines(c.out);
  ASSERT_EQ(rows.size(), 2u) << c.out;
  EXPECT_EQ(rows[0]["key"], "key-a");
  EXPECT_EQ(rows[0]["value"], "value one");
  EXPECT_EQ(rows[0]["value_encoding"], "utf8");
  EXPECT_EQ(rows[1]["key"], "key-b");
  EXPECT_EQ(rows[1]["value"], nlohmann::json::parse("{\"json\": [1, 2]}"));
  EXPECT_EQ(rows[1]["value_encoding"], "json");
  EXPECT_EQ(rows[1]["offset"], 1);
  EXPECT_EQ(rows[0]["headers"],
            nlohmann::json::parse(R"([{"key":"origin","value":"kcat","encoding":"utf8"},)"
                                  R"({"key":"n","value":"1","encoding":"utf8"}])"));
  // Raw format prints the values as they are.
  c = RunCommand(
      Weir({"-b", bootstrap_, "consume", "-t", "interop-back", "--offset", "beginning", "-e"}));
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(c.out, "value one\n{\"json\": [1, 2]}\n");
}

TEST_F(CliKafka, ConsumeWithGroupCommitsWhatItPrinted) {
  ASSERT_TRUE(cluster_->CreateTopic("grouped", 2).ok());
  std::string input;
  for (int i = 0; i < 20; ++i) input += "rec-" + std::to_string(i) + "\n";
  ASSERT_EQ(RunCommand(Weir({"-b", bootstrap_, "produce", "-t", "grouped"}), input).exit_code, 0);
  CommandResult c = RunCommand(Weir(
      {"-b", bootstrap_, "consume", "-t", "grouped", "-g", "g1", "--from-beginning", "-n", "12"}));
  ASSERT_EQ(c.exit_code, 0) << c.err;
  // The second run of the group continues where the first committed.
  CommandResult c2 = RunCommand(Weir(
      {"-b", bootstrap_, "consume", "-t", "grouped", "-g", "g1", "--from-beginning", "-n", "8"}));
  ASSERT_EQ(c2.exit_code, 0) << c2.err;
  std::multiset<std::string> seen;
  for (const std::string* out : {&c.out, &c2.out}) {
    size_t start = 0;
    while (start < out->size()) {
      size_t end = out->find('\n', start);
      seen.insert(out->substr(start, end - start));
      start = end + 1;
    }
  }
  ASSERT_EQ(seen.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(seen.count("rec-" + std::to_string(i)), 1u) << i;
}

TEST_F(CliKafka, UndeliveredRecordsExitNonZeroAndAreNamed) {
  ASSERT_TRUE(cluster_->CreateTopic("down", 1).ok());
  ASSERT_TRUE(cluster_->SetBrokerDown(1).ok());
  CommandResult p =
      RunCommand(Weir({"-b", bootstrap_, "-X", "message.timeout.ms=1500", "produce", "-t", "down"}),
                 "one\ntwo\n");
  EXPECT_EQ(p.exit_code, 1);
  EXPECT_NE(p.err.find("line 1: "), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("line 2: "), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("_MSG_TIMED_OUT"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("2 of 2 record(s) were not delivered"), std::string::npos) << p.err;
}

TEST_F(CliKafka, InvalidJsonLinesAreRefusedAndTheRestDelivered) {
  ASSERT_TRUE(cluster_->CreateTopic("json-in", 1).ok());
  CommandResult p = RunCommand(
      Weir({"-b", bootstrap_, "produce", "-t", "json-in", "--format", "json", "--key-field", "id"}),
      "{\"id\":\"a\"}\n{not json}\n{\"other\":1}\n{\"id\":\"d\"}\n");
  EXPECT_EQ(p.exit_code, 1);
  EXPECT_NE(p.err.find("2 delivered, 0 failed, 2 refused"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("line 2: INVALID_ARGUMENT: invalid JSON"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("line 3: INVALID_ARGUMENT: key field \"id\" is missing"), std::string::npos)
      << p.err;
}

}  // namespace
}  // namespace weir
