// Surge, egress and normalised prices, and the one rounding rule across them.
#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "pricing/price.h"

namespace edwc::pricing {
namespace {

using core::Money;
using core::SurgeRule;
using core::Time;

Time T(std::string_view rfc3339) {
  core::Result<Time> r = core::ParseRfc3339(rfc3339);
  EXPECT_TRUE(r.ok()) << rfc3339;
  return r.ok() ? *r : Time();
}

TEST(SurgeTest, NoSurgeAtOrBelowThreshold) {
  const SurgeRule rule{800, 500};                      // above 80% used, up to +50% at 100%
  EXPECT_EQ(SurgePermille(rule, 10, 10), 1000);        // idle
  EXPECT_EQ(SurgePermille(rule, 10, 5), 1000);         // 50%
  EXPECT_EQ(SurgePermille(rule, 10, 2), 1000);         // exactly 80%: not above
  EXPECT_EQ(SurgePermille(SurgeRule{}, 10, 0), 1000);  // the default never surges
  EXPECT_EQ(SurgePermille(rule, 0, 0), 1000);          // nothing to use
}

TEST(SurgeTest, RisesLinearlyAboveThreshold) {
  const SurgeRule rule{800, 500};
  EXPECT_EQ(SurgePermille(rule, 10, 1), 1250);    // 90%: halfway from 80% to 100%
  EXPECT_EQ(SurgePermille(rule, 10, 0), 1500);    // full: +max_extra
  EXPECT_EQ(SurgePermille(rule, 100, 15), 1125);  // 85%: a quarter of the way
  // 801/1000 used: 500 * 1/200 = 2.5 permille -> floored to 2.
  EXPECT_EQ(SurgePermille(rule, 1000, 199), 1002);
  // Threshold 0: any use surges. 1 of 3 used is 1/3 of the way: 1000/3 = 333.33 -> 333.
  EXPECT_EQ(SurgePermille(SurgeRule{0, 1000}, 3, 2), 1333);
}

TEST(SurgeTest, ClampsOutOfRangeInputs) {
  EXPECT_EQ(SurgePermille(SurgeRule{800, 500}, 10, -3), 1500);  // free < 0 counts as 0
  EXPECT_EQ(SurgePermille(SurgeRule{800, 500}, 10, 30), 1000);  // free > total
  EXPECT_EQ(SurgePermille(SurgeRule{800, -500}, 10, 0), 1000);  // negative extra
  EXPECT_EQ(SurgePermille(SurgeRule{-5, 1000}, 2, 0), 2000);    // threshold < 0 is 0
  EXPECT_EQ(SurgePermille(SurgeRule{1200, 1000}, 2, 0), 1000);  // threshold > 1000
  const int32_t big = std::numeric_limits<int32_t>::max();
  EXPECT_EQ(SurgePermille(SurgeRule{0, big}, big, 0), big);  // saturates, no overflow
}

TEST(SurgeTest, CostAppliesMultiplierBeforeTheOneRounding) {
  const core::PriceSchedule s{Money::Fen(1000), {}};
  const Time start = T("2026-11-25T10:00:00+08:00");
  auto cost = [&](int64_t devices, core::Duration d, int32_t surge) {
    core::Result<Money> r = ComputeCost(s, devices, start, start + d, surge);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->fen() : -1;
  };
  EXPECT_EQ(cost(2, std::chrono::hours(3), 1000), 6000);
  EXPECT_EQ(cost(2, std::chrono::hours(3), 1250), 7500);
  // Default argument: existing callers keep the old cost.
  EXPECT_EQ(ComputeCost(s, 2, start, start + std::chrono::hours(3))->fen(), 6000);
  // 1 fen/h for 1 h at 1.5x = 1.5 fen -> 2; at 1.499x = 1.499 -> 1.
  const core::PriceSchedule one{Money::Fen(1), {}};
  EXPECT_EQ(ComputeCost(one, 1, start, start + std::chrono::hours(1), 1500)->fen(), 2);
  EXPECT_EQ(ComputeCost(one, 1, start, start + std::chrono::hours(1), 1499)->fen(), 1);
  // 1 fen/h for 20 min at 1.5x is 0.5 fen: half up, once (not round(1/3) * 1.5 = 0).
  EXPECT_EQ(ComputeCost(one, 1, start, start + std::chrono::minutes(20), 1500)->fen(), 1);
  EXPECT_EQ(cost(2, std::chrono::hours(3), 0), 0);
  EXPECT_FALSE(ComputeCost(s, 1, start, start + std::chrono::hours(1), -1).ok());
}

TEST(SurgeTest, OverflowWithSurgeIsReported) {
  const core::PriceSchedule max_price{Money::Fen(std::numeric_limits<int64_t>::max()), {}};
  const Time start = T("2026-11-25T10:00:00+08:00");
  EXPECT_TRUE(ComputeCost(max_price, 1, start, start + std::chrono::hours(1), 1000).ok());
  core::Result<Money> r = ComputeCost(max_price, 1, start, start + std::chrono::hours(1), 1001);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::Code::kInvalidArgument);
}

TEST(TimeOfUseTest, NightWindowAcrossMidnight) {
  // Day 12.00/h, night 22:00-06:00 at 5.00/h. A job 21:00-07:00 local: 1h day + 8h night
  // + 1h day = 1200 + 4000 + 1200, times 4 devices.
  const core::PriceSchedule s{Money::Fen(1200), {{22 * 60, 6 * 60, Money::Fen(500)}}};
  core::Result<Money> r =
      ComputeCost(s, 4, T("2026-11-25T21:00:00+08:00"), T("2026-11-26T07:00:00+08:00"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->fen(), 4 * (1200 + 8 * 500 + 1200));
  // The same job written in UTC (13:00Z-23:00Z) costs the same.
  EXPECT_EQ(ComputeCost(s, 4, T("2026-11-25T13:00:00Z"), T("2026-11-25T23:00:00Z"))->fen(),
            r->fen());
  // With a 1.2x surge, still one rounding: 7 devices for 21:00:30-06:59:30.
  core::Result<Money> surged =
      ComputeCost(s, 7, T("2026-11-25T21:00:30+08:00"), T("2026-11-26T06:59:30+08:00"), 1200);
  ASSERT_TRUE(surged.ok());
  // fen x ms: day 3,570,000 ms at 1200 + night 8h at 500 + day 3,570,000 ms at 1200.
  const core::Int128 fen_ms =
      core::Int128{1200} * 3'570'000 * 2 + core::Int128{500} * 8 * 3'600'000;
  int64_t expected = 0;
  ASSERT_TRUE(core::DivRoundHalfAway(fen_ms * 7 * 1200, core::Int128{3'600'000} * 1000, &expected));
  EXPECT_EQ(surged->fen(), expected);
}

TEST(EgressTest, OneRoundingHalfUp) {
  const Money per_gb = Money::Fen(50);
  EXPECT_EQ(EgressCost(per_gb, 0)->fen(), 0);
  EXPECT_EQ(EgressCost(per_gb, 1)->fen(), 0);                               // 5e-8 fen
  EXPECT_EQ(EgressCost(per_gb, 10'000'000)->fen(), 1);                      // 0.5 fen -> 1
  EXPECT_EQ(EgressCost(per_gb, 9'999'999)->fen(), 0);                       // just under half
  EXPECT_EQ(EgressCost(per_gb, 1'000'000'000)->fen(), 50);                  // GB = 10^9 bytes
  EXPECT_EQ(EgressCost(per_gb, 1'073'741'824)->fen(), 54);                  // a GiB: 53.687 -> 54
  EXPECT_EQ(EgressCost(Money::Fen(30), 2'500'000'000'000)->fen(), 75'000);  // 2.5 TB
  // The largest byte count at a plausible price is exact (128-bit product).
  const uint64_t max_bytes = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(EgressCost(Money::Fen(1), max_bytes)->fen(), 18'446'744'074);  // 18446744073.7
  EXPECT_FALSE(EgressCost(Money::Fen(std::numeric_limits<int64_t>::max()), max_bytes).ok());
}

TEST(PerPflopsHourTest, NormalisesByDenseFp16) {
  // H800, 989 TFLOPS, at 30.00/h: 3000 * 1000 / 989 = 3033.37 -> 3033 fen per PFLOPS-hour.
  EXPECT_EQ(PerPflopsHour(Money::Fen(3000), 989).fen(), 3033);
  // A100, 312 TFLOPS, at 12.00/h: 1200000 / 312 = 3846.15 -> 3846.
  EXPECT_EQ(PerPflopsHour(Money::Fen(1200), 312).fen(), 3846);
  // Exactly half rounds up: 1 * 1000 / 2000 = 0.5 -> 1.
  EXPECT_EQ(PerPflopsHour(Money::Fen(1), 2000).fen(), 1);
  EXPECT_EQ(PerPflopsHour(Money::Fen(3000), 0).fen(), 0);
  EXPECT_EQ(PerPflopsHour(Money::Fen(3000), -5).fen(), 0);
  EXPECT_EQ(PerPflopsHour(Money::Fen(std::numeric_limits<int64_t>::max()), 1).fen(),
            std::numeric_limits<int64_t>::max());
}

TEST(RoundingTest, TotalOfManySmallCostsRoundsOnceNotPerItem) {
  // 1000 one-minute slices at 1 fen/h each cost 1/60 fen: rounding each would give 0;
  // the whole run is one computation, 1000/60 = 16.67 -> 17.
  const core::PriceSchedule one{Money::Fen(1), {}};
  const Time start = T("2026-11-25T10:00:00+08:00");
  int64_t per_item_sum = 0;
  core::Int128 exact_fen_ms = 0;
  for (int i = 0; i < 1000; ++i) {
    const Time a = start + std::chrono::minutes(i);
    per_item_sum += ComputeCost(one, 1, a, a + std::chrono::minutes(1))->fen();
    exact_fen_ms += 60'000;
  }
  EXPECT_EQ(per_item_sum, 0);
  EXPECT_EQ(ComputeCost(one, 1, start, start + std::chrono::minutes(1000))->fen(), 17);
  int64_t expected = 0;
  ASSERT_TRUE(core::DivRoundHalfAway(exact_fen_ms, 3'600'000, &expected));
  EXPECT_EQ(expected, 17);
  // Likewise egress: a million 1-KB objects at 50 fen/GB are one 1-GB transfer.
  EXPECT_EQ(EgressCost(Money::Fen(50), 1000)->fen(), 0);
  EXPECT_EQ(EgressCost(Money::Fen(50), 1000ull * 1'000'000)->fen(), 50);
}

// The cost walked minute by minute with PriceAt, rounded once.
int64_t MinuteByMinute(const core::PriceSchedule& s, int64_t devices, Time start, int minutes,
                       int32_t surge) {
  core::Int128 fen_minutes = 0;
  for (int i = 0; i < minutes; ++i)
    fen_minutes += PriceAt(s, start + std::chrono::minutes(i)).fen();
  int64_t out = 0;
  EXPECT_TRUE(core::DivRoundHalfAway(fen_minutes * devices * surge, 60 * 1000, &out));
  return out;
}

TEST(TimeOfUseTest, ClosedFormMatchesPriceAtOnRandomSchedules) {
  std::mt19937 rng(42);
  const Time day0 = T("2026-11-25T00:00:00+08:00");
  for (int round = 0; round < 300; ++round) {
    // Disjoint windows from random cut points, some wrapping midnight or ending at 24:00.
    std::vector<int> cuts;
    const int n = static_cast<int>(rng() % 7);
    for (int i = 0; i < 2 * n; ++i) cuts.push_back(static_cast<int>(rng() % 1441));
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    core::PriceSchedule s{Money::Fen(static_cast<int64_t>(rng() % 5000) - 100), {}};
    for (size_t i = 0; i + 1 < cuts.size(); i += 2) {
      s.windows.push_back({cuts[i], cuts[i + 1], Money::Fen(static_cast<int64_t>(rng() % 9000))});
    }
    if (rng() % 2 == 0 && s.windows.size() >= 2) {  // join the first and last: a wrap
      const int wrap_end = s.windows.front().end_minute;
      s.windows.front() = {s.windows.back().start_minute, wrap_end,
                           s.windows.front().per_device_hour};
      s.windows.pop_back();
    }
    const Time start = day0 + std::chrono::minutes(rng() % 1440);
    const int minutes = static_cast<int>(rng() % (3 * 1440));
    const int32_t surge = 1000 + static_cast<int32_t>(rng() % 700);
    core::Result<Money> cost =
        ComputeCost(s, 3, start, start + std::chrono::minutes(minutes), surge);
    ASSERT_TRUE(cost.ok());
    EXPECT_EQ(cost->fen(), MinuteByMinute(s, 3, start, minutes, surge)) << "round " << round;
  }
}

TEST(TimeOfUseTest, OverlappingWindowsFollowPriceAt) {
  // Not a valid schedule (config refuses it), but the cost still follows PriceAt, where
  // the first matching window wins: 08:00-12:00 at 30, 10:00-14:00 at 7 (only 12-14 left).
  const core::PriceSchedule s{
      Money::Fen(10), {{8 * 60, 12 * 60, Money::Fen(30)}, {10 * 60, 14 * 60, Money::Fen(7)}}};
  const Time start = T("2026-11-25T06:30:00+08:00");
  EXPECT_EQ(ComputeCost(s, 2, start, start + std::chrono::hours(30))->fen(),
            MinuteByMinute(s, 2, start, 30 * 60, 1000));
  // One day from 06:30: 18 h at 10, 08-12 at 30, 12-14 at 7.
  EXPECT_EQ(ComputeCost(s, 1, start, start + std::chrono::hours(24))->fen(),
            18 * 10 + 4 * 30 + 2 * 7);
}

}  // namespace
}  // namespace edwc::pricing
