// `weir migrate` against an embedded broker in the test process: the steps'
// output and exit codes, a wait that expires and is resumed, status as text
// and JSON, refusals, and bad arguments. (The migration itself, with
// processes following it while events flow, is tested in
// tests/ops/migration_test.cc.)
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "broker/broker_test_util.h"
#include "support/test_support.h"
#include "weir/kafka/consumer.h"

namespace weir {
namespace {

using testing::CommandResult;
using testing::RunCommand;
using testing::WeirBinary;

constexpr const char* kYaml = R"(topics:
  old.t: {partitions: 3, key: k}
  new.t: {partitions: 2, key: k}
event_types:
  E: {topic: old.t, key: k, id: id}
consumer_groups:
  g:
    topics: [old.t]
)";

class MigrateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = dir_.WriteFile("weir.yaml", kYaml);
    broker_.CreateTopic("old.t", 3);
  }
  CommandResult Weir(std::vector<std::string> args, const std::string& input = {}) {
    std::vector<std::string> argv = {WeirBinary(), "-c", config_, "-b", broker_.bootstrap()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, input);
  }
  CommandResult Migrate(std::vector<std::string> args) {
    args.insert(args.begin(), "migrate");
    return Weir(std::move(args));
  }
  // Commits group g at the end of every partition of |topic|.
  void CommitAtEnd(const std::string& topic, int partitions) {
    kafka::ConsumerOptions co;
    co.group_id = "g";
    kafka::ClientConfig cc = broker_.Config();
    cc.Set("group.id", "g");
    auto c = kafka::Consumer::Create(cc, co);
    ASSERT_TRUE(c.ok());
    std::vector<TopicPartitionOffset> offsets;
    for (int p = 0; p < partitions; ++p) {
      auto marks = (*c)->QueryWatermarks({topic, Partition(p)}, std::chrono::seconds(10));
      ASSERT_TRUE(marks.ok());
      offsets.push_back({topic, Partition(p), marks->high, ""});
    }
    ASSERT_TRUE((*c)->Commit(offsets).ok());
    (void)(*c)->Close();
  }

  testing::TempDir dir_;
  std::string config_;
  broker::testing::TestBroker broker_;
};

TEST_F(MigrateCli, BadInputIsExit2NamingIt) {
  CommandResult r = Migrate({"plan", "old.t", "nosuch.t"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("topic nosuch.t is not declared"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("weir.yaml"), std::string::npos) << r.err;

  r = Migrate({"plan", "old.t", "old.t"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("the same topic"), std::string::npos) << r.err;

  r = Migrate({"plan", "old.t", "new.t", "--window", "7x"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--window 7x: invalid duration"), std::string::npos) << r.err;

  r = Migrate({"start", "nosuch"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("no migration named \"nosuch\""), std::string::npos) << r.err;

  r = Migrate({"cutover"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("NAME"), std::string::npos) << r.err;

  r = Migrate({"sideways", "m"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST_F(MigrateCli, StepsPrintWhatTheyDoAndAnExpiredWaitIsResumed) {
  CommandResult r = Weir({"produce", "--type", "E"},
                         "{\"id\":\"1\",\"k\":\"a\"}\n{\"id\":\"2\",\"k\":\"b\"}\n"
                         "{\"id\":\"3\",\"k\":\"c\"}\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  r = Migrate({"plan", "old.t", "new.t", "--name", "m1", "--window", "1h"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("created   new.t (2 partitions"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("migration m1: stage planned (version 1); next: start"), std::string::npos)
      << r.out;
  r = Migrate({"plan", "old.t", "new.t", "--name", "m1"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("exists already"), std::string::npos) << r.err;

  ASSERT_EQ(Migrate({"start", "m1"}).exit_code, 0);
  r = Migrate({"dual-subscribe", "m1", "--group", "nosuch"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("group nosuch is not part of migration m1"), std::string::npos) << r.err;
  r = Migrate({"dual-subscribe", "m1", "--group", "g"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("groups [g] read old.t and new.t"), std::string::npos) << r.out;

  // Nobody consumes as g: the drain of old.t cannot finish in time.
  r = Migrate({"cutover", "m1", "--wait", "1s"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("group g has committed old.t/"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("re-run `weir migrate cutover m1` to continue"), std::string::npos) << r.err;
  r = Migrate({"status", "m1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("stage      cutover-publish"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("old_final"), std::string::npos) << r.out;

  ASSERT_NO_FATAL_FAILURE(CommitAtEnd("old.t", 3));
  r = Migrate({"cutover", "m1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("migration m1: stage cutover"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("old_final"), std::string::npos) << "recorded once, not again: " << r.out;

  r = Migrate({"status", "m1", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["stage"], "cutover");
  ASSERT_EQ(j["groups"].size(), 1u);
  EXPECT_EQ(j["groups"][0]["reads"], nlohmann::json::array({"new.t"}));
  EXPECT_EQ(j["history"].size(), 6u);

  // Inside the window cleanup is refused; rollback and abort end it.
  r = Migrate({"cleanup", "m1"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("the rollback window of m1 ends at"), std::string::npos) << r.err;
  r = Migrate({"rollback", "m1"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("copied 0 record(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stage dual-publish"), std::string::npos) << r.out;
  r = Migrate({"abort", "m1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Migrate({"status"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("old.t -> new.t  aborted"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace weir
