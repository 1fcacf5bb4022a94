// GroupCoordinator: the classic join/sync/heartbeat protocol driven through
// its public API, with a ManualClock for session and rebalance timeouts, and
// the durability of committed offsets (reopen, torn tail, compaction).
//
// Blocking JoinGroup/SyncGroup calls run in threads; the tests wait for
// observable state (group state, ParkedRequestCount()) rather than sleeping.
#include "broker/group_coordinator.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "support/test_support.h"

namespace weir::broker {
namespace {

constexpr int32_t kSession = 10000;
constexpr int32_t kRebalance = 20000;

// Polls |pred| until it holds; false after a generous cap (a failure, never a
// timing assertion).
bool WaitUntil(const std::function<bool()>& pred) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Runs a blocking coordinator call in a thread. If the test ends while the
// call is still parked, the coordinator is shut down to release it.
template <typename R>
class Async {
 public:
  Async(GroupCoordinator* coordinator, std::function<R()> call)
      : coordinator_(coordinator), thread_([this, call = std::move(call)] {
          result_ = call();
          done_ = true;
        }) {}
  ~Async() {
    if (!done_) coordinator_->Shutdown();
    if (thread_.joinable()) thread_.join();
  }
  Async(const Async&) = delete;
  Async& operator=(const Async&) = delete;

  bool done() const { return done_.load(); }
  // Waits for the call (bounded: a stuck call fails the test via Shutdown).
  R Get() {
    if (!WaitUntil([this] { return done(); })) {
      ADD_FAILURE() << "call did not return";
      coordinator_->Shutdown();
    }
    thread_.join();
    return result_;
  }

 private:
  GroupCoordinator* coordinator_;
  R result_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

using AsyncJoin = Async<JoinGroupResult>;
using AsyncSync = Async<SyncGroupResult>;

class GroupCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  std::filesystem::path GroupsDir() const { return std::filesystem::path(dir_.path()) / "groups"; }
  std::filesystem::path LogPath() const { return GroupsDir() / "offsets.log"; }

  void Reopen(GroupOptions options = {}) {
    coord_.reset();
    auto opened = GroupCoordinator::Open(GroupsDir(), options, clock_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    coord_ = std::move(opened).value();
  }

  static JoinGroupRequestData Request(const std::string& member_id, const std::string& client_id,
                                      std::vector<JoinGroupRequestData::Protocol> protocols = {},
                                      int32_t session_timeout_ms = kSession,
                                      int32_t rebalance_timeout_ms = kRebalance) {
    JoinGroupRequestData r;
    r.api_version = 5;
    r.group_id = "g";
    r.session_timeout_ms = session_timeout_ms;
    r.rebalance_timeout_ms = rebalance_timeout_ms;
    r.member_id = member_id;
    r.protocol_type = "consumer";
    r.protocols = protocols.empty()
                      ? std::vector<JoinGroupRequestData::Protocol>{{"range", "meta-" + client_id}}
                      : std::move(protocols);
    r.client_id = client_id;
    r.client_host = "/127.0.0.1";
    return r;
  }

  // The v4+ first step: an empty member id earns kMemberIdRequired and an id.
  std::string NewMemberId(const JoinGroupRequestData& request) {
    JoinGroupRequestData first = request;
    first.member_id.clear();
    JoinGroupResult r = coord_->JoinGroup(first);
    EXPECT_EQ(r.error, ErrorCode::kMemberIdRequired);
    EXPECT_TRUE(r.member_id.starts_with(request.client_id + "-")) << r.member_id;
    return r.member_id;
  }

  SyncGroupResult Sync(const std::string& member_id, int32_t generation,
                       std::vector<SyncGroupRequestData::Assignment> assignments = {}) {
    SyncGroupRequestData s;
    s.group_id = "g";
    s.generation_id = generation;
    s.member_id = member_id;
    s.assignments = std::move(assignments);
    return coord_->SyncGroup(s);
  }

  std::string State() { return coord_->DescribeGroup("g").state; }

  // One member "a" in a Stable generation 1 with assignment "A1".
  std::string StableSingle(int32_t session = kSession, int32_t rebalance = kRebalance) {
    std::string id = NewMemberId(Request("", "a", {}, session, rebalance));
    JoinGroupResult j = coord_->JoinGroup(Request(id, "a", {}, session, rebalance));
    EXPECT_EQ(j.error, ErrorCode::kNone);
    EXPECT_EQ(j.generation_id, 1);
    SyncGroupResult s = Sync(id, 1, {{id, "A1"}});
    EXPECT_EQ(s.error, ErrorCode::kNone);
    return id;
  }

  // Members "a" (leader) and "b" in a Stable generation 2.
  std::pair<std::string, std::string> StablePair(int32_t session = kSession,
                                                 int32_t rebalance = kRebalance) {
    std::string a = StableSingle(session, rebalance);
    std::string b = NewMemberId(Request("", "b", {}, session, rebalance));
    AsyncJoin join_b(coord_.get(),
                     [&] { return coord_->JoinGroup(Request(b, "b", {}, session, rebalance)); });
    EXPECT_TRUE(WaitUntil([&] { return State() == "PreparingRebalance"; }));
    EXPECT_EQ(coord_->Heartbeat("g", 1, a, std::nullopt), ErrorCode::kRebalanceInProgress);
    JoinGroupResult ja = coord_->JoinGroup(Request(a, "a", {}, session, rebalance));
    EXPECT_EQ(ja.error, ErrorCode::kNone);
    EXPECT_EQ(ja.generation_id, 2);
    EXPECT_EQ(join_b.Get().generation_id, 2);
    EXPECT_EQ(Sync(a, 2, {{a, "A2"}, {b, "B2"}}).assignment, "A2");
    EXPECT_EQ(Sync(b, 2).assignment, "B2");
    EXPECT_EQ(State(), "Stable");
    return {a, b};
  }

  std::vector<CommittedOffset> FetchAll(const std::string& group) {
    return coord_->FetchOffsets(group, std::nullopt);
  }

  weir::testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<GroupCoordinator> coord_;
};

TEST_F(GroupCoordinatorTest, SingleMemberJoinsSyncsAndBecomesStable) {
  std::string id = NewMemberId(Request("", "a"));
  EXPECT_EQ(State(), "Empty");

  JoinGroupResult j = coord_->JoinGroup(Request(id, "a"));
  ASSERT_EQ(j.error, ErrorCode::kNone);
  EXPECT_EQ(j.generation_id, 1);
  EXPECT_EQ(j.leader, id);
  EXPECT_EQ(j.member_id, id);
  EXPECT_EQ(j.protocol_name, "range");
  ASSERT_EQ(j.members.size(), 1u);
  EXPECT_EQ(j.members[0].member_id, id);
  EXPECT_EQ(j.members[0].metadata, "meta-a");
  EXPECT_EQ(State(), "CompletingRebalance");
  // A member waiting to sync is in the generation: its heartbeat is fine (Kafka 2.3+).
  EXPECT_EQ(coord_->Heartbeat("g", 1, id, std::nullopt), ErrorCode::kNone);

  SyncGroupResult s = Sync(id, 1, {{id, "A1"}});
  ASSERT_EQ(s.error, ErrorCode::kNone);
  EXPECT_EQ(s.assignment, "A1");

  GroupDescription d = coord_->DescribeGroup("g");
  EXPECT_EQ(d.state, "Stable");
  EXPECT_EQ(d.protocol_type, "consumer");
  EXPECT_EQ(d.protocol, "range");
  ASSERT_EQ(d.members.size(), 1u);
  EXPECT_EQ(d.members[0].assignment, "A1");
  EXPECT_EQ(d.members[0].metadata, "meta-a");
  EXPECT_EQ(d.members[0].client_id, "a");
  EXPECT_EQ(coord_->Heartbeat("g", 1, id, std::nullopt), ErrorCode::kNone);
  EXPECT_EQ(coord_->Heartbeat("g", 0, id, std::nullopt), ErrorCode::kIllegalGeneration);
  EXPECT_EQ(coord_->Heartbeat("g", 1, "nobody", std::nullopt), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(Sync(id, 1).assignment, "A1");  // Stable: the current assignment again
  EXPECT_EQ(Sync(id, 7).error, ErrorCode::kIllegalGeneration);
  EXPECT_EQ(Sync("nobody", 1).error, ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, OldProtocolJoinGetsAnIdDirectly) {
  JoinGroupRequestData r = Request("", "old");
  r.api_version = 3;
  JoinGroupResult j = coord_->JoinGroup(r);
  ASSERT_EQ(j.error, ErrorCode::kNone);
  EXPECT_TRUE(j.member_id.starts_with("old-")) << j.member_id;
  EXPECT_EQ(j.generation_id, 1);
  EXPECT_EQ(j.leader, j.member_id);
}

TEST_F(GroupCoordinatorTest, SecondMemberTriggersRebalanceAndFollowerSyncWaitsForLeader) {
  std::string a = StableSingle();
  std::string b = NewMemberId(Request("", "b"));
  AsyncJoin join_b(coord_.get(), [&] { return coord_->JoinGroup(Request(b, "b")); });
  ASSERT_TRUE(WaitUntil([&] { return State() == "PreparingRebalance"; }));
  EXPECT_FALSE(join_b.done());
  EXPECT_EQ(coord_->Heartbeat("g", 1, a, std::nullopt), ErrorCode::kRebalanceInProgress);
  EXPECT_EQ(Sync(a, 1).error, ErrorCode::kRebalanceInProgress);

  JoinGroupResult ja = coord_->JoinGroup(Request(a, "a"));
  ASSERT_EQ(ja.error, ErrorCode::kNone);
  EXPECT_EQ(ja.generation_id, 2);
  EXPECT_EQ(ja.leader, a);
  ASSERT_EQ(ja.members.size(), 2u);
  EXPECT_EQ(ja.members[0].member_id, a);
  EXPECT_EQ(ja.members[0].metadata, "meta-a");
  EXPECT_EQ(ja.members[1].member_id, b);
  EXPECT_EQ(ja.members[1].metadata, "meta-b");

  JoinGroupResult jb = join_b.Get();
  ASSERT_EQ(jb.error, ErrorCode::kNone);
  EXPECT_EQ(jb.generation_id, 2);
  EXPECT_EQ(jb.leader, a);
  EXPECT_EQ(jb.member_id, b);
  EXPECT_TRUE(jb.members.empty());

  AsyncSync sync_b(coord_.get(), [&] { return Sync(b, 2); });
  ASSERT_TRUE(WaitUntil([&] { return coord_->ParkedRequestCount() == 1; }));
  EXPECT_FALSE(sync_b.done());
  SyncGroupResult sa = Sync(a, 2, {{a, "A2"}, {b, "B2"}});
  EXPECT_EQ(sa.error, ErrorCode::kNone);
  EXPECT_EQ(sa.assignment, "A2");
  SyncGroupResult sb = sync_b.Get();
  EXPECT_EQ(sb.error, ErrorCode::kNone);
  EXPECT_EQ(sb.assignment, "B2");
  EXPECT_EQ(State(), "Stable");
  EXPECT_EQ(coord_->Heartbeat("g", 2, b, std::nullopt), ErrorCode::kNone);
  EXPECT_EQ(coord_->Heartbeat("g", 1, b, std::nullopt), ErrorCode::kIllegalGeneration);
}

TEST_F(GroupCoordinatorTest, FollowerRejoinWithSameMetadataKeepsGeneration) {
  auto [a, b] = StablePair();
  JoinGroupResult same = coord_->JoinGroup(Request(b, "b"));
  EXPECT_EQ(same.error, ErrorCode::kNone);
  EXPECT_EQ(same.generation_id, 2);
  EXPECT_EQ(same.leader, a);
  EXPECT_EQ(State(), "Stable");

  // Changed metadata: a rebalance, which completes when the leader rejoins.
  AsyncJoin changed(coord_.get(), [&] {
    return coord_->JoinGroup(Request(b, "b", {{"range", "new-meta"}}));
  });
  ASSERT_TRUE(WaitUntil([&] { return State() == "PreparingRebalance"; }));
  JoinGroupResult ja = coord_->JoinGroup(Request(a, "a"));
  EXPECT_EQ(ja.generation_id, 3);
  ASSERT_EQ(ja.members.size(), 2u);
  EXPECT_EQ(ja.members[1].metadata, "new-meta");
  EXPECT_EQ(changed.Get().generation_id, 3);
}

TEST_F(GroupCoordinatorTest, SessionTimeoutRemovesMemberAndRebalances) {
  auto [a, b] = StablePair();
  clock_.Advance(kSession / 2);
  EXPECT_EQ(coord_->Heartbeat("g", 2, a, std::nullopt), ErrorCode::kNone);
  coord_->Tick();
  EXPECT_EQ(State(), "Stable");
  clock_.Advance(kSession / 2 + 1);
  coord_->Tick();  // b has been silent for a whole session; a has not

  GroupDescription d = coord_->DescribeGroup("g");
  EXPECT_EQ(d.state, "PreparingRebalance");
  ASSERT_EQ(d.members.size(), 1u);
  EXPECT_EQ(d.members[0].member_id, a);
  EXPECT_EQ(coord_->Heartbeat("g", 2, b, std::nullopt), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coord_->Heartbeat("g", 2, a, std::nullopt), ErrorCode::kRebalanceInProgress);

  JoinGroupResult ja = coord_->JoinGroup(Request(a, "a"));
  EXPECT_EQ(ja.error, ErrorCode::kNone);
  EXPECT_EQ(ja.generation_id, 3);
  EXPECT_EQ(ja.members.size(), 1u);
}

TEST_F(GroupCoordinatorTest, RebalanceTimeoutRemovesMemberThatNeverRejoins) {
  constexpr int32_t kLongSession = 60000;
  auto [a, b] = StablePair(kLongSession, kRebalance);
  std::string c = NewMemberId(Request("", "c", {}, kLongSession, kRebalance));
  AsyncJoin join_c(coord_.get(), [&] {
    return coord_->JoinGroup(Request(c, "c", {}, kLongSession, kRebalance));
  });
  ASSERT_TRUE(WaitUntil([&] { return State() == "PreparingRebalance"; }));
  AsyncJoin join_a(coord_.get(), [&] {
    return coord_->JoinGroup(Request(a, "a", {}, kLongSession, kRebalance));
  });
  ASSERT_TRUE(WaitUntil([&] { return coord_->ParkedRequestCount() == 2; }));

  clock_.Advance(kRebalance - 1);
  coord_->Tick();
  EXPECT_EQ(State(), "PreparingRebalance");
  EXPECT_FALSE(join_a.done());
  clock_.Advance(1);
  coord_->Tick();

  JoinGroupResult ja = join_a.Get();
  JoinGroupResult jc = join_c.Get();
  EXPECT_EQ(ja.error, ErrorCode::kNone);
  EXPECT_EQ(ja.generation_id, 3);
  EXPECT_EQ(ja.leader, a);
  ASSERT_EQ(ja.members.size(), 2u);
  EXPECT_EQ(ja.members[1].member_id, c);
  EXPECT_EQ(jc.generation_id, 3);
  GroupDescription d = coord_->DescribeGroup("g");
  EXPECT_EQ(d.state, "CompletingRebalance");
  EXPECT_EQ(d.members.size(), 2u);
  EXPECT_EQ(coord_->Heartbeat("g", 2, b, std::nullopt), ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, InitialRebalanceDelayHoldsFirstJoin) {
  GroupOptions options;
  options.initial_rebalance_delay_ms = 3000;
  Reopen(options);
  std::string id = NewMemberId(Request("", "a"));
  AsyncJoin join(coord_.get(), [&] { return coord_->JoinGroup(Request(id, "a")); });
  ASSERT_TRUE(WaitUntil([&] { return coord_->ParkedRequestCount() == 1; }));
  coord_->Tick();
  EXPECT_EQ(State(), "PreparingRebalance");
  clock_.Advance(3000);
  coord_->Tick();
  JoinGroupResult j = join.Get();
  EXPECT_EQ(j.error, ErrorCode::kNone);
  EXPECT_EQ(j.generation_id, 1);
}

TEST_F(GroupCoordinatorTest, PendingMemberIdIsForgottenAfterSessionTimeout) {
  std::string id = NewMemberId(Request("", "a"));
  clock_.Advance(kSession);
  coord_->Tick();
  EXPECT_EQ(coord_->JoinGroup(Request(id, "a")).error, ErrorCode::kUnknownMemberId);
}

TEST_F(GroupCoordinatorTest, LeaveGroupRebalancesThenEmptiesGroup) {
  auto [a, b] = StablePair();
  EXPECT_EQ(coord_->LeaveGroup("g", "nobody"), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coord_->LeaveGroup("other", a), ErrorCode::kUnknownMemberId);
  EXPECT_EQ(coord_->LeaveGroup("g", b), ErrorCode::kNone);
  EXPECT_EQ(State(), "PreparingRebalance");
  JoinGroupResult ja = coord_->JoinGroup(Request(a, "a"));
  EXPECT_EQ(ja.generation_id, 3);
  EXPECT_EQ(ja.members.size(), 1u);
  EXPECT_EQ(Sync(a, 3, {{a, "x"}}).assignment, "x");

  EXPECT_EQ(coord_->LeaveGroup("g", a), ErrorCode::kNone);
  GroupDescription d = coord_->DescribeGroup("g");
  EXPECT_EQ(d.state, "Empty");
  EXPECT_TRUE(d.members.empty());
  EXPECT_EQ(coord_->Heartbeat("g", 3, a, std::nullopt), ErrorCode::kUnknownMemberId);

  // The generation survives the empty spell.
  std::string c = NewMemberId(Request("", "c"));
  EXPECT_EQ(coord_->JoinGroup(Request(c, "c")).generation_id, 4);
}

TEST_F(GroupCoordinatorTest, LeaderLeavingHandsLeadershipOver) {
  auto [a, b] = StablePair();
  EXPECT_EQ(coord_->LeaveGroup("g", a), ErrorCode::kNone);
  // b is the only member left; its rejoin completes at once and it leads.
  JoinGroupResult jb = coord_->JoinGroup(Request(b, "b"));
  EXPECT_EQ(jb.generation_id, 3);
  EXPECT_EQ(jb.leader, b);
}

TEST_F(GroupCoordinatorTest, RejectsInvalidJoins) {
  std::string a = StableSingle();
  JoinGroupRequestData r = Request("", "x");
  r.api_version = 3;

  JoinGroupRequestData other_protocol = r;
  other_protocol.protocols = {{"roundrobin", "m"}};
  EXPECT_EQ(coord_->JoinGroup(other_protocol).error, ErrorCode::kInconsistentGroupProtocol);
  JoinGroupRequestData other_type = r;
  other_type.protocol_type = "connect";
  EXPECT_EQ(coord_->JoinGroup(other_type).error, ErrorCode::kInconsistentGroupProtocol);
  JoinGroupRequestData no_protocols = r;
  no_protocols.protocols.clear();
  EXPECT_EQ(coord_->JoinGroup(no_protocols).error, ErrorCode::kInconsistentGroupProtocol);

  JoinGroupRequestData no_group = r;
  no_group.group_id.clear();
  EXPECT_EQ(coord_->JoinGroup(no_group).error, ErrorCode::kInvalidGroupId);

  JoinGroupRequestData too_short = r;
  too_short.session_timeout_ms = 999;
  EXPECT_EQ(coord_->JoinGroup(too_short).error, ErrorCode::kInvalidSessionTimeout);
  JoinGroupRequestData too_long = r;
  too_long.session_timeout_ms = 1800001;
  EXPECT_EQ(coord_->JoinGroup(too_long).error, ErrorCode::kInvalidSessionTimeout);

  EXPECT_EQ(coord_->JoinGroup(Request("made-up", "x")).error, ErrorCode::kUnknownMemberId);
  JoinGroupRequestData unknown_group = Request("made-up", "x");
  unknown_group.group_id = "nope";
  EXPECT_EQ(coord_->JoinGroup(unknown_group).error, ErrorCode::kUnknownMemberId);

  // None of that disturbed the group.
  EXPECT_EQ(State(), "Stable");
  EXPECT_EQ(coord_->DescribeGroup("g").members.size(), 1u);
  EXPECT_EQ(coord_->Heartbeat("g", 1, a, std::nullopt), ErrorCode::kNone);
}

TEST_F(GroupCoordinatorTest, CooperativeStickyMetadataPassesThrough) {
  const std::string sticky_meta("\x00\x01\x00\x00\xff\xfe", 6);
  std::vector<JoinGroupRequestData::Protocol> both = {{"cooperative-sticky", sticky_meta},
                                                      {"range", "r"}};
  std::string a = NewMemberId(Request("", "a", both));
  JoinGroupResult ja = coord_->JoinGroup(Request(a, "a", both));
  EXPECT_EQ(ja.protocol_name, "cooperative-sticky");
  const std::string assignment("\x00\x03\x00", 3);
  EXPECT_EQ(Sync(a, 1, {{a, assignment}}).assignment, assignment);

  // A member that only speaks range: range is the protocol they share.
  std::string b = NewMemberId(Request("", "b", {{"range", "rb"}}));
  AsyncJoin join_b(coord_.get(), [&] {
    return coord_->JoinGroup(Request(b, "b", {{"range", "rb"}}));
  });
  ASSERT_TRUE(WaitUntil([&] { return State() == "PreparingRebalance"; }));
  JoinGroupResult again = coord_->JoinGroup(Request(a, "a", both));
  EXPECT_EQ(again.protocol_name, "range");
  ASSERT_EQ(again.members.size(), 2u);
  EXPECT_EQ(again.members[0].metadata, "r");
  EXPECT_EQ(again.members[1].metadata, "rb");
  EXPECT_EQ(join_b.Get().protocol_name, "range");
}

TEST_F(GroupCoordinatorTest, CommitValidatesMemberAndGeneration) {
  std::string a = StableSingle();
  std::vector<CommitOffset> one = {{"t", 0, 42, 3, "m"}};
  EXPECT_EQ(coord_->CommitOffsets("g", 2, a, one), std::vector{ErrorCode::kIllegalGeneration});
  EXPECT_EQ(coord_->CommitOffsets("g", 1, "nobody", one), std::vector{ErrorCode::kUnknownMemberId});
  EXPECT_EQ(coord_->CommitOffsets("g", -1, "", one), std::vector{ErrorCode::kIllegalGeneration});
  EXPECT_EQ(coord_->CommitOffsets("nope", 1, a, one), std::vector{ErrorCode::kIllegalGeneration});
  EXPECT_EQ(coord_->CommitOffsets("", -1, "", one), std::vector{ErrorCode::kInvalidGroupId});
  EXPECT_TRUE(FetchAll("g").empty());

  EXPECT_EQ(coord_->CommitOffsets("g", 1, a, one), std::vector{ErrorCode::kNone});
  auto fetched =
      coord_->FetchOffsets("g", std::vector<std::pair<std::string, int32_t>>{{"t", 0}, {"t", 1}});
  ASSERT_EQ(fetched.size(), 2u);
  EXPECT_EQ(fetched[0].offset, 42);
  EXPECT_EQ(fetched[0].leader_epoch, 3);
  EXPECT_EQ(fetched[0].metadata, "m");
  EXPECT_EQ(fetched[0].error, ErrorCode::kNone);
  EXPECT_EQ(fetched[1].topic, "t");
  EXPECT_EQ(fetched[1].partition, 1);
  EXPECT_EQ(fetched[1].offset, -1);
  EXPECT_EQ(fetched[1].error, ErrorCode::kNone);
}

TEST_F(GroupCoordinatorTest, CommitAcceptedWhilePreparingRefusedWhileCompleting) {
  std::string a = StableSingle();
  std::string b = NewMemberId(Request("", "b"));
  AsyncJoin join_b(coord_.get(), [&] { return coord_->JoinGroup(Request(b, "b")); });
  ASSERT_TRUE(WaitUntil([&] { return State() == "PreparingRebalance"; }));
  EXPECT_EQ(coord_->CommitOffsets("g", 1, a, {{"t", 0, 10, -1, std::nullopt}}),
            std::vector{ErrorCode::kNone});

  JoinGroupResult ja = coord_->JoinGroup(Request(a, "a"));
  ASSERT_EQ(ja.generation_id, 2);
  EXPECT_EQ(join_b.Get().generation_id, 2);
  EXPECT_EQ(State(), "CompletingRebalance");
  EXPECT_EQ(coord_->CommitOffsets("g", 2, a, {{"t", 0, 11, -1, std::nullopt}}),
            std::vector{ErrorCode::kRebalanceInProgress});
  auto fetched = FetchAll("g");
  ASSERT_EQ(fetched.size(), 1u);
  EXPECT_EQ(fetched[0].offset, 10);
  EXPECT_FALSE(fetched[0].metadata.has_value());
}

TEST_F(GroupCoordinatorTest, SimpleCommitOnMemberlessGroup) {
  EXPECT_EQ(coord_->DescribeGroup("simple").state, "Dead");
  EXPECT_EQ(coord_->DescribeGroup("simple").error, ErrorCode::kNone);
  std::string big(4097, 'x');
  auto errors = coord_->CommitOffsets(
      "simple", -1, "", {{"t", 0, 5, -1, ""}, {"t", 1, 6, -1, big}, {"u", 2, 7, 1, "meta"}});
  EXPECT_EQ(errors,
            (std::vector{ErrorCode::kNone, ErrorCode::kInvalidCommitOffsetSize, ErrorCode::kNone}));
  auto fetched = FetchAll("simple");
  ASSERT_EQ(fetched.size(), 2u);
  EXPECT_EQ(fetched[0].topic, "t");
  EXPECT_EQ(fetched[0].offset, 5);
  EXPECT_EQ(fetched[0].metadata, "");
  EXPECT_EQ(fetched[1].topic, "u");
  EXPECT_EQ(fetched[1].offset, 7);

  GroupDescription d = coord_->DescribeGroup("simple");
  EXPECT_EQ(d.state, "Empty");
  auto groups = coord_->ListGroups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].group_id, "simple");
  EXPECT_EQ(groups[0].state, "Empty");
  coord_->Tick();  // a group with offsets is kept
  EXPECT_EQ(coord_->DescribeGroup("simple").state, "Empty");
}

TEST_F(GroupCoordinatorTest, ListAndDescribeFollowStates) {
  EXPECT_TRUE(coord_->ListGroups().empty());
  std::string a = StableSingle();
  auto groups = coord_->ListGroups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].group_id, "g");
  EXPECT_EQ(groups[0].protocol_type, "consumer");
  EXPECT_EQ(groups[0].state, "Stable");

  EXPECT_EQ(coord_->LeaveGroup("g", a), ErrorCode::kNone);
  EXPECT_EQ(State(), "Empty");
  EXPECT_TRUE(coord_->ListGroups().empty());  // no members, no offsets
  coord_->Tick();
  EXPECT_EQ(State(), "Dead");  // forgotten
}

TEST_F(GroupCoordinatorTest, OffsetsPersistAcrossReopen) {
  ASSERT_EQ(coord_->CommitOffsets("g1", -1, "",
                                  {{"t", 0, 100, 7, "meta"}, {"t", 1, 200, -1, std::nullopt}}),
            (std::vector{ErrorCode::kNone, ErrorCode::kNone}));
  ASSERT_EQ(coord_->CommitOffsets("g1", -1, "", {{"t", 0, 150, 8, ""}}),
            std::vector{ErrorCode::kNone});
  ASSERT_EQ(coord_->CommitOffsets("g2", -1, "", {{"u", 3, 9, -1, "x"}}),
            std::vector{ErrorCode::kNone});
  GroupOptions options;
  options.fsync = true;
  Reopen(options);

  auto g1 = FetchAll("g1");
  ASSERT_EQ(g1.size(), 2u);
  EXPECT_EQ(g1[0].offset, 150);
  EXPECT_EQ(g1[0].leader_epoch, 8);
  EXPECT_EQ(g1[0].metadata, "");
  EXPECT_EQ(g1[1].offset, 200);
  EXPECT_FALSE(g1[1].metadata.has_value());
  auto g2 = FetchAll("g2");
  ASSERT_EQ(g2.size(), 1u);
  EXPECT_EQ(g2[0].metadata, "x");
  EXPECT_EQ(coord_->ListGroups().size(), 2u);
}

TEST_F(GroupCoordinatorTest, TornTailIsTruncatedOnReopen) {
  ASSERT_EQ(coord_->CommitOffsets("g", -1, "", {{"t", 0, 1, -1, "a"}}),
            std::vector{ErrorCode::kNone});
  ASSERT_EQ(coord_->CommitOffsets("g", -1, "", {{"t", 1, 2, -1, "b"}}),
            std::vector{ErrorCode::kNone});
  coord_.reset();
  auto good_size = std::filesystem::file_size(LogPath());
  {
    std::ofstream out(LogPath(), std::ios::binary | std::ios::app);
    out.write("\x30\x00\x00\x00garbage", 11);  // claims 48 payload bytes, has 7
  }
  Reopen();
  EXPECT_EQ(std::filesystem::file_size(LogPath()), good_size);
  EXPECT_EQ(FetchAll("g").size(), 2u);

  // Commits after recovery land after the good records and survive.
  ASSERT_EQ(coord_->CommitOffsets("g", -1, "", {{"t", 2, 3, -1, "c"}}),
            std::vector{ErrorCode::kNone});
  Reopen();
  EXPECT_EQ(FetchAll("g").size(), 3u);
}

TEST_F(GroupCoordinatorTest, CorruptLastRecordIsDropped) {
  ASSERT_EQ(coord_->CommitOffsets("g", -1, "", {{"t", 0, 1, -1, "a"}}),
            std::vector{ErrorCode::kNone});
  coord_.reset();
  auto first_size = std::filesystem::file_size(LogPath());
  Reopen();
  ASSERT_EQ(coord_->CommitOffsets("g", -1, "", {{"t", 1, 2, -1, "b"}}),
            std::vector{ErrorCode::kNone});
  coord_.reset();
  {
    std::fstream f(LogPath(), std::ios::binary | std::ios::in | std::ios::out);
    f.seekp(-1, std::ios::end);
    f.put('\x7f');  // the last record's commit time: its CRC no longer matches
  }
  Reopen();
  EXPECT_EQ(std::filesystem::file_size(LogPath()), first_size);
  auto fetched = FetchAll("g");
  ASSERT_EQ(fetched.size(), 1u);
  EXPECT_EQ(fetched[0].partition, 0);
}

TEST_F(GroupCoordinatorTest, DeleteTopicOffsetsPersists) {
  ASSERT_EQ(coord_->CommitOffsets("g", -1, "", {{"gone", 0, 1, -1, ""}, {"kept", 0, 2, -1, ""}}),
            (std::vector{ErrorCode::kNone, ErrorCode::kNone}));
  ASSERT_EQ(coord_->CommitOffsets("h", -1, "", {{"gone", 4, 1, -1, ""}}),
            std::vector{ErrorCode::kNone});
  coord_->DeleteTopicOffsets("gone");
  auto fetched = FetchAll("g");
  ASSERT_EQ(fetched.size(), 1u);
  EXPECT_EQ(fetched[0].topic, "kept");
  EXPECT_TRUE(FetchAll("h").empty());

  Reopen();
  fetched = FetchAll("g");
  ASSERT_EQ(fetched.size(), 1u);
  EXPECT_EQ(fetched[0].topic, "kept");
  EXPECT_TRUE(FetchAll("h").empty());
  coord_->Tick();
  EXPECT_EQ(coord_->DescribeGroup("h").state, "Dead");  // nothing left of it
}

TEST_F(GroupCoordinatorTest, CompactionPreservesState) {
  ASSERT_EQ(coord_->CommitOffsets("other", -1, "", {{"keep", 5, 55, 2, "early"}}),
            std::vector{ErrorCode::kNone});
  const std::string metadata(200, 'm');
  constexpr int kBatches = 200;
  constexpr int kPerBatch = 50;
  int64_t last = 0;
  std::array<int64_t, 4> expected{};
  for (int i = 0; i < kBatches; ++i) {
    std::vector<CommitOffset> batch;
    for (int j = 0; j < kPerBatch; ++j) {
      batch.push_back({"hot", j % 4, ++last, -1, metadata});
      expected[j % 4] = last;
    }
    auto errors = coord_->CommitOffsets("g", -1, "", batch);
    ASSERT_EQ(errors, std::vector<ErrorCode>(kPerBatch, ErrorCode::kNone));
  }
  // About 2.5 MB were appended; compaction keeps the log near its 1 MiB floor.
  EXPECT_LT(std::filesystem::file_size(LogPath()), 3u << 19);
  EXPECT_FALSE(std::filesystem::exists(GroupsDir() / "offsets.log.tmp"));

  Reopen();
  auto hot = FetchAll("g");
  ASSERT_EQ(hot.size(), 4u);
  for (int p = 0; p < 4; ++p) {
    EXPECT_EQ(hot[p].partition, p);
    EXPECT_EQ(hot[p].offset, expected[p]);
    EXPECT_EQ(hot[p].metadata, metadata);
  }
  auto other = FetchAll("other");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].offset, 55);
  EXPECT_EQ(other[0].leader_epoch, 2);
  EXPECT_EQ(other[0].metadata, "early");
}

TEST_F(GroupCoordinatorTest, ShutdownReleasesParkedCalls) {
  GroupOptions options;
  options.initial_rebalance_delay_ms = 3000;
  Reopen(options);
  std::string id = NewMemberId(Request("", "a"));
  AsyncJoin join(coord_.get(), [&] { return coord_->JoinGroup(Request(id, "a")); });
  ASSERT_TRUE(WaitUntil([&] { return coord_->ParkedRequestCount() == 1; }));
  coord_->Shutdown();
  EXPECT_EQ(join.Get().error, ErrorCode::kCoordinatorNotAvailable);
  EXPECT_EQ(coord_->Heartbeat("g", 0, id, std::nullopt), ErrorCode::kCoordinatorNotAvailable);
  EXPECT_EQ(coord_->JoinGroup(Request("", "b")).error, ErrorCode::kCoordinatorNotAvailable);
  EXPECT_EQ(coord_->CommitOffsets("g", -1, "", {{"t", 0, 1, -1, ""}}),
            std::vector{ErrorCode::kCoordinatorNotAvailable});
  EXPECT_EQ(coord_->ParkedRequestCount(), 0u);
}

TEST_F(GroupCoordinatorTest, ShutdownReleasesParkedSync) {
  auto [a, b] = StablePair();
  std::string c = NewMemberId(Request("", "c"));
  AsyncJoin join_c(coord_.get(), [&] { return coord_->JoinGroup(Request(c, "c")); });
  ASSERT_TRUE(WaitUntil([&] { return State() == "PreparingRebalance"; }));
  AsyncJoin join_b(coord_.get(), [&] { return coord_->JoinGroup(Request(b, "b")); });
  ASSERT_TRUE(WaitUntil([&] { return coord_->ParkedRequestCount() == 2; }));
  EXPECT_EQ(coord_->JoinGroup(Request(a, "a")).generation_id, 3);
  EXPECT_EQ(join_b.Get().generation_id, 3);
  EXPECT_EQ(join_c.Get().generation_id, 3);
  AsyncSync sync_c(coord_.get(), [&] { return Sync(c, 3); });
  ASSERT_TRUE(WaitUntil([&] { return coord_->ParkedRequestCount() == 1; }));
  coord_->Shutdown();
  EXPECT_EQ(sync_c.Get().error, ErrorCode::kCoordinatorNotAvailable);
}

TEST_F(GroupCoordinatorTest, NewJoinDuringCompletingFailsParkedSync) {
  std::string a = StableSingle();
  std::string b = NewMemberId(Request("", "b"));
  AsyncJoin join_b(coord_.get(), [&] { return coord_->JoinGroup(Request(b, "b")); });
  ASSERT_TRUE(WaitUntil([&] { return State() == "PreparingRebalance"; }));
  ASSERT_EQ(coord_->JoinGroup(Request(a, "a")).generation_id, 2);
  ASSERT_EQ(join_b.Get().generation_id, 2);

  // b waits for the leader's assignment; a newcomer restarts the rebalance.
  AsyncSync sync_b(coord_.get(), [&] { return Sync(b, 2); });
  ASSERT_TRUE(WaitUntil([&] { return coord_->ParkedRequestCount() == 1; }));
  std::string c = NewMemberId(Request("", "c"));
  AsyncJoin join_c(coord_.get(), [&] { return coord_->JoinGroup(Request(c, "c")); });
  EXPECT_EQ(sync_b.Get().error, ErrorCode::kRebalanceInProgress);
  EXPECT_EQ(State(), "PreparingRebalance");
  EXPECT_EQ(Sync(a, 2, {{a, "x"}}).error, ErrorCode::kRebalanceInProgress);

  AsyncJoin rejoin_b(coord_.get(), [&] { return coord_->JoinGroup(Request(b, "b")); });
  ASSERT_TRUE(WaitUntil([&] { return coord_->ParkedRequestCount() == 2; }));
  EXPECT_EQ(coord_->JoinGroup(Request(a, "a")).generation_id, 3);
  EXPECT_EQ(rejoin_b.Get().generation_id, 3);
  EXPECT_EQ(join_c.Get().generation_id, 3);
}

}  // namespace
}  // namespace weir::broker
