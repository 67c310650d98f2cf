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

#include "config/load.h"
#include "tests/integration/cluster.h"

namespace edwc {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

bool IsDead(const std::map<std::string, std::string>& view, const std::string& center) {
  auto it = view.find(center);
  return it != view.end() && it->second.rfind("dead@", 0) == 0;
}

TEST(FederationTest, ConvergeDetectDeathAndRecoverWithANewEpoch) {
  testing::Cluster cluster;
  cluster.Start("center0", "");
  for (int i = 1; i < 5; ++i) cluster.Start("center" + std::to_string(i), cluster[0].peer_url);
  cluster.AwaitAllAlive();

  // kill -9 center3: the others mark it dead.
  const size_t victim = 3;
  cluster.Kill(victim);
  cluster.AwaitViews([&](const auto& view) { return IsDead(view, "center3"); }, "center3 dead");

  // Restarted on the same storage: a newer epoch, alive again everywhere.
  const uint64_t old_epoch = cluster[victim].epoch;
  cluster.Restart(victim);
  EXPECT_EQ(cluster[victim].epoch, old_epoch + 1);
  cluster.AwaitAllAlive();
  cluster.AwaitViews(
      [&](const auto& view) {
        auto it = view.find("center3");
        return it != view.end() && it->second == "alive@" + std::to_string(old_epoch + 1);
      },
      "center3 alive with epoch " + std::to_string(old_epoch + 1));
}

TEST(FederationTest, ARevokedCenterIsDroppedWithoutARestart) {
  testing::Cluster cluster;
  cluster.Start("center0", "");
  for (int i = 1; i < 3; ++i) cluster.Start("center" + std::to_string(i), cluster[0].peer_url);
  cluster.AwaitAllAlive();
  // The operator revokes center2 in the other centers' configuration files.
  for (size_t i = 0; i < 2; ++i) {
    cluster[i].config.federation.revoked = {"center2"};
    std::ofstream(cluster[i].config_path) << config::RenderCenterConfig(cluster[i].config);
  }
  auto gone = [](const auto& view) { return view.size() == 2 && !view.count("center2"); };
  for (size_t i = 0; i < 2; ++i) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!gone(cluster.ViewOf(cluster[i])) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(100ms);  // the config is re-read every 2 s
    }
    EXPECT_TRUE(gone(cluster.ViewOf(cluster[i]))) << cluster[i].id;
  }
  // It stays out: its adverts keep arriving (it still gossips) and are refused.
  std::this_thread::sleep_for(1s);
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(cluster.ViewOf(cluster[i]).count("center2"), 0u);
}

}  // namespace
}  // namespace edwc
