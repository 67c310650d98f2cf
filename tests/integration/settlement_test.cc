// Settlements across real agents on loopback: a mixed workload of jobs and transfers over
// five centers is settled once on both sides, co-signed, and nets to zero; kill -9 of
// either side during the exchange loses and doubles nothing; a tampered record is found
// by `edwc ledger verify`, and reconciliation classifies a changed and a missing record.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "config/load.h"
#include "core/json.h"
#include "federation/advert.h"
#include "federation/settlement.h"
#include "gateway/advert_crypto.h"
#include "gateway/certs.h"
#include "storage/store.h"
#include "tests/integration/cluster.h"
#include "tests/integration/workload.h"

namespace edwc {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;
using testing::Agent;
using testing::AwaitEnd;
using testing::Cluster;
using testing::ExpectChainsVerify;
using testing::ExpectSameOnBothSides;
using testing::Int;
using testing::JobBody;
using testing::Settlements;
using testing::Str;
using testing::TotalNet;

constexpr int64_t kEgressFenPerGb = 100000;  // dear, so that megabytes cost whole fen

// h20 at `fen` yuan per device-hour (x 1000 fen: dear, so that 0.3 s costs whole fen), and
// egress at kEgressFenPerGb.
Cluster::Edit Center(int32_t count, int64_t fen) {
  return [count, fen](config::CenterConfig& c) {
    testing::H20(count, fen * 1000)(c);
    c.pricing.egress_per_gb = core::Money::Fen(kEgressFenPerGb);
  };
}

// Waits until every agent holds `expected` settlements, all answered (none offered).
void AwaitSettled(const Cluster& cluster, std::vector<Agent>& agents,
                  const std::map<std::string, size_t>& expected) {
  const auto deadline = std::chrono::steady_clock::now() + 90s;
  std::string last;
  while (std::chrono::steady_clock::now() < deadline) {
    bool all = true;
    for (const Agent& a : agents) {
      if (a.child.pid <= 0) continue;
      auto records = Settlements(cluster, a);
      size_t offered = 0;
      for (const auto& [id, s] : records) offered += Str(s, "state") == "offered";
      const auto want = expected.find(a.id);
      const size_t n = want == expected.end() ? 0 : want->second;
      if (records.size() != n || offered > 0) {
        all = false;
        last = a.id + " holds " + std::to_string(records.size()) + " (want " + std::to_string(n) +
               "), " + std::to_string(offered) + " unanswered";
        break;
      }
    }
    if (all) return;
    std::this_thread::sleep_for(200ms);  // finance polling its ledger
  }
  FAIL() << "settlements did not converge: " << last;
}

// Submits `n` jobs of 4 devices from `home` running `script`; their ids.
std::vector<std::string> Submit(Cluster& cluster, const Agent& home, int n,
                                const std::string& script, const std::string& key_prefix) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    auto [status, job] =
        cluster.Call(home, "POST", "/v1/jobs", JobBody(4, script), config::Role::kBroker,
                     {{"idempotency-key", key_prefix + "-" + std::to_string(i)}});
    EXPECT_TRUE(status == 201 || status == 202) << status << " " << json::serialize(job);
    if (status == 201 || status == 202) ids.push_back(Str(job, "id"));
  }
  return ids;
}

TEST(SettlementTest, AMixedWorkloadSettlesOnceOnBothSidesAndNetsToZero) {
  Cluster cluster;
  cluster.Start("c0", "", Center(16, 500));
  for (int i = 1; i < 5; ++i) {
    cluster.Start("c" + std::to_string(i), cluster[0].peer_url, Center(16, 500 + 100 * i));
  }
  cluster.AwaitAllAlive();

  // Jobs from every home; the cheap centers fill up, so they spread out.
  std::vector<std::pair<size_t, std::string>> jobs;  // home, id
  for (size_t home = 0; home < 5; ++home) {
    for (const std::string& id :
         Submit(cluster, cluster[home], 3, "sleep 0.3", "mixed-" + std::to_string(home))) {
      jobs.emplace_back(home, id);
    }
  }
  // Transfers: a dataset at c0 copied to c1 and c3 (the receivers owe c0 its egress).
  const int64_t size = 4 << 20;
  ASSERT_FALSE(testing::Put(cluster, cluster[0], "shards", size).empty());
  std::vector<std::pair<std::string, std::string>> transfers;  // id, receiver
  for (size_t to : {1, 3}) {
    auto [status, started] =
        testing::StartTransfer(cluster, cluster[to], "shards", "c0", cluster[to].id);
    ASSERT_EQ(status, 201) << json::serialize(started);
    transfers.emplace_back(Str(started.at("transfer"), "id"), cluster[to].id);
  }

  // What should be settled: a compute settlement per job that ran away from its home, an
  // egress one per transfer; each on both sides.
  std::map<std::string, size_t> expected;
  std::map<std::string, std::pair<std::string, std::string>> compute;  // job -> payee, payer
  for (const auto& [home, id] : jobs) {
    json::value job = AwaitEnd(cluster, cluster[home], id);
    ASSERT_EQ(Str(job, "state"), "succeeded") << json::serialize(job);
    const std::string ran = Str(job, "center");
    if (ran == cluster[home].id) continue;
    compute[id] = {ran, cluster[home].id};
    ++expected[ran];
    ++expected[cluster[home].id];
  }
  ASSERT_GE(compute.size(), 8u) << "too few jobs ran away from home to test settlement";
  for (const auto& [id, to] : transfers) {
    json::value t =
        testing::AwaitTransfer(cluster, cluster[to == "c1" ? 1 : 3], id, testing::Ended);
    ASSERT_EQ(Str(t, "state"), "done") << json::serialize(t);
    ++expected["c0"];
    ++expected[to];
  }
  AwaitSettled(cluster, cluster.agents(), expected);

  std::map<std::string, std::map<std::string, json::object>> held;
  for (const Agent& a : cluster.agents()) held[a.id] = Settlements(cluster, a);
  // Pages of 2 list the same records, each once.
  for (const Agent& a : cluster.agents()) EXPECT_EQ(Settlements(cluster, a, 2), held[a.id]);
  // Exactly one compute settlement per job at the center that ran it and at its home,
  // agreed, with the same amount and record.
  for (const auto& [job, sides] : compute) {
    const auto& [payee, payer] = sides;
    for (const std::string& center : {payee, payer}) {
      int found = 0;
      for (const auto& [id, s] : held[center]) {
        if (Str(s, "job") != job || Str(s, "kind") != "compute") continue;
        ++found;
        EXPECT_EQ(Str(s, "state"), "agreed") << json::serialize(s);
        EXPECT_EQ(Str(s, "payee"), payee);
        EXPECT_EQ(Str(s, "payer"), payer);
        EXPECT_EQ(Int(s, "devices"), 4);
        EXPECT_GT(Int(s, "amount_fen"), 0);
      }
      EXPECT_EQ(found, 1) << "job " << job << " at " << center;
    }
  }
  // One egress settlement per transfer: the receiver owes c0 the price of the bytes.
  for (const auto& [id, to] : transfers) {
    const std::string sid = "egress/" + id + "/c0";
    for (const std::string& center : {std::string("c0"), to}) {
      ASSERT_TRUE(held[center].count(sid)) << sid << " missing at " << center;
      const json::object& s = held[center].at(sid);
      EXPECT_EQ(Str(s, "state"), "agreed");
      EXPECT_EQ(Int(s, "bytes"), size);
      EXPECT_EQ(Int(s, "amount_fen"), (size * kEgressFenPerGb + 500'000'000) / 1'000'000'000);
    }
  }
  for (size_t i = 0; i < 5; ++i) {
    for (size_t j = i + 1; j < 5; ++j) {
      ExpectSameOnBothSides(held[cluster[i].id], held[cluster[j].id], cluster[i].id, cluster[j].id);
    }
  }
  // Both signatures of every record check out (verify walks chains and signatures).
  for (const Agent& a : cluster.agents()) ExpectChainsVerify(cluster, a);

  // Exports: the CSV has a line per record; each statement's totals equal the ledger's.
  for (const Agent& a : cluster.agents()) {
    auto [csv_status, csv] =
        cluster.Call(a, "GET", "/v1/settlements?format=csv&limit=1000", "", config::Role::kFinance);
    ASSERT_EQ(csv_status, 200);
    const std::string text = csv.is_string() ? std::string(csv.as_string()) : "";
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'),
              static_cast<std::ptrdiff_t>(held[a.id].size() + 1))
        << text;
    auto [b_status, balances] = cluster.Call(a, "GET", "/v1/balances", "", config::Role::kFinance);
    ASSERT_EQ(b_status, 200);
    for (const json::value& b : balances.at("balances").as_array()) {
      auto [st, invoice] = cluster.Call(a, "GET", "/v1/statements/" + Str(b, "counterparty"), "",
                                        config::Role::kFinance);
      ASSERT_EQ(st, 200) << json::serialize(invoice);
      const json::value& totals = invoice.at("totals");
      EXPECT_EQ(Int(totals, "net_fen"), Int(b, "net_fen")) << json::serialize(invoice);
      EXPECT_EQ(Int(totals, "receivable_fen"), Int(b, "receivable_fen"));
      EXPECT_EQ(Int(totals, "payable_fen"), Int(b, "payable_fen"));
      int64_t lines = 0;
      for (const json::value& l : invoice.at("lines").as_array()) {
        lines += Str(l, "direction") == "receivable" ? Int(l, "amount_fen") : -Int(l, "amount_fen");
      }
      EXPECT_EQ(lines, Int(totals, "net_fen"));
    }
  }

  // Balances sum to zero across the federation; netting conserves each position.
  std::map<std::string, int64_t> net;
  const json::value netting =
      testing::ExpectNetsToZero(cluster, cluster.agents(), cluster[2], &net);
  ASSERT_TRUE(netting.is_object());
  std::map<std::string, int64_t> after_payments = net;
  size_t nonzero = 0;
  for (const auto& [c, p] : net) nonzero += p != 0;
  const auto& payments = netting.at("payments").as_array();
  EXPECT_LE(payments.size(), nonzero > 0 ? nonzero - 1 : 0);
  for (const json::value& p : payments) {
    EXPECT_GT(Int(p, "amount_fen"), 0);
    after_payments[Str(p, "from")] += Int(p, "amount_fen");
    after_payments[Str(p, "to")] -= Int(p, "amount_fen");
  }
  for (const auto& [c, p] : after_payments)
    EXPECT_EQ(p, 0) << c << " is not settled by the payments";
}

TEST(SettlementTest, KillingEitherSideDuringTheExchangeLosesAndDoublesNothing) {
  Cluster cluster;
  cluster.Start("payee", "", Center(16, 500));
  cluster.Start("payer", cluster[0].peer_url, Center(4, 900));
  cluster.AwaitAllAlive();
  std::vector<std::string> ids;
  for (int round = 0; round < 4; ++round) {
    auto more = Submit(cluster, cluster[1], 4, "true", "round" + std::to_string(round));
    ids.insert(ids.end(), more.begin(), more.end());
    // The first job of the round ends: the others are ending and being settled now.
    AwaitEnd(cluster, cluster[1], more.front());
    const size_t victim = round % 2;  // payee, payer, payee, payer
    cluster.Kill(victim);
    cluster.Restart(victim);
  }
  // Jobs submitted just after a restart may find the payee unreachable and fail without
  // running: nothing is owed for those.
  size_t ran_at_payee = 0;
  for (const std::string& id : ids) {
    json::value job = AwaitEnd(cluster, cluster[1], id, 120s);
    ran_at_payee += Str(job, "state") == "succeeded" && Str(job, "center") == "payee";
  }
  ASSERT_GE(ran_at_payee, 4u);
  AwaitSettled(cluster, cluster.agents(), {{"payee", ran_at_payee}, {"payer", ran_at_payee}});
  auto at_payee = Settlements(cluster, cluster[0]);
  auto at_payer = Settlements(cluster, cluster[1]);
  ExpectSameOnBothSides(at_payee, at_payer, "payee", "payer");
  ExpectSameOnBothSides(at_payer, at_payee, "payer", "payee");
  std::set<std::string> jobs_settled;
  for (const auto& [id, s] : at_payer) {
    EXPECT_EQ(Str(s, "state"), "agreed") << json::serialize(s);
    EXPECT_TRUE(jobs_settled.insert(Str(s, "job")).second)
        << "job settled twice: " << Str(s, "job");
  }
  for (const Agent& a : cluster.agents()) ExpectChainsVerify(cluster, a);
}

// Rewrites west's stored record `seq` of chain east -> west with `edit`, or deletes it.
void TamperWithLedger(const std::string& db, uint64_t seq,
                      const std::function<void(json::object&)>& edit) {
  storage::StoreOptions options;
  options.path = db;
  auto store = storage::Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  char key[64];
  std::snprintf(key, sizeof key, "e/east/west/%020llu", static_cast<unsigned long long>(seq));
  auto value = (*store)->Get(storage::Cf::kLedger, key);
  ASSERT_TRUE(value.ok() && value->has_value()) << key;
  storage::Batch batch;
  if (edit) {
    auto record = core::ParseJsonObject(**value);
    ASSERT_TRUE(record.ok());
    edit(*record);
    batch.Put(storage::Cf::kLedger, key, json::serialize(*record));
  } else {
    auto record = core::ParseJsonObject(**value);
    ASSERT_TRUE(record.ok());
    batch.Delete(storage::Cf::kLedger, key);
    batch.Delete(storage::Cf::kLedger, "i/" + Str(record->at("body"), "id"));
  }
  ASSERT_TRUE((*store)->Write(std::move(batch)).ok());
}

TEST(SettlementTest, TamperingIsFoundByVerifyAndReconcileClassifiesTheDifferences) {
  Cluster cluster;
  cluster.Start("east", "", Center(16, 500));
  cluster.Start("west", cluster[0].peer_url, Center(4, 900));
  cluster.AwaitAllAlive();
  for (const std::string& id : Submit(cluster, cluster[1], 5, "true", "t")) {
    ASSERT_EQ(Str(AwaitEnd(cluster, cluster[1], id), "center"), "east");
  }
  AwaitSettled(cluster, cluster.agents(), {{"east", 5}, {"west", 5}});
  auto before = Settlements(cluster, cluster[1]);
  std::map<uint64_t, std::string> id_of;  // seq -> id
  for (const auto& [id, s] : before) id_of[static_cast<uint64_t>(Int(s, "seq"))] = id;
  ASSERT_EQ(id_of.size(), 5u);

  // West's disk is edited behind its back: record 2's amount raised, record 4 removed.
  cluster.Kill(1);
  const std::string db = cluster[1].config.storage.path;
  TamperWithLedger(db, 2, [](json::object& r) {
    json::object& body = r.at("body").as_object();
    body["amount_fen"] = body.at("amount_fen").as_int64() + 100;
  });
  TamperWithLedger(db, 4, nullptr);
  cluster.Restart(1);
  cluster.AwaitAllAlive();  // reconciliation needs each side to know where the other is

  // `edwc ledger verify` finds the first break, and fails.
  std::string out, err;
  const int code =
      testing::RunEdwc({"ledger", "verify", "--url", cluster[1].api_url, "--ca", cluster.ca_file(),
                        "--token", testing::TokenFor(config::Role::kFinance)},
                       cluster.root() + "/verify.log", &out, &err);
  EXPECT_EQ(code, 1) << out << err;
  EXPECT_NE(out.find("east -> west"), std::string::npos) << out;
  EXPECT_NE(out.find("record 2"), std::string::npos) << out;

  // Reconciliation from east: west's record 2 differs in amount, record 4 is missing there.
  auto [status, report] =
      cluster.Call(cluster[0], "POST", "/v1/reconcile/west", "{}", config::Role::kFinance);
  ASSERT_EQ(status, 200) << json::serialize(report);
  EXPECT_FALSE(report.at("matched").as_bool());
  std::map<std::string, std::string> kind_of;
  for (const json::value& d : report.at("discrepancies").as_array()) {
    kind_of[Str(d, "id")] = Str(d, "kind");
  }
  EXPECT_EQ(kind_of[id_of[2]], "amount_mismatch") << json::serialize(report);
  EXPECT_EQ(kind_of[id_of[4]], "missing_there") << json::serialize(report);
  EXPECT_EQ(kind_of.size(), 2u) << json::serialize(report);
  EXPECT_EQ(Int(report.at("summary"), "amount_mismatch"), 1);
  EXPECT_EQ(Int(report.at("summary"), "missing_there"), 1);
  // And from west: the record it lost is missing here.
  auto [status2, report2] =
      cluster.Call(cluster[1], "POST", "/v1/reconcile/east", "{}", config::Role::kFinance);
  ASSERT_EQ(status2, 200) << json::serialize(report2);
  std::map<std::string, std::string> kind2;
  for (const json::value& d : report2.at("discrepancies").as_array()) {
    kind2[Str(d, "id")] = Str(d, "kind");
  }
  EXPECT_EQ(kind2[id_of[4]], "missing_here") << json::serialize(report2);
  EXPECT_EQ(kind2[id_of[2]], "amount_mismatch") << json::serialize(report2);
  // East's own chains are whole.
  ExpectChainsVerify(cluster, cluster[0]);
}

TEST(SettlementTest, EachLegOfARelayedTransferIsPaidByItsReceiver) {
  Cluster cluster;
  auto with_links = [](std::vector<config::LinkConfig> links) {
    return [links](config::CenterConfig& c) {
      Center(16, 500)(c);
      c.federation.links = links;
    };
  };
  cluster.Start("east", "", with_links({{"relay", 10000, 5}, {"west", 10, 40}}));
  cluster.Start("relay", cluster[0].peer_url, with_links({{"west", 10000, 5}}));
  cluster.Start("west", cluster[0].peer_url, with_links({}));
  cluster.AwaitAllAlive();
  const int64_t size = 8 << 20;
  ASSERT_FALSE(testing::Put(cluster, cluster[0], "maps", size, "?chunk_size=1048576").empty());
  auto [status, started] = testing::StartTransfer(cluster, cluster[2], "maps", "east", "west");
  ASSERT_EQ(status, 201) << json::serialize(started);
  const std::string id = Str(started.at("transfer"), "id");
  ASSERT_EQ(Str(started.at("transfer"), "relay"), "relay");
  ASSERT_EQ(Str(testing::AwaitTransfer(cluster, cluster[2], id, testing::Ended), "state"), "done");
  // east <- relay pays the first leg, relay <- west the second.
  AwaitSettled(cluster, cluster.agents(), {{"east", 1}, {"relay", 2}, {"west", 1}});
  const int64_t fen = (size * kEgressFenPerGb + 500'000'000) / 1'000'000'000;
  const auto at_east = Settlements(cluster, cluster[0]);
  const auto at_relay = Settlements(cluster, cluster[1]);
  const auto at_west = Settlements(cluster, cluster[2]);
  const std::string first = "egress/" + id + "/east", second = "egress/" + id + "/relay";
  auto ids = [](const std::map<std::string, json::object>& m) {
    std::string out;
    for (const auto& [k, v] : m) out += k + " ";
    return out;
  };
  ASSERT_TRUE(at_east.count(first) && at_relay.count(first) && at_relay.count(second) &&
              at_west.count(second))
      << "east: " << ids(at_east) << "relay: " << ids(at_relay) << "west: " << ids(at_west);
  EXPECT_EQ(Str(at_east.at(first), "payer"), "relay");
  EXPECT_EQ(Str(at_relay.at(second), "payer"), "west");
  for (const auto* s :
       {&at_east.at(first), &at_relay.at(first), &at_relay.at(second), &at_west.at(second)}) {
    EXPECT_EQ(Str(*s, "state"), "agreed") << json::serialize(*s);
    EXPECT_EQ(Int(*s, "bytes"), size);
    EXPECT_EQ(Int(*s, "amount_fen"), fen);
  }
  EXPECT_EQ(
      TotalNet(cluster, cluster[0]) + TotalNet(cluster, cluster[1]) + TotalNet(cluster, cluster[2]),
      0);
}

TEST(SettlementTest, AnEgressPriceChangedMidTransferIsDisputedWithBothVersions) {
  Cluster cluster;
  cluster.Start("east", "", Center(4, 500));
  cluster.Start("west", cluster[0].peer_url, Center(4, 500));
  cluster.AwaitAllAlive();
  const int64_t size = 256 << 20;
  ASSERT_FALSE(testing::Put(cluster, cluster[0], "archive", size).empty());
  auto [status, started] = testing::StartTransfer(cluster, cluster[1], "archive", "east", "west");
  ASSERT_EQ(status, 201) << json::serialize(started);
  const std::string id = Str(started.at("transfer"), "id");
  // The plan priced the bytes at the advertised kEgressFenPerGb. Halfway, the receiver is
  // down while east doubles its price (its config is re-read within 2 s); then the
  // receiver comes back and finishes.
  const json::value moving = testing::AwaitTransfer(
      cluster, cluster[1], id,
      [&](const json::value& t) { return Int(t, "bytes_done") > 0 || testing::Ended(t); });
  ASSERT_EQ(Str(moving, "state"), "moving") << "finished before the kill: make it bigger";
  cluster.Kill(1);
  cluster[0].config.pricing.egress_per_gb = core::Money::Fen(2 * kEgressFenPerGb);
  std::ofstream(cluster[0].config_path) << config::RenderCenterConfig(cluster[0].config);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  int64_t price = 0;
  while (price != 2 * kEgressFenPerGb && std::chrono::steady_clock::now() < deadline) {
    auto [st, center] =
        cluster.Call(cluster[0], "GET", "/v1/centers/east", "", config::Role::kViewer);
    price = st == 200 ? Int(center, "egress_per_gb_fen") : 0;
    if (price != 2 * kEgressFenPerGb) std::this_thread::sleep_for(100ms);  // the 2 s re-read
  }
  ASSERT_EQ(price, 2 * kEgressFenPerGb);
  cluster.Restart(1);
  const json::value done = testing::AwaitTransfer(cluster, cluster[1], id, testing::Ended);
  ASSERT_EQ(Str(done, "state"), "done") << json::serialize(done);
  AwaitSettled(cluster, cluster.agents(), {{"east", 1}, {"west", 1}});
  const std::string sid = "egress/" + id + "/east";
  const int64_t planned = (size * kEgressFenPerGb + 500'000'000) / 1'000'000'000;
  const int64_t charged = (size * 2 * kEgressFenPerGb + 500'000'000) / 1'000'000'000;
  for (size_t i : {0, 1}) {
    auto [st, got] = cluster.Call(cluster[i], "GET", "/v1/settlements/egress%2F" + id + "%2Feast",
                                  "", config::Role::kFinance);
    ASSERT_EQ(st, 200) << json::serialize(got);
    const json::value& view = got.at("settlement");
    EXPECT_EQ(Str(view, "id"), sid);
    EXPECT_EQ(Str(view, "state"), "disputed") << json::serialize(got);
    EXPECT_EQ(Int(view, "amount_fen"), charged);  // what east asks
    const json::value& record = got.at("record");
    // Both versions are kept: the payer's says what it agreed to.
    ASSERT_TRUE(record.at("payer_version").is_object()) << json::serialize(record);
    EXPECT_EQ(Int(record.at("payer_version"), "amount_fen"), planned);
    const auto& fields = record.at("disputed_fields").as_array();
    EXPECT_NE(std::find(fields.begin(), fields.end(), json::value("amount_fen")), fields.end());
  }
  // Neither side counts it as owed; both show it as disputed.
  auto [b_status, balances] =
      cluster.Call(cluster[1], "GET", "/v1/balances", "", config::Role::kFinance);
  ASSERT_EQ(b_status, 200);
  EXPECT_EQ(Int(balances.at("total"), "net_fen"), 0);
  EXPECT_EQ(Int(balances.at("balances").as_array().at(0), "disputed_payable_fen"), charged);
}

// An offer as another gateway ("gw") would make it: signed with gw's certificate key.
class FakePayee {
 public:
  FakePayee(Cluster& cluster, const Agent& payer) : cluster_(cluster), payer_(payer) {
    // The first peer call makes gw's certificate (cluster.root()/gw).
    cluster_.PeerCall(payer_, "gw", "GET", "/peer/v1/ledger/digests");
    auto signer = gateway::MakeAdvertSigner(cluster.root() + "/gw/chain.pem",
                                            cluster.root() + "/gw/center.key");
    EXPECT_TRUE(signer.ok()) << signer.status().ToString();
    signer_ = std::move(signer).value();
  }

  federation::Settlement Record(uint64_t seq, const std::string& prev_hash, int64_t fen) {
    federation::SettlementBody b;
    b.kind = federation::SettlementKind::kCompute;
    b.source = "gw.job-" + std::to_string(seq) + ".1";
    b.id = federation::SettlementId(b.kind, b.source);
    b.seq = seq;
    b.prev_hash = prev_hash;
    b.payee = "gw";
    b.payer = payer_.id;
    b.job = "job-" + std::to_string(seq);
    b.model = "h20";
    b.devices = 4;
    b.period_start = core::Time(core::Duration(1'790'000'000'000));
    b.period_end = b.period_start + core::Duration(3'600'000);
    b.accelerator_ms = 4 * 3'600'000;
    b.unit_price = core::Money::Fen(fen / 4);
    b.amount = core::Money::Fen(fen);
    b.issued_at = b.period_end;
    federation::Settlement s;
    s.body = b;
    s.hash = federation::BodyHash(b);
    s.payee_cert = gateway::Sha256Hex(signer_->certificate_pem());
    s.payee_sig = federation::Base64Encode(*signer_->Sign(federation::CanonicalBytes(b)));
    return s;
  }

  std::pair<int, json::value> Offer(const std::vector<federation::Settlement>& records) {
    json::array list;
    for (const auto& r : records) list.push_back(federation::ToJson(r));
    json::object body{{"payee_cert_pem", signer_->certificate_pem()},
                      {"settlements", std::move(list)}};
    return cluster_.PeerCall(payer_, "gw", "POST", "/peer/v1/settlements", json::serialize(body));
  }

 private:
  Cluster& cluster_;
  const Agent& payer_;
  std::unique_ptr<federation::AdvertSigner> signer_;
};

TEST(SettlementTest, APayerDisputesWhatItHasNoRecordOfAndRefusesGapsAndRewrites) {
  Cluster cluster;
  cluster.Start("west", "", Center(4, 900));
  cluster.AwaitAllAlive();
  FakePayee gw(cluster, cluster[0]);
  const federation::Settlement first = gw.Record(1, std::string(federation::kGenesisHash), 1200);

  // No job "job-1" ran for west: stored as a dispute, answered, never dropped.
  auto [status, answer] = gw.Offer({first});
  ASSERT_EQ(status, 200) << json::serialize(answer);
  const json::value& result = answer.at("results").as_array().at(0);
  EXPECT_EQ(Str(result, "state"), "disputed") << json::serialize(answer);
  EXPECT_NE(Str(result, "dispute_reason").find("job-1"), std::string::npos);
  EXPECT_FALSE(answer.as_object().contains("error"));
  // The same offer again: the same answer, one record.
  auto [again_status, again] = gw.Offer({first});
  ASSERT_EQ(again_status, 200);
  EXPECT_EQ(again.at("results").as_array().at(0), result);
  // Record 1 rewritten (another amount, properly signed): refused, nothing stored.
  auto [rewrite_status, rewrite] =
      gw.Offer({gw.Record(1, std::string(federation::kGenesisHash), 1300)});
  ASSERT_EQ(rewrite_status, 200);
  EXPECT_TRUE(rewrite.at("results").as_array().empty());
  EXPECT_EQ(Str(rewrite.at("error"), "code"), "conflict") << json::serialize(rewrite);
  // Record 3 before record 2: a gap, refused, naming what is expected.
  auto [gap_status, gap] = gw.Offer({gw.Record(3, first.hash, 500)});
  ASSERT_EQ(gap_status, 200);
  EXPECT_EQ(Int(gap.at("error"), "expected_seq"), 2) << json::serialize(gap);

  auto records = Settlements(cluster, cluster[0]);
  ASSERT_EQ(records.size(), 1u);
  const json::object& stored = records.begin()->second;
  EXPECT_EQ(Str(stored, "state"), "disputed");
  EXPECT_EQ(Int(stored, "amount_fen"), 1200);
  auto [b_status, balances] =
      cluster.Call(cluster[0], "GET", "/v1/balances", "", config::Role::kFinance);
  ASSERT_EQ(b_status, 200);
  const json::value& gw_balance = balances.at("balances").as_array().at(0);
  EXPECT_EQ(Str(gw_balance, "counterparty"), "gw");
  EXPECT_EQ(Int(gw_balance, "payable_fen"), 0);  // a dispute is not owed until settled
  EXPECT_EQ(Int(gw_balance, "disputed_payable_fen"), 1200);
  // The finance role only: a broker cannot read the ledger.
  auto [broker_status, ignored] = cluster.Call(cluster[0], "GET", "/v1/settlements");
  EXPECT_EQ(broker_status, 403);
}

}  // namespace
}  // namespace edwc
