#include "federation/placement.h"

#include <algorithm>
#include <boost/json.hpp>
#include <limits>
#include <span>

#include "core/accelerator.h"
#include "core/json.h"
#include "pricing/price.h"

namespace edwc::federation {

namespace json = boost::json;

namespace {

constexpr int64_t kMaxCount = 100'000;
constexpr int64_t kMaxDurationMinutes = 366 * 24 * 60;
constexpr int64_t kMaxSpec = 1'000'000;
constexpr int64_t kMaxWeight = 1000;
constexpr size_t kMaxZones = 64;
constexpr std::string_view kRequestKeys[] = {
    "model",   "min_fp16_tflops", "min_memory_gib", "count", "duration_minutes",  "start",
    "dataset", "deadline",        "price_cap_fen",  "zones", "min_green_percent", "objective"};

// ---- Parsing -------------------------------------------------------------------------

// `st` about a key of the object at `parent`: the field becomes "parent.key".
core::Status Nested(const core::Status& st, std::string_view parent) {
  return core::Status(st.code(), st.message(), std::string(parent) + "." + st.field());
}

core::Status RejectUnknown(const json::object& o, std::span<const std::string_view> allowed,
                           std::initializer_list<std::string_view> extra) {
  for (const auto& kv : o) {
    const std::string_view key = kv.key();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end() &&
        std::find(extra.begin(), extra.end(), key) == extra.end()) {
      return core::InvalidArgument("unknown field", std::string(key));
    }
  }
  return core::Status::Ok();
}

// Fills `out.dataset` from body["dataset"] when present.
core::Status ParseDataset(const json::object& body, PlacementRequest& out) {
  const json::value* v = body.if_contains("dataset");
  if (v == nullptr || v->is_null()) return core::Status::Ok();
  const json::object* o = v->if_object();
  if (o == nullptr) return core::InvalidArgument("must be an object", "dataset");
  static constexpr std::string_view kKeys[] = {"home_center", "bytes"};
  if (core::Status st = RejectUnknown(*o, kKeys, {}); !st.ok()) return Nested(st, "dataset");
  core::Result<std::string> home = core::GetString(*o, "home_center");
  if (!home.ok()) return Nested(home.status(), "dataset");
  if (home->empty()) return core::InvalidArgument("must not be empty", "dataset.home_center");
  core::Result<int64_t> bytes = core::GetInt(*o, "bytes", 0, std::numeric_limits<int64_t>::max());
  if (!bytes.ok()) return Nested(bytes.status(), "dataset");
  out.dataset = DatasetRef{std::move(*home), static_cast<uint64_t>(*bytes)};
  return core::Status::Ok();
}

core::Status ParseZones(const json::object& body, PlacementRequest& out) {
  const json::value* v = body.if_contains("zones");
  if (v == nullptr || v->is_null()) return core::Status::Ok();
  const json::array* a = v->if_array();
  if (a == nullptr) return core::InvalidArgument("must be an array of zone names", "zones");
  if (a->size() > kMaxZones) {
    return core::InvalidArgument("at most " + std::to_string(kMaxZones) + " zones", "zones");
  }
  for (size_t i = 0; i < a->size(); ++i) {
    const json::string* s = (*a)[i].if_string();
    if (s == nullptr || s->empty()) {
      return core::InvalidArgument("must be a non-empty string",
                                   "zones[" + std::to_string(i) + "]");
    }
    out.zones.emplace_back(s->data(), s->size());
  }
  std::sort(out.zones.begin(), out.zones.end());
  out.zones.erase(std::unique(out.zones.begin(), out.zones.end()), out.zones.end());
  return core::Status::Ok();
}

core::Status ParseObjective(const json::object& body, PlacementRequest& out) {
  const json::value* v = body.if_contains("objective");
  if (v == nullptr || v->is_null()) return core::Status::Ok();
  if (const json::string* s = v->if_string()) {
    if (*s == "cost") {
      out.objective = Objective::kCost;
    } else if (*s == "time") {
      out.objective = Objective::kTime;
    } else if (*s == "green") {
      out.objective = Objective::kGreen;
    } else {
      return core::InvalidArgument(
          R"(must be "cost", "time", "green" or weights {"cost":w,"time":w,"green":w})",
          "objective");
    }
    return core::Status::Ok();
  }
  const json::object* o = v->if_object();
  if (o == nullptr) {
    return core::InvalidArgument("must be a string or an object of weights", "objective");
  }
  static constexpr std::string_view kKeys[] = {"cost", "time", "green"};
  if (core::Status st = RejectUnknown(*o, kKeys, {}); !st.ok()) return Nested(st, "objective");
  int32_t* slots[] = {&out.weights.cost, &out.weights.time, &out.weights.green};
  for (size_t i = 0; i < 3; ++i) {
    core::Result<std::optional<int64_t>> w = core::GetOptionalInt(*o, kKeys[i], 0, kMaxWeight);
    if (!w.ok()) return Nested(w.status(), "objective");
    *slots[i] = static_cast<int32_t>(w->value_or(0));
  }
  if (out.weights == Weights{0, 0, 0}) {
    return core::InvalidArgument("weights must not all be zero", "objective");
  }
  out.objective = Objective::kWeighted;
  return core::Status::Ok();
}

// model, or the minimum spec; exactly one of the two.
core::Status ParseDevice(const json::object& body, PlacementRequest& out) {
  EDWC_ASSIGN_OR_RETURN(out.model, core::GetOptionalString(body, "model"));
  EDWC_ASSIGN_OR_RETURN(std::optional<int64_t> tflops,
                        core::GetOptionalInt(body, "min_fp16_tflops", 0, kMaxSpec));
  EDWC_ASSIGN_OR_RETURN(std::optional<int64_t> memory,
                        core::GetOptionalInt(body, "min_memory_gib", 0, kMaxSpec));
  if (out.model.has_value()) {
    if (core::FindAccelerator(*out.model) == nullptr) {
      return core::InvalidArgument("unknown accelerator model '" + *out.model +
                                       "' (see the catalog in docs/accelerators.md)",
                                   "model");
    }
    if (tflops || memory) {
      return core::InvalidArgument(
          "give either a model or a minimum spec (min_fp16_tflops, min_memory_gib), not both",
          "model");
    }
    return core::Status::Ok();
  }
  if (!tflops && !memory) {
    return core::InvalidArgument(
        "is required, or else a minimum spec (min_fp16_tflops, min_memory_gib)", "model");
  }
  out.min_fp16_tflops = static_cast<int32_t>(tflops.value_or(0));
  out.min_memory_gib = static_cast<int32_t>(memory.value_or(0));
  return core::Status::Ok();
}

core::Status ParseRequest(const json::object& body,
                          std::initializer_list<std::string_view> allowed_extra,
                          PlacementRequest& out) {
  EDWC_RETURN_IF_ERROR(RejectUnknown(body, kRequestKeys, allowed_extra));
  EDWC_RETURN_IF_ERROR(ParseDevice(body, out));
  EDWC_ASSIGN_OR_RETURN(std::optional<int64_t> count,
                        core::GetOptionalInt(body, "count", 1, kMaxCount));
  out.count = static_cast<int32_t>(count.value_or(1));
  EDWC_ASSIGN_OR_RETURN(int64_t minutes,
                        core::GetInt(body, "duration_minutes", 1, kMaxDurationMinutes));
  out.duration = std::chrono::minutes(minutes);
  EDWC_ASSIGN_OR_RETURN(out.earliest_start, core::GetOptionalTime(body, "start"));
  EDWC_RETURN_IF_ERROR(ParseDataset(body, out));
  EDWC_ASSIGN_OR_RETURN(out.deadline, core::GetOptionalTime(body, "deadline"));
  EDWC_ASSIGN_OR_RETURN(
      std::optional<int64_t> cap,
      core::GetOptionalInt(body, "price_cap_fen", 0, std::numeric_limits<int64_t>::max()));
  if (cap) out.price_cap = core::Money::Fen(*cap);
  EDWC_RETURN_IF_ERROR(ParseZones(body, out));
  EDWC_ASSIGN_OR_RETURN(std::optional<int64_t> green,
                        core::GetOptionalInt(body, "min_green_percent", 0, 100));
  out.min_green_permille = static_cast<int32_t>(green.value_or(0) * 10);
  return ParseObjective(body, out);
}

// ---- Placement -----------------------------------------------------------------------

// How far a candidate got down the checks; the order of ExclusionReason, then kPassed.
constexpr int kPassed = static_cast<int>(ExclusionReason::kOverPriceCap) + 1;

struct Transfer {
  core::Duration time{0};
  core::Money cost;
  bool ok = true;  // false: the cost does not fit int64 fen
};

// A passing candidate before it becomes a Quote: no strings, no allocation.
struct Candidate {
  bool suspect;  // ranked after every alive candidate
  const ViewEntry* entry;
  const ModelCapacityAdvert* offer;
  const core::AcceleratorModel* accelerator;
  int32_t surge_permille;
  core::Money compute, transfer, total;
  core::Duration transfer_time;
  core::Time start, finish;
  int64_t score;
};

Transfer TransferTo(const DatasetRef& dataset, const CapacityAdvert* home,
                    const CapacityAdvert& to) {
  Transfer t;
  if (dataset.home_center == to.center) return t;
  const LinkAdvert* link = home != nullptr ? AdvertisedLink(*home, to.center) : nullptr;
  if (link == nullptr) link = AdvertisedLink(to, dataset.home_center);
  const int64_t mbps = link != nullptr ? link->bandwidth_mbps : kAssumedBandwidthMbps;
  const int64_t rtt = link != nullptr ? link->rtt_ms : kAssumedRttMs;
  // bits / (Mbit/s) = microseconds; / 1000 for ms, rounded up: a transfer is not done early.
  const core::Int128 bits = core::Int128{dataset.bytes} * 8;
  const core::Int128 divisor = core::Int128{mbps} * 1000;
  const core::Int128 ms = (bits + divisor - 1) / divisor;  // < 2^67 / 10^5 < 2^51
  t.time = core::Duration(rtt + static_cast<int64_t>(ms));
  if (home != nullptr) {
    core::Result<core::Money> cost = pricing::EgressCost(home->egress_per_gb, dataset.bytes);
    t.ok = cost.ok();
    if (cost.ok()) t.cost = *cost;
  }
  return t;
}

bool Matches(const PlacementRequest& r, const core::AcceleratorModel& m) {
  if (r.model.has_value()) return m.id == *r.model;
  return m.fp16_dense_tflops >= r.min_fp16_tflops && m.memory_gib >= r.min_memory_gib;
}

// "62.5%" from 625 permille.
std::string Percent(int32_t permille) {
  std::string s = std::to_string(permille / 10);
  if (permille % 10 != 0) {
    s.push_back('.');
    s.push_back(static_cast<char>('0' + permille % 10));
  }
  s.push_back('%');
  return s;
}

std::string NoModelDetail(const PlacementRequest& r) {
  if (r.model.has_value()) return "offers no " + *r.model;
  return "offers no model with at least " + std::to_string(r.min_fp16_tflops) +
         " dense FP16 TFLOPS and " + std::to_string(r.min_memory_gib) + " GiB";
}

// Evaluates every model of one live, allowed center; appends passing candidates to
// `out`. Returns the furthest stage reached (kPassed if any candidate passed) and, when
// none passed, the detail of the furthest failure.
int EvaluateCenter(const PlacementRequest& r, const ViewEntry& e, const CapacityAdvert* home,
                   core::Time earliest, std::vector<Candidate>& out, std::string& detail) {
  const CapacityAdvert& a = e.advert;
  int best = static_cast<int>(ExclusionReason::kNoModel);
  auto fail = [&](ExclusionReason reason, auto&& make_detail) {
    if (static_cast<int>(reason) > best) {
      best = static_cast<int>(reason);
      detail = make_detail();
    }
  };
  std::optional<Transfer> transfer;  // the same for every model: computed once, if needed
  for (const ModelCapacityAdvert& m : a.models) {
    if (r.model && m.model != *r.model) continue;  // skips the catalog lookup
    const core::AcceleratorModel* accelerator = core::FindAccelerator(m.model);
    if (accelerator == nullptr || !Matches(r, *accelerator)) continue;
    if (m.free < r.count) {
      fail(ExclusionReason::kTooFewFree, [&] {
        return "only " + std::to_string(m.free) + " " + m.model + " free, " +
               std::to_string(r.count) + " asked";
      });
      continue;
    }
    if (a.green_share_permille < r.min_green_permille) {
      fail(ExclusionReason::kNotGreenEnough, [&] {
        return "green share " + Percent(a.green_share_permille) + ", " +
               Percent(r.min_green_permille) + " asked";
      });
      continue;
    }
    if (!transfer) transfer = r.dataset ? TransferTo(*r.dataset, home, a) : Transfer{};
    const core::Time start = earliest + transfer->time;
    const core::Time finish = start + r.duration;
    if (r.deadline && finish > *r.deadline) {
      fail(ExclusionReason::kMissesDeadline, [&] {
        return "would finish at " + core::FormatRfc3339(finish) + " (transfer " +
               std::to_string(transfer->time.count()) + " ms), after the deadline " +
               core::FormatRfc3339(*r.deadline);
      });
      continue;
    }
    const int32_t surge = pricing::SurgePermille(a.surge, m.total, m.free);
    core::Result<core::Money> compute =
        pricing::ComputeCost(m.price, r.count, start, finish, surge);
    core::Result<core::Money> total =
        compute.ok() && transfer->ok ? compute->Add(transfer->cost) : compute;
    if (!compute.ok() || !transfer->ok || !total.ok()) {
      fail(ExclusionReason::kOverPriceCap, [&] { return std::string("cost out of range"); });
      continue;
    }
    if (r.price_cap && *total > *r.price_cap) {
      fail(ExclusionReason::kOverPriceCap, [&] {
        return "total " + total->ToYuanString() + " CNY (compute " + compute->ToYuanString() +
               ", transfer " + transfer->cost.ToYuanString() + ") over the cap " +
               r.price_cap->ToYuanString() + " CNY";
      });
      continue;
    }
    best = kPassed;
    out.push_back(Candidate{e.liveness != Liveness::kAlive, &e, &m, accelerator, surge, *compute,
                            transfer->cost, *total, transfer->time, start, finish, 0});
  }
  if (best == static_cast<int>(ExclusionReason::kNoModel)) detail = NoModelDetail(r);
  return best;
}

// (x - lo) * 1000 / (hi - lo), floored; 0 when all candidates are equal.
int64_t Normalised(int64_t x, int64_t lo, int64_t hi) {
  if (hi <= lo) return 0;
  return static_cast<int64_t>(core::Int128{x - lo} * 1000 / (core::Int128{hi} - lo));
}

void Score(const PlacementRequest& r, std::vector<Candidate>& cs) {
  if (r.objective != Objective::kWeighted) {
    for (Candidate& c : cs) {
      switch (r.objective) {
        case Objective::kCost:
          c.score = c.total.fen();
          break;
        case Objective::kTime:
          c.score = c.finish.time_since_epoch().count();
          break;
        default:
          c.score = 1000 - c.entry->advert.green_share_permille;
          break;
      }
    }
    return;
  }
  if (cs.empty()) return;
  int64_t cost_lo = cs[0].total.fen(), cost_hi = cost_lo;
  int64_t time_lo = cs[0].finish.time_since_epoch().count(), time_hi = time_lo;
  int64_t green_lo = cs[0].entry->advert.green_share_permille, green_hi = green_lo;
  for (const Candidate& c : cs) {
    cost_lo = std::min(cost_lo, c.total.fen());
    cost_hi = std::max(cost_hi, c.total.fen());
    time_lo = std::min<int64_t>(time_lo, c.finish.time_since_epoch().count());
    time_hi = std::max<int64_t>(time_hi, c.finish.time_since_epoch().count());
    green_lo = std::min<int64_t>(green_lo, c.entry->advert.green_share_permille);
    green_hi = std::max<int64_t>(green_hi, c.entry->advert.green_share_permille);
  }
  for (Candidate& c : cs) {
    const int64_t green = c.entry->advert.green_share_permille;
    // Weights <= 1000 (or any int32) times 1000: the sum fits int64.
    c.score = int64_t{r.weights.cost} * Normalised(c.total.fen(), cost_lo, cost_hi) +
              int64_t{r.weights.time} *
                  Normalised(c.finish.time_since_epoch().count(), time_lo, time_hi) +
              int64_t{r.weights.green} * Normalised(-green, -green_hi, -green_lo);  // inverted
  }
}

bool Better(const Candidate& x, const Candidate& y) {
  if (x.suspect != y.suspect) return y.suspect;
  if (x.score != y.score) return x.score < y.score;
  if (x.total != y.total) return x.total < y.total;
  if (x.finish != y.finish) return x.finish < y.finish;
  if (int c = x.entry->advert.center.compare(y.entry->advert.center); c != 0) return c < 0;
  return x.offer->model < y.offer->model;
}

Quote ToQuote(const PlacementRequest& r, const Candidate& c) {
  const CapacityAdvert& a = c.entry->advert;
  const core::Money base = pricing::PriceAt(c.offer->price, c.start);
  core::Result<core::Money> surged = base.MulDiv(c.surge_permille, pricing::kNoSurgePermille);
  const core::Money per_device_hour = surged.ok() ? *surged : base;
  Quote q;
  q.center = a.center;
  q.peer_url = a.peer_url;
  q.hub = a.hub;
  q.zone = a.zone;
  q.model = c.offer->model;
  q.liveness = c.entry->liveness;
  q.count = r.count;
  q.surge_permille = c.surge_permille;
  q.price_per_device_hour = per_device_hour;
  q.price_per_pflops_hour =
      pricing::PerPflopsHour(per_device_hour, c.accelerator->fp16_dense_tflops);
  q.compute = c.compute;
  q.total = c.total;
  q.transfer = c.transfer;
  q.transfer_time = c.transfer_time;
  q.start = c.start;
  q.finish = c.finish;
  q.green_permille = a.green_share_permille;
  q.score = c.score;
  return q;
}

void MoneyFields(json::object& o, std::string_view prefix, core::Money m) {
  o[std::string(prefix) + "_fen"] = m.fen();
  o[std::string(prefix) + "_cny"] = m.ToYuanString();
}

}  // namespace

std::string_view ObjectiveName(Objective objective) {
  switch (objective) {
    case Objective::kCost:
      return "cost";
    case Objective::kTime:
      return "time";
    case Objective::kGreen:
      return "green";
    case Objective::kWeighted:
      return "weighted";
  }
  return "unknown";
}

std::string_view ExclusionReasonName(ExclusionReason reason) {
  switch (reason) {
    case ExclusionReason::kDead:
      return "dead";
    case ExclusionReason::kZoneNotAllowed:
      return "zone_not_allowed";
    case ExclusionReason::kNoModel:
      return "no_such_model";
    case ExclusionReason::kTooFewFree:
      return "too_few_free";
    case ExclusionReason::kNotGreenEnough:
      return "not_green_enough";
    case ExclusionReason::kMissesDeadline:
      return "misses_deadline";
    case ExclusionReason::kOverPriceCap:
      return "over_price_cap";
  }
  return "unknown";
}

core::Result<PlacementRequest> PlacementRequestFromJson(
    const json::object& body, std::initializer_list<std::string_view> allowed_extra) {
  PlacementRequest out;
  EDWC_RETURN_IF_ERROR(ParseRequest(body, allowed_extra, out));
  return out;
}

json::object ToJson(const PlacementRequest& r) {
  json::object o;
  if (r.model) {
    o["model"] = *r.model;
  } else {
    o["min_fp16_tflops"] = r.min_fp16_tflops;
    o["min_memory_gib"] = r.min_memory_gib;
  }
  o["count"] = r.count;
  o["duration_minutes"] = std::chrono::duration_cast<std::chrono::minutes>(r.duration).count();
  if (r.earliest_start) o["start"] = core::FormatRfc3339(*r.earliest_start);
  if (r.dataset) {
    o["dataset"] = {{"home_center", r.dataset->home_center}, {"bytes", r.dataset->bytes}};
  }
  if (r.deadline) o["deadline"] = core::FormatRfc3339(*r.deadline);
  if (r.price_cap) o["price_cap_fen"] = r.price_cap->fen();
  if (!r.zones.empty()) {
    std::vector<std::string> zones = r.zones;
    std::sort(zones.begin(), zones.end());
    zones.erase(std::unique(zones.begin(), zones.end()), zones.end());
    json::array a;
    for (const std::string& z : zones) a.emplace_back(z);
    o["zones"] = std::move(a);
  }
  if (r.min_green_permille != 0) o["min_green_percent"] = r.min_green_permille / 10;
  if (r.objective == Objective::kWeighted) {
    o["objective"] = {
        {"cost", r.weights.cost}, {"time", r.weights.time}, {"green", r.weights.green}};
  } else {
    o["objective"] = ObjectiveName(r.objective);
  }
  return o;
}

Placement Place(const PlacementRequest& r, const std::vector<ViewEntry>& view, core::Time now) {
  const core::Time earliest = r.earliest_start && *r.earliest_start > now ? *r.earliest_start : now;
  const CapacityAdvert* home = nullptr;
  if (r.dataset) {
    for (const ViewEntry& e : view) {
      if (e.advert.center == r.dataset->home_center) home = &e.advert;
    }
  }
  Placement out;
  std::vector<Candidate> candidates;
  candidates.reserve(view.size() * 2);
  std::string detail;
  for (const ViewEntry& e : view) {
    const CapacityAdvert& a = e.advert;
    auto exclude = [&](ExclusionReason reason, std::string why) {
      out.excluded.push_back(Exclusion{a.center, reason, std::move(why)});
    };
    if (e.liveness == Liveness::kDead) {
      exclude(ExclusionReason::kDead, "no fresh advert and no contact");
      continue;
    }
    if (!r.zones.empty() && std::find(r.zones.begin(), r.zones.end(), a.zone) == r.zones.end()) {
      exclude(ExclusionReason::kZoneNotAllowed, "zone '" + a.zone + "' is not allowed");
      continue;
    }
    const int stage = EvaluateCenter(r, e, home, earliest, candidates, detail);
    if (stage != kPassed) exclude(static_cast<ExclusionReason>(stage), std::move(detail));
  }
  Score(r, candidates);
  std::sort(candidates.begin(), candidates.end(), Better);
  out.quotes.reserve(candidates.size());
  for (const Candidate& c : candidates) out.quotes.push_back(ToQuote(r, c));
  std::sort(out.excluded.begin(), out.excluded.end(),
            [](const Exclusion& x, const Exclusion& y) { return x.center < y.center; });
  return out;
}

json::object ToJson(const Placement& p) {
  json::array quotes;
  quotes.reserve(p.quotes.size());
  for (const Quote& q : p.quotes) {
    json::object o{{"center", q.center}, {"peer_url", q.peer_url},
                   {"hub", q.hub},       {"zone", q.zone},
                   {"model", q.model},   {"liveness", LivenessName(q.liveness)},
                   {"count", q.count},   {"surge_permille", q.surge_permille}};
    MoneyFields(o, "price_per_device_hour", q.price_per_device_hour);
    MoneyFields(o, "price_per_pflops_hour", q.price_per_pflops_hour);
    MoneyFields(o, "compute", q.compute);
    MoneyFields(o, "transfer", q.transfer);
    MoneyFields(o, "total", q.total);
    o["transfer_time_ms"] = q.transfer_time.count();
    o["start"] = core::FormatRfc3339(q.start);
    o["finish"] = core::FormatRfc3339(q.finish);
    o["green_permille"] = q.green_permille;
    o["score"] = q.score;
    quotes.push_back(std::move(o));
  }
  json::array excluded;
  excluded.reserve(p.excluded.size());
  for (const Exclusion& x : p.excluded) {
    excluded.push_back(json::object{
        {"center", x.center}, {"reason", ExclusionReasonName(x.reason)}, {"detail", x.detail}});
  }
  return json::object{{"quotes", std::move(quotes)}, {"excluded", std::move(excluded)}};
}

}  // namespace edwc::federation
