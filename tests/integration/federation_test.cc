// Five real agents on loopback: they converge, a killed one is marked dead by the
// others, and once restarted it is alive again with a newer epoch.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "cli/process.h"
#include "config/load.h"
#include "gateway/http_client.h"
#include "tests/support/test_support.h"

namespace edwc {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

struct Running {
  config::CenterConfig config;
  std::string config_path;
  cli::Child child;
  std::string api_url;
  std::string peer_url;
  uint64_t epoch = 0;
};

std::string Field(const std::string& line, const std::string& key) {
  auto at = line.find(key + "=");
  if (at == std::string::npos) return "";
  at += key.size() + 1;
  return line.substr(at, line.find(' ', at) - at);
}

class FederationTest : public ::testing::Test {
 protected:
  static constexpr int kCenters = 5;

  void SetUp() override {
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, nullptr);
    for (int i = 0; i < kCenters; ++i) ids_.push_back("center" + std::to_string(i));
  }
  void TearDown() override {
    std::vector<cli::Child> children;
    for (auto& r : running_) {
      if (r.child.pid > 0) children.push_back(r.child);
    }
    cli::StopChildren(children, 10s);
  }

  // Writes center i's config (fast gossip so the test is quick) and starts it.
  Running Start(int i, const std::string& seed) {
    const std::string dir = dir_.Sub(ids_[i]);
    std::filesystem::create_directories(dir);
    auto pki = testing::MakeTestPki(dir_.path(), ids_[i]);
    config::CenterConfig c = testing::TestCenterConfig(dir, pki, ids_[i]);
    c.federation.gossip.round = 100ms;
    c.federation.gossip.anti_entropy = 300ms;
    c.federation.gossip.advert_ttl = 2s;
    c.federation.gossip.refresh = 500ms;
    if (!seed.empty()) c.federation.seeds = {seed};
    std::ofstream(dir + "/center.yaml") << config::RenderCenterConfig(c);
    auto child =
        cli::Spawn({EDWC_BINARY, "agent", "--config", dir + "/center.yaml"}, dir + "/agent.log");
    EXPECT_TRUE(child.ok());
    auto ready = cli::AwaitLine(*child, "ready ", std::chrono::steady_clock::now() + 60s);
    EXPECT_TRUE(ready.ok()) << ready.status().ToString();
    Running r{c,
              dir + "/center.yaml",
              *child,
              Field(*ready, "api"),
              Field(*ready, "peer"),
              std::stoull(Field(*ready, "epoch"))};
    ca_file_ = pki.ca_file;
    return r;
  }

  // center -> liveness in `viewer`'s view.
  std::map<std::string, std::string> ViewOf(const Running& viewer) {
    std::map<std::string, std::string> out;
    auto client = gateway::HttpsClient::Create(viewer.api_url, {ca_file_, "", "", false}, 5s);
    if (!client.ok()) return out;
    auto r = (*client)->Request(
        "GET", "/v1/centers", "",
        {{"authorization", "Bearer " + testing::TokenFor(config::Role::kViewer)}});
    if (!r.ok() || r->status != 200) return out;
    const json::value body = json::parse(r->body);
    for (const auto& c : body.at("centers").as_array()) {
      out[std::string(c.at("id").as_string())] = std::string(c.at("liveness").as_string()) + "@" +
                                                 std::to_string(c.at("epoch").to_number<int64_t>());
    }
    return out;
  }

  // Polls every live center's view until `want(view)` holds for all, or fails after 30 s.
  // (The views change on gossip rounds; polling the API is what a user does.)
  void AwaitAll(const std::function<bool(const std::map<std::string, std::string>&)>& want,
                const std::string& what, int skip = -1, int count = kCenters) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      bool all = true;
      for (int i = 0; i < count && all; ++i) {
        if (i == skip) continue;
        auto view = ViewOf(running_[i]);
        if (!want(view)) {
          all = false;
          last = ids_[i] + " sees:";
          for (const auto& [id, state] : view) last += " " + id + "=" + state;
        }
      }
      if (all) return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL() << "not every center saw " << what << "; last: " << last;
  }

  testing::TempDir dir_;
  std::vector<std::string> ids_;
  std::vector<Running> running_;
  std::string ca_file_;
};

TEST_F(FederationTest, ConvergeDetectDeathAndRecoverWithANewEpoch) {
  running_.push_back(Start(0, ""));
  for (int i = 1; i < kCenters; ++i) running_.push_back(Start(i, running_[0].peer_url));
  auto all_alive = [&](const std::map<std::string, std::string>& view) {
    if (view.size() != static_cast<size_t>(kCenters)) return false;
    for (const auto& [id, state] : view) {
      if (state.rfind("alive@", 0) != 0) return false;
    }
    return true;
  };
  AwaitAll(all_alive, "all five alive");

  // kill -9 center3: the others mark it dead.
  const int victim = 3;
  kill(running_[victim].child.pid, SIGKILL);
  waitpid(running_[victim].child.pid, nullptr, 0);
  close(running_[victim].child.stdout_fd);
  running_[victim].child.pid = -1;
  AwaitAll(
      [&](const std::map<std::string, std::string>& view) {
        auto it = view.find(ids_[victim]);
        return it != view.end() && it->second.rfind("dead@", 0) == 0;
      },
      "center3 dead", victim);

  // Restarted on the same storage: a newer epoch, alive again everywhere.
  const uint64_t old_epoch = running_[victim].epoch;
  running_[victim] = Start(victim, running_[0].peer_url);
  EXPECT_EQ(running_[victim].epoch, old_epoch + 1);
  AwaitAll(
      [&](const std::map<std::string, std::string>& view) {
        auto it = view.find(ids_[victim]);
        return all_alive(view) && it != view.end() &&
               it->second == "alive@" + std::to_string(old_epoch + 1);
      },
      "center3 alive with epoch " + std::to_string(old_epoch + 1));
}

TEST_F(FederationTest, ARevokedCenterIsDroppedWithoutARestart) {
  constexpr int kThree = 3;
  running_.push_back(Start(0, ""));
  for (int i = 1; i < kThree; ++i) running_.push_back(Start(i, running_[0].peer_url));
  AwaitAll([&](const auto& view) { return view.size() == kThree; }, "all three", -1, kThree);
  // The operator revokes center2 in the other centers' configuration files.
  for (int i = 0; i < 2; ++i) {
    running_[i].config.federation.revoked = {ids_[2]};
    std::ofstream(running_[i].config_path) << config::RenderCenterConfig(running_[i].config);
  }
  AwaitAll([&](const auto& view) { return view.size() == 2 && !view.count(ids_[2]); },
           "center2 gone", /*skip=*/2, kThree);
  // It stays out: its adverts keep arriving (it still gossips) and are refused.
  std::this_thread::sleep_for(1s);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(ViewOf(running_[i]).count(ids_[2]), 0u);
}

}  // namespace
}  // namespace edwc
