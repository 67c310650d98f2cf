#include "cli/args.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace edwc::cli {
namespace {

// Owns argv strings for Args::Parse.
struct Argv {
  explicit Argv(std::vector<std::string> a) : args(std::move(a)) {
    for (auto& s : args) ptrs.push_back(s.data());
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
  char** argv() { return ptrs.data(); }
  std::vector<std::string> args;
  std::vector<char*> ptrs;
};

TEST(ArgsTest, TrailingAfterDoubleDashIsKeptVerbatim) {
  Argv a({"edwc", "job", "submit", "--model", "h800", "--", "python", "train.py", "--lr", "3"});
  Args args("edwc job submit", {"model"}, {});
  args.AllowTrailing();
  ASSERT_TRUE(args.Parse(a.argc(), a.argv(), 3).ok());
  EXPECT_EQ(args.Get("model"), "h800");
  EXPECT_TRUE(args.has_trailing());
  EXPECT_EQ(args.trailing(), (std::vector<std::string>{"python", "train.py", "--lr", "3"}));
}

TEST(ArgsTest, DoubleDashRefusedUnlessAllowed) {
  Argv a({"edwc", "centers", "--", "x"});
  Args args("edwc centers", {}, {});
  EXPECT_FALSE(args.Parse(a.argc(), a.argv(), 2).ok());
}

TEST(ArgsTest, PositionalUpToTheAllowedCount) {
  Argv a({"edwc", "job", "show", "job_1", "--json"});
  Args args("edwc job show", {}, {"json"});
  args.AllowPositional(1);
  ASSERT_TRUE(args.Parse(a.argc(), a.argv(), 3).ok());
  EXPECT_EQ(args.positional(), std::vector<std::string>{"job_1"});
  EXPECT_TRUE(args.Has("json"));

  Argv b({"edwc", "job", "show", "job_1", "job_2"});
  Args two("edwc job show", {}, {});
  two.AllowPositional(1);
  auto st = two.Parse(b.argc(), b.argv(), 3);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("job_2"), std::string::npos);
}

TEST(ArgsTest, RepeatableAndEqualsForms) {
  Argv a({"edwc", "quote", "--zone=east", "--zone", "west"});
  Args args("edwc quote", {"zone"}, {});
  ASSERT_TRUE(args.Parse(a.argc(), a.argv(), 2).ok());
  EXPECT_EQ(args.GetAll("zone"), (std::vector<std::string>{"east", "west"}));
}

}  // namespace
}  // namespace edwc::cli
