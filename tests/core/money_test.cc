#include "core/money.h"

#include <gtest/gtest.h>

#include <limits>

namespace edwc::core {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

int64_t Div(Int128 n, Int128 d) {
  int64_t out = 0;
  EXPECT_TRUE(DivRoundHalfAway(n, d, &out))
      << static_cast<int64_t>(n) << "/" << static_cast<int64_t>(d);
  return out;
}

TEST(MoneyTest, DivRoundsHalfAwayFromZeroForBothSigns) {
  EXPECT_EQ(Div(5, 2), 3);
  EXPECT_EQ(Div(-5, 2), -3);
  EXPECT_EQ(Div(5, -2), -3);
  EXPECT_EQ(Div(-5, -2), 3);
  EXPECT_EQ(Div(7, 3), 2);  // 2.33
  EXPECT_EQ(Div(8, 3), 3);  // 2.67
  EXPECT_EQ(Div(-7, 3), -2);
  EXPECT_EQ(Div(-8, 3), -3);
  EXPECT_EQ(Div(1, 2), 1);
  EXPECT_EQ(Div(-1, 2), -1);
  EXPECT_EQ(Div(1, 3), 0);
  EXPECT_EQ(Div(0, 7), 0);
  EXPECT_EQ(Div(1'799'999, 3'600'000), 0);  // just under half a fen
  EXPECT_EQ(Div(1'800'000, 3'600'000), 1);  // exactly half a fen
}

TEST(MoneyTest, DivReportsResultsOutsideInt64) {
  int64_t out = 42;
  EXPECT_TRUE(DivRoundHalfAway(Int128{kMax}, 1, &out));
  EXPECT_EQ(out, kMax);
  EXPECT_TRUE(DivRoundHalfAway(Int128{kMin}, 1, &out));
  EXPECT_EQ(out, kMin);
  out = 42;
  EXPECT_FALSE(DivRoundHalfAway(Int128{kMax} + 1, 1, &out));
  EXPECT_FALSE(DivRoundHalfAway(Int128{kMin} - 1, 1, &out));
  EXPECT_FALSE(DivRoundHalfAway(Int128{kMax} * 2 + 1, 2, &out));  // rounds up past max
  EXPECT_FALSE(DivRoundHalfAway(1, 0, &out));
  EXPECT_EQ(out, 42);  // untouched on failure
}

TEST(MoneyTest, MulDivIsExactWhenTheProductOverflowsInt64) {
  // 10^16 * 900 overflows int64 but / 1000 fits: 9 * 10^15.
  const Money big = Money::Fen(10'000'000'000'000'000);
  Result<Money> r = big.MulDiv(900, 1000);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->fen(), 9'000'000'000'000'000);
  // kMax * kMax / kMax is kMax only with a 128-bit intermediate.
  r = Money::Fen(kMax).MulDiv(kMax, kMax);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->fen(), kMax);
  // 3 fen * 1 / 2 = 1.5 -> 2; -3 fen -> -2.
  EXPECT_EQ(Money::Fen(3).MulDiv(1, 2)->fen(), 2);
  EXPECT_EQ(Money::Fen(-3).MulDiv(1, 2)->fen(), -2);
}

TEST(MoneyTest, MulDivReportsOverflowAndZeroDenominator) {
  Result<Money> r = Money::Fen(kMax).MulDiv(2, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "amount out of range");
  EXPECT_FALSE(Money::Fen(1).MulDiv(1, 0).ok());
}

TEST(MoneyTest, AddAndSubAreChecked) {
  EXPECT_EQ(Money::Fen(150).Add(Money::Fen(-200))->fen(), -50);
  EXPECT_EQ(Money::Fen(150).Sub(Money::Fen(200))->fen(), -50);
  EXPECT_EQ(Money::Fen(kMax).Add(Money::Fen(1)).status().message(), "amount out of range");
  EXPECT_FALSE(Money::Fen(kMin).Sub(Money::Fen(1)).ok());
  EXPECT_FALSE(Money::Fen(0).Sub(Money::Fen(kMin)).ok());
  EXPECT_TRUE(Money::Fen(kMin).Add(Money::Fen(kMax)).ok());
}

TEST(MoneyTest, ParseYuanAcceptsPlainDecimals) {
  const struct {
    const char* text;
    int64_t fen;
  } kCases[] = {
      {"18", 1800},
      {"18.5", 1850},
      {"18.50", 1850},
      {"-0.30", -30},
      {"0", 0},
      {"0.01", 1},
      {"-0", 0},
      {"-18.05", -1805},
      {"92233720368547758.07", kMax},
      {"-92233720368547758.08", kMin},
  };
  for (const auto& c : kCases) {
    Result<Money> r = Money::ParseYuan(c.text);
    ASSERT_TRUE(r.ok()) << c.text << ": " << r.status().ToString();
    EXPECT_EQ(r->fen(), c.fen) << c.text;
  }
}

TEST(MoneyTest, ParseYuanRefusesEverythingElse) {
  for (const char* text :
       {"", "-", "+1", "1.234", "1e3", "1,000", " 1", "1 ", ".5", "1.", "-.5", "01", "1..2", "0x10",
        "１", "92233720368547758.08", "-92233720368547758.09",
        "99999999999999999999999999999999999999999999"}) {
    Result<Money> r = Money::ParseYuan(text);
    EXPECT_FALSE(r.ok()) << '"' << text << '"';
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    }
  }
}

TEST(MoneyTest, ToYuanStringAlwaysHasTwoDecimals) {
  EXPECT_EQ(Money::Fen(1850).ToYuanString(), "18.50");
  EXPECT_EQ(Money::Fen(1800).ToYuanString(), "18.00");
  EXPECT_EQ(Money::Fen(5).ToYuanString(), "0.05");
  EXPECT_EQ(Money::Fen(0).ToYuanString(), "0.00");
  EXPECT_EQ(Money::Fen(-30).ToYuanString(), "-0.30");
  EXPECT_EQ(Money::Fen(-1805).ToYuanString(), "-18.05");
  EXPECT_EQ(Money::Fen(kMax).ToYuanString(), "92233720368547758.07");
  EXPECT_EQ(Money::Fen(kMin).ToYuanString(), "-92233720368547758.08");
}

TEST(MoneyTest, ToYuanStringRoundTripsThroughParse) {
  for (int64_t fen : {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{99}, int64_t{-100},
                      int64_t{123456789}, kMax, kMin}) {
    Result<Money> r = Money::ParseYuan(Money::Fen(fen).ToYuanString());
    ASSERT_TRUE(r.ok()) << fen;
    EXPECT_EQ(r->fen(), fen);
  }
}

}  // namespace
}  // namespace edwc::core
