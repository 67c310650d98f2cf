#include "cli/connection.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace edwc::cli {
namespace {

namespace json = boost::json;

std::map<std::string, std::string>& FakeEnvironment() {
  static std::map<std::string, std::string> env;
  return env;
}
std::string FakeEnv(const char* name) {
  auto it = FakeEnvironment().find(name);
  return it == FakeEnvironment().end() ? std::string() : it->second;
}

class ConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FakeEnvironment().clear();
    dir_ = std::filesystem::temp_directory_path() /
           ("edwc-cli-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "demo.json") << R"({"ca_file":"/demo/ca.pem",
      "tokens":{"viewer":"tv","broker":"tb"},
      "centers":[{"id":"a","api_url":"https://127.0.0.1:1001"},
                 {"id":"b","api_url":"https://127.0.0.1:1002","home":true}]})";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  core::Result<Connection> Resolve(std::vector<std::string> flags, const char* role = "broker") {
    flags.insert(flags.begin(), {"edwc", "quote"});
    std::vector<char*> ptrs;
    for (auto& s : flags) ptrs.push_back(s.data());
    Args args("edwc quote", ConnectionOptions(), {});
    EXPECT_TRUE(args.Parse(static_cast<int>(ptrs.size()), ptrs.data(), 2).ok());
    return ResolveConnection(args, role, &FakeEnv);
  }

  std::filesystem::path dir_;
};

TEST_F(ConnectionTest, DemoPicksTheHomeCenterAndTheRoleToken) {
  auto c = Resolve({"--demo", dir_.string()});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->url, "https://127.0.0.1:1002");
  EXPECT_EQ(c->ca_file, "/demo/ca.pem");
  EXPECT_EQ(c->token, "tb");
  EXPECT_EQ(Resolve({"--demo", dir_.string()}, "viewer")->token, "tv");
}

TEST_F(ConnectionTest, FirstCenterWithoutHomeFlag) {
  auto c = ConnectionFromDemoJson(
      json::parse(R"({"centers":[{"api_url":"u1"},{"api_url":"u2"}]})").as_object(), "broker");
  EXPECT_EQ(c.url, "u1");
  EXPECT_EQ(c.token, "");
}

TEST_F(ConnectionTest, FlagsBeatEnvironmentBeatsDefaultDemo) {
  FakeEnvironment() = {{"EDWC_URL", "https://env:1"}, {"EDWC_CA", "/env/ca"}, {"EDWC_TOKEN", "te"}};
  auto env = Resolve({});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->url, "https://env:1");
  EXPECT_EQ(env->ca_file, "/env/ca");
  EXPECT_EQ(env->token, "te");
  auto flags = Resolve({"--url", "https://flag:1", "--token", "tf"});
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(flags->url, "https://flag:1");
  EXPECT_EQ(flags->ca_file, "/env/ca");
  EXPECT_EQ(flags->token, "tf");
  // An explicit --demo beats the environment; an explicit --token beats the demo.
  auto demo = Resolve({"--demo", dir_.string(), "--token", "tf"});
  ASSERT_TRUE(demo.ok());
  EXPECT_EQ(demo->url, "https://127.0.0.1:1002");
  EXPECT_EQ(demo->ca_file, "/demo/ca.pem");
  EXPECT_EQ(demo->token, "tf");
}

TEST_F(ConnectionTest, MissingPiecesAreUsageErrors) {
  EXPECT_EQ(Resolve({"--url", "https://x:1", "--token", "t"}).status().field(), "ca");
  EXPECT_EQ(Resolve({"--url", "https://x:1", "--ca", "c"}).status().field(), "token");
  EXPECT_FALSE(Resolve({"--demo", (dir_ / "nope").string()}).ok());
  EXPECT_FALSE(Resolve({"--demo", dir_.string(), "--url", "https://x:1"}).ok());
}

TEST(ApiErrorLineTest, OneLine) {
  EXPECT_EQ(ApiErrorLine(404, R"({"error":{"code":"not_found","message":"no job 'x'"}})"),
            "no job 'x' (404)");
  EXPECT_EQ(ApiErrorLine(400, R"({"error":{"code":"invalid_argument","message":"must be >= 1",
                                  "field":"count"}})"),
            "count: must be >= 1 (400)");
  EXPECT_EQ(ApiErrorLine(502, "Bad gateway\n"), "Bad gateway (502)");
  EXPECT_EQ(ApiErrorLine(500, ""), "the server answered (500)");
  EXPECT_EQ(ExitCodeForHttpStatus(400), 2);
  EXPECT_EQ(ExitCodeForHttpStatus(404), 1);
  EXPECT_EQ(QueryEscape("a b/c~"), "a%20b%2Fc~");
}

}  // namespace
}  // namespace edwc::cli
