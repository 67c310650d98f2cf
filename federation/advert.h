// CapacityAdvert: what one center tells the federation about itself, signed by that
// center (DESIGN.md section 5). The newest (epoch, seq) of a center wins everywhere.
//
// The signature covers CanonicalBytes(advert): every field but `signature`, in a fixed
// order and encoding, so any change to any field (including the certificate) breaks it.
// Signing and verification are behind interfaces: gateway/ implements them with the
// center's key and the federation CA (OpenSSL); tests and the simulator use fakes.
// Plain value types; thread-safe as values.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/money.h"
#include "core/price_schedule.h"
#include "core/status.h"
#include "core/time.h"

namespace edwc::federation {

struct ModelCapacityAdvert {
  std::string model;  // catalog id
  int32_t total = 0;
  int32_t free = 0;
  core::PriceSchedule price;  // per device-hour, time-of-use in China Standard Time
  bool operator==(const ModelCapacityAdvert&) const = default;
};

struct LinkAdvert {
  std::string center;          // the other end
  int64_t bandwidth_mbps = 0;  // measured or configured
  int32_t rtt_ms = 0;
  bool operator==(const LinkAdvert&) const = default;
};

struct CapacityAdvert {
  std::string center;    // CenterId; must equal the SAN URI id of `certificate_pem`
  std::string peer_url;  // "https://host:port" of its peer listener
  uint64_t epoch = 0;    // bumped (durably) at every start of the center
  uint64_t seq = 0;      // bumped at every new advert within an epoch
  core::Time issued_at{};
  core::Duration ttl{0};  // expires at issued_at + ttl
  // Identity and location.
  std::string name;
  std::string hub;
  std::string city;
  std::string zone;
  int32_t lat_microdeg = 0;  // degrees x 1e6: integers keep the signed bytes exact
  int32_t lon_microdeg = 0;
  // Capacity and prices.
  std::vector<ModelCapacityAdvert> models;  // sorted by model id
  core::Money egress_per_gb;
  core::SurgeRule surge;             // scarcity pricing over every model's schedule
  std::vector<LinkAdvert> links;     // sorted by center
  int32_t green_share_permille = 0;  // 0..1000 of its power from renewables
  int32_t pue_milli = 0;             // power usage effectiveness x 1000 (1.25 -> 1250)
  // Normalised compute: sum over models of free x dense FP16 TFLOPS (catalog figures),
  // so that centers with different accelerators compare. PFLOPS = this / 1000.
  int64_t free_fp16_dense_tflops = 0;
  int64_t total_fp16_dense_tflops = 0;
  // Provenance.
  std::string certificate_pem;  // the signer's certificate (leaf), for relayed adverts
  std::string signature;        // raw signature bytes over CanonicalBytes()

  core::Time expires_at() const { return issued_at + ttl; }
  bool operator==(const CapacityAdvert&) const = default;
};

// (epoch, seq) of a is newer than b's. REQUIRES: same center.
inline bool IsNewer(const CapacityAdvert& a, const CapacityAdvert& b) {
  return a.epoch != b.epoch ? a.epoch > b.epoch : a.seq > b.seq;
}

// The exact bytes that are signed: a length-prefixed encoding of every field except
// `signature`, in declaration order. Stable across versions of this code for equal values.
std::string CanonicalBytes(const CapacityAdvert& advert);

// Range and order checks shared by AdvertFromJson and Gossip (kMalformed): non-empty
// center, 0 < ttl <= 7 days, counts >= 0, free <= total, lat within +-90e6, lon within +-180e6,
// permille 0..1000, models sorted by id and unique, links sorted by center and unique,
// time-of-use windows in range. The Status names the offending field as JSON does
// ("models[1].free").
core::Status ValidateAdvert(const CapacityAdvert& advert);

// The link `from` advertises to `to` with a positive bandwidth, or null. REQUIRES: links
// sorted by center (ValidateAdvert).
const LinkAdvert* AdvertisedLink(const CapacityAdvert& from, std::string_view to);

// JSON codec for the wire and storage. `signature` and `certificate_pem` travel as
// base64 and PEM text. FromJson checks types, ranges and required fields (not the
// signature: see AdvertVerifier).
boost::json::object ToJson(const CapacityAdvert& advert);
core::Result<CapacityAdvert> AdvertFromJson(const boost::json::value& value);

// Standard base64 (RFC 4648 section 4, with padding), used for `signature` on the wire.
// Decode is strict: nullopt on any character outside the alphabet, bad padding or
// non-zero trailing bits.
std::string Base64Encode(std::string_view bytes);
std::optional<std::string> Base64Decode(std::string_view text);

// Signs with this center's key; thread-safe.
class AdvertSigner {
 public:
  virtual ~AdvertSigner() = default;
  virtual const std::string& certificate_pem() const = 0;
  // Signature over `bytes`; kInternal only if the crypto library fails.
  virtual core::Result<std::string> Sign(std::string_view bytes) const = 0;
};

// Why an advert was refused; each reason is counted in /metrics.
enum class RejectReason {
  kMalformed,  // fields out of range, undecodable
  kForged,     // certificate not from the federation CA, or not this center's
  kTampered,   // signature does not match the content
  kExpired,    // now >= expires_at (or issued too far in the future)
  kStale,      // not newer than what we hold: an old or replayed advert
  kRevoked,    // the center is on the revocation list
};
std::string_view RejectReasonName(RejectReason reason);  // "forged", ...
inline constexpr int kRejectReasonCount = 6;

// Checks certificate (chains to the federation CA, valid at `now`, SAN URI id equals
// advert.center, not revoked) and the signature over CanonicalBytes. Thread-safe.
class AdvertVerifier {
 public:
  virtual ~AdvertVerifier() = default;
  // OK, or a Status whose message explains, with *reason set.
  virtual core::Status Verify(const CapacityAdvert& advert, core::Time now,
                              RejectReason* reason) const = 0;
};

// Fills certificate_pem and signature. The advert's other fields must be final.
core::Status SignAdvert(const AdvertSigner& signer, CapacityAdvert& advert);

}  // namespace edwc::federation
