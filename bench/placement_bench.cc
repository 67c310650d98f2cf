// Placement over large federation views: Place() for one quote request over 100, 1,000
// and 10,000 centers with 3 models each and realistic time-of-use schedules (night
// discount across midnight, morning and evening peaks; prices illustrative), a dataset
// to move and a deadline. The budget is well under 1 ms per request at 1,000 centers.
//
// BM_RankAnchor is the same-run anchor: the floor under any placement that returns the
// same answer. It gets the quotes Place() returned for the same view and request, with
// every price, time and score already computed, in a shuffled order, and does only what
// emitting a ranked list of them must: sort them by Place()'s own ranking key (through
// pointers, so that a swap moves 8 bytes) and copy each record, strings included, once
// into the answer in that order. Reading the view, pricing each candidate over its
// schedule and listing the exclusions are left out, so Place() / anchor is how much the
// pricing and checks cost on top of the ranking itself (it should not fall below 1).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "federation/placement.h"

namespace edwc::federation {
namespace {

using core::Money;

const core::Time kNow = core::Time(core::Duration(1'795'000'000'000));  // 2026-11

core::PriceSchedule Schedule(int64_t base_fen) {
  core::PriceSchedule s;
  s.base_per_device_hour = Money::Fen(base_fen);
  s.windows = {{22 * 60, 6 * 60, Money::Fen(base_fen * 6 / 10)},     // night
               {8 * 60, 11 * 60, Money::Fen(base_fen * 15 / 10)},    // morning peak
               {18 * 60, 22 * 60, Money::Fen(base_fen * 14 / 10)}};  // evening peak
  return s;
}

std::string Id(int i) { return "center-" + std::to_string(100000 + i); }

std::vector<ViewEntry> View(int centers) {
  static const char* const kZones[] = {"east", "west", "north", "south"};
  std::vector<ViewEntry> view;
  view.reserve(centers);
  for (int i = 0; i < centers; ++i) {
    ViewEntry e;
    CapacityAdvert& a = e.advert;
    a.center = Id(i);
    a.peer_url = "https://" + a.center + ".edwc.example.cn:7443";
    a.hub = "hub-" + std::to_string(i % 13);
    a.zone = kZones[i % 4];
    a.green_share_permille = (i * 37) % 1000;
    a.egress_per_gb = Money::Fen(20 + i % 40);
    a.surge = core::SurgeRule{800, 300};
    const int64_t west = (i % 2 == 0) ? 0 : 400;  // eastern power is dearer
    a.models = {
        {"a100-80g", 64, 8 + i % 56, Schedule(1200 + west + i % 97)},
        {"ascend-910b", 128, 16 + i % 112, Schedule(1100 + west + i % 89)},
        {"h800", 32, i % 33, Schedule(3000 + west + i % 101)},
    };
    for (int k = 1; k <= 8; ++k) {  // links to the next 8 centers, sorted by id
      if (i + k < centers) a.links.push_back({Id(i + k), 1000 * k, 5 + k});
    }
    e.liveness =
        i % 50 == 0 ? Liveness::kSuspect : (i % 97 == 0 ? Liveness::kDead : Liveness::kAlive);
    view.push_back(std::move(e));
  }
  return view;
}

PlacementRequest Request(Objective objective) {
  PlacementRequest r;
  r.min_fp16_tflops = 300;  // all three models qualify
  r.min_memory_gib = 64;
  r.count = 8;
  r.duration = std::chrono::hours(30);
  r.earliest_start = kNow + std::chrono::hours(2);
  r.dataset = DatasetRef{Id(0), 200'000'000'000};  // 200 GB
  r.deadline = kNow + std::chrono::hours(40);
  r.price_cap = Money::Fen(2'000'000);
  r.zones = {"east", "north", "west"};
  r.min_green_permille = 100;
  r.objective = objective;
  r.weights = {3, 1, 2};
  return r;
}

void BM_Place(benchmark::State& state, Objective objective) {
  const std::vector<ViewEntry> view = View(static_cast<int>(state.range(0)));
  const PlacementRequest request = Request(objective);
  size_t quotes = 0;
  for (auto _ : state) {
    Placement p = Place(request, view, kNow);
    quotes = p.quotes.size();
    benchmark::DoNotOptimize(p);
  }
  state.counters["quotes"] = static_cast<double>(quotes);
  state.SetItemsProcessed(state.iterations() * state.range(0));  // centers per second
}

// Place()'s order (placement.h): alive before suspect, then the objective's score, total,
// finish, center id, model.
bool RankedBefore(const Quote& x, const Quote& y) {
  const bool xs = x.liveness == Liveness::kSuspect, ys = y.liveness == Liveness::kSuspect;
  if (xs != ys) return ys;
  if (x.score != y.score) return x.score < y.score;
  if (x.total != y.total) return x.total < y.total;
  if (x.finish != y.finish) return x.finish < y.finish;
  if (int c = x.center.compare(y.center); c != 0) return c < 0;
  return x.model < y.model;
}

void BM_RankAnchor(benchmark::State& state, Objective objective) {
  std::vector<Quote> shuffled =
      Place(Request(objective), View(static_cast<int>(state.range(0))), kNow).quotes;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937_64(42));
  for (auto _ : state) {
    // Ranks pointers (cheap swaps), then copies each record once, in order.
    std::vector<const Quote*> order;
    order.reserve(shuffled.size());
    for (const Quote& q : shuffled) order.push_back(&q);
    std::sort(order.begin(), order.end(),
              [](const Quote* x, const Quote* y) { return RankedBefore(*x, *y); });
    std::vector<Quote> ranked;
    ranked.reserve(order.size());
    for (const Quote* q : order) ranked.push_back(*q);
    benchmark::DoNotOptimize(ranked.data());
    benchmark::ClobberMemory();
  }
  state.counters["quotes"] = static_cast<double>(shuffled.size());
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

BENCHMARK_CAPTURE(BM_Place, cost, Objective::kCost)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Place, weighted, Objective::kWeighted)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_RankAnchor, cost, Objective::kCost)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_RankAnchor, weighted, Objective::kWeighted)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace edwc::federation

BENCHMARK_MAIN();
