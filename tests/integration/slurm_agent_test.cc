// An agent whose capacity comes from a real slurmrestd (the `slurm` CTest fixture starts
// one with gres.conf gpu:a100:8 and gpu:h800:4): its federation view shows Slurm's GPUs,
// and a job placed on it runs as a Slurm job whose usage is recorded.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <thread>

#include "gateway/agent.h"
#include "gateway/http_client.h"
#include "tests/support/test_support.h"

namespace edwc {
namespace {

namespace json = boost::json;

config::CenterConfig SlurmCenter(const std::string& dir, const testing::TestPki& pki) {
  config::CenterConfig c = testing::TestCenterConfig(dir, pki, "slurmcenter");
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
  return c;
}

TEST(SlurmAgentTest, AdvertisesTheGpusSlurmReports) {
  testing::TempDir dir;
  auto pki = testing::MakeTestPki(dir.path(), "slurmcenter");
  config::CenterConfig c = SlurmCenter(dir.path(), pki);
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

TEST(SlurmAgentTest, RunsAJobOnSlurmAndRecordsItsUsage) {
  testing::TempDir dir;
  auto pki = testing::MakeTestPki(dir.path(), "slurmcenter");
  config::CenterConfig c = SlurmCenter(dir.path(), pki);
  // Slurm runs jobs as `nobody` here: their directories must be writable by it.
  std::string jobs = "/tmp/edwc-slurm-jobs-XXXXXX";
  ASSERT_NE(mkdtemp(jobs.data()), nullptr);
  std::filesystem::permissions(jobs, std::filesystem::perms::all);
  c.jobs.work_dir = jobs;
  c.jobs.poll = std::chrono::milliseconds(200);
  auto agent = gateway::Agent::Start(std::move(c), false);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  auto client = gateway::HttpsClient::Create(
      "https://127.0.0.1:" + std::to_string((*agent)->api_port()), {pki.ca_file, "", "", false});
  ASSERT_TRUE(client.ok());
  const std::vector<std::pair<std::string, std::string>> broker = {
      {"authorization", "Bearer " + testing::TokenFor(config::Role::kBroker)},
      {"idempotency-key", "slurm-1"}};
  auto placed =
      (*client)->Request("POST", "/v1/jobs",
                         R"({"model":"a100-80g","count":2,"duration_minutes":5,)"
                         R"("command":["sh","-c","echo gpus=$SLURM_GPUS_ON_NODE; sleep 2"]})",
                         broker);
  ASSERT_TRUE(placed.ok()) << placed.status().ToString();
  ASSERT_EQ(placed->status, 201) << placed->body;
  const std::string id(json::parse(placed->body).at("id").as_string());
  json::value job;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  std::string state;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = (*client)->Request("GET", "/v1/jobs/" + id, "", broker);
    ASSERT_TRUE(r.ok());
    job = json::parse(r->body);
    state = std::string(job.at("state").as_string());
    if (state == "succeeded" || state == "failed" || state == "cancelled") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a broker following it
  }
  ASSERT_EQ(state, "succeeded") << json::serialize(job);
  const json::object& usage = job.at("usage").as_object();
  EXPECT_EQ(usage.at("exit_code").to_number<int64_t>(), 0);
  // The run starts when the gateway hands the job over (milliseconds) and ends at Slurm's
  // end_time, truncated to the second: a 2 s sleep is then more than 1 s on each of the
  // 2 devices, whatever the fractions.
  EXPECT_GE(usage.at("accelerator_ms").to_number<int64_t>(), 2000);
  EXPECT_LE(usage.at("started").as_string(), usage.at("ended").as_string());
  (*agent)->RequestStop();
  EXPECT_EQ((*agent)->Wait(), 0);
  std::filesystem::remove_all(jobs);
}

}  // namespace
}  // namespace edwc
