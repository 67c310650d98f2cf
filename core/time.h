// Time and the Clock seam. Time is wall-clock milliseconds since the Unix epoch (UTC);
// protocol code never reads the system clock directly but asks a Clock, so that tests
// and the simulator inject time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "core/status.h"

namespace edwc::core {

using Duration = std::chrono::milliseconds;
using Time = std::chrono::time_point<std::chrono::system_clock, Duration>;

// "2026-11-25T03:04:05.123Z"
std::string FormatRfc3339(Time t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm|-hh:mm)".
Result<Time> ParseRfc3339(std::string_view text);

// China Standard Time (UTC+8, no DST): minutes since local midnight, 0..1439.
int ChinaMinuteOfDay(Time t);

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Time Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Time Now() const override;
};

// A clock that moves only when told; for tests and the simulator.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Time start) : now_(start.time_since_epoch().count()) {}
  Time Now() const override { return Time(Duration(now_.load())); }
  void Advance(Duration d) { now_ += d.count(); }
  void Set(Time t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace edwc::core
