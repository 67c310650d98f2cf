// A per-device-hour price schedule with time-of-use windows in China Standard Time
// (UTC+8). Pure data; pricing/ computes prices at a time and costs over a window.
#pragma once

#include <cstdint>
#include <vector>

#include "core/money.h"

namespace edwc::core {

// [start_minute, end_minute) minutes of the local day; may wrap midnight
// (start 1320, end 360 is 22:00-06:00). start != end.
struct TimeOfUseWindow {
  int start_minute = 0;  // 0..1439
  int end_minute = 0;    // 0..1440
  Money per_device_hour;
  bool operator==(const TimeOfUseWindow&) const = default;
};

struct PriceSchedule {
  Money base_per_device_hour;            // outside every window
  std::vector<TimeOfUseWindow> windows;  // non-overlapping
  bool operator==(const PriceSchedule&) const = default;
};

// Scarcity pricing: when utilisation before a job (used / total, in permille) is above
// `threshold_permille`, prices rise linearly, reaching +`max_extra_permille` at full use
// (pricing::SurgePermille). The default (threshold 1000) never surges.
struct SurgeRule {
  int32_t threshold_permille = 1000;  // 0..1000
  int32_t max_extra_permille = 0;     // >= 0; 500 is +50% at 100% utilisation
  bool operator==(const SurgeRule&) const = default;
};

}  // namespace edwc::core
