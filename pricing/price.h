// Pure pricing functions: the price of a device-hour at a time, and the cost of running
// N devices over [start, end) under a time-of-use schedule. Exact: cost is accumulated
// in fen x milliseconds (128-bit) and rounded once, with core's rule.
#pragma once

#include <cstdint>

#include "core/money.h"
#include "core/price_schedule.h"
#include "core/status.h"
#include "core/time.h"

namespace edwc::pricing {

// The per-device-hour price in force at `t`.
core::Money PriceAt(const core::PriceSchedule& schedule, core::Time t);

// Cost of `devices` devices over [start, end) following the schedule minute by window.
// REQUIRES: start <= end, devices >= 0. kInvalidArgument on overflow.
core::Result<core::Money> ComputeCost(const core::PriceSchedule& schedule, int64_t devices,
                                      core::Time start, core::Time end);

}  // namespace edwc::pricing
