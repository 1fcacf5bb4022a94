#include "weir/record.h"

#include <gtest/gtest.h>

#include <thread>

namespace weir {
namespace {

TEST(Record, OwnedKeepsBytesIncludingNulls) {
  std::string bin("a\0b", 3);
  Record r = Record::Owned("alpr.events.plates", Partition(2), Offset(41),
                           Timestamp{1700000000000, TimestampType::kCreateTime}, std::nullopt, bin,
                           {Header{"source", "api"}, Header{"trace", std::nullopt}});
  EXPECT_EQ(r.topic(), "alpr.events.plates");
  EXPECT_EQ(r.partition(), Partition(2));
  EXPECT_EQ(r.offset(), Offset(41));
  EXPECT_FALSE(r.key().has_value());
  ASSERT_TRUE(r.value().has_value());
  EXPECT_EQ(*r.value(), bin);
  ASSERT_EQ(r.headers().size(), 2u);
  EXPECT_EQ(r.FindHeader("source")->value, std::optional<std::string_view>("api"));
  EXPECT_FALSE(r.FindHeader("trace")->value.has_value());
  EXPECT_EQ(r.FindHeader("missing"), nullptr);
}

TEST(Record, MovesAndClonesAcrossThreads) {
  Record r = Record::Owned("t", Partition(0), Offset(1), {}, std::string("k"), std::string(""));
  Record c = r.Clone();
  Record moved = std::move(r);
  std::thread([m = std::move(moved)] { EXPECT_EQ(*m.key(), "k"); }).join();
  EXPECT_EQ(*c.key(), "k");
  EXPECT_EQ(*c.value(), "");  // empty is not null
}

TEST(Record, OffsetNamesAndStrongTypes) {
  EXPECT_EQ(OffsetToString(kOffsetBeginning), "beginning");
  EXPECT_EQ(OffsetToString(kOffsetEnd), "end");
  EXPECT_EQ(OffsetToString(Offset(7)), "7");
  static_assert(!std::is_convertible_v<Offset, Partition>);
  static_assert(!std::is_convertible_v<int64_t, Offset>);
  EXPECT_LT(Offset(1), Offset(2));
}

}  // namespace
}  // namespace weir
