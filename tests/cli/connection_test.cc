#include "cli/connection.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
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

// The CLI config file (docs/cli.md): precedence, location, strictness, permissions.
class CliConfigTest : public ConnectionTest {
 protected:
  // Writes `text` to dir_/rel with `perms` and returns its path.
  std::string Write(const std::string& rel, const std::string& text,
                    std::filesystem::perms perms = std::filesystem::perms::owner_read |
                                                   std::filesystem::perms::owner_write) {
    const std::filesystem::path path = dir_ / rel;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
    std::filesystem::permissions(path, perms);
    return path.string();
  }

  static constexpr char kFull[] =
      "url: https://file:1\n"
      "ca: certs/ca.pem\n"
      "token: t-any\n"
      "tokens:\n"
      "  broker: t-broker\n"
      "  finance: t-finance\n";
};

TEST_F(CliConfigTest, FlagsBeatEnvironmentBeatsConfigFile) {
  const std::string file = Write("cli.yaml", kFull);
  // The file alone: every value from it; a relative ca is relative to the file.
  auto only = Resolve({"--config-file", file});
  ASSERT_TRUE(only.ok()) << only.status().ToString();
  EXPECT_EQ(only->url, "https://file:1");
  EXPECT_EQ(only->ca_file, (dir_ / "certs" / "ca.pem").string());
  EXPECT_EQ(only->token, "t-broker");
  // The role's token, else `token`.
  EXPECT_EQ(Resolve({"--config-file", file}, "finance")->token, "t-finance");
  EXPECT_EQ(Resolve({"--config-file", file}, "viewer")->token, "t-any");
  // The environment beats the file, value by value.
  FakeEnvironment() = {{"EDWC_URL", "https://env:1"}, {"EDWC_TOKEN", "t-env"}};
  auto env = Resolve({"--config-file", file});
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->url, "https://env:1");
  EXPECT_EQ(env->ca_file, (dir_ / "certs" / "ca.pem").string());
  EXPECT_EQ(env->token, "t-env");
  // Flags beat both.
  auto flags = Resolve({"--config-file", file, "--url", "https://flag:1", "--ca", "/flag/ca"});
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_EQ(flags->url, "https://flag:1");
  EXPECT_EQ(flags->ca_file, "/flag/ca");
  EXPECT_EQ(flags->token, "t-env");
  // An explicit --demo beats the file too.
  auto demo = Resolve({"--config-file", file, "--demo", dir_.string()});
  ASSERT_TRUE(demo.ok()) << demo.status().ToString();
  EXPECT_EQ(demo->url, "https://127.0.0.1:1002");
  EXPECT_EQ(demo->ca_file, "/demo/ca.pem");
}

TEST_F(CliConfigTest, WhereTheFileIs) {
  const std::string named = Write("named.yaml", "url: https://named:1\nca: /n/ca\ntoken: tn\n");
  Write("xdg/edwc/cli.yaml", "url: https://xdg:1\nca: /x/ca\ntoken: tx\n");
  Write("home/.config/edwc/cli.yaml", "url: https://home:1\nca: /h/ca\ntoken: th\n");
  FakeEnvironment() = {{"HOME", (dir_ / "home").string()}};
  EXPECT_EQ(Resolve({})->url, "https://home:1");
  FakeEnvironment()["XDG_CONFIG_HOME"] = (dir_ / "xdg").string();
  EXPECT_EQ(Resolve({})->url, "https://xdg:1");
  FakeEnvironment()["EDWC_CLI_CONFIG"] = named;
  EXPECT_EQ(Resolve({})->url, "https://named:1");
  const std::string flag = Write("flag.yaml", "url: https://flag-file:1\nca: /f/ca\ntoken: tf\n");
  EXPECT_EQ(Resolve({"--config-file", flag})->url, "https://flag-file:1");
  // A named file must exist; the default one may be absent.
  auto missing = Resolve({"--config-file", (dir_ / "nope.yaml").string()});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), core::Code::kInvalidArgument);
  EXPECT_NE(missing.status().message().find("nope.yaml: no such file"), std::string::npos);
  FakeEnvironment() = {{"XDG_CONFIG_HOME", (dir_ / "empty").string()},
                       {"EDWC_URL", "https://env:1"},
                       {"EDWC_CA", "/e/ca"},
                       {"EDWC_TOKEN", "te"}};
  EXPECT_TRUE(Resolve({}).ok());
}

TEST_F(CliConfigTest, UnknownKeysNameFileLineAndKey) {
  const std::string top = Write("top.yaml", "url: https://x:1\nca: /c\ntokn: t\n");
  auto a = Resolve({"--config-file", top});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), core::Code::kInvalidArgument);
  EXPECT_EQ(a.status().message(),
            top + ":3:1: tokn: unknown key (expected url, ca, token, tokens)");
  const std::string nested = Write("nested.yaml", "url: https://x:1\ntokens:\n  brokr: t\n");
  auto b = Resolve({"--config-file", nested});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(
      b.status().message(),
      nested + ":3:3: tokens.brokr: unknown key (expected viewer, broker, finance, operator)");
  // Other problems, each one line with the file and line.
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::string>>{
           {"url: a\nurl: b\n", ":2:1: url: duplicate key"},
           {"url: [a, b]\n", ":1:6: url: expected a non-empty string"},
           {"tokens: t\n", ":1:9: tokens: expected a map with keys viewer, broker"},
           {"- url\n", ":1:1: expected a map with keys url, ca, token, tokens"},
           {"url: a: b\n", ":1:"},
           {"url: a\n---\nurl: b\n", ":3:1: only one YAML document is allowed"},
           // yaml-cpp 0.7's LoadAll never returns on this (config/yaml_document.h).
           {",\n", ":1:1: not valid YAML here"},
       }) {
    const std::string file = Write("bad.yaml", text);
    auto r = ParseCliConfig(text, file);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().message().rfind(file + want, 0), 0u) << r.status().message();
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << r.status().message();
  }
  // An empty file has no values, which is not an error.
  EXPECT_TRUE(ParseCliConfig("", "empty.yaml").ok());
}

TEST_F(CliConfigTest, TokensMustBeReadableByTheOwnerOnly) {
  namespace fs = std::filesystem;
  const auto open = fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                    fs::perms::others_read;
  const std::string loose = Write("loose.yaml", kFull, open);
  auto r = Resolve({"--config-file", loose});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), loose +
                                      ": permissions 0644 are too open for a file holding "
                                      "tokens (chmod 600 " +
                                      loose + ")");
  const std::string group =
      Write("group.yaml", kFull, fs::perms::owner_read | fs::perms::group_read);
  EXPECT_FALSE(Resolve({"--config-file", group}).ok());
  // Without a token the file may be shared; the token then comes from elsewhere.
  const std::string shared = Write("shared.yaml", "url: https://x:1\nca: /c\n", open);
  auto s = Resolve({"--config-file", shared, "--token", "t"});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->url, "https://x:1");
  // A loose default file that is not needed (flags give everything) is not read.
  FakeEnvironment() = {{"XDG_CONFIG_HOME", dir_.string()}};
  Write("edwc/cli.yaml", kFull, open);
  EXPECT_TRUE(Resolve({"--url", "https://f:1", "--ca", "/c", "--token", "t"}).ok());
  EXPECT_FALSE(Resolve({"--url", "https://f:1", "--ca", "/c"}).ok());
}

// Sets (or unsets, with nullopt) a real environment variable; restores it at the end.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    Apply(value);
  }
  ~ScopedEnv() { Apply(old_); }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  void Apply(const std::optional<std::string>& value) {
    if (value) {
      ::setenv(name_, value->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  const char* name_;
  std::optional<std::string> old_;
};

TEST_F(CliConfigTest, RealEnvironment) {
  Write("edwc/cli.yaml", kFull);
  ScopedEnv xdg("XDG_CONFIG_HOME", dir_.string());
  ScopedEnv named("EDWC_CLI_CONFIG", std::nullopt);
  ScopedEnv url("EDWC_URL", std::nullopt);
  ScopedEnv ca("EDWC_CA", std::nullopt);
  ScopedEnv token("EDWC_TOKEN", "t-env");
  std::vector<std::string> argv = {"edwc", "quote"};
  std::vector<char*> ptrs;
  for (auto& s : argv) ptrs.push_back(s.data());
  Args args("edwc quote", ConnectionOptions(), {});
  ASSERT_TRUE(args.Parse(static_cast<int>(ptrs.size()), ptrs.data(), 2).ok());
  auto c = ResolveConnection(args, "broker");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->url, "https://file:1");
  EXPECT_EQ(c->token, "t-env");
  {
    ScopedEnv env_url("EDWC_URL", "https://env:1");
    EXPECT_EQ(ResolveConnection(args, "broker")->url, "https://env:1");
  }
  EXPECT_EQ(ResolveConnection(args, "broker")->url, "https://file:1");
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
