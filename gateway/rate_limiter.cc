#include "gateway/rate_limiter.h"

#include <algorithm>

namespace edwc::gateway {

void RateLimiter::SetLimit(config::RateLimit limit) {
  std::lock_guard lock(mu_);
  full_at_.clear();
  if (limit.per_second == 0) {
    interval_ns_ = tolerance_ns_ = 0;
    enabled_ = false;
    return;
  }
  interval_ns_ = std::max<int64_t>(1, 1'000'000'000 / int64_t{limit.per_second});
  tolerance_ns_ = interval_ns_ * (int64_t{std::max<uint32_t>(limit.burst, 1)} - 1);
  enabled_ = true;
}

bool RateLimiter::Allow(std::string_view key, int64_t now_ns, int64_t* retry_after_ns) {
  if (!enabled_.load(std::memory_order_relaxed)) return true;
  std::lock_guard lock(mu_);
  if (interval_ns_ == 0) return true;  // turned off since the check above
  auto it = full_at_.find(key);
  if (it == full_at_.end()) it = full_at_.emplace(std::string(key), now_ns).first;
  // The bucket empties by one request's interval per request and refills with time:
  // full_at - now is how far this caller has run ahead of its rate.
  const int64_t full_at = std::max(it->second, now_ns);
  if (full_at - now_ns > tolerance_ns_) {
    *retry_after_ns = full_at - tolerance_ns_ - now_ns;
    return false;
  }
  it->second = full_at + interval_ns_;
  return true;
}

}  // namespace edwc::gateway
