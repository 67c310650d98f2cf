// fuzz_make_seeds CORPUS_DIR: writes the seeds only the code itself can make into
// CORPUS_DIR/<target>/ (named "gen-*", overwritten on every run): adverts and settlement
// offers really signed by "wuhu" (fuzz/testdata), and the canonical JSON of every record
// the json_bodies target decodes. `scripts/fuzz seeds` runs it; the other seeds (request
// bodies from the docs and tests, configs, HTTP requests) are written by hand.
#include <boost/json.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/dataset.h"
#include "federation/advert.h"
#include "federation/gossip.h"
#include "federation/holds.h"
#include "federation/job_router.h"
#include "federation/settlement.h"
#include "federation/transfer.h"
#include "fuzz/fuzz_support.h"
#include "gateway/advert_crypto.h"
#include "gateway/certs.h"

namespace edwc::fuzz {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace fed = federation;
using std::chrono::minutes;

fs::path root;

void Write(const std::string& target, const std::string& name, const std::string& bytes) {
  fs::create_directories(root / target);
  std::ofstream(root / target / ("gen-" + name), std::ios::binary) << bytes;
}
void WriteJson(char tag, const std::string& name, const json::value& v) {
  Write("json_bodies", name, std::string(1, tag) + json::serialize(v));
}

const fed::AdvertSigner& Signer() {
  static const auto signer = [] {
    auto s = gateway::MakeAdvertSignerFromPem(ReadTestdata("wuhu.pem"), ReadTestdata("wuhu.key"),
                                              "wuhu.pem", "wuhu.key");
    EDWC_FUZZ_CHECK(s.ok());
    return std::move(s).value();
  }();
  return *signer;
}

fed::CapacityAdvert Advert(uint64_t seq) {
  fed::CapacityAdvert a;
  a.center = "wuhu";
  a.peer_url = "https://wuhu.example:7443";
  a.epoch = 3;
  a.seq = seq;
  a.issued_at = kNow - minutes(1);
  a.ttl = minutes(10);
  a.name = "Wuhu AI Computing Center";
  a.hub = "yangtze-delta";
  a.city = "Wuhu";
  a.zone = "yangtze-delta";
  a.lat_microdeg = 31'330'000;
  a.lon_microdeg = 118'380'000;
  fed::ModelCapacityAdvert h800{"h800", 64, 24, Firm().schedule};
  fed::ModelCapacityAdvert ascend{"ascend-910b", 128, 100, {core::Money::Fen(900), {}}};
  a.models = {ascend, h800};
  a.egress_per_gb = core::Money::Fen(80);
  a.surge = {800, 500};
  a.links = {{"beijing", 10'000, 18}, {"shanghai", 40'000, 6}};
  a.green_share_permille = 420;
  a.pue_milli = 1250;
  a.free_fp16_dense_tflops = 24 * 989;
  a.total_fp16_dense_tflops = 64 * 989;
  a.certificate_pem = Signer().certificate_pem();
  a.signature = *Signer().Sign(fed::CanonicalBytes(a));
  EDWC_FUZZ_CHECK(fed::ValidateAdvert(a).ok());
  return a;
}

fed::Settlement Offer(fed::SettlementBody b, uint64_t seq, const std::string& prev) {
  b.seq = seq;
  b.prev_hash = prev;
  b.issued_at = b.period_end + minutes(1);
  fed::Settlement s;
  s.hash = fed::BodyHash(b);
  s.payee_cert = gateway::Sha256Hex(Signer().certificate_pem());
  s.payee_sig = fed::Base64Encode(*Signer().Sign(fed::CanonicalBytes(b)));
  s.body = std::move(b);
  s.updated_at = s.body.issued_at;
  return s;
}

void WriteOffers(const std::string& name, const std::vector<fed::Settlement>& offers) {
  json::array list;
  for (const auto& s : offers) list.push_back(fed::ToJson(s));
  Write("settlement_offer", name,
        json::serialize(json::object{{"payee_cert_pem", Signer().certificate_pem()},
                                     {"settlements", std::move(list)}}));
}

void Main() {
  // Adverts and gossip.
  const fed::CapacityAdvert advert = Advert(7);
  // The seeds must pass, or the target never reaches the checks after the signature.
  auto verifier = gateway::CaAdvertVerifier::Create(TestdataPath("ca.pem"),
                                                    [](std::string_view) { return false; });
  fed::RejectReason reason;
  EDWC_FUZZ_CHECK(verifier.ok() && (*verifier)->Verify(advert, kNow, &reason).ok());
  Write("advert_verify", "wuhu.json", json::serialize(fed::ToJson(advert)));
  fed::CapacityAdvert bare = Advert(8);
  bare.links.clear();
  bare.models.resize(1);
  bare.signature = *Signer().Sign(fed::CanonicalBytes(bare));
  Write("advert_verify", "wuhu-bare.json", json::serialize(fed::ToJson(bare)));
  WriteJson('a', "advert.json", fed::ToJson(advert));
  fed::GossipMessage push{fed::GossipMessage::Kind::kPush, {advert, bare}, {}};
  WriteJson('g', "gossip-push.json", fed::ToJson(push));
  fed::GossipMessage digest{
      fed::GossipMessage::Kind::kDigest, {}, {{"wuhu", 3, 7}, {"beijing", 1, 2}}};
  WriteJson('g', "gossip-digest.json", fed::ToJson(digest));

  // Settlement offers: a compute record, then an egress record, chained.
  const fed::SettlementBody compute = *fed::ComputeSettlement(PayeeHold(), kPayee);
  const fed::SettlementBody egress = *fed::EgressSettlement(PayeeClaim(), core::Money::Fen(80));
  const fed::Settlement first = Offer(compute, 1, std::string(fed::kGenesisHash));
  const fed::Settlement second = Offer(egress, 2, first.hash);
  WriteOffers("compute-egress.json", {first, second});
  WriteOffers("compute.json", {first});
  fed::SettlementBody dearer = compute;
  dearer.amount = core::Money::Fen(dearer.amount.fen() + 1);
  WriteOffers("compute-disputed.json", {Offer(dearer, 1, std::string(fed::kGenesisHash))});
  WriteJson('s', "settlement.json", fed::ToJson(first));
  WriteJson('b', "settlement-body.json", fed::ToJson(second.body));
  WriteJson('e', "egress-claim.json", fed::ToJson(PayeeClaim()));
  fed::Settlement agreed = first;
  agreed.state = fed::SettlementState::kAgreed;
  for (const auto& d : fed::DigestByDay({agreed}))
    WriteJson('d', "day-digest.json", fed::ToJson(d));

  // Holds, jobs, transfers.
  const fed::HoldRecord hold = PayeeHold();
  fed::HoldRequest request{hold.hold_id, hold.job_id, hold.terms, std::chrono::seconds(30)};
  request.terms.command = {"python3", "train.py", "--epochs", "3"};
  request.terms.env = {{"NCCL_DEBUG", "WARN"}};
  request.terms.inputs = {{"imagenet", "beijing", std::string(64, 'a'), 2'500'000'000}};
  WriteJson('h', "hold-request.json", fed::ToJson(request));
  WriteJson('r', "hold-record.json", fed::ToJson(hold));
  WriteJson('f', "firm-terms.json", fed::ToJson(hold.firm));
  WriteJson('u', "hold-usage.json", fed::ToJson(*hold.usage));
  WriteJson('J', "job-record.json", fed::ToJson(PayerJob()));
  const fed::TransferRecord transfer = PayerTransfer();
  WriteJson('p', "transfer-plan.json", fed::ToJson(transfer.plan));
  WriteJson('t', "transfer-record.json", fed::ToJson(transfer));
  core::DatasetManifest m;
  m.name = "imagenet";
  m.size = 10;
  m.chunk_size = core::kMinChunkSize;
  m.chunk_sha256 = {std::string(64, 'b')};
  m.sha256 = std::string(64, 'c');
  m.zone = "yangtze-delta";
  m.tags = {"public"};
  m.center = "wuhu";
  m.created_at = kT0;
  WriteJson('m', "manifest.json", core::ToJson(m));
}

}  // namespace
}  // namespace edwc::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
    return 2;
  }
  edwc::fuzz::root = argv[1];
  edwc::fuzz::Main();
  return 0;
}
