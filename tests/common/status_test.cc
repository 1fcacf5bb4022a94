#include "weir/status.h"

#include <gtest/gtest.h>

namespace weir {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return Status::InvalidArgument("odd: " + std::to_string(v));
  return v / 2;
}

Result<int> Quarter(int v) {
  WEIR_ASSIGN_OR_RETURN(int h, Half(v));
  WEIR_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckPositive(int v) {
  if (v <= 0) return Status::InvalidArgument("not positive");
  return Status::Ok();
}

Status CheckBoth(int a, int b) {
  WEIR_RETURN_IF_ERROR(CheckPositive(a));
  WEIR_RETURN_IF_ERROR(CheckPositive(b));
  return Status::Ok();
}

TEST(Status, OkAndErrorsFormat) {
  EXPECT_TRUE(Status::Ok().ok());
  EXPECT_EQ(Status::Ok().ToString(), "OK");
  Status s(StatusCode::kKafka, "topic t [0]: delivery failed", "_MSG_TIMED_OUT");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.ToString(), "KAFKA (_MSG_TIMED_OUT): topic t [0]: delivery failed");
  EXPECT_EQ(s.WithContext("line 7").ToString(),
            "KAFKA (_MSG_TIMED_OUT): line 7: topic t [0]: delivery failed");
  EXPECT_EQ(StatusCodeName(StatusCode::kRefused), "REFUSED");
}

TEST(Result, ValueOrStatusAndMacros) {
  EXPECT_EQ(*Quarter(12), 3);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "odd: 3");
  EXPECT_TRUE(CheckBoth(1, 2).ok());
  EXPECT_EQ(CheckBoth(1, -2).message(), "not positive");
}

TEST(Result, OkStatusWithoutValueIsAnInternalError) {
  Result<int> r{Status::Ok()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

}  // namespace
}  // namespace weir
