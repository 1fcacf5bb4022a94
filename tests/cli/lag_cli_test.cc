// `weir lag` against an embedded broker in the test process: the table, the
// JSON, --watch serving the evaluation on /metrics, and bad arguments.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "broker/broker_test_util.h"
#include "support/test_support.h"
#include "weir/kafka/consumer.h"

namespace weir {
namespace {

using testing::ChildProcess;
using testing::CommandResult;
using testing::RunCommand;
using testing::WeirBinary;

class LagCli : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_.CreateTopic("orders", 2);
    broker_.ProduceSpread("orders", 2, 20);  // 10 per partition
  }
  void Commit(const std::string& group, int32_t partition, int64_t offset) {
    kafka::ConsumerOptions co;
    co.group_id = group;
    auto c = kafka::Consumer::Create(broker_.Config(), co);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->Commit({{"orders", Partition(partition), Offset(offset), ""}}).ok());
    (void)(*c)->Close();
  }
  CommandResult Lag(std::vector<std::string> args) {
    std::vector<std::string> argv = {WeirBinary(), "-b", broker_.bootstrap(), "lag"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }

  broker::testing::TestBroker broker_;
};

TEST_F(LagCli, NoCommitsYetIsAnErrorNamingTheTopic) {
  CommandResult r = Lag({});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("__consumer_offsets"), std::string::npos) << r.err;
}

TEST_F(LagCli, TableAndJsonShowEveryPartitionWithItsStatus) {
  Commit("caught-up", 0, 10);
  Commit("caught-up", 1, 10);
  Commit("behind", 0, 4);

  CommandResult r = Lag({});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("GROUP caught-up  OK  total lag 0  partitions 2"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("GROUP behind  ERR  total lag 6"), std::string::npos) << r.out;

  r = Lag({"--json", "--group", "behind"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["group"], "behind");
  EXPECT_EQ(j[0]["status"], "ERR");
  ASSERT_EQ(j[0]["partitions"].size(), 2u);  // partition 1 was never committed: listed, empty
  const auto& p0 = j[0]["partitions"][0];
  EXPECT_EQ(p0["committed_offset"], 4);
  EXPECT_EQ(p0["end_offset"], 10);
  EXPECT_EQ(p0["lag"], 6);
  EXPECT_TRUE(p0["lag_seconds"].is_null());  // one commit: no rate yet
  // One commit with lag is a window of one: STALL at once, STOP once a
  // second has passed (Burrow's rules).
  EXPECT_TRUE(p0["status"] == "STALL" || p0["status"] == "STOP") << p0;
  EXPECT_EQ(j[0]["partitions"][1]["committed_offset"], -1);
  EXPECT_EQ(j[0]["partitions"][1]["status"], "OK");
}

TEST_F(LagCli, WatchServesTheEvaluationOnMetricsAndStopsOnSigterm) {
  Commit("caught-up", 0, 10);
  const int port = testing::FreeLoopbackPort();
  auto child =
      ChildProcess::Start({WeirBinary(), "-b", broker_.bootstrap(), "lag", "--watch", "--interval",
                           "0.2", "--json", "--listen", "127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(child);
  std::vector<std::string> lines;
  ASSERT_EQ(child->ReadLines(&lines, std::chrono::steady_clock::now() + std::chrono::seconds(60)),
            ChildProcess::ReadResult::kLines);
  EXPECT_EQ(nlohmann::json::parse(lines[0])[0]["status"], "OK");
  httplib::Client http("127.0.0.1", port);
  std::string body;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    auto res = http.Get("/metrics");
    if (res && res->status == 200) {
      body = res->body;
      if (body.find("weir_lag_status{consumer_group=\"caught-up\"} 1\n") != std::string::npos) {
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(body.find("weir_lag_status{consumer_group=\"caught-up\"} 1\n"), std::string::npos)
      << body;
  EXPECT_NE(body.find("weir_lag_records{consumer_group=\"caught-up\",topic=\"orders\","
                      "partition=\"1\"} 0\n"),
            std::string::npos)
      << body;
  if (testing::HaveProgram("promtool")) {
    auto r = RunCommand({"promtool", "check", "metrics"}, body);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  child->Signal(SIGTERM);
  const int status = child->Wait();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(LagCli, BadArgumentsExitTwoNamingTheArgument) {
  Commit("g", 0, 1);
  for (const auto& [args, named] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--group", "nope"}, "--group nope"},
           {{"--listen", "127.0.0.1:0"}, "--listen"},
           {{"--watch", "--interval", "0"}, "--interval"},
           {{"--intervals", "1"}, "--intervals"},
           {{"--min-distance", "-1"}, "--min-distance"},
           {{"--watch", "--listen", "127.0.0.1:99999"}, "--listen"},
       }) {
    CommandResult r = Lag(args);
    EXPECT_EQ(r.exit_code, 2) << named << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(named), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace weir
