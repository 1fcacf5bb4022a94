// kill -9 while spooling loses nothing: `weir produce --type` runs against an
// unreachable cluster, so every event it accepts goes to the spool; it is
// killed at a random point after a random number of acknowledged events, in
// several rounds. Then a Publisher on a running broker forwards the spool:
// every acknowledged event arrives exactly once, in order per key.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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

// Runs |argv| with stdout on a pipe; kills it with SIGKILL once |stop_after|
// lines have been read (or lets it finish). Returns the lines read.
std::vector<std::string> RunAndKill(const std::vector<std::string>& argv, size_t stop_after,
                                    bool* killed) {
  int out[2];
  EXPECT_EQ(::pipe(out), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    std::vector<std::string> args = argv;
    std::vector<char*> cargs;
    for (std::string& a : args) cargs.push_back(a.data());
    cargs.push_back(nullptr);
    ::execv(cargs[0], cargs.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::vector<std::string> lines;
  std::string line;
  char buf[4096];
  *killed = false;
  for (;;) {
    ssize_t n = ::read(out[0], buf, sizeof(buf));
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] != '\n') {
        line += buf[i];
        continue;
      }
      lines.push_back(std::move(line));
      line.clear();
    }
    if (lines.size() >= stop_after) {
      ::kill(pid, SIGKILL);
      *killed = true;
      break;
    }
  }
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return lines;
}

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
    bool killed = false;
    std::vector<std::string> lines =
        RunAndKill({testing::WeirBinary(), "-c", config, "-b", "127.0.0.1:1", "--log-level",
                    "error", "produce", "--type", "Order", "--outcomes", "--file", file},
                   stop_after, &killed);
    kills += killed ? 1 : 0;
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
