// Jobs across real agents on loopback: brokers racing for the cheapest center never get
// more devices than it has; a target killed while it holds devices costs nothing but a
// detour, and its hold expires after it restarts; retries have one effect; credit
// limits turn a debtor away.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <thread>

#include "federation/holds.h"
#include "tests/integration/cluster.h"
#include "tests/integration/workload.h"

namespace edwc {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using testing::Agent;
using testing::AwaitEnd;
using testing::Cluster;
using testing::H20;
using testing::JobBody;
using testing::Str;

// free h20 at `center` in `viewer`'s view, or -1.
int FreeAt(const Cluster& cluster, const Agent& viewer, const std::string& center) {
  auto [status, body] =
      cluster.Call(viewer, "GET", "/v1/centers/" + center, "", config::Role::kViewer);
  if (status != 200) return -1;
  for (const auto& a : body.at("accelerators").as_array()) {
    if (Str(a, "model") == "h20") return static_cast<int>(a.at("free").to_number<int64_t>());
  }
  return -1;
}

// A hold request as another gateway ("gw") would send it over the peer listener.
federation::HoldRequest GatewayHold(const std::string& job, int32_t count,
                                    std::chrono::milliseconds ttl) {
  federation::HoldRequest hold;
  hold.hold_id = "gw." + job + ".1";
  hold.job_id = job;
  hold.terms.model = "h20";
  hold.terms.count = count;
  hold.terms.duration = 10min;
  hold.terms.command = {"true"};
  hold.ttl = ttl;
  return hold;
}

TEST(JobsTest, EightBrokersRaceForTheCheapestCenter) {
  Cluster cluster;
  // center0 is the cheapest with 16 devices; the others have room, each dearer.
  cluster.Start("center0", "", H20(16, 500));
  for (int i = 1; i < 5; ++i) {
    cluster.Start("center" + std::to_string(i), cluster[0].peer_url, H20(64, 500 + 100 * i));
  }
  cluster.AwaitAllAlive();
  const std::string log = cluster.root() + "/devices.log";
  // Each job logs when it holds which devices where; 4 devices for about 0.3 s.
  const std::string script = testing::LoggedJobScript(log, "0.3");
  constexpr int kBrokers = 8, kJobsEach = 25;
  std::vector<std::vector<std::pair<size_t, std::string>>> placed(kBrokers);  // home, job id
  std::vector<std::thread> brokers;
  for (int b = 0; b < kBrokers; ++b) {
    brokers.emplace_back([&, b] {
      const size_t home = static_cast<size_t>(b) % 5;
      for (int j = 0; j < kJobsEach; ++j) {
        const std::string key = "broker" + std::to_string(b) + "-job" + std::to_string(j);
        auto [status, body] = cluster.Call(cluster[home], "POST", "/v1/jobs", JobBody(4, script),
                                           config::Role::kBroker, {{"idempotency-key", key}});
        EXPECT_TRUE(status == 201 || status == 202) << status << " " << json::serialize(body);
        if (status == 201 || status == 202) placed[b].emplace_back(home, Str(body, "id"));
      }
    });
  }
  for (auto& t : brokers) t.join();

  std::map<std::string, int> ran_on;
  for (const auto& list : placed) {
    for (const auto& [home, id] : list) {
      json::value job = AwaitEnd(cluster, cluster[home], id);
      ASSERT_EQ(Str(job, "state"), "succeeded") << json::serialize(job);
      const std::string center = Str(job, "center");
      ++ran_on[center];
      // Placed in score order: every attempt before the last was refused, and the last is
      // where it ran.
      const auto& attempts = job.at("attempts").as_array();
      ASSERT_FALSE(attempts.empty());
      EXPECT_EQ(Str(attempts.back(), "center"), center);
      for (size_t i = 0; i + 1 < attempts.size(); ++i) {
        EXPECT_NE(Str(attempts[i], "result"), "committed") << json::serialize(job);
      }
    }
  }
  EXPECT_EQ(ran_on["center0"] + ran_on["center1"] + ran_on["center2"] + ran_on["center3"] +
                ran_on["center4"],
            kBrokers * kJobsEach);
  EXPECT_GT(ran_on["center0"], 0);

  // Never more than 16 devices in use at center0, and no device index used twice at once.
  const std::vector<testing::JobRun> runs = testing::ReadJobRuns(log);
  EXPECT_EQ(std::count_if(runs.begin(), runs.end(),
                          [](const testing::JobRun& r) { return r.center == "center0"; }),
            ran_on["center0"]);
  EXPECT_LE(testing::ExpectNoDeviceUsedTwice(runs, "center0", 16), 16u);
  // Every device is back once the jobs are over.
  cluster.AwaitViews([&](const auto&) { return FreeAt(cluster, cluster[1], "center0") == 16; },
                     "center0 with all 16 free");
}

TEST(JobsTest, ATargetKilledWhileHoldingIsPassedOverAndItsHoldExpires) {
  Cluster cluster;
  auto slow_to_forget = [](int32_t count, int64_t fen) {
    return [count, fen](config::CenterConfig& c) {
      H20(count, fen)(c);
      // Adverts outlive the kill for a while, so routers still try the dead target.
      c.federation.gossip.advert_ttl = 20s;
      c.federation.gossip.refresh = 5s;
    };
  };
  cluster.Start("cheap", "", slow_to_forget(16, 500));
  cluster.Start("next", cluster[0].peer_url, slow_to_forget(16, 700));
  cluster.Start("home", cluster[0].peer_url, slow_to_forget(16, 900));
  cluster.AwaitAllAlive();

  // Another gateway holds 8 devices at "cheap" (TTL 3 s), and "cheap" dies holding them.
  const federation::HoldRequest hold = GatewayHold("job-1", 8, 3s);
  const std::string hold_body = json::serialize(federation::ToJson(hold));
  auto [held, record] = cluster.PeerCall(cluster[0], "gw", "POST", "/peer/v1/holds", hold_body);
  ASSERT_EQ(held, 201) << json::serialize(record);
  EXPECT_EQ(Str(record.at("hold"), "state"), "held");
  cluster.Kill(0);

  // A broker at "home" asks for the cheapest: the job lands on "next".
  auto [status, job] = cluster.Call(cluster[2], "POST", "/v1/jobs", JobBody(4, "true"),
                                    config::Role::kBroker, {{"idempotency-key", "after-the-kill"}});
  ASSERT_EQ(status, 201) << json::serialize(job);
  json::value ended = AwaitEnd(cluster, cluster[2], Str(job, "id"));
  EXPECT_EQ(Str(ended, "state"), "succeeded") << json::serialize(ended);
  EXPECT_EQ(Str(ended, "center"), "next") << json::serialize(ended);

  // Restarted: the hold it granted before the crash expires, and its devices return.
  cluster.Restart(0);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  std::string state;
  while (std::chrono::steady_clock::now() < deadline && state != "expired") {
    auto [code, body] = cluster.PeerCall(cluster[0], "gw", "GET", "/peer/v1/jobs/" + hold.hold_id);
    if (code == 200) state = Str(body.at("hold"), "state");
    if (state != "expired") std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(state, "expired");
  // Seen in an advert of the restarted center (epoch 2), not a stale one from before.
  cluster.AwaitViews(
      [&](const auto&) {
        return cluster.ViewOf(cluster[2])["cheap"] == "alive@2" &&
               FreeAt(cluster, cluster[2], "cheap") == 16;
      },
      "cheap back (epoch 2) with all 16 free again");
}

TEST(JobsTest, RetriesHaveOneEffectAndChangedContentIsAConflict) {
  Cluster cluster;
  cluster.Start("solo", "", H20(8, 500));
  cluster.AwaitAllAlive();
  const std::vector<std::pair<std::string, std::string>> key = {{"idempotency-key", "k-1"}};
  auto [first, job] =
      cluster.Call(cluster[0], "POST", "/v1/jobs", JobBody(2, "true"), config::Role::kBroker, key);
  ASSERT_EQ(first, 201) << json::serialize(job);
  auto [again, same] =
      cluster.Call(cluster[0], "POST", "/v1/jobs", JobBody(2, "true"), config::Role::kBroker, key);
  EXPECT_EQ(again, 200);
  EXPECT_EQ(Str(same, "id"), Str(job, "id"));
  auto [changed, conflict] =
      cluster.Call(cluster[0], "POST", "/v1/jobs", JobBody(3, "true"), config::Role::kBroker, key);
  EXPECT_EQ(changed, 409);
  EXPECT_EQ(Str(conflict.at("error"), "field"), "count") << json::serialize(conflict);
  auto [listed, jobs] = cluster.Call(cluster[0], "GET", "/v1/jobs");
  ASSERT_EQ(listed, 200);
  EXPECT_EQ(jobs.at("jobs").as_array().size(), 1u);

  // The hold protocol itself: the same hold twice is one hold; changed content conflicts.
  federation::HoldRequest hold = GatewayHold("job-9", 2, 30s);
  const std::string body = json::serialize(federation::ToJson(hold));
  auto [h1, r1] = cluster.PeerCall(cluster[0], "gw", "POST", "/peer/v1/holds", body);
  auto [h2, r2] = cluster.PeerCall(cluster[0], "gw", "POST", "/peer/v1/holds", body);
  EXPECT_EQ(h1, 201);
  EXPECT_EQ(h2, 200);
  EXPECT_EQ(r1.at("hold").at("devices"), r2.at("hold").at("devices"));
  hold.terms.count = 4;
  auto [h3, r3] = cluster.PeerCall(cluster[0], "gw", "POST", "/peer/v1/holds",
                                   json::serialize(federation::ToJson(hold)));
  EXPECT_EQ(h3, 409);
  EXPECT_EQ(Str(r3.at("error"), "field"), "count") << json::serialize(r3);
  // Committed twice: one job.
  auto [c1, commit1] =
      cluster.PeerCall(cluster[0], "gw", "POST", "/peer/v1/holds/" + hold.hold_id + "/commit");
  auto [c2, commit2] =
      cluster.PeerCall(cluster[0], "gw", "POST", "/peer/v1/holds/" + hold.hold_id + "/commit");
  EXPECT_EQ(c1, 200) << json::serialize(commit1);
  EXPECT_EQ(c2, 200) << json::serialize(commit2);
  // Another gateway cannot see or touch it.
  auto [other, nothing] =
      cluster.PeerCall(cluster[0], "gw2", "GET", "/peer/v1/jobs/" + hold.hold_id);
  EXPECT_EQ(other, 404) << json::serialize(nothing);

  // Status of many jobs in one request: each caller sees only its own holds.
  const std::string ids = R"({"ids":[")" + hold.hold_id + R"(","gw.nope.1"]})";
  auto [s1, mine] = cluster.PeerCall(cluster[0], "gw", "POST", "/peer/v1/jobs/status", ids);
  ASSERT_EQ(s1, 200) << json::serialize(mine);
  ASSERT_EQ(mine.at("holds").as_array().size(), 1u);
  EXPECT_EQ(Str(mine.at("holds").at(0), "hold_id"), hold.hold_id);
  EXPECT_EQ(mine.at("unknown"), json::parse(R"(["gw.nope.1"])"));
  auto [s2, theirs] = cluster.PeerCall(cluster[0], "gw2", "POST", "/peer/v1/jobs/status", ids);
  ASSERT_EQ(s2, 200);
  EXPECT_TRUE(theirs.at("holds").as_array().empty()) << json::serialize(theirs);
  auto [s3, bad] =
      cluster.PeerCall(cluster[0], "gw", "POST", "/peer/v1/jobs/status", R"({"ids":[1]})");
  EXPECT_EQ(s3, 400);
  EXPECT_EQ(Str(bad.at("error"), "field"), "ids") << json::serialize(bad);
}

TEST(JobsTest, ACenterOverItsCreditLimitIsTurnedAway) {
  Cluster cluster;
  cluster.Start("lender", "", [](config::CenterConfig& c) {
    H20(16, 500)(c);
    c.credit.limits = {{"debtor", core::Money::Fen(0)}};  // no credit at all
  });
  cluster.Start("other", cluster[0].peer_url, H20(16, 900));
  cluster.Start("debtor", cluster[0].peer_url, H20(16, 1500));
  cluster.AwaitAllAlive();
  auto [status, job] = cluster.Call(cluster[2], "POST", "/v1/jobs", JobBody(2, "true"),
                                    config::Role::kBroker, {{"idempotency-key", "owe"}});
  ASSERT_EQ(status, 201) << json::serialize(job);
  json::value ended = AwaitEnd(cluster, cluster[2], Str(job, "id"));
  EXPECT_EQ(Str(ended, "center"), "other") << json::serialize(ended);
  const auto& attempts = ended.at("attempts").as_array();
  ASSERT_GE(attempts.size(), 2u);
  EXPECT_EQ(Str(attempts[0], "center"), "lender");
  EXPECT_NE(Str(attempts[0], "result").find("credit_limit"), std::string::npos)
      << json::serialize(ended);
}

}  // namespace
}  // namespace edwc
