// Advert signing and verification with certificates made at test time: a good advert
// verifies; a changed field is tampered; another center's certificate, another CA's
// certificate, an unsigned advert are forged; an expired certificate is expired; a
// revoked center is revoked; and the certificate cache never skips the signature.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <iterator>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "gateway/advert_crypto.h"
#include "gateway/certs.h"
#include "gateway/openssl_ptr.h"
#include "tests/support/test_support.h"

namespace edwc::gateway {
namespace {

using federation::CapacityAdvert;
using federation::RejectReason;

const core::Time kNow = core::Time(core::Duration(1'800'000'000'000));  // 2027-01-15

CapacityAdvert SampleAdvert(const std::string& center) {
  CapacityAdvert a;
  a.center = center;
  a.peer_url = "https://127.0.0.1:7401";
  a.epoch = 3;
  a.seq = 17;
  a.issued_at = kNow;
  a.ttl = std::chrono::seconds(60);
  a.name = "Zhongwei Computing Center";
  a.hub = "ningxia";
  a.city = "Zhongwei";
  a.zone = "cn-northwest";
  a.lat_microdeg = 37'500'000;
  a.lon_microdeg = 105'190'000;
  a.models = {
      {"ascend-910b", 64, 40, {core::Money::Fen(900), {{22 * 60, 6 * 60, core::Money::Fen(630)}}}},
      {"h800", 16, 8, {core::Money::Fen(2000), {}}}};
  a.egress_per_gb = core::Money::Fen(50);
  a.links = {{"qingyang", 100'000, 12}};
  a.green_share_permille = 620;
  a.pue_milli = 1180;
  a.free_fp16_dense_tflops = 40 * 376 + 8 * 990;
  a.total_fp16_dense_tflops = 64 * 376 + 16 * 990;
  return a;
}

class AdvertCryptoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alpha_ = testing::MakeTestPki(dir_.path(), "alpha");
    beta_ = testing::MakeTestPki(dir_.path(), "beta");
    // Same center id as a member, issued by a CA the federation does not trust.
    rogue_ = testing::MakeTestPki(dir_.Sub("rogue"), "alpha");
    auto verifier = CaAdvertVerifier::Create(alpha_.ca_file, [this](std::string_view c) {
      std::lock_guard lock(mu_);
      return revoked_.count(std::string(c)) > 0;
    });
    ASSERT_TRUE(verifier.ok()) << verifier.status().ToString();
    verifier_ = std::move(verifier).value();
  }

  std::unique_ptr<federation::AdvertSigner> Signer(const testing::TestPki& pki) {
    auto signer = MakeAdvertSigner(pki.cert_file, pki.key_file);
    EXPECT_TRUE(signer.ok()) << signer.status().ToString();
    return signer.ok() ? std::move(signer).value() : nullptr;
  }

  CapacityAdvert Signed(const std::string& center, const testing::TestPki& pki) {
    CapacityAdvert a = SampleAdvert(center);
    auto signer = Signer(pki);
    EXPECT_TRUE(federation::SignAdvert(*signer, a).ok());
    return a;
  }

  // The reason of a refusal, or nullopt when the advert verifies.
  std::optional<RejectReason> Check(const CapacityAdvert& a, core::Time now = kNow) {
    RejectReason reason = RejectReason::kMalformed;
    core::Status st = verifier_->Verify(a, now, &reason);
    if (st.ok()) return std::nullopt;
    last_message_ = st.message();
    return reason;
  }

  testing::TempDir dir_;
  testing::TestPki alpha_, beta_, rogue_;
  std::unique_ptr<CaAdvertVerifier> verifier_;
  std::mutex mu_;
  std::set<std::string> revoked_;  // GUARDED_BY(mu_)
  std::string last_message_;
};

TEST_F(AdvertCryptoTest, SignedAdvertVerifies) {
  auto signer = Signer(alpha_);
  // The signer carries the leaf alone, not the chain.
  EXPECT_EQ(signer->certificate_pem().find("BEGIN CERTIFICATE"),
            signer->certificate_pem().rfind("BEGIN CERTIFICATE"));
  auto id = CenterIdFromCertificatePem(signer->certificate_pem());
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "alpha");
  CapacityAdvert a = Signed("alpha", alpha_);
  EXPECT_FALSE(a.signature.empty());
  EXPECT_EQ(Check(a), std::nullopt) << last_message_;
  // Through the interface the gossip code uses, too.
  auto plain = MakeAdvertVerifier(alpha_.ca_file, nullptr);
  ASSERT_TRUE(plain.ok());
  RejectReason reason;
  EXPECT_TRUE((*plain)->Verify(a, kNow, &reason).ok());
}

TEST_F(AdvertCryptoTest, AnyChangedFieldIsTampered) {
  const CapacityAdvert good = Signed("alpha", alpha_);
  std::vector<std::function<void(CapacityAdvert&)>> edits = {
      [](CapacityAdvert& a) { a.seq++; },
      [](CapacityAdvert& a) { a.models[1].free = 16; },
      [](CapacityAdvert& a) { a.models[0].price.windows[0].per_device_hour = core::Money::Fen(1); },
      [](CapacityAdvert& a) { a.peer_url = "https://203.0.113.9:7401"; },
      [](CapacityAdvert& a) { a.ttl = std::chrono::hours(24); },
      [](CapacityAdvert& a) { a.signature[a.signature.size() / 2] ^= 0x01; },
      [](CapacityAdvert& a) { a.signature.pop_back(); },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    CapacityAdvert a = good;
    edits[i](a);
    EXPECT_EQ(Check(a), RejectReason::kTampered) << "edit " << i << ": " << last_message_;
  }
}

TEST_F(AdvertCryptoTest, AdvertForOneCenterSignedByAnotherIsForged) {
  // beta signs an advert claiming to be alpha, with its own (valid) certificate.
  CapacityAdvert a = Signed("alpha", beta_);
  EXPECT_EQ(Check(a), RejectReason::kForged);
  EXPECT_NE(last_message_.find("beta"), std::string::npos) << last_message_;
}

TEST_F(AdvertCryptoTest, CertificateFromAnotherCaIsForged) {
  CapacityAdvert a = Signed("alpha", rogue_);
  EXPECT_EQ(Check(a), RejectReason::kForged) << last_message_;
}

TEST_F(AdvertCryptoTest, UnsignedOrCertificatelessAdvertIsForged) {
  CapacityAdvert a = Signed("alpha", alpha_);
  CapacityAdvert unsigned_advert = a;
  unsigned_advert.signature.clear();
  EXPECT_EQ(Check(unsigned_advert), RejectReason::kForged);
  CapacityAdvert no_cert = a;
  no_cert.certificate_pem.clear();
  EXPECT_EQ(Check(no_cert), RejectReason::kForged);
  CapacityAdvert garbage = a;
  garbage.certificate_pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  EXPECT_EQ(Check(garbage), RejectReason::kMalformed);
}

// Chosen: an advert under an expired certificate is kExpired (the certificate is genuine;
// the advert is refused for time, as one whose TTL has passed).
TEST_F(AdvertCryptoTest, ExpiredCertificateIsExpired) {
  const std::string out = dir_.Sub("stale");
  testing::IssueExpiredCenterCert(dir_.Sub("ca"), "gamma", out);
  CapacityAdvert a = SampleAdvert("gamma");
  auto signer = MakeAdvertSigner(out + "/chain.pem", out + "/center.key");
  ASSERT_TRUE(signer.ok());
  ASSERT_TRUE(federation::SignAdvert(**signer, a).ok());
  const core::Time now = core::Time(std::chrono::duration_cast<core::Duration>(
      std::chrono::system_clock::now().time_since_epoch()));
  EXPECT_EQ(Check(a, now), RejectReason::kExpired) << last_message_;
  EXPECT_NE(last_message_.find("expired"), std::string::npos) << last_message_;
}

TEST_F(AdvertCryptoTest, CachedCertificateStillChecksTime) {
  CapacityAdvert a = Signed("alpha", alpha_);
  ASSERT_EQ(Check(a), std::nullopt);
  // Test certificates are valid for 397 days: two years on, the cached entry has expired.
  EXPECT_EQ(Check(a, kNow + std::chrono::hours(24 * 730)), RejectReason::kExpired);
  EXPECT_GE(verifier_->cache_hits(), 1u);
}

TEST_F(AdvertCryptoTest, RevokedCenterIsRevoked) {
  CapacityAdvert a = Signed("alpha", alpha_);
  ASSERT_EQ(Check(a), std::nullopt);
  {
    std::lock_guard lock(mu_);
    revoked_.insert("alpha");
  }
  EXPECT_EQ(Check(a), RejectReason::kRevoked);  // from the cache too: revocation is not cached
  EXPECT_EQ(Check(Signed("beta", beta_)), std::nullopt);
}

TEST_F(AdvertCryptoTest, CacheHitStillChecksTheSignature) {
  CapacityAdvert a = Signed("alpha", alpha_);
  ASSERT_EQ(Check(a), std::nullopt);
  EXPECT_EQ(verifier_->cache_hits(), 0u);
  EXPECT_EQ(verifier_->cache_size(), 1u);
  CapacityAdvert tampered = a;
  tampered.models[0].free = 0;
  EXPECT_EQ(Check(tampered), RejectReason::kTampered);
  EXPECT_EQ(verifier_->cache_hits(), 1u);
  CapacityAdvert claims_beta = a;  // alpha's certificate, claimed for beta: from the cache
  claims_beta.center = "beta";
  EXPECT_EQ(Check(claims_beta), RejectReason::kForged);
  EXPECT_EQ(verifier_->cache_hits(), 2u);
  EXPECT_EQ(Check(a), std::nullopt);
  EXPECT_EQ(verifier_->cache_size(), 1u);
}

TEST_F(AdvertCryptoTest, CacheIsBounded) {
  auto small = CaAdvertVerifier::Create(alpha_.ca_file, nullptr, /*cache_capacity=*/2);
  ASSERT_TRUE(small.ok());
  std::vector<CapacityAdvert> adverts;
  for (const char* center : {"c1", "c2", "c3"}) {
    adverts.push_back(Signed(center, testing::MakeTestPki(dir_.path(), center)));
  }
  RejectReason reason;
  for (const auto& a : adverts) EXPECT_TRUE((*small)->Verify(a, kNow, &reason).ok());
  EXPECT_EQ((*small)->cache_size(), 2u);
  for (const auto& a : adverts) EXPECT_TRUE((*small)->Verify(a, kNow, &reason).ok());
}

TEST_F(AdvertCryptoTest, ConcurrentVerificationsAgree) {
  const CapacityAdvert good = Signed("alpha", alpha_);
  CapacityAdvert bad = good;
  bad.seq++;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        RejectReason reason;
        if (!verifier_->Verify(good, kNow, &reason).ok()) wrong++;
        if (verifier_->Verify(bad, kNow, &reason).ok() || reason != RejectReason::kTampered) {
          wrong++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(AdvertCryptoTest, SignerRefusesAKeyOfAnotherCertificate) {
  auto signer = MakeAdvertSigner(alpha_.cert_file, beta_.key_file);
  EXPECT_FALSE(signer.ok());
  EXPECT_EQ(signer.status().code(), core::Code::kInvalidArgument);
  EXPECT_FALSE(MakeAdvertSigner(dir_.Sub("missing.pem"), alpha_.key_file).ok());
}

}  // namespace
}  // namespace edwc::gateway
