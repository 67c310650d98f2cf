// Money: an amount in fen (1 CNY = 100 fen) held in int64. Never a double.
//
// One rounding rule for the whole code base: a computation keeps exact integers (128-bit
// intermediate products) and rounds once, at the end, half away from zero ("half up" on
// magnitudes: 0.5 fen -> 1 fen, -0.5 fen -> -1 fen). MulDiv is that rule.
// Overflow of int64 is reported, never wrapped. Value type; thread-safe.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace edwc::core {

// __extension__ keeps -Wpedantic quiet about the GCC/Clang 128-bit integer.
__extension__ typedef __int128 Int128;

class Money {
 public:
  constexpr Money() = default;
  static constexpr Money Fen(int64_t fen) { return Money(fen); }

  // Parses a decimal CNY amount with at most two decimals: "18", "18.5", "18.50",
  // "-0.30". Anything else (exponents, thousands separators, three decimals) is refused.
  static Result<Money> ParseYuan(std::string_view text);

  constexpr int64_t fen() const { return fen_; }

  // "18.50" (no currency; always two decimals; leading '-' when negative).
  std::string ToYuanString() const;

  // Checked arithmetic: an int64 overflow is kInvalidArgument ("amount out of range").
  Result<Money> Add(Money other) const;
  Result<Money> Sub(Money other) const;
  // Sums that only feed limits (credit exposure): an overflow sticks at the int64 bound.
  Money SaturatingAdd(Money other) const;

  // round_half_away_from_zero(fen * num / den), exact via 128-bit intermediates.
  // REQUIRES: den != 0.
  Result<Money> MulDiv(int64_t num, int64_t den) const;

  constexpr auto operator<=>(const Money&) const = default;

 private:
  constexpr explicit Money(int64_t fen) : fen_(fen) {}
  int64_t fen_ = 0;
};

// The rounding rule itself, on 128-bit integers: round_half_away_from_zero(n / d).
// Returns false when the result does not fit int64. REQUIRES: d != 0.
bool DivRoundHalfAway(Int128 n, Int128 d, int64_t* out);

}  // namespace edwc::core
