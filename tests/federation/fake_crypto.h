// Fake signing and verification for federation tests and the simulator: the
// "certificate" is "cert:<center>", the "signature" is "sig:" + FNV-1a 64 of the
// canonical bytes, folded to 32 bits (short strings keep the simulator fast). No security, but
// every rule of the real verifier is there: a wrong certificate is forged, a changed field is
// tampered, a listed center is revoked. With `production_size` both are padded to what the
// real ones weigh on the wire (a ~700-byte PEM leaf, a 72-byte DER ECDSA P-256 signature that
// is 96 base64 characters), so that the simulator's byte counts are realistic.
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

inline constexpr size_t kProductionCertificateBytes = 700;
inline constexpr size_t kProductionSignatureBytes = 72;

inline std::string FakeCertificate(std::string_view center, bool production_size) {
  std::string cert = "cert:" + std::string(center);
  if (production_size) cert.resize(kProductionCertificateBytes, '.');
  return cert;
}

inline std::string FakeSignature(std::string_view bytes, bool production_size) {
  std::string sig = "sig:" + FakeChecksum(bytes);
  if (production_size) sig.resize(kProductionSignatureBytes, '.');
  return sig;
}

class FakeSigner final : public AdvertSigner {
 public:
  explicit FakeSigner(std::string_view center, bool production_size = false)
      : cert_(FakeCertificate(center, production_size)), production_size_(production_size) {}
  const std::string& certificate_pem() const override { return cert_; }
  core::Result<std::string> Sign(std::string_view bytes) const override {
    return FakeSignature(bytes, production_size_);
  }

 private:
  std::string cert_;
  bool production_size_;
};

class FakeVerifier final : public AdvertVerifier {
 public:
  core::Status Verify(const CapacityAdvert& advert, core::Time /*now*/,
                      RejectReason* reason) const override {
    const bool production_size = advert.certificate_pem.size() == kProductionCertificateBytes;
    if (advert.certificate_pem != FakeCertificate(advert.center, production_size)) {
      *reason = RejectReason::kForged;
      return core::Status(core::Code::kPermissionDenied, "certificate is not the center's");
    }
    if (revoked.count(advert.center) > 0) {
      *reason = RejectReason::kRevoked;
      return core::Status(core::Code::kPermissionDenied, "center is revoked");
    }
    if (advert.signature != FakeSignature(CanonicalBytes(advert), production_size)) {
      *reason = RejectReason::kTampered;
      return core::Status(core::Code::kPermissionDenied, "signature does not match");
    }
    return core::Status::Ok();
  }
  std::set<std::string, std::less<>> revoked;
};

}  // namespace edwc::federation::testing
