#include "federation/settlement.h"

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <limits>
#include <set>
#include <utility>

#include "core/accelerator.h"
#include "core/dataset.h"
#include "core/json.h"
#include "federation/codec.h"
#include "federation/holds.h"
#include "federation/job_router.h"
#include "federation/settlement_internal.h"
#include "federation/transfer.h"
#include "pricing/price.h"
#include "storage/dataset_store.h"

namespace edwc::federation {

namespace json = boost::json;

namespace {

constexpr std::pair<SettlementKind, std::string_view> kKindNames[] = {
    {SettlementKind::kCompute, "compute"},
    {SettlementKind::kEgress, "egress"},
};

constexpr std::pair<SettlementState, std::string_view> kStateNames[] = {
    {SettlementState::kOffered, "offered"},
    {SettlementState::kAgreed, "agreed"},
    {SettlementState::kDisputed, "disputed"},
};

constexpr std::pair<DiscrepancyKind, std::string_view> kDiscrepancyNames[] = {
    {DiscrepancyKind::kMissingHere, "missing_here"},
    {DiscrepancyKind::kMissingThere, "missing_there"},
    {DiscrepancyKind::kAmountMismatch, "amount_mismatch"},
    {DiscrepancyKind::kContentMismatch, "content_mismatch"},
    {DiscrepancyKind::kDuplicate, "duplicate"},
};

constexpr int64_t kMsPerHour = 3'600'000;
constexpr int64_t kChinaOffsetMs = 8 * kMsPerHour;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

int64_t Ms(core::Time t) { return t.time_since_epoch().count(); }
core::Time FromMs(int64_t ms) { return core::Time(core::Duration(ms)); }

// round_half_away(accelerator_ms x fp16_dense_tflops / 3600); 0 for unknown models.
core::Result<int64_t> PflopsMicrohours(std::string_view model, int64_t accelerator_ms) {
  const core::AcceleratorModel* m = core::FindAccelerator(model);
  if (m == nullptr) return int64_t{0};
  int64_t out = 0;
  if (!core::DivRoundHalfAway(core::Int128{accelerator_ms} * m->fp16_dense_tflops, 3600, &out)) {
    return core::InvalidArgument("pflops_microhours out of range", "pflops_microhours");
  }
  return out;
}

// The firm price per device-hour at `at`, times the surge, rounded once.
core::Result<core::Money> UnitPrice(const FirmTerms& firm, core::Time at) {
  return pricing::PriceAt(firm.schedule, at).MulDiv(firm.surge_permille, 1000);
}

core::Status CheckHash(std::string_view hex, std::string_view field) {
  if (!core::ValidSha256Hex(hex)) {
    return core::InvalidArgument("must be 64 lowercase hex digits", std::string(field));
  }
  return core::Status::Ok();
}

core::Result<int64_t> GetNonNegative(const json::object& o, std::string_view field) {
  return core::GetInt(o, field, 0, kInt64Max);
}

core::Result<core::Time> GetTimeMs(const json::object& o, std::string_view field) {
  EDWC_ASSIGN_OR_RETURN(int64_t ms, GetNonNegative(o, field));
  return FromMs(ms);
}

}  // namespace

namespace settlement_internal {

std::string Fixed(int64_t value, int digits) { return core::FormatDecimal(value, digits, true); }

std::string Counterparty(const SettlementBody& b, std::string_view self) {
  return b.payee == self ? b.payer : b.payee;
}

std::string_view Direction(const SettlementBody& b, std::string_view self) {
  return b.payee == self ? "receivable" : "payable";
}

bool FitsInt64(core::Int128 v) {
  return v >= std::numeric_limits<int64_t>::min() && v <= kInt64Max;
}

}  // namespace settlement_internal

using settlement_internal::Counterparty;
using settlement_internal::Direction;
using settlement_internal::FitsInt64;
using settlement_internal::Fixed;

std::string_view SettlementKindName(SettlementKind kind) { return codec::NameOf(kKindNames, kind); }
std::optional<SettlementKind> SettlementKindFromName(std::string_view name) {
  return codec::ValueOf(kKindNames, name);
}
std::string_view SettlementStateName(SettlementState state) {
  return codec::NameOf(kStateNames, state);
}
std::optional<SettlementState> SettlementStateFromName(std::string_view name) {
  return codec::ValueOf(kStateNames, name);
}
std::string_view DiscrepancyKindName(DiscrepancyKind kind) {
  return codec::NameOf(kDiscrepancyNames, kind);
}

std::string SettlementId(SettlementKind kind, std::string_view source) {
  return std::string(SettlementKindName(kind)) + "/" + std::string(source);
}

std::string CanonicalBytes(const SettlementBody& body) { return json::serialize(ToJson(body)); }

std::string CountersignBytes(const SettlementBody& body, std::string_view payee_sig) {
  return CanonicalBytes(body) + "\n" + std::string(payee_sig);
}

std::string BodyHash(const SettlementBody& body) {
  return storage::Sha256Hex(CanonicalBytes(body));
}

std::string ChinaDay(core::Time t) {
  using namespace std::chrono;
  const sys_days day = floor<days>(sys_time<milliseconds>(milliseconds(Ms(t) + kChinaOffsetMs)));
  const year_month_day ymd(day);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

core::Result<core::Time> ChinaDayStart(std::string_view day) {
  using namespace std::chrono;
  const auto bad = [&] {
    return core::InvalidArgument("must be a date YYYY-MM-DD, not '" + std::string(day) + "'",
                                 "day");
  };
  if (day.size() != 10 || day[4] != '-' || day[7] != '-') return bad();
  int parts[3] = {0, 0, 0};
  const size_t starts[3] = {0, 5, 8};
  const size_t lengths[3] = {4, 2, 2};
  for (int p = 0; p < 3; ++p) {
    for (size_t i = starts[p]; i < starts[p] + lengths[p]; ++i) {
      if (day[i] < '0' || day[i] > '9') return bad();
      parts[p] = parts[p] * 10 + (day[i] - '0');
    }
  }
  const year_month_day ymd{year(parts[0]), month(static_cast<unsigned>(parts[1])),
                           std::chrono::day(static_cast<unsigned>(parts[2]))};
  if (!ymd.ok()) return bad();
  const int64_t ms = duration_cast<milliseconds>(sys_days(ymd).time_since_epoch()).count();
  return FromMs(ms - kChinaOffsetMs);
}

// ---- Codecs ---------------------------------------------------------------------------

json::object ToJson(const SettlementBody& b) {
  return json::object{{"id", b.id},
                      {"seq", b.seq},
                      {"prev_hash", b.prev_hash},
                      {"payee", b.payee},
                      {"payer", b.payer},
                      {"kind", SettlementKindName(b.kind)},
                      {"source", b.source},
                      {"job", b.job},
                      {"model", b.model},
                      {"devices", b.devices},
                      {"accelerator_ms", b.accelerator_ms},
                      {"bytes", b.bytes},
                      {"pflops_microhours", b.pflops_microhours},
                      {"unit_price_fen", b.unit_price.fen()},
                      {"amount_fen", b.amount.fen()},
                      {"period_start_ms", Ms(b.period_start)},
                      {"period_end_ms", Ms(b.period_end)},
                      {"issued_at_ms", Ms(b.issued_at)}};
}

core::Result<SettlementBody> SettlementBodyFromJson(const json::value& value) {
  EDWC_ASSIGN_OR_RETURN(const json::object* o, codec::AsObject(value, ""));
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(
      *o, {"id", "seq", "prev_hash", "payee", "payer", "kind", "source", "job", "model", "devices",
           "accelerator_ms", "bytes", "pflops_microhours", "unit_price_fen", "amount_fen",
           "period_start_ms", "period_end_ms", "issued_at_ms"}));
  SettlementBody b;
  EDWC_ASSIGN_OR_RETURN(b.id, core::GetString(*o, "id"));
  EDWC_ASSIGN_OR_RETURN(int64_t seq, core::GetInt(*o, "seq", 1, kInt64Max));
  b.seq = static_cast<uint64_t>(seq);
  EDWC_ASSIGN_OR_RETURN(b.prev_hash, core::GetString(*o, "prev_hash"));
  EDWC_RETURN_IF_ERROR(CheckHash(b.prev_hash, "prev_hash"));
  EDWC_ASSIGN_OR_RETURN(b.payee, core::GetString(*o, "payee"));
  EDWC_ASSIGN_OR_RETURN(b.payer, core::GetString(*o, "payer"));
  if (b.payee.empty()) return core::InvalidArgument("must not be empty", "payee");
  if (b.payer.empty()) return core::InvalidArgument("must not be empty", "payer");
  if (b.payee == b.payer) return core::InvalidArgument("must differ from payee", "payer");
  EDWC_ASSIGN_OR_RETURN(b.kind, codec::GetEnum(*o, "kind", kKindNames));
  EDWC_ASSIGN_OR_RETURN(b.source, core::GetString(*o, "source"));
  if (b.id != SettlementId(b.kind, b.source)) {
    return core::InvalidArgument("must be '" + SettlementId(b.kind, b.source) + "'", "id");
  }
  EDWC_ASSIGN_OR_RETURN(b.job, core::GetString(*o, "job"));
  EDWC_ASSIGN_OR_RETURN(b.model, core::GetString(*o, "model"));
  EDWC_ASSIGN_OR_RETURN(b.devices, codec::GetI32(*o, "devices", 0, INT32_MAX));
  EDWC_ASSIGN_OR_RETURN(b.accelerator_ms, GetNonNegative(*o, "accelerator_ms"));
  EDWC_ASSIGN_OR_RETURN(b.bytes, GetNonNegative(*o, "bytes"));
  EDWC_ASSIGN_OR_RETURN(b.pflops_microhours, GetNonNegative(*o, "pflops_microhours"));
  EDWC_ASSIGN_OR_RETURN(b.unit_price, codec::GetFen(*o, "unit_price_fen"));
  EDWC_ASSIGN_OR_RETURN(b.amount, codec::GetFen(*o, "amount_fen"));
  EDWC_ASSIGN_OR_RETURN(b.period_start, GetTimeMs(*o, "period_start_ms"));
  EDWC_ASSIGN_OR_RETURN(b.period_end, GetTimeMs(*o, "period_end_ms"));
  if (b.period_end < b.period_start) {
    return core::InvalidArgument("must not be before period_start_ms", "period_end_ms");
  }
  EDWC_ASSIGN_OR_RETURN(b.issued_at, GetTimeMs(*o, "issued_at_ms"));
  return b;
}

json::object ToJson(const Settlement& s) {
  json::array fields;
  for (const std::string& f : s.disputed_fields) fields.emplace_back(f);
  json::value payer_version = nullptr;
  if (s.payer_version) payer_version = ToJson(*s.payer_version);
  return json::object{{"body", ToJson(s.body)},
                      {"hash", s.hash},
                      {"state", SettlementStateName(s.state)},
                      {"payee_cert", s.payee_cert},
                      {"payee_sig", s.payee_sig},
                      {"payer_cert", s.payer_cert},
                      {"payer_sig", s.payer_sig},
                      {"payer_version", std::move(payer_version)},
                      {"disputed_fields", std::move(fields)},
                      {"dispute_reason", s.dispute_reason},
                      {"updated_at_ms", Ms(s.updated_at)}};
}

core::Result<Settlement> SettlementFromJson(const json::value& value) {
  EDWC_ASSIGN_OR_RETURN(const json::object* o, codec::AsObject(value, ""));
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(
      *o, {"body", "hash", "state", "payee_cert", "payee_sig", "payer_cert", "payer_sig",
           "payer_version", "disputed_fields", "dispute_reason", "updated_at_ms"}));
  Settlement s;
  const json::value* body = codec::Field(*o, "body");
  if (body == nullptr) return core::InvalidArgument("is required", "body");
  auto parsed_body = SettlementBodyFromJson(*body);
  if (!parsed_body.ok()) return codec::Nested(parsed_body.status(), "body");
  s.body = std::move(*parsed_body);
  EDWC_ASSIGN_OR_RETURN(s.hash, core::GetString(*o, "hash"));
  EDWC_RETURN_IF_ERROR(CheckHash(s.hash, "hash"));
  EDWC_ASSIGN_OR_RETURN(s.state, codec::GetEnum(*o, "state", kStateNames));
  EDWC_ASSIGN_OR_RETURN(s.payee_cert, core::GetString(*o, "payee_cert"));
  EDWC_ASSIGN_OR_RETURN(s.payee_sig, core::GetString(*o, "payee_sig"));
  EDWC_ASSIGN_OR_RETURN(s.payer_cert, core::GetString(*o, "payer_cert"));
  EDWC_ASSIGN_OR_RETURN(s.payer_sig, core::GetString(*o, "payer_sig"));
  if (!s.payee_cert.empty()) EDWC_RETURN_IF_ERROR(CheckHash(s.payee_cert, "payee_cert"));
  if (!s.payer_cert.empty()) EDWC_RETURN_IF_ERROR(CheckHash(s.payer_cert, "payer_cert"));
  if (!o->contains("payer_version")) return core::InvalidArgument("is required", "payer_version");
  if (const json::value* v = codec::Field(*o, "payer_version")) {
    auto parsed = SettlementBodyFromJson(*v);
    if (!parsed.ok()) return codec::Nested(parsed.status(), "payer_version");
    s.payer_version = std::move(*parsed);
  }
  EDWC_ASSIGN_OR_RETURN(const json::array* fields, codec::GetArray(*o, "disputed_fields"));
  for (size_t i = 0; i < fields->size(); ++i) {
    const json::value& f = (*fields)[i];
    if (!f.is_string()) {
      return core::InvalidArgument("must be a string",
                                   "disputed_fields[" + std::to_string(i) + "]");
    }
    s.disputed_fields.emplace_back(f.get_string());
  }
  EDWC_ASSIGN_OR_RETURN(s.dispute_reason, core::GetString(*o, "dispute_reason"));
  EDWC_ASSIGN_OR_RETURN(s.updated_at, GetTimeMs(*o, "updated_at_ms"));
  return s;
}

json::object ToJson(const EgressClaim& c) {
  return json::object{
      {"transfer", c.transfer},       {"sender", c.sender}, {"receiver", c.receiver},
      {"dataset", c.dataset},         {"bytes", c.bytes},   {"started_ms", Ms(c.started)},
      {"finished_ms", Ms(c.finished)}};
}

core::Result<EgressClaim> EgressClaimFromJson(const json::value& value) {
  EDWC_ASSIGN_OR_RETURN(const json::object* o, codec::AsObject(value, ""));
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(
      *o, {"transfer", "sender", "receiver", "dataset", "bytes", "started_ms", "finished_ms"}));
  EgressClaim c;
  EDWC_ASSIGN_OR_RETURN(c.transfer, core::GetString(*o, "transfer"));
  EDWC_ASSIGN_OR_RETURN(c.sender, core::GetString(*o, "sender"));
  EDWC_ASSIGN_OR_RETURN(c.receiver, core::GetString(*o, "receiver"));
  EDWC_ASSIGN_OR_RETURN(c.dataset, core::GetString(*o, "dataset"));
  EDWC_ASSIGN_OR_RETURN(c.bytes, GetNonNegative(*o, "bytes"));
  EDWC_ASSIGN_OR_RETURN(c.started, GetTimeMs(*o, "started_ms"));
  EDWC_ASSIGN_OR_RETURN(c.finished, GetTimeMs(*o, "finished_ms"));
  if (c.finished < c.started) {
    return core::InvalidArgument("must not be before started_ms", "finished_ms");
  }
  return c;
}

json::object ToJson(const DayDigest& d) {
  return json::object{{"day", d.day},
                      {"count", d.count},
                      {"total_fen", d.total.fen()},
                      {"total_cny", d.total.ToYuanString()},
                      {"digest", d.digest}};
}

core::Result<DayDigest> DayDigestFromJson(const json::value& value) {
  EDWC_ASSIGN_OR_RETURN(const json::object* o, codec::AsObject(value, ""));
  EDWC_RETURN_IF_ERROR(
      core::RejectUnknownFields(*o, {"day", "count", "total_fen", "total_cny", "digest"}));
  DayDigest d;
  EDWC_ASSIGN_OR_RETURN(d.day, core::GetString(*o, "day"));
  if (!ChinaDayStart(d.day).ok()) return core::InvalidArgument("must be YYYY-MM-DD", "day");
  EDWC_ASSIGN_OR_RETURN(d.count, GetNonNegative(*o, "count"));
  EDWC_ASSIGN_OR_RETURN(d.total, codec::GetFen(*o, "total_fen"));
  EDWC_ASSIGN_OR_RETURN(std::string cny, core::GetString(*o, "total_cny"));
  if (cny != d.total.ToYuanString()) {
    return core::InvalidArgument("does not match total_fen", "total_cny");
  }
  EDWC_ASSIGN_OR_RETURN(d.digest, core::GetString(*o, "digest"));
  EDWC_RETURN_IF_ERROR(CheckHash(d.digest, "digest"));
  return d;
}

json::object ToView(const Settlement& s, std::string_view self) {
  const SettlementBody& b = s.body;
  json::object o{{"id", b.id},
                 {"day", ChinaDay(b.period_end)},
                 {"direction", Direction(b, self)},
                 {"counterparty", Counterparty(b, self)},
                 {"state", SettlementStateName(s.state)},
                 {"seq", b.seq},
                 {"prev_hash", b.prev_hash},
                 {"hash", s.hash},
                 {"payee", b.payee},
                 {"payer", b.payer},
                 {"kind", SettlementKindName(b.kind)},
                 {"source", b.source},
                 {"job", b.job},
                 {"model", b.model},
                 {"devices", b.devices},
                 {"accelerator_seconds", Fixed(b.accelerator_ms, 3)},
                 {"bytes", b.bytes},
                 {"pflops_hours", Fixed(b.pflops_microhours, 6)},
                 {"unit_price_fen", b.unit_price.fen()},
                 {"unit_price_cny", b.unit_price.ToYuanString()},
                 {"amount_fen", b.amount.fen()},
                 {"amount_cny", b.amount.ToYuanString()},
                 {"period_start", core::FormatRfc3339(b.period_start)},
                 {"period_end", core::FormatRfc3339(b.period_end)},
                 {"issued_at", core::FormatRfc3339(b.issued_at)}};
  if (s.state == SettlementState::kDisputed) {
    json::array fields;
    for (const std::string& f : s.disputed_fields) fields.emplace_back(f);
    o["disputed_fields"] = std::move(fields);
    o["dispute_reason"] = s.dispute_reason;
  }
  return o;
}

// ---- Building and checking ------------------------------------------------------------

core::Result<SettlementBody> ComputeSettlement(const HoldRecord& hold, std::string_view payee) {
  if (!hold.usage) {
    return core::Status(core::Code::kFailedPrecondition, "hold " + hold.hold_id + " has no usage");
  }
  const HoldUsage& u = *hold.usage;
  SettlementBody b;
  b.id = SettlementId(SettlementKind::kCompute, hold.hold_id);
  b.payee = std::string(payee);
  b.payer = hold.router;
  b.kind = SettlementKind::kCompute;
  b.source = hold.hold_id;
  b.job = hold.job_id;
  b.model = hold.terms.model;
  b.devices = hold.terms.count;
  b.accelerator_ms = u.accelerator_ms;
  EDWC_ASSIGN_OR_RETURN(b.pflops_microhours, PflopsMicrohours(b.model, b.accelerator_ms));
  EDWC_ASSIGN_OR_RETURN(b.unit_price, UnitPrice(hold.firm, u.started));
  b.amount = u.cost;
  b.period_start = u.started;
  b.period_end = u.ended;
  return b;
}

core::Result<SettlementBody> EgressSettlement(const EgressClaim& claim, core::Money per_gb) {
  if (claim.bytes < 0) return core::InvalidArgument("must not be negative", "bytes");
  if (claim.finished < claim.started) {
    return core::InvalidArgument("must not be before started", "finished");
  }
  if (per_gb < core::Money()) return core::InvalidArgument("must not be negative", "per_gb");
  SettlementBody b;
  b.source = claim.transfer + "/" + claim.sender;
  b.id = SettlementId(SettlementKind::kEgress, b.source);
  b.payee = claim.sender;
  b.payer = claim.receiver;
  b.kind = SettlementKind::kEgress;
  b.job = claim.transfer;
  b.bytes = claim.bytes;
  b.unit_price = per_gb;
  EDWC_ASSIGN_OR_RETURN(b.amount, pricing::EgressCost(per_gb, static_cast<uint64_t>(claim.bytes)));
  b.period_start = claim.started;
  b.period_end = claim.finished;
  return b;
}

core::Result<SettlementBody> ExpectCompute(const SettlementBody& offered, const JobRecord& job) {
  size_t i = 0;
  while (i < job.attempts.size() && job.attempts[i].hold_id != offered.source) ++i;
  if (i == job.attempts.size() || i >= job.candidates.size()) {
    return core::NotFound("no attempt of job " + job.job_id + " holds " + offered.source, "source");
  }
  if (!job.terms) {
    return core::Status(core::Code::kFailedPrecondition,
                        "job " + job.job_id + " has no firm terms");
  }
  SettlementBody b = offered;
  b.kind = SettlementKind::kCompute;
  b.id = SettlementId(SettlementKind::kCompute, offered.source);
  b.job = job.job_id;
  b.payee = job.attempts[i].center;
  b.model = job.candidates[i].model;
  b.devices = job.candidates[i].count;
  b.bytes = 0;
  const core::Int128 ms =
      core::Int128{b.devices} * (offered.period_end - offered.period_start).count();
  if (!FitsInt64(ms) || ms < 0) {
    return core::InvalidArgument("period out of range", "period_end_ms");
  }
  b.accelerator_ms = static_cast<int64_t>(ms);
  EDWC_ASSIGN_OR_RETURN(b.pflops_microhours, PflopsMicrohours(b.model, b.accelerator_ms));
  EDWC_ASSIGN_OR_RETURN(b.unit_price, UnitPrice(*job.terms, offered.period_start));
  EDWC_ASSIGN_OR_RETURN(b.amount,
                        pricing::ComputeCost(job.terms->schedule, b.devices, offered.period_start,
                                             offered.period_end, job.terms->surge_permille));
  return b;
}

core::Result<SettlementBody> ExpectEgress(const SettlementBody& offered,
                                          const TransferRecord& transfer, std::string_view self) {
  const TransferLeg* leg = nullptr;
  for (const TransferLeg& l : transfer.plan.legs) {
    if (l.from == offered.payee && l.to == self) leg = &l;
  }
  if (leg == nullptr) {
    return core::NotFound("transfer " + transfer.id + " has no leg from " + offered.payee + " to " +
                              std::string(self),
                          "payee");
  }
  SettlementBody b = offered;
  b.kind = SettlementKind::kEgress;
  b.source = transfer.id + "/" + offered.payee;
  b.id = SettlementId(SettlementKind::kEgress, b.source);
  b.payer = std::string(self);
  b.job = transfer.id;
  b.model.clear();
  b.devices = 0;
  b.accelerator_ms = 0;
  b.pflops_microhours = 0;
  b.bytes = transfer.manifest.size;
  b.amount = leg->egress;
  return b;
}

std::vector<std::string> DifferingFields(const SettlementBody& a, const SettlementBody& b) {
  std::vector<std::string> out;
  const auto check = [&](bool differs, const char* name) {
    if (differs) out.emplace_back(name);
  };
  check(a.id != b.id, "id");
  check(a.seq != b.seq, "seq");
  check(a.prev_hash != b.prev_hash, "prev_hash");
  check(a.payee != b.payee, "payee");
  check(a.payer != b.payer, "payer");
  check(a.kind != b.kind, "kind");
  check(a.source != b.source, "source");
  check(a.job != b.job, "job");
  check(a.model != b.model, "model");
  check(a.devices != b.devices, "devices");
  check(a.accelerator_ms != b.accelerator_ms, "accelerator_ms");
  check(a.bytes != b.bytes, "bytes");
  check(a.pflops_microhours != b.pflops_microhours, "pflops_microhours");
  check(a.unit_price != b.unit_price, "unit_price_fen");
  check(a.amount != b.amount, "amount_fen");
  check(a.period_start != b.period_start, "period_start_ms");
  check(a.period_end != b.period_end, "period_end_ms");
  check(a.issued_at != b.issued_at, "issued_at_ms");
  return out;
}

// ---- Chains ----------------------------------------------------------------------------

std::optional<ChainBreak> CheckChain(const std::vector<Settlement>& chain) {
  if (chain.empty()) return std::nullopt;
  const SettlementBody& first = chain.front().body;
  if (first.seq != 1) return ChainBreak{first.seq, "first record is " + std::to_string(first.seq)};
  std::set<uint64_t> seen;
  for (size_t i = 0; i < chain.size(); ++i) {
    const SettlementBody& b = chain[i].body;
    if (i > 0) {
      const uint64_t prev = chain[i - 1].body.seq;
      if (seen.count(b.seq) > 0) {
        return ChainBreak{b.seq, "record " + std::to_string(b.seq) + " stored twice"};
      }
      if (b.seq < prev) {
        return ChainBreak{b.seq, "record " + std::to_string(b.seq) + " out of order"};
      }
      if (b.seq > prev + 1) {
        return ChainBreak{prev + 1, "missing record " + std::to_string(prev + 1) + " (next is " +
                                        std::to_string(b.seq) + ")"};
      }
    }
    seen.insert(b.seq);
    if (b.payee != first.payee || b.payer != first.payer) {
      return ChainBreak{b.seq, "payee/payer differ from the chain's"};
    }
    if (chain[i].hash != BodyHash(b)) return ChainBreak{b.seq, "hash does not match the body"};
    if (i == 0) {
      if (b.prev_hash != kGenesisHash) {
        return ChainBreak{b.seq, "prev_hash of record 1 is not the genesis hash"};
      }
    } else if (b.prev_hash != BodyHash(chain[i - 1].body)) {
      return ChainBreak{b.seq, "prev_hash does not match record " + std::to_string(b.seq - 1)};
    }
  }
  return std::nullopt;
}

}  // namespace edwc::federation
