#include "federation/transfer.h"

#include <algorithm>
#include <boost/json.hpp>
#include <limits>
#include <map>

#include "core/json.h"
#include "federation/codec.h"
#include "federation/placement.h"
#include "pricing/price.h"

namespace edwc::federation {

namespace json = boost::json;

namespace {

constexpr std::pair<TransferState, std::string_view> kStateNames[] = {
    {TransferState::kQueued, "queued"},       {TransferState::kMoving, "moving"},
    {TransferState::kDone, "done"},           {TransferState::kFailed, "failed"},
    {TransferState::kCancelled, "cancelled"},
};

constexpr int32_t kMaxStreams = 1024;

// ---- Residency --------------------------------------------------------------------------

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool Applies(const ResidencyRule& rule, std::string_view zone,
             const std::vector<std::string>& tags) {
  if (!rule.zones.empty() && (zone.empty() || !Contains(rule.zones, zone))) return false;
  if (rule.tags.empty()) return true;
  return std::any_of(tags.begin(), tags.end(),
                     [&](const std::string& t) { return Contains(rule.tags, t); });
}

// "[a, b]"
std::string List(const std::vector<std::string>& items) {
  std::string s = "[";
  for (size_t i = 0; i < items.size(); ++i) s += (i == 0 ? "" : ", ") + items[i];
  return s + "]";
}

// What a rule covers: "datasets of zones [east] tagged [personal]", "all datasets".
std::string Scope(const ResidencyRule& rule) {
  if (rule.zones.empty() && rule.tags.empty()) return "all datasets";
  std::string s = "datasets";
  if (!rule.zones.empty()) s += " of zones " + List(rule.zones);
  if (!rule.tags.empty()) s += " tagged " + List(rule.tags);
  return s;
}

// ---- Planning ---------------------------------------------------------------------------

// ceil(bytes x 8 / mbps) in ms: bits / (Mbit/s) = microseconds. REQUIRES: mbps > 0.
int64_t WireMs(int64_t bytes, int64_t mbps) {
  const core::Int128 bits = core::Int128{bytes} * 8;
  const core::Int128 divisor = core::Int128{mbps} * 1000;
  return static_cast<int64_t>((bits + divisor - 1) / divisor);  // < 2^66 / 10^3 < 2^57
}

core::Result<TransferLeg> MakeLeg(const CapacityAdvert& sender, const CapacityAdvert& receiver,
                                  int64_t bytes) {
  TransferLeg leg;
  leg.from = sender.center;
  leg.to = receiver.center;
  leg.peer_url = sender.peer_url;
  const LinkAdvert* link = AdvertisedLink(sender, receiver.center);
  if (link == nullptr) link = AdvertisedLink(receiver, sender.center);
  leg.assumed = link == nullptr;
  leg.bandwidth_mbps = link != nullptr ? link->bandwidth_mbps : kAssumedBandwidthMbps;
  leg.rtt_ms = link != nullptr ? link->rtt_ms : kAssumedRttMs;
  core::Result<core::Money> egress =
      pricing::EgressCost(sender.egress_per_gb, static_cast<uint64_t>(bytes));
  if (!egress.ok()) {
    return core::InvalidArgument("egress from " + sender.center + " out of range", "bytes");
  }
  leg.egress = *egress;
  return leg;
}

struct Path {
  std::vector<TransferLeg> legs;
  core::Duration eta{0};
  core::Money egress;
};

core::Result<Path> DirectPath(const TransferPlanRequest& r, const CapacityAdvert& from,
                              const CapacityAdvert& to) {
  EDWC_ASSIGN_OR_RETURN(TransferLeg leg, MakeLeg(from, to, r.bytes));
  Path p;
  p.eta = core::Duration(leg.rtt_ms + WireMs(r.bytes, leg.bandwidth_mbps));
  p.egress = leg.egress;
  p.legs.push_back(std::move(leg));
  return p;
}

core::Result<Path> RelayPath(const TransferPlanRequest& r, const CapacityAdvert& from,
                             const CapacityAdvert& relay, const CapacityAdvert& to) {
  EDWC_ASSIGN_OR_RETURN(TransferLeg first, MakeLeg(from, relay, r.bytes));
  EDWC_ASSIGN_OR_RETURN(TransferLeg second, MakeLeg(relay, to, r.bytes));
  EDWC_ASSIGN_OR_RETURN(core::Money egress, first.egress.Add(second.egress));
  const int64_t slow = std::min(first.bandwidth_mbps, second.bandwidth_mbps);
  const int64_t fast = std::max(first.bandwidth_mbps, second.bandwidth_mbps);
  // The slower leg carries everything; the faster one adds one chunk of pipeline fill.
  const int64_t ms = int64_t{first.rtt_ms} + second.rtt_ms + WireMs(r.bytes, slow) +
                     WireMs(std::min(r.chunk_size, r.bytes), fast);
  Path p;
  p.eta = core::Duration(ms);
  p.egress = egress;
  p.legs.push_back(std::move(first));
  p.legs.push_back(std::move(second));
  return p;
}

using ViewIndex = std::map<std::string_view, const ViewEntry*>;  // by center id, sorted

// The entry of an endpoint, which must be in the view and not dead.
core::Result<const ViewEntry*> Endpoint(const ViewIndex& view, const std::string& center,
                                        std::string_view field) {
  auto it = view.find(center);
  if (it == view.end()) {
    return core::Status(core::Code::kUnavailable,
                        "center " + center + " is not in the federation view", std::string(field));
  }
  if (it->second->liveness == Liveness::kDead) {
    return core::Status(core::Code::kUnavailable, "center " + center + " is dead",
                        std::string(field));
  }
  return it->second;
}

core::Status CheckPlanRequest(const TransferPlanRequest& r) {
  if (r.from == r.to) return core::InvalidArgument("is the source center itself", "to");
  if (r.bytes < 0) return core::InvalidArgument("must not be negative", "bytes");
  if (r.chunk_size <= 0) return core::InvalidArgument("must be positive", "chunk_size");
  return core::Status::Ok();
}

// The fastest allowed relay path, ties by relay id (the index is sorted by id).
std::optional<Path> BestRelay(const TransferPlanRequest& r, const ViewIndex& view,
                              const std::vector<ResidencyRule>& rules, const CapacityAdvert& from,
                              const CapacityAdvert& to) {
  std::optional<Path> best;
  for (const auto& [id, e] : view) {
    if (id == r.from || id == r.to || e->liveness != Liveness::kAlive) continue;
    if (!CheckResidency(rules, r.zone, r.tags, id, e->advert.zone).ok()) continue;
    core::Result<Path> p = RelayPath(r, from, e->advert, to);
    if (p.ok() && (!best || p->eta < best->eta)) best = std::move(*p);
  }
  return best;
}

// ---- JSON -------------------------------------------------------------------------------

void PutMoney(json::object& o, std::string_view prefix, core::Money m) {
  o[std::string(prefix) + "_fen"] = m.fen();
  o[std::string(prefix) + "_cny"] = m.ToYuanString();
}

// Reads prefix_fen and checks prefix_cny, if given, says the same.
core::Result<core::Money> GetMoney(const json::object& o, std::string_view prefix) {
  const std::string fen_field = std::string(prefix) + "_fen";
  const std::string cny_field = std::string(prefix) + "_cny";
  EDWC_ASSIGN_OR_RETURN(core::Money m, codec::GetFen(o, fen_field));
  EDWC_ASSIGN_OR_RETURN(std::optional<std::string> cny, core::GetOptionalString(o, cny_field));
  if (cny && *cny != m.ToYuanString()) {
    return core::InvalidArgument("does not match " + fen_field, cny_field);
  }
  return m;
}

json::object LegToJson(const TransferLeg& l) {
  json::object o{{"from", l.from},         {"to", l.to},
                 {"peer_url", l.peer_url}, {"bandwidth_mbps", l.bandwidth_mbps},
                 {"rtt_ms", l.rtt_ms},     {"assumed", l.assumed}};
  PutMoney(o, "egress", l.egress);
  return o;
}

core::Result<TransferLeg> LegFromJson(const json::object& o) {
  EDWC_RETURN_IF_ERROR(
      core::RejectUnknownFields(o, {"from", "to", "peer_url", "bandwidth_mbps", "rtt_ms", "assumed",
                                    "egress_fen", "egress_cny"}));
  TransferLeg l;
  EDWC_ASSIGN_OR_RETURN(l.from, core::GetString(o, "from"));
  EDWC_ASSIGN_OR_RETURN(l.to, core::GetString(o, "to"));
  EDWC_ASSIGN_OR_RETURN(l.peer_url, codec::GetText(o, "peer_url"));
  EDWC_ASSIGN_OR_RETURN(l.bandwidth_mbps, core::GetInt(o, "bandwidth_mbps", 1, int64_t{1} << 40));
  EDWC_ASSIGN_OR_RETURN(l.rtt_ms,
                        codec::GetI32(o, "rtt_ms", 0, std::numeric_limits<int32_t>::max()));
  EDWC_ASSIGN_OR_RETURN(l.assumed, codec::GetBool(o, "assumed"));
  EDWC_ASSIGN_OR_RETURN(l.egress, GetMoney(o, "egress"));
  return l;
}

core::Result<TransferPlan> PlanFromObject(const json::object& o) {
  EDWC_RETURN_IF_ERROR(
      core::RejectUnknownFields(o, {"legs", "eta_ms", "egress_fen", "egress_cny", "relay",
                                    "direct_eta_ms", "direct_egress_fen", "direct_egress_cny"}));
  TransferPlan p;
  EDWC_RETURN_IF_ERROR(codec::ReadList(o, "legs", LegFromJson, &p.legs));
  if (p.legs.size() > 2) return core::InvalidArgument("at most two legs", "legs");
  EDWC_ASSIGN_OR_RETURN(p.eta, codec::GetDurationMs(o, "eta_ms"));
  EDWC_ASSIGN_OR_RETURN(p.egress, GetMoney(o, "egress"));
  EDWC_ASSIGN_OR_RETURN(p.relay, core::GetOptionalString(o, "relay"));
  EDWC_ASSIGN_OR_RETURN(p.direct_eta, codec::GetDurationMs(o, "direct_eta_ms"));
  EDWC_ASSIGN_OR_RETURN(p.direct_egress, GetMoney(o, "direct_egress"));
  return p;
}

// ---- Record codec -----------------------------------------------------------------------

// The done chunks as [first, end) ranges, ascending and non-adjacent.
json::array RangesToJson(const std::vector<bool>& done) {
  json::array ranges;
  const int64_t n = static_cast<int64_t>(done.size());
  for (int64_t i = 0; i < n;) {
    if (!done[i]) {
      ++i;
      continue;
    }
    int64_t end = i;
    while (end < n && done[end]) ++end;
    ranges.push_back(json::array{i, end});
    i = end;
  }
  return ranges;
}

// Fills *done (sized `count`) from o["chunks_done"]; returns the bytes the ranges cover.
core::Result<int64_t> RangesFromJson(const json::object& o, const core::DatasetManifest& m,
                                     std::vector<bool>* done) {
  EDWC_ASSIGN_OR_RETURN(const json::array* ranges, codec::GetArray(o, "chunks_done"));
  const int64_t count = m.chunk_count();
  done->assign(static_cast<size_t>(count), false);
  int64_t prev_end = -1, bytes = 0;
  for (size_t i = 0; i < ranges->size(); ++i) {
    const std::string field = "chunks_done[" + std::to_string(i) + "]";
    const json::array* r = (*ranges)[i].if_array();
    if (r == nullptr || r->size() != 2 || !(*r)[0].is_int64() || !(*r)[1].is_int64()) {
      return core::InvalidArgument("must be a pair of integers [first, end)", field);
    }
    const int64_t first = (*r)[0].get_int64(), end = (*r)[1].get_int64();
    if (first <= prev_end || end <= first || end > count) {
      return core::InvalidArgument("must be ascending, disjoint, non-adjacent ranges within " +
                                       std::to_string(count) + " chunks",
                                   field);
    }
    for (int64_t c = first; c < end; ++c) (*done)[c] = true;
    bytes += (end == count ? m.size : end * m.chunk_size) - first * m.chunk_size;
    prev_end = end;
  }
  return bytes;
}

// Fields of a record beside the manifest, plan and bitmap.
core::Status ReadRecordScalars(const json::object& o, TransferRecord& t) {
  EDWC_ASSIGN_OR_RETURN(t.id, core::GetString(o, "id"));
  if (t.id.empty()) return core::InvalidArgument("must not be empty", "id");
  EDWC_ASSIGN_OR_RETURN(t.dataset, core::GetString(o, "dataset"));
  EDWC_ASSIGN_OR_RETURN(t.source_center, core::GetString(o, "source_center"));
  EDWC_ASSIGN_OR_RETURN(t.dest_center, core::GetString(o, "dest_center"));
  EDWC_ASSIGN_OR_RETURN(t.state, codec::GetEnum(o, "state", kStateNames));
  EDWC_ASSIGN_OR_RETURN(t.error, codec::GetText(o, "error"));
  EDWC_ASSIGN_OR_RETURN(t.created_at, codec::GetTime(o, "created_at"));
  EDWC_ASSIGN_OR_RETURN(t.started_at, core::GetOptionalTime(o, "started_at"));
  EDWC_ASSIGN_OR_RETURN(t.finished_at, core::GetOptionalTime(o, "finished_at"));
  EDWC_ASSIGN_OR_RETURN(t.updated_at, codec::GetTime(o, "updated_at"));
  EDWC_ASSIGN_OR_RETURN(t.streams, codec::GetI32(o, "streams", 0, kMaxStreams));
  EDWC_ASSIGN_OR_RETURN(t.requested_by, codec::GetText(o, "requested_by"));
  EDWC_ASSIGN_OR_RETURN(t.idempotency_key, codec::GetText(o, "idempotency_key"));
  EDWC_ASSIGN_OR_RETURN(t.version, codec::GetU64(o, "version"));
  return core::Status::Ok();
}

// The machine's own checks of a record it is handed (sizes, not hashes).
core::Status CheckRecordShape(const TransferRecord& r) {
  const core::DatasetManifest& m = r.manifest;
  if (m.chunk_size <= 0) return core::InvalidArgument("must be positive", "manifest.chunk_size");
  if (m.size < 0 || m.size / m.chunk_size >= kMaxTransferChunks) {
    return core::InvalidArgument("must be 0 .. " + std::to_string(kMaxTransferChunks) + " chunks",
                                 "manifest.size");
  }
  if (!r.chunk_done.empty() && static_cast<int64_t>(r.chunk_done.size()) != m.chunk_count()) {
    return core::InvalidArgument("must have one entry per chunk", "chunk_done");
  }
  if (r.streams < 0 || r.streams > kMaxStreams) {
    return core::InvalidArgument("must be 0 .. " + std::to_string(kMaxStreams), "streams");
  }
  return core::Status::Ok();
}

}  // namespace

// ---- Public functions -------------------------------------------------------------------

core::Status CheckResidency(const std::vector<ResidencyRule>& rules, std::string_view dataset_zone,
                            const std::vector<std::string>& dataset_tags,
                            std::string_view dest_center, std::string_view dest_zone) {
  for (const ResidencyRule& rule : rules) {
    if (!Applies(rule, dataset_zone, dataset_tags) || Contains(rule.allow_zones, dest_zone)) {
      continue;
    }
    return core::Status(core::Code::kFailedPrecondition,
                        "residency rule \"" + rule.name + "\" keeps " + Scope(rule) + " in zones " +
                            List(rule.allow_zones) + "; center " + std::string(dest_center) +
                            " is in zone \"" + std::string(dest_zone) + "\"",
                        "residency");
  }
  return core::Status::Ok();
}

core::Result<TransferPlan> PlanTransfer(const TransferPlanRequest& r,
                                        const std::vector<ViewEntry>& entries,
                                        const std::vector<ResidencyRule>& rules) {
  EDWC_RETURN_IF_ERROR(CheckPlanRequest(r));
  ViewIndex view;
  for (const ViewEntry& e : entries) view.emplace(e.advert.center, &e);
  if (auto it = view.find(r.to); it != view.end()) {
    EDWC_RETURN_IF_ERROR(CheckResidency(rules, r.zone, r.tags, r.to, it->second->advert.zone));
  }
  EDWC_ASSIGN_OR_RETURN(const ViewEntry* from, Endpoint(view, r.from, "from"));
  EDWC_ASSIGN_OR_RETURN(const ViewEntry* to, Endpoint(view, r.to, "to"));
  EDWC_ASSIGN_OR_RETURN(Path direct, DirectPath(r, from->advert, to->advert));
  std::optional<Path> relay = BestRelay(r, view, rules, from->advert, to->advert);
  const bool use_relay =
      relay && relay->eta.count() * 100 <= direct.eta.count() * (100 - kRelayMinGainPercent);
  TransferPlan plan;
  plan.direct_eta = direct.eta;
  plan.direct_egress = direct.egress;
  Path& chosen = use_relay ? *relay : direct;
  plan.eta = chosen.eta;
  plan.egress = chosen.egress;
  if (use_relay) plan.relay = chosen.legs[0].to;
  plan.legs = std::move(chosen.legs);
  return plan;
}

json::object ToJson(const TransferPlan& p) {
  json::array legs;
  for (const TransferLeg& l : p.legs) legs.push_back(LegToJson(l));
  json::object o{{"legs", std::move(legs)}, {"eta_ms", p.eta.count()}};
  PutMoney(o, "egress", p.egress);
  if (p.relay) o["relay"] = *p.relay;
  o["direct_eta_ms"] = p.direct_eta.count();
  PutMoney(o, "direct_egress", p.direct_egress);
  return o;
}

core::Result<TransferPlan> TransferPlanFromJson(const json::value& value) {
  EDWC_ASSIGN_OR_RETURN(const json::object* o, codec::AsObject(value, ""));
  return PlanFromObject(*o);
}

std::string_view TransferStateName(TransferState state) {
  return codec::NameOf(kStateNames, state);
}

std::optional<TransferState> TransferStateFromName(std::string_view name) {
  return codec::ValueOf(kStateNames, name);
}

json::object ToJson(const TransferRecord& t) {
  json::object o{{"id", t.id},
                 {"dataset", t.dataset},
                 {"manifest", core::ToJson(t.manifest)},
                 {"plan", ToJson(t.plan)},
                 {"source_center", t.source_center},
                 {"dest_center", t.dest_center},
                 {"state", TransferStateName(t.state)},
                 {"error", t.error},
                 {"chunks_done", RangesToJson(t.chunk_done)},
                 {"bytes_done", t.bytes_done},
                 {"created_at", core::FormatRfc3339(t.created_at)},
                 {"updated_at", core::FormatRfc3339(t.updated_at)},
                 {"streams", t.streams},
                 {"requested_by", t.requested_by},
                 {"idempotency_key", t.idempotency_key},
                 {"version", t.version}};
  codec::PutTime(o, "started_at", t.started_at);
  codec::PutTime(o, "finished_at", t.finished_at);
  return o;
}

core::Result<TransferRecord> TransferRecordFromJson(const json::value& value) {
  EDWC_ASSIGN_OR_RETURN(const json::object* o, codec::AsObject(value, ""));
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(
      *o, {"id", "dataset", "manifest", "plan", "source_center", "dest_center", "state", "error",
           "chunks_done", "bytes_done", "created_at", "started_at", "finished_at", "updated_at",
           "streams", "requested_by", "idempotency_key", "version"}));
  TransferRecord t;
  EDWC_RETURN_IF_ERROR(ReadRecordScalars(*o, t));
  EDWC_ASSIGN_OR_RETURN(t.manifest,
                        codec::ReadObject(*o, "manifest", core::DatasetManifestFromJson));
  EDWC_ASSIGN_OR_RETURN(t.plan, codec::ReadObject(*o, "plan", PlanFromObject));
  EDWC_ASSIGN_OR_RETURN(int64_t covered, RangesFromJson(*o, t.manifest, &t.chunk_done));
  EDWC_ASSIGN_OR_RETURN(t.bytes_done,
                        core::GetInt(*o, "bytes_done", 0, std::numeric_limits<int64_t>::max()));
  if (t.bytes_done != covered) {
    return core::InvalidArgument("is " + std::to_string(t.bytes_done) + " but chunks_done covers " +
                                     std::to_string(covered) + " bytes",
                                 "bytes_done");
  }
  return t;
}

// ---- TransferReceiver -------------------------------------------------------------------

TransferReceiver::TransferReceiver(TransferOptions options) : options_(std::move(options)) {}

core::Status TransferReceiver::Load(TransferRecord record, core::Time now) {
  EDWC_RETURN_IF_ERROR(CheckRecordShape(record));
  record_ = std::move(record);
  chunk_count_ = record_.manifest.chunk_count();
  record_.chunk_done.resize(static_cast<size_t>(chunk_count_), false);
  if (record_.streams == 0) record_.streams = std::max(1, options_.streams);
  streams_ = static_cast<size_t>(record_.streams);
  record_.bytes_done = 0;
  chunks_left_ = chunk_count_;
  for (int64_t i = 0; i < chunk_count_; ++i) {
    if (!record_.chunk_done[i]) continue;
    record_.bytes_done += record_.manifest.chunk_length(i);
    --chunks_left_;
  }
  cursor_ = 0;
  in_flight_.clear();
  ready_.clear();
  waiting_.clear();
  backoff_.clear();
  corrupt_.clear();
  recent_.clear();
  active_since_ = now;
  started_ = true;
  return core::Status::Ok();
}

TransferStep TransferReceiver::Start(TransferRecord record, core::Time now) {
  TransferStep step;
  if (started_) {
    step.status = core::Status(core::Code::kFailedPrecondition, "already started", "state");
    return step;
  }
  if (record.state != TransferState::kQueued) {
    step.status = core::Status(
        core::Code::kFailedPrecondition,
        "is " + std::string(TransferStateName(record.state)) + ", not queued: use Recover",
        "state");
    return step;
  }
  step.status = Load(std::move(record), now);
  if (!step.status.ok()) return step;
  Enter(TransferState::kMoving, now, &step);
  Fill(now, &step);
  return step;
}

TransferStep TransferReceiver::Recover(TransferRecord record,
                                       const std::vector<int64_t>& done_chunks, core::Time now) {
  TransferStep step;
  step.status = CheckRecordShape(record);
  if (!step.status.ok()) return step;
  const int64_t count = record.manifest.chunk_count();
  record.chunk_done.resize(static_cast<size_t>(count), false);
  for (int64_t c : done_chunks) {
    if (c < 0 || c >= count) {
      step.status = core::Status(core::Code::kCorruption,
                                 "transfer " + record.id + ": chunk event " + std::to_string(c) +
                                     " is outside its " + std::to_string(count) + " chunks",
                                 "chunk");
      return step;
    }
    record.chunk_done[c] = true;
  }
  step.status = Load(std::move(record), now);
  if (!step.status.ok() || IsTerminal(record_.state)) return step;
  if (record_.state == TransferState::kQueued) Enter(TransferState::kMoving, now, &step);
  Fill(now, &step);
  return step;
}

void TransferReceiver::Enter(TransferState state, core::Time now, TransferStep* step) {
  record_.state = state;
  record_.updated_at = now;
  if (state == TransferState::kMoving && !record_.started_at) record_.started_at = now;
  if (IsTerminal(state)) {
    record_.finished_at = now;
    in_flight_.clear();
    ready_.clear();
    waiting_.clear();
  }
  ++record_.version;
  step->record = record_;
}

TransferStep TransferReceiver::OnChunk(int64_t chunk, const ChunkResult& result, core::Time now) {
  TransferStep step;
  if (!Moving()) return step;
  if (chunk < 0 || chunk >= chunk_count_) {
    step.status = core::InvalidArgument(
        "chunk " + std::to_string(chunk) + " is outside 0.." + std::to_string(chunk_count_ - 1),
        "chunk");
    return step;
  }
  if (record_.chunk_done[chunk]) return step;  // a duplicate: counted once
  switch (result.kind) {
    case ChunkResult::Kind::kStored:
      MarkStored(chunk, now, &step);
      break;
    case ChunkResult::Kind::kCorrupt:
      if (in_flight_.erase(chunk) == 0) return step;  // stale
      OnCorrupt(chunk, result.reason, now, &step);
      break;
    case ChunkResult::Kind::kUnreachable:
      if (in_flight_.erase(chunk) == 0) return step;  // stale
      OnUnreachable(chunk, now);
      break;
  }
  Fill(now, &step);
  return step;
}

void TransferReceiver::MarkStored(int64_t chunk, core::Time now, TransferStep* step) {
  const int64_t length = record_.manifest.chunk_length(chunk);
  record_.chunk_done[chunk] = true;
  record_.bytes_done += length;
  --chunks_left_;
  in_flight_.erase(chunk);
  ready_.erase(chunk);
  waiting_.erase(chunk);
  backoff_.erase(chunk);
  corrupt_.erase(chunk);
  while (!recent_.empty() && recent_.front().first <= now - options_.rate_window) {
    recent_.pop_front();
  }
  recent_.emplace_back(now, length);
  step->chunk_done.push_back(ChunkDone{chunk});
  if (chunks_left_ == 0) {
    Enter(TransferState::kDone, now, step);
    step->finished = true;
  }
}

void TransferReceiver::OnCorrupt(int64_t chunk, const std::string& reason, core::Time now,
                                 TransferStep* step) {
  const int32_t attempts = ++corrupt_[chunk];
  if (attempts < options_.max_chunk_attempts) {
    ready_.insert(chunk);
    return;
  }
  const std::string& source =
      record_.source_center.empty() ? record_.manifest.center : record_.source_center;
  record_.error = "chunk " + std::to_string(chunk) + " at byte offset " +
                  std::to_string(chunk * record_.manifest.chunk_size) + " failed verification " +
                  std::to_string(attempts) + " times" +
                  (reason.empty() ? "" : " (" + reason + ")") + "; its copy at " + source +
                  " is corrupt";
  Enter(TransferState::kFailed, now, step);
}

void TransferReceiver::OnUnreachable(int64_t chunk, core::Time now) {
  auto it = backoff_.find(chunk);
  const core::Duration delay =
      it == backoff_.end() ? options_.retry_initial : std::min(it->second * 2, options_.retry_max);
  backoff_[chunk] = delay;
  waiting_[chunk] = now + delay;
}

std::optional<int64_t> TransferReceiver::NextChunk() {
  if (!ready_.empty()) {
    const int64_t chunk = *ready_.begin();
    ready_.erase(ready_.begin());
    return chunk;
  }
  while (cursor_ < chunk_count_ && record_.chunk_done[cursor_]) ++cursor_;
  if (cursor_ == chunk_count_) return std::nullopt;
  return cursor_++;
}

void TransferReceiver::Fill(core::Time now, TransferStep* step) {
  if (!Moving()) return;
  if (chunks_left_ == 0) {  // an empty dataset, or every chunk reported before a restart
    Enter(TransferState::kDone, now, step);
    step->finished = true;
    return;
  }
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    ready_.insert(it->first);
    it = waiting_.erase(it);
  }
  while (in_flight_.size() < streams_) {
    std::optional<int64_t> chunk = NextChunk();
    if (!chunk) break;
    in_flight_.insert(*chunk);
    step->fetch.push_back(*chunk);
  }
}

TransferStep TransferReceiver::Tick(core::Time now) {
  TransferStep step;
  Fill(now, &step);
  return step;
}

std::optional<core::Time> TransferReceiver::NextDeadline() const {
  if (!Moving() || waiting_.empty()) return std::nullopt;
  core::Time earliest = waiting_.begin()->second;
  for (const auto& [chunk, due] : waiting_) earliest = std::min(earliest, due);
  return earliest;
}

TransferStep TransferReceiver::Cancel(core::Time now) {
  TransferStep step;
  if (!started_ || IsTerminal(record_.state)) return step;
  Enter(TransferState::kCancelled, now, &step);
  return step;
}

TransferStep TransferReceiver::Fail(std::string reason, core::Time now) {
  TransferStep step;
  if (!started_ || record_.state == TransferState::kFailed ||
      record_.state == TransferState::kCancelled) {
    return step;
  }
  record_.error = std::move(reason);
  Enter(TransferState::kFailed, now, &step);
  return step;
}

TransferProgress TransferReceiver::Progress(core::Time now) const {
  TransferProgress p;
  if (!started_) return p;
  p.bytes_done = record_.bytes_done;
  p.total = record_.manifest.size;
  if (record_.state == TransferState::kDone) p.eta = core::Duration(0);
  if (!Moving()) return p;
  const core::Time window_start = std::max(now - options_.rate_window, active_since_);
  int64_t bytes = 0;
  for (const auto& [at, length] : recent_) {
    if (at > now - options_.rate_window && at <= now) bytes += length;
  }
  const int64_t span_ms = (now - window_start).count();
  if (span_ms <= 0 || bytes == 0) return p;
  p.rate_bytes_per_s = static_cast<int64_t>(core::Int128{bytes} * 1000 / span_ms);
  const core::Int128 left = core::Int128{p.total - p.bytes_done} * span_ms;
  p.eta = core::Duration(static_cast<int64_t>((left + bytes - 1) / bytes));
  return p;
}

}  // namespace edwc::federation
