// Identifiers. A CenterId names a computing center across the federation and appears in
// certificates (SAN URI edwc://center/<id>), URLs and ledger keys, so its syntax is
// strict: 1-63 chars of [a-z0-9-], starting with a letter, not ending with '-'.
// Request-scoped ids (jobs, holds) are random, prefixed by kind: "job_5f3c...".
#pragma once

#include <compare>
#include <string>
#include <string_view>

#include "core/status.h"

namespace edwc::core {

class CenterId {
 public:
  static Result<CenterId> Parse(std::string_view text);
  const std::string& str() const { return id_; }
  auto operator<=>(const CenterId&) const = default;

 private:
  explicit CenterId(std::string id) : id_(std::move(id)) {}
  std::string id_;
};

// True when `text` is a valid CenterId.
bool IsValidCenterId(std::string_view text);

// "<prefix>_" + 26 chars of Crockford base32 from 128 random bits. Thread-safe.
std::string NewRandomId(std::string_view prefix);

// Lowercase hex of bytes.
std::string HexEncode(std::string_view bytes);

}  // namespace edwc::core
