// Every strict JSON decoder behind a request body of the api and peer listeners, and the
// records stored with them. The first byte picks the decoder (a letter below, or any byte
// modulo their number); the rest is the JSON text, parsed with core::ParseJson as the
// handlers do.
//
// Besides "no crash, no UB", it checks the codecs' promise: whatever a decoder accepts,
// its ToJson encodes to something the decoder accepts again, equal to the first result.
// A value that decodes but cannot be stored and read back would break idempotent retries
// and recovery after a restart.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/dataset.h"
#include "core/json.h"
#include "federation/advert.h"
#include "federation/gossip.h"
#include "federation/holds.h"
#include "federation/job_router.h"
#include "federation/placement.h"
#include "federation/settlement.h"
#include "federation/transfer.h"
#include "fuzz/fuzz_support.h"

namespace edwc::fuzz {
namespace {

namespace json = boost::json;
namespace fed = federation;

// Decode, then encode and decode again: the same value.
template <class Decode>
void RoundTrip(const json::value& value, Decode decode) {
  auto first = decode(value);
  if (!first.ok()) return;
  const json::value encoded = fed::ToJson(*first);
  auto second = decode(encoded);
  if (!second.ok()) {
    std::fprintf(stderr, "re-decoding %s: %s\n", json::serialize(encoded).c_str(),
                 second.status().ToString().c_str());
  }
  EDWC_FUZZ_CHECK(second.ok());
  EDWC_FUZZ_CHECK(*second == *first);
}

// Decoders taking an object: a non-object body is refused by their callers first.
template <class Decode>
auto ObjectOnly(Decode decode) {
  return [decode](const json::value& v) -> decltype(decode(json::object())) {
    if (!v.is_object()) return core::Status(core::Code::kInvalidArgument, "not an object");
    return decode(v.as_object());
  };
}

void Quote(const json::value& v) {  // POST /v1/quotes
  RoundTrip(v, ObjectOnly([](const json::object& o) { return fed::PlacementRequestFromJson(o); }));
}
void Job(const json::value& v) {  // POST /v1/jobs: the placement part, the job's own keys allowed
  RoundTrip(v, ObjectOnly([](const json::object& o) {
              return fed::PlacementRequestFromJson(o, {"command", "env", "name", "inputs"});
            }));
}
void Manifest(const json::value& v) {  // GET /peer/v1/datasets/{name}/manifest answers
  if (!v.is_object()) return;
  auto m = core::DatasetManifestFromJson(v.as_object());
  if (!m.ok()) return;
  auto again = core::DatasetManifestFromJson(core::ToJson(*m));
  EDWC_FUZZ_CHECK(again.ok());
  EDWC_FUZZ_CHECK(*again == *m);
}

struct Decoder {
  char tag;
  void (*run)(const json::value&);
};

const Decoder kDecoders[] = {
    {'q', Quote},
    {'j', Job},
    {'h', [](const json::value& v) { RoundTrip(v, fed::HoldRequestFromJson); }},  // peer holds
    {'r', [](const json::value& v) { RoundTrip(v, fed::HoldRecordFromJson); }},   // stored holds
    {'f', [](const json::value& v) { RoundTrip(v, fed::FirmTermsFromJson); }},    // hold answers
    {'u', [](const json::value& v) { RoundTrip(v, fed::HoldUsageFromJson); }},    // job status
    {'J', [](const json::value& v) { RoundTrip(v, fed::JobRecordFromJson); }},    // stored jobs
    {'p', [](const json::value& v) { RoundTrip(v, fed::TransferPlanFromJson); }},
    {'t', [](const json::value& v) { RoundTrip(v, fed::TransferRecordFromJson); }},  // peer
    {'m', Manifest},
    {'s', [](const json::value& v) { RoundTrip(v, fed::SettlementFromJson); }},  // offers
    {'b', [](const json::value& v) { RoundTrip(v, fed::SettlementBodyFromJson); }},
    {'e', [](const json::value& v) { RoundTrip(v, fed::EgressClaimFromJson); }},  // egress
    {'d', [](const json::value& v) { RoundTrip(v, fed::DayDigestFromJson); }},    // reconcile
    {'g', [](const json::value& v) { RoundTrip(v, fed::MessageFromJson); }},      // gossip
    {'a', [](const json::value& v) { RoundTrip(v, fed::AdvertFromJson); }},       // adverts
};

}  // namespace
}  // namespace edwc::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using edwc::fuzz::kDecoders;
  if (size < 1) return 0;
  const auto* decoder = &kDecoders[data[0] % std::size(kDecoders)];
  for (const auto& d : kDecoders) {
    if (d.tag == static_cast<char>(data[0])) decoder = &d;
  }
  auto value =
      edwc::core::ParseJson(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  if (value.ok()) decoder->run(*value);
  return 0;
}
