#include "gateway/advert_crypto.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <climits>
#include <ctime>
#include <deque>
#include <fstream>
#include <limits>
#include <mutex>
#include <sstream>
#include <unordered_map>
#include <vector>

#include "gateway/certs.h"
#include "gateway/openssl_ptr.h"
#include "gateway/pem.h"

namespace edwc::gateway {
namespace {

using federation::RejectReason;
using PkeyPtr = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using MdCtxPtr = OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;

std::string Sha256(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr) != 1) {
    ERR_clear_error();
    return std::string(bytes);  // cannot happen; the PEM itself is then the key
  }
  return std::string(reinterpret_cast<char*>(digest), size);
}

core::Result<time_t> AsTimeT(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return OpenSslError(core::Code::kInvalidArgument, "bad time");
  return timegm(&tm);
}

time_t Seconds(core::Time t) {
  return static_cast<time_t>(
      std::chrono::floor<std::chrono::seconds>(t.time_since_epoch()).count());
}

class KeyAdvertSigner final : public federation::AdvertSigner {
 public:
  KeyAdvertSigner(std::string certificate_pem, PkeyPtr key)
      : certificate_pem_(std::move(certificate_pem)), key_(std::move(key)) {}

  const std::string& certificate_pem() const override { return certificate_pem_; }

  core::Result<std::string> Sign(std::string_view bytes) const override {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    size_t size = 0;
    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &size, data, bytes.size()) != 1) {
      return OpenSslError(core::Code::kInternal, "advert signature");
    }
    std::string signature(size, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, data,
                       bytes.size()) != 1) {
      return OpenSslError(core::Code::kInternal, "advert signature");
    }
    signature.resize(size);
    return signature;
  }

 private:
  const std::string certificate_pem_;
  const PkeyPtr key_;  // EVP_PKEY is safe to share between threads for signing
};

// What is known about a certificate once it has chained to the CA.
struct CheckedCertificate {
  PkeyPtr public_key;
  std::string center;     // from the SAN URI
  time_t not_before = 0;  // the intersection of the chain's validity periods
  time_t not_after = 0;
};
using CheckedPtr = std::shared_ptr<const CheckedCertificate>;

core::Status Reject(RejectReason* out, RejectReason reason, std::string message) {
  if (out != nullptr) *out = reason;
  const core::Code code = reason == RejectReason::kMalformed ? core::Code::kInvalidArgument
                                                             : core::Code::kPermissionDenied;
  return core::Status(code, "advert " + std::string(federation::RejectReasonName(reason)) + ": " +
                                std::move(message));
}

}  // namespace

core::Result<std::unique_ptr<federation::AdvertSigner>> MakeAdvertSigner(
    const std::string& cert_file, const std::string& key_file) {
  EDWC_ASSIGN_OR_RETURN(std::string cert_pem, ReadPemFile(cert_file));
  EDWC_ASSIGN_OR_RETURN(std::string key_pem, ReadPemFile(key_file));
  return MakeAdvertSignerFromPem(cert_pem, key_pem, cert_file, key_file);
}

core::Result<std::unique_ptr<federation::AdvertSigner>> MakeAdvertSignerFromPem(
    std::string_view cert_pem, std::string_view key_pem, const std::string& cert_file,
    const std::string& key_file) {
  auto certs = ParsePemCertificates(cert_pem);
  if (!certs.ok()) return certs.status().WithContext(cert_file);
  X509* leaf = certs->front().get();
  EDWC_ASSIGN_OR_RETURN(BioPtr key_bio, MemoryBio(key_pem));
  PkeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) return OpenSslError(core::Code::kInvalidArgument, key_file + ": bad private key PEM");
  char group[64] = {};
  size_t group_len = 0;
  if (!EVP_PKEY_is_a(key.get(), "EC") ||
      EVP_PKEY_get_group_name(key.get(), group, sizeof group, &group_len) != 1 ||
      std::string_view(group, group_len) != "prime256v1") {
    ERR_clear_error();
    return core::InvalidArgument(key_file + ": advert keys must be EC P-256");
  }
  if (X509_check_private_key(leaf, key.get()) != 1) {
    return OpenSslError(core::Code::kInvalidArgument,
                        key_file + " does not match certificate " + cert_file);
  }
  EDWC_ASSIGN_OR_RETURN(std::string leaf_pem, CertificatePem(leaf));
  return std::unique_ptr<federation::AdvertSigner>(
      new KeyAdvertSigner(std::move(leaf_pem), std::move(key)));
}

struct CaAdvertVerifier::TrustAnchors {
  X509StorePtr store;  // safe for concurrent verifications; never changed once made
};

struct CaAdvertVerifier::Impl {
  RevocationCheck is_revoked;
  size_t capacity = 0;

  mutable std::mutex mu;
  std::shared_ptr<const TrustAnchors> anchors;                // GUARDED_BY(mu)
  uint64_t generation = 0;                                    // GUARDED_BY(mu): anchor swaps
  mutable std::unordered_map<std::string, CheckedPtr> cache;  // GUARDED_BY(mu); by PEM SHA-256
  mutable std::deque<std::string> order;                      // GUARDED_BY(mu); oldest first
  mutable std::atomic<uint64_t> hits{0};

  // Steps 1-3 of the header for a certificate not in the cache, against `anchors`.
  core::Result<CheckedPtr> Check(const TrustAnchors& anchors, std::string_view pem, time_t now,
                                 RejectReason* reason) const;
  CheckedPtr Lookup(const std::string& key) const;
  std::pair<std::shared_ptr<const TrustAnchors>, uint64_t> Anchors() const {
    std::lock_guard lock(mu);
    return {anchors, generation};
  }
  // Caches `checked` unless the anchors it was checked against were replaced meanwhile.
  void Insert(std::string key, CheckedPtr checked, uint64_t checked_generation) const;
};

core::Result<CheckedPtr> CaAdvertVerifier::Impl::Check(const TrustAnchors& anchors,
                                                       std::string_view pem, time_t now,
                                                       RejectReason* reason) const {
  auto certs = ParsePemCertificates(pem);
  if (!certs.ok()) return Reject(reason, RejectReason::kMalformed, certs.status().message());
  X509StackPtr untrusted(sk_X509_new_null());
  if (!untrusted) return OpenSslError(core::Code::kInternal, "sk_X509_new_null");
  for (size_t i = 1; i < certs->size(); ++i) {
    if (sk_X509_push(untrusted.get(), (*certs)[i].get()) == 0) {
      return OpenSslError(core::Code::kInternal, "sk_X509_push");
    }
    (*certs)[i].release();  // owned by `untrusted` now
  }
  X509* leaf = certs->front().get();
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), anchors.store.get(), leaf, untrusted.get()) != 1) {
    return OpenSslError(core::Code::kInternal, "X509_STORE_CTX_init");
  }
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()), now);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    const bool out_of_time =
        err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID;
    return Reject(reason, out_of_time ? RejectReason::kExpired : RejectReason::kForged,
                  std::string("certificate: ") + X509_verify_cert_error_string(err));
  }
  auto checked = std::make_shared<CheckedCertificate>();
  checked->not_before = std::numeric_limits<time_t>::min();
  checked->not_after = std::numeric_limits<time_t>::max();
  STACK_OF(X509)* chain = X509_STORE_CTX_get0_chain(ctx.get());
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* cert = sk_X509_value(chain, i);
    auto nb = AsTimeT(X509_get0_notBefore(cert));
    auto na = AsTimeT(X509_get0_notAfter(cert));
    if (!nb.ok() || !na.ok()) return Reject(reason, RejectReason::kMalformed, "bad validity");
    checked->not_before = std::max(checked->not_before, *nb);
    checked->not_after = std::min(checked->not_after, *na);
  }
  auto center = CenterIdFromCertificatePem(pem);
  if (!center.ok()) {
    return Reject(reason, RejectReason::kForged, "certificate: " + center.status().message());
  }
  checked->center = std::move(center).value();
  checked->public_key.reset(X509_get_pubkey(leaf));
  if (!checked->public_key) return OpenSslError(core::Code::kInternal, "X509_get_pubkey");
  return CheckedPtr(std::move(checked));
}

CheckedPtr CaAdvertVerifier::Impl::Lookup(const std::string& key) const {
  std::lock_guard lock(mu);
  auto it = cache.find(key);
  return it == cache.end() ? nullptr : it->second;
}

void CaAdvertVerifier::Impl::Insert(std::string key, CheckedPtr checked,
                                    uint64_t checked_generation) const {
  std::lock_guard lock(mu);
  if (checked_generation != generation) return;
  if (capacity == 0 || !cache.emplace(key, std::move(checked)).second) return;
  order.push_back(std::move(key));
  while (order.size() > capacity) {
    cache.erase(order.front());
    order.pop_front();
  }
}

CaAdvertVerifier::CaAdvertVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CaAdvertVerifier::~CaAdvertVerifier() = default;

core::Result<std::unique_ptr<CaAdvertVerifier>> CaAdvertVerifier::Create(const std::string& ca_file,
                                                                         RevocationCheck is_revoked,
                                                                         size_t cache_capacity) {
  EDWC_ASSIGN_OR_RETURN(std::string pem, ReadPemFile(ca_file));
  auto impl = std::make_unique<Impl>();
  EDWC_ASSIGN_OR_RETURN(impl->anchors, ParseTrustAnchors(pem, ca_file));
  impl->is_revoked = std::move(is_revoked);
  impl->capacity = cache_capacity;
  return std::unique_ptr<CaAdvertVerifier>(new CaAdvertVerifier(std::move(impl)));
}

core::Result<std::shared_ptr<const CaAdvertVerifier::TrustAnchors>>
CaAdvertVerifier::ParseTrustAnchors(std::string_view ca_pem, const std::string& ca_file) {
  auto certs = ParsePemCertificates(ca_pem);
  if (!certs.ok()) return certs.status().WithContext(ca_file);
  auto anchors = std::make_shared<TrustAnchors>();
  anchors->store.reset(X509_STORE_new());
  if (!anchors->store) return OpenSslError(core::Code::kInternal, "X509_STORE_new");
  for (const X509Ptr& cert : *certs) {
    if (X509_check_ca(cert.get()) == 0) {
      return core::InvalidArgument(ca_file + " holds a certificate that is not a CA");
    }
    if (X509_STORE_add_cert(anchors->store.get(), cert.get()) != 1) {
      return OpenSslError(core::Code::kInvalidArgument, ca_file + ": X509_STORE_add_cert");
    }
  }
  return std::shared_ptr<const TrustAnchors>(std::move(anchors));
}

void CaAdvertVerifier::SetTrustAnchors(std::shared_ptr<const TrustAnchors> anchors) {
  std::lock_guard lock(impl_->mu);
  impl_->anchors = std::move(anchors);
  impl_->generation++;
  // A certificate that chained to the old anchors may not chain to the new ones.
  impl_->cache.clear();
  impl_->order.clear();
}

core::Status CaAdvertVerifier::Verify(const federation::CapacityAdvert& advert, core::Time now,
                                      RejectReason* reason) const {
  return VerifySignature(advert.center, advert.certificate_pem, federation::CanonicalBytes(advert),
                         advert.signature, now, reason);
}

core::Status CaAdvertVerifier::VerifySignature(std::string_view center, std::string_view pem,
                                               std::string_view bytes, std::string_view signature,
                                               core::Time now, RejectReason* reason) const {
  RejectReason ignored;
  if (reason == nullptr) reason = &ignored;
  if (pem.empty()) return Reject(reason, RejectReason::kForged, "no certificate");
  if (signature.empty()) return Reject(reason, RejectReason::kForged, "unsigned");
  const time_t now_s = Seconds(now);
  std::string key = Sha256(pem);
  CheckedPtr checked = impl_->Lookup(key);
  if (checked) {
    impl_->hits++;
    if (now_s < checked->not_before || now_s > checked->not_after) {
      return Reject(reason, RejectReason::kExpired,
                    now_s > checked->not_after ? "certificate: certificate has expired"
                                               : "certificate: certificate is not yet valid");
    }
  } else {
    auto [anchors, generation] = impl_->Anchors();
    auto fresh = impl_->Check(*anchors, pem, now_s, reason);
    if (!fresh.ok()) return fresh.status();
    checked = std::move(fresh).value();
    impl_->Insert(std::move(key), checked, generation);
  }
  if (checked->center != center) {
    return Reject(
        reason, RejectReason::kForged,
        "certificate is for center '" + checked->center + "', not '" + std::string(center) + "'");
  }
  if (impl_->is_revoked && impl_->is_revoked(center)) {
    return Reject(reason, RejectReason::kRevoked,
                  "center '" + std::string(center) + "' is revoked");
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok =
      ctx &&
      EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, checked->public_key.get()) ==
          1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                       bytes.size()) == 1;
  if (!ok) {
    ERR_clear_error();
    return Reject(reason, RejectReason::kTampered, "signature does not match the content");
  }
  return core::Status::Ok();
}

uint64_t CaAdvertVerifier::cache_hits() const { return impl_->hits.load(); }

size_t CaAdvertVerifier::cache_size() const {
  std::lock_guard lock(impl_->mu);
  return impl_->cache.size();
}

core::Result<std::unique_ptr<federation::AdvertVerifier>> MakeAdvertVerifier(
    const std::string& ca_file, RevocationCheck is_revoked) {
  EDWC_ASSIGN_OR_RETURN(std::unique_ptr<CaAdvertVerifier> verifier,
                        CaAdvertVerifier::Create(ca_file, std::move(is_revoked)));
  return std::unique_ptr<federation::AdvertVerifier>(std::move(verifier));
}

}  // namespace edwc::gateway
