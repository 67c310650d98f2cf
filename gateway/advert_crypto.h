// Advert signing and verification with the federation's X.509 material (OpenSSL 3):
// the implementations of federation::AdvertSigner and federation::AdvertVerifier.
//
// Signer: ECDSA P-256 with SHA-256 (EVP_DigestSign) under this center's key; the
// signature is the DER-encoded ECDSA value; certificate_pem is the leaf certificate alone.
//
// Verifier, in this order (the first failure decides the reason):
//   1. certificate_pem parses (kMalformed otherwise; a missing certificate or signature
//      is kForged: an unsigned advert proves nothing about who sent it);
//   2. it chains to the federation CA at `now` (kForged), and every certificate of the
//      chain is within its validity period at `now` (kExpired otherwise: an advert
//      signed under an expired or not yet valid certificate is refused as expired);
//   3. its SAN URI id edwc://center/<id> equals advert.center (kForged);
//   4. the center is not revoked (kRevoked; asked at every call, never cached);
//   5. the signature over federation::CanonicalBytes(advert) verifies (kTampered).
// Steps 1-3 are cached per certificate (by the SHA-256 of the PEM, bounded, oldest
// evicted first), since the same certificate arrives with every advert of a center; a
// cache hit still checks the validity window at `now`, revocation and the signature.
//
// Thread-safety: both classes are thread-safe; the factories read files (blocking).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"
#include "federation/advert.h"

namespace edwc::gateway {

// `cert_file` is the center's certificate or chain (leaf first), `key_file` its EC P-256
// private key. kInvalidArgument when unreadable, not P-256 or not matching.
core::Result<std::unique_ptr<federation::AdvertSigner>> MakeAdvertSigner(
    const std::string& cert_file, const std::string& key_file);
// The same from PEM already read (gateway/certs.h: CenterTls); `cert_file` and `key_file`
// only name the sources in errors.
core::Result<std::unique_ptr<federation::AdvertSigner>> MakeAdvertSignerFromPem(
    std::string_view chain_pem, std::string_view key_pem, const std::string& cert_file,
    const std::string& key_file);

// `is_revoked(center)` is called for every advert that passes the certificate checks; it
// must be thread-safe and must not call back into the verifier.
using RevocationCheck = std::function<bool(std::string_view center)>;

class CaAdvertVerifier final : public federation::AdvertVerifier {
 public:
  static constexpr size_t kDefaultCacheCapacity = 1024;

  // `ca_file` holds the federation CA certificate(s), the only trust anchors.
  static core::Result<std::unique_ptr<CaAdvertVerifier>> Create(
      const std::string& ca_file, RevocationCheck is_revoked,
      size_t cache_capacity = kDefaultCacheCapacity);
  ~CaAdvertVerifier() override;

  // Trust anchors parsed ahead of SetTrustAnchors, so that a reload can check all of its
  // material before it changes anything. `ca_pem` must hold only CA certificates; `ca_file`
  // names it in errors.
  struct TrustAnchors;
  static core::Result<std::shared_ptr<const TrustAnchors>> ParseTrustAnchors(
      std::string_view ca_pem, const std::string& ca_file);
  // Verifies against `anchors` from now on (a rotated federation CA, or a bundle of the
  // old and the new one) and forgets every certificate checked against the old ones.
  void SetTrustAnchors(std::shared_ptr<const TrustAnchors> anchors);

  core::Status Verify(const federation::CapacityAdvert& advert, core::Time now,
                      federation::RejectReason* reason) const override;

  // The same checks for any signed bytes (settlements, statements): `signature` (raw DER)
  // over `bytes` under certificate `pem`, which must be `center`'s. `reason` may be null.
  core::Status VerifySignature(std::string_view center, std::string_view pem,
                               std::string_view bytes, std::string_view signature, core::Time now,
                               federation::RejectReason* reason = nullptr) const;

  // For tests: verifications that found the certificate already checked, and entries.
  uint64_t cache_hits() const;
  size_t cache_size() const;

 private:
  struct Impl;
  explicit CaAdvertVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

core::Result<std::unique_ptr<federation::AdvertVerifier>> MakeAdvertVerifier(
    const std::string& ca_file, RevocationCheck is_revoked);

}  // namespace edwc::gateway
