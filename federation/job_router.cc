#include "federation/job_router.h"

#include <algorithm>
#include <boost/json.hpp>
#include <limits>
#include <utility>

#include "core/json.h"
#include "federation/codec.h"

namespace edwc::federation {

namespace json = boost::json;

namespace {

constexpr std::pair<JobState, std::string_view> kJobStateNames[] = {
    {JobState::kPlacing, "placing"},     {JobState::kHeld, "held"},
    {JobState::kCommitted, "committed"}, {JobState::kRunning, "running"},
    {JobState::kSucceeded, "succeeded"}, {JobState::kFailed, "failed"},
    {JobState::kCancelled, "cancelled"},
};

json::object CandidateToJson(const Candidate& c) {
  return json::object{{"center", c.center},
                      {"peer_url", c.peer_url},
                      {"model", c.model},
                      {"count", c.count},
                      {"estimated_total_fen", c.estimated_total.fen()},
                      {"start", core::FormatRfc3339(c.start)},
                      {"finish", core::FormatRfc3339(c.finish)},
                      {"why", c.why}};
}

core::Result<Candidate> CandidateFromJson(const json::object& o) {
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(
      o,
      {"center", "peer_url", "model", "count", "estimated_total_fen", "start", "finish", "why"}));
  Candidate c;
  EDWC_ASSIGN_OR_RETURN(c.center, core::GetString(o, "center"));
  EDWC_ASSIGN_OR_RETURN(c.peer_url, codec::GetText(o, "peer_url"));
  EDWC_ASSIGN_OR_RETURN(c.model, core::GetString(o, "model"));
  EDWC_ASSIGN_OR_RETURN(c.count, codec::GetI32(o, "count", 1, 1 << 20));
  EDWC_ASSIGN_OR_RETURN(c.estimated_total, codec::GetFen(o, "estimated_total_fen"));
  EDWC_ASSIGN_OR_RETURN(c.start, codec::GetTime(o, "start"));
  EDWC_ASSIGN_OR_RETURN(c.finish, codec::GetTime(o, "finish"));
  EDWC_ASSIGN_OR_RETURN(c.why, codec::GetText(o, "why"));
  return c;
}

json::object AttemptToJson(const Attempt& a) {
  return json::object{{"center", a.center},
                      {"hold_id", a.hold_id},
                      {"outcome", a.outcome},
                      {"at", core::FormatRfc3339(a.at)}};
}

core::Result<Attempt> AttemptFromJson(const json::object& o) {
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(o, {"center", "hold_id", "outcome", "at"}));
  Attempt a;
  EDWC_ASSIGN_OR_RETURN(a.center, core::GetString(o, "center"));
  EDWC_ASSIGN_OR_RETURN(a.hold_id, core::GetString(o, "hold_id"));
  EDWC_ASSIGN_OR_RETURN(a.outcome, codec::GetText(o, "outcome"));
  EDWC_ASSIGN_OR_RETURN(a.at, codec::GetTime(o, "at"));
  return a;
}

// The spec travels as hold terms (model and count are per candidate, not stored here).
json::object SpecToJson(const JobSpec& s) {
  HoldTerms t{"-", 1, s.duration, s.price_cap, s.command, s.env, s.inputs};
  json::object o = ToJson(HoldRequest{"-", "-", t, core::Duration(0)}).at("terms").as_object();
  o.erase("model");
  o.erase("count");
  return o;
}

core::Result<JobSpec> SpecFromJson(const json::object& o) {
  json::object terms = o;
  terms["model"] = "-";
  terms["count"] = 1;
  json::object request{{"hold_id", "-"}, {"job_id", "-"}, {"terms", terms}, {"ttl_ms", 0}};
  EDWC_ASSIGN_OR_RETURN(HoldRequest q, HoldRequestFromJson(request));
  return JobSpec{q.terms.duration, q.terms.price_cap, q.terms.command, q.terms.env, q.terms.inputs};
}

std::string HoldIdFor(std::string_view self, std::string_view job_id, size_t attempt) {
  return std::string(self) + "." + std::string(job_id) + "." + std::to_string(attempt + 1);
}

}  // namespace

std::string_view JobStateName(JobState state) { return codec::NameOf(kJobStateNames, state); }

std::optional<JobState> JobStateFromName(std::string_view name) {
  return codec::ValueOf(kJobStateNames, name);
}

std::string_view OutboundKindName(Outbound::Kind kind) {
  switch (kind) {
    case Outbound::Kind::kHold:
      return "hold";
    case Outbound::Kind::kCommit:
      return "commit";
    case Outbound::Kind::kRelease:
      return "release";
    case Outbound::Kind::kCancel:
      return "cancel";
    case Outbound::Kind::kStatus:
      return "status";
  }
  return "unknown";
}

// ---- Codecs ---------------------------------------------------------------------------

json::object ToJson(const JobRecord& j) {
  json::array candidates;
  for (const Candidate& c : j.candidates) candidates.push_back(CandidateToJson(c));
  json::array attempts;
  for (const Attempt& a : j.attempts) attempts.push_back(AttemptToJson(a));
  json::object o{{"job_id", j.job_id},
                 {"idempotency_key", j.idempotency_key},
                 {"owner", j.owner},
                 {"request_json", j.request_json},
                 {"spec", SpecToJson(j.spec)},
                 {"candidates", std::move(candidates)},
                 {"attempts", std::move(attempts)},
                 {"state", JobStateName(j.state)},
                 {"hold_ttl_ms", j.hold_ttl.count()},
                 {"created_at", core::FormatRfc3339(j.created_at)},
                 {"ran_on", j.ran_on},
                 {"remote_state", j.remote_state},
                 {"failure_reason", j.failure_reason},
                 {"cancel_requested", j.cancel_requested},
                 {"version", j.version}};
  codec::PutTime(o, "held_at", j.held_at);
  codec::PutTime(o, "committed_at", j.committed_at);
  codec::PutTime(o, "running_at", j.running_at);
  codec::PutTime(o, "ended_at", j.ended_at);
  if (j.terms) o["terms"] = ToJson(*j.terms);
  if (j.usage) o["usage"] = ToJson(*j.usage);
  return o;
}

core::Result<JobRecord> JobRecordFromJson(const json::value& value) {
  EDWC_ASSIGN_OR_RETURN(const json::object* o, codec::AsObject(value, ""));
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(
      *o, {"job_id",     "idempotency_key", "owner",        "request_json",   "spec",
           "candidates", "attempts",        "state",        "hold_ttl_ms",    "created_at",
           "held_at",    "committed_at",    "running_at",   "ended_at",       "ran_on",
           "terms",      "usage",           "remote_state", "failure_reason", "cancel_requested",
           "version"}));
  JobRecord j;
  EDWC_ASSIGN_OR_RETURN(j.job_id, core::GetString(*o, "job_id"));
  EDWC_ASSIGN_OR_RETURN(j.idempotency_key, codec::GetText(*o, "idempotency_key"));
  EDWC_ASSIGN_OR_RETURN(j.owner, codec::GetText(*o, "owner"));
  EDWC_ASSIGN_OR_RETURN(j.request_json, codec::GetText(*o, "request_json"));
  EDWC_ASSIGN_OR_RETURN(j.spec, codec::ReadObject(*o, "spec", SpecFromJson));
  EDWC_RETURN_IF_ERROR(codec::ReadList(*o, "candidates", CandidateFromJson, &j.candidates));
  EDWC_RETURN_IF_ERROR(codec::ReadList(*o, "attempts", AttemptFromJson, &j.attempts));
  EDWC_ASSIGN_OR_RETURN(j.state, codec::GetEnum(*o, "state", kJobStateNames));
  EDWC_ASSIGN_OR_RETURN(int64_t ttl, core::GetInt(*o, "hold_ttl_ms", 0, int64_t{1} << 40));
  j.hold_ttl = core::Duration(ttl);
  EDWC_ASSIGN_OR_RETURN(j.created_at, codec::GetTime(*o, "created_at"));
  EDWC_ASSIGN_OR_RETURN(j.held_at, core::GetOptionalTime(*o, "held_at"));
  EDWC_ASSIGN_OR_RETURN(j.committed_at, core::GetOptionalTime(*o, "committed_at"));
  EDWC_ASSIGN_OR_RETURN(j.running_at, core::GetOptionalTime(*o, "running_at"));
  EDWC_ASSIGN_OR_RETURN(j.ended_at, core::GetOptionalTime(*o, "ended_at"));
  EDWC_ASSIGN_OR_RETURN(j.ran_on, codec::GetText(*o, "ran_on"));
  if (const json::value* terms = codec::Field(*o, "terms")) {
    auto parsed = FirmTermsFromJson(*terms);
    if (!parsed.ok()) return codec::Nested(parsed.status(), "terms");
    j.terms = std::move(*parsed);
  }
  if (const json::value* usage = codec::Field(*o, "usage")) {
    auto parsed = HoldUsageFromJson(*usage);
    if (!parsed.ok()) return codec::Nested(parsed.status(), "usage");
    j.usage = std::move(*parsed);
  }
  EDWC_ASSIGN_OR_RETURN(j.remote_state, codec::GetText(*o, "remote_state"));
  EDWC_ASSIGN_OR_RETURN(j.failure_reason, codec::GetText(*o, "failure_reason"));
  EDWC_ASSIGN_OR_RETURN(j.cancel_requested, codec::GetBool(*o, "cancel_requested"));
  EDWC_ASSIGN_OR_RETURN(int64_t version,
                        core::GetInt(*o, "version", 0, std::numeric_limits<int64_t>::max()));
  j.version = static_cast<uint64_t>(version);
  return j;
}

core::Status CompareRequests(std::string_view a, std::string_view b) {
  if (a == b) return core::Status::Ok();
  auto conflict = [](const std::string& field) {
    return core::Status(core::Code::kConflict,
                        "idempotency key reused with a different request" +
                            (field.empty() ? std::string() : ": " + field + " differs"),
                        field);
  };
  core::Result<json::object> oa = core::ParseJsonObject(a);
  core::Result<json::object> ob = core::ParseJsonObject(b);
  if (!oa.ok() || !ob.ok()) return conflict("");
  for (const auto& kv : *oa) {
    const json::value* other = ob->if_contains(kv.key());
    if (other == nullptr || *other != kv.value()) return conflict(std::string(kv.key()));
  }
  for (const auto& kv : *ob) {
    if (!oa->contains(kv.key())) return conflict(std::string(kv.key()));
  }
  return core::Status::Ok();
}

// ---- JobRouter ------------------------------------------------------------------------

JobRouter::JobRouter(RouterOptions options) : options_(std::move(options)) {}

const JobRecord* JobRouter::Get(std::string_view job_id) const {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : &it->second;
}

JobRecord* JobRouter::FindByHold(std::string_view hold_id, size_t* attempt) {
  auto h = job_of_hold_.find(hold_id);
  if (h == job_of_hold_.end()) return nullptr;
  auto j = jobs_.find(h->second);
  if (j == jobs_.end()) return nullptr;
  for (size_t i = 0; i < j->second.attempts.size(); ++i) {
    if (j->second.attempts[i].hold_id == hold_id) {
      *attempt = i;
      return &j->second;
    }
  }
  return nullptr;
}

Outbound JobRouter::HoldMessage(const JobRecord& job, size_t attempt) const {
  const Candidate& c = job.candidates[attempt];
  HoldRequest q{job.attempts[attempt].hold_id, job.job_id,
                HoldTerms{c.model, c.count, job.spec.duration, job.spec.price_cap, job.spec.command,
                          job.spec.env, job.spec.inputs},
                job.hold_ttl};
  return Outbound{Outbound::Kind::kHold, c.center, c.peer_url, q.hold_id,
                  json::serialize(ToJson(q))};
}

Outbound JobRouter::Message(const JobRecord& job, Outbound::Kind kind) const {
  const size_t i = job.attempts.size() - 1;
  if (kind == Outbound::Kind::kHold) return HoldMessage(job, i);
  return Outbound{
      kind, job.candidates[i].center, job.candidates[i].peer_url, job.attempts[i].hold_id, {}};
}

void JobRouter::Persist(JobRecord& job, RouterResult* out) {
  ++job.version;
  out->to_persist.push_back(job);
}

void JobRouter::Schedule(const JobRecord& job, Outbound::Kind kind, core::Time due,
                         core::Duration backoff) {
  pending_[job.job_id] = Pending{kind, due, backoff};
}

void JobRouter::Send(JobRecord& job, Outbound::Kind kind, core::Time now, RouterResult* out) {
  out->to_send.push_back(Message(job, kind));
  if (kind == Outbound::Kind::kCommit || kind == Outbound::Kind::kCancel) {
    auto it = pending_.find(job.job_id);
    core::Duration backoff = options_.retry_initial;
    if (it != pending_.end() && it->second.kind == kind) {
      backoff = std::min(it->second.backoff * 2, options_.retry_max);
    }
    if (kind == Outbound::Kind::kCancel) backoff = std::min(backoff, options_.poll_every);
    Schedule(job, kind, now + backoff, backoff);
  } else if (kind == Outbound::Kind::kStatus) {
    const core::Duration every = StatusPollGap(job, now);
    Schedule(job, kind, now + every, every);
  }
}

core::Duration JobRouter::StatusPollGap(const JobRecord& job, core::Time now) const {
  const core::Time since = job.committed_at.value_or(now);
  const core::Duration tenth = now > since ? (now - since) / 10 : core::Duration(0);
  return std::clamp(tenth, options_.poll_every, std::max(options_.poll_every, options_.poll_max));
}

void JobRouter::Enter(JobRecord& job, JobState state, core::Time now) {
  job.state = state;
  switch (state) {
    case JobState::kHeld:
      job.held_at = now;
      break;
    case JobState::kCommitted:
      job.committed_at = now;
      break;
    case JobState::kRunning:
      job.running_at = now;
      break;
    case JobState::kSucceeded:
    case JobState::kFailed:
    case JobState::kCancelled:
      job.ended_at = now;
      pending_.erase(job.job_id);
      break;
    case JobState::kPlacing:
      break;
  }
}

void JobRouter::NextCandidate(JobRecord& job, std::string outcome, core::Time now,
                              RouterResult* out) {
  job.attempts.back().outcome = std::move(outcome);
  pending_.erase(job.job_id);
  if (job.state != JobState::kPlacing) {
    job.state = JobState::kPlacing;
    job.held_at.reset();
    job.terms.reset();
  }
  if (job.cancel_requested) {
    Enter(job, JobState::kCancelled, now);
    return;
  }
  const size_t n = job.attempts.size();
  if (n < job.candidates.size()) {
    job.attempts.push_back(
        Attempt{job.candidates[n].center, HoldIdFor(options_.self_center, job.job_id, n), {}, now});
    job_of_hold_[job.attempts.back().hold_id] = job.job_id;
    Send(job, Outbound::Kind::kHold, now, out);
    return;
  }
  std::string why = "no center accepted: ";
  for (size_t i = 0; i < job.attempts.size(); ++i) {
    if (i > 0) why += "; ";
    why += job.attempts[i].center + ": " + job.attempts[i].outcome;
  }
  job.failure_reason = std::move(why);
  Enter(job, JobState::kFailed, now);
}

void JobRouter::Mirror(JobRecord& job, const HoldRecord& remote, core::Time now) {
  job.remote_state = std::string(HoldStateName(remote.state));
  if (remote.state == HoldState::kHeld) return;
  if (remote.state == HoldState::kReleased || remote.state == HoldState::kExpired) {
    // Only reachable before a commit took effect: a committed hold never turns back.
    if (job.state == JobState::kPlacing || job.state == JobState::kHeld) {
      if (job.cancel_requested) {
        job.attempts.back().outcome = "cancelled";
        Enter(job, JobState::kCancelled, now);
      }
    }
    return;
  }
  if (job.state == JobState::kPlacing || job.state == JobState::kHeld) {
    if (!job.held_at) job.held_at = remote.granted_at;
    if (!job.terms) job.terms = remote.firm;
    job.attempts.back().outcome = "committed";
    job.ran_on = job.attempts.back().center;
    Enter(job, JobState::kCommitted, remote.committed_at.value_or(now));
  }
  if (remote.state == HoldState::kCommitted) return;
  // When it ran and ended are the executing center's times, not when we heard of them.
  if (job.state == JobState::kCommitted && remote.started_at) {
    Enter(job, JobState::kRunning, *remote.started_at);
  }
  if (remote.state == HoldState::kRunning) return;
  job.usage = remote.usage;
  const core::Time ended = remote.ended_at.value_or(now);
  switch (remote.state) {
    case HoldState::kSucceeded:
      Enter(job, JobState::kSucceeded, ended);
      break;
    case HoldState::kCancelled:
      Enter(job, JobState::kCancelled, ended);
      break;
    default:
      job.failure_reason = remote.usage ? remote.usage->message : std::string("failed");
      Enter(job, JobState::kFailed, ended);
      break;
  }
}

RouterResult JobRouter::Submit(std::string job_id, std::string idempotency_key, std::string owner,
                               std::string request_json, JobSpec spec,
                               std::vector<Candidate> candidates, core::Duration hold_ttl,
                               core::Time now) {
  RouterResult out;
  if (jobs_.contains(job_id)) {
    out.status = core::Status(core::Code::kAlreadyExists, "job exists", "job_id");
    return out;
  }
  JobRecord job;
  job.job_id = std::move(job_id);
  job.idempotency_key = std::move(idempotency_key);
  job.owner = std::move(owner);
  job.request_json = std::move(request_json);
  job.spec = std::move(spec);
  job.candidates = std::move(candidates);
  job.hold_ttl = hold_ttl;
  job.created_at = now;
  JobRecord& j = jobs_.emplace(job.job_id, std::move(job)).first->second;
  if (j.candidates.empty()) {
    j.failure_reason = "no center accepted: no candidates";
    Enter(j, JobState::kFailed, now);
  } else {
    j.attempts.push_back(
        Attempt{j.candidates[0].center, HoldIdFor(options_.self_center, j.job_id, 0), {}, now});
    job_of_hold_[j.attempts[0].hold_id] = j.job_id;
    Send(j, Outbound::Kind::kHold, now, &out);
  }
  Persist(j, &out);
  out.job = j;
  return out;
}

RouterResult JobRouter::Resubmit(std::string_view job_id, std::string_view request_json) const {
  RouterResult out;
  const JobRecord* job = Get(job_id);
  if (job == nullptr) {
    out.status = core::NotFound("no such job", "job_id");
    return out;
  }
  out.status = CompareRequests(job->request_json, request_json);
  if (out.status.ok()) out.job = *job;
  return out;
}

RouterResult JobRouter::OnHoldAnswer(std::string_view hold_id, const PeerAnswer& answer,
                                     core::Time now) {
  RouterResult out;
  size_t i = 0;
  JobRecord* job = FindByHold(hold_id, &i);
  if (job == nullptr) return out;
  const bool current = i + 1 == job->attempts.size() && job->state == JobState::kPlacing;
  if (!current) {
    // Late or duplicate: a grant of an abandoned attempt is handed back at once.
    const bool live_hold = i + 1 == job->attempts.size() && !IsTerminal(job->state);
    if (!live_hold && answer.kind == PeerAnswer::Kind::kRecord && answer.record &&
        answer.record->state == HoldState::kHeld) {
      const Candidate& c = job->candidates[i];
      out.to_send.push_back(
          Outbound{Outbound::Kind::kRelease, c.center, c.peer_url, std::string(hold_id), {}});
    }
    out.job = *job;
    return out;
  }
  switch (answer.kind) {
    case PeerAnswer::Kind::kRecord: {
      const HoldRecord& r = *answer.record;
      if (r.state == HoldState::kHeld) {
        job->attempts.back().outcome = "granted";
        job->terms = r.firm;
        job->remote_state = "held";
        Enter(*job, JobState::kHeld, now);
        Send(*job, Outbound::Kind::kCommit, now, &out);
      } else if (r.state == HoldState::kExpired || r.state == HoldState::kReleased) {
        NextCandidate(*job, "hold expired", now, &out);
      } else {
        Mirror(*job, r, now);
        if (!IsTerminal(job->state)) Send(*job, Outbound::Kind::kStatus, now, &out);
      }
      break;
    }
    case PeerAnswer::Kind::kRejected:
      NextCandidate(*job, answer.reason, now, &out);
      break;
    case PeerAnswer::Kind::kRefused:
      NextCandidate(*job, "refused: " + answer.reason, now, &out);
      break;
    case PeerAnswer::Kind::kUnreachable:
      NextCandidate(*job, "unreachable: " + answer.reason, now, &out);
      break;
  }
  Persist(*job, &out);
  out.job = *job;
  return out;
}

RouterResult JobRouter::OnCommitAnswer(std::string_view hold_id, const PeerAnswer& answer,
                                       core::Time now) {
  RouterResult out;
  size_t i = 0;
  JobRecord* job = FindByHold(hold_id, &i);
  if (job == nullptr) return out;
  out.job = *job;
  if (i + 1 != job->attempts.size() || IsTerminal(job->state)) return out;
  const JobRecord snapshot = *job;
  if (answer.kind == PeerAnswer::Kind::kRecord && answer.record) {
    Mirror(*job, *answer.record, now);
    auto p = pending_.find(job->job_id);
    if (!IsTerminal(job->state) && job->state != JobState::kHeld && p != pending_.end() &&
        p->second.kind == Outbound::Kind::kCommit) {
      // Committed: from now on the job is followed by status polls.
      Schedule(*job, Outbound::Kind::kStatus, now + StatusPollGap(*job, now),
               StatusPollGap(*job, now));
    }
  } else if (answer.kind == PeerAnswer::Kind::kRefused && job->state == JobState::kHeld) {
    // "hold expired" / "released": its capacity went back; try the next candidate.
    NextCandidate(*job, answer.reason.empty() ? "hold expired" : answer.reason, now, &out);
  }
  if (!(*job == snapshot)) Persist(*job, &out);
  out.job = *job;
  return out;
}

RouterResult JobRouter::OnStatus(std::string_view hold_id, const PeerAnswer& answer,
                                 core::Time now) {
  RouterResult out;
  size_t i = 0;
  JobRecord* job = FindByHold(hold_id, &i);
  if (job == nullptr) return out;
  if (i + 1 == job->attempts.size() && !IsTerminal(job->state) &&
      job->state != JobState::kPlacing && answer.kind == PeerAnswer::Kind::kRecord &&
      answer.record) {
    const JobRecord snapshot = *job;
    Mirror(*job, *answer.record, now);
    if (!(*job == snapshot)) Persist(*job, &out);
  }
  out.job = *job;
  return out;
}

RouterResult JobRouter::OnCancelAnswer(std::string_view hold_id, const PeerAnswer& answer,
                                       core::Time now) {
  return OnStatus(hold_id, answer, now);
}

RouterResult JobRouter::Cancel(std::string_view job_id, core::Time now) {
  RouterResult out;
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) {
    out.status = core::NotFound("no such job", "job_id");
    return out;
  }
  JobRecord& job = it->second;
  if (IsTerminal(job.state) || job.cancel_requested) {
    out.job = job;
    return out;
  }
  job.cancel_requested = true;
  if (job.state == JobState::kPlacing) {
    // Never committed: a grant that still arrives is released, or expires.
    out.to_send.push_back(Message(job, Outbound::Kind::kRelease));
    job.attempts.back().outcome = "cancelled";
    Enter(job, JobState::kCancelled, now);
  } else {
    pending_.erase(job.job_id);
    Send(job, Outbound::Kind::kCancel, now, &out);
  }
  Persist(job, &out);
  out.job = job;
  return out;
}

RouterResult JobRouter::Tick(core::Time now) {
  RouterResult out;
  std::vector<std::string> due;
  for (const auto& [id, p] : pending_) {
    if (p.due <= now) due.push_back(id);
  }
  for (const std::string& id : due) {
    auto it = jobs_.find(id);
    if (it == jobs_.end() || IsTerminal(it->second.state)) {
      pending_.erase(id);
      continue;
    }
    JobRecord& job = it->second;
    if (job.cancel_requested) {
      Send(job, Outbound::Kind::kCancel, now, &out);
    } else if (job.state == JobState::kHeld) {
      Send(job, Outbound::Kind::kCommit, now, &out);
    } else if (job.state == JobState::kCommitted || job.state == JobState::kRunning) {
      Send(job, Outbound::Kind::kStatus, now, &out);
    } else {
      pending_.erase(id);
    }
  }
  return out;
}

std::optional<core::Time> JobRouter::NextDeadline() const {
  std::optional<core::Time> next;
  for (const auto& [id, p] : pending_) {
    if (!next || p.due < *next) next = p.due;
  }
  return next;
}

RouterResult JobRouter::Recover(std::vector<JobRecord> records, core::Time now) {
  RouterResult out;
  jobs_.clear();
  job_of_hold_.clear();
  pending_.clear();
  for (JobRecord& r : records) {
    for (const Attempt& a : r.attempts) job_of_hold_[a.hold_id] = r.job_id;
    std::string id = r.job_id;
    jobs_.insert_or_assign(std::move(id), std::move(r));
  }
  for (auto& [id, job] : jobs_) {
    if (IsTerminal(job.state) || job.attempts.empty()) continue;
    if (job.cancel_requested && job.state != JobState::kPlacing) {
      Send(job, Outbound::Kind::kCancel, now, &out);
    } else if (job.state == JobState::kPlacing) {
      // The attempt was persisted before its hold was sent: send it again, same id.
      out.to_send.push_back(HoldMessage(job, job.attempts.size() - 1));
    } else if (job.state == JobState::kHeld) {
      Send(job, Outbound::Kind::kCommit, now, &out);
    } else {
      Send(job, Outbound::Kind::kStatus, now, &out);
    }
  }
  return out;
}

}  // namespace edwc::federation
