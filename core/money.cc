#include "core/money.h"

#include <cstdlib>
#include <limits>

namespace edwc::core {

namespace {

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();
constexpr int64_t kMinInt64 = std::numeric_limits<int64_t>::min();

Status OutOfRange() { return InvalidArgument("amount out of range"); }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool DivRoundHalfAway(Int128 n, Int128 d, int64_t* out) {
  // Work on magnitudes so that truncation toward zero plus a half-step rounds away from
  // zero for both signs. n and d are at most 127-bit in magnitude in every caller; the
  // only value without a magnitude is INT128_MIN, which is refused below.
  const Int128 kMax128 = ((static_cast<Int128>(1) << 126) - 1) * 2 + 1;
  if (d == 0 || n < -kMax128 || d < -kMax128) return false;
  const bool negative = (n < 0) != (d < 0);
  const Int128 an = n < 0 ? -n : n;
  const Int128 ad = d < 0 ? -d : d;
  Int128 q = an / ad;
  const Int128 r = an % ad;
  // r >= ad - r  <=>  2r >= ad, written without overflowing.
  if (r >= ad - r) ++q;
  const Int128 result = negative ? -q : q;
  if (result > kMaxInt64 || result < kMinInt64) return false;
  *out = static_cast<int64_t>(result);
  return true;
}

Result<Money> Money::ParseYuan(std::string_view text) {
  const Status bad = InvalidArgument("must be a decimal amount in CNY with at most two decimals");
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && text[i] == '-') {
    negative = true;
    ++i;
  }
  const size_t int_begin = i;
  while (i < text.size() && IsDigit(text[i])) ++i;
  if (i == int_begin) return bad;
  if (text[int_begin] == '0' && i - int_begin > 1) return bad;  // "007" is a typo, not 7
  // Accumulate as a negative magnitude so that the most negative value parses too.
  Int128 fen = 0;
  for (size_t k = int_begin; k < i; ++k) {
    fen = fen * 10 - (text[k] - '0');
    if (fen < -(static_cast<Int128>(kMaxInt64) + 1) * 10) return OutOfRange();
  }
  int decimals = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    const size_t frac_begin = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    decimals = static_cast<int>(i - frac_begin);
    if (decimals == 0 || decimals > 2) return bad;
    for (size_t k = frac_begin; k < i; ++k) fen = fen * 10 - (text[k] - '0');
  }
  if (i != text.size()) return bad;
  for (int k = decimals; k < 2; ++k) fen *= 10;
  if (!negative) fen = -fen;
  if (fen > kMaxInt64 || fen < kMinInt64) return OutOfRange();
  return Money(static_cast<int64_t>(fen));
}

std::string Money::ToYuanString() const {
  // Via unsigned so that INT64_MIN has a magnitude.
  uint64_t magnitude = fen_ < 0 ? 0 - static_cast<uint64_t>(fen_) : static_cast<uint64_t>(fen_);
  std::string out = fen_ < 0 ? "-" : "";
  out += std::to_string(magnitude / 100);
  out += '.';
  const uint64_t cents = magnitude % 100;
  out += static_cast<char>('0' + cents / 10);
  out += static_cast<char>('0' + cents % 10);
  return out;
}

Result<Money> Money::Add(Money other) const {
  int64_t sum = 0;
  if (__builtin_add_overflow(fen_, other.fen_, &sum)) return OutOfRange();
  return Money(sum);
}

Money Money::SaturatingAdd(Money other) const {
  int64_t sum = 0;
  if (__builtin_add_overflow(fen_, other.fen_, &sum)) {
    return Money(other.fen_ > 0 ? std::numeric_limits<int64_t>::max()
                                : std::numeric_limits<int64_t>::min());
  }
  return Money(sum);
}

Result<Money> Money::Sub(Money other) const {
  int64_t difference = 0;
  if (__builtin_sub_overflow(fen_, other.fen_, &difference)) return OutOfRange();
  return Money(difference);
}

Result<Money> Money::MulDiv(int64_t num, int64_t den) const {
  if (den == 0) return InvalidArgument("division by zero");
  // |fen * num| < 2^126, so the product is exact in 128 bits.
  int64_t out = 0;
  if (!DivRoundHalfAway(static_cast<Int128>(fen_) * num, den, &out)) return OutOfRange();
  return Money(out);
}

}  // namespace edwc::core
