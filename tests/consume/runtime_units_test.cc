// The runtime's pure parts: retry delays, the reorder buffer (the FleetOps
// design's cases), the dedup store (TTL, claims, persistence).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "consume/backoff.h"
#include "consume/dedup_store.h"
#include "consume/reorder_buffer.h"
#include "support/test_support.h"

namespace weir::consume {
namespace {

using std::chrono::milliseconds;

RetryPolicy Policy(int attempts, int immediate, int64_t backoff_ms, int64_t max_ms,
                   double multiplier, double jitter) {
  RetryPolicy p;
  p.max_attempts = attempts;
  p.immediate_attempts = immediate;
  p.initial_backoff = milliseconds(backoff_ms);
  p.max_backoff = milliseconds(max_ms);
  p.multiplier = multiplier;
  p.jitter = jitter;
  p.retry_on = {ErrorClass::kProcessingFailure};
  return p;
}

TEST(BackoffTest, AlprStorageConsumerWaitsTwoThenFourSeconds) {
  const RetryPolicy p = Policy(3, 0, 2000, 60000, 2, 0);
  EXPECT_EQ(NominalRetryDelay(p, 1), milliseconds(2000));
  EXPECT_EQ(NominalRetryDelay(p, 2), milliseconds(4000));
}

TEST(BackoffTest, ActivityLogsThreeAtHundredMsThenExponentialCappedAtFiveMinutes) {
  const RetryPolicy p = Policy(20, 3, 100, 300000, 2, 0);
  std::vector<int64_t> got;
  for (int r = 1; r <= 15; ++r) got.push_back(NominalRetryDelay(p, r).count());
  EXPECT_EQ(got, (std::vector<int64_t>{100, 100, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600,
                                       51200, 102400, 204800, 300000}));
}

TEST(BackoffTest, JitterStaysWithinItsFractionAndVaries) {
  const RetryPolicy p = Policy(5, 0, 1000, 60000, 2, 0.2);
  std::mt19937_64 rng(7);
  int64_t lo = 1 << 30, hi = 0;
  for (int i = 0; i < 1000; ++i) {
    const int64_t d = RetryDelay(p, 2, rng).count();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GE(lo, 1600);
  EXPECT_LE(hi, 2400);
  EXPECT_LT(lo, 1700);  // the spread is used, not a constant
  EXPECT_GT(hi, 2300);
}

TEST(BackoffTest, RetriesOnlyTheListedClasses) {
  const RetryPolicy p = Policy(3, 0, 0, 0, 2, 0);
  EXPECT_TRUE(Retries(p, ErrorClass::kProcessingFailure));
  EXPECT_FALSE(Retries(p, ErrorClass::kSchemaValidation));
  EXPECT_FALSE(Retries(p, ErrorClass::kBusinessLogic));
}

// --- reorder buffer ----------------------------------------------------------

struct ReorderCase {
  std::string name;
  int window;
  int tolerance;
  std::vector<int64_t> arrivals;  // sequence numbers of one key, in arrival order
  std::vector<int64_t> released;  // expected release order (before any flush)
  std::vector<int64_t> late;
};

class ReorderTest : public ::testing::TestWithParam<ReorderCase> {};

TEST_P(ReorderTest, ReleasesInOrderWithinTolerance) {
  const ReorderCase& c = GetParam();
  ReorderBuffer<int64_t> buf(c.window, c.tolerance);
  std::vector<int64_t> released, late;
  const auto now = std::chrono::steady_clock::time_point{};
  for (int64_t seq : c.arrivals) buf.Offer("vehicle-1", seq, seq, now, &released, &late);
  EXPECT_EQ(released, c.released);
  EXPECT_EQ(late, c.late);
}

// FleetOps: "Ring buffer per vehicle (last 10 frames), reorder if within
// 2-frame tolerance, drop messages outside tolerance window".
INSTANTIATE_TEST_SUITE_P(
    FleetOps, ReorderTest,
    ::testing::Values(
        ReorderCase{"InOrder", 10, 2, {1, 2, 3, 4}, {1, 2, 3, 4}, {}},
        ReorderCase{"SwapWithinTolerance", 10, 2, {1, 2, 4, 3, 5}, {1, 2, 3, 4, 5}, {}},
        ReorderCase{"TwoFramesLateIsReordered", 10, 2, {1, 3, 4, 2, 5}, {1, 2, 3, 4, 5}, {}},
        // 3 is missing while 6 arrives: more than 2 frames behind, given up;
        // when it comes it is late.
        ReorderCase{
            "ThreeFramesLateIsDropped", 10, 2, {1, 2, 4, 5, 6, 3, 7}, {1, 2, 4, 5, 6, 7}, {3}},
        ReorderCase{"DuplicateFrameIsLate", 10, 2, {1, 2, 2, 3}, {1, 2, 3}, {2}},
        ReorderCase{"WindowBoundsHeldFrames", 2, 100, {1, 3, 4, 5, 6}, {1, 3, 4, 5, 6}, {}},
        ReorderCase{"HeldFrameRepeatedIsLate", 10, 2, {1, 3, 3, 2}, {1, 2, 3}, {3}}),
    [](const ::testing::TestParamInfo<ReorderCase>& c) { return c.param.name; });

TEST(ReorderBufferTest, KeysAreIndependent) {
  ReorderBuffer<std::string> buf(10, 2);
  std::vector<std::string> released, late;
  const auto now = std::chrono::steady_clock::time_point{};
  buf.Offer("a", 1, "a1", now, &released, &late);
  buf.Offer("b", 5, "b5", now, &released, &late);
  buf.Offer("a", 3, "a3", now, &released, &late);  // waits for a2
  buf.Offer("b", 6, "b6", now, &released, &late);
  buf.Offer("a", 2, "a2", now, &released, &late);
  EXPECT_EQ(released, (std::vector<std::string>{"a1", "b5", "b6", "a2", "a3"}));
  EXPECT_TRUE(late.empty());
}

TEST(ReorderBufferTest, ExpireReleasesRecordsHeldTooLong) {
  ReorderBuffer<int64_t> buf(10, 2);
  std::vector<int64_t> released, late;
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  buf.Offer("v", 1, 1, t0, &released, &late);
  buf.Offer("v", 3, 3, t0 + milliseconds(10), &released, &late);  // 2 missing
  EXPECT_EQ(released, (std::vector<int64_t>{1}));
  EXPECT_EQ(buf.held(), 1u);
  EXPECT_EQ(buf.OldestHeld(), t0 + milliseconds(10));
  buf.Expire(t0 + milliseconds(5), &released);  // not yet
  EXPECT_EQ(buf.held(), 1u);
  buf.Expire(t0 + milliseconds(11), &released);
  EXPECT_EQ(released, (std::vector<int64_t>{1, 3}));
  buf.Offer("v", 2, 2, t0 + milliseconds(20), &released, &late);  // gave up on it
  EXPECT_EQ(late, (std::vector<int64_t>{2}));
}

// --- dedup store --------------------------------------------------------------

TEST(DedupStoreTest, ClaimDoneAndExpiry) {
  DedupStore s(milliseconds(60000));
  EXPECT_EQ(s.Claim("v1\x1f"
                    "e1",
                    1000),
            DedupStore::ClaimResult::kClaimed);
  EXPECT_EQ(s.Claim("v1\x1f"
                    "e1",
                    1001),
            DedupStore::ClaimResult::kInProgress);
  ASSERT_TRUE(s.Done("v1\x1f"
                     "e1",
                     1002)
                  .ok());
  EXPECT_EQ(s.Claim("v1\x1f"
                    "e1",
                    61001),
            DedupStore::ClaimResult::kDone);
  // FleetOps: 60 s TTL on (vehicle_id, event_id).
  EXPECT_EQ(s.Claim("v1\x1f"
                    "e1",
                    61002),
            DedupStore::ClaimResult::kClaimed);
}

TEST(DedupStoreTest, ReleaseForgetsAClaimButNotAHandledKey) {
  DedupStore s(milliseconds(1000));
  EXPECT_EQ(s.Claim("a", 0), DedupStore::ClaimResult::kClaimed);
  s.Release("a");
  EXPECT_EQ(s.Claim("a", 1), DedupStore::ClaimResult::kClaimed);
  ASSERT_TRUE(s.Done("a", 2).ok());
  s.Release("a");
  EXPECT_EQ(s.Claim("a", 3), DedupStore::ClaimResult::kDone);
}

TEST(DedupStoreTest, HandledAgainKeepsTheLaterExpiry) {
  DedupStore s(milliseconds(100));
  ASSERT_TRUE(s.Done("a", 0).ok());
  ASSERT_TRUE(s.Done("a", 50).ok());  // expires at 150, not 100
  EXPECT_EQ(s.Claim("a", 120), DedupStore::ClaimResult::kDone);
  EXPECT_EQ(s.Claim("b", 120), DedupStore::ClaimResult::kClaimed);
}

TEST(DedupStoreTest, PersistentKeysSurviveAReopenUntilTheyExpire) {
  weir::testing::TempDir dir;
  const std::string path = dir.path() + "/dedup/group.sqlite";
  {
    auto s = DedupStore::OpenPersistent(path, milliseconds(60000), 1000);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ((*s)->Claim("k1", 1000), DedupStore::ClaimResult::kClaimed);
    ASSERT_TRUE((*s)->Done("k1", 1000).ok());
    EXPECT_EQ((*s)->Claim("k2", 1000), DedupStore::ClaimResult::kClaimed);  // never done
  }
  {
    auto s = DedupStore::OpenPersistent(path, milliseconds(60000), 2000);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ((*s)->Claim("k1", 2000), DedupStore::ClaimResult::kDone);
    EXPECT_EQ((*s)->Claim("k2", 2000), DedupStore::ClaimResult::kClaimed);
  }
  {
    auto s = DedupStore::OpenPersistent(path, milliseconds(60000), 61001);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ((*s)->Claim("k1", 61001), DedupStore::ClaimResult::kClaimed);
  }
}

TEST(DedupStoreTest, UnusablePathIsAnError) {
  auto s = DedupStore::OpenPersistent("/proc/weir-cannot/dedup.sqlite", milliseconds(1000), 0);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("/proc/weir-cannot"), std::string::npos);
}

}  // namespace
}  // namespace weir::consume
