// Unit tests of the pure settlement functions (federation/settlement.h).
#include "federation/settlement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <limits>
#include <random>
#include <set>

#include "core/json.h"
#include "federation/holds.h"
#include "federation/job_router.h"
#include "federation/transfer.h"
#include "pricing/price.h"

namespace edwc::federation {
namespace {

using core::Money;
using std::chrono::milliseconds;
using std::chrono::minutes;

const core::Time kT0 = core::Time(milliseconds(1'800'000'000'000));

SettlementBody FixedBody() {
  SettlementBody b;
  b.id = "compute/r.j1.1";
  b.seq = 3;
  b.prev_hash = std::string(kGenesisHash);
  b.payee = "wuhu";
  b.payer = "beijing";
  b.kind = SettlementKind::kCompute;
  b.source = "r.j1.1";
  b.job = "j1";
  b.model = "h800";
  b.devices = 2;
  b.accelerator_ms = 7'200'000;
  b.pflops_microhours = 1'978'000;
  b.unit_price = Money::Fen(1000);
  b.amount = Money::Fen(2000);
  b.period_start = kT0;
  b.period_end = kT0 + minutes(60);
  b.issued_at = kT0 + minutes(60) + milliseconds(1000);
  return b;
}

Settlement Agreed(SettlementBody b) {
  Settlement s;
  s.hash = BodyHash(b);
  s.body = std::move(b);
  s.state = SettlementState::kAgreed;
  s.payee_sig = "c2ln";
  s.payer_sig = "c2lnMg==";
  return s;
}

// A minimal agreed compute record from payee to payer.
Settlement Record(std::string payee, std::string payer, std::string source, int64_t fen,
                  core::Time end = kT0, uint64_t seq = 1) {
  SettlementBody b;
  b.source = std::move(source);
  b.id = SettlementId(SettlementKind::kCompute, b.source);
  b.seq = seq;
  b.prev_hash = std::string(kGenesisHash);
  b.payee = std::move(payee);
  b.payer = std::move(payer);
  b.amount = Money::Fen(fen);
  b.period_start = end;
  b.period_end = end;
  return Agreed(std::move(b));
}

// ---- Names, days, JSON ----------------------------------------------------------------

TEST(SettlementTest, NamesRoundTrip) {
  EXPECT_EQ(SettlementKindName(SettlementKind::kEgress), "egress");
  EXPECT_EQ(SettlementKindFromName("compute"), SettlementKind::kCompute);
  EXPECT_EQ(SettlementKindFromName("gpu"), std::nullopt);
  EXPECT_EQ(SettlementStateName(SettlementState::kDisputed), "disputed");
  EXPECT_EQ(SettlementStateFromName("agreed"), SettlementState::kAgreed);
  EXPECT_EQ(DiscrepancyKindName(DiscrepancyKind::kMissingHere), "missing_here");
  EXPECT_EQ(SettlementId(SettlementKind::kEgress, "t1/wuhu"), "egress/t1/wuhu");
}

TEST(SettlementTest, ChinaDay) {
  // 2027-01-15T08:00:00Z = 16:00 in China; 16:00Z is already the 16th there.
  core::Time t = *core::ParseRfc3339("2027-01-15T08:00:00Z");
  EXPECT_EQ(ChinaDay(t), "2027-01-15");
  EXPECT_EQ(ChinaDay(*core::ParseRfc3339("2027-01-15T15:59:59.999Z")), "2027-01-15");
  EXPECT_EQ(ChinaDay(*core::ParseRfc3339("2027-01-15T16:00:00Z")), "2027-01-16");
  auto start = ChinaDayStart("2027-01-16");
  ASSERT_TRUE(start.ok()) << start.status().ToString();
  EXPECT_EQ(*start, *core::ParseRfc3339("2027-01-15T16:00:00Z"));
  EXPECT_EQ(ChinaDay(*start), "2027-01-16");
  EXPECT_EQ(ChinaDay(*start - milliseconds(1)), "2027-01-15");
  for (std::string_view bad : {"2027-02-29", "2027-13-01", "2027-1-01", "2027/01/01", "",
                               "2027-01-011", "2027-00-10", "20a7-01-01"}) {
    EXPECT_EQ(ChinaDayStart(bad).status().code(), core::Code::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(ChinaDayStart("2028-02-29").ok());
}

TEST(SettlementTest, CanonicalBytesGolden) {
  const std::string golden =
      R"({"id":"compute/r.j1.1","seq":3,"prev_hash":")" + std::string(kGenesisHash) +
      R"(","payee":"wuhu","payer":"beijing","kind":"compute","source":"r.j1.1","job":"j1",)"
      R"("model":"h800","devices":2,"accelerator_ms":7200000,"bytes":0,)"
      R"("pflops_microhours":1978000,"unit_price_fen":1000,"amount_fen":2000,)"
      R"("period_start_ms":1800000000000,"period_end_ms":1800003600000,)"
      R"("issued_at_ms":1800003601000})";
  EXPECT_EQ(CanonicalBytes(FixedBody()), golden);
  EXPECT_EQ(CountersignBytes(FixedBody(), "sig=="), golden + "\nsig==");
  EXPECT_EQ(BodyHash(FixedBody()).size(), 64u);
  EXPECT_EQ(BodyHash(FixedBody()), BodyHash(FixedBody()));
}

TEST(SettlementTest, BodyHashCoversEveryField) {
  const std::vector<std::function<void(SettlementBody&)>> changes = {
      [](SettlementBody& b) { b.id += "x"; },
      [](SettlementBody& b) { b.seq++; },
      [](SettlementBody& b) { b.prev_hash[0] = '1'; },
      [](SettlementBody& b) { b.payee = "guiyang"; },
      [](SettlementBody& b) { b.payer = "guiyang"; },
      [](SettlementBody& b) { b.kind = SettlementKind::kEgress; },
      [](SettlementBody& b) { b.source += "x"; },
      [](SettlementBody& b) { b.job += "x"; },
      [](SettlementBody& b) { b.model = "h20"; },
      [](SettlementBody& b) { b.devices++; },
      [](SettlementBody& b) { b.accelerator_ms++; },
      [](SettlementBody& b) { b.bytes++; },
      [](SettlementBody& b) { b.pflops_microhours++; },
      [](SettlementBody& b) { b.unit_price = Money::Fen(1001); },
      [](SettlementBody& b) { b.amount = Money::Fen(2001); },
      [](SettlementBody& b) { b.period_start += milliseconds(1); },
      [](SettlementBody& b) { b.period_end += milliseconds(1); },
      [](SettlementBody& b) { b.issued_at += milliseconds(1); },
  };
  const std::string base = BodyHash(FixedBody());
  std::set<std::string> hashes{base};
  for (size_t i = 0; i < changes.size(); ++i) {
    SettlementBody b = FixedBody();
    changes[i](b);
    EXPECT_NE(BodyHash(b), base) << "change " << i;
    EXPECT_EQ(DifferingFields(FixedBody(), b).size(), 1u) << "change " << i;
    hashes.insert(BodyHash(b));
  }
  EXPECT_EQ(hashes.size(), changes.size() + 1);
}

TEST(SettlementTest, JsonRoundTrip) {
  const SettlementBody body = FixedBody();
  auto b = SettlementBodyFromJson(boost::json::value(ToJson(body)));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(*b, body);

  Settlement s = Agreed(body);
  s.payee_cert = std::string(64, 'a');
  s.payer_cert = std::string(64, 'b');
  s.updated_at = kT0 + minutes(61);
  auto parsed = SettlementFromJson(*core::ParseJson(boost::json::serialize(ToJson(s))));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, s);

  Settlement d = s;
  d.state = SettlementState::kDisputed;
  d.payer_sig.clear();
  d.payer_cert.clear();
  d.payer_version = body;
  d.payer_version->amount = Money::Fen(1500);
  d.disputed_fields = {"amount_fen"};
  d.dispute_reason = "fields differ: amount_fen";
  parsed = SettlementFromJson(boost::json::value(ToJson(d)));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, d);

  EgressClaim c{"t1", "wuhu", "beijing", "imagenet", 123456789, kT0, kT0 + minutes(5)};
  auto claim = EgressClaimFromJson(boost::json::value(ToJson(c)));
  ASSERT_TRUE(claim.ok()) << claim.status().ToString();
  EXPECT_EQ(*claim, c);

  DayDigest dd{"2027-01-15", 3, Money::Fen(12345), std::string(64, 'c')};
  boost::json::object dj = ToJson(dd);
  EXPECT_EQ(dj.at("total_cny").as_string(), "123.45");
  auto digest = DayDigestFromJson(boost::json::value(dj));
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(*digest, dd);
}

TEST(SettlementTest, StrictDecoding) {
  const auto field_of = [](const core::Status& st) {
    EXPECT_EQ(st.code(), core::Code::kInvalidArgument);
    return st.field();
  };
  boost::json::object o = ToJson(FixedBody());
  o["extra"] = 1;
  EXPECT_EQ(field_of(SettlementBodyFromJson(boost::json::value(o)).status()), "extra");

  o = ToJson(FixedBody());
  o["amount_fen"] = -1;
  EXPECT_EQ(field_of(SettlementBodyFromJson(boost::json::value(o)).status()), "amount_fen");

  o = ToJson(FixedBody());
  o["seq"] = 0;
  EXPECT_EQ(field_of(SettlementBodyFromJson(boost::json::value(o)).status()), "seq");

  o = ToJson(FixedBody());
  o["prev_hash"] = "abc";
  EXPECT_EQ(field_of(SettlementBodyFromJson(boost::json::value(o)).status()), "prev_hash");

  o = ToJson(FixedBody());
  o.erase("model");
  EXPECT_EQ(field_of(SettlementBodyFromJson(boost::json::value(o)).status()), "model");

  o = ToJson(FixedBody());
  o["devices"] = "2";
  EXPECT_EQ(field_of(SettlementBodyFromJson(boost::json::value(o)).status()), "devices");

  o = ToJson(FixedBody());
  o["kind"] = "gpu";
  EXPECT_EQ(field_of(SettlementBodyFromJson(boost::json::value(o)).status()), "kind");

  o = ToJson(FixedBody());
  o["id"] = "compute/other";
  EXPECT_EQ(field_of(SettlementBodyFromJson(boost::json::value(o)).status()), "id");

  boost::json::object s = ToJson(Agreed(FixedBody()));
  s["body"].as_object()["amount_fen"] = -5;
  EXPECT_EQ(field_of(SettlementFromJson(boost::json::value(s)).status()), "body.amount_fen");
  s = ToJson(Agreed(FixedBody()));
  s["surprise"] = true;
  EXPECT_EQ(field_of(SettlementFromJson(boost::json::value(s)).status()), "surprise");
  s = ToJson(Agreed(FixedBody()));
  s["state"] = "paid";
  EXPECT_EQ(field_of(SettlementFromJson(boost::json::value(s)).status()), "state");
  s = ToJson(Agreed(FixedBody()));
  s["hash"] = std::string(64, 'G');
  EXPECT_EQ(field_of(SettlementFromJson(boost::json::value(s)).status()), "hash");

  boost::json::object c = ToJson(EgressClaim{"t1", "wuhu", "beijing", "d", 5, kT0, kT0});
  c["bytes"] = -5;
  EXPECT_EQ(field_of(EgressClaimFromJson(boost::json::value(c)).status()), "bytes");
  boost::json::object d = ToJson(DayDigest{"2027-01-15", 1, Money::Fen(5), std::string(64, 'c')});
  d["total_cny"] = "0.06";
  EXPECT_EQ(field_of(DayDigestFromJson(boost::json::value(d)).status()), "total_cny");
  d = ToJson(DayDigest{"2027-02-30", 1, Money::Fen(5), std::string(64, 'c')});
  EXPECT_EQ(field_of(DayDigestFromJson(boost::json::value(d)).status()), "day");
}

TEST(SettlementTest, ViewFromEachSide) {
  Settlement s = Agreed(FixedBody());
  boost::json::object payee = ToView(s, "wuhu");
  EXPECT_EQ(payee.at("direction").as_string(), "receivable");
  EXPECT_EQ(payee.at("counterparty").as_string(), "beijing");
  EXPECT_EQ(payee.at("amount_cny").as_string(), "20.00");
  EXPECT_EQ(payee.at("accelerator_seconds").as_string(), "7200.000");
  EXPECT_EQ(payee.at("pflops_hours").as_string(), "1.978000");
  EXPECT_EQ(payee.at("day").as_string(), ChinaDay(s.body.period_end));
  EXPECT_EQ(payee.at("period_start").as_string(), core::FormatRfc3339(kT0));
  boost::json::object payer = ToView(s, "beijing");
  EXPECT_EQ(payer.at("direction").as_string(), "payable");
  EXPECT_EQ(payer.at("counterparty").as_string(), "wuhu");
}

// ---- Building ---------------------------------------------------------------------------

FirmTerms Firm(int64_t base_fen, int32_t surge = 1100) {
  FirmTerms f;
  f.schedule.base_per_device_hour = Money::Fen(base_fen);
  // 00:00-08:00 China time at half price.
  f.schedule.windows.push_back(core::TimeOfUseWindow{0, 480, Money::Fen(base_fen / 2)});
  f.surge_permille = surge;
  return f;
}

HoldRecord RanHold() {
  HoldRecord h;
  h.hold_id = "beijing.j1.1";
  h.job_id = "j1";
  h.router = "beijing";
  h.terms.model = "h800";
  h.terms.count = 2;
  h.state = HoldState::kSucceeded;
  h.firm = Firm(1000);
  HoldUsage u;
  u.started = kT0;
  u.ended = kT0 + minutes(90);
  u.accelerator_ms = 2 * 90 * 60'000;
  u.cost = *pricing::ComputeCost(h.firm.schedule, 2, u.started, u.ended, h.firm.surge_permille);
  h.usage = u;
  return h;
}

JobRecord RouterJob() {
  JobRecord j;
  j.job_id = "j1";
  Candidate shanghai{"shanghai", "https://sh", "h800", 2, {}, {}, {}, ""};
  Candidate wuhu{"wuhu", "https://wh", "h800", 2, {}, {}, {}, ""};
  j.candidates = {shanghai, wuhu};
  j.attempts = {Attempt{"shanghai", "beijing.j1.0", "too_few_free", kT0},
                Attempt{"wuhu", "beijing.j1.1", "committed", kT0}};
  j.ran_on = "wuhu";
  j.terms = Firm(1000);
  return j;
}

TEST(SettlementTest, ComputeSettlementAndExpectationAgree) {
  const HoldRecord hold = RanHold();
  auto body = ComputeSettlement(hold, "wuhu");
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_EQ(body->id, "compute/beijing.j1.1");
  EXPECT_EQ(body->payee, "wuhu");
  EXPECT_EQ(body->payer, "beijing");
  EXPECT_EQ(body->source, "beijing.j1.1");
  EXPECT_EQ(body->job, "j1");
  EXPECT_EQ(body->devices, 2);
  EXPECT_EQ(body->accelerator_ms, 10'800'000);
  // 10,800,000 ms x 989 TFLOPS / 3600 = 2,967,000 micro PFLOPS-hours.
  EXPECT_EQ(body->pflops_microhours, 2'967'000);
  EXPECT_EQ(body->amount, hold.usage->cost);
  EXPECT_EQ(body->seq, 0u);
  const Money price = pricing::PriceAt(hold.firm.schedule, kT0);
  EXPECT_EQ(body->unit_price, *price.MulDiv(1100, 1000));

  SettlementBody offered = *body;
  offered.seq = 1;
  offered.prev_hash = std::string(kGenesisHash);
  offered.issued_at = kT0 + minutes(91);
  auto expected = ExpectCompute(offered, RouterJob());
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  EXPECT_EQ(DifferingFields(offered, *expected), std::vector<std::string>{});
  EXPECT_EQ(*expected, offered);

  JobRecord cheaper = RouterJob();
  cheaper.terms = Firm(900);
  expected = ExpectCompute(offered, cheaper);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(DifferingFields(offered, *expected),
            (std::vector<std::string>{"unit_price_fen", "amount_fen"}));

  JobRecord fewer = RouterJob();
  fewer.candidates[1].count = 1;
  expected = ExpectCompute(offered, fewer);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(
      DifferingFields(offered, *expected),
      (std::vector<std::string>{"devices", "accelerator_ms", "pflops_microhours", "amount_fen"}));

  JobRecord elsewhere = RouterJob();
  elsewhere.attempts[1].center = "guiyang";
  expected = ExpectCompute(offered, elsewhere);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(DifferingFields(offered, *expected), std::vector<std::string>{"payee"});

  SettlementBody unknown = offered;
  unknown.source = "beijing.j1.7";
  EXPECT_EQ(ExpectCompute(unknown, RouterJob()).status().code(), core::Code::kNotFound);
  JobRecord no_terms = RouterJob();
  no_terms.terms.reset();
  EXPECT_EQ(ExpectCompute(offered, no_terms).status().code(), core::Code::kFailedPrecondition);
  HoldRecord never_ran = hold;
  never_ran.usage.reset();
  EXPECT_EQ(ComputeSettlement(never_ran, "wuhu").status().code(), core::Code::kFailedPrecondition);
}

TEST(SettlementTest, UnknownModelHasNoPflops) {
  HoldRecord hold = RanHold();
  hold.terms.model = "abacus";
  auto body = ComputeSettlement(hold, "wuhu");
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->pflops_microhours, 0);
}

TransferRecord Transfer(Money leg_egress) {
  TransferRecord t;
  t.id = "t1";
  t.manifest.size = 2'500'000'000;
  TransferLeg leg;
  leg.from = "wuhu";
  leg.to = "beijing";
  leg.egress = leg_egress;
  t.plan.legs = {leg};
  t.plan.egress = leg_egress;
  return t;
}

TEST(SettlementTest, EgressSettlementAndExpectationAgree) {
  EgressClaim claim{"t1", "wuhu", "beijing", "imagenet", 2'500'000'000, kT0, kT0 + minutes(3)};
  auto body = EgressSettlement(claim, Money::Fen(80));
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_EQ(body->id, "egress/t1/wuhu");
  EXPECT_EQ(body->source, "t1/wuhu");
  EXPECT_EQ(body->payee, "wuhu");
  EXPECT_EQ(body->payer, "beijing");
  EXPECT_EQ(body->job, "t1");
  EXPECT_EQ(body->bytes, 2'500'000'000);
  EXPECT_EQ(body->unit_price, Money::Fen(80));
  EXPECT_EQ(body->amount, Money::Fen(200));
  EXPECT_EQ(body->period_end, kT0 + minutes(3));

  SettlementBody offered = *body;
  offered.seq = 4;
  offered.prev_hash = std::string(64, 'e');
  auto expected = ExpectEgress(offered, Transfer(Money::Fen(200)), "beijing");
  ASSERT_TRUE(expected.ok()) << expected.status().ToString();
  EXPECT_EQ(DifferingFields(offered, *expected), std::vector<std::string>{});

  // The receiver planned with another egress price: the amount differs.
  expected = ExpectEgress(offered, Transfer(Money::Fen(250)), "beijing");
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(DifferingFields(offered, *expected), std::vector<std::string>{"amount_fen"});

  EXPECT_EQ(ExpectEgress(offered, Transfer(Money::Fen(200)), "shanghai").status().code(),
            core::Code::kNotFound);
  claim.finished = kT0 - milliseconds(1);
  EXPECT_EQ(EgressSettlement(claim, Money::Fen(80)).status().code(), core::Code::kInvalidArgument);
  claim.finished = kT0;
  claim.bytes = -1;
  EXPECT_EQ(EgressSettlement(claim, Money::Fen(80)).status().code(), core::Code::kInvalidArgument);
}

// ---- Chains -----------------------------------------------------------------------------

std::vector<Settlement> Chain(int n) {
  std::vector<Settlement> chain;
  std::string prev(kGenesisHash);
  for (int i = 1; i <= n; ++i) {
    Settlement s = Record("wuhu", "beijing", "h" + std::to_string(i), 100 * i, kT0 + minutes(i),
                          static_cast<uint64_t>(i));
    s.body.prev_hash = prev;
    s.hash = BodyHash(s.body);
    prev = s.hash;
    chain.push_back(std::move(s));
  }
  return chain;
}

TEST(SettlementTest, CheckChain) {
  EXPECT_EQ(CheckChain(Chain(5)), std::nullopt);
  EXPECT_EQ(CheckChain({}), std::nullopt);

  std::vector<Settlement> c = Chain(5);
  c[2].body.amount = Money::Fen(1);
  EXPECT_EQ(CheckChain(c), (ChainBreak{3, "hash does not match the body"}));

  c = Chain(5);
  c[2].body.amount = Money::Fen(1);
  c[2].hash = BodyHash(c[2].body);  // re-hashed, but record 4 still links the old body
  EXPECT_EQ(CheckChain(c), (ChainBreak{4, "prev_hash does not match record 3"}));

  c = Chain(5);
  c.erase(c.begin() + 3);
  EXPECT_EQ(CheckChain(c), (ChainBreak{4, "missing record 4 (next is 5)"}));

  c = Chain(5);
  const Settlement second = c[1];
  c.insert(c.begin() + 2, second);
  EXPECT_EQ(CheckChain(c), (ChainBreak{2, "record 2 stored twice"}));

  c = Chain(5);
  c.erase(c.begin());
  EXPECT_EQ(CheckChain(c), (ChainBreak{2, "first record is 2"}));

  c = Chain(5);
  c[4].body.payer = "shanghai";
  c[4].hash = BodyHash(c[4].body);
  EXPECT_EQ(CheckChain(c), (ChainBreak{5, "payee/payer differ from the chain's"}));

  c = Chain(2);
  c[0].body.prev_hash = std::string(64, '1');
  c[0].hash = BodyHash(c[0].body);
  c[1].body.prev_hash = c[0].hash;
  c[1].hash = BodyHash(c[1].body);
  ASSERT_TRUE(CheckChain(c).has_value());
  EXPECT_EQ(CheckChain(c)->seq, 1u);
}

// ---- Finance ----------------------------------------------------------------------------

int64_t Sum(const std::map<std::string, Money>& m) {
  int64_t s = 0;
  for (const auto& [c, v] : m) s += v.fen();
  return s;
}

// Applies the payments to the positions; all must end at zero.
void ExpectSettles(std::map<std::string, Money> positions, const std::vector<Payment>& payments) {
  for (const Payment& p : payments) {
    EXPECT_GT(p.amount.fen(), 0);
    EXPECT_LT(positions[p.from].fen(), 0) << p.from;
    EXPECT_GT(positions[p.to].fen(), 0) << p.to;
    positions[p.from] = Money::Fen(positions[p.from].fen() + p.amount.fen());
    positions[p.to] = Money::Fen(positions[p.to].fen() - p.amount.fen());
  }
  for (const auto& [c, v] : positions) EXPECT_EQ(v.fen(), 0) << c;
  for (size_t i = 1; i < payments.size(); ++i) {
    EXPECT_LE(std::tie(payments[i - 1].from, payments[i - 1].to),
              std::tie(payments[i].from, payments[i].to));
  }
}

size_t NonZero(const std::map<std::string, Money>& m) {
  size_t n = 0;
  for (const auto& [c, v] : m) n += v.fen() != 0;
  return n;
}

// The fewest payments that settle `amounts` (non-zero, summing to 0), by a search
// independent of the implementation's: n minus the most disjoint zero-sum groups, each
// group taken as a zero-sum subset holding the lowest remaining member.
size_t FewestPayments(const std::vector<int64_t>& amounts) {
  const uint32_t full = (uint32_t{1} << amounts.size()) - 1;
  std::map<uint32_t, int> memo;
  std::function<int(uint32_t)> groups = [&](uint32_t mask) -> int {
    if (mask == 0) return 0;
    if (auto it = memo.find(mask); it != memo.end()) return it->second;
    const uint32_t low = mask & (0 - mask);
    int best = 0;
    for (uint32_t sub = mask; sub != 0; sub = (sub - 1) & mask) {
      if ((sub & low) == 0) continue;
      int64_t sum = 0;
      for (size_t i = 0; i < amounts.size(); ++i) {
        if ((sub >> i) & 1) sum += amounts[i];
      }
      if (sum == 0) best = std::max(best, 1 + groups(mask & ~sub));
    }
    return memo[mask] = best;
  };
  return amounts.size() - static_cast<size_t>(groups(full));
}

TEST(SettlementTest, RandomFederationsBalanceAndNet) {
  std::mt19937 rng(20261127);
  for (int iter = 0; iter < 200; ++iter) {
    const int n = std::uniform_int_distribution<int>(2, 12)(rng);
    std::vector<std::string> centers;
    for (int i = 0; i < n; ++i) centers.push_back("c" + std::to_string(10 + i));
    std::vector<Settlement> records;
    const int count = std::uniform_int_distribution<int>(0, 80)(rng);
    for (int r = 0; r < count; ++r) {
      const int a = std::uniform_int_distribution<int>(0, n - 1)(rng);
      int b = std::uniform_int_distribution<int>(0, n - 2)(rng);
      if (b >= a) ++b;
      Settlement s = Record(centers[a], centers[b], "h" + std::to_string(r),
                            std::uniform_int_distribution<int64_t>(0, 5'000'000)(rng));
      const int state = std::uniform_int_distribution<int>(0, 9)(rng);
      if (state == 0) s.state = SettlementState::kDisputed;
      if (state == 1) s.state = SettlementState::kOffered;
      records.push_back(std::move(s));
    }
    std::vector<Statement> statements;
    int64_t total_net = 0;
    std::map<std::string, int64_t> balance_net;
    for (const std::string& c : centers) {
      auto balances = Balances(records, c);
      ASSERT_TRUE(balances.ok());
      Statement st{c, {}};
      for (const auto& [other, bal] : *balances) {
        EXPECT_EQ(bal.net.fen(), bal.receivable.fen() - bal.payable.fen());
        auto theirs = Balances(records, other);
        ASSERT_TRUE(theirs.ok());
        EXPECT_EQ(bal.net.fen(), -theirs->at(c).net.fen());
        EXPECT_EQ(bal.disputed_receivable, theirs->at(c).disputed_payable);
        st.net[other] = bal.net;
        total_net += bal.net.fen();
        balance_net[c] += bal.net.fen();
      }
      statements.push_back(std::move(st));
    }
    EXPECT_EQ(total_net, 0);
    auto netting = Net(statements);
    ASSERT_TRUE(netting.ok()) << netting.status().ToString();
    EXPECT_TRUE(netting->disagreements.empty());
    EXPECT_EQ(Sum(netting->positions), 0);
    for (const auto& [c, p] : netting->positions) EXPECT_EQ(p.fen(), balance_net[c]) << c;
    ExpectSettles(netting->positions, netting->payments);
    const size_t nz = NonZero(netting->positions);
    EXPECT_LE(netting->payments.size(), nz == 0 ? 0 : nz - 1);
    std::vector<int64_t> nonzero;
    for (const auto& [c, p] : netting->positions) {
      if (p.fen() != 0) nonzero.push_back(p.fen());
    }
    if (nonzero.size() <= 9) {
      EXPECT_EQ(netting->payments.size(), FewestPayments(nonzero));
    }
  }
}

TEST(SettlementTest, ExactNettingBeatsGreedy) {
  // Two zero-sum groups of three: {a +7, b -3, c -4} and {d +5, e +1, f -6}. Greedy over
  // everything pays f->a first and needs 5 payments; the exact answer is 4.
  const std::map<std::string, Money> positions = {{"a", Money::Fen(7)},  {"b", Money::Fen(-3)},
                                                  {"c", Money::Fen(-4)}, {"d", Money::Fen(5)},
                                                  {"e", Money::Fen(1)},  {"f", Money::Fen(-6)}};
  auto payments = MinimalPayments(positions);
  ASSERT_TRUE(payments.ok());
  EXPECT_EQ(payments->size(), 4u);
  ExpectSettles(positions, *payments);
  EXPECT_EQ(*payments, (std::vector<Payment>{{"b", "a", Money::Fen(3)},
                                             {"c", "a", Money::Fen(4)},
                                             {"f", "d", Money::Fen(5)},
                                             {"f", "e", Money::Fen(1)}}));

  std::map<std::string, Money> unbalanced = positions;
  unbalanced["a"] = Money::Fen(8);
  EXPECT_EQ(MinimalPayments(unbalanced).status().code(), core::Code::kInvalidArgument);
  EXPECT_TRUE(MinimalPayments({})->empty());

  // Above the exact limit: greedy, still settles everything in at most n-1 payments.
  std::map<std::string, Money> many;
  for (int i = 0; i < 30; ++i) {
    many["c" + std::to_string(100 + i)] = Money::Fen(i % 2 == 0 ? 100 + i : -(99 + i));
  }
  const int64_t rest = Sum(many);
  many["z"] = Money::Fen(-rest);
  auto greedy = MinimalPayments(many);
  ASSERT_TRUE(greedy.ok());
  ExpectSettles(many, *greedy);
  EXPECT_LE(greedy->size(), NonZero(many) - 1);
}

TEST(SettlementTest, RandomSmallPositionsNetExactly) {
  // Small figures make zero-sum subgroups common, where greedy matching is not optimal.
  std::mt19937 rng(99);
  for (int iter = 0; iter < 300; ++iter) {
    const int n = std::uniform_int_distribution<int>(2, 10)(rng);
    std::map<std::string, Money> positions;
    int64_t sum = 0;
    for (int i = 0; i + 1 < n; ++i) {
      const int64_t v = std::uniform_int_distribution<int64_t>(-5, 5)(rng);
      positions["c" + std::to_string(10 + i)] = Money::Fen(v);
      sum += v;
    }
    positions["z"] = Money::Fen(-sum);
    auto payments = MinimalPayments(positions);
    ASSERT_TRUE(payments.ok());
    ExpectSettles(positions, *payments);
    std::vector<int64_t> nonzero;
    for (const auto& [c, p] : positions) {
      if (p.fen() != 0) nonzero.push_back(p.fen());
    }
    EXPECT_EQ(payments->size(), FewestPayments(nonzero)) << "iteration " << iter;
    EXPECT_EQ(*MinimalPayments(positions), *payments);  // deterministic
  }
}

TEST(SettlementTest, NetDisagreementsAndOneSidedReports) {
  // a says b owes it 1200; b admits 1100: the payee side's (a's) figure is used.
  auto n =
      Net({Statement{"a", {{"b", Money::Fen(1200)}}}, Statement{"b", {{"a", Money::Fen(-1100)}}}});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->disagreements, std::vector<std::string>{"a/b: a says +1200, b says -1100"});
  EXPECT_EQ(n->positions.at("a"), Money::Fen(1200));
  EXPECT_EQ(n->positions.at("b"), Money::Fen(-1200));
  EXPECT_EQ(n->payments, (std::vector<Payment>{{"b", "a", Money::Fen(1200)}}));

  // The payee is b (the greater id): its figure is used.
  n = Net({Statement{"a", {{"b", Money::Fen(-1100)}}}, Statement{"b", {{"a", Money::Fen(1200)}}}});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->disagreements.size(), 1u);
  EXPECT_EQ(n->positions.at("b"), Money::Fen(1200));
  EXPECT_EQ(Sum(n->positions), 0);

  // c never reported; d reported nothing but is named; the a/b pair agrees.
  n = Net({Statement{"a", {{"b", Money::Fen(300)}, {"c", Money::Fen(500)}}},
           Statement{"b", {{"a", Money::Fen(-300)}, {"d", Money::Fen(0)}}}});
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->disagreements.empty());
  EXPECT_EQ(n->positions, (std::map<std::string, Money>{{"a", Money::Fen(800)},
                                                        {"b", Money::Fen(-300)},
                                                        {"c", Money::Fen(-500)},
                                                        {"d", Money::Fen(0)}}));
  EXPECT_EQ(Sum(n->positions), 0);
  ExpectSettles(n->positions, n->payments);
  EXPECT_EQ(n->payments.size(), 2u);

  EXPECT_EQ(Net({Statement{"a", {}}, Statement{"a", {}}}).status().code(),
            core::Code::kInvalidArgument);
}

TEST(SettlementTest, BalancesCountStatesApart) {
  std::vector<Settlement> records = {
      Record("wuhu", "beijing", "h1", 500),     Record("beijing", "wuhu", "h2", 200),
      Record("wuhu", "beijing", "h3", 70),      Record("wuhu", "beijing", "h4", 9),
      Record("beijing", "wuhu", "h5", 11),      Record("beijing", "wuhu", "h6", 13),
      Record("shanghai", "beijing", "h7", 1000)};
  records[2].state = SettlementState::kDisputed;
  records[3].state = SettlementState::kOffered;
  records[4].state = SettlementState::kDisputed;
  records[5].state = SettlementState::kOffered;
  auto b = Balances(records, "wuhu");
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b->size(), 1u);
  const Balance& w = b->at("beijing");
  EXPECT_EQ(w, (Balance{Money::Fen(500), Money::Fen(200), Money::Fen(300), Money::Fen(70),
                        Money::Fen(11), Money::Fen(9), 2, 2, 2}));

  std::vector<Settlement> huge = {
      Record("wuhu", "beijing", "h1", std::numeric_limits<int64_t>::max()),
      Record("wuhu", "beijing", "h2", 1)};
  EXPECT_EQ(Balances(huge, "wuhu").status().code(), core::Code::kInvalidArgument);
}

TEST(SettlementTest, TinyAmountsSumExactly) {
  std::mt19937 rng(7);
  std::vector<Settlement> records;
  int64_t sum = 0;
  int64_t with_beijing = 0;
  const std::vector<std::string> others = {"beijing", "shanghai"};
  for (int i = 0; i < 10'000; ++i) {
    const int64_t fen = std::uniform_int_distribution<int64_t>(1, 7)(rng);
    const std::string& other = others[static_cast<size_t>(i % 2)];
    const bool receivable = (i / 2) % 3 != 0;
    const core::Time end = kT0 + milliseconds(int64_t{i} * 37'000);  // spans ~4 days
    Settlement s = receivable ? Record("wuhu", other, "h" + std::to_string(i), fen, end)
                              : Record(other, "wuhu", "h" + std::to_string(i), fen, end);
    records.push_back(std::move(s));
    sum += fen;
    if (other == "beijing") with_beijing += fen;
  }
  auto balances = Balances(records, "wuhu");
  ASSERT_TRUE(balances.ok());
  int64_t gross = 0;
  for (const auto& [c, b] : *balances) gross += b.receivable.fen() + b.payable.fen();
  EXPECT_EQ(gross, sum);

  auto inv = MakeInvoice(records, "wuhu", "beijing", kT0, kT0 + std::chrono::hours(24 * 30));
  ASSERT_TRUE(inv.ok());
  EXPECT_EQ(inv->receivable.fen() + inv->payable.fen(), with_beijing);
  EXPECT_EQ(inv->receivable_compute.fen(), inv->receivable.fen());
  EXPECT_EQ(inv->net.fen(), inv->receivable.fen() - inv->payable.fen());
  EXPECT_EQ(inv->lines.size(), 5000u);
  int64_t lines = 0;
  for (const Settlement& s : inv->lines) lines += s.body.amount.fen();
  EXPECT_EQ(lines, with_beijing);

  const std::vector<DayDigest> days = DigestByDay(records);
  EXPECT_GE(days.size(), 4u);
  int64_t digested = 0;
  int64_t count = 0;
  for (const DayDigest& d : days) {
    digested += d.total.fen();
    count += d.count;
  }
  EXPECT_EQ(digested, sum);
  EXPECT_EQ(count, 10'000);
}

TEST(SettlementTest, ComputeCostRoundsHalfAway) {
  const core::PriceSchedule one_fen{Money::Fen(1), {}};
  const auto cost = [&](int64_t ms) {
    return pricing::ComputeCost(one_fen, 1, kT0, kT0 + milliseconds(ms))->fen();
  };
  EXPECT_EQ(cost(1), 0);
  EXPECT_EQ(cost(1'799'999), 0);
  EXPECT_EQ(cost(1'800'000), 1);  // exactly half a fen: away from zero
  EXPECT_EQ(cost(5'400'000), 2);  // 1.5 fen
  EXPECT_EQ(cost(3'600'000), 1);

  // The payer's own version of a half-fen job agrees with the payee's.
  HoldRecord hold = RanHold();
  hold.firm = FirmTerms{one_fen, 1000, {}};
  hold.terms.count = 1;
  hold.usage->ended = kT0 + milliseconds(1'800'000);
  hold.usage->accelerator_ms = 1'800'000;
  hold.usage->cost = Money::Fen(cost(1'800'000));
  auto body = ComputeSettlement(hold, "wuhu");
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->amount, Money::Fen(1));
  EXPECT_EQ(body->pflops_microhours, 494'500);  // 1,800,000 x 989 / 3600
  JobRecord job = RouterJob();
  job.terms = hold.firm;
  job.candidates[1].count = 1;
  auto expected = ExpectCompute(*body, job);
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(DifferingFields(*body, *expected), std::vector<std::string>{});
}

TEST(SettlementTest, DigestCoversAgreedAndDisputedOnly) {
  std::vector<Settlement> records = {Record("wuhu", "beijing", "h1", 5),
                                     Record("beijing", "wuhu", "h2", 7),
                                     Record("wuhu", "beijing", "h3", 9)};
  records[2].state = SettlementState::kOffered;
  std::vector<DayDigest> days = DigestByDay(records);
  ASSERT_EQ(days.size(), 1u);
  EXPECT_EQ(days[0].day, ChinaDay(kT0));
  EXPECT_EQ(days[0].count, 2);
  EXPECT_EQ(days[0].total, Money::Fen(12));
  // Order-independent, and sensitive to the state.
  std::vector<Settlement> reversed = {records[1], records[0]};
  EXPECT_EQ(DigestByDay(reversed)[0].digest, days[0].digest);
  records[1].state = SettlementState::kDisputed;
  EXPECT_NE(DigestByDay(records)[0].digest, days[0].digest);
}

TEST(SettlementTest, CompareRecordsClassifies) {
  const Settlement same = Record("wuhu", "beijing", "h1", 100);
  const Settlement only_ours = Record("wuhu", "beijing", "h2", 100);
  const Settlement only_theirs = Record("wuhu", "beijing", "h3", 100);
  Settlement amount_ours = Record("wuhu", "beijing", "h4", 100);
  Settlement amount_theirs = Record("wuhu", "beijing", "h4", 120);
  amount_theirs.state = SettlementState::kDisputed;
  Settlement content_ours = Record("wuhu", "beijing", "h5", 100);
  Settlement content_theirs = content_ours;
  content_theirs.body.job = "other";
  content_theirs.hash = BodyHash(content_theirs.body);
  Settlement state_theirs = Record("wuhu", "beijing", "h6", 100);
  Settlement state_ours = state_theirs;
  state_ours.state = SettlementState::kOffered;
  Settlement dup = Record("wuhu", "beijing", "h7", 100);
  Settlement dup2 = Record("wuhu", "beijing", "h7", 100, kT0, 2);
  Settlement alias = Record("wuhu", "beijing", "h8", 100);
  Settlement alias2 = alias;
  alias2.body.id = "compute/h8-again";

  const std::vector<Discrepancy> d = CompareRecords(
      {same, only_ours, amount_ours, content_ours, state_ours, dup, dup2, dup},
      {only_theirs, same, amount_theirs, content_theirs, state_theirs, dup, alias, alias2});
  std::vector<std::pair<std::string, DiscrepancyKind>> got;
  for (const Discrepancy& x : d) got.emplace_back(x.id, x.kind);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, DiscrepancyKind>>{
                     {"compute/h2", DiscrepancyKind::kMissingThere},
                     {"compute/h3", DiscrepancyKind::kMissingHere},
                     {"compute/h4", DiscrepancyKind::kAmountMismatch},
                     {"compute/h5", DiscrepancyKind::kContentMismatch},
                     {"compute/h6", DiscrepancyKind::kContentMismatch},
                     {"compute/h7", DiscrepancyKind::kDuplicate},
                     {"compute/h8", DiscrepancyKind::kMissingHere},
                     {"compute/h8-again", DiscrepancyKind::kMissingHere},
                     {"compute/h8-again", DiscrepancyKind::kDuplicate},
                 }));
  EXPECT_EQ(d[2].fields, (std::vector<std::string>{"amount_fen", "state"}));
  EXPECT_EQ(d[3].fields, std::vector<std::string>{"job"});
  EXPECT_EQ(d[4].fields, std::vector<std::string>{"state"});
  EXPECT_EQ(d[5].fields, std::vector<std::string>{"seq"});
  EXPECT_TRUE(d[0].ours && !d[0].theirs);
  EXPECT_TRUE(!d[1].ours && d[1].theirs);

  boost::json::object j = ToJson(d[1], "wuhu");
  EXPECT_EQ(j.at("kind").as_string(), "missing_here");
  EXPECT_TRUE(j.at("ours").is_null());
  EXPECT_EQ(j.at("theirs").as_object().at("id").as_string(), "compute/h3");

  EXPECT_TRUE(CompareRecords({same, dup}, {dup, same}).empty());
}

// ---- Export -----------------------------------------------------------------------------

constexpr std::string_view kCsvHeader =
    "id,day,direction,counterparty,kind,state,source,job,model,devices,accelerator_seconds,"
    "bytes,pflops_hours,unit_price_cny,amount_cny,amount_fen,period_start,period_end,seq,hash"
    "\r\n";

TEST(SettlementTest, SettlementsCsv) {
  Settlement s = Agreed(FixedBody());
  s.body.model = "h800,sxm";
  s.body.job = "j\"1";
  s.hash = BodyHash(s.body);
  const std::string csv = SettlementsCsv({s}, "beijing");
  ASSERT_EQ(csv.substr(0, kCsvHeader.size()), kCsvHeader);
  const std::string line = csv.substr(kCsvHeader.size());
  EXPECT_EQ(line, "compute/r.j1.1," + ChinaDay(s.body.period_end) +
                      ",payable,wuhu,compute,agreed,r.j1.1,\"j\"\"1\",\"h800,sxm\",2,7200.000,0,"
                      "1.978000,10.00,20.00,2000," +
                      core::FormatRfc3339(s.body.period_start) + "," +
                      core::FormatRfc3339(s.body.period_end) + ",3," + s.hash + "\r\n");
  EXPECT_EQ(SettlementsCsv({}, "wuhu"), kCsvHeader);
}

TEST(SettlementTest, InvoiceTotalsAndExports) {
  std::vector<Settlement> records = {
      Record("wuhu", "beijing", "h2", 1000, kT0 + minutes(2)),
      Record("wuhu", "beijing", "h1", 250, kT0 + minutes(1)),
      Record("beijing", "wuhu", "h3", 400, kT0 + minutes(3)),
      Record("wuhu", "beijing", "h4", 99, kT0 + minutes(4)),    // disputed
      Record("wuhu", "beijing", "h5", 77, kT0 + minutes(5)),    // offered
      Record("wuhu", "shanghai", "h6", 55, kT0 + minutes(6)),   // another counterparty
      Record("wuhu", "beijing", "h7", 33, kT0 + minutes(100)),  // after `to`
  };
  records[3].state = SettlementState::kDisputed;
  records[4].state = SettlementState::kOffered;
  SettlementBody egress = records[1].body;
  egress.kind = SettlementKind::kEgress;
  egress.source = "t1/wuhu";
  egress.id = SettlementId(SettlementKind::kEgress, egress.source);
  egress.amount = Money::Fen(5);
  records.push_back(Agreed(egress));

  auto inv = MakeInvoice(records, "wuhu", "beijing", kT0, kT0 + minutes(60));
  ASSERT_TRUE(inv.ok()) << inv.status().ToString();
  ASSERT_EQ(inv->lines.size(), 4u);
  EXPECT_EQ(inv->lines[0].body.id, "compute/h1");
  EXPECT_EQ(inv->lines[1].body.id, "egress/t1/wuhu");
  EXPECT_EQ(inv->lines[2].body.id, "compute/h2");
  ASSERT_EQ(inv->disputed.size(), 1u);
  EXPECT_EQ(inv->receivable_compute, Money::Fen(1250));
  EXPECT_EQ(inv->receivable_egress, Money::Fen(5));
  EXPECT_EQ(inv->payable_compute, Money::Fen(400));
  EXPECT_EQ(inv->payable_egress, Money::Fen(0));
  EXPECT_EQ(inv->receivable, Money::Fen(1255));
  EXPECT_EQ(inv->payable, Money::Fen(400));
  EXPECT_EQ(inv->net, Money::Fen(855));

  boost::json::object j = ToJson(*inv);
  EXPECT_EQ(j.at("lines").as_array().size(), 4u);
  EXPECT_EQ(j.at("disputed").as_array().size(), 1u);
  EXPECT_EQ(j.at("from").as_string(), core::FormatRfc3339(kT0));
  const boost::json::object& totals = j.at("totals").as_object();
  EXPECT_EQ(totals.at("net_fen").as_int64(), 855);
  EXPECT_EQ(totals.at("net_cny").as_string(), "8.55");
  EXPECT_EQ(totals.at("receivable_egress_cny").as_string(), "0.05");

  const std::string csv = InvoiceCsv(*inv);
  const std::string tail =
      "\r\ntotal,receivable_compute,12.50,1250\r\ntotal,receivable_egress,0.05,5\r\n"
      "total,payable_compute,4.00,400\r\ntotal,payable_egress,0.00,0\r\n"
      "total,receivable,12.55,1255\r\ntotal,payable,4.00,400\r\ntotal,net,8.55,855\r\n";
  ASSERT_GE(csv.size(), tail.size());
  EXPECT_EQ(csv.substr(csv.size() - tail.size()), tail);
  EXPECT_EQ(csv.substr(0, csv.size() - tail.size()), SettlementsCsv(inv->lines, "wuhu"));

  EXPECT_EQ(MakeInvoice(records, "wuhu", "wuhu", kT0, kT0).status().code(),
            core::Code::kInvalidArgument);
  EXPECT_EQ(MakeInvoice(records, "wuhu", "beijing", kT0, kT0 - minutes(1)).status().code(),
            core::Code::kInvalidArgument);
}

}  // namespace
}  // namespace edwc::federation
