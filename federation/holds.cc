#include "federation/holds.h"

#include <algorithm>
#include <boost/json.hpp>
#include <limits>
#include <set>
#include <utility>

#include "core/dataset.h"
#include "core/ids.h"
#include "core/json.h"
#include "federation/codec.h"
#include "pricing/price.h"

namespace edwc::federation {

namespace json = boost::json;

namespace {

constexpr std::pair<HoldState, std::string_view> kStateNames[] = {
    {HoldState::kHeld, "held"},         {HoldState::kCommitted, "committed"},
    {HoldState::kRunning, "running"},   {HoldState::kSucceeded, "succeeded"},
    {HoldState::kFailed, "failed"},     {HoldState::kCancelled, "cancelled"},
    {HoldState::kReleased, "released"}, {HoldState::kExpired, "expired"},
};

json::object TermsToJson(const HoldTerms& t) {
  json::array command;
  for (const std::string& arg : t.command) command.emplace_back(arg);
  json::array env;
  for (const auto& [name, value] : t.env)
    env.push_back(json::object{{"name", name}, {"value", value}});
  json::object o{{"model", t.model},
                 {"count", t.count},
                 {"duration_ms", t.duration.count()},
                 {"command", std::move(command)},
                 {"env", std::move(env)}};
  if (t.price_cap) o["price_cap_fen"] = t.price_cap->fen();
  if (!t.inputs.empty()) {
    json::array inputs;
    for (const JobInput& in : t.inputs) {
      inputs.push_back(json::object{{"dataset", in.dataset},
                                    {"center", in.center},
                                    {"sha256", in.sha256},
                                    {"size", in.size}});
    }
    o["inputs"] = std::move(inputs);
  }
  return o;
}

core::Result<JobInput> InputFromJson(const json::object& o) {
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(o, {"dataset", "center", "sha256", "size"}));
  JobInput in;
  EDWC_ASSIGN_OR_RETURN(in.dataset, core::GetString(o, "dataset"));
  EDWC_ASSIGN_OR_RETURN(in.center, core::GetString(o, "center"));
  EDWC_ASSIGN_OR_RETURN(in.sha256, core::GetString(o, "sha256"));
  EDWC_ASSIGN_OR_RETURN(in.size, core::GetInt(o, "size", 0, core::kMaxDatasetSize));
  if (!core::ValidDatasetName(in.dataset))
    return core::InvalidArgument("not a dataset name", "dataset");
  if (!core::IsValidCenterId(in.center)) return core::InvalidArgument("not a center id", "center");
  if (!core::ValidSha256Hex(in.sha256)) return core::InvalidArgument("not a SHA-256", "sha256");
  return in;
}

json::object OutputToJson(const JobOutput& out) {
  return {{"dataset", out.dataset}, {"size", out.size}, {"sha256", out.sha256}};
}

core::Result<JobOutput> OutputFromJson(const json::object& o) {
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(o, {"dataset", "size", "sha256"}));
  JobOutput out;
  EDWC_ASSIGN_OR_RETURN(out.dataset, core::GetString(o, "dataset"));
  EDWC_ASSIGN_OR_RETURN(out.size, core::GetInt(o, "size", 0, core::kMaxDatasetSize));
  EDWC_ASSIGN_OR_RETURN(out.sha256, core::GetString(o, "sha256"));
  return out;
}

core::Result<HoldTerms> TermsFromJson(const json::object& o) {
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(
      o, {"model", "count", "duration_ms", "price_cap_fen", "command", "env", "inputs"}));
  HoldTerms t;
  EDWC_ASSIGN_OR_RETURN(t.model, core::GetString(o, "model"));
  EDWC_ASSIGN_OR_RETURN(t.count, codec::GetI32(o, "count", 1, 1 << 20));
  EDWC_ASSIGN_OR_RETURN(t.duration, codec::GetDurationMs(o, "duration_ms"));
  EDWC_ASSIGN_OR_RETURN(t.price_cap, codec::GetOptionalFen(o, "price_cap_fen"));
  if (codec::Field(o, "command") != nullptr) {
    EDWC_ASSIGN_OR_RETURN(const json::array* command, codec::GetArray(o, "command"));
    for (size_t i = 0; i < command->size(); ++i) {
      if (!(*command)[i].is_string()) {
        return core::InvalidArgument("must be a string", "command[" + std::to_string(i) + "]");
      }
      t.command.emplace_back((*command)[i].get_string());
    }
  }
  if (codec::Field(o, "env") != nullptr) {
    EDWC_RETURN_IF_ERROR(codec::ForEachObject(o, "env", [&](const json::object& e) {
      EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(e, {"name", "value"}));
      EDWC_ASSIGN_OR_RETURN(std::string name, core::GetString(e, "name"));
      EDWC_ASSIGN_OR_RETURN(std::string value, core::GetString(e, "value"));
      t.env.emplace_back(std::move(name), std::move(value));
      return core::Status::Ok();
    }));
  }
  if (codec::Field(o, "inputs") != nullptr) {
    EDWC_RETURN_IF_ERROR(codec::ForEachObject(o, "inputs", [&](const json::object& e) {
      EDWC_ASSIGN_OR_RETURN(JobInput in, InputFromJson(e));
      t.inputs.push_back(std::move(in));
      return core::Status::Ok();
    }));
    if (t.inputs.size() > kMaxJobInputs) {
      return core::InvalidArgument("at most " + std::to_string(kMaxJobInputs), "inputs");
    }
  }
  return t;
}

// The first field (by its JSON name) in which a retried request differs from the record.
std::string FirstDifference(const HoldRecord& r, const HoldRequest& q) {
  if (r.job_id != q.job_id) return "job_id";
  if (r.terms.model != q.terms.model) return "model";
  if (r.terms.count != q.terms.count) return "count";
  if (r.terms.duration != q.terms.duration) return "duration_ms";
  if (r.terms.price_cap != q.terms.price_cap) return "price_cap_fen";
  if (r.terms.command != q.terms.command) return "command";
  if (r.terms.env != q.terms.env) return "env";
  if (r.terms.inputs != q.terms.inputs) return "inputs";
  return {};
}

// What a hold adds to its router's exposure: the estimate while active, then the cost.
core::Money ExposureOf(const HoldRecord& r) {
  if (IsActive(r.state)) return r.firm.estimated_total;
  return r.usage ? r.usage->cost : core::Money();
}

HoldOpResult NoSuchHold() {
  HoldOpResult out;
  out.status = core::NotFound("no such hold", "hold_id");
  return out;
}

core::Result<core::Money> Cost(const FirmTerms& firm, int32_t count, core::Time start,
                               core::Time end) {
  return pricing::ComputeCost(firm.schedule, count, start, std::max(start, end),
                              firm.surge_permille);
}

}  // namespace

std::string_view HoldStateName(HoldState state) { return codec::NameOf(kStateNames, state); }

std::optional<HoldState> HoldStateFromName(std::string_view name) {
  return codec::ValueOf(kStateNames, name);
}

// ---- Codecs ---------------------------------------------------------------------------

json::object ToJson(const HoldRequest& request) {
  return json::object{{"hold_id", request.hold_id},
                      {"job_id", request.job_id},
                      {"terms", TermsToJson(request.terms)},
                      {"ttl_ms", request.ttl.count()}};
}

core::Result<HoldRequest> HoldRequestFromJson(const json::value& value) {
  EDWC_ASSIGN_OR_RETURN(const json::object* o, codec::AsObject(value, ""));
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(*o, {"hold_id", "job_id", "terms", "ttl_ms"}));
  HoldRequest q;
  EDWC_ASSIGN_OR_RETURN(q.hold_id, core::GetString(*o, "hold_id"));
  EDWC_ASSIGN_OR_RETURN(q.job_id, core::GetString(*o, "job_id"));
  EDWC_ASSIGN_OR_RETURN(q.terms, codec::ReadObject(*o, "terms", TermsFromJson));
  EDWC_ASSIGN_OR_RETURN(q.ttl, codec::GetDurationMs(*o, "ttl_ms"));
  return q;
}

json::object ToJson(const FirmTerms& terms) {
  return json::object{{"schedule", codec::ScheduleToJson(terms.schedule)},
                      {"surge_permille", terms.surge_permille},
                      {"estimated_total_fen", terms.estimated_total.fen()}};
}

core::Result<FirmTerms> FirmTermsFromJson(const json::value& value) {
  EDWC_ASSIGN_OR_RETURN(const json::object* o, codec::AsObject(value, ""));
  EDWC_RETURN_IF_ERROR(
      core::RejectUnknownFields(*o, {"schedule", "surge_permille", "estimated_total_fen"}));
  FirmTerms f;
  EDWC_ASSIGN_OR_RETURN(f.schedule, codec::ReadObject(*o, "schedule", codec::ScheduleFromJson));
  EDWC_ASSIGN_OR_RETURN(f.surge_permille, codec::GetI32(*o, "surge_permille", 0, 1000000));
  EDWC_ASSIGN_OR_RETURN(f.estimated_total, codec::GetFen(*o, "estimated_total_fen"));
  return f;
}

json::object ToJson(const HoldUsage& usage) {
  json::object o{{"started", core::FormatRfc3339(usage.started)},
                 {"ended", core::FormatRfc3339(usage.ended)},
                 {"accelerator_ms", usage.accelerator_ms},
                 {"exit_code", usage.exit_code},
                 {"message", usage.message},
                 {"cost_fen", usage.cost.fen()}};
  if (usage.output) o["output"] = OutputToJson(*usage.output);
  return o;
}

core::Result<HoldUsage> HoldUsageFromJson(const json::value& value) {
  EDWC_ASSIGN_OR_RETURN(const json::object* o, codec::AsObject(value, ""));
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(
      *o, {"started", "ended", "accelerator_ms", "exit_code", "message", "cost_fen", "output"}));
  HoldUsage u;
  EDWC_ASSIGN_OR_RETURN(u.started, codec::GetTime(*o, "started"));
  EDWC_ASSIGN_OR_RETURN(u.ended, codec::GetTime(*o, "ended"));
  EDWC_ASSIGN_OR_RETURN(u.accelerator_ms,
                        core::GetInt(*o, "accelerator_ms", 0, std::numeric_limits<int64_t>::max()));
  EDWC_ASSIGN_OR_RETURN(u.exit_code, codec::GetI32(*o, "exit_code", INT32_MIN, INT32_MAX));
  EDWC_ASSIGN_OR_RETURN(u.message, codec::GetText(*o, "message"));
  EDWC_ASSIGN_OR_RETURN(u.cost, codec::GetFen(*o, "cost_fen"));
  if (codec::Field(*o, "output") != nullptr) {
    EDWC_ASSIGN_OR_RETURN(u.output, codec::ReadObject(*o, "output", OutputFromJson));
  }
  return u;
}

json::object ToJson(const HoldRecord& r) {
  json::array devices;
  for (int32_t d : r.devices) devices.emplace_back(d);
  json::object o{{"hold_id", r.hold_id},
                 {"job_id", r.job_id},
                 {"router", r.router},
                 {"terms", TermsToJson(r.terms)},
                 {"state", HoldStateName(r.state)},
                 {"devices", std::move(devices)},
                 {"firm", ToJson(r.firm)},
                 {"granted_at", core::FormatRfc3339(r.granted_at)},
                 {"expires_at", core::FormatRfc3339(r.expires_at)},
                 {"executor_ref", r.executor_ref},
                 {"cancel_requested", r.cancel_requested},
                 {"version", r.version}};
  codec::PutTime(o, "committed_at", r.committed_at);
  codec::PutTime(o, "started_at", r.started_at);
  codec::PutTime(o, "ended_at", r.ended_at);
  if (r.usage) o["usage"] = ToJson(*r.usage);
  return o;
}

core::Result<HoldRecord> HoldRecordFromJson(const json::value& value) {
  EDWC_ASSIGN_OR_RETURN(const json::object* o, codec::AsObject(value, ""));
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(
      *o, {"hold_id", "job_id", "router", "terms", "state", "devices", "firm", "granted_at",
           "expires_at", "committed_at", "started_at", "ended_at", "executor_ref",
           "cancel_requested", "usage", "version"}));
  HoldRecord r;
  EDWC_ASSIGN_OR_RETURN(r.hold_id, core::GetString(*o, "hold_id"));
  EDWC_ASSIGN_OR_RETURN(r.job_id, core::GetString(*o, "job_id"));
  EDWC_ASSIGN_OR_RETURN(r.router, core::GetString(*o, "router"));
  EDWC_ASSIGN_OR_RETURN(r.terms, codec::ReadObject(*o, "terms", TermsFromJson));
  EDWC_ASSIGN_OR_RETURN(r.state, codec::GetEnum(*o, "state", kStateNames));
  EDWC_ASSIGN_OR_RETURN(const json::array* devices, codec::GetArray(*o, "devices"));
  for (size_t i = 0; i < devices->size(); ++i) {
    const json::value& d = (*devices)[i];
    if (!d.is_int64() || d.get_int64() < 0 || d.get_int64() > INT32_MAX) {
      return core::InvalidArgument("must be a device index", "devices[" + std::to_string(i) + "]");
    }
    r.devices.push_back(static_cast<int32_t>(d.get_int64()));
  }
  const json::value* firm = codec::Field(*o, "firm");
  if (firm == nullptr) return core::InvalidArgument("is required", "firm");
  auto parsed_firm = FirmTermsFromJson(*firm);
  if (!parsed_firm.ok()) return codec::Nested(parsed_firm.status(), "firm");
  r.firm = std::move(*parsed_firm);
  EDWC_ASSIGN_OR_RETURN(r.granted_at, codec::GetTime(*o, "granted_at"));
  EDWC_ASSIGN_OR_RETURN(r.expires_at, codec::GetTime(*o, "expires_at"));
  EDWC_ASSIGN_OR_RETURN(r.committed_at, core::GetOptionalTime(*o, "committed_at"));
  EDWC_ASSIGN_OR_RETURN(r.started_at, core::GetOptionalTime(*o, "started_at"));
  EDWC_ASSIGN_OR_RETURN(r.ended_at, core::GetOptionalTime(*o, "ended_at"));
  EDWC_ASSIGN_OR_RETURN(r.executor_ref, codec::GetText(*o, "executor_ref"));
  EDWC_ASSIGN_OR_RETURN(r.cancel_requested, codec::GetBool(*o, "cancel_requested"));
  if (const json::value* usage = codec::Field(*o, "usage")) {
    auto parsed = HoldUsageFromJson(*usage);
    if (!parsed.ok()) return codec::Nested(parsed.status(), "usage");
    r.usage = std::move(*parsed);
  }
  EDWC_ASSIGN_OR_RETURN(int64_t version,
                        core::GetInt(*o, "version", 0, std::numeric_limits<int64_t>::max()));
  r.version = static_cast<uint64_t>(version);
  return r;
}

// ---- HoldBook -------------------------------------------------------------------------

HoldBook::HoldBook(std::string self_center) : self_(std::move(self_center)) {}

void HoldBook::SetCapacity(std::string_view model, int32_t total, int32_t external_used) {
  ModelCapacity& c = capacity_[std::string(model)];
  c.total = std::max(0, total);
  c.external_used = std::clamp(external_used, 0, c.total);
}

int32_t HoldBook::ActiveDevices(std::string_view model) const {
  auto it = active_.find(model);
  return it == active_.end() ? 0 : it->second.devices;
}

void HoldBook::Account(const HoldRecord& r, int sign) {
  if (IsActive(r.state)) {
    auto it = active_.try_emplace(r.terms.model).first;
    it->second.devices += sign * static_cast<int32_t>(r.devices.size());
    if (sign > 0) {
      it->second.hold_ids.insert(r.hold_id);
    } else {
      it->second.hold_ids.erase(r.hold_id);
    }
    if (it->second.hold_ids.empty()) active_.erase(it);
  }
  if (const int64_t fen = ExposureOf(r).fen(); fen != 0) {
    auto it = exposure_.try_emplace(r.router, 0).first;
    it->second += sign * core::Int128{fen};
    if (it->second == 0) exposure_.erase(it);
  }
}

int32_t HoldBook::Free(std::string_view model) const {
  auto it = capacity_.find(model);
  if (it == capacity_.end()) return 0;
  return std::max(0, it->second.total - it->second.external_used - ActiveDevices(model));
}

void HoldBook::Finish(HoldRecord& r, HoldState state, core::Time at,
                      std::optional<HoldUsage> usage) {
  Account(r, -1);
  r.state = state;
  if (usage) r.usage = std::move(usage);
  r.ended_at = at;
  r.cancel_requested = false;
  ++r.version;
  Account(r, +1);
}

void HoldBook::ExpireIfDue(HoldRecord& r, core::Time now, std::vector<HoldRecord>* persist) {
  if (r.state != HoldState::kHeld || now < r.expires_at) return;
  Finish(r, HoldState::kExpired, r.expires_at);
  persist->push_back(r);
}

HoldRecord* HoldBook::Find(std::string_view hold_id) {
  auto it = holds_.find(hold_id);
  return it == holds_.end() ? nullptr : &it->second;
}

HoldRecord* HoldBook::Find(std::string_view hold_id, std::string_view router) {
  HoldRecord* r = Find(hold_id);
  return r == nullptr || r->router != router ? nullptr : r;
}

const HoldRecord* HoldBook::Get(std::string_view hold_id) const {
  auto it = holds_.find(hold_id);
  return it == holds_.end() ? nullptr : &it->second;
}

CreateResult HoldBook::Create(const HoldRequest& q, std::string_view router, core::Time now,
                              const PriceSnapshot& prices) {
  CreateResult out;
  if (q.hold_id.empty()) {
    out.status = core::InvalidArgument("is required", "hold_id");
  } else if (q.job_id.empty()) {
    out.status = core::InvalidArgument("is required", "job_id");
  } else if (q.terms.model.empty()) {
    out.status = core::InvalidArgument("is required", "model");
  } else if (q.terms.count < 1) {
    out.status = core::InvalidArgument("must be at least 1", "count");
  } else if (q.terms.duration.count() <= 0) {
    out.status = core::InvalidArgument("must be positive", "duration_ms");
  }
  if (!out.status.ok()) return out;

  if (auto it = holds_.find(q.hold_id); it != holds_.end()) {
    HoldRecord& r = it->second;
    if (r.router != router) {
      out.status = core::Status(core::Code::kPermissionDenied, "hold id belongs to another center",
                                "hold_id");
      return out;
    }
    if (std::string field = FirstDifference(r, q); !field.empty()) {
      out.status =
          core::Status(core::Code::kConflict, "hold id reused with a different " + field, field);
      return out;
    }
    ExpireIfDue(r, now, &out.to_persist);
    out.record = r;
    return out;
  }

  auto cap = capacity_.find(q.terms.model);
  auto schedule = prices.schedules.find(q.terms.model);
  if (cap == capacity_.end() || schedule == prices.schedules.end()) {
    out.rejection = HoldRejection{"no_such_model"};
    return out;
  }
  const int32_t free = Free(q.terms.model);
  if (free < q.terms.count) {
    out.rejection = HoldRejection{"too_few_free", free};
    return out;
  }
  const int32_t surge = prices.surge_rule
                            ? pricing::SurgePermille(*prices.surge_rule, cap->second.total, free)
                            : prices.surge_permille;
  FirmTerms firm{schedule->second, surge, {}};
  core::Result<core::Money> estimate = Cost(firm, q.terms.count, now, now + q.terms.duration);
  if (!estimate.ok()) {
    out.status = estimate.status().WithContext("estimate");
    return out;
  }
  firm.estimated_total = *estimate;
  if (q.terms.price_cap && *estimate > *q.terms.price_cap) {
    out.rejection = HoldRejection{"over_price_cap", free, *estimate};
    return out;
  }
  const auto limit_it = prices.credit.limits.find(router);
  const std::optional<core::Money> limit = limit_it != prices.credit.limits.end()
                                               ? std::optional(limit_it->second)
                                               : prices.credit.default_limit;
  if (limit) {
    core::Result<core::Money> exposure = Exposure(router).Add(*estimate);
    if (!exposure.ok() || *exposure > *limit) {
      out.rejection = HoldRejection{"credit_limit", free, *estimate};
      return out;
    }
  }

  std::set<int32_t> used;
  if (auto active = active_.find(q.terms.model); active != active_.end()) {
    for (const std::string& id : active->second.hold_ids) {
      const std::vector<int32_t>& devices = holds_.find(id)->second.devices;
      used.insert(devices.begin(), devices.end());
    }
  }
  HoldRecord r;
  for (int32_t d = 0;
       d < cap->second.total && static_cast<int32_t>(r.devices.size()) < q.terms.count; ++d) {
    if (!used.contains(d)) r.devices.push_back(d);
  }
  assert(static_cast<int32_t>(r.devices.size()) == q.terms.count);
  r.hold_id = q.hold_id;
  r.job_id = q.job_id;
  r.router = std::string(router);
  r.terms = q.terms;
  r.state = HoldState::kHeld;
  r.firm = std::move(firm);
  r.granted_at = now;
  r.expires_at = now + std::clamp(q.ttl, kMinHoldTtl, kMaxHoldTtl);
  r.version = 1;
  out.to_persist.push_back(r);
  out.record = r;
  Account(r, +1);
  holds_.emplace(q.hold_id, std::move(r));
  return out;
}

HoldOpResult HoldBook::Commit(std::string_view hold_id, std::string_view router, core::Time now) {
  HoldRecord* r = Find(hold_id, router);
  if (r == nullptr) return NoSuchHold();
  HoldOpResult out;
  ExpireIfDue(*r, now, &out.to_persist);
  if (r->state == HoldState::kExpired) {
    out.status = core::Status(core::Code::kFailedPrecondition, "hold expired");
  } else if (r->state == HoldState::kReleased) {
    out.status = core::Status(core::Code::kFailedPrecondition, "released");
  } else if (r->state == HoldState::kHeld) {
    r->state = HoldState::kCommitted;
    r->committed_at = now;
    ++r->version;
    out.to_persist.push_back(*r);
    out.start_executor = true;
  }
  out.record = *r;
  return out;
}

HoldOpResult HoldBook::Release(std::string_view hold_id, std::string_view router, core::Time now) {
  HoldRecord* r = Find(hold_id, router);
  if (r == nullptr) return NoSuchHold();
  HoldOpResult out;
  ExpireIfDue(*r, now, &out.to_persist);
  if (r->state == HoldState::kHeld) {
    Finish(*r, HoldState::kReleased, now);
    out.to_persist.push_back(*r);
  } else if (r->committed_at) {
    out.status = core::Status(core::Code::kFailedPrecondition, "committed: use cancel");
  }
  out.record = *r;
  return out;
}

HoldOpResult HoldBook::Cancel(std::string_view hold_id, std::string_view router, core::Time now) {
  HoldRecord* r = Find(hold_id, router);
  if (r == nullptr) return NoSuchHold();
  HoldOpResult out;
  ExpireIfDue(*r, now, &out.to_persist);
  switch (r->state) {
    case HoldState::kHeld:
      Finish(*r, HoldState::kReleased, now);
      out.to_persist.push_back(*r);
      break;
    case HoldState::kCommitted:
      // The driver may be starting it right now: stop whatever it started.
      Finish(*r, HoldState::kCancelled, now);
      out.to_persist.push_back(*r);
      out.stop_executor = true;
      break;
    case HoldState::kRunning:
      if (!r->cancel_requested) {
        r->cancel_requested = true;
        ++r->version;
        out.to_persist.push_back(*r);
      }
      out.stop_executor = true;
      break;
    default:
      break;
  }
  out.record = *r;
  return out;
}

HoldOpResult HoldBook::MarkStarted(std::string_view hold_id, std::string executor_ref,
                                   core::Time started_at) {
  HoldRecord* found = Find(hold_id);
  if (found == nullptr) return NoSuchHold();
  HoldRecord& r = *found;
  HoldOpResult out;
  if (r.state == HoldState::kCommitted) {
    r.state = HoldState::kRunning;
    r.started_at = started_at;
    r.executor_ref = std::move(executor_ref);
    ++r.version;
    out.to_persist.push_back(r);
  } else if (IsTerminal(r.state)) {
    out.stop_executor = true;
  } else if (r.state == HoldState::kHeld) {
    out.status = core::Status(core::Code::kFailedPrecondition, "not committed");
  }
  out.record = r;
  return out;
}

HoldOpResult HoldBook::MarkEnded(std::string_view hold_id, const ExecutorOutcome& outcome) {
  HoldRecord* found = Find(hold_id);
  if (found == nullptr) return NoSuchHold();
  HoldRecord& r = *found;
  HoldOpResult out;
  if (r.state == HoldState::kHeld) {
    out.status = core::Status(core::Code::kFailedPrecondition, "not committed");
  } else if (IsActive(r.state)) {
    if (outcome.state != HoldState::kSucceeded && outcome.state != HoldState::kFailed &&
        outcome.state != HoldState::kCancelled) {
      out.status = core::InvalidArgument("must be succeeded, failed or cancelled", "state");
      return out;
    }
    HoldUsage u;
    u.started = r.started_at.value_or(outcome.started);
    u.ended = std::max(u.started, outcome.ended);
    u.accelerator_ms = int64_t{r.terms.count} * (u.ended - u.started).count();
    u.exit_code = outcome.exit_code;
    u.message = outcome.message;
    u.output = outcome.output;
    core::Result<core::Money> cost = Cost(r.firm, r.terms.count, u.started, u.ended);
    if (cost.ok()) {
      u.cost = *cost;
    } else {
      out.status = cost.status().WithContext("usage cost");
    }
    if (!r.started_at) r.started_at = u.started;
    Finish(r, outcome.state, outcome.ended, std::move(u));
    out.to_persist.push_back(r);
  }
  out.record = r;
  return out;
}

HoldOpResult HoldBook::MarkStartFailed(std::string_view hold_id, std::string message,
                                       core::Time now) {
  HoldRecord* found = Find(hold_id);
  if (found == nullptr) return NoSuchHold();
  HoldRecord& r = *found;
  HoldOpResult out;
  if (r.state == HoldState::kCommitted) {
    HoldUsage u;
    u.started = now;
    u.ended = now;
    u.exit_code = -1;
    u.message = std::move(message);
    Finish(r, HoldState::kFailed, now, std::move(u));
    out.to_persist.push_back(r);
  }
  out.record = r;
  return out;
}

std::vector<HoldRecord> HoldBook::Tick(core::Time now) {
  std::vector<HoldRecord> persist;
  for (auto& [id, r] : holds_) ExpireIfDue(r, now, &persist);
  return persist;
}

std::optional<core::Time> HoldBook::NextDeadline() const {
  std::optional<core::Time> next;
  for (const auto& [id, r] : holds_) {
    if (r.state == HoldState::kHeld && (!next || r.expires_at < *next)) next = r.expires_at;
  }
  return next;
}

RecoverResult HoldBook::Recover(std::vector<HoldRecord> records, core::Time now) {
  RecoverResult out;
  holds_.clear();
  active_.clear();
  exposure_.clear();
  for (HoldRecord& record : records) {
    auto [it, inserted] = holds_.try_emplace(record.hold_id);
    if (!inserted) Account(it->second, -1);  // an older copy of the same id
    HoldRecord& r = it->second = std::move(record);
    Account(r, +1);
    ExpireIfDue(r, now, &out.to_persist);
    if (r.state == HoldState::kCommitted || r.state == HoldState::kRunning) {
      out.to_resume.push_back(r);
    }
  }
  return out;
}

std::map<std::string, CapacitySummary, std::less<>> HoldBook::Summary() const {
  std::map<std::string, CapacitySummary, std::less<>> out;
  for (const auto& [model, c] : capacity_) {
    CapacitySummary& s = out[model];
    s.total = c.total;
    s.external_used = c.external_used;
  }
  for (const auto& [model, active] : active_) {
    CapacitySummary& s = out[model];
    for (const std::string& id : active.hold_ids) {
      const HoldRecord& r = holds_.find(id)->second;
      const auto n = static_cast<int32_t>(r.devices.size());
      if (r.state == HoldState::kHeld) s.held += n;
      if (r.state == HoldState::kCommitted) s.committed += n;
      if (r.state == HoldState::kRunning) s.running += n;
    }
  }
  for (auto& [model, s] : out) {
    const int32_t active = s.held + s.committed + s.running;
    s.free = std::max(0, s.total - s.external_used - active);
    s.over_committed = active > s.total - s.external_used;
  }
  return out;
}

core::Money HoldBook::Exposure(std::string_view router) const {
  auto it = exposure_.find(router);
  if (it == exposure_.end()) return core::Money();
  // Exact in 128 bits so that holds can be taken away again; it only feeds a limit, so
  // beyond int64 it sticks at the bound.
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  return core::Money::Fen(static_cast<int64_t>(std::clamp<core::Int128>(it->second, kMin, kMax)));
}

core::Status HoldBook::CheckInvariants() const {
  std::map<std::string, std::map<int32_t, std::string>, std::less<>> owner;  // model -> dev
  for (const auto& [id, r] : holds_) {
    if (!IsActive(r.state)) continue;
    if (static_cast<int32_t>(r.devices.size()) != r.terms.count) {
      return core::Internal("hold " + id + " holds " + std::to_string(r.devices.size()) +
                            " devices for count " + std::to_string(r.terms.count));
    }
    auto& devs = owner[r.terms.model];
    for (int32_t d : r.devices) {
      if (d < 0) return core::Internal("hold " + id + " has a negative device index");
      auto [it, inserted] = devs.emplace(d, id);
      if (!inserted) {
        return core::Internal("device " + r.terms.model + "[" + std::to_string(d) +
                              "] is in holds " + it->second + " and " + id);
      }
    }
  }
  return CheckIncrementalFigures();
}

core::Status HoldBook::CheckIncrementalFigures() const {
  std::map<std::string, ActiveHolds, std::less<>> active;
  std::map<std::string, core::Int128, std::less<>> exposure;
  for (const auto& [id, r] : holds_) {
    if (IsActive(r.state)) {
      active[r.terms.model].devices += static_cast<int32_t>(r.devices.size());
      active[r.terms.model].hold_ids.insert(id);
    }
    exposure[r.router] += ExposureOf(r).fen();
  }
  std::erase_if(exposure, [](const auto& kv) { return kv.second == 0; });
  for (const auto& [model, a] : active) {
    auto it = active_.find(model);
    if (it == active_.end() || !(it->second == a)) {
      return core::Internal("the active holds of " + model + " drifted from the book");
    }
  }
  if (active.size() != active_.size()) {
    return core::Internal("active holds are counted for a model that has none");
  }
  for (const auto& [router, fen] : exposure) {
    auto it = exposure_.find(router);
    if (it == exposure_.end() || it->second != fen) {
      return core::Internal("the exposure of " + router + " drifted from the book");
    }
  }
  if (exposure.size() != exposure_.size()) {
    return core::Internal("exposure is counted for a router that owes nothing");
  }
  return core::Status::Ok();
}

}  // namespace edwc::federation
