#include "federation/placement.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <random>

#include "core/json.h"

namespace edwc::federation {
namespace {

namespace json = boost::json;
using core::Money;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;

core::Time T(std::string_view rfc3339) {
  core::Result<core::Time> r = core::ParseRfc3339(rfc3339);
  EXPECT_TRUE(r.ok()) << rfc3339;
  return r.ok() ? *r : core::Time();
}

// 10:00 local: flat schedules make costs easy to check by hand.
const core::Time kNow = T("2026-11-25T10:00:00+08:00");

ModelCapacityAdvert Model(std::string id, int32_t total, int32_t free, int64_t fen_per_hour) {
  ModelCapacityAdvert m;
  m.model = std::move(id);
  m.total = total;
  m.free = free;
  m.price.base_per_device_hour = Money::Fen(fen_per_hour);
  return m;
}

ViewEntry Center(std::string id, std::vector<ModelCapacityAdvert> models, int32_t green = 500,
                 std::string zone = "east") {
  ViewEntry e;
  e.advert.center = id;
  e.advert.peer_url = "https://" + id + ":7443";
  e.advert.hub = "hub-" + id;
  e.advert.zone = std::move(zone);
  e.advert.green_share_permille = green;
  std::sort(models.begin(), models.end(),
            [](const auto& a, const auto& b) { return a.model < b.model; });
  e.advert.models = std::move(models);
  e.last_heard = kNow;
  return e;
}

PlacementRequest H800(int32_t count, core::Duration duration = hours(1)) {
  PlacementRequest r;
  r.model = "h800";
  r.count = count;
  r.duration = duration;
  return r;
}

std::vector<std::string> Order(const Placement& p) {
  std::vector<std::string> out;
  for (const Quote& q : p.quotes) out.push_back(q.center + "/" + q.model);
  return out;
}

const Exclusion* Excluded(const Placement& p, std::string_view center) {
  for (const Exclusion& x : p.excluded) {
    if (x.center == center) return &x;
  }
  return nullptr;
}

TEST(PlacementTest, EveryExclusionReason) {
  std::vector<ViewEntry> view;
  view.push_back(Center("dead", {Model("h800", 8, 8, 1000)}));
  view.back().liveness = Liveness::kDead;
  view.push_back(Center("west", {Model("h800", 8, 8, 1000)}, 500, "west"));
  view.push_back(Center("nomodel", {Model("a100-80g", 8, 8, 1000)}));
  view.push_back(Center("few", {Model("h800", 8, 2, 1000)}));
  view.push_back(Center("brown", {Model("h800", 8, 8, 1000)}, 100));
  view.push_back(Center("slow", {Model("h800", 8, 8, 1000)}));  // assumed link: 800 s
  view.push_back(Center("pricey", {Model("h800", 8, 8, 100'000)}));
  view.push_back(Center("ok", {Model("h800", 8, 8, 1000)}));
  // The dataset lives at "ok"; it advertises a fast link to "pricey" only.
  view.back().advert.links = {{"pricey", 10'000, 5}};

  PlacementRequest r = H800(4);
  r.zones = {"east"};
  r.min_green_permille = 300;
  r.dataset = DatasetRef{"ok", 10'000'000'000};  // 10 GB
  r.deadline = kNow + hours(1) + minutes(5);
  r.price_cap = Money::Fen(10'000);
  const Placement p = Place(r, view, kNow);

  ASSERT_EQ(Order(p), std::vector<std::string>{"ok/h800"});
  EXPECT_EQ(p.quotes[0].total, Money::Fen(4000));
  const struct {
    const char* center;
    ExclusionReason reason;
    const char* name;
  } kWant[] = {
      {"brown", ExclusionReason::kNotGreenEnough, "not_green_enough"},
      {"dead", ExclusionReason::kDead, "dead"},
      {"few", ExclusionReason::kTooFewFree, "too_few_free"},
      {"nomodel", ExclusionReason::kNoModel, "no_such_model"},
      {"pricey", ExclusionReason::kOverPriceCap, "over_price_cap"},
      {"slow", ExclusionReason::kMissesDeadline, "misses_deadline"},
      {"west", ExclusionReason::kZoneNotAllowed, "zone_not_allowed"},
  };
  ASSERT_EQ(p.excluded.size(), std::size(kWant));
  for (size_t i = 0; i < std::size(kWant); ++i) {
    EXPECT_EQ(p.excluded[i].center, kWant[i].center);  // sorted by center
    EXPECT_EQ(p.excluded[i].reason, kWant[i].reason) << kWant[i].center;
    EXPECT_EQ(ExclusionReasonName(p.excluded[i].reason), kWant[i].name);
    EXPECT_FALSE(p.excluded[i].detail.empty());
  }
  EXPECT_EQ(Excluded(p, "few")->detail, "only 2 h800 free, 4 asked");
  EXPECT_EQ(Excluded(p, "nomodel")->detail, "offers no h800");
  EXPECT_EQ(Excluded(p, "brown")->detail, "green share 10%, 30% asked");
}

TEST(PlacementTest, ExclusionNamesTheCandidateThatGotFurthest) {
  // Two models meet the spec: one has too few free, the other is over the cap.
  PlacementRequest r;
  r.min_fp16_tflops = 300;
  r.min_memory_gib = 64;
  r.count = 4;
  r.duration = hours(1);
  r.price_cap = Money::Fen(1000);
  const Placement p =
      Place(r, {Center("c", {Model("h800", 8, 2, 100), Model("a100-80g", 8, 8, 5000)})}, kNow);
  ASSERT_TRUE(p.quotes.empty());
  ASSERT_EQ(p.excluded.size(), 1u);
  EXPECT_EQ(p.excluded[0].reason, ExclusionReason::kOverPriceCap);
  EXPECT_EQ(p.excluded[0].detail,
            "total 200.00 CNY (compute 200.00, transfer 0.00) over the cap 10.00 CNY");
  // No model meets the spec at all.
  r.min_fp16_tflops = 2000;
  const Placement none = Place(r, {Center("c", {Model("h800", 8, 8, 100)})}, kNow);
  ASSERT_EQ(none.excluded.size(), 1u);
  EXPECT_EQ(none.excluded[0].reason, ExclusionReason::kNoModel);
  EXPECT_EQ(none.excluded[0].detail,
            "offers no model with at least 2000 dense FP16 TFLOPS and 64 GiB");
}

TEST(PlacementTest, MinSpecMatchesSeveralModels) {
  PlacementRequest r;
  r.min_fp16_tflops = 300;  // a100-80g 312, h800 989, ascend-910b 320; not h20 148
  r.min_memory_gib = 64;
  r.duration = hours(2);
  const Placement p = Place(r,
                            {Center("c", {Model("h800", 8, 8, 3000), Model("h20", 8, 8, 500),
                                          Model("ascend-910b", 8, 8, 1500)}),
                             Center("d", {Model("a100-80g", 8, 8, 1200), Model("l20", 8, 8, 10)})},
                            kNow);
  EXPECT_EQ(Order(p), (std::vector<std::string>{"d/a100-80g", "c/ascend-910b", "c/h800"}));
  EXPECT_TRUE(p.excluded.empty());
  // Normalised price: H800 at 30.00/h is 3000 * 1000 / 989 = 3033.37 -> 3033 fen/PFLOPS-h.
  EXPECT_EQ(p.quotes[2].price_per_pflops_hour, Money::Fen(3033));
  EXPECT_EQ(p.quotes[2].compute, Money::Fen(6000));
}

// A: cheap, slow (assumed link), brown. B: dear, holds the data, green. C: between.
std::vector<ViewEntry> ThreeWay() {
  std::vector<ViewEntry> v;
  v.push_back(Center("a", {Model("h800", 8, 8, 1000)}, 100));
  v.push_back(Center("b", {Model("h800", 8, 8, 3000)}, 900));
  v.back().advert.links = {{"c", 10'000, 5}};
  v.push_back(Center("c", {Model("h800", 8, 8, 2000)}, 500));
  return v;
}

PlacementRequest ThreeWayRequest(Objective objective) {
  PlacementRequest r = H800(1);
  r.dataset = DatasetRef{"b", 1'000'000'000};  // 8e9 bits: 80 s at 100 Mbit/s, 0.8 s at 10 G
  r.objective = objective;
  return r;
}

TEST(PlacementTest, EachObjectiveOrders) {
  const std::vector<ViewEntry> v = ThreeWay();
  Placement p = Place(ThreeWayRequest(Objective::kCost), v, kNow);
  EXPECT_EQ(Order(p), (std::vector<std::string>{"a/h800", "c/h800", "b/h800"}));
  EXPECT_EQ(p.quotes[0].score, p.quotes[0].total.fen());
  p = Place(ThreeWayRequest(Objective::kTime), v, kNow);
  EXPECT_EQ(Order(p), (std::vector<std::string>{"b/h800", "c/h800", "a/h800"}));
  EXPECT_EQ(p.quotes[0].score, (kNow + hours(1)).time_since_epoch().count());
  p = Place(ThreeWayRequest(Objective::kGreen), v, kNow);
  EXPECT_EQ(Order(p), (std::vector<std::string>{"b/h800", "c/h800", "a/h800"}));
  EXPECT_EQ(p.quotes[0].score, 100);  // 1000 - 900
  EXPECT_EQ(p.quotes[0].green_permille, 900);
}

TEST(PlacementTest, WeightedScoresNormaliseEachMetric) {
  const std::vector<ViewEntry> v = ThreeWay();
  PlacementRequest r = ThreeWayRequest(Objective::kWeighted);
  // Totals a 1000, c 2000, b 3000 -> 0, 500, 1000; green inverted b 0, c 500, a 1000.
  r.weights = {1, 0, 2};
  Placement p = Place(r, v, kNow);
  ASSERT_EQ(Order(p), (std::vector<std::string>{"b/h800", "c/h800", "a/h800"}));
  EXPECT_EQ(p.quotes[0].score, 1000);
  EXPECT_EQ(p.quotes[1].score, 1500);
  EXPECT_EQ(p.quotes[2].score, 2000);
  // Equal weights: every score is 1000; ties go by total.
  r.weights = {1, 0, 1};
  p = Place(r, v, kNow);
  EXPECT_EQ(Order(p), (std::vector<std::string>{"a/h800", "c/h800", "b/h800"}));
  for (const Quote& q : p.quotes) EXPECT_EQ(q.score, 1000);
  // Time only: b finishes first (no transfer), then c (0.805 s), then a (80.05 s).
  r.weights = {0, 1, 0};
  p = Place(r, v, kNow);
  EXPECT_EQ(Order(p), (std::vector<std::string>{"b/h800", "c/h800", "a/h800"}));
  EXPECT_EQ(p.quotes[0].score, 0);
  EXPECT_EQ(p.quotes[2].score, 1000);
  EXPECT_EQ(p.quotes[1].score, 805 * 1000 / 80050);
}

TEST(PlacementTest, SuspectAfterAliveAndDeadNeverQuoted) {
  std::vector<ViewEntry> v = {Center("cheap", {Model("h800", 8, 8, 100)}),
                              Center("dear", {Model("h800", 8, 8, 900)}),
                              Center("gone", {Model("h800", 8, 8, 1)})};
  v[0].liveness = Liveness::kSuspect;
  v[1].self = true;  // self is a normal candidate
  v[2].liveness = Liveness::kDead;
  const Placement p = Place(H800(1), v, kNow);
  ASSERT_EQ(Order(p), (std::vector<std::string>{"dear/h800", "cheap/h800"}));
  EXPECT_EQ(p.quotes[1].liveness, Liveness::kSuspect);
  ASSERT_EQ(p.excluded.size(), 1u);
  EXPECT_EQ(p.excluded[0].reason, ExclusionReason::kDead);
}

TEST(PlacementTest, TransferOverAdvertisedReverseAndAssumedLinks) {
  std::vector<ViewEntry> v = {Center("home", {}), Center("fwd", {Model("h800", 8, 8, 1000)}),
                              Center("rev", {Model("h800", 8, 8, 1000)}),
                              Center("none", {Model("h800", 8, 8, 1000)})};
  v[0].advert.egress_per_gb = Money::Fen(50);
  v[0].advert.links = {{"fwd", 1000, 20}};  // 1 Gbit/s, 20 ms
  v[2].advert.links = {{"home", 400, 30}};  // the reverse direction only
  PlacementRequest r = H800(1);
  r.dataset = DatasetRef{"home", 2'010'000'000};  // 16.08e9 bits
  const Placement p = Place(r, v, kNow);
  auto quote = [&](std::string_view c) {
    for (const Quote& q : p.quotes) {
      if (q.center == c) return q;
    }
    ADD_FAILURE() << c;
    return Quote{};
  };
  EXPECT_EQ(quote("fwd").transfer_time, milliseconds(20 + 16'080));
  EXPECT_EQ(quote("rev").transfer_time, milliseconds(30 + 40'200));
  EXPECT_EQ(quote("none").transfer_time, milliseconds(kAssumedRttMs + 160'800));
  for (const Quote& q : p.quotes) {
    EXPECT_EQ(q.transfer, Money::Fen(101)) << q.center;  // 2.01 GB at 0.50/GB = 100.5 -> 101
    EXPECT_EQ(q.compute, Money::Fen(1000));
    EXPECT_EQ(q.total, Money::Fen(1101));
    EXPECT_EQ(q.start, kNow + q.transfer_time);
    EXPECT_EQ(q.finish, q.start + hours(1));
  }
  // Equal totals: the earliest finish first.
  EXPECT_EQ(Order(p), (std::vector<std::string>{"fwd/h800", "rev/h800", "none/h800"}));
  EXPECT_EQ(Excluded(p, "home")->reason, ExclusionReason::kNoModel);

  // A home center unknown to the view: assumed link, no egress charge.
  r.dataset = DatasetRef{"elsewhere", 1'000'000};
  const Placement q = Place(r, v, kNow);
  for (const Quote& x : q.quotes) {
    EXPECT_EQ(x.transfer_time, milliseconds(kAssumedRttMs + 80));
    EXPECT_EQ(x.transfer, Money());
  }
  // The dataset already where the job runs: nothing to move.
  r.dataset = DatasetRef{"fwd", 1'000'000'000'000};
  const Placement local = Place(r, v, kNow);
  EXPECT_EQ(local.quotes[0].center, "fwd");
  EXPECT_EQ(local.quotes[0].transfer_time, milliseconds(0));
  EXPECT_EQ(local.quotes[0].transfer, Money());
}

TEST(PlacementTest, DeadlineCountsTransferTime) {
  std::vector<ViewEntry> v = {Center("home", {}), Center("far", {Model("h800", 8, 8, 1000)})};
  v[0].advert.links = {{"far", 1000, 20}};
  PlacementRequest r = H800(1);
  r.dataset = DatasetRef{"home", 1'000'000'000};  // 8000 ms + 20 ms
  r.earliest_start = kNow + minutes(10);
  r.deadline = kNow + minutes(10) + milliseconds(8020) + hours(1);  // exactly on time
  Placement p = Place(r, v, kNow);
  ASSERT_EQ(p.quotes.size(), 1u);
  EXPECT_EQ(p.quotes[0].finish, *r.deadline);
  *r.deadline -= milliseconds(1);
  p = Place(r, v, kNow);
  ASSERT_TRUE(p.quotes.empty());
  EXPECT_EQ(Excluded(p, "far")->reason, ExclusionReason::kMissesDeadline);
  // An earliest start in the past means now.
  r.earliest_start = kNow - hours(5);
  r.deadline = std::nullopt;
  p = Place(r, v, kNow);
  EXPECT_EQ(p.quotes[0].start, kNow + milliseconds(8020));
}

TEST(PlacementTest, SurgeFromTheAdvertRaisesPrices) {
  std::vector<ViewEntry> v = {Center("busy", {Model("h800", 10, 1, 2000)})};
  v[0].advert.surge = core::SurgeRule{800, 500};  // 90% used: +25%
  const Placement p = Place(H800(1), v, kNow);
  ASSERT_EQ(p.quotes.size(), 1u);
  EXPECT_EQ(p.quotes[0].surge_permille, 1250);
  EXPECT_EQ(p.quotes[0].price_per_device_hour, Money::Fen(2500));
  EXPECT_EQ(p.quotes[0].compute, Money::Fen(2500));
}

TEST(PlacementTest, TimeOfUseWindowsPriceTheRun) {
  // Night 22:00-06:00 at 5.00/h, day 12.00/h; a 10 h job from 21:00 local.
  ModelCapacityAdvert m = Model("h800", 8, 8, 1200);
  m.price.windows = {{22 * 60, 6 * 60, Money::Fen(500)}};
  PlacementRequest r = H800(2, hours(10));
  r.earliest_start = T("2026-11-25T21:00:00+08:00");
  const Placement p = Place(r, {Center("c", {m})}, kNow);
  ASSERT_EQ(p.quotes.size(), 1u);
  EXPECT_EQ(p.quotes[0].compute, Money::Fen(2 * (1200 + 8 * 500 + 1200)));
  EXPECT_EQ(p.quotes[0].price_per_device_hour, Money::Fen(1200));
}

TEST(PlacementTest, DeterministicWhateverTheViewOrder) {
  std::vector<ViewEntry> v;
  for (int i = 0; i < 40; ++i) {
    const std::string id = "c" + std::to_string(i);
    // Many equal prices, so the tie-breaks matter.
    v.push_back(Center(id,
                       {Model("h800", 8, 8 - i % 3, 1000 + (i % 4) * 100),
                        Model("a100-80g", 8, 8, 1000 + (i % 5) * 100)},
                       100 * (i % 7)));
    if (i % 9 == 0) v.back().liveness = Liveness::kSuspect;
    if (i % 11 == 0) v.back().liveness = Liveness::kDead;
  }
  for (Objective o :
       {Objective::kCost, Objective::kTime, Objective::kGreen, Objective::kWeighted}) {
    PlacementRequest r;
    r.min_fp16_tflops = 300;
    r.count = 6;
    r.duration = hours(3);
    r.objective = o;
    r.weights = {3, 1, 2};
    const std::string first = json::serialize(ToJson(Place(r, v, kNow)));
    EXPECT_EQ(json::serialize(ToJson(Place(r, v, kNow))), first);
    std::vector<ViewEntry> shuffled = v;
    std::mt19937 rng(7);
    for (int round = 0; round < 5; ++round) {
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
      EXPECT_EQ(json::serialize(ToJson(Place(r, shuffled, kNow))), first) << ObjectiveName(o);
    }
  }
}

TEST(PlacementTest, PlacementJson) {
  std::vector<ViewEntry> v = {Center("c", {Model("h800", 8, 8, 3050)}),
                              Center("x", {Model("h20", 8, 8, 1)})};
  const json::object o = ToJson(Place(H800(2), v, kNow));
  const json::object& q = o.at("quotes").as_array().at(0).as_object();
  EXPECT_EQ(q.at("center").as_string(), "c");
  EXPECT_EQ(q.at("peer_url").as_string(), "https://c:7443");
  EXPECT_EQ(q.at("liveness").as_string(), "alive");
  EXPECT_EQ(q.at("total_fen").as_int64(), 6100);
  EXPECT_EQ(q.at("total_cny").as_string(), "61.00");
  EXPECT_EQ(q.at("price_per_device_hour_cny").as_string(), "30.50");
  EXPECT_EQ(q.at("transfer_time_ms").as_int64(), 0);
  EXPECT_EQ(q.at("start").as_string(), core::FormatRfc3339(kNow));
  EXPECT_EQ(q.at("finish").as_string(), core::FormatRfc3339(kNow + hours(1)));
  const json::object& x = o.at("excluded").as_array().at(0).as_object();
  EXPECT_EQ(x.at("reason").as_string(), "no_such_model");
  EXPECT_EQ(x.at("detail").as_string(), "offers no h800");
}

core::Result<PlacementRequest> Parse(std::string_view text,
                                     std::initializer_list<std::string_view> extra = {}) {
  core::Result<json::object> o = core::ParseJsonObject(text);
  EXPECT_TRUE(o.ok()) << text;
  return PlacementRequestFromJson(*o, extra);
}

TEST(PlacementRequestJsonTest, ParsesEveryField) {
  core::Result<PlacementRequest> r = Parse(R"({
    "model": "h800", "count": 4, "duration_minutes": 90, "start": "2026-11-25T10:00:00+08:00",
    "dataset": {"home_center": "qingpu", "bytes": 5000000000},
    "deadline": "2026-11-26T10:00:00+08:00", "price_cap_fen": 100000,
    "zones": ["west", "east", "west"], "min_green_percent": 60, "objective": "time"})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->model, "h800");
  EXPECT_EQ(r->count, 4);
  EXPECT_EQ(r->duration, minutes(90));
  EXPECT_EQ(r->earliest_start, kNow);
  EXPECT_EQ(r->dataset, (DatasetRef{"qingpu", 5'000'000'000}));
  EXPECT_EQ(r->deadline, kNow + hours(24));
  EXPECT_EQ(r->price_cap, Money::Fen(100000));
  EXPECT_EQ(r->zones, (std::vector<std::string>{"east", "west"}));
  EXPECT_EQ(r->min_green_permille, 600);
  EXPECT_EQ(r->objective, Objective::kTime);

  r = Parse(R"({"min_fp16_tflops": 300, "duration_minutes": 60,
               "objective": {"cost": 2, "green": 1}, "command": "train.sh"})",
            {"command"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->model.has_value());
  EXPECT_EQ(r->min_fp16_tflops, 300);
  EXPECT_EQ(r->min_memory_gib, 0);
  EXPECT_EQ(r->count, 1);
  EXPECT_EQ(r->objective, Objective::kWeighted);
  EXPECT_EQ(r->weights, (Weights{2, 0, 1}));
}

TEST(PlacementRequestJsonTest, CanonicalFormRoundTrips) {
  for (std::string_view text : {
           R"({"model":"h800","duration_minutes":60})",
           R"({"min_memory_gib":64,"count":3,"duration_minutes":5,"zones":["b","a"],
               "objective":{"time":1}})",
           R"({"model":"h20","duration_minutes":60,"start":"2026-11-25T10:00:00Z",
               "dataset":{"home_center":"x","bytes":0},"deadline":"2026-11-25T12:00:00Z",
               "price_cap_fen":0,"min_green_percent":5,"objective":"green"})",
       }) {
    core::Result<PlacementRequest> r = Parse(text);
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().ToString();
    const json::object canonical = ToJson(*r);
    core::Result<PlacementRequest> back = PlacementRequestFromJson(canonical);
    ASSERT_TRUE(back.ok()) << json::serialize(canonical) << ": " << back.status().ToString();
    EXPECT_EQ(*back, *r) << json::serialize(canonical);
    EXPECT_EQ(ToJson(*back), canonical);
  }
}

TEST(PlacementRequestJsonTest, ErrorsNameTheField) {
  const struct {
    const char* body;
    const char* field;
  } kCases[] = {
      {R"({"model":"h800","duration_minutes":60,"colour":"red"})", "colour"},
      {R"({"model":"h900","duration_minutes":60})", "model"},
      {R"({"model":7,"duration_minutes":60})", "model"},
      {R"({"duration_minutes":60})", "model"},
      {R"({"model":"h800","min_fp16_tflops":100,"duration_minutes":60})", "model"},
      {R"({"min_fp16_tflops":-1,"duration_minutes":60})", "min_fp16_tflops"},
      {R"({"min_memory_gib":"64","duration_minutes":60})", "min_memory_gib"},
      {R"({"model":"h800","count":0,"duration_minutes":60})", "count"},
      {R"({"model":"h800"})", "duration_minutes"},
      {R"({"model":"h800","duration_minutes":0})", "duration_minutes"},
      {R"({"model":"h800","duration_minutes":60,"start":"tomorrow"})", "start"},
      {R"({"model":"h800","duration_minutes":60,"dataset":"x"})", "dataset"},
      {R"({"model":"h800","duration_minutes":60,"dataset":{"bytes":1}})", "dataset.home_center"},
      {R"({"model":"h800","duration_minutes":60,"dataset":{"home_center":"a","bytes":-1}})",
       "dataset.bytes"},
      {R"({"model":"h800","duration_minutes":60,"dataset":{"home_center":"a","bytes":1,"x":1}})",
       "dataset.x"},
      {R"({"model":"h800","duration_minutes":60,"deadline":5})", "deadline"},
      {R"({"model":"h800","duration_minutes":60,"price_cap_fen":-1})", "price_cap_fen"},
      {R"({"model":"h800","duration_minutes":60,"zones":"east"})", "zones"},
      {R"({"model":"h800","duration_minutes":60,"zones":["east",""]})", "zones[1]"},
      {R"({"model":"h800","duration_minutes":60,"min_green_percent":101})", "min_green_percent"},
      {R"({"model":"h800","duration_minutes":60,"objective":"fast"})", "objective"},
      {R"({"model":"h800","duration_minutes":60,"objective":{"cost":0}})", "objective"},
      {R"({"model":"h800","duration_minutes":60,"objective":{"speed":1}})", "objective.speed"},
      {R"({"model":"h800","duration_minutes":60,"objective":{"cost":-1}})", "objective.cost"},
      {R"({"model":"h800","duration_minutes":60,"command":"x"})", "command"},
  };
  for (const auto& c : kCases) {
    core::Result<PlacementRequest> r = Parse(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), core::Code::kInvalidArgument) << c.body;
    EXPECT_EQ(r.status().field(), c.field) << c.body << ": " << r.status().ToString();
  }
}

}  // namespace
}  // namespace edwc::federation
