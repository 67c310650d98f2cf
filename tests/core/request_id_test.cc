#include "core/request_id.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>

namespace edwc::core {
namespace {

TEST(RequestIdTest, ValidIdsAreShortAndPlain) {
  for (std::string_view id : {"a", "test-abc", "A.b_c:d-9", "0123456789abcdef"}) {
    EXPECT_TRUE(IsValidRequestId(id)) << id;
  }
  EXPECT_TRUE(IsValidRequestId(std::string(64, 'x')));
  EXPECT_FALSE(IsValidRequestId(std::string(65, 'x')));
  for (std::string_view id :
       {"", "has space", "semi;colon", "new\nline", "slash/", "ü", "a\"b", "=", "percent%20"}) {
    EXPECT_FALSE(IsValidRequestId(id)) << id;
  }
}

TEST(RequestIdTest, NewIdsAreSixteenHexDigitsAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = NewRequestId();
    ASSERT_EQ(id.size(), 16u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    EXPECT_TRUE(IsValidRequestId(id));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(RequestIdTest, ScopesNestAndRestore) {
  EXPECT_EQ(CurrentRequestId(), "");
  {
    ScopedRequestId outer("outer");
    EXPECT_EQ(CurrentRequestId(), "outer");
    {
      ScopedRequestId inner("inner");
      EXPECT_EQ(CurrentRequestId(), "inner");
      ScopedRequestId none("");
      EXPECT_EQ(CurrentRequestId(), "");
    }
    EXPECT_EQ(CurrentRequestId(), "outer");
  }
  EXPECT_EQ(CurrentRequestId(), "");
}

TEST(RequestIdTest, TheCurrentIdBelongsToItsThread) {
  ScopedRequestId mine("main-thread");
  std::string seen_there = "unset";
  std::thread([&] { seen_there = std::string(CurrentRequestId()); }).join();
  EXPECT_EQ(seen_there, "");
  EXPECT_EQ(CurrentRequestId(), "main-thread");
}

}  // namespace
}  // namespace edwc::core
