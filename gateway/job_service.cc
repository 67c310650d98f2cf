#include "gateway/job_service.h"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <set>

#include "core/dataset.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "federation/job_router.h"
#include "federation/placement.h"
#include "federation/transfer.h"
#include "gateway/federation_service.h"
#include "gateway/http_types.h"
#include "gateway/io_runtime.h"
#include "gateway/metrics.h"
#include "gateway/peer_client.h"
#include "gateway/router.h"
#include "storage/store.h"

namespace edwc::gateway {

namespace json = boost::json;
using federation::JobRecord;
using federation::JobState;
using federation::Outbound;
using federation::PeerAnswer;
using federation::RouterResult;

namespace {

constexpr core::Duration kTick{100};
constexpr std::string_view kJobPrefix = "j/";
constexpr std::string_view kKeyPrefix = "k/";
constexpr size_t kMaxCommandArgs = 256;
constexpr size_t kMaxEnv = 64;
constexpr int64_t kDefaultPage = 100;
constexpr size_t kMaxStatusBatch = 256;  // jobs asked about in one status request

std::string JobKey(std::string_view id) { return std::string(kJobPrefix) + std::string(id); }
std::string IdempotencyKey(std::string_view owner, std::string_view key) {
  return std::string(kKeyPrefix) + std::string(owner) + "/" + std::string(key);
}

bool ValidIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > 200) return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return c > ' ' && c < 127; });
}

bool ValidEnvName(std::string_view name) {
  if (name.empty() || name.size() > 128 || (name[0] >= '0' && name[0] <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

json::object Money(std::string_view prefix, core::Money m) {
  return {{std::string(prefix) + "_fen", m.fen()},
          {std::string(prefix) + "_cny", m.ToYuanString()}};
}

void Merge(json::object& into, json::object from) {
  for (auto& kv : from) into[kv.key()] = std::move(kv.value());
}

// The broker's job: the placement request plus what to run. The canonical JSON of all of
// it is what an Idempotency-Key is compared against.
struct JobSubmission {
  federation::PlacementRequest placement;
  federation::JobSpec spec;
  std::string name;
  std::string canonical;
  // "inputs": [{dataset, center}], resolved into spec.inputs before placement.
  std::vector<std::pair<std::string, std::string>> inputs;
};

core::Status ParseInputs(const json::object& o, JobSubmission* s) {
  const json::value* inputs = o.if_contains("inputs");
  if (inputs == nullptr || inputs->is_null()) return core::Status::Ok();
  if (!inputs->is_array() || inputs->as_array().size() > federation::kMaxJobInputs) {
    return core::InvalidArgument("must be a list of at most " +
                                     std::to_string(federation::kMaxJobInputs) +
                                     " {\"dataset\", \"center\"}",
                                 "inputs");
  }
  for (size_t i = 0; i < inputs->as_array().size(); ++i) {
    const std::string field = "inputs[" + std::to_string(i) + "]";
    const json::value& item = inputs->as_array()[i];
    if (!item.is_object()) return core::InvalidArgument("must be an object", field);
    EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(item.as_object(), {"dataset", "center"}));
    EDWC_ASSIGN_OR_RETURN(std::string dataset, core::GetString(item.as_object(), "dataset"));
    EDWC_ASSIGN_OR_RETURN(std::string center, core::GetString(item.as_object(), "center"));
    if (!core::ValidDatasetName(dataset)) {
      return core::InvalidArgument("not a dataset name", field + ".dataset");
    }
    if (!core::IsValidCenterId(center)) {
      return core::InvalidArgument("not a center id", field + ".center");
    }
    if (!s->inputs.empty() && s->inputs.front().second != center) {
      return core::InvalidArgument(
          "all inputs must be at one center (" + s->inputs.front().second + ")", field + ".center");
    }
    s->inputs.emplace_back(std::move(dataset), std::move(center));
  }
  if (!s->inputs.empty() && s->placement.dataset) {
    return core::InvalidArgument("give inputs or dataset, not both", "dataset");
  }
  return core::Status::Ok();
}

core::Result<JobSubmission> ParseSubmission(std::string_view body) {
  EDWC_ASSIGN_OR_RETURN(json::object o, core::ParseJsonObject(body));
  JobSubmission s;
  EDWC_ASSIGN_OR_RETURN(
      s.placement, federation::PlacementRequestFromJson(o, {"command", "env", "name", "inputs"}));
  const json::value* command = o.if_contains("command");
  if (command == nullptr || !command->is_array() || command->as_array().empty() ||
      command->as_array().size() > kMaxCommandArgs) {
    return core::InvalidArgument(
        "must be an array of 1.." + std::to_string(kMaxCommandArgs) +
            " strings: the program and its arguments, e.g. [\"python\", \"train.py\"]",
        "command");
  }
  for (size_t i = 0; i < command->as_array().size(); ++i) {
    const json::value& arg = command->as_array()[i];
    if (!arg.is_string() || (i == 0 && arg.as_string().empty())) {
      return core::InvalidArgument(i == 0 ? "must name a program" : "must be a string",
                                   "command[" + std::to_string(i) + "]");
    }
    s.spec.command.emplace_back(arg.as_string());
  }
  if (const json::value* env = o.if_contains("env"); env != nullptr && !env->is_null()) {
    if (!env->is_object() || env->as_object().size() > kMaxEnv) {
      return core::InvalidArgument(
          "must be an object of at most " + std::to_string(kMaxEnv) + " string values", "env");
    }
    for (const auto& kv : env->as_object()) {
      const std::string key(kv.key());
      if (!ValidEnvName(key) || key.rfind("EDWC_", 0) == 0) {
        return core::InvalidArgument("not a usable variable name (EDWC_ is reserved)",
                                     "env." + key);
      }
      if (!kv.value().is_string()) return core::InvalidArgument("must be a string", "env." + key);
      s.spec.env.emplace_back(key, std::string(kv.value().as_string()));
    }
    std::sort(s.spec.env.begin(), s.spec.env.end());
  }
  EDWC_RETURN_IF_ERROR(ParseInputs(o, &s));
  EDWC_ASSIGN_OR_RETURN(auto name, core::GetOptionalString(o, "name"));
  if (name && name->size() > 128) return core::InvalidArgument("at most 128 characters", "name");
  s.name = name.value_or("");
  s.spec.duration = s.placement.duration;
  s.spec.price_cap = s.placement.price_cap;
  json::object canonical = federation::ToJson(s.placement);
  json::array argv;
  for (const std::string& a : s.spec.command) argv.emplace_back(a);
  canonical["command"] = std::move(argv);
  json::object env;
  for (const auto& [k, v] : s.spec.env) env[k] = v;
  if (!env.empty()) canonical["env"] = std::move(env);
  if (!s.name.empty()) canonical["name"] = s.name;
  if (!s.inputs.empty()) {
    json::array inputs;
    for (const auto& [dataset, center] : s.inputs) {
      inputs.push_back(json::object{{"dataset", dataset}, {"center", center}});
    }
    canonical["inputs"] = std::move(inputs);
  }
  s.canonical = json::serialize(canonical);
  return s;
}

// The job as brokers see it.
json::object JobJson(const JobRecord& j) {
  json::object o{
      {"id", j.job_id}, {"owner", j.owner}, {"state", federation::JobStateName(j.state)}};
  auto request = core::ParseJsonObject(j.request_json);
  if (request.ok()) {
    if (const json::value* name = request->if_contains("name")) o["name"] = *name;
  }
  const federation::Candidate* current = nullptr;
  if (!j.attempts.empty() && j.attempts.size() <= j.candidates.size()) {
    current = &j.candidates[j.attempts.size() - 1];
  }
  if (!j.ran_on.empty()) {
    o["center"] = j.ran_on;
  } else if (current != nullptr && j.state != JobState::kPlacing && j.state != JobState::kFailed) {
    o["center"] = current->center;
  } else {
    o["center"] = nullptr;
  }
  if (current != nullptr) {
    o["model"] = current->model;
    o["count"] = current->count;
    json::object quote{{"center", current->center},
                       {"model", current->model},
                       {"start", core::FormatRfc3339(current->start)},
                       {"finish", core::FormatRfc3339(current->finish)},
                       {"why", current->why}};
    Merge(quote, Money("estimated_total", current->estimated_total));
    o["quote"] = std::move(quote);
  }
  json::array attempts;
  for (const federation::Attempt& a : j.attempts) {
    attempts.push_back({{"center", a.center},
                        {"hold_id", a.hold_id},
                        {"result", a.outcome.empty() ? "waiting" : a.outcome},
                        {"at", core::FormatRfc3339(a.at)}});
  }
  o["attempts"] = std::move(attempts);
  json::array history;
  core::Time updated = j.created_at;
  auto entered = [&](std::string_view state, const std::optional<core::Time>& at) {
    if (!at) return;
    history.push_back({{"state", state}, {"at", core::FormatRfc3339(*at)}});
    updated = std::max(updated, *at);
  };
  entered("placing", j.created_at);
  entered("held", j.held_at);
  entered("committed", j.committed_at);
  entered("running", j.running_at);
  if (federation::IsTerminal(j.state)) entered(federation::JobStateName(j.state), j.ended_at);
  o["history"] = std::move(history);
  if (j.terms) {
    json::object terms{{"surge_permille", j.terms->surge_permille}};
    Merge(terms, Money("estimated_total", j.terms->estimated_total));
    o["terms"] = std::move(terms);
  }
  if (j.usage) {
    const federation::HoldUsage& u = *j.usage;
    json::object usage{{"started", core::FormatRfc3339(u.started)},
                       {"ended", core::FormatRfc3339(u.ended)},
                       {"accelerator_seconds", core::FormatDecimal(u.accelerator_ms, 3)},
                       {"accelerator_ms", u.accelerator_ms},
                       {"exit_code", u.exit_code},
                       {"message", u.message}};
    Merge(usage, Money("cost", u.cost));
    o["usage"] = std::move(usage);
    if (u.output) {
      o["output"] = json::object{{"dataset", u.output->dataset},
                                 {"center", j.ran_on},
                                 {"size", u.output->size},
                                 {"sha256", u.output->sha256}};
    }
  }
  if (!j.failure_reason.empty()) o["reason"] = j.failure_reason;
  if (j.cancel_requested) o["cancel_requested"] = true;
  if (request.ok()) o["request"] = std::move(*request);
  o["created_at"] = core::FormatRfc3339(j.created_at);
  o["updated_at"] = core::FormatRfc3339(updated);
  return o;
}

HttpResponse NotOpen() {
  return HttpResponse::Error(
      core::Status(core::Code::kUnavailable, "not ready: storage is still opening"));
}

HttpResponse JobAnswer(int status, const JobRecord& job) {
  return HttpResponse::Json(status, json::serialize(JobJson(job)));
}

// A peer's HTTP answer as the router understands it.
PeerAnswer Decode(const core::Result<PeerResponse>& r) {
  if (!r.ok()) return PeerAnswer::Unreachable(r.status().message());
  if (r->status >= 500) {
    return PeerAnswer::Unreachable("answered " + std::to_string(r->status));
  }
  auto body = core::ParseJsonObject(r->body);
  if (!body.ok()) return PeerAnswer::Unreachable("unreadable answer: " + body.status().message());
  if (r->status >= 400) {
    std::string why = "answered " + std::to_string(r->status);
    if (const json::value* e = body->if_contains("error"); e && e->is_object()) {
      if (const json::value* m = e->as_object().if_contains("message"); m && m->is_string()) {
        why = std::string(m->as_string());
      }
    }
    return PeerAnswer::Refused(why);
  }
  if (const json::value* hold = body->if_contains("hold")) {
    auto record = federation::HoldRecordFromJson(*hold);
    if (!record.ok()) return PeerAnswer::Unreachable("bad hold: " + record.status().message());
    return PeerAnswer::Record(std::move(record).value());
  }
  if (const json::value* rej = body->if_contains("rejected"); rej && rej->is_object()) {
    const json::value* reason = rej->as_object().if_contains("reason");
    std::string why = reason && reason->is_string() ? std::string(reason->as_string()) : "refused";
    if (const json::value* free = rej->as_object().if_contains("free");
        why == "too_few_free" && free && free->is_int64()) {
      why += " (" + std::to_string(free->as_int64()) + " free)";
    }
    return PeerAnswer::Rejected(why);
  }
  return PeerAnswer::Unreachable("answer has neither hold nor rejected");
}

}  // namespace

struct JobService::Impl : std::enable_shared_from_this<Impl> {
  Impl(const config::CenterConfig& c, IoRuntime& rt, Metrics* m, const core::Clock* clk)
      : config(c),
        runtime(rt),
        metrics(m),
        clock(clk),
        router(federation::RouterOptions{c.center.id, c.jobs.poll}) {}

  struct Waiter {
    Respond respond;
    core::Time deadline;
    int status = 201;
  };

  const config::CenterConfig& config;
  storage::Store* store = nullptr;  // set once by Open, before `open`
  const ViewSource* view = nullptr;
  std::atomic<bool> open{false};
  IoRuntime& runtime;
  Metrics* metrics;
  const core::Clock* clock;
  std::unique_ptr<PeerClient> peers;

  mutable std::mutex mu;
  federation::JobRouter router;                                     // GUARDED_BY(mu)
  std::map<std::string, std::string, std::less<>> job_of_key;       // GUARDED_BY(mu)
  std::map<std::string, std::vector<Waiter>, std::less<>> waiters;  // GUARDED_BY(mu)
  std::map<std::string, core::Money, std::less<>> payable;          // GUARDED_BY(mu)
  std::set<std::string, std::less<>> counted;                       // GUARDED_BY(mu)
  std::vector<Outbound> recovered;                                  // GUARDED_BY(mu)
  bool stopped = false;                                             // GUARDED_BY(mu)

  // Status polls of jobs at one target, grouped: one request per target at a time asks
  // for every job queued for it meanwhile (as the store groups syncs).
  struct StatusBatch {
    std::vector<Outbound> queued;
    bool in_flight = false;
  };
  std::mutex status_mu;
  std::map<std::string, StatusBatch, std::less<>> status_batches;  // GUARDED_BY(status_mu)

  void Process(RouterResult r, storage::Batch extra = {});
  void Send(Outbound o);
  void QueueStatus(Outbound o);
  void SendStatusBatch(const std::string& peer_url);
  void OnStatusBatch(const std::vector<Outbound>& batch, const core::Result<PeerResponse>& r);
  void OnAnswer(const Outbound& o, const core::Result<PeerResponse>& r);
  void Account(const JobRecord& job);
  void Notify(const std::vector<std::string>& jobs);
  void Tick();
  const JobRecord* Visible(const RouteContext& ctx, std::string_view id) const;

  // The federation view, rebuilt when it changed or is a second old (liveness moves with
  // time), and shared by the submissions meanwhile.
  std::shared_ptr<const std::vector<federation::ViewEntry>> CurrentView(core::Time now);
  std::mutex view_mu;
  std::shared_ptr<const std::vector<federation::ViewEntry>> view_cache;  // GUARDED_BY(view_mu)
  uint64_t view_version = 0;                                             // GUARDED_BY(view_mu)
  core::Time view_at{};                                                  // GUARDED_BY(view_mu)

  void Submit(HttpRequest& req, const RouteContext& ctx, Respond respond);
  void ResolveInputs(JobSubmission s, std::function<void(core::Result<JobSubmission>)> done);
  JobSubmission WithInputs(JobSubmission s, const std::vector<core::DatasetManifest>& manifests);
  void Place(const JobSubmission& submission, const std::string& owner, const std::string& key,
             Respond respond);
  ManifestSource manifests;  // set once before serving
  void List(HttpRequest& req, const RouteContext& ctx, Respond respond);
  void Show(HttpRequest& req, const RouteContext& ctx, Respond respond);
  void CancelJob(HttpRequest& req, const RouteContext& ctx, Respond respond);
};

// Writes the result's records (and `extra`) durably, then sends its messages and answers
// the brokers waiting on its jobs.
void JobService::Impl::Process(RouterResult r, storage::Batch extra) {
  if (r.to_persist.empty() && extra.empty()) {
    for (Outbound& o : r.to_send) Send(std::move(o));
    return;
  }
  storage::Batch batch = std::move(extra);
  std::vector<std::string> ids;
  for (const JobRecord& j : r.to_persist) {
    batch.Put(storage::Cf::kJobs, JobKey(j.job_id), json::serialize(federation::ToJson(j)));
    ids.push_back(j.job_id);
  }
  store->WriteAsync(std::move(batch), [self = shared_from_this(), sends = std::move(r.to_send),
                                       ids = std::move(ids)](core::Status st) mutable {
    if (!st.ok()) {
      // Nothing is sent on an unsynced decision; the retry timer re-drives the jobs.
      core::LogError("jobs", "job write failed: " + st.ToString());
      return;
    }
    for (Outbound& o : sends) self->Send(std::move(o));
    self->Notify(ids);
  });
}

void JobService::Impl::Send(Outbound o) {
  if (o.kind == Outbound::Kind::kStatus) return QueueStatus(std::move(o));
  std::string target;
  switch (o.kind) {
    case Outbound::Kind::kHold:
      target = "/peer/v1/holds";
      break;
    default:
      target =
          "/peer/v1/holds/" + o.hold_id + "/" + std::string(federation::OutboundKindName(o.kind));
  }
  auto done = [self = shared_from_this(), o](core::Result<PeerResponse> r) {
    self->OnAnswer(o, r);
  };
  // Every hold message carries its hold id: a retry has one effect at the target.
  peers->Post(o.peer_url, std::move(target), o.body, /*idempotent=*/true, std::move(done));
}

void JobService::Impl::QueueStatus(Outbound o) {
  std::string peer = o.peer_url;
  {
    std::lock_guard lock(status_mu);
    StatusBatch& b = status_batches[peer];
    b.queued.push_back(std::move(o));
    if (b.in_flight) return;
  }
  SendStatusBatch(peer);
}

void JobService::Impl::SendStatusBatch(const std::string& peer_url) {
  std::vector<Outbound> batch;
  {
    std::lock_guard lock(status_mu);
    StatusBatch& b = status_batches[peer_url];
    const size_t n = std::min(b.queued.size(), kMaxStatusBatch);
    b.in_flight = n > 0;
    batch.assign(std::make_move_iterator(b.queued.begin()),
                 std::make_move_iterator(b.queued.begin() + static_cast<std::ptrdiff_t>(n)));
    b.queued.erase(b.queued.begin(), b.queued.begin() + static_cast<std::ptrdiff_t>(n));
  }
  if (batch.empty()) return;
  json::array ids;
  for (const Outbound& o : batch) ids.emplace_back(o.hold_id);
  peers->Post(peer_url, "/peer/v1/jobs/status", json::serialize(json::object{{"ids", ids}}),
              /*idempotent=*/true,
              [self = shared_from_this(), batch = std::move(batch),
               peer_url](core::Result<PeerResponse> r) {
                self->OnStatusBatch(batch, r);
                self->SendStatusBatch(peer_url);
              });
}

// Hands each job of a status batch its record. A failed batch changes nothing: each job
// was already scheduled for its next poll when it was queued.
void JobService::Impl::OnStatusBatch(const std::vector<Outbound>& batch,
                                     const core::Result<PeerResponse>& r) {
  if (!r.ok() || r->status != 200) return;
  auto body = core::ParseJsonObject(r->body);
  const json::value* holds = body.ok() ? body->if_contains("holds") : nullptr;
  if (holds == nullptr || !holds->is_array()) {
    core::LogWarn("jobs", "unreadable status answer from " + batch.front().center);
    return;
  }
  // Only the jobs asked about: a target speaks for its own holds, not for others'.
  std::set<std::string_view> asked;
  for (const Outbound& o : batch) asked.insert(o.hold_id);
  std::vector<federation::HoldRecord> records;
  for (const json::value& h : holds->as_array()) {
    auto record = federation::HoldRecordFromJson(h);
    if (record.ok() && asked.contains(record->hold_id))
      records.push_back(std::move(record).value());
  }
  const core::Time now = clock->Now();
  RouterResult all;
  {
    std::lock_guard lock(mu);
    if (stopped) return;
    for (federation::HoldRecord& record : records) {
      std::string id = record.hold_id;
      RouterResult one = router.OnStatus(id, PeerAnswer::Record(std::move(record)), now);
      std::move(one.to_persist.begin(), one.to_persist.end(), std::back_inserter(all.to_persist));
      std::move(one.to_send.begin(), one.to_send.end(), std::back_inserter(all.to_send));
    }
  }
  Process(std::move(all));
}

void JobService::Impl::OnAnswer(const Outbound& o, const core::Result<PeerResponse>& r) {
  const PeerAnswer answer = Decode(r);
  const core::Time now = clock->Now();
  RouterResult result;
  {
    std::lock_guard lock(mu);
    if (stopped) return;
    switch (o.kind) {
      case Outbound::Kind::kHold:
        result = router.OnHoldAnswer(o.hold_id, answer, now);
        break;
      case Outbound::Kind::kCommit:
        result = router.OnCommitAnswer(o.hold_id, answer, now);
        break;
      case Outbound::Kind::kStatus:
        result = router.OnStatus(o.hold_id, answer, now);
        break;
      case Outbound::Kind::kCancel:
        result = router.OnCancelAnswer(o.hold_id, answer, now);
        break;
      case Outbound::Kind::kRelease:
        return;  // best effort: an unreleased hold expires
    }
  }
  Process(std::move(result));
}

// Adds a finished job's cost to what we owe the center that ran it (once per job).
void JobService::Impl::Account(const JobRecord& job) {
  if (!job.usage || job.ran_on.empty() || job.ran_on == config.center.id) return;
  if (!counted.insert(job.job_id).second) return;
  payable[job.ran_on] = payable[job.ran_on].SaturatingAdd(job.usage->cost);
}

void JobService::Impl::Notify(const std::vector<std::string>& ids) {
  std::vector<std::pair<Waiter, JobRecord>> ready;
  {
    std::lock_guard lock(mu);
    for (const std::string& id : ids) {
      const JobRecord* job = router.Get(id);
      if (job == nullptr) continue;
      Account(*job);
      auto it = waiters.find(id);
      if (it == waiters.end() || job->state == JobState::kPlacing) continue;
      for (Waiter& w : it->second) ready.emplace_back(std::move(w), *job);
      waiters.erase(it);
    }
  }
  for (auto& [w, job] : ready) w.respond(JobAnswer(w.status, job));
}

void JobService::Impl::Tick() {
  const core::Time now = clock->Now();
  RouterResult result;
  std::vector<std::pair<Waiter, JobRecord>> late;
  std::vector<Outbound> resend;
  {
    std::lock_guard lock(mu);
    if (stopped) return;
    result = router.Tick(now);
    resend.swap(recovered);
    for (auto it = waiters.begin(); it != waiters.end();) {
      auto& list = it->second;
      const JobRecord* job = router.Get(it->first);
      for (auto w = list.begin(); w != list.end();) {
        if (now >= w->deadline && job != nullptr) {
          w->status = 202;
          late.emplace_back(std::move(*w), *job);
          w = list.erase(w);
        } else {
          ++w;
        }
      }
      it = list.empty() ? waiters.erase(it) : std::next(it);
    }
  }
  for (Outbound& o : resend) Send(std::move(o));
  Process(std::move(result));
  for (auto& [w, job] : late) w.respond(JobAnswer(w.status, job));
}

// The job `id` if the caller may see it: brokers their own, operators every job.
const JobRecord* JobService::Impl::Visible(const RouteContext& ctx, std::string_view id) const {
  const JobRecord* job = router.Get(id);
  if (job == nullptr || ctx.principal == nullptr) return nullptr;
  if (ctx.principal->role == config::Role::kOperator || job->owner == ctx.principal->name) {
    return job;
  }
  return nullptr;
}

std::shared_ptr<const std::vector<federation::ViewEntry>> JobService::Impl::CurrentView(
    core::Time now) {
  const uint64_t version = view->version();
  std::lock_guard lock(view_mu);
  if (!view_cache || version != view_version || now < view_at ||
      now - view_at >= std::chrono::seconds(1)) {
    view_cache = std::make_shared<const std::vector<federation::ViewEntry>>(view->View(now));
    view_version = version;
    view_at = now;
  }
  return view_cache;
}

void JobService::Impl::Submit(HttpRequest& req, const RouteContext& ctx, Respond respond) {
  if (!open) return respond(NotOpen());
  auto submission = ParseSubmission(req.body);
  if (!submission.ok()) return respond(HttpResponse::Error(submission.status()));
  const std::string owner = ctx.principal != nullptr ? ctx.principal->name : "";
  std::string key(req.Header("idempotency-key"));
  if (!key.empty() && !ValidIdempotencyKey(key)) {
    return respond(HttpResponse::Error(
        core::InvalidArgument("1-200 printable characters without spaces", "Idempotency-Key")));
  }
  if (key.empty()) key = core::NewRandomId("key");
  if (submission->inputs.empty()) return Place(*submission, owner, key, respond);
  if (!manifests) {
    return respond(HttpResponse::Error(core::Status(
        core::Code::kFailedPrecondition, "this center cannot look up datasets", "inputs")));
  }
  ResolveInputs(std::move(submission).value(),
                [self = shared_from_this(), owner, key, respond](core::Result<JobSubmission> s) {
                  if (!s.ok()) return respond(HttpResponse::Error(s.status()));
                  self->Place(std::move(s).value(), owner, key, respond);
                });
}

// Pins each input to its content (the manifest's SHA-256 now) and lets placement count
// moving it: the dataset's size from its center, and only the zones it may go to.
void JobService::Impl::ResolveInputs(JobSubmission s,
                                     std::function<void(core::Result<JobSubmission>)> done) {
  struct Pending {
    std::mutex mu;
    JobSubmission s;
    size_t left;
    core::Status error;
    std::vector<core::DatasetManifest> manifests;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = s.inputs.size();
  pending->manifests.resize(s.inputs.size());
  pending->s = std::move(s);
  // A copy: the last answer may move pending->s away while this loop still runs.
  const std::vector<std::pair<std::string, std::string>> inputs = pending->s.inputs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& [dataset, center] = inputs[i];
    manifests(center, dataset,
              [self = shared_from_this(), pending, i, done](core::Result<core::DatasetManifest> m) {
                std::unique_lock lock(pending->mu);
                if (m.ok()) pending->manifests[i] = std::move(m).value();
                if (!m.ok() && pending->error.ok()) {
                  pending->error = m.status().WithContext("inputs[" + std::to_string(i) + "]");
                }
                if (--pending->left > 0) return;
                lock.unlock();
                if (!pending->error.ok()) return done(pending->error);
                done(self->WithInputs(std::move(pending->s), pending->manifests));
              });
  }
}

JobSubmission JobService::Impl::WithInputs(JobSubmission s,
                                           const std::vector<core::DatasetManifest>& manifests) {
  uint64_t bytes = 0;
  for (size_t i = 0; i < manifests.size(); ++i) {
    const core::DatasetManifest& m = manifests[i];
    s.spec.inputs.push_back({s.inputs[i].first, s.inputs[i].second, m.sha256, m.size});
    bytes += static_cast<uint64_t>(m.size);
  }
  s.placement.dataset = federation::DatasetRef{s.inputs.front().second, bytes};
  // Only where every input may go under our residency rules.
  std::set<std::string> allowed;
  for (const federation::ViewEntry& e : *CurrentView(clock->Now())) {
    bool ok = true;
    for (const core::DatasetManifest& m : manifests) {
      ok = ok && federation::CheckResidency(config.datasets.residency, m.zone, m.tags,
                                            e.advert.center, e.advert.zone)
                     .ok();
    }
    if (ok) allowed.insert(e.advert.zone);
  }
  if (!config.datasets.residency.empty()) {
    std::vector<std::string> zones;
    for (const std::string& z : allowed) {
      if (s.placement.zones.empty() || std::find(s.placement.zones.begin(), s.placement.zones.end(),
                                                 z) != s.placement.zones.end()) {
        zones.push_back(z);
      }
    }
    if (zones.empty()) zones.push_back("(none allowed by residency)");
    s.placement.zones = std::move(zones);
  }
  return s;
}

void JobService::Impl::Place(const JobSubmission& submission, const std::string& owner,
                             const std::string& key, Respond respond) {
  const core::Time now = clock->Now();
  // A job runs as soon as it is placed; `start` serves quotes for later windows.
  if (submission.placement.earliest_start &&
      *submission.placement.earliest_start > now + std::chrono::minutes(1)) {
    return respond(HttpResponse::Error(core::InvalidArgument(
        "a job starts when it is placed; quote a later start, and submit then", "start")));
  }
  const core::Time deadline = now + kSubmitWait;
  // Ranked outside the router's lock: submissions place in parallel.
  const federation::Placement placement =
      federation::Place(submission.placement, *CurrentView(now), now);

  std::unique_lock lock(mu);
  if (stopped) {
    return respond(HttpResponse::Error(core::Status(core::Code::kUnavailable, "shutting down")));
  }
  if (auto it = job_of_key.find(IdempotencyKey(owner, key)); it != job_of_key.end()) {
    RouterResult again = router.Resubmit(it->second, submission.canonical);
    if (!again.status.ok()) {
      lock.unlock();
      return respond(HttpResponse::Error(
          again.status.WithContext("Idempotency-Key '" + key + "' was used for another request")));
    }
    // Re-write the record: the answer waits for the first submission's sync too.
    waiters[again.job->job_id].push_back(Waiter{respond, deadline, 200});
    again.to_persist = {*again.job};
    lock.unlock();
    return Process(std::move(again));
  }
  std::vector<federation::Candidate> candidates;
  const std::string objective(federation::ObjectiveName(submission.placement.objective));
  for (size_t i = 0; i < placement.quotes.size(); ++i) {
    const federation::Quote& q = placement.quotes[i];
    candidates.push_back({q.center, q.peer_url, q.model, q.count, q.total, q.start, q.finish,
                          "rank " + std::to_string(i + 1) + " by " + objective + ": total ¥" +
                              q.total.ToYuanString() + ", finish " +
                              core::FormatRfc3339(q.finish)});
  }
  const std::string job_id = core::NewRandomId("job");
  RouterResult r = router.Submit(job_id, key, owner, submission.canonical, submission.spec,
                                 std::move(candidates), config.jobs.hold_ttl, now);
  if (!r.status.ok()) {
    lock.unlock();
    return respond(HttpResponse::Error(r.status));
  }
  job_of_key.emplace(IdempotencyKey(owner, key), job_id);
  waiters[job_id].push_back(Waiter{respond, deadline, 201});
  lock.unlock();
  storage::Batch extra;
  extra.Put(storage::Cf::kJobs, IdempotencyKey(owner, key), job_id);
  Process(std::move(r), std::move(extra));
}

void JobService::Impl::List(HttpRequest& req, const RouteContext& ctx, Respond respond) {
  if (!open) return respond(NotOpen());
  std::string state_filter, limit_text, after;
  req.QueryParam("state", &state_filter);
  req.QueryParam("after", &after);
  int64_t limit = kDefaultPage;
  if (req.QueryParam("limit", &limit_text)) {
    char* end = nullptr;
    limit = std::strtoll(limit_text.c_str(), &end, 10);
    if (limit_text.empty() || *end != '\0' || limit < 1 || limit > 1000) {
      return respond(HttpResponse::Error(core::InvalidArgument("an integer 1..1000", "limit")));
    }
  }
  if (!state_filter.empty() && !federation::JobStateFromName(state_filter)) {
    return respond(HttpResponse::Error(core::InvalidArgument(
        "one of placing, held, committed, running, succeeded, failed, cancelled", "state")));
  }
  std::vector<const JobRecord*> jobs;
  std::lock_guard lock(mu);
  for (const auto& [id, job] : router.jobs()) {
    if (Visible(ctx, id) == nullptr) continue;
    if (!state_filter.empty() && federation::JobStateName(job.state) != state_filter) continue;
    jobs.push_back(&job);
  }
  // Newest first; the cursor is the id of the last job of the previous page.
  std::sort(jobs.begin(), jobs.end(), [](const JobRecord* a, const JobRecord* b) {
    return a->created_at != b->created_at ? a->created_at > b->created_at : a->job_id > b->job_id;
  });
  size_t from = 0;
  if (!after.empty()) {
    auto it = std::find_if(jobs.begin(), jobs.end(),
                           [&](const JobRecord* j) { return j->job_id == after; });
    if (it == jobs.end()) {
      return respond(
          HttpResponse::Error(core::InvalidArgument("no such job in this list", "after")));
    }
    from = static_cast<size_t>(it - jobs.begin()) + 1;
  }
  json::array page;
  size_t i = from;
  for (; i < jobs.size() && page.size() < static_cast<size_t>(limit); ++i) {
    page.push_back(JobJson(*jobs[i]));
  }
  json::object out{{"jobs", std::move(page)}};
  out["next"] = i < jobs.size() ? json::value(jobs[i - 1]->job_id) : json::value(nullptr);
  respond(HttpResponse::Json(200, json::serialize(out)));
}

void JobService::Impl::Show(HttpRequest&, const RouteContext& ctx, Respond respond) {
  if (!open) return respond(NotOpen());
  std::unique_lock lock(mu);
  const JobRecord* job = Visible(ctx, ctx.Param("id"));
  if (job == nullptr) {
    lock.unlock();
    return respond(
        HttpResponse::Error(core::NotFound("no job '" + std::string(ctx.Param("id")) + "'", "id")));
  }
  HttpResponse answer = JobAnswer(200, *job);
  lock.unlock();
  respond(std::move(answer));
}

void JobService::Impl::CancelJob(HttpRequest&, const RouteContext& ctx, Respond respond) {
  if (!open) return respond(NotOpen());
  std::unique_lock lock(mu);
  if (Visible(ctx, ctx.Param("id")) == nullptr) {
    lock.unlock();
    return respond(
        HttpResponse::Error(core::NotFound("no job '" + std::string(ctx.Param("id")) + "'", "id")));
  }
  RouterResult r = router.Cancel(ctx.Param("id"), clock->Now());
  lock.unlock();
  if (!r.status.ok()) return respond(HttpResponse::Error(r.status));
  std::optional<JobRecord> job = r.job;
  if (r.to_persist.empty()) {
    if (job) respond(JobAnswer(200, *job));
    return Process(std::move(r));
  }
  // Answer once the cancellation is durable.
  std::vector<JobRecord> records = std::move(r.to_persist);
  storage::Batch batch;
  for (const JobRecord& j : records) {
    batch.Put(storage::Cf::kJobs, JobKey(j.job_id), json::serialize(federation::ToJson(j)));
  }
  store->WriteAsync(std::move(batch), [self = shared_from_this(), sends = std::move(r.to_send),
                                       respond, job](core::Status st) mutable {
    if (!st.ok()) {
      return respond(
          HttpResponse::Error(core::Status(core::Code::kUnavailable, "storage: " + st.message())));
    }
    for (Outbound& o : sends) self->Send(std::move(o));
    if (job) respond(JobAnswer(200, *job));
  });
}

core::Result<std::unique_ptr<JobService>> JobService::Create(const config::CenterConfig& config,
                                                             IoRuntime& runtime, Metrics* metrics,
                                                             const core::Clock* clock) {
  auto impl = std::make_shared<Impl>(config, runtime, metrics, clock);
  PeerClientOptions options;
  options.clock = clock;
  // Many jobs may be in flight to one busy target: keep their connections (and their TLS
  // sessions) instead of handshaking again.
  options.max_idle_per_peer = 64;
  // Metrics of peer calls are the federation client's; this one is not registered twice.
  EDWC_ASSIGN_OR_RETURN(impl->peers,
                        HttpsPeerClient::Create(runtime, config.tls, options, nullptr));
  if (metrics != nullptr) {
    std::weak_ptr<Impl> weak = impl;
    metrics->AddGaugesBy(
        "edwc_jobs", "Jobs placed by this center's brokers, by state.", "state", [weak] {
          std::map<std::string, double> by_state;
          // Every state, zeros included.
          for (int s = 0; s <= static_cast<int>(federation::JobState::kCancelled); ++s) {
            by_state[std::string(federation::JobStateName(static_cast<federation::JobState>(s)))] =
                0;
          }
          if (auto self = weak.lock()) {
            std::lock_guard lock(self->mu);
            for (const auto& [id, j] : self->router.jobs()) {
              by_state[std::string(federation::JobStateName(j.state))] += 1;
            }
          }
          return by_state;
        });
  }
  return std::unique_ptr<JobService>(new JobService(std::move(impl)));
}

core::Status JobService::Open(storage::Store* store, const ViewSource* view) {
  Impl* impl = impl_.get();
  impl->store = store;
  impl->view = view;
  std::vector<JobRecord> jobs;
  std::map<std::string, std::string, std::less<>> keys;
  core::Status bad;
  EDWC_RETURN_IF_ERROR(
      store->Scan(storage::Cf::kJobs, "", [&](std::string_view key, std::string_view value) {
        if (key.substr(0, kKeyPrefix.size()) == kKeyPrefix) {
          keys.emplace(std::string(key), std::string(value));
          return true;
        }
        auto v = core::ParseJson(value);
        auto job = v.ok() ? federation::JobRecordFromJson(*v) : core::Result<JobRecord>(v.status());
        if (!job.ok()) {
          bad = core::Status(core::Code::kCorruption,
                             "stored job " + std::string(key) + ": " + job.status().message());
          return false;
        }
        jobs.push_back(std::move(job).value());
        return true;
      }));
  EDWC_RETURN_IF_ERROR(bad);
  RouterResult resumed;
  {
    std::lock_guard lock(impl->mu);
    impl->job_of_key = std::move(keys);
    resumed = impl->router.Recover(std::move(jobs), impl->clock->Now());
    for (const auto& [id, job] : impl->router.jobs()) impl->Account(job);
    impl->recovered = std::move(resumed.to_send);
  }
  if (!resumed.to_persist.empty()) {
    storage::Batch batch;
    for (const JobRecord& j : resumed.to_persist) {
      batch.Put(storage::Cf::kJobs, JobKey(j.job_id), json::serialize(federation::ToJson(j)));
    }
    EDWC_RETURN_IF_ERROR(store->Write(std::move(batch)));
  }
  impl->open = true;
  return core::Status::Ok();
}

JobService::JobService(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

JobService::~JobService() { Stop(); }

void JobService::RegisterRoutes(Router& router) {
  Impl* p = impl_.get();
  auto bind = [p](void (Impl::*fn)(HttpRequest&, const RouteContext&, Respond)) {
    return [p, fn](HttpRequest& req, const RouteContext& ctx, Respond respond) {
      (p->*fn)(req, ctx, std::move(respond));
    };
  };
  const Access brokers = Access::Roles({config::Role::kBroker, config::Role::kOperator});
  router.Add("POST", "/v1/jobs", Access::Roles({config::Role::kBroker}), bind(&Impl::Submit));
  router.Add("GET", "/v1/jobs", brokers, bind(&Impl::List));
  router.Add("GET", "/v1/jobs/{id}", brokers, bind(&Impl::Show));
  router.Add("DELETE", "/v1/jobs/{id}", brokers, bind(&Impl::CancelJob));
}

void JobService::SetManifestSource(ManifestSource source) { impl_->manifests = std::move(source); }

void JobService::Start() { impl_->runtime.TickWhileRunning(kTick, impl_); }

void JobService::Stop() {
  std::vector<Impl::Waiter> pending;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
    for (auto& [id, list] : impl_->waiters) {
      for (auto& w : list) pending.push_back(std::move(w));
    }
    impl_->waiters.clear();
  }
  for (auto& w : pending) {
    w.respond(HttpResponse::Error(core::Status(core::Code::kUnavailable, "shutting down")));
  }
  impl_->peers->Shutdown();
}

core::Money JobService::PayableTo(std::string_view center) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->payable.find(center);
  return it == impl_->payable.end() ? core::Money() : it->second;
}

core::Result<federation::SettlementBody> JobService::ExpectSettlement(
    const federation::SettlementBody& offered) const {
  std::lock_guard lock(impl_->mu);
  const JobRecord* job = impl_->router.Get(offered.job);
  if (job == nullptr) {
    return core::Status(core::Code::kNotFound, "no job " + offered.job + " here");
  }
  return federation::ExpectCompute(offered, *job);
}

}  // namespace edwc::gateway
