#include "gateway/auth.h"

#include "gateway/certs.h"

namespace edwc::gateway {

Authenticator::Authenticator(const std::vector<config::TokenEntry>& tokens) {
  for (const auto& t : tokens) by_hash_.emplace(t.sha256, Principal{t.name, t.role});
}

core::Result<const Principal*> Authenticator::Authenticate(std::string_view authorization) const {
  if (authorization.empty()) {
    return core::Status(core::Code::kUnauthenticated,
                        "missing bearer token: send 'Authorization: Bearer <token>'");
  }
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), authorization.begin(),
                  [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return core::Status(core::Code::kUnauthenticated,
                        "malformed Authorization header: expected 'Bearer <token>'");
  }
  auto it = by_hash_.find(Sha256Hex(authorization.substr(kScheme.size())));
  if (it == by_hash_.end()) {
    return core::Status(core::Code::kUnauthenticated, "invalid bearer token");
  }
  return &it->second;
}

}  // namespace edwc::gateway
