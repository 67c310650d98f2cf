#include "core/request_id.h"

#include <cstdint>
#include <random>
#include <utility>

namespace edwc::core {

namespace {

thread_local std::string t_current;

bool IsRequestIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '-';
}

}  // namespace

bool IsValidRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (char c : id) {
    if (!IsRequestIdChar(c)) return false;
  }
  return true;
}

std::string NewRequestId() {
  // Seeded once per thread; one draw per request is all the cost on the request path.
  thread_local std::mt19937_64 engine = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  uint64_t bits = engine();
  std::string id(16, '0');
  for (int i = 15; i >= 0; --i, bits >>= 4) id[static_cast<size_t>(i)] = kHex[bits & 15];
  return id;
}

std::string_view CurrentRequestId() { return t_current; }

ScopedRequestId::ScopedRequestId(std::string id)
    : previous_(std::exchange(t_current, std::move(id))) {}

ScopedRequestId::~ScopedRequestId() { t_current = std::move(previous_); }

}  // namespace edwc::core
