// Authenticator: bearer tokens with roles. Config stores only the SHA-256 of each token;
// a request's token is hashed and looked up. Immutable after construction; thread-safe.
#pragma once

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
  std::unordered_map<std::string, Principal> by_hash_;  // sha256 hex -> principal
};

}  // namespace edwc::gateway
