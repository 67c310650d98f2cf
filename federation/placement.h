// Placement: where in the federation a job should run, and what it would cost there
// (DESIGN.md section 5). A pure, deterministic function of a request, the federation
// view and the time: no I/O, no clock, no randomness, and the same answer for the same
// inputs whatever the order of the view. Thread-safe (no shared state).
//
// Candidates are (center, model) pairs: the named model, or every catalog model of the
// center that meets the minimum FP16 TFLOPS and memory per device. Each candidate is
// checked in this order: center dead, zone not allowed, no such model, too few free, not
// green enough, misses the deadline, over the price cap. A center none of whose
// candidates passes gets one Exclusion, with the reason of the candidate that got
// furthest down that list; every passing candidate becomes a Quote.
//
// Costs follow pricing/ (one rounding per amount): compute = ComputeCost over
// [start, finish) with the center's time-of-use schedule and its surge; transfer = egress
// of the dataset's home center. Times: start = max(now, earliest_start) + transfer time,
// finish = start + duration.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/money.h"
#include "core/status.h"
#include "core/time.h"
#include "federation/gossip.h"

namespace edwc::federation {

enum class Objective { kCost, kTime, kGreen, kWeighted };
std::string_view ObjectiveName(Objective objective);  // "cost", "time", "green", "weighted"

// Weights of the kWeighted objective; non-negative, not all zero.
struct Weights {
  int32_t cost = 1;
  int32_t time = 0;
  int32_t green = 0;
  bool operator==(const Weights&) const = default;
};

// Where the job's input lives; moved to the chosen center before the run.
struct DatasetRef {
  std::string home_center;
  uint64_t bytes = 0;
  bool operator==(const DatasetRef&) const = default;
};

struct PlacementRequest {
  std::optional<std::string> model;          // a catalog id, or else the minimum spec:
  int32_t min_fp16_tflops = 0;               // dense FP16 TFLOPS per device
  int32_t min_memory_gib = 0;                // per device
  int32_t count = 1;                         // devices
  core::Duration duration{};                 // run time
  std::optional<core::Time> earliest_start;  // default: now
  std::optional<DatasetRef> dataset;
  std::optional<core::Time> deadline;    // finish by (inclusive)
  std::optional<core::Money> price_cap;  // total cost at most (inclusive)
  std::vector<std::string> zones;        // allowed residency zones; empty = any
  int32_t min_green_permille = 0;        // 0..1000
  Objective objective = Objective::kCost;
  Weights weights;  // used by kWeighted only
  bool operator==(const PlacementRequest&) const = default;
};

// Parses the JSON body of POST /v1/quotes (also embedded in POST /v1/jobs):
//   model              catalog id (string), or else one or both of
//   min_fp16_tflops    integer 0..1000000, per device
//   min_memory_gib     integer 0..1000000, per device
//   count              integer 1..100000, default 1
//   duration_minutes   integer 1..527040 (366 days), required
//   start              RFC 3339, the earliest start; default now
//   dataset            {"home_center": id, "bytes": integer >= 0}
//   deadline           RFC 3339, finish by
//   price_cap_fen      integer >= 0, total cost at most
//   zones              array of non-empty strings; empty or absent = any
//   min_green_percent  integer 0..100
//   objective          "cost" (default) | "time" | "green" |
//                      {"cost": w, "time": w, "green": w}: integers 0..1000, not all 0
// Unknown keys (other than `allowed_extra`, for the caller's own fields such as
// "command"), a wrong type or range, an unknown model, both or neither of a model and a
// minimum spec: kInvalidArgument whose field names the key ("dataset.bytes", "zones[2]").
core::Result<PlacementRequest> PlacementRequestFromJson(
    const boost::json::object& body, std::initializer_list<std::string_view> allowed_extra = {});

// The canonical JSON form (stored with jobs, compared for idempotency): the keys above,
// optional ones only when set, zones sorted and unique, the objective as a name unless
// weighted. PlacementRequestFromJson(ToJson(r)) == r for every parsed r.
// REQUIRES: duration is whole minutes (as parsed); a remainder is truncated.
boost::json::object ToJson(const PlacementRequest& request);

struct Quote {
  std::string center, peer_url, hub, zone, model;
  Liveness liveness = Liveness::kAlive;
  int32_t count = 0;
  int32_t surge_permille = 1000;         // 1000 = none
  core::Money price_per_device_hour;     // in force at start, surge applied
  core::Money price_per_pflops_hour;     // the same per dense FP16 PFLOPS-hour
  core::Money compute, transfer, total;  // cost breakdown; total = compute + transfer
  core::Duration transfer_time{};
  core::Time start{}, finish{};  // expected
  int32_t green_permille = 0;
  // Lower is better; the key the ranking used after liveness: total fen (cost), finish
  // in ms since the epoch (time), 1000 - green_permille (green), or the weighted score.
  int64_t score = 0;
  bool operator==(const Quote&) const = default;
};

enum class ExclusionReason {
  kDead,
  kZoneNotAllowed,
  kNoModel,
  kTooFewFree,
  kNotGreenEnough,
  kMissesDeadline,
  kOverPriceCap,
};
// "dead", "zone_not_allowed", "no_such_model", "too_few_free", "not_green_enough",
// "misses_deadline", "over_price_cap"
std::string_view ExclusionReasonName(ExclusionReason reason);

struct Exclusion {
  std::string center;
  ExclusionReason reason = ExclusionReason::kDead;
  std::string detail;  // a human sentence: "only 2 h800 free, 4 asked"
  bool operator==(const Exclusion&) const = default;
};

// Quotes best first; exclusions by center id.
struct Placement {
  std::vector<Quote> quotes;
  std::vector<Exclusion> excluded;
  bool operator==(const Placement&) const = default;
};

// Link assumed when neither end of a transfer advertises one (or the home center is
// not in the view): 100 Mbit/s with 50 ms round trip.
inline constexpr int64_t kAssumedBandwidthMbps = 100;
inline constexpr int32_t kAssumedRttMs = 50;

// Ranks every candidate of `view` for `request` (see the top of this file). Ranking:
// alive before suspect; then the objective's key, lower first (cost: total; time: finish;
// green: greener first; weighted: sum over metrics of weight x the metric min-max
// normalised to 0..1000 across the passing candidates, green inverted, floored); ties by
// total, finish, center id, model. Dead centers are never quoted. Transfer time is
// rtt + ceil(bytes x 8 / bandwidth) in ms, with the link the home center advertises to
// the candidate, else the reverse one, else the assumed link. REQUIRES: each center at
// most once in `view`; adverts valid (ValidateAdvert: links sorted by center).
Placement Place(const PlacementRequest& request, const std::vector<ViewEntry>& view,
                core::Time now);

// {"quotes":[{center, peer_url, hub, zone, model, liveness, count, surge_permille,
//   price_per_device_hour_fen/_cny, price_per_pflops_hour_fen/_cny, compute_fen/_cny,
//   transfer_fen/_cny, total_fen/_cny, transfer_time_ms, start, finish (RFC 3339),
//   green_permille, score}], "excluded":[{center, reason, detail}]}
boost::json::object ToJson(const Placement& placement);

}  // namespace edwc::federation
