#include "pricing/price.h"

#include <gtest/gtest.h>

#include <limits>

namespace edwc::pricing {
namespace {

using core::Money;
using core::Time;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

Time T(std::string_view rfc3339) {
  core::Result<Time> r = core::ParseRfc3339(rfc3339);
  EXPECT_TRUE(r.ok()) << rfc3339;
  return r.ok() ? *r : Time();
}

// Base 10.00/h; night 22:00-06:00 (wraps midnight) at 4.00/h; peak 09:00-12:00 at 20.00/h.
// One device-day costs 8h*400 + 3h*2000 + 13h*1000 = 22200 fen.
core::PriceSchedule Schedule() {
  core::PriceSchedule s;
  s.base_per_device_hour = Money::Fen(1000);
  s.windows = {{22 * 60, 6 * 60, Money::Fen(400)}, {9 * 60, 12 * 60, Money::Fen(2000)}};
  return s;
}

int64_t Cost(const core::PriceSchedule& s, int64_t devices, std::string_view start,
             std::string_view end) {
  core::Result<Money> r = ComputeCost(s, devices, T(start), T(end));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r->fen() : -1;
}

TEST(PriceTest, PriceAtFollowsWindowsIncludingWrapAroundMidnight) {
  const core::PriceSchedule s = Schedule();
  const struct {
    const char* local;
    int64_t fen;
  } kCases[] = {
      {"2026-11-25T21:59:59.999+08:00", 1000}, {"2026-11-25T22:00:00+08:00", 400},
      {"2026-11-25T23:59:00+08:00", 400},      {"2026-11-26T00:00:00+08:00", 400},
      {"2026-11-26T05:59:59+08:00", 400},      {"2026-11-26T06:00:00+08:00", 1000},
      {"2026-11-26T09:00:00+08:00", 2000},     {"2026-11-26T11:59:00+08:00", 2000},
      {"2026-11-26T12:00:00+08:00", 1000},
  };
  for (const auto& c : kCases) EXPECT_EQ(PriceAt(s, T(c.local)).fen(), c.fen) << c.local;
  // The same instant written in UTC: 14:00Z is 22:00 in China.
  EXPECT_EQ(PriceAt(s, T("2026-11-25T14:00:00Z")).fen(), 400);
  EXPECT_EQ(PriceAt(core::PriceSchedule{Money::Fen(77), {}}, T("2026-11-25T14:00:00Z")).fen(), 77);
}

TEST(PriceTest, WindowMayEndAtMidnight) {
  core::PriceSchedule s{Money::Fen(100), {{20 * 60, 1440, Money::Fen(300)}}};
  EXPECT_EQ(PriceAt(s, T("2026-11-25T23:59:00+08:00")).fen(), 300);
  EXPECT_EQ(PriceAt(s, T("2026-11-26T00:00:00+08:00")).fen(), 100);
  // 19:00-21:00 local: 1h*100 + 1h*300; 23:00-01:00: 1h*300 + 1h*100.
  EXPECT_EQ(Cost(s, 1, "2026-11-25T19:00:00+08:00", "2026-11-25T21:00:00+08:00"), 400);
  EXPECT_EQ(Cost(s, 1, "2026-11-25T23:00:00+08:00", "2026-11-26T01:00:00+08:00"), 400);
}

TEST(PriceTest, CostAcrossBoundariesByHand) {
  const core::PriceSchedule s = Schedule();
  // 21:30-22:30: 0.5h*1000 + 0.5h*400.
  EXPECT_EQ(Cost(s, 1, "2026-11-25T21:30:00+08:00", "2026-11-25T22:30:00+08:00"), 700);
  // 05:00-10:00, 2 devices: (1h*400 + 3h*1000 + 1h*2000) * 2.
  EXPECT_EQ(Cost(s, 2, "2026-11-26T05:00:00+08:00", "2026-11-26T10:00:00+08:00"), 10800);
  // 23:00 day 1 to 07:30 day 3: 400 + 22200 + 6h*400 + 1.5h*1000.
  EXPECT_EQ(Cost(s, 1, "2026-11-01T23:00:00+08:00", "2026-11-03T07:30:00+08:00"), 26500);
}

TEST(PriceTest, RoundsOnceAtTheEnd) {
  // 1 fen/h base, 3 fen/h from 22:00. 21:45-22:05 is 0.25 + 0.25 = 0.5 fen -> 1 fen; rounding
  // each segment would give 0 + 0.
  core::PriceSchedule s{Money::Fen(1), {{22 * 60, 6 * 60, Money::Fen(3)}}};
  EXPECT_EQ(Cost(s, 1, "2026-11-25T21:45:00+08:00", "2026-11-25T22:05:00+08:00"), 1);
  // Three devices for 10 minutes at 1 fen/h: 0.5 fen -> 1, not 3 * round(1/6) = 0.
  EXPECT_EQ(Cost(s, 3, "2026-11-25T12:00:00+08:00", "2026-11-25T12:10:00+08:00"), 1);
  // Just under half a fen rounds down.
  EXPECT_EQ(Cost(s, 1, "2026-11-25T12:00:00+08:00", "2026-11-25T12:29:59.999+08:00"), 0);
  // Negative prices (credits) round away from zero too.
  core::PriceSchedule credit{Money::Fen(-1), {}};
  EXPECT_EQ(Cost(credit, 3, "2026-11-25T12:00:00+08:00", "2026-11-25T12:10:00+08:00"), -1);
}

TEST(PriceTest, MultiDaySpans) {
  const core::PriceSchedule s = Schedule();
  // Exactly 30 days from an arbitrary start: 30 device-days * 4 devices, whatever the start.
  EXPECT_EQ(Cost(s, 4, "2026-11-01T13:17:42.5+08:00", "2026-12-01T13:17:42.5+08:00"),
            30 * 22200 * 4);
  EXPECT_EQ(Cost(s, 1, "2026-11-01T00:00:00+08:00", "2026-11-02T00:00:00+08:00"), 22200);
  // Ten thousand years costs the same work as a day.
  EXPECT_EQ(Cost(s, 1, "2000-01-01T00:00:00+08:00", "9999-01-01T00:00:00+08:00"),
            int64_t{22200} * 2'921'575);
}

TEST(PriceTest, MatchesSecondBySecondSum) {
  const core::PriceSchedule s = Schedule();
  const Time start = T("2026-11-25T13:17:23+08:00");
  const Time end = start + std::chrono::hours(60) + std::chrono::seconds(1234);
  core::Int128 fen_seconds = 0;
  for (Time t = start; t < end; t += std::chrono::seconds(1)) {
    fen_seconds += PriceAt(s, t).fen();
  }
  int64_t expected = 0;
  ASSERT_TRUE(core::DivRoundHalfAway(fen_seconds * 3, 3600, &expected));
  core::Result<Money> cost = ComputeCost(s, 3, start, end);
  ASSERT_TRUE(cost.ok());
  EXPECT_EQ(cost->fen(), expected);
}

TEST(PriceTest, ZeroDurationAndZeroDevicesCostNothing) {
  const core::PriceSchedule s = Schedule();
  EXPECT_EQ(Cost(s, 8, "2026-11-25T10:00:00+08:00", "2026-11-25T10:00:00+08:00"), 0);
  EXPECT_EQ(Cost(s, 0, "2026-11-25T10:00:00+08:00", "2026-11-28T10:00:00+08:00"), 0);
}

TEST(PriceTest, RefusesBadArguments) {
  const core::PriceSchedule s = Schedule();
  core::Result<Money> r =
      ComputeCost(s, 1, T("2026-11-25T11:00:00+08:00"), T("2026-11-25T10:00:00+08:00"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::Code::kInvalidArgument);
  EXPECT_FALSE(
      ComputeCost(s, -1, T("2026-11-25T10:00:00+08:00"), T("2026-11-25T11:00:00+08:00")).ok());
}

TEST(PriceTest, OverflowIsReported) {
  const core::PriceSchedule max_price{Money::Fen(kMax), {}};
  const Time start = T("2026-11-25T10:00:00+08:00");
  // The intermediate kMax * 3,600,000 needs 128 bits; the result fits exactly.
  core::Result<Money> r = ComputeCost(max_price, 1, start, start + std::chrono::hours(1));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->fen(), kMax);
  r = ComputeCost(max_price, 2, start, start + std::chrono::hours(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::Code::kInvalidArgument);
  // Beyond even 128 bits.
  EXPECT_FALSE(ComputeCost(max_price, kMax, start, start + std::chrono::hours(24 * 3650)).ok());
  // A span longer than int64 milliseconds.
  EXPECT_FALSE(ComputeCost(Schedule(), 1, Time(core::Duration(std::numeric_limits<int64_t>::min())),
                           Time(core::Duration(kMax)))
                   .ok());
}

}  // namespace
}  // namespace edwc::pricing
