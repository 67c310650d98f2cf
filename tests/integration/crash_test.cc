// The crash test (issue 8): four agents on loopback under a workload of jobs, dataset
// transfers and the settlements they produce, while a seeded schedule SIGKILLs a random
// agent at a random moment and restarts it after a random short delay. Clients retry
// through the kills with the same Idempotency-Key. Afterwards every acknowledged job,
// transfer and agreed settlement is still there, none twice; a retry has no second effect
// and a changed body under a used key is a conflict; no device ran two jobs at once and
// no job ran twice; every copy verifies; chains verify, each pair of centers reconciles,
// and the federation's balances sum to exactly 0 fen. A second test kills a center just
// as it starts a job, where random kills seldom land.
//
// EDWC_CRASH_SEED picks the schedule (by default one from the clock; printed either way),
// EDWC_CRASH_KILLS the number of kills (default 6); a failed run is kept under
// $EDWC_CRASH_KEEP when set. scripts/crash-test loops over seeds.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "config/load.h"
#include "tests/integration/cluster.h"
#include "tests/integration/workload.h"

namespace edwc {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using testing::Agent;
using testing::Cluster;
using testing::Int;
using testing::JobRun;
using testing::Str;

constexpr size_t kCenters = 4;
constexpr int kDevices = 8;                  // h20 per center: jobs of 1, 2 or 4 devices queue up
constexpr int64_t kChunk = 64 << 10;         // small chunks: a transfer takes many requests
constexpr int64_t kEgressFenPerGb = 100000;  // dear, so that megabytes cost whole fen

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : fallback;
}

int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A request that was answered 2xx: what was sent where, and the id that came back.
struct Ack {
  size_t home;
  std::string key, body, id;
};

// One kill: the center, when its agent was started again and when it was ready.
struct Restart {
  size_t center;
  int64_t begin_ns, ready_ns;
};

// POSTs `body` under `key` to `home` until it is answered 2xx, as a client does through
// an outage (a refused or cut connection, 503 while the agent opens, 502 or 404 while a
// center it needs is down). The object answered (`object` of it when not empty), whose
// "id" is not empty; null when refused for good (400, 403, 409) or unanswered in 90 s.
json::value SendUntilAcknowledged(const Cluster& cluster, const Agent& home,
                                  const std::string& target, const std::string& body,
                                  const std::string& key, const std::string& object = "") {
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  std::pair<int, json::value> last;
  while (std::chrono::steady_clock::now() < deadline) {
    last =
        cluster.Call(home, "POST", target, body, config::Role::kBroker, {{"idempotency-key", key}});
    const auto& [status, answer] = last;
    if (status >= 200 && status < 300) {
      json::value acked = object.empty() ? answer : answer.at(object);
      EXPECT_FALSE(Str(acked, "id").empty()) << json::serialize(answer);
      return acked;
    }
    if (status == 400 || status == 403 || status == 409) break;  // an answer, not an outage
    std::this_thread::sleep_for(100ms);                          // the client's backoff
  }
  ADD_FAILURE() << "POST " << target << " (key " << key << ") at " << home.id
                << " never acknowledged: " << last.first << " " << json::serialize(last.second);
  return nullptr;
}

// The SHA-256 of GET /v1/datasets/{name} at `agent`.
std::string DownloadSha256(const Cluster& cluster, const Agent& agent, const std::string& name) {
  auto [status, bytes] = testing::Download(cluster, agent, name);
  EXPECT_EQ(status, 200) << name << " at " << agent.id;
  testing::Sha256 sha;
  sha.Update(bytes);
  return sha.Hex();
}

class CrashTest : public ::testing::Test {
 protected:
  CrashTest()
      : seed_(EnvNumber("EDWC_CRASH_SEED", std::random_device{}())),
        kills_(static_cast<int>(EnvNumber("EDWC_CRASH_KILLS", 6))),
        log_(cluster_.root() + "/runs.log") {
    std::cout << "crash test: EDWC_CRASH_SEED=" << seed_ << " EDWC_CRASH_KILLS=" << kills_
              << std::endl;
  }

  // A failed run says how to replay it, and leaves its agents' directories (logs, the
  // jobs' log, stores) in $EDWC_CRASH_KEEP/seed-<seed> when that is set.
  void TearDown() override {
    if (!HasFailure()) return;
    std::cout << "crash test FAILED; replay with EDWC_CRASH_SEED=" << seed_
              << " EDWC_CRASH_KILLS=" << kills_ << std::endl;
    if (const char* keep = std::getenv("EDWC_CRASH_KEEP"); keep != nullptr && *keep != '\0') {
      const std::string to = std::string(keep) + "/seed-" + std::to_string(seed_);
      std::error_code ec;
      std::filesystem::create_directories(to, ec);
      std::filesystem::copy(cluster_.root(), to, std::filesystem::copy_options::recursive, ec);
      std::cout << "its directories: " << to << (ec ? " (incomplete: " + ec.message() + ")" : "")
                << std::endl;
    }
  }

  // Four centers, c0 the cheapest: jobs run at home or away, and settle.
  void StartFederation() {
    for (size_t i = 0; i < kCenters; ++i) {
      cluster_.Start("c" + std::to_string(i), i == 0 ? "" : cluster_[0].peer_url,
                     [i](config::CenterConfig& c) {
                       testing::H20(kDevices, (500 + 100 * static_cast<int64_t>(i)) * 1000)(c);
                       c.pricing.egress_per_gb = core::Money::Fen(kEgressFenPerGb);
                     });
    }
    cluster_.AwaitAllAlive();
    // Worker threads call through copies: Restart rewrites the agents, on the same ports.
    fixed_ = cluster_.agents();
  }

  // Datasets of 1-3 MiB, dataset i at center i % kCenters, before the first kill.
  void UploadDatasets() {
    for (int i = 0; i < datasets_count_; ++i) {
      const std::string name = "ds" + std::to_string(i);
      const int64_t size = (1 + i % 3) << 20;
      const std::string sha = testing::Put(cluster_, cluster_[i % kCenters], name, size,
                                           "?chunk_size=" + std::to_string(kChunk));
      ASSERT_FALSE(sha.empty());
      datasets_[name] = {size, sha};
    }
  }

  // A broker at center b % kCenters submitting jobs of 1, 2 or 4 devices for 0.2-0.5 s.
  void Broker(int b) {
    std::mt19937_64 rng(seed_ + 1 + static_cast<uint64_t>(b));
    const size_t home = static_cast<size_t>(b) % kCenters;
    for (int j = 0; j < jobs_per_broker_ && !schedule_over_; ++j) {
      const int count = 1 << (rng() % 3);
      const std::string body = testing::JobBody(
          count, testing::LoggedJobScript(log_, "0." + std::to_string(2 + rng() % 4)));
      const std::string key = "b" + std::to_string(b) + "-j" + std::to_string(j);
      const std::string id =
          Str(SendUntilAcknowledged(cluster_, fixed_[home], "/v1/jobs", body, key), "id");
      if (!id.empty()) {
        std::lock_guard lock(mu_);
        jobs_.push_back({home, key, body, id});
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 300));  // think time
    }
  }

  // Copies every dataset to the next two centers, one after another, asked at the receiver.
  void Transfers() {
    std::mt19937_64 rng(seed_ ^ 0x7f4a7c15);
    std::vector<std::pair<int, size_t>> plan;  // dataset, receiver
    for (int i = 0; i < datasets_count_; ++i) {
      for (size_t step : {1, 2}) plan.emplace_back(i, (static_cast<size_t>(i) + step) % kCenters);
    }
    std::shuffle(plan.begin(), plan.end(), rng);
    for (const auto& [i, to] : plan) {
      const std::string name = "ds" + std::to_string(i), from = fixed_[i % kCenters].id;
      const std::string body = testing::TransferBody(name, from, fixed_[to].id);
      const std::string key = testing::TransferKey(name, fixed_[to].id);
      const std::string id =
          Str(SendUntilAcknowledged(cluster_, fixed_[to], "/v1/transfers", body, key, "transfer"),
              "id");
      if (!id.empty()) {
        std::lock_guard lock(mu_);
        transfers_.push_back({to, key, body, id});
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1700));  // think time
    }
  }

  // The schedule: kills_ times, after 0.3-2 s a random agent is SIGKILLed, and started
  // again after 0-1 s. Before each kill, the victim's agreed settlements are noted: they
  // were acknowledged to both sides and must survive.
  void Kills() {
    std::mt19937_64 rng(seed_);
    for (int k = 0; k < kills_ && !HasFailure(); ++k) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1700));
      const size_t victim = rng() % kCenters;
      const auto down_for = std::chrono::milliseconds(rng() % 1000);
      for (const auto& [id, s] : testing::Settlements(cluster_, cluster_[victim])) {
        if (Str(s, "state") == "agreed") agreed_before_kills_[cluster_[victim].id][id] = s;
      }
      cluster_.Kill(victim);
      std::this_thread::sleep_for(down_for);
      const int64_t begin = WallNs();
      cluster_.Restart(victim);
      restarts_.push_back({victim, begin, WallNs()});
      std::cout << "kill " << k + 1 << ": " << cluster_[victim].id << ", down " << down_for.count()
                << " ms, back at epoch " << cluster_[victim].epoch << std::endl;
    }
    schedule_over_ = true;
  }

  // The kills run on this thread: an agent gets SIGTERM when the thread that started it
  // ends (PR_SET_PDEATHSIG, cli/process.h), so restarts must come from one that stays.
  void RunWorkloadUnderKills() {
    std::vector<std::thread> clients;
    for (int b = 0; b < static_cast<int>(kCenters); ++b) {
      clients.emplace_back([this, b] { Broker(b); });
    }
    clients.emplace_back([this] { Transfers(); });
    Kills();
    for (std::thread& t : clients) t.join();
  }

  // Every acknowledged request sent again with its key and body: the same id, answered
  // 200 (a replay); the first of each home with a changed body: 409 naming the field.
  void ExpectRetriesHaveNoSecondEffect() {
    std::set<size_t> conflicted;
    for (const Ack& a : jobs_) {
      auto [status, same] = cluster_.Call(cluster_[a.home], "POST", "/v1/jobs", a.body,
                                          config::Role::kBroker, {{"idempotency-key", a.key}});
      EXPECT_EQ(status, 200) << a.key << ": " << json::serialize(same);
      EXPECT_EQ(Str(same, "id"), a.id) << a.key;
      if (!conflicted.insert(a.home).second) continue;
      json::value changed = json::parse(a.body);
      changed.as_object()["count"] = Int(changed, "count") == 1 ? 2 : 1;
      auto [code, conflict] =
          cluster_.Call(cluster_[a.home], "POST", "/v1/jobs", json::serialize(changed),
                        config::Role::kBroker, {{"idempotency-key", a.key}});
      EXPECT_EQ(code, 409) << json::serialize(conflict);
      EXPECT_EQ(Str(conflict.at("error"), "field"), "count") << json::serialize(conflict);
    }
    for (const Ack& a : transfers_) {
      auto [status, same] = cluster_.Call(cluster_[a.home], "POST", "/v1/transfers", a.body,
                                          config::Role::kBroker, {{"idempotency-key", a.key}});
      EXPECT_EQ(status, 200) << a.key << ": " << json::serialize(same);
      EXPECT_EQ(Str(same.at("transfer"), "id"), a.id) << a.key;
    }
    ASSERT_FALSE(transfers_.empty());
    json::value renamed = json::parse(transfers_.front().body);
    renamed.as_object()["name"] = "renamed";
    auto [code, conflict] = cluster_.Call(
        cluster_[transfers_.front().home], "POST", "/v1/transfers", json::serialize(renamed),
        config::Role::kBroker, {{"idempotency-key", transfers_.front().key}});
    EXPECT_EQ(code, 409) << json::serialize(conflict);
  }

  // Waits for every acknowledged job to end; their last state by id. Each home lists
  // exactly the jobs acknowledged there, each once.
  void AwaitJobsAndCheckLists() {
    std::map<size_t, std::set<std::string>> acked;
    for (const Ack& a : jobs_) {
      ended_[a.id] = testing::AwaitEnd(cluster_, cluster_[a.home], a.id, 120s);
      ASSERT_TRUE(testing::Terminal(Str(ended_[a.id], "state"))) << a.id;
      EXPECT_TRUE(acked[a.home].insert(a.id).second) << a.id << " acknowledged twice";
    }
    for (size_t home = 0; home < kCenters; ++home) {
      std::set<std::string> listed;
      std::string after;
      do {
        auto [status, page] =
            cluster_.Call(cluster_[home], "GET",
                          "/v1/jobs?limit=1000" + (after.empty() ? "" : "&after=" + after));
        ASSERT_EQ(status, 200) << json::serialize(page);
        for (const json::value& j : page.at("jobs").as_array()) {
          EXPECT_TRUE(listed.insert(Str(j, "id")).second) << Str(j, "id") << " listed twice";
        }
        after = Str(page, "next");
      } while (!after.empty());
      EXPECT_EQ(listed, acked[home]) << "at " << cluster_[home].id;
    }
  }

  // From the jobs' own log: no job ran twice or at two centers, a succeeded job ran once
  // where its home says, and no device ran two jobs at once. A run whose end was never
  // written was killed when its center's agent restarted (recovery kills what a crashed
  // agent left running): it ended at the latest by that restart.
  void CheckRuns() {
    std::vector<JobRun> runs = testing::ReadJobRuns(log_);
    std::map<std::string, std::vector<const JobRun*>> of_job;  // router job id -> its runs
    for (JobRun& r : runs) {
      if (r.end_ns < 0) {
        for (const Restart& restart : restarts_) {
          if (fixed_[restart.center].id == r.center && restart.ready_ns > r.start_ns) {
            r.end_ns = std::max(r.start_ns, restart.begin_ns);
            break;
          }
        }
      }
      of_job[r.job].push_back(&r);
    }
    for (const auto& [id, job] : ended_) {
      const auto it = of_job.find(id);
      const size_t n = it == of_job.end() ? 0 : it->second.size();
      if (n > 1) {
        ADD_FAILURE() << "job " << id << " ran " << n << " times: " << it->second[0]->hold << " at "
                      << it->second[0]->center << ", " << it->second[1]->hold << " at "
                      << it->second[1]->center;
      }
      if (Str(job, "state") != "succeeded") continue;
      ASSERT_EQ(n, 1u) << "succeeded without running: " << json::serialize(job);
      EXPECT_EQ(it->second.front()->center, Str(job, "center")) << id;
    }
    for (const auto& [id, job_runs] : of_job) {
      EXPECT_TRUE(ended_.count(id)) << "a run of " << id << ", a job nobody acknowledged";
    }
    for (const Agent& a : fixed_) {
      EXPECT_LE(testing::ExpectNoDeviceUsedTwice(runs, a.id, kDevices),
                static_cast<size_t>(kDevices));
    }
    runs_ = runs.size();
  }

  // Every acknowledged transfer ends done (restarts of either side lose nothing), and the
  // copy's bytes, on disk and downloaded, hash to what was uploaded.
  void CheckTransfers() {
    for (const Ack& a : transfers_) {
      const json::value t =
          testing::AwaitTransfer(cluster_, cluster_[a.home], a.id, testing::Ended, 120s);
      ASSERT_EQ(Str(t, "state"), "done") << json::serialize(t);
      const std::string name = Str(json::parse(a.body), "dataset");
      const std::string& sha = datasets_.at(name).second;
      EXPECT_EQ(Str(t, "sha256"), sha);
      EXPECT_EQ(testing::FileSha256(testing::DatasetsDir(cluster_[a.home]) + "/" + name + "/data"),
                sha);
      EXPECT_EQ(DownloadSha256(cluster_, cluster_[a.home], name), sha) << name;
      egress_[a.id] = {Str(json::parse(a.body), "from"), name};
    }
  }

  // The settlements expected on both sides: one per job that succeeded away from home, one
  // per transfer (the receiver pays the source).
  std::map<std::string, std::pair<std::string, std::string>> ExpectedSettlements() const {
    std::map<std::string, std::pair<std::string, std::string>> out;  // id -> payee, payer
    for (const Ack& a : jobs_) {
      const json::value& job = ended_.at(a.id);
      const std::string ran = Str(job, "center");
      if (Str(job, "state") != "succeeded" || ran == fixed_[a.home].id) continue;
      const auto& attempts = job.at("attempts").as_array();
      out["compute/" + Str(attempts.back(), "hold_id")] = {ran, fixed_[a.home].id};
    }
    for (const Ack& a : transfers_) {
      out["egress/" + a.id + "/" + egress_.at(a.id).first] = {egress_.at(a.id).first,
                                                              fixed_[a.home].id};
    }
    return out;
  }

  // Polls every ledger until the exchange is over: nothing offered and unanswered, what is
  // expected on both sides, and each pair of centers holding the same records.
  void AwaitSettlementsExchanged() {
    const auto expected = ExpectedSettlements();
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
      for (const Agent& a : fixed_) held_[a.id] = testing::Settlements(cluster_, a);
      last = ExchangeNotOver(expected);
      if (last.empty()) return;
      std::this_thread::sleep_for(200ms);  // finance polling its ledgers
    }
    FAIL() << "settlements not exchanged: " << last;
  }

  std::string ExchangeNotOver(
      const std::map<std::string, std::pair<std::string, std::string>>& expected) {
    for (const auto& [center, records] : held_) {
      for (const auto& [id, s] : records) {
        if (Str(s, "state") == "offered") return id + " unanswered at " + center;
        if (!held_[Str(s, "counterparty")].count(id)) return id + " at " + center + " only";
      }
    }
    for (const auto& [id, sides] : expected) {
      for (const std::string& c : {sides.first, sides.second}) {
        if (!held_[c].count(id)) return id + " missing at " + c;
      }
    }
    return "";
  }

  // Each side's record the same as the other's, all agreed; one compute settlement per job
  // at most, exactly one for a job that succeeded away; one egress settlement per transfer
  // at its price; every record agreed before a kill still there, unchanged.
  void CheckSettlements() {
    for (size_t i = 0; i < kCenters; ++i) {
      for (size_t j = 0; j < kCenters; ++j) {
        if (i != j) {
          testing::ExpectSameOnBothSides(held_[fixed_[i].id], held_[fixed_[j].id], fixed_[i].id,
                                         fixed_[j].id);
        }
      }
    }
    const auto expected = ExpectedSettlements();
    std::map<std::string, int> settled;  // center + job -> compute settlements
    for (const auto& [center, records] : held_) {
      for (const auto& [id, s] : records) {
        EXPECT_EQ(Str(s, "state"), "agreed") << center << ": " << json::serialize(s);
        EXPECT_GE(Int(s, "amount_fen"), 0) << id;
        if (Str(s, "kind") == "compute") {
          EXPECT_EQ(++settled[center + " " + Str(s, "job")], 1) << "job settled twice: " << id;
          EXPECT_TRUE(ended_.count(Str(s, "job"))) << "a settlement of an unknown job: " << id;
        }
        const auto want = expected.find(id);
        if (want == expected.end()) continue;
        EXPECT_EQ(Str(s, "payee"), want->second.first) << id;
        EXPECT_EQ(Str(s, "payer"), want->second.second) << id;
      }
    }
    for (const Ack& a : transfers_) {
      const int64_t size = datasets_.at(egress_.at(a.id).second).first;
      const auto& s = held_[fixed_[a.home].id]["egress/" + a.id + "/" + egress_.at(a.id).first];
      EXPECT_EQ(Int(s, "bytes"), size) << a.id;
      EXPECT_EQ(Int(s, "amount_fen"), (size * kEgressFenPerGb + 500'000'000) / 1'000'000'000);
    }
    for (const auto& [center, records] : agreed_before_kills_) {
      for (const auto& [id, s] : records) {
        const auto it = held_[center].find(id);
        ASSERT_NE(it, held_[center].end()) << id << " agreed at " << center << ", then lost";
        EXPECT_EQ(Str(it->second, "hash"), Str(s, "hash")) << id << " at " << center;
        EXPECT_EQ(Str(it->second, "state"), "agreed") << id << " at " << center;
      }
    }
  }

  // Chains verify (API and CLI), each pair reconciles, balances and netting sum to 0 fen.
  void CheckFinance() {
    for (const Agent& a : fixed_) {
      testing::ExpectChainsVerify(cluster_, a);
      std::string out, err;
      EXPECT_EQ(
          testing::RunEdwc({"ledger", "verify", "--url", a.api_url, "--ca", cluster_.ca_file(),
                            "--token", testing::TokenFor(config::Role::kFinance)},
                           cluster_.root() + "/verify-" + a.id + ".log", &out, &err),
          0)
          << out << err;
      for (const Agent& peer : fixed_) {
        if (peer.id <= a.id) continue;
        auto [status, report] =
            cluster_.Call(a, "POST", "/v1/reconcile/" + peer.id, "{}", config::Role::kFinance);
        ASSERT_EQ(status, 200) << json::serialize(report);
        EXPECT_TRUE(report.at("matched").as_bool()) << json::serialize(report);
        EXPECT_TRUE(report.at("discrepancies").as_array().empty()) << json::serialize(report);
      }
    }
    std::map<std::string, int64_t> net;
    const json::value netting = testing::ExpectNetsToZero(cluster_, fixed_, cluster_[0], &net);
    ASSERT_TRUE(netting.is_object());
    EXPECT_TRUE(netting.at("disagreements").as_array().empty()) << json::serialize(netting);
  }

  void PrintSummary() const {
    std::map<std::string, int> states;
    int away = 0;
    for (const Ack& a : jobs_) {
      const json::value& job = ended_.at(a.id);
      const std::string reason = Str(job, "reason");  // "no center accepted: c1: ..."
      ++states[Str(job, "state") +
               (reason.empty() ? "" : " (" + reason.substr(0, reason.find(':')) + ")")];
      away += Str(job, "center") != fixed_[a.home].id;
    }
    size_t settlements = 0, agreed_before = 0;
    for (const auto& [center, records] : held_) settlements += records.size();
    for (const auto& [center, records] : agreed_before_kills_) agreed_before += records.size();
    std::cout << "crash test: seed " << seed_ << ", " << restarts_.size() << " kills; jobs "
              << jobs_.size() << " acknowledged (";
    for (const auto& [state, n] : states) std::cout << state << " " << n << ", ";
    std::cout << away << " away from home), " << runs_ << " runs logged; transfers "
              << transfers_.size() << " done and verified; settlements " << settlements / 2
              << " on both sides, " << agreed_before << " agreed before a kill and kept"
              << std::endl;
  }

  Cluster cluster_;
  const uint64_t seed_;
  const int kills_;
  // The workload grows with the schedule: brokers stop when it ends, or at this many jobs
  // each; each dataset is copied to two other centers.
  const int jobs_per_broker_ = 10 + 5 * kills_;
  const int datasets_count_ = std::max(4, kills_ / 3);
  const std::string log_;  // every job's start and end
  std::vector<Agent> fixed_;
  std::map<std::string, std::pair<int64_t, std::string>> datasets_;  // name -> size, sha
  std::atomic<bool> schedule_over_{false};
  std::mutex mu_;
  std::vector<Ack> jobs_, transfers_;  // GUARDED_BY(mu_) while the workload runs
  // Written by the kill thread only, read after it is joined.
  std::vector<Restart> restarts_;
  std::map<std::string, std::map<std::string, json::object>> agreed_before_kills_;
  // Results.
  std::map<std::string, json::value> ended_;                           // job id -> job
  std::map<std::string, std::pair<std::string, std::string>> egress_;  // transfer -> from, ds
  std::map<std::string, std::map<std::string, json::object>> held_;    // center -> records
  size_t runs_ = 0;
};

TEST_F(CrashTest, AgentsKilledAtRandomMomentsLoseAndDoubleNothing) {
  StartFederation();
  UploadDatasets();
  ASSERT_FALSE(HasFailure());
  RunWorkloadUnderKills();
  ASSERT_FALSE(HasFailure());
  ASSERT_FALSE(jobs_.empty());
  cluster_.AwaitAllAlive();
  ExpectRetriesHaveNoSecondEffect();
  AwaitJobsAndCheckLists();
  CheckRuns();
  CheckTransfers();
  if (HasFatalFailure()) return;
  AwaitSettlementsExchanged();
  CheckSettlements();
  CheckFinance();
  PrintSummary();
}

// The narrowest window: the center that runs a job is killed just as it starts it (the
// broker's 201 comes back with the commit), at delays stepping through the few
// milliseconds between the job's process starting and its running state being synced.
TEST(CrashAtStartTest, ACenterKilledAsItStartsAJobNeverRunsItTwice) {
  Cluster cluster;
  cluster.Start("target", "", testing::H20(kDevices, 500));
  cluster.Start("home", cluster[0].peer_url, testing::H20(1, 90000));
  // Restarted, "target" announces itself to "home" at once (not when "home" retries it).
  cluster[0].config.federation.seeds = {cluster[1].peer_url};
  std::ofstream(cluster[0].config_path) << config::RenderCenterConfig(cluster[0].config);
  cluster.AwaitAllAlive();
  const std::string log = cluster.root() + "/runs.log";
  std::vector<std::string> ids;
  int step = 0;  // jobs placed at "target" so far, each followed by a kill
  for (int i = 0; i < 100 && step < 8; ++i) {
    const std::string body = testing::JobBody(1, testing::LoggedJobScript(log, "0.5"));
    const json::value job =
        SendUntilAcknowledged(cluster, cluster[1], "/v1/jobs", body, "k-" + std::to_string(i));
    ids.push_back(Str(job, "id"));
    // Just after a kill, "home" may keep away from "target" for a while (its circuit
    // breaker): such a job runs at home, and the next one is tried a little later.
    if (Str(job, "center") != "target") {
      std::this_thread::sleep_for(200ms);
      continue;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500 * step++));
    cluster.Kill(0);
    cluster.Restart(0);
    cluster.AwaitAllAlive();
  }
  ASSERT_EQ(step, 8) << "too few jobs were placed at the target";
  std::map<std::string, json::value> ended;
  for (const std::string& id : ids) ended[id] = testing::AwaitEnd(cluster, cluster[1], id, 60s);
  std::map<std::string, std::string> runs;  // job -> "hold at center from start to end, ..."
  for (const JobRun& r : testing::ReadJobRuns(log)) {
    runs[r.job] += r.hold + " at " + r.center + " from " + std::to_string(r.start_ns) + " to " +
                   std::to_string(r.end_ns) + "; ";
  }
  for (const auto& [id, job] : ended) {
    EXPECT_EQ(runs[id].find(';'), runs[id].rfind(';'))
        << id << " ran twice: " << runs[id] << json::serialize(job);
  }
}

}  // namespace
}  // namespace edwc
