// Burrow (Debian's package, with the ZooKeeper it needs) pointed at weir's
// embedded broker agrees with weir on the lag status of the same groups.
//
// Burrow reads every commit from __consumer_offsets, which the embedded
// broker writes in Kafka's format. The broker runs on a hand-moved clock so
// that commit timestamps can lie in the past (10 minutes ago up to now)
// without the test waiting: both Burrow and weir evaluate them at the real
// time, a few seconds later. End offsets do not move while the commits are
// made, so both see the same lag for every commit; the cases are those such
// history decides: OK, STOP, STALL, REWIND and a lagging but progressing OK
// (WARN needs end offsets moving between commits; its rule is covered in
// lag_test.cc).
#include <arpa/inet.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "broker/broker_test_util.h"
#include "common/wall_clock.h"
#include "support/test_support.h"
#include "weir/kafka/consumer.h"
#include "weir/kafka/producer.h"
#include "weir/ops/lag.h"

namespace weir::ops {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kBurrow = "/usr/bin/Burrow";
constexpr const char* kZooKeeperJar = "/usr/share/java/zookeeper.jar";

// Polls |condition| until it holds or |timeout| passes.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

std::optional<nlohmann::json> GetJson(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(2, 0);
  c.set_read_timeout(5, 0);
  auto res = c.Get(path);
  if (!res || res->status != 200) return std::nullopt;
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

// One group's commits: offsets per partition of topic "t", one commit of
// each listed offset, 100 s apart (or |step_ms|), the last at |last_ms|.
struct Scenario {
  std::string group;
  std::map<int32_t, std::vector<int64_t>> commits;
  int64_t last_ago_ms = 0;  // how long before "now" the last commit is
  int64_t step_ms = 60'000;
  LagStatus expected_group;
  std::map<int32_t, LagStatus> expected_partitions;
};

TEST(LagBurrowInteropTest, BurrowAndWeirAgreeOnEveryGroupsStatus) {
  if (access(kBurrow, X_OK) != 0 || access(kZooKeeperJar, R_OK) != 0 ||
      !weir::testing::HaveProgram("java")) {
    GTEST_SKIP() << "needs Debian's burrow and zookeeper packages (scripts/deps.sh)";
  }
  weir::testing::TempDir dir;

  // --- ZooKeeper (Burrow keeps its own state there) ---------------------------
  const int zk_port = weir::testing::FreeLoopbackPort();
  std::filesystem::create_directories(dir.path() + "/zk");
  const std::string zk_cfg =
      dir.WriteFile("zoo.cfg", fmt::format("tickTime=2000\ndataDir={}/zk\nclientPort={}\n"
                                           "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
                                           "4lw.commands.whitelist=srvr\n",
                                           dir.path(), zk_port));
  auto zk = weir::testing::StartServer(
      fmt::format("exec java -cp {} org.apache.zookeeper.server.ZooKeeperServerMain {} "
                  ">{}/zk.log 2>&1",
                  kZooKeeperJar, zk_cfg, dir.path()));
  ASSERT_TRUE(zk);
  // Listening is not serving: wait until "srvr" says it runs standalone.
  ASSERT_TRUE(WaitFor([&] {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(zk_port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string answer;
    // A server that accepted but does not answer yet must not hang the test.
    timeval one_second{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &one_second, sizeof one_second);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &one_second, sizeof one_second);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && write(fd, "srvr", 4) == 4) {
      char buf[512];
      for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;)
        answer.append(buf, static_cast<size_t>(n));
    }
    close(fd);
    return answer.find("Mode: standalone") != std::string::npos;
  })) << weir::testing::ReadFile(dir.path() + "/zk.log");

  // --- the embedded broker, on a clock 10 minutes behind --------------------
  const int64_t start = WallClockMs() - 600'000;
  broker::ManualClock clock(start);
  broker::BrokerOptions bo;
  bo.clock = &clock;
  broker::testing::TestBroker broker(bo);
  broker.CreateTopic("t", 3);
  broker.ProduceSpread("t", 3, 300);  // end offsets: 100 each
  auto commit = [&](const std::string& group, int32_t partition, int64_t offset) {
    kafka::ConsumerOptions co;
    co.group_id = group;
    auto c = kafka::Consumer::Create(broker.Config(), co);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE((*c)->Commit({{"t", Partition(partition), Offset(offset), ""}}).ok());
    (void)(*c)->Close();
  };
  // Burrow's consumer module needs __consumer_offsets to exist when it starts.
  commit("warm-up", 0, 0);

  // --- Burrow ----------------------------------------------------------------
  const int burrow_port = weir::testing::FreeLoopbackPort();
  std::filesystem::create_directories(dir.path() + "/burrow");
  dir.WriteFile("burrow/burrow.toml",
                fmt::format(R"([general]
pidfile="{0}/burrow/burrow.pid"
[logging]
filename="{0}/burrow/burrow.log"
level="info"
[zookeeper]
servers=["127.0.0.1:{1}"]
timeout=6
root-path="/burrow"
[client-profile.weir]
client-id="burrow"
kafka-version="2.1.0"
[cluster.weir]
class-name="kafka"
servers=["{2}"]
client-profile="weir"
topic-refresh=1
offset-refresh=1
[consumer.weir]
class-name="kafka"
cluster="weir"
servers=["{2}"]
client-profile="weir"
group-blacklist="^warm-up$"
[httpserver.default]
address="127.0.0.1:{3}"
[storage.default]
class-name="inmemory"
workers=2
intervals=10
expire-group=604800
min-distance=1
[evaluator.default]
class-name="caching"
expire-cache=1
)",
                            dir.path(), zk_port, broker.bootstrap(), burrow_port));
  auto burrow = weir::testing::StartServer(fmt::format(
      "exec {} --config-dir {}/burrow >{}/burrow/out 2>&1", kBurrow, dir.path(), dir.path()));
  ASSERT_TRUE(burrow);
  auto burrow_log = [&] {
    return weir::testing::ReadFile(dir.path() + "/burrow/out") +
           weir::testing::ReadFile(dir.path() + "/burrow/burrow.log");
  };
  // Commits read before Burrow knows a topic's end offsets are dropped, so
  // wait until it knows them.
  ASSERT_TRUE(WaitFor([&] {
    auto j = GetJson(burrow_port, "/v3/kafka/weir/topic/t");
    return j && (*j)["offsets"] == nlohmann::json::array({100, 100, 100});
  })) << burrow_log();

  // --- the commits -------------------------------------------------------------
  const int64_t now = WallClockMs();
  std::vector<Scenario> scenarios = {
      {"caught-up",
       {{0, {10, 40, 70, 100}}, {1, {100, 100}}},
       0,
       60'000,
       LagStatus::kOk,
       {{0, LagStatus::kOk}, {1, LagStatus::kOk}}},
      {"progressing",
       {{0, {10, 20, 40, 60, 80}}},
       0,
       60'000,
       LagStatus::kOk,
       {{0, LagStatus::kOk}}},
      {"stopped",
       {{0, {10, 20, 30}}, {2, {100}}},
       300'000,
       10'000,
       LagStatus::kErr,
       {{0, LagStatus::kStop}, {2, LagStatus::kOk}}},
      {"stalled",
       {{1, {40, 40, 40, 40, 40}}},
       0,
       60'000,
       LagStatus::kErr,
       {{1, LagStatus::kStall}}},
      {"rewound", {{2, {50, 60, 30, 40}}}, 0, 60'000, LagStatus::kErr, {{2, LagStatus::kRewind}}},
  };
  for (const Scenario& s : scenarios) {
    for (const auto& [partition, offsets] : s.commits) {
      for (size_t i = 0; i < offsets.size(); ++i) {
        clock.Set(now - s.last_ago_ms - s.step_ms * static_cast<int64_t>(offsets.size() - 1 - i));
        commit(s.group, partition, offsets[i]);
      }
    }
  }

  // --- Burrow's verdict, once it has read every last commit --------------------
  std::map<std::string, nlohmann::json> burrow_status;
  for (const Scenario& s : scenarios) {
    std::string last_seen;
    ASSERT_TRUE(WaitFor([&] {
      auto j = GetJson(burrow_port, "/v3/kafka/weir/consumer/" + s.group + "/lag");
      if (j) last_seen = j->dump();
      if (!j || (*j)["error"] != false) return false;
      const nlohmann::json& st = (*j)["status"];
      if (st["partitions"].size() != 3) return false;  // every partition of "t"
      for (const nlohmann::json& p : st["partitions"]) {
        auto c = s.commits.find(p["partition"].get<int32_t>());
        if (c == s.commits.end()) continue;
        const auto& offsets = c->second;
        if (p["end"].is_null() || p["end"]["offset"] != offsets.back()) return false;
        const double want = static_cast<double>(offsets.size()) / 10.0;
        if (std::abs(p["complete"].get<double>() - want) > 1e-6) return false;
      }
      burrow_status[s.group] = st;
      return true;
    })) << s.group
        << ": Burrow's last answer: " << last_seen << "\n"
        << burrow_log();
  }

  // --- weir's verdict ------------------------------------------------------------
  auto monitor = LagMonitor::Create(broker.Config());
  ASSERT_TRUE(monitor.ok());
  ASSERT_TRUE((*monitor)->RefreshEndOffsets().ok());
  auto read = (*monitor)->ReadCommits();
  ASSERT_TRUE(read.ok()) << read.status().ToString();

  for (const Scenario& s : scenarios) {
    SCOPED_TRACE(s.group);
    auto weir_lag = (*monitor)->Evaluate(s.group);
    ASSERT_TRUE(weir_lag.has_value());
    const nlohmann::json& b = burrow_status.at(s.group);
    EXPECT_EQ(b["status"], std::string(LagStatusName(s.expected_group)));
    EXPECT_EQ(LagStatusName(weir_lag->status), b["status"].get<std::string>());
    EXPECT_EQ(weir_lag->total_lag, b["totallag"].get<int64_t>());
    EXPECT_NEAR(weir_lag->complete, b["complete"].get<double>(), 1e-6);
    ASSERT_EQ(weir_lag->partitions.size(), b["partitions"].size());
    for (const nlohmann::json& bp : b["partitions"]) {
      const auto partition = bp["partition"].get<int32_t>();
      SCOPED_TRACE(partition);
      const PartitionLag* wp = nullptr;
      for (const PartitionLag& p : weir_lag->partitions) {
        if (p.partition == partition) wp = &p;
      }
      ASSERT_NE(wp, nullptr);
      EXPECT_EQ(LagStatusName(wp->status), bp["status"].get<std::string>());
      EXPECT_EQ(wp->lag, bp["current_lag"].get<int64_t>());
      EXPECT_NEAR(wp->complete, bp["complete"].get<double>(), 1e-6);
      if (!s.commits.contains(partition)) {  // never committed: both list it, empty
        EXPECT_TRUE(bp["end"].is_null());
        EXPECT_TRUE(wp->window.empty());
        continue;
      }
      EXPECT_EQ(bp["status"], std::string(LagStatusName(s.expected_partitions.at(partition))));
      EXPECT_EQ(wp->committed, bp["end"]["offset"].get<int64_t>());
      EXPECT_EQ(wp->window.front().offset, bp["start"]["offset"].get<int64_t>());
      EXPECT_EQ(wp->window.back().timestamp_ms, bp["end"]["timestamp"].get<int64_t>());
    }
  }
}

}  // namespace
}  // namespace weir::ops
