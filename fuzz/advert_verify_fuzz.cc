// Advert verification (gateway/advert_crypto.h) as the peer listener applies it to every
// advert it receives: decode the JSON (federation::AdvertFromJson), then check the
// certificate chain to the federation CA, the SAN id, revocation and the signature.
// fuzz/testdata holds the test CA and the certificate of "wuhu"; the seeds are adverts
// wuhu really signed (fuzz_make_seeds), so mutations start from the accepting path.
//
// Checked beyond crashes: an accepted advert is valid (ValidateAdvert), names the center
// of its certificate, and still verifies after the JSON round trip every relay applies.
// The cache is kept tiny so that eviction is exercised too.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/json.h"
#include "federation/advert.h"
#include "fuzz/fuzz_support.h"
#include "gateway/advert_crypto.h"
#include "gateway/certs.h"

namespace {

const edwc::gateway::CaAdvertVerifier& Verifier() {
  static const auto verifier = [] {
    auto v = edwc::gateway::CaAdvertVerifier::Create(
        edwc::fuzz::TestdataPath("ca.pem"),
        [](std::string_view center) { return center == "revoked"; }, /*cache_capacity=*/2);
    EDWC_FUZZ_CHECK(v.ok());
    return std::move(v).value();
  }();
  return *verifier;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fed = edwc::federation;
  const auto& verifier = Verifier();
  auto value = edwc::core::ParseJson(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!value.ok()) return 0;
  auto advert = fed::AdvertFromJson(*value);
  if (!advert.ok()) return 0;
  fed::RejectReason reason = fed::RejectReason::kMalformed;
  if (!verifier.Verify(*advert, edwc::fuzz::kNow, &reason).ok()) return 0;

  EDWC_FUZZ_CHECK(fed::ValidateAdvert(*advert).ok());
  auto id = edwc::gateway::CenterIdFromCertificatePem(advert->certificate_pem);
  EDWC_FUZZ_CHECK(id.ok() && *id == advert->center);
  auto relayed = fed::AdvertFromJson(fed::ToJson(*advert));
  EDWC_FUZZ_CHECK(relayed.ok() && *relayed == *advert);
  EDWC_FUZZ_CHECK(verifier.Verify(*relayed, edwc::fuzz::kNow, &reason).ok());
  return 0;
}
