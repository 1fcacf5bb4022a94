// The `weir` binary on the embedded broker: `topics apply` of every example
// topology (idempotent, refusals, config changes visible in describe),
// `weir broker` standalone, and sharing one data folder between processes.
#include <gtest/gtest.h>

#include <regex>

#include "broker/broker_process.h"
#include "support/test_support.h"

namespace weir {
namespace {

using testing::CommandResult;
using testing::RunCommand;
using testing::WeirBinary;

std::vector<std::string> Weir(std::vector<std::string> args) {
  args.insert(args.begin(), WeirBinary());
  return args;
}

class EmbeddedCli : public ::testing::Test {
 protected:
  // Runs weir with the embedded broker's data in this test's folder.
  CommandResult Run(std::vector<std::string> args) {
    return RunCommand(Weir(std::move(args)), {}, std::chrono::seconds(120),
                      {{"WEIR_EMBEDDED_DATA_DIR", dir_.path() + "/data"}});
  }
  testing::TempDir dir_;
};

TEST_F(EmbeddedCli, TopicsApplyOfEveryExampleIsIdempotent) {
  for (const char* ex : {"alpr", "fleetops", "deeplens", "activity-logs"}) {
    SCOPED_TRACE(ex);
    std::string cfg = testing::SourcePath(std::string("examples/") + ex + "/weir.yaml");
    CommandResult plan = Run({"-c", cfg, "topics", "plan"});
    EXPECT_EQ(plan.exit_code, 0) << plan.err;
    EXPECT_NE(plan.out.find("+ create"), std::string::npos) << plan.out;
    EXPECT_NE(plan.out.find(" 0 refused"), std::string::npos) << plan.out;

    CommandResult apply = Run({"-c", cfg, "topics", "apply"});
    ASSERT_EQ(apply.exit_code, 0) << apply.out << apply.err;
    EXPECT_NE(apply.out.find("Applied "), std::string::npos) << apply.out;

    // A second apply (a new process, a restarted broker) finds nothing to do.
    CommandResult again = Run({"-c", cfg, "topics", "apply"});
    EXPECT_EQ(again.exit_code, 0) << again.err;
    EXPECT_NE(again.out.find("Nothing to apply"), std::string::npos) << again.out;
    EXPECT_NE(again.out.find("0 to create, 0 to grow, 0 to alter, 0 refused"), std::string::npos)
        << again.out;
  }
  // Every ALPR topic exists with its partitions and retention.
  CommandResult list = Run({"-c", testing::SourcePath("examples/alpr/weir.yaml"), "topics",
                            "describe", "alpr.events.plates", "alpr.plates.detected"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("retention.ms=604800000"), std::string::npos) << list.out;
}

TEST_F(EmbeddedCli, RefusedAndAlteredChangesAgainstTheBroker) {
  std::string cfg = dir_.WriteFile("weir.yaml",
                                   "topics:\n"
                                   "  orders:\n"
                                   "    partitions: 4\n"
                                   "    retention: 7d\n");
  ASSERT_EQ(Run({"-c", cfg, "topics", "apply"}).exit_code, 0);

  // Fewer partitions: refused, nothing changes.
  std::string fewer = dir_.WriteFile("fewer.yaml",
                                     "topics:\n"
                                     "  orders:\n"
                                     "    partitions: 2\n"
                                     "    retention: 7d\n");
  CommandResult r = Run({"-c", fewer, "topics", "apply"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("! refuse  orders  partitions 4 -> 2"), std::string::npos) << r.out;

  // A replication change: refused.
  std::string rf = dir_.WriteFile("rf.yaml",
                                  "topics:\n"
                                  "  orders:\n"
                                  "    partitions: 4\n"
                                  "    replication: 3\n"
                                  "    retention: 7d\n");
  r = Run({"-c", rf, "topics", "apply"});
  EXPECT_EQ(r.exit_code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("replication 1 -> 3"), std::string::npos) << r.out;

  // More partitions and a new retention: applied, and visible in describe.
  std::string grown = dir_.WriteFile("grown.yaml",
                                     "topics:\n"
                                     "  orders:\n"
                                     "    partitions: 6\n"
                                     "    retention: 30d\n");
  r = Run({"-c", grown, "topics", "apply"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Run({"-c", grown, "topics", "describe", "orders"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("retention.ms=2592000000"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("partitions=6"), std::string::npos) << r.out;
  r = Run({"-c", grown, "topics", "apply"});
  EXPECT_NE(r.out.find("Nothing to apply"), std::string::npos) << r.out;
}

TEST_F(EmbeddedCli, StandaloneBrokerIsSharedAndItsDataFolderIsLocked) {
  broker::testing::BrokerProcess broker(dir_.path() + "/data");
  std::string error;
  ASSERT_TRUE(broker.Start(&error)) << error;
  EXPECT_TRUE(std::regex_match(broker.address(), std::regex(R"(127\.0\.0\.1:\d+)")))
      << broker.address();

  // A weir command on the same data folder uses the running broker.
  std::string cfg = dir_.WriteFile("weir.yaml", "topics:\n  shared: {partitions: 2}\n");
  CommandResult r = Run({"--log-level", "info", "-c", cfg, "topics", "apply"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("using the broker another process runs"), std::string::npos) << r.err;
  r = RunCommand(Weir({"-b", broker.address(), "topics", "list"}));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("shared"), std::string::npos) << r.out;

  // A second broker on the same folder is refused, naming the folder.
  r = RunCommand(Weir({"broker", "--data", dir_.path() + "/data", "--listen", "127.0.0.1:0"}));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("in use by another broker"), std::string::npos) << r.err;
  EXPECT_NE(testing::ReadFile(dir_.path() + "/data/broker.addr").find(broker.address()),
            std::string::npos);

  // SIGTERM stops it cleanly; its address file goes with it.
  broker.Kill(SIGTERM);
  EXPECT_EQ(testing::ReadFile(dir_.path() + "/data/broker.addr"), "");
}

TEST_F(EmbeddedCli, BrokerBadArgumentsExitTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"broker"},
           {"broker", "--data", dir_.path(), "--listen", "nonsense"},
           {"broker", "--data", dir_.path(), "--listen", "127.0.0.1:99999"},
           {"broker", "--data", dir_.path(), "--message-max-bytes", "0"},
           {"broker", "--data", dir_.path(), "--listen", "127.0.0.1:0", "--metrics-listen",
            "127.0.0.1:99999"},
       }) {
    CommandResult r = RunCommand(Weir(args));
    EXPECT_EQ(r.exit_code, 2) << args.back() << ": " << r.err;
    EXPECT_FALSE(r.err.empty());
  }
}

}  // namespace
}  // namespace weir
