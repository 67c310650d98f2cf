#include "gateway/auth.h"

#include <openssl/crypto.h>

#include <mutex>

#include "gateway/certs.h"

namespace edwc::gateway {

bool Authenticator::ConstantTimeEqual::operator()(std::string_view a, std::string_view b) const {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Authenticator::Table::Table(const std::vector<config::TokenEntry>& tokens) {
  for (const auto& t : tokens) by_hash.emplace(t.sha256, Principal{t.name, t.role});
}

Authenticator::Authenticator(const std::vector<config::TokenEntry>& tokens) {
  tables_.push_back(std::make_unique<const Table>(tokens));
  current_.store(tables_.back().get());
}

void Authenticator::SetTokens(const std::vector<config::TokenEntry>& tokens) {
  auto table = std::make_unique<const Table>(tokens);
  std::lock_guard lock(tables_mu_);
  current_.store(table.get());
  tables_.push_back(std::move(table));
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
  const Table& table = *current_.load();
  {
    std::shared_lock lock(table.verified_mu);
    if (auto hit = table.verified.find(token); hit != table.verified.end()) return hit->second;
  }
  auto it = table.by_hash.find(Sha256Hex(token));
  if (it == table.by_hash.end()) {
    return core::Status(core::Code::kUnauthenticated, "invalid bearer token");
  }
  std::unique_lock lock(table.verified_mu);
  table.verified.emplace(std::string(token), &it->second);
  return &it->second;
}

}  // namespace edwc::gateway
