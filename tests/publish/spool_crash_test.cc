// kill -9 while spooling loses nothing: `weir produce --type` runs against an
// unreachable cluster, so every event it accepts goes to the spool; it is
// killed at a random point after a random number of acknowledged events, in
// several rounds. Then a Publisher on a running broker forwards the spool:
// every acknowledged event arrives exactly once, in order per key.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "broker/broker_test_util.h"
#include "publish/publish_test_util.h"
#include "weir/publish/publisher.h"

namespace weir::publish {
namespace {

using nlohmann::json;
using weir::testing::TempDir;

TEST(SpoolCrashTest, KillNineWhileSpoolingLosesNoAcknowledgedEvent) {
  TempDir dir;
  const std::string yaml = R"(
publisher: {delivery_timeout: 100ms, spool: {dir: spool}}
topics: {orders: {partitions: 3, key: customer}}
event_types: {Order: {topic: orders, id: id}}
)";
  const std::string config = dir.WriteFile("weir.yaml", yaml);
  std::mt19937 rng(::testing::UnitTest::GetInstance()->random_seed());
  std::set<int64_t> acked;
  constexpr int kRounds = 6;
  constexpr int kPerRound = 3000;
  int kills = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::string input;
    for (int i = 0; i < kPerRound; ++i) {
      const int64_t n = int64_t{round} * kPerRound + i;
      input += json{{"id", n}, {"customer", "c" + std::to_string(n % 11)}, {"n", n}}.dump() + "\n";
    }
    const std::string file = dir.WriteFile("in-" + std::to_string(round) + ".ndjson", input);
    const size_t stop_after = std::uniform_int_distribution<size_t>(1, kPerRound - 1)(rng);
    size_t lines_read = 0;
    weir::testing::KillRun run = weir::testing::RunAndKill(
        {testing::WeirBinary(), "-c", config, "-b", "127.0.0.1:1", "--log-level", "error",
         "produce", "--type", "Order", "--outcomes", "--file", file},
        [&](const std::string&) { return ++lines_read >= stop_after; });
    ASSERT_FALSE(run.timed_out) << "round " << round;
    kills += run.killed ? 1 : 0;
    const std::vector<std::string>& lines = run.lines;
    ASSERT_FALSE(lines.empty()) << "round " << round << ": no event was acknowledged";
    for (const std::string& l : lines) {
      // LINE<TAB>OUTCOME...
      const size_t tab = l.find('\t');
      ASSERT_NE(tab, std::string::npos) << l;
      ASSERT_EQ(l.substr(tab + 1, 7), "spooled") << l;
      const int64_t line_no = std::stoll(l.substr(0, tab));
      acked.insert(int64_t{round} * kPerRound + line_no - 1);
    }
  }
  EXPECT_GT(kills, 0);

  // The cluster is back: a publisher forwards the spool.
  broker::testing::TestBroker tb;
  tb.CreateTopic("orders", 3);
  auto topo = LoadTopology(config);
  ASSERT_TRUE(topo.ok()) << topo.status().ToString();
  auto status = Spool::ReadStatus(dir.path() + "/spool");
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_GE(status->records, static_cast<int64_t>(acked.size()));
  auto pub = Publisher::Create(*topo, tb.Config());
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  ASSERT_TRUE((*pub)->Flush(std::chrono::seconds(120), /*drain_spool=*/true).ok());
  ASSERT_TRUE((*pub)->Close().ok());

  std::map<int64_t, int> seen;
  std::map<std::string, int64_t> last;
  for (const testing::ReadRecord& r : testing::ReadTopic(tb.Config(), "orders", 3)) {
    const int64_t n = json::parse(*r.value)["n"].get<int64_t>();
    ++seen[n];
    auto it = last.find(*r.key);
    if (it != last.end()) {
      ASSERT_GT(n, it->second) << "key " << *r.key << " out of order";
    }
    last[*r.key] = n;
  }
  for (int64_t n : acked) ASSERT_EQ(seen[n], 1) << "acknowledged event " << n;
  for (const auto& [n, count] : seen) ASSERT_EQ(count, 1) << "event " << n << " duplicated";
}

}  // namespace
}  // namespace weir::publish
