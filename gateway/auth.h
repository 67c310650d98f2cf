// Authenticator: bearer tokens with roles. Config stores only the SHA-256 of each token;
// a request's token is hashed and looked up. Tokens that verified once are remembered
// (only valid ones, so the cache is bounded by the configured tokens) and later compared
// in constant time, which spares a SHA-256 per request. The tokens can be replaced at
// runtime (config reload): requests authenticated afterwards see only the new ones.
// Thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
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
  // The principal stays valid for the Authenticator's life, even after SetTokens.
  core::Result<const Principal*> Authenticate(std::string_view authorization) const;

  // Replaces the token table at once: later Authenticate calls use `tokens` only (and
  // forget which old tokens verified). Requests already authenticated are unaffected.
  void SetTokens(const std::vector<config::TokenEntry>& tokens);

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

  // One generation of tokens, with its own cache of tokens that verified.
  struct Table {
    explicit Table(const std::vector<config::TokenEntry>& tokens);
    std::unordered_map<std::string, Principal> by_hash;  // sha256 hex -> principal; immutable
    mutable std::shared_mutex verified_mu;
    // token -> principal, for tokens that verified.
    mutable std::unordered_map<std::string, const Principal*, TokenHash, ConstantTimeEqual>
        verified;  // GUARDED_BY(verified_mu)
  };

  std::atomic<const Table*> current_;
  std::mutex tables_mu_;
  // Every table that was ever current. Replaced ones are kept because principals handed
  // out from them may still be in use; reloads are rare and tables small.
  std::vector<std::unique_ptr<const Table>> tables_;  // GUARDED_BY(tables_mu_)
};

}  // namespace edwc::gateway
