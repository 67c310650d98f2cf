// Fake signing and verification for federation tests and the simulator: the
// "certificate" is "cert:<center>", the "signature" is "sig:" + FNV-1a 64 of the
// canonical bytes, folded to 32 bits (short strings keep the simulator fast). No security, but
// every rule of the real verifier is there: a wrong certificate is forged, a changed field is
// tampered, a listed center is revoked.
#pragma once

#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>

#include "federation/advert.h"

namespace edwc::federation::testing {

inline std::string FakeChecksum(std::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (char c : bytes) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ull;
  }
  char buf[9];
  std::snprintf(buf, sizeof(buf), "%08x", static_cast<unsigned>((h >> 32) ^ h));
  return buf;
}

class FakeSigner final : public AdvertSigner {
 public:
  explicit FakeSigner(std::string center) : cert_("cert:" + center) {}
  const std::string& certificate_pem() const override { return cert_; }
  core::Result<std::string> Sign(std::string_view bytes) const override {
    return "sig:" + FakeChecksum(bytes);
  }

 private:
  std::string cert_;
};

class FakeVerifier final : public AdvertVerifier {
 public:
  core::Status Verify(const CapacityAdvert& advert, core::Time /*now*/,
                      RejectReason* reason) const override {
    if (advert.certificate_pem != "cert:" + advert.center) {
      *reason = RejectReason::kForged;
      return core::Status(core::Code::kPermissionDenied, "certificate is not the center's");
    }
    if (revoked.count(advert.center) > 0) {
      *reason = RejectReason::kRevoked;
      return core::Status(core::Code::kPermissionDenied, "center is revoked");
    }
    if (advert.signature != "sig:" + FakeChecksum(CanonicalBytes(advert))) {
      *reason = RejectReason::kTampered;
      return core::Status(core::Code::kPermissionDenied, "signature does not match");
    }
    return core::Status::Ok();
  }
  std::set<std::string, std::less<>> revoked;
};

}  // namespace edwc::federation::testing
