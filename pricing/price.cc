#include "pricing/price.h"

#include <algorithm>
#include <vector>

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

// Milliseconds since China local midnight, 0..kMillisPerDay-1.
int64_t ChinaMillisOfDay(core::Time t) {
  int64_t ms = (t.time_since_epoch().count() % kMillisPerDay + kChinaOffsetMillis) % kMillisPerDay;
  return ms < 0 ? ms + kMillisPerDay : ms;
}

// Every point of the local day where the price may change, ascending, ending with midnight.
std::vector<int64_t> Boundaries(const core::PriceSchedule& schedule) {
  std::vector<int64_t> out{kMillisPerDay};
  for (const core::TimeOfUseWindow& w : schedule.windows) {
    out.push_back(int64_t{w.start_minute} * kMillisPerMinute);
    out.push_back(int64_t{w.end_minute} * kMillisPerMinute);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Sum of price_fen x milliseconds for one device over [start, start + length), walking
// from boundary to boundary. At most one day, so at most 2 * windows + 2 segments and
// |sum| <= 2^63 * 2^27: no overflow.
Int128 FenMillis(const core::PriceSchedule& schedule, const std::vector<int64_t>& boundaries,
                 core::Time start, int64_t length) {
  Int128 sum = 0;
  core::Time t = start;
  while (length > 0) {
    const int64_t of_day = ChinaMillisOfDay(t);
    const int64_t next = *std::upper_bound(boundaries.begin(), boundaries.end(), of_day);
    const int64_t segment = std::min(length, next - of_day);
    sum += Int128{PriceAt(schedule, t).fen()} * segment;
    t += core::Duration(segment);
    length -= segment;
  }
  return sum;
}

}  // namespace

core::Money PriceAt(const core::PriceSchedule& schedule, core::Time t) {
  const int minute = core::ChinaMinuteOfDay(t);
  for (const core::TimeOfUseWindow& w : schedule.windows) {
    if (InWindow(w, minute)) return w.per_device_hour;
  }
  return schedule.base_per_device_hour;
}

core::Result<core::Money> ComputeCost(const core::PriceSchedule& schedule, int64_t devices,
                                      core::Time start, core::Time end) {
  if (start > end) return core::InvalidArgument("start must not be after end");
  if (devices < 0) return core::InvalidArgument("devices must not be negative");
  int64_t span = 0;
  if (__builtin_sub_overflow(end.time_since_epoch().count(), start.time_since_epoch().count(),
                             &span)) {
    return core::InvalidArgument("time span out of range");
  }
  const core::Status out_of_range = core::InvalidArgument("cost out of range");
  const std::vector<int64_t> boundaries = Boundaries(schedule);

  // Up to the first local midnight, then whole days at one day's cost (so a long span costs
  // no more work than a short one), then the rest.
  const int64_t head = std::min(span, kMillisPerDay - ChinaMillisOfDay(start));
  Int128 per_device = FenMillis(schedule, boundaries, start, head);
  const core::Time midnight = start + core::Duration(head);
  const int64_t days = (span - head) / kMillisPerDay;
  if (days > 0) {
    const Int128 day = FenMillis(schedule, boundaries, midnight, kMillisPerDay);
    Int128 all_days = 0;
    if (__builtin_mul_overflow(day, Int128{days}, &all_days) ||
        __builtin_add_overflow(per_device, all_days, &per_device)) {
      return out_of_range;
    }
  }
  const int64_t whole = days * kMillisPerDay;
  const Int128 tail =
      FenMillis(schedule, boundaries, midnight + core::Duration(whole), span - head - whole);
  Int128 total = 0;
  if (__builtin_add_overflow(per_device, tail, &per_device) ||
      __builtin_mul_overflow(per_device, Int128{devices}, &total)) {
    return out_of_range;
  }
  int64_t fen = 0;
  if (!core::DivRoundHalfAway(total, kMillisPerHour, &fen)) return out_of_range;
  return core::Money::Fen(fen);
}

}  // namespace edwc::pricing
