// Settlement offers as the payer checks them (POST /peer/v1/settlements, the payer side of
// gateway/settlement_service.cc): the payee "wuhu" offers records to the payer "beijing",
// which decodes each, checks the payee's signature against the test CA, the hash, the
// chain (seq without gaps, prev_hash), and recomputes its own version from its own job
// and transfer records (fuzz_support.h), disputing any field that differs.
//
// The storage and the countersignature are left out; the checks run in the service's
// order, except that the recomputation runs on every decoded offer, signed or not: a
// certified payee can sign any body it likes, so that code meets arbitrary content too.
// Checked beyond crashes: the records the payer accepts always form a valid chain
// (federation::CheckChain), and the finance views over them (balances, digests, CSV)
// work.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "federation/advert.h"
#include "federation/settlement.h"
#include "fuzz/fuzz_support.h"
#include "gateway/advert_crypto.h"
#include "gateway/certs.h"

namespace {

namespace json = boost::json;
namespace fed = edwc::federation;
using edwc::core::Status;

constexpr size_t kMaxOffersPerRequest = 256;  // as gateway/settlement_service.cc

const edwc::gateway::CaAdvertVerifier& Verifier() {
  static const auto verifier = [] {
    auto v = edwc::gateway::CaAdvertVerifier::Create(edwc::fuzz::TestdataPath("ca.pem"),
                                                     [](std::string_view) { return false; });
    EDWC_FUZZ_CHECK(v.ok());
    return std::move(v).value();
  }();
  return *verifier;
}

// The payer's own version of `offered`: what it would agree to.
edwc::core::Result<fed::SettlementBody> Expect(const fed::SettlementBody& offered) {
  static const fed::JobRecord job = edwc::fuzz::PayerJob();
  static const fed::TransferRecord transfer = edwc::fuzz::PayerTransfer();
  switch (offered.kind) {
    case fed::SettlementKind::kCompute:
      return fed::ExpectCompute(offered, job);
    case fed::SettlementKind::kEgress:
      return fed::ExpectEgress(offered, transfer, edwc::fuzz::kPayer);
  }
  return Status(edwc::core::Code::kFailedPrecondition, "no check for this kind");
}

void CheckOffers(const std::string& pem, const json::array& offers) {
  const std::string payer(edwc::fuzz::kPayer);
  const std::string cert_id = edwc::gateway::Sha256Hex(pem);
  uint64_t next_seq = 1;
  std::string head_hash(fed::kGenesisHash);
  std::vector<fed::Settlement> accepted;
  for (const json::value& v : offers) {
    auto offered = fed::SettlementFromJson(v);
    if (!offered.ok()) break;
    fed::Settlement answer = std::move(offered).value();
    const fed::SettlementBody& b = answer.body;
    if (b.payee != edwc::fuzz::kPayee || b.payer != payer) break;

    auto raw_sig = fed::Base64Decode(answer.payee_sig);
    const bool signed_ok =
        answer.payee_cert == cert_id && raw_sig &&
        Verifier()
            .VerifySignature(b.payee, pem, fed::CanonicalBytes(b), *raw_sig, edwc::fuzz::kNow)
            .ok();
    // What the payer would answer, signed or not (see the file comment).
    auto mine = Expect(b);
    std::vector<std::string> differ;
    if (mine.ok()) differ = fed::DifferingFields(b, *mine);
    if (mine.ok() && differ.empty()) EDWC_FUZZ_CHECK(*mine == b);

    if (!signed_ok || answer.hash != fed::BodyHash(b) || b.seq != next_seq ||
        b.prev_hash != head_hash) {
      break;
    }
    if (!mine.ok() || !differ.empty()) {
      answer.state = fed::SettlementState::kDisputed;
      answer.dispute_reason = mine.ok() ? "fields differ" : mine.status().message();
      answer.disputed_fields = differ;
      if (mine.ok()) answer.payer_version = *mine;
    } else {
      answer.state = fed::SettlementState::kAgreed;
      answer.payer_cert = cert_id;  // stands in for the payer's own certificate
      answer.payer_sig = fed::Base64Encode(fed::CountersignBytes(b, answer.payee_sig));
    }
    next_seq = b.seq + 1;
    head_hash = answer.hash;
    // What the ledger stores must read back the same.
    auto stored = fed::SettlementFromJson(fed::ToJson(answer));
    EDWC_FUZZ_CHECK(stored.ok() && *stored == answer);
    accepted.push_back(std::move(answer));
  }
  if (accepted.empty()) return;

  const auto chain_break = fed::CheckChain(accepted);
  if (chain_break) std::fprintf(stderr, "chain break: %s\n", chain_break->problem.c_str());
  EDWC_FUZZ_CHECK(!chain_break);
  (void)fed::Balances(accepted, payer);
  for (const auto& d : fed::DigestByDay(accepted)) (void)fed::ToJson(d);
  (void)fed::SettlementsCsv(accepted, payer);
  for (const auto& s : accepted) (void)json::serialize(fed::ToView(s, payer));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto body =
      edwc::core::ParseJsonObject(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!body.ok()) return 0;
  const json::value* pem = body->if_contains("payee_cert_pem");
  const json::value* list = body->if_contains("settlements");
  if (pem == nullptr || !pem->is_string()) return 0;
  if (list == nullptr || !list->is_array() || list->as_array().size() > kMaxOffersPerRequest) {
    return 0;
  }
  CheckOffers(std::string(pem->as_string()), list->as_array());
  return 0;
}
