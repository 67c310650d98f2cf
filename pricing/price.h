// Pure pricing functions: the price of a device-hour at a time, the cost of running N
// devices over [start, end) under a time-of-use schedule and a surge multiplier, egress
// cost, and the price normalised to dense FP16 PFLOPS-hours. No I/O; thread-safe.
//
// The one rounding rule (core/money.h): every function keeps exact integers (128-bit
// intermediates: fen x ms x permille, fen x bytes, ...) and rounds once, at the end, to
// the nearest fen, half away from zero (0.5 fen -> 1 fen, -0.5 fen -> -1 fen). Nothing is
// rounded per segment, per day or per device, so a cost does not depend on how the span
// is cut up. The one exception is SurgePermille, a multiplier rather than an amount: it
// is floored to whole permille (documented there), and then used exactly.
#pragma once

#include <cstdint>

#include "core/money.h"
#include "core/price_schedule.h"
#include "core/status.h"
#include "core/time.h"

namespace edwc::pricing {

// No surge: the multiplier 1000 permille.
inline constexpr int32_t kNoSurgePermille = 1000;

// The per-device-hour price in force at `t`.
core::Money PriceAt(const core::PriceSchedule& schedule, core::Time t);

// The price multiplier in permille for a model with `total` devices of which `free` are
// free, before the job: with utilisation u = (total - free) / total, 1000 while
// u <= threshold, else 1000 + max_extra * (u - threshold) / (1 - threshold), reaching
// 1000 + max_extra at u = 1. Computed exactly from the integers and floored to whole
// permille (never above the exact multiplier). total <= 0 gives 1000; free is clamped
// to [0, total], threshold to [0, 1000] and a negative max_extra counts as 0.
int32_t SurgePermille(const core::SurgeRule& rule, int32_t total, int32_t free);

// Cost of `devices` devices over [start, end) following the schedule window by window,
// times surge_permille / 1000: sum of price_fen x ms x devices x surge_permille, exact
// in 128 bits, rounded once. Closed form: O(windows^2) (a disjointness check) whatever the
// span, nothing allocated. Overlapping windows (which config refuses) fall back to a walk
// that follows PriceAt, where the first matching window wins.
// REQUIRES: start <= end, devices >= 0, surge_permille >= 0. kInvalidArgument otherwise
// and on overflow.
core::Result<core::Money> ComputeCost(const core::PriceSchedule& schedule, int64_t devices,
                                      core::Time start, core::Time end,
                                      int32_t surge_permille = kNoSurgePermille);

// One GB is 10^9 bytes (SI, as carriers bill), not 2^30.
inline constexpr int64_t kBytesPerGb = 1'000'000'000;

// Egress charge for `bytes` at `per_gb`: per_gb x bytes / 10^9, rounded once.
// kInvalidArgument when the result does not fit int64 fen.
core::Result<core::Money> EgressCost(core::Money per_gb, uint64_t bytes);

// A device-hour price normalised to fen per dense FP16 PFLOPS-hour:
// per_device_hour x 1000 / fp16_dense_tflops, rounded once. fp16_dense_tflops <= 0
// gives 0; a result beyond int64 saturates (it can only happen for absurd prices).
core::Money PerPflopsHour(core::Money per_device_hour, int32_t fp16_dense_tflops);

}  // namespace edwc::pricing
