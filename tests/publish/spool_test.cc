// Spool: durable storage of records the cluster could not take yet.
#include "weir/publish/spool.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/test_support.h"

namespace weir::publish {
namespace {

using weir::testing::TempDir;

SpoolRecord Rec(int64_t seq, std::string topic = "t", std::optional<std::string> key = "k") {
  SpoolRecord r;
  r.seq = seq;
  r.topic = std::move(topic);
  r.key = std::move(key);
  r.value = "value-" + std::to_string(seq);
  r.headers = {{"weir-event-type", "E"}, {"nullable", std::nullopt}, {"empty", ""}};
  r.event_type = "E";
  r.created_ms = 1000 + seq;
  return r;
}

TEST(SpoolTest, StoresReadsInSeqOrderAndSurvivesReopen) {
  TempDir dir;
  const std::string path = dir.path() + "/spool";
  {
    auto spool = Spool::Open(path, 1 << 20);
    ASSERT_TRUE(spool.ok()) << spool.status().ToString();
    std::vector<SpoolRecord> a = {Rec(5), Rec(2, "u", std::nullopt)};
    ASSERT_TRUE((*spool)->Append(a).ok());
    std::vector<SpoolRecord> b = {Rec(9)};
    ASSERT_TRUE((*spool)->Append(b).ok());
    EXPECT_EQ((*spool)->Count(), 3);
    EXPECT_EQ((*spool)->MaxSeq(), 9);
  }
  auto spool = Spool::Open(path, 1 << 20);
  ASSERT_TRUE(spool.ok()) << spool.status().ToString();
  EXPECT_EQ((*spool)->Count(), 3);
  EXPECT_EQ((*spool)->MaxSeq(), 9);
  auto recs = (*spool)->ReadOldest(10);
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 3u);
  EXPECT_EQ((*recs)[0].seq, 2);
  EXPECT_FALSE((*recs)[0].key.has_value());
  EXPECT_EQ((*recs)[0].topic, "u");
  EXPECT_EQ((*recs)[1].seq, 5);
  EXPECT_EQ((*recs)[1].value, "value-5");
  ASSERT_EQ((*recs)[1].headers.size(), 3u);
  EXPECT_FALSE((*recs)[1].headers[1].value.has_value());
  EXPECT_EQ((*recs)[1].headers[2].value, "");
  EXPECT_EQ((*recs)[2].created_ms, 1009);

  auto after = (*spool)->ReadOldest(1, 2);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].seq, 5);

  const int64_t gone[] = {2, 5};
  ASSERT_TRUE((*spool)->Remove(gone).ok());
  EXPECT_EQ((*spool)->Count(), 1);
  SpoolStatus st = (*spool)->GetStatus();
  EXPECT_EQ(st.records, 1);
  EXPECT_EQ(st.topics.at("t").records, 1);
  EXPECT_EQ(st.oldest_created_ms, 1009);
}

TEST(SpoolTest, OneProcessOwnsASpoolAndOthersReadItsStatus) {
  TempDir dir;
  const std::string path = dir.path() + "/spool";
  auto spool = Spool::Open(path, 1 << 20);
  ASSERT_TRUE(spool.ok());
  std::vector<SpoolRecord> a = {Rec(1), Rec(2, "other")};
  ASSERT_TRUE((*spool)->Append(a).ok());
  auto second = Spool::Open(path, 1 << 20);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("in use by process " + std::to_string(::getpid())),
            std::string::npos)
      << second.status().message();
  auto st = Spool::ReadStatus(path);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->records, 2);
  EXPECT_EQ(st->topics.size(), 2u);
  EXPECT_EQ(st->owner_pid, ::getpid());
  spool->reset();
  st = Spool::ReadStatus(path);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->owner_pid, 0);
  EXPECT_EQ(Spool::ReadStatus(dir.path() + "/nothing").status().code(), StatusCode::kNotFound);
}

TEST(SpoolTest, AppendsBeyondTheLimitAreRefusedWhole) {
  TempDir dir;
  auto spool = Spool::Open(dir.path() + "/s", 600);
  ASSERT_TRUE(spool.ok());
  std::vector<SpoolRecord> a = {Rec(1), Rec(2), Rec(3)};
  ASSERT_TRUE((*spool)->Append(a).ok());
  std::vector<SpoolRecord> b = {Rec(4), Rec(5), Rec(6), Rec(7), Rec(8)};
  Status st = (*spool)->Append(b);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("is full"), std::string::npos) << st.message();
  EXPECT_EQ((*spool)->Count(), 3);
}

TEST(SpoolTest, DeadRecordsAreKeptWithTheirReason) {
  TempDir dir;
  const std::string path = dir.path() + "/s";
  auto spool = Spool::Open(path, 1 << 20);
  ASSERT_TRUE(spool.ok());
  std::vector<SpoolRecord> a = {Rec(1), Rec(2)};
  ASSERT_TRUE((*spool)->Append(a).ok());
  ASSERT_TRUE((*spool)->MarkDead(1, "MSG_SIZE_TOO_LARGE").ok());
  EXPECT_EQ((*spool)->MarkDead(7, "x").code(), StatusCode::kNotFound);
  EXPECT_EQ((*spool)->Count(), 1);
  EXPECT_EQ((*spool)->GetStatus().dead, 1);
  EXPECT_EQ((*spool)->MaxSeq(), 2);
  auto dead = Spool::ReadDead(path, 10);
  ASSERT_TRUE(dead.ok()) << dead.status().ToString();
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].record.seq, 1);
  EXPECT_EQ((*dead)[0].reason, "MSG_SIZE_TOO_LARGE");
  EXPECT_EQ((*dead)[0].record.value, "value-1");
}

TEST(SpoolTest, AFileThatIsNotASpoolIsAClearError) {
  TempDir dir;
  dir.WriteFile("s/spool.db", std::string(4096, 'x'));
  auto spool = Spool::Open(dir.path() + "/s", 1 << 20);
  ASSERT_FALSE(spool.ok());
  EXPECT_EQ(spool.status().code(), StatusCode::kCorruption) << spool.status().ToString();
  EXPECT_NE(spool.status().message().find("spool.db"), std::string::npos);
}

}  // namespace
}  // namespace weir::publish
