// RateLimiter: requests per caller as a token bucket, in the form of the generic cell rate
// algorithm (one "theoretical arrival time" per caller instead of a count and a refill
// time): a caller may make `per_second` requests a second on average and `burst` at once.
// Callers are keys the gateway has authenticated (a token's name, a peer center's id), so
// the table is bounded by the configuration and the federation, not by what clients send.
// Off while per_second is 0; then Allow costs one atomic load. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "config/center_config.h"

namespace edwc::gateway {

class RateLimiter {
 public:
  RateLimiter() = default;
  explicit RateLimiter(config::RateLimit limit) { SetLimit(limit); }

  // Takes effect for the next request. A new limit starts every caller afresh.
  void SetLimit(config::RateLimit limit);

  // False while no limit is set: callers may skip reading the clock for Allow.
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }

  // One request by `key` at `now_ns` (any monotonic clock, in nanoseconds). False when the
  // caller is over its limit; then *retry_after_ns says how long until a request passes.
  bool Allow(std::string_view key, int64_t now_ns, int64_t* retry_after_ns);

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>()(key); }
  };

  std::atomic<bool> enabled_{false};
  std::mutex mu_;
  int64_t interval_ns_ = 0;   // GUARDED_BY(mu_): one request's share of a second
  int64_t tolerance_ns_ = 0;  // GUARDED_BY(mu_): how far ahead of time a burst may run
  // GUARDED_BY(mu_): key -> when its bucket is full again
  std::unordered_map<std::string, int64_t, Hash, std::equal_to<>> full_at_;
};

}  // namespace edwc::gateway
