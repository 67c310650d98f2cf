// Authenticator: bearer tokens with roles. Config stores only the SHA-256 of each token;
// a request's token is hashed and looked up. Tokens that verified once are remembered
// (only valid ones, so the cache is bounded by the configured tokens) and later compared
// in constant time, which spares a SHA-256 per request. Thread-safe.
#pragma once

#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/center_config.h"
#include "core/status.h"

namespace edwc::gateway {

struct Principal {
  std::string name;
  config::Role role;
};

class Authenticator {
 public:
  explicit Authenticator(const std::vector<config::TokenEntry>& tokens);

  // From an Authorization header value: kUnauthenticated when missing, malformed or
  // unknown. Never says which of those, beyond "missing" versus "invalid".
  core::Result<const Principal*> Authenticate(std::string_view authorization) const;

 private:
  // Equality that takes the same time wherever two equal-length tokens first differ.
  struct ConstantTimeEqual {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const;
  };
  struct TokenHash {
    using is_transparent = void;
    size_t operator()(std::string_view token) const { return std::hash<std::string_view>()(token); }
  };

  std::unordered_map<std::string, Principal> by_hash_;  // sha256 hex -> principal; immutable
  mutable std::shared_mutex verified_mu_;
  // token -> principal, for tokens that verified.
  mutable std::unordered_map<std::string, const Principal*, TokenHash, ConstantTimeEqual>
      verified_;  // GUARDED_BY(verified_mu_)
};

}  // namespace edwc::gateway
