// `edwc agent` reloads its config on SIGHUP: new tokens and prices take effect without
// dropping a kept-alive connection, and a config that does not load is refused with the
// loader's reason while the running one keeps serving.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "config/load.h"
#include "gateway/certs.h"
#include "gateway/http_client.h"
#include "tests/integration/cluster.h"
#include "tests/support/test_support.h"

namespace edwc {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Polls `done` until it holds or 30 s pass; the agent's state is what is being waited for.
bool Await(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

class ReloadTest : public ::testing::Test {
 protected:
  // GET `target` as the bearer of `token` on the one kept-alive client; 0 on failure.
  int Get(const std::string& token, const std::string& target, json::value* body = nullptr) {
    auto r = client_->Request("GET", target, "", {{"authorization", "Bearer " + token}});
    if (!r.ok()) return 0;
    if (body != nullptr) *body = json::parse(r->body);
    return r->status;
  }
  // This center's current h800 price in fen, or -1.
  int64_t H800Price(const std::string& token) {
    json::value body;
    if (Get(token, "/v1/centers/" + agent_->id, &body) != 200) return -1;
    for (const auto& m : body.at("accelerators").as_array()) {
      if (m.at("model").as_string() == "h800") {
        return m.at("price_now_per_device_hour_fen").to_number<int64_t>();
      }
    }
    return -1;
  }
  void Rewrite(const std::string& text) { std::ofstream(agent_->config_path) << text; }

  testing::Cluster cluster_;
  testing::Agent* agent_ = nullptr;
  std::unique_ptr<gateway::HttpsClient> client_;
};

TEST_F(ReloadTest, SighupAppliesTokensAndPricesAndRefusesAnInvalidConfig) {
  agent_ = &cluster_.Start("center0", "");
  ASSERT_GT(agent_->child.pid, 0);
  auto client = gateway::HttpsClient::Create(agent_->api_url, {cluster_.ca_file(), "", "", false});
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  client_ = std::move(client).value();
  const std::string old_token = testing::TokenFor(config::Role::kViewer);
  const int64_t old_price = H800Price(old_token);
  ASSERT_GT(old_price, 0);
  ASSERT_EQ(client_->connections_opened(), 1);

  // A new viewer token in place of the old one, and dearer h800s (base and night rates).
  const std::string new_token = "rotated-viewer-token";
  config::CenterConfig& c = agent_->config;
  for (auto& t : c.tokens) {
    if (t.role == config::Role::kViewer) t.sha256 = gateway::Sha256Hex(new_token);
  }
  for (auto& m : c.pricing.models) {
    if (m.model != "h800") continue;
    m.schedule.base_per_device_hour = core::Money::Fen(m.schedule.base_per_device_hour.fen() + 700);
    for (auto& w : m.schedule.windows)
      w.per_device_hour = core::Money::Fen(w.per_device_hour.fen() + 700);
  }
  Rewrite(config::RenderCenterConfig(c));
  ASSERT_EQ(kill(agent_->child.pid, SIGHUP), 0);
  EXPECT_TRUE(Await([&] {
    return Get(new_token, "/v1/centers") == 200 && Get(old_token, "/v1/centers") == 401 &&
           H800Price(new_token) == old_price + 700;
  })) << "new token "
      << Get(new_token, "/v1/centers") << ", old token " << Get(old_token, "/v1/centers")
      << ", h800 " << H800Price(new_token);
  const std::string log_path = agent_->dir + "/agent.log";
  EXPECT_TRUE(Await([&] {
    return Slurp(log_path).find("config reloaded (SIGHUP)") != std::string::npos;
  })) << Slurp(log_path);
  EXPECT_NE(Slurp(log_path).find("auth.tokens"), std::string::npos) << Slurp(log_path);
  // The reload did not touch the connection the requests above went over.
  EXPECT_EQ(client_->connections_opened(), 1);

  // An unknown key: refused with the loader's file:line:key, and nothing changes.
  Rewrite("colour: blue\n" + config::RenderCenterConfig(c));
  ASSERT_EQ(kill(agent_->child.pid, SIGHUP), 0);
  const std::string reason = agent_->config_path + ":1:1: colour";
  EXPECT_TRUE(Await([&] {
    const std::string log = Slurp(log_path);
    const auto at = log.find("config reload (SIGHUP) refused");
    return at != std::string::npos && log.find(reason, at) != std::string::npos;
  })) << Slurp(log_path);
  EXPECT_EQ(Get(new_token, "/v1/centers"), 200);
  EXPECT_EQ(Get(old_token, "/v1/centers"), 401);
  EXPECT_EQ(H800Price(new_token), old_price + 700);
  EXPECT_EQ(client_->connections_opened(), 1);

  // A key that needs a restart is refused too, by name.
  config::CenterConfig moved = c;
  moved.storage.path = agent_->dir + "/elsewhere";
  Rewrite(config::RenderCenterConfig(moved));
  ASSERT_EQ(kill(agent_->child.pid, SIGHUP), 0);
  EXPECT_TRUE(Await([&] {
    const std::string log = Slurp(log_path);
    const auto at = log.find(agent_->config_path + ": storage");
    return at != std::string::npos &&
           log.find("cannot change without a restart", at) != std::string::npos;
  })) << Slurp(log_path);
  EXPECT_EQ(Get(new_token, "/v1/centers"), 200);
}

}  // namespace
}  // namespace edwc
