#include "core/status.h"

#include <gtest/gtest.h>

namespace edwc::core {
namespace {

TEST(StatusTest, CodeNamesAreLowerSnake) {
  EXPECT_EQ(CodeName(Code::kOk), "ok");
  EXPECT_EQ(CodeName(Code::kInvalidArgument), "invalid_argument");
  EXPECT_EQ(CodeName(Code::kMethodNotAllowed), "method_not_allowed");
  EXPECT_EQ(CodeName(Code::kHeadersTooLarge), "headers_too_large");
  EXPECT_EQ(CodeName(Code::kFailedPrecondition), "failed_precondition");
  EXPECT_EQ(CodeName(Code::kIoError), "io_error");
  EXPECT_EQ(CodeName(Code::kInternal), "internal");
}

TEST(StatusTest, ToStringIncludesFieldWhenSet) {
  EXPECT_EQ(InvalidArgument("must be at least 1", "count").ToString(),
            "invalid_argument: count: must be at least 1");
  EXPECT_EQ(NotFound("no such job").ToString(), "not_found: no such job");
  EXPECT_EQ(Status::Ok().ToString(), "ok");
}

TEST(StatusTest, WithContextPrefixesMessageAndKeepsCodeAndField) {
  const Status s = InvalidArgument("must be a string", "name").WithContext("center.yaml");
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "center.yaml: must be a string");
  EXPECT_EQ(s.field(), "name");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

TEST(StatusTest, ResultHoldsValueOrStatus) {
  Result<int> good(7);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad(NotFound("gone"));
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace edwc::core
