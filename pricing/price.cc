#include "pricing/price.h"

#include <algorithm>
#include <climits>
#include <cstdint>

namespace edwc::pricing {

namespace {

using core::Int128;

constexpr int64_t kMillisPerMinute = 60'000;
constexpr int64_t kMillisPerHour = 3'600'000;
constexpr int64_t kMillisPerDay = 86'400'000;
constexpr int64_t kChinaOffsetMillis = 8 * kMillisPerHour;

bool InWindow(const core::TimeOfUseWindow& w, int minute) {
  if (w.start_minute < w.end_minute) return minute >= w.start_minute && minute < w.end_minute;
  if (w.start_minute > w.end_minute) return minute >= w.start_minute || minute < w.end_minute;
  return false;  // start == end is refused by config; treat as empty rather than all-day
}

core::Money PriceAtMinute(const core::PriceSchedule& schedule, int minute) {
  for (const core::TimeOfUseWindow& w : schedule.windows) {
    if (InWindow(w, minute)) return w.per_device_hour;
  }
  return schedule.base_per_device_hour;
}

// Milliseconds since China local midnight, 0..kMillisPerDay-1.
int64_t ChinaMillisOfDay(core::Time t) {
  int64_t ms = (t.time_since_epoch().count() % kMillisPerDay + kChinaOffsetMillis) % kMillisPerDay;
  return ms < 0 ? ms + kMillisPerDay : ms;
}

// The first point of the local day after `of_day` where the price may change (a window
// edge), or midnight. A scan rather than a sorted table: schedules have a handful of
// windows, and this keeps ComputeCost free of allocation.
int64_t NextBoundary(const core::PriceSchedule& schedule, int64_t of_day) {
  int64_t next = kMillisPerDay;
  for (const core::TimeOfUseWindow& w : schedule.windows) {
    for (int64_t edge :
         {int64_t{w.start_minute} * kMillisPerMinute, int64_t{w.end_minute} * kMillisPerMinute}) {
      if (edge > of_day && edge < next) next = edge;
    }
  }
  return next;
}

// A window as at most two non-wrapping [begin, end) minute ranges.
struct Ranges {
  int count = 0;
  int begin[2] = {0, 0};
  int end[2] = {0, 0};
};

Ranges RangesOf(const core::TimeOfUseWindow& w) {
  Ranges r;
  if (w.start_minute < w.end_minute) {
    r = {1, {w.start_minute, 0}, {w.end_minute, 0}};
  } else if (w.start_minute > w.end_minute) {
    r = {2, {w.start_minute, 0}, {24 * 60, w.end_minute}};
  }
  return r;
}

// True when no minute lies in two windows, as PriceSchedule requires and config checks.
// Only then is the closed form below equal to following PriceAt (first window wins).
bool Disjoint(const core::PriceSchedule& schedule) {
  const auto& ws = schedule.windows;
  for (size_t i = 0; i < ws.size(); ++i) {
    const Ranges a = RangesOf(ws[i]);
    for (size_t j = i + 1; j < ws.size(); ++j) {
      const Ranges b = RangesOf(ws[j]);
      for (int x = 0; x < a.count; ++x) {
        for (int y = 0; y < b.count; ++y) {
          if (a.begin[x] < b.end[y] && b.begin[y] < a.end[x]) return false;
        }
      }
    }
  }
  return true;
}

// Sum of price_fen x ms for one device over local [0, x), x in [0, kMillisPerDay], in
// closed form: base everywhere plus each window's difference over its overlap with [0, x).
// O(windows). REQUIRES: Disjoint(schedule). Terms are below 2^65 * 2^27 each.
Int128 FenMillisFromMidnight(const core::PriceSchedule& schedule, int64_t x) {
  const Int128 base = schedule.base_per_device_hour.fen();
  Int128 sum = base * x;
  for (const core::TimeOfUseWindow& w : schedule.windows) {
    const Ranges r = RangesOf(w);
    for (int k = 0; k < r.count; ++k) {
      const int64_t begin = int64_t{r.begin[k]} * kMillisPerMinute;
      const int64_t end = int64_t{r.end[k]} * kMillisPerMinute;
      const int64_t overlap = std::clamp(x, begin, end) - begin;
      sum += (Int128{w.per_device_hour.fen()} - base) * overlap;
    }
  }
  return sum;
}

// Sum of price_fen x milliseconds for one device over local [of_day, of_day + length),
// within one local day (of_day + length <= kMillisPerDay): in closed form for disjoint
// windows, else walking from boundary to boundary with PriceAt's first-window-wins rule
// (at most 2 * windows + 2 segments). |sum| <= 2^63 * 2^27: no overflow.
Int128 FenMillis(const core::PriceSchedule& schedule, bool disjoint, int64_t of_day,
                 int64_t length) {
  if (disjoint) {
    const Int128 to = FenMillisFromMidnight(schedule, of_day + length);
    return of_day == 0 ? to : to - FenMillisFromMidnight(schedule, of_day);
  }
  Int128 sum = 0;
  while (length > 0) {
    const int64_t next = NextBoundary(schedule, of_day);
    const int64_t segment = std::min(length, next - of_day);
    const int minute = static_cast<int>(of_day / kMillisPerMinute);
    sum += Int128{PriceAtMinute(schedule, minute).fen()} * segment;
    of_day = next == kMillisPerDay ? 0 : next;
    length -= segment;
  }
  return sum;
}

}  // namespace

core::Money PriceAt(const core::PriceSchedule& schedule, core::Time t) {
  return PriceAtMinute(schedule, core::ChinaMinuteOfDay(t));
}

int32_t SurgePermille(const core::SurgeRule& rule, int32_t total, int32_t free) {
  if (total <= 0) return kNoSurgePermille;
  const int64_t threshold = std::clamp<int64_t>(rule.threshold_permille, 0, 1000);
  const int64_t max_extra = std::max<int64_t>(rule.max_extra_permille, 0);
  const int64_t used = total - std::clamp<int64_t>(free, 0, total);
  // u > threshold  <=>  used * 1000 > threshold * total; exact, no rounded u.
  const int64_t over = used * 1000 - threshold * total;
  if (over <= 0 || threshold == 1000) return kNoSurgePermille;
  // extra = max_extra * (used/total - threshold/1000) / (1 - threshold/1000)
  //       = max_extra * over / ((1000 - threshold) * total), floored (all terms >= 0).
  // over < 2^41 and max_extra < 2^31: the product needs up to 72 bits.
  const Int128 extra = Int128{max_extra} * over / ((1000 - threshold) * total);
  return static_cast<int32_t>(std::min<Int128>(kNoSurgePermille + extra, INT32_MAX));
}

core::Result<core::Money> ComputeCost(const core::PriceSchedule& schedule, int64_t devices,
                                      core::Time start, core::Time end, int32_t surge_permille) {
  if (start > end) return core::InvalidArgument("start must not be after end");
  if (devices < 0) return core::InvalidArgument("devices must not be negative");
  if (surge_permille < 0) return core::InvalidArgument("surge must not be negative");
  int64_t span = 0;
  if (__builtin_sub_overflow(end.time_since_epoch().count(), start.time_since_epoch().count(),
                             &span)) {
    return core::InvalidArgument("time span out of range");
  }
  const core::Status out_of_range = core::InvalidArgument("cost out of range");
  const bool disjoint = Disjoint(schedule);
  // Up to the first local midnight, then whole days at one day's cost (so a long span costs
  // no more work than a short one), then the rest from midnight.
  const int64_t of_day = ChinaMillisOfDay(start);
  const int64_t head = std::min(span, kMillisPerDay - of_day);
  Int128 per_device = FenMillis(schedule, disjoint, of_day, head);
  const int64_t days = (span - head) / kMillisPerDay;
  if (days > 0) {
    const Int128 day = FenMillis(schedule, disjoint, 0, kMillisPerDay);
    Int128 all_days = 0;
    if (__builtin_mul_overflow(day, Int128{days}, &all_days) ||
        __builtin_add_overflow(per_device, all_days, &per_device)) {
      return out_of_range;
    }
  }
  const Int128 tail = FenMillis(schedule, disjoint, 0, span - head - days * kMillisPerDay);
  Int128 total = 0;
  if (__builtin_add_overflow(per_device, tail, &per_device) ||
      __builtin_mul_overflow(per_device, Int128{devices}, &total) ||
      __builtin_mul_overflow(total, Int128{surge_permille}, &total)) {
    return out_of_range;
  }
  int64_t fen = 0;
  if (!core::DivRoundHalfAway(total, Int128{kMillisPerHour} * 1000, &fen)) return out_of_range;
  return core::Money::Fen(fen);
}

core::Result<core::Money> EgressCost(core::Money per_gb, uint64_t bytes) {
  // |fen| < 2^63 and bytes < 2^64: the product fits 128 bits.
  const Int128 fen_bytes = Int128{per_gb.fen()} * Int128{bytes};
  int64_t fen = 0;
  if (!core::DivRoundHalfAway(fen_bytes, kBytesPerGb, &fen)) {
    return core::InvalidArgument("egress cost out of range");
  }
  return core::Money::Fen(fen);
}

core::Money PerPflopsHour(core::Money per_device_hour, int32_t fp16_dense_tflops) {
  if (fp16_dense_tflops <= 0) return core::Money();
  int64_t fen = 0;
  if (!core::DivRoundHalfAway(Int128{per_device_hour.fen()} * 1000, fp16_dense_tflops, &fen)) {
    return core::Money::Fen(per_device_hour.fen() < 0 ? INT64_MIN : INT64_MAX);
  }
  return core::Money::Fen(fen);
}

}  // namespace edwc::pricing
