#include "core/time.h"

#include <gtest/gtest.h>

namespace edwc::core {
namespace {

using std::chrono::minutes;

Time At(int64_t millis) { return Time(Duration(millis)); }

// 2026-11-25T03:04:05.123Z, computed independently of the code under test.
constexpr int64_t kSample = 1'795'575'845'123;

Time MustParse(std::string_view text) {
  Result<Time> r = ParseRfc3339(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
  return r.ok() ? *r : Time();
}

TEST(TimeTest, FormatsWithMillisecondsAndZ) {
  EXPECT_EQ(FormatRfc3339(At(kSample)), "2026-11-25T03:04:05.123Z");
  EXPECT_EQ(FormatRfc3339(At(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(At(-1)), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatRfc3339(At(951'782'400'000)), "2000-02-29T00:00:00.000Z");
}

TEST(TimeTest, ParsesZoneSuffixes) {
  EXPECT_EQ(MustParse("2026-11-25T03:04:05.123Z"), At(kSample));
  EXPECT_EQ(MustParse("2026-11-25t03:04:05.123z"), At(kSample));
  EXPECT_EQ(MustParse("2026-11-25T11:04:05.123+08:00"), At(kSample));
  EXPECT_EQ(MustParse("2026-11-24T21:34:05.123-05:30"), At(kSample));
  EXPECT_EQ(MustParse("2026-11-25T03:04:05Z"), At(kSample - 123));
  EXPECT_EQ(MustParse("1969-12-31T23:59:59.999Z"), At(-1));
}

TEST(TimeTest, TruncatesFractionsToMilliseconds) {
  EXPECT_EQ(MustParse("2026-11-25T03:04:05.1Z"), At(kSample - 23));
  EXPECT_EQ(MustParse("2026-11-25T03:04:05.12Z"), At(kSample - 3));
  EXPECT_EQ(MustParse("2026-11-25T03:04:05.123999999Z"), At(kSample));
}

TEST(TimeTest, RoundTrips) {
  for (int64_t ms : {int64_t{0}, kSample, int64_t{-86'400'001}, int64_t{4'102'444'800'000}}) {
    EXPECT_EQ(MustParse(FormatRfc3339(At(ms))), At(ms)) << ms;
  }
}

TEST(TimeTest, ValidatesCalendarAndClock) {
  EXPECT_TRUE(ParseRfc3339("2024-02-29T00:00:00Z").ok());  // leap year
  EXPECT_TRUE(ParseRfc3339("2000-02-29T00:00:00Z").ok());  // divisible by 400
  EXPECT_FALSE(ParseRfc3339("2023-02-29T00:00:00Z").ok());
  EXPECT_FALSE(ParseRfc3339("1900-02-29T00:00:00Z").ok());  // divisible by 100
  EXPECT_FALSE(ParseRfc3339("2026-04-31T00:00:00Z").ok());
  EXPECT_FALSE(ParseRfc3339("2026-13-01T00:00:00Z").ok());
  EXPECT_FALSE(ParseRfc3339("2026-00-01T00:00:00Z").ok());
  EXPECT_FALSE(ParseRfc3339("2026-01-00T00:00:00Z").ok());
  EXPECT_FALSE(ParseRfc3339("2026-01-01T24:00:00Z").ok());
  EXPECT_FALSE(ParseRfc3339("2026-01-01T00:60:00Z").ok());
  EXPECT_FALSE(ParseRfc3339("2026-01-01T00:00:60Z").ok());
  EXPECT_FALSE(ParseRfc3339("2026-01-01T00:00:00+24:00").ok());
  EXPECT_FALSE(ParseRfc3339("2026-01-01T00:00:00+08:60").ok());
}

TEST(TimeTest, RefusesMalformedText) {
  for (const char* text :
       {"", "2026-11-25", "2026-11-25T03:04:05", "2026-11-25 03:04:05Z", "2026-11-25T03:04Z",
        "2026-11-25T03:04:05.Z", "2026-11-25T03:04:05.1234567890Z", "2026-11-25T03:04:05+0800",
        "2026-11-25T03:04:05+08", "2026-11-25T03:04:05ZZ", "26-11-25T03:04:05Z",
        "2026-1-25T03:04:05Z", " 2026-11-25T03:04:05Z", "2026-11-25T03:04:05Z ",
        "+2026-11-25T03:04:05Z"}) {
    Result<Time> r = ParseRfc3339(text);
    EXPECT_FALSE(r.ok()) << '"' << text << '"';
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    }
  }
}

TEST(TimeTest, ChinaMinuteOfDayIsUtcPlusEight) {
  EXPECT_EQ(ChinaMinuteOfDay(At(0)), 8 * 60);
  EXPECT_EQ(ChinaMinuteOfDay(MustParse("2026-11-25T16:00:00Z")), 0);
  EXPECT_EQ(ChinaMinuteOfDay(MustParse("2026-11-25T15:59:59.999Z")), 1439);
  EXPECT_EQ(ChinaMinuteOfDay(MustParse("2026-11-25T22:00:00+08:00")), 22 * 60);
  EXPECT_EQ(ChinaMinuteOfDay(At(-60'000)), 8 * 60 - 1);
  EXPECT_EQ(ChinaMinuteOfDay(At(-9 * 3'600'000)), 23 * 60);
}

TEST(TimeTest, ManualClockMovesOnlyWhenTold) {
  ManualClock clock(At(1000));
  EXPECT_EQ(clock.Now(), At(1000));
  clock.Advance(minutes(2));
  EXPECT_EQ(clock.Now(), At(121'000));
  clock.Set(At(5));
  EXPECT_EQ(clock.Now(), At(5));
}

TEST(TimeTest, SystemClockIsAfter2024) {
  EXPECT_GT(SystemClock().Now(), MustParse("2024-01-01T00:00:00Z"));
}

}  // namespace
}  // namespace edwc::core
