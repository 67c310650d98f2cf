#include "core/ids.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace edwc::core {
namespace {

TEST(IdsTest, CenterIdAcceptsValidSyntax) {
  for (const std::string& text : std::vector<std::string>{
           "a", "beijing", "wuhan-2", "sz-ai-center-01", std::string(63, 'x')}) {
    Result<CenterId> r = CenterId::Parse(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    EXPECT_EQ(r->str(), text);
    EXPECT_TRUE(IsValidCenterId(text));
  }
}

TEST(IdsTest, CenterIdRefusalsSayWhatIsWrong) {
  const struct {
    std::string text;
    std::string message_part;
  } kCases[] = {
      {"", "empty"},
      {std::string(64, 'x'), "at most 63"},
      {"1center", "start with"},
      {"-center", "start with"},
      {"Beijing", "start with"},
      {"bei_jing", "only lowercase"},
      {"bei jing", "only lowercase"},
      {"beiJing", "only lowercase"},
      {"beijing-", "end with"},
  };
  for (const auto& c : kCases) {
    Result<CenterId> r = CenterId::Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.message_part), std::string::npos)
        << c.text << ": " << r.status().message();
    EXPECT_TRUE(r.status().field().empty());
    EXPECT_FALSE(IsValidCenterId(c.text));
  }
}

TEST(IdsTest, CenterIdsCompare) {
  EXPECT_LT(*CenterId::Parse("a"), *CenterId::Parse("b"));
  EXPECT_EQ(*CenterId::Parse("a"), *CenterId::Parse("a"));
}

TEST(IdsTest, RandomIdsHavePrefixAndCrockfordBody) {
  const std::string id = NewRandomId("job");
  ASSERT_EQ(id.size(), 4u + 26u);
  EXPECT_EQ(id.substr(0, 4), "job_");
  for (char c : id.substr(4)) {
    EXPECT_NE(std::string_view("0123456789abcdefghjkmnpqrstvwxyz").find(c), std::string_view::npos)
        << c;
  }
  // 26 digits hold 130 bits; the leading digit carries only the top 3 of 128 bits.
  EXPECT_LE(id[4], '7');
}

TEST(IdsTest, RandomIdsDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(NewRandomId("hold"));
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(IdsTest, HexEncodesLowercase) {
  EXPECT_EQ(HexEncode(""), "");
  EXPECT_EQ(HexEncode(std::string_view("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(HexEncode("edwc"), "65647763");
}

}  // namespace
}  // namespace edwc::core
