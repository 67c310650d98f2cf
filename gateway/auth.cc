#include "gateway/auth.h"

#include <openssl/crypto.h>

#include <mutex>

#include "gateway/certs.h"

namespace edwc::gateway {

bool Authenticator::ConstantTimeEqual::operator()(std::string_view a, std::string_view b) const {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

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
  const std::string_view token = authorization.substr(kScheme.size());
  {
    std::shared_lock lock(verified_mu_);
    if (auto hit = verified_.find(token); hit != verified_.end()) return hit->second;
  }
  auto it = by_hash_.find(Sha256Hex(token));
  if (it == by_hash_.end()) {
    return core::Status(core::Code::kUnauthenticated, "invalid bearer token");
  }
  std::unique_lock lock(verified_mu_);
  verified_.emplace(std::string(token), &it->second);
  return &it->second;
}

}  // namespace edwc::gateway
