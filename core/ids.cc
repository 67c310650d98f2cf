#include "core/ids.h"

#include <array>
#include <cstdint>
#include <random>

namespace edwc::core {

namespace {

constexpr size_t kMaxCenterIdLength = 63;

bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Empty when `text` is a valid CenterId, else what is wrong with it.
std::string_view CenterIdProblem(std::string_view text) {
  if (text.empty()) return "center id must not be empty";
  if (text.size() > kMaxCenterIdLength) return "center id must be at most 63 characters";
  if (!IsLower(text.front())) return "center id must start with a lowercase letter";
  for (char c : text) {
    if (!IsLower(c) && !IsDigit(c) && c != '-') {
      return "center id may contain only lowercase letters, digits and '-'";
    }
  }
  if (text.back() == '-') return "center id must not end with '-'";
  return {};
}

// Per-thread generator so that NewRandomId needs no lock.
std::mt19937_64& ThreadRandom() {
  thread_local std::mt19937_64 engine = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(),
                       device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return engine;
}

}  // namespace

Result<CenterId> CenterId::Parse(std::string_view text) {
  const std::string_view problem = CenterIdProblem(text);
  if (!problem.empty()) return InvalidArgument(std::string(problem));
  return CenterId(std::string(text));
}

bool IsValidCenterId(std::string_view text) { return CenterIdProblem(text).empty(); }

std::string NewRandomId(std::string_view prefix) {
  static constexpr char kCrockford[] = "0123456789abcdefghjkmnpqrstvwxyz";
  std::mt19937_64& engine = ThreadRandom();
  const uint64_t high = engine();
  const uint64_t low = engine();
  std::string id(prefix);
  id += '_';
  // 26 digits of 5 bits cover 130 bits; the top digit carries only the 3 highest bits.
  for (int i = 25; i >= 0; --i) {
    const int shift = i * 5;
    uint64_t digit = 0;
    if (shift >= 64) {
      digit = high >> (shift - 64);
    } else if (shift > 59) {
      digit = (low >> shift) | (high << (64 - shift));
    } else {
      digit = low >> shift;
    }
    id += kCrockford[digit & 31];
  }
  return id;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace edwc::core
