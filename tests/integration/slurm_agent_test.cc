// An agent whose capacity comes from a real slurmrestd (the `slurm` CTest fixture starts
// one with gres.conf gpu:a100:8 and gpu:h800:4): its federation view shows Slurm's GPUs.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>

#include "gateway/agent.h"
#include "gateway/http_client.h"
#include "tests/support/test_support.h"

namespace edwc {
namespace {

namespace json = boost::json;

TEST(SlurmAgentTest, AdvertisesTheGpusSlurmReports) {
  testing::TempDir dir;
  auto pki = testing::MakeTestPki(dir.path(), "slurmcenter");
  config::CenterConfig c = testing::TestCenterConfig(dir.path(), pki, "slurmcenter");
  std::error_code ec;
  const auto slurm_dir = std::filesystem::canonical(EDWC_SLURM_DIR, ec);
  c.capacity.source = config::CapacityConfig::Source::kSlurm;
  c.capacity.inventory.clear();
  c.capacity.slurm.socket =
      (ec ? std::filesystem::path(EDWC_SLURM_DIR) : slurm_dir) / "rest" / "slurmrestd.sock";
  c.capacity.slurm.refresh = std::chrono::milliseconds(200);
  c.capacity.slurm.gres_models = {{"a100", "a100-80g"}, {"h800", "h800"}};
  c.pricing.models = {{"a100-80g", {core::Money::Fen(1200), {}}},
                      {"h800", {core::Money::Fen(2000), {}}}};
  auto agent = gateway::Agent::Start(std::move(c), false);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  auto client = gateway::HttpsClient::Create(
      "https://127.0.0.1:" + std::to_string((*agent)->api_port()), {pki.ca_file, "", "", false});
  ASSERT_TRUE(client.ok());
  auto r =
      (*client)->Request("GET", "/v1/centers/slurmcenter", "",
                         {{"authorization", "Bearer " + testing::TokenFor(config::Role::kViewer)}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, 200) << r->body;
  const json::value v = json::parse(r->body);
  std::map<std::string, int64_t> total;
  for (const auto& a : v.at("accelerators").as_array()) {
    total[std::string(a.at("model").as_string())] = a.at("total").to_number<int64_t>();
  }
  EXPECT_EQ(total["a100-80g"], 8);
  EXPECT_EQ(total["h800"], 4);
  (*agent)->RequestStop();
  EXPECT_EQ((*agent)->Wait(), 0);
}

}  // namespace
}  // namespace edwc
