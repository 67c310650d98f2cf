// Seeded simulations of a 30-center federation (tests/federation/simulator.h). A failure
// prints its seed; EDWC_SIM_SEED=<n> replays just that seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "tests/federation/simulator.h"

namespace edwc::federation::testing {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

std::optional<uint64_t> SeedFromEnv() {
  const char* s = std::getenv("EDWC_SIM_SEED");
  if (s == nullptr || *s == '\0') return std::nullopt;
  return std::strtoull(s, nullptr, 10);
}

// Shorter advert lifetimes than production so that a stop long enough for every center
// to declare the stopped one dead fits in ~16 s of virtual time; rounds, fanout and
// anti-entropy keep their defaults. refresh_every + the frozen settle < advert_ttl.
SimOptions CrashOptions() {
  SimOptions o;
  o.gossip.advert_ttl = milliseconds(7000);
  o.gossip.refresh_every = milliseconds(4000);
  o.gossip.dead_after = milliseconds(1000);
  return o;
}

struct Outcome {
  std::string error;  // empty when every check passed
  core::Duration price_convergence{0};
  uint64_t events = 0;
};

// Start all; a price change at one center; another center stops until every other
// declares it dead, then restarts with a new epoch; finally refreshes freeze and every
// view must hold exactly the newest advert of every running center.
Outcome RunCrashScenario(uint64_t seed) {
  const SimOptions options = CrashOptions();
  const int n = options.centers;
  Simulator sim(seed, options);
  Outcome out;
  auto fail = [&](const std::string& why) {
    out.error = why;
    out.events = sim.events();
    return out;
  };
  const core::Time t0 = Simulator::StartTime();
  const int price_center = static_cast<int>(seed % static_cast<uint64_t>(n));
  const int stopped =
      (price_center + 1 + static_cast<int>((seed / n) % static_cast<uint64_t>(n - 1))) % n;
  sim.Start();
  if (!sim.RunUntil(t0 + milliseconds(2000))) return fail(sim.failure());
  sim.ChangePrice(price_center);
  if (!sim.RunUntil(t0 + milliseconds(2500))) return fail(sim.failure());
  sim.Stop(stopped);
  const core::Time restart = t0 + milliseconds(2500) + options.gossip.advert_ttl +
                             options.gossip.dead_after + milliseconds(1000);
  if (!sim.RunUntil(restart)) return fail(sim.failure());
  for (int i = 0; i < n; ++i) {
    if (i != stopped && sim.LivenessIn(i, stopped) != Liveness::kDead) {
      return fail(sim.Id(i) + " does not see the stopped " + sim.Id(stopped) + " dead");
    }
  }
  sim.Restart(stopped);
  sim.WatchRevival(stopped);
  if (!sim.RunUntil(restart + milliseconds(2000))) return fail(sim.failure());
  sim.set_refresh_frozen(true);
  if (!sim.RunUntil(restart + milliseconds(4500))) return fail(sim.failure());
  std::string why;
  if (!sim.Converged(&why)) return fail("not converged: " + why);
  if (!sim.AllSawRevival()) return fail("not every center saw the restarted one alive");
  for (int i = 0; i < n; ++i) {
    if (sim.LivenessIn(i, stopped) == Liveness::kDead) {
      return fail(sim.Id(i) + " still sees the restarted " + sim.Id(stopped) + " dead");
    }
  }
  if (!sim.watch_converged()) return fail("the price change never reached every center");
  out.price_convergence = *sim.watch_converged();
  out.events = sim.events();
  return out;
}

TEST(FederationSimTest, CrashRestartAndPriceChangeOver500Seeds) {
  std::vector<uint64_t> seeds;
  if (std::optional<uint64_t> one = SeedFromEnv()) {
    seeds.push_back(*one);
  } else {
    for (uint64_t s = 1; s <= 500; ++s) seeds.push_back(s);
  }
  // Seeds are independent simulations: spread them over the cores. Each seed's run is
  // deterministic whatever thread runs it; failures are reported in seed order.
  const auto start = std::chrono::steady_clock::now();
  std::vector<Outcome> outcomes(seeds.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < seeds.size(); i = next++) outcomes[i] = RunCrashScenario(seeds[i]);
  };
  const unsigned threads = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  int64_t worst = 0;
  uint64_t events = 0;
  for (size_t i = 0; i < seeds.size(); ++i) {
    const Outcome& o = outcomes[i];
    EXPECT_TRUE(o.error.empty()) << "seed " << seeds[i]
                                 << " (replay with EDWC_SIM_SEED=" << seeds[i] << "): " << o.error;
    worst = std::max<int64_t>(worst, o.price_convergence.count());
    events += o.events;
  }
  const auto wall =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
  std::printf(
      "%zu seeds on %u threads, %llu events, %lld ms wall (%.1f ms per seed); "
      "slowest price convergence %lld ms virtual\n",
      seeds.size(), threads, static_cast<unsigned long long>(events),
      static_cast<long long>(wall.count()),
      static_cast<double>(wall.count()) / static_cast<double>(seeds.size()),
      static_cast<long long>(worst));
}

// Default options: how long a price change takes to reach all 30 views.
TEST(FederationSimTest, ConvergenceTimeWithDefaultOptions) {
  const SimOptions options;  // GossipOptions defaults, 5% loss, 1-50 ms delay
  std::vector<int64_t> times;
  const uint64_t first = SeedFromEnv().value_or(1);
  const uint64_t count = SeedFromEnv() ? 1 : 50;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    Simulator sim(seed, options);
    const core::Time t0 = Simulator::StartTime();
    sim.Start();
    ASSERT_TRUE(sim.RunUntil(t0 + milliseconds(5000))) << "seed " << seed << ": " << sim.failure();
    sim.ChangePrice(static_cast<int>(seed % 30));
    ASSERT_TRUE(sim.RunUntil(t0 + milliseconds(10000))) << "seed " << seed << ": " << sim.failure();
    ASSERT_TRUE(sim.watch_converged()) << "seed " << seed;
    times.push_back(sim.watch_converged()->count());
  }
  std::sort(times.begin(), times.end());
  int64_t sum = 0;
  for (int64_t t : times) sum += t;
  std::printf(
      "price change reaches all 30 views: mean %lld ms, median %lld ms, max %lld ms "
      "virtual over %zu seeds\n",
      static_cast<long long>(sum / static_cast<int64_t>(times.size())),
      static_cast<long long>(times[times.size() / 2]), static_cast<long long>(times.back()),
      times.size());
  EXPECT_LT(times[times.size() / 2], 1000);
}

// The federation benchmark's budget, per center: idle traffic under 50 kbit/s, and a change
// seen everywhere within 1 s at 32 centers. Default GossipOptions, production-size adverts,
// refreshes that change nothing (a federation at rest); bytes are the JSON bodies of every
// request and reply (HTTP and TLS framing not included), averaged over centers.
struct TrafficMeasurement {
  size_t advert_bytes = 0;
  double bytes_per_s = 0;      // mean over centers of what each sent
  double max_bytes_per_s = 0;  // the busiest center
  double messages_per_s = 0;
  double bytes_per_change = 0;          // per center, over the rest rate
  std::vector<int64_t> convergence_ms;  // one per price change
};

TrafficMeasurement MeasureTraffic(int centers, uint64_t seed) {
  SimOptions options;
  options.centers = centers;
  options.production_sizes = true;
  options.count_bytes = true;
  options.refresh_changes_capacity = false;
  Simulator sim(seed, options);
  const core::Time t0 = Simulator::StartTime();
  const core::Duration warm_up = milliseconds(30000);  // start-up news has died down
  const core::Duration rest = milliseconds(60000);     // several refresh periods
  TrafficMeasurement m;
  sim.Start();
  EXPECT_TRUE(sim.RunUntil(t0 + warm_up)) << sim.failure();
  m.advert_bytes = json::serialize(ToJson(*sim.Current(0))).size();
  sim.ResetTraffic();
  EXPECT_TRUE(sim.RunUntil(t0 + warm_up + rest)) << sim.failure();
  const double seconds = static_cast<double>(rest.count()) / 1000.0;
  uint64_t bytes = 0;
  uint64_t messages = 0;
  for (const Traffic& t : sim.traffic()) {
    bytes += t.bytes;
    messages += t.messages;
    m.max_bytes_per_s = std::max(m.max_bytes_per_s, static_cast<double>(t.bytes) / seconds);
  }
  m.bytes_per_s = static_cast<double>(bytes) / seconds / centers;
  m.messages_per_s = static_cast<double>(messages) / seconds / centers;
  // At rest every center still holds an unexpired advert of every other (keep-alives
  // arrive in time) and sees none dead; suspect is allowed (two lost contacts in a row).
  for (int i = 0; i < centers; ++i) {
    for (int j = 0; j < centers; ++j) {
      const CapacityAdvert* held = sim.HeldBy(i, j);
      EXPECT_TRUE(held != nullptr && sim.now() < held->expires_at())
          << "seed " << seed << ": " << sim.Id(i) << " holds no live advert of " << sim.Id(j);
      EXPECT_NE(sim.LivenessIn(i, j), Liveness::kDead) << sim.Id(i) << " sees " << sim.Id(j);
    }
  }
  // Price changes at several centers, one at a time.
  core::Time t = sim.now();
  sim.ResetTraffic();
  constexpr int kChanges = 8;
  for (int k = 0; k < kChanges; ++k) {
    sim.ChangePrice((k * 5 + static_cast<int>(seed)) % centers);
    t += milliseconds(3000);
    EXPECT_TRUE(sim.RunUntil(t)) << sim.failure();
    EXPECT_TRUE(sim.watch_converged()) << "seed " << seed << ", change " << k;
    m.convergence_ms.push_back(sim.watch_converged().value_or(t - t).count());
  }
  uint64_t change_bytes = 0;
  for (const Traffic& tr : sim.traffic()) change_bytes += tr.bytes;
  m.bytes_per_change =
      (static_cast<double>(change_bytes) / centers - m.bytes_per_s * 3.0 * kChanges) / kChanges;
  return m;
}

TEST(FederationSimTest, TrafficAtRestAndConvergenceAt8And32Centers) {
  const GossipOptions defaults;
  for (int centers : {8, 32}) {
    TrafficMeasurement total;
    const uint64_t first = SeedFromEnv().value_or(1);
    const uint64_t count = SeedFromEnv() ? 1 : 3;
    for (uint64_t seed = first; seed < first + count; ++seed) {
      TrafficMeasurement m = MeasureTraffic(centers, seed);
      total.advert_bytes = m.advert_bytes;
      total.bytes_per_s += m.bytes_per_s / static_cast<double>(count);
      total.messages_per_s += m.messages_per_s / static_cast<double>(count);
      total.bytes_per_change += m.bytes_per_change / static_cast<double>(count);
      total.max_bytes_per_s = std::max(total.max_bytes_per_s, m.max_bytes_per_s);
      total.convergence_ms.insert(total.convergence_ms.end(), m.convergence_ms.begin(),
                                  m.convergence_ms.end());
    }
    std::vector<int64_t>& times = total.convergence_ms;
    std::sort(times.begin(), times.end());
    std::printf(
        "%d centers (advert %zu B, round %lld ms, refresh %lld ms, ttl %lld ms): at rest "
        "%.0f B/s = %.1f kbit/s per center (busiest %.1f kbit/s), %.1f messages/s; a price "
        "change costs %.0f B per center and reaches all views: median %lld ms, max %lld ms "
        "virtual over %zu changes\n",
        centers, total.advert_bytes, static_cast<long long>(defaults.round.count()),
        static_cast<long long>(defaults.refresh_every.count()),
        static_cast<long long>(defaults.advert_ttl.count()), total.bytes_per_s,
        total.bytes_per_s * 8 / 1000, total.max_bytes_per_s * 8 / 1000, total.messages_per_s,
        total.bytes_per_change, static_cast<long long>(times[times.size() / 2]),
        static_cast<long long>(times.back()), times.size());
    EXPECT_LT(total.bytes_per_s * 8, 50'000.0) << centers << " centers";
    EXPECT_LT(times[times.size() / 2], 1000) << centers << " centers";
  }
}

}  // namespace
}  // namespace edwc::federation::testing
