#include "gateway/hold_service.h"

#include <atomic>
#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "core/json.h"
#include "core/log.h"
#include "federation/holds.h"
#include "gateway/http_types.h"
#include "gateway/io_runtime.h"
#include "gateway/metrics.h"
#include "gateway/router.h"
#include "gateway/worker_pool.h"
#include "storage/store.h"

namespace edwc::gateway {

namespace json = boost::json;
using federation::HoldRecord;
using federation::HoldState;

namespace {

constexpr core::Duration kExpiryTick{100};
constexpr std::string_view kKeyPrefix = "h/";

std::string HoldKey(std::string_view id) { return std::string(kKeyPrefix) + std::string(id); }

HttpResponse HoldAnswer(int status, const HoldRecord& record) {
  json::object o{{"hold", federation::ToJson(record)}};
  return HttpResponse::Json(status, json::serialize(o));
}

constexpr size_t kMaxStatusIds = 1000;

HttpResponse Unavailable(std::string message) {
  return HttpResponse::Error(core::Status(core::Code::kUnavailable, std::move(message)));
}

}  // namespace

struct HoldService::Impl : std::enable_shared_from_this<Impl> {
  Impl(const config::CenterConfig& c, executor::CapacitySource* inv, IoRuntime& rt, Metrics* m,
       const core::Clock* clk)
      : config(c),
        inventory(inv),
        runtime(rt),
        metrics(m),
        clock(clk),
        pricing(c.pricing),
        book(c.center.id) {}

  const config::CenterConfig& config;
  storage::Store* store = nullptr;  // set once by Open, before `open`
  std::atomic<bool> open{false};
  executor::CapacitySource* inventory;
  IoRuntime& runtime;
  Metrics* metrics;
  const core::Clock* clock;
  executor::JobExecutorPtr executor;
  WorkerPool workers{2};  // executor calls
  std::atomic<JobData*> job_data{nullptr};
  std::vector<HoldRecord> never_started;  // committed before a crash, never launched

  // Runs `task` on a worker (blocking executor calls); dropped once the service is gone.
  void Later(std::function<void()> task) { workers.Post(std::move(task)); }

  std::mutex mu;
  config::PriceList pricing;                               // GUARDED_BY(mu)
  federation::HoldBook book;                               // GUARDED_BY(mu)
  std::map<std::string, HoldRecord, std::less<>> durable;  // GUARDED_BY(mu): last synced
  // Jobs the executor is being asked to start, and ends that arrived before their start was
  // recorded.
  std::set<std::string, std::less<>> launching;                   // GUARDED_BY(mu)
  std::map<std::string, federation::ExecutorOutcome> early_ends;  // GUARDED_BY(mu)
  std::function<core::Money(std::string_view)> payable_to;        // GUARDED_BY(mu)
  std::function<void(const HoldRecord&)> ended_sink;              // GUARDED_BY(mu)
  bool stopped = false;                                           // GUARDED_BY(mu)

  void RefreshCapacity();
  federation::PriceSnapshot Snapshot(std::string_view router);
  void Persist(std::vector<HoldRecord> records, std::function<void(core::Status)> then);
  void ReportEnded(const std::vector<HoldRecord>& records);
  void Tick();
  void StartJob(HoldRecord record);
  void StopJob(const std::string& id);
  void Launch(HoldRecord record, core::Status staged, const std::vector<std::string>& input_paths);
  void RecordEnd(const std::string& id, executor::JobOutcome outcome,
                 std::optional<federation::JobOutput> output);
  void OnJobEnded(const std::string& id, executor::JobOutcome outcome);
  void Apply(federation::HoldOpResult r);

  void HandleCreate(HttpRequest& req, Respond respond);
  void HandleStatus(HttpRequest& req, Respond respond);
  void HandleOp(HttpRequest& req, const RouteContext& ctx, Respond respond,
                federation::HoldOpResult (federation::HoldBook::*op)(std::string_view,
                                                                     std::string_view, core::Time));
  void HandleGet(HttpRequest& req, const RouteContext& ctx, Respond respond);
};

// Capacity per model from the inventory source; for Slurm, devices it reports used beyond
// our own running jobs are used by others.
void HoldService::Impl::RefreshCapacity() {
  auto models = inventory->Read();
  if (!models.ok()) return;
  std::lock_guard lock(mu);
  const auto summary = book.Summary();
  for (const executor::ModelCapacity& m : *models) {
    int32_t ours = 0;
    if (auto it = summary.find(m.model); it != summary.end()) ours = it->second.running;
    book.SetCapacity(m.model, m.total, std::max(0, m.used - ours));
  }
}

federation::PriceSnapshot HoldService::Impl::Snapshot(std::string_view router) {
  federation::PriceSnapshot s;
  for (const config::ModelPrice& p : pricing.models) s.schedules.emplace(p.model, p.schedule);
  s.surge_rule = pricing.surge;  // the book applies it to its live capacity at the grant
  if (router == config.center.id) return s;  // our own brokers owe us nothing
  // Only this router's limit matters. It applies to the net debt: what we owe the router
  // raises what it may owe us.
  std::optional<core::Money> limit;
  if (config.credit.has_default) limit = config.credit.default_limit;
  for (const config::CreditLimit& l : config.credit.limits) {
    if (l.center == router) limit = l.limit;
  }
  if (limit) {
    const core::Money owed_to_router = payable_to ? payable_to(router) : core::Money();
    s.credit.limits.emplace(std::string(router), limit->SaturatingAdd(owed_to_router));
  }
  return s;
}

void HoldService::Impl::Persist(std::vector<HoldRecord> records,
                                std::function<void(core::Status)> then) {
  if (records.empty()) {
    if (then) then(core::Status::Ok());
    return;
  }
  storage::Batch batch;
  for (const HoldRecord& r : records) {
    batch.Put(storage::Cf::kHolds, HoldKey(r.hold_id), json::serialize(federation::ToJson(r)));
  }
  store->WriteAsync(std::move(batch), [self = shared_from_this(), records = std::move(records),
                                       then = std::move(then)](core::Status st) mutable {
    std::vector<HoldRecord> ended;
    if (st.ok()) {
      std::lock_guard lock(self->mu);
      for (HoldRecord& r : records) {
        if (federation::IsTerminal(r.state) && r.usage) ended.push_back(r);
        auto it = self->durable.find(r.hold_id);
        if (it == self->durable.end()) {
          self->durable.emplace(r.hold_id, std::move(r));
        } else if (it->second.version <= r.version) {
          it->second = std::move(r);
        }
      }
    } else {
      core::LogError("holds", "hold write failed: " + st.ToString());
    }
    self->ReportEnded(ended);
    if (then) then(st);
  });
}

// Holds that ran are settled once their end is durable (settling twice is harmless: the
// settlement's id is the hold's).
void HoldService::Impl::ReportEnded(const std::vector<HoldRecord>& records) {
  if (records.empty()) return;
  std::function<void(const HoldRecord&)> sink;
  {
    std::lock_guard lock(mu);
    sink = ended_sink;
  }
  if (!sink) return;
  for (const HoldRecord& r : records) sink(r);
}

// Persists a result's records, then starts or stops the executor as it asks.
void HoldService::Impl::Apply(federation::HoldOpResult r) {
  std::optional<HoldRecord> record = r.record;
  const bool start = r.start_executor, stop = r.stop_executor;
  Persist(std::move(r.to_persist),
          [self = shared_from_this(), record, start, stop](core::Status st) {
            if (!st.ok() || !record) return;
            if (start) self->Later([self, rec = *record] { self->StartJob(rec); });
            if (stop) self->Later([self, id = record->hold_id] { self->StopJob(id); });
          });
}

void HoldService::Impl::Tick() {
  RefreshCapacity();
  std::vector<HoldRecord> expired;
  {
    std::lock_guard lock(mu);
    if (stopped) return;
    expired = book.Tick(clock->Now());
  }
  Persist(std::move(expired), nullptr);
}

// Fetches the job's inputs, if any, then launches it.
void HoldService::Impl::StartJob(HoldRecord record) {
  if (record.terms.inputs.empty()) return Launch(std::move(record), core::Status::Ok(), {});
  JobData* data = job_data.load();
  if (data == nullptr) {
    return Launch(std::move(record),
                  core::Status(core::Code::kFailedPrecondition, "this center keeps no datasets"),
                  {});
  }
  const std::string id = record.hold_id;
  const std::vector<federation::JobInput> inputs = record.terms.inputs;  // record moves below
  data->StageInputs(id, inputs,
                    [self = shared_from_this(), record = std::move(record)](
                        core::Status st, std::vector<std::string> paths) mutable {
                      self->Later([self, record = std::move(record), st, paths = std::move(paths)] {
                        self->Launch(record, st, paths);
                      });
                    });
}

namespace {

// The job's directory: its inputs linked under inputs/, an empty output/ for its results.
core::Status PrepareJobDir(const std::string& dir, const std::vector<federation::JobInput>& inputs,
                           const std::vector<std::string>& paths) {
  EDWC_RETURN_IF_ERROR(executor::MakeDirLikeParent(dir + "/output"));
  if (inputs.empty()) return core::Status::Ok();
  const std::filesystem::path in = std::filesystem::path(dir) / "inputs";
  EDWC_RETURN_IF_ERROR(executor::MakeDirLikeParent(in.string()));
  std::error_code ec;
  for (size_t i = 0; i < inputs.size() && i < paths.size() && !ec; ++i) {
    std::filesystem::remove(in / inputs[i].dataset, ec);
    std::filesystem::create_symlink(paths[i], in / inputs[i].dataset, ec);
  }
  if (ec) return core::IoError("cannot link the inputs into " + in.string() + ": " + ec.message());
  return core::Status::Ok();
}

}  // namespace

void HoldService::Impl::Launch(HoldRecord record, core::Status staged,
                               const std::vector<std::string>& input_paths) {
  {
    std::lock_guard lock(mu);
    const HoldRecord* now = book.Get(record.hold_id);
    // Cancelled (or ended) while its inputs were on their way: nothing to start.
    if (now == nullptr || now->state != HoldState::kCommitted) return;
    launching.insert(record.hold_id);
  }
  executor::JobLaunch launch;
  launch.id = record.hold_id;
  launch.argv = record.terms.command;
  launch.env = record.terms.env;
  launch.env.emplace_back("EDWC_CENTER", config.center.id);
  launch.env.emplace_back("EDWC_ROUTER", record.router);
  launch.env.emplace_back("EDWC_ROUTER_JOB_ID", record.job_id);
  launch.model = record.terms.model;
  launch.devices = record.devices;
  launch.time_limit = record.terms.duration;
  launch.work_dir = (std::filesystem::path(config.jobs.work_dir) / record.hold_id).string();
  launch.env.emplace_back("EDWC_OUTPUT_DIR", launch.work_dir + "/output");
  if (!record.terms.inputs.empty()) {
    launch.env.emplace_back("EDWC_INPUT_DIR", launch.work_dir + "/inputs");
  }
  if (staged.ok()) staged = PrepareJobDir(launch.work_dir, record.terms.inputs, input_paths);
  auto started = staged.ok() ? executor->Start(launch)
                             : core::Result<executor::StartedJob>(staged.WithContext("inputs"));
  federation::HoldOpResult r;
  std::optional<federation::ExecutorOutcome> early;
  {
    std::lock_guard lock(mu);
    launching.erase(record.hold_id);
    if (started.ok()) {
      r = book.MarkStarted(record.hold_id, started->ref, started->started);
      if (auto it = early_ends.find(record.hold_id); it != early_ends.end()) {
        early = it->second;
        early_ends.erase(it);
      }
    } else {
      r = book.MarkStartFailed(record.hold_id, started.status().message(), clock->Now());
    }
    if (early) {
      auto ended = book.MarkEnded(record.hold_id, *early);
      r.to_persist.insert(r.to_persist.end(), ended.to_persist.begin(), ended.to_persist.end());
      r.stop_executor = false;
    }
  }
  if (!started.ok()) {
    core::LogWarn("holds",
                  "job " + record.hold_id + " did not start: " + started.status().ToString());
  }
  Apply(std::move(r));
}

void HoldService::Impl::StopJob(const std::string& id) {
  if (auto st = executor->Cancel(id); !st.ok() && st.code() != core::Code::kNotFound) {
    core::LogWarn("holds", "cancel of job " + id + " failed: " + st.ToString());
  }
}

// What the job left in its output directory becomes a dataset here, off the executor's
// thread; then its end is recorded.
void HoldService::Impl::OnJobEnded(const std::string& id, executor::JobOutcome outcome) {
  JobData* data = job_data.load();
  if (data == nullptr) return RecordEnd(id, std::move(outcome), std::nullopt);
  const std::string dir = (std::filesystem::path(config.jobs.work_dir) / id / "output").string();
  std::error_code ec;
  if (std::filesystem::is_empty(dir, ec) || ec) {
    return RecordEnd(id, std::move(outcome), std::nullopt);
  }
  Later([self = shared_from_this(), data, id, dir, outcome = std::move(outcome)]() mutable {
    auto stored = data->StoreOutput(id + ".output", dir);
    if (!stored.ok()) {
      core::LogWarn("holds", "output of " + id + " not kept: " + stored.status().ToString());
    }
    self->RecordEnd(id, std::move(outcome), stored.ok() ? *stored : std::nullopt);
  });
}

void HoldService::Impl::RecordEnd(const std::string& id, executor::JobOutcome outcome,
                                  std::optional<federation::JobOutput> output) {
  federation::ExecutorOutcome o;
  o.output = std::move(output);
  o.state = outcome.state == executor::JobOutcome::State::kSucceeded   ? HoldState::kSucceeded
            : outcome.state == executor::JobOutcome::State::kCancelled ? HoldState::kCancelled
                                                                       : HoldState::kFailed;
  o.exit_code = outcome.exit_code;
  o.message = outcome.message;
  o.started = outcome.started;
  o.ended = outcome.ended;
  federation::HoldOpResult r;
  {
    std::lock_guard lock(mu);
    if (launching.contains(id)) {
      early_ends[id] = o;  // Start() has not returned yet; Launch applies it
      return;
    }
    r = book.MarkEnded(id, o);
  }
  Apply(std::move(r));
}

void HoldService::Impl::HandleCreate(HttpRequest& req, Respond respond) {
  if (!open) return respond(Unavailable("not ready: storage is still opening"));
  auto value = core::ParseJson(req.body);
  if (!value.ok()) return respond(HttpResponse::Error(value.status()));
  auto request = federation::HoldRequestFromJson(*value);
  if (!request.ok()) return respond(HttpResponse::Error(request.status()));
  federation::CreateResult r;
  {
    std::lock_guard lock(mu);
    if (stopped) return respond(Unavailable("shutting down"));
    r = book.Create(*request, req.peer_center, clock->Now(), Snapshot(req.peer_center));
  }
  if (!r.status.ok()) return respond(HttpResponse::Error(r.status));
  if (r.rejection) {
    json::object rej{{"reason", r.rejection->reason},
                     {"free", r.rejection->free},
                     {"estimated_total_fen", r.rejection->estimated_total.fen()}};
    return respond(HttpResponse::Json(200, json::serialize(json::object{{"rejected", rej}})));
  }
  const bool created = !r.to_persist.empty();
  // A retry re-writes the record: its answer then waits for the first write's sync too.
  std::vector<HoldRecord> records =
      created ? std::move(r.to_persist) : std::vector<HoldRecord>{*r.record};
  Persist(std::move(records), [respond, record = *r.record, created](core::Status st) {
    if (!st.ok()) return respond(Unavailable("storage: " + st.message()));
    respond(HoldAnswer(created ? 201 : 200, record));
  });
}

void HoldService::Impl::HandleOp(HttpRequest& req, const RouteContext& ctx, Respond respond,
                                 federation::HoldOpResult (federation::HoldBook::*op)(
                                     std::string_view, std::string_view, core::Time)) {
  if (!open) return respond(Unavailable("not ready: storage is still opening"));
  federation::HoldOpResult r;
  {
    std::lock_guard lock(mu);
    if (stopped) return respond(Unavailable("shutting down"));
    r = (book.*op)(ctx.Param("id"), req.peer_center, clock->Now());
  }
  if (!r.status.ok()) return respond(HttpResponse::Error(r.status));
  std::optional<HoldRecord> record = r.record;
  if (r.to_persist.empty() && record) r.to_persist.push_back(*record);
  const bool start = r.start_executor, stop = r.stop_executor;
  Persist(std::move(r.to_persist),
          [self = shared_from_this(), respond, record, start, stop](core::Status st) {
            if (!st.ok()) return respond(Unavailable("storage: " + st.message()));
            if (record && start) self->Later([self, rec = *record] { self->StartJob(rec); });
            if (record && stop) self->Later([self, id = record->hold_id] { self->StopJob(id); });
            if (!record) return respond(HttpResponse::Error(core::Internal("no record")));
            respond(HoldAnswer(200, *record));
          });
}

void HoldService::Impl::HandleGet(HttpRequest& req, const RouteContext& ctx, Respond respond) {
  if (!open) return respond(Unavailable("not ready: storage is still opening"));
  std::lock_guard lock(mu);
  auto it = durable.find(ctx.Param("id"));
  if (it == durable.end() || it->second.router != req.peer_center) {
    return respond(HttpResponse::Error(
        core::NotFound("no hold '" + std::string(ctx.Param("id")) + "' of yours here", "id")));
  }
  respond(HoldAnswer(200, it->second));
}

// {"ids": [hold id, ..]} -> {"holds": [the durable record of each that is the caller's],
// "unknown": [the others]}: one router's status polls of many jobs in one request.
void HoldService::Impl::HandleStatus(HttpRequest& req, Respond respond) {
  if (!open) return respond(Unavailable("not ready: storage is still opening"));
  auto body = core::ParseJsonObject(req.body);
  if (!body.ok()) return respond(HttpResponse::Error(body.status()));
  if (auto st = core::RejectUnknownFields(*body, {"ids"}); !st.ok()) {
    return respond(HttpResponse::Error(st));
  }
  const json::value* ids = body->if_contains("ids");
  if (ids == nullptr || !ids->is_array()) {
    return respond(HttpResponse::Error(core::InvalidArgument("must be a list of hold ids", "ids")));
  }
  if (ids->as_array().size() > kMaxStatusIds) {
    return respond(HttpResponse::Error(core::InvalidArgument(
        "at most " + std::to_string(kMaxStatusIds) + " hold ids per request", "ids")));
  }
  json::array holds, unknown;
  std::lock_guard lock(mu);
  for (const json::value& id : ids->as_array()) {
    if (!id.is_string()) {
      return respond(HttpResponse::Error(core::InvalidArgument("must be strings", "ids")));
    }
    auto it = durable.find(std::string_view(id.as_string()));
    if (it == durable.end() || it->second.router != req.peer_center) {
      unknown.push_back(id);
    } else {
      holds.push_back(federation::ToJson(it->second));
    }
  }
  respond(HttpResponse::Json(200, json::serialize(json::object{{"holds", std::move(holds)},
                                                               {"unknown", std::move(unknown)}})));
}

core::Result<std::unique_ptr<HoldService>> HoldService::Create(const config::CenterConfig& config,
                                                               executor::CapacitySource* inventory,
                                                               ExecutorFactory make_executor,
                                                               IoRuntime& runtime, Metrics* metrics,
                                                               const core::Clock* clock) {
  auto impl = std::make_shared<Impl>(config, inventory, runtime, metrics, clock);
  std::weak_ptr<Impl> weak = impl;
  auto executor = make_executor([weak](const std::string& id, executor::JobOutcome outcome) {
    if (auto self = weak.lock()) self->OnJobEnded(id, std::move(outcome));
  });
  if (!executor.ok()) return executor.status().WithContext("executor");
  impl->executor = std::move(executor).value();
  impl->RefreshCapacity();
  if (metrics != nullptr) {
    metrics->AddGaugesBy(
        "edwc_holds", "Holds and the jobs they became here, by state.", "state", [weak] {
          std::map<std::string, double> by_state;
          // Every state, zeros included.
          for (int s = 0; s <= static_cast<int>(federation::HoldState::kExpired); ++s) {
            by_state[std::string(
                federation::HoldStateName(static_cast<federation::HoldState>(s)))] = 0;
          }
          if (auto self = weak.lock()) {
            std::lock_guard lock(self->mu);
            for (const auto& [id, r] : self->book.holds()) {
              by_state[std::string(federation::HoldStateName(r.state))] += 1;
            }
          }
          return by_state;
        });
  }
  return std::unique_ptr<HoldService>(new HoldService(std::move(impl)));
}

core::Status HoldService::Open(storage::Store* store) {
  Impl* impl = impl_.get();
  impl->store = store;
  // Recovery: the newest record of every hold, then expiry of the overdue.
  std::vector<HoldRecord> records;
  core::Status bad;
  auto st = store->Scan(
      storage::Cf::kHolds, kKeyPrefix, [&](std::string_view key, std::string_view value) {
        auto v = core::ParseJson(value);
        auto r = v.ok() ? federation::HoldRecordFromJson(*v) : core::Result<HoldRecord>(v.status());
        if (!r.ok()) {
          bad = core::Status(core::Code::kCorruption,
                             "stored hold " + std::string(key) + ": " + r.status().message());
          return false;
        }
        records.push_back(std::move(r).value());
        return true;
      });
  EDWC_RETURN_IF_ERROR(st);
  EDWC_RETURN_IF_ERROR(bad);
  federation::RecoverResult recovered;
  {
    std::lock_guard lock(impl->mu);
    for (const HoldRecord& r : records) impl->durable.emplace(r.hold_id, r);
    recovered = impl->book.Recover(std::move(records), impl->clock->Now());
  }
  impl->RefreshCapacity();  // Recover forgets capacity; running counts are known now
  if (!recovered.to_persist.empty()) {
    storage::Batch batch;
    for (const HoldRecord& r : recovered.to_persist) {
      batch.Put(storage::Cf::kHolds, HoldKey(r.hold_id), json::serialize(federation::ToJson(r)));
    }
    EDWC_RETURN_IF_ERROR(store->Write(std::move(batch)));
    std::lock_guard lock(impl->mu);
    for (HoldRecord& r : recovered.to_persist) impl->durable[r.hold_id] = std::move(r);
  }
  std::vector<std::pair<std::string, std::string>> running;
  for (HoldRecord& r : recovered.to_resume) {
    if (!r.executor_ref.empty()) {
      running.emplace_back(r.hold_id, r.executor_ref);
    } else if (std::filesystem::exists(std::filesystem::path(impl->config.jobs.work_dir) /
                                       r.hold_id)) {
      // Its directory is made just before the executor starts it: it may be running with
      // its start unrecorded. The executor stops what is left, and it ends lost: starting
      // it again would run it twice, on the same devices.
      running.emplace_back(r.hold_id, "");
    } else {
      impl->never_started.push_back(std::move(r));  // started by Start, once wired up
    }
  }
  if (!running.empty()) impl->executor->Recover(running);
  impl->open = true;
  return core::Status::Ok();
}

HoldService::HoldService(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HoldService::~HoldService() {
  Stop();
  // Tasks already posted finish (the pool joins) before the executor goes; later store
  // callbacks find the pool closed and post nothing.
  impl_->workers.Close();
  impl_->executor.reset();
}

void HoldService::SetJobData(JobData* data) { impl_->job_data = data; }

void HoldService::RegisterRoutes(Router& peer_router) {
  Impl* p = impl_.get();
  peer_router.Add("POST", "/peer/v1/holds", Access::Public(),
                  [p](HttpRequest& req, const RouteContext&, Respond respond) {
                    p->HandleCreate(req, std::move(respond));
                  });
  using Op = federation::HoldOpResult (federation::HoldBook::*)(std::string_view, std::string_view,
                                                                core::Time);
  const std::pair<const char*, Op> ops[] = {{"commit", &federation::HoldBook::Commit},
                                            {"release", &federation::HoldBook::Release},
                                            {"cancel", &federation::HoldBook::Cancel}};
  for (auto [name, op] : ops) {
    peer_router.Add("POST", std::string("/peer/v1/holds/{id}/") + name, Access::Public(),
                    [p, op = op](HttpRequest& req, const RouteContext& ctx, Respond respond) {
                      p->HandleOp(req, ctx, std::move(respond), op);
                    });
  }
  peer_router.Add("POST", "/peer/v1/jobs/status", Access::Public(),
                  [p](HttpRequest& req, const RouteContext&, Respond respond) {
                    p->HandleStatus(req, std::move(respond));
                  });
  peer_router.MarkRoutine("POST", "/peer/v1/jobs/status");
  peer_router.Add("GET", "/peer/v1/jobs/{id}", Access::Public(),
                  [p](HttpRequest& req, const RouteContext& ctx, Respond respond) {
                    p->HandleGet(req, ctx, std::move(respond));
                  });
}

void HoldService::Start() {
  for (HoldRecord& r : impl_->never_started) {
    impl_->Later([self = impl_, rec = std::move(r)] { self->StartJob(rec); });
  }
  impl_->never_started.clear();
  impl_->runtime.TickWhileRunning(kExpiryTick, impl_);
}

void HoldService::Stop() {
  std::lock_guard lock(impl_->mu);
  impl_->stopped = true;
}

void HoldService::SetPricing(const config::PriceList& pricing) {
  std::lock_guard lock(impl_->mu);
  impl_->pricing = pricing;
}

void HoldService::SetPayables(std::function<core::Money(std::string_view)> payable_to) {
  std::lock_guard lock(impl_->mu);
  impl_->payable_to = std::move(payable_to);
}

core::Result<std::vector<executor::ModelCapacity>> HoldService::Read() {
  std::lock_guard lock(impl_->mu);
  std::vector<executor::ModelCapacity> out;
  for (const auto& [model, s] : impl_->book.Summary()) {
    out.push_back({model, s.total, s.total - s.free});
  }
  return out;
}

void HoldService::SetEndedSink(std::function<void(const federation::HoldRecord&)> sink) {
  std::vector<HoldRecord> ended;
  {
    std::lock_guard lock(impl_->mu);
    impl_->ended_sink = sink;
    for (const auto& [id, r] : impl_->durable) {
      if (federation::IsTerminal(r.state) && r.usage) ended.push_back(r);
    }
  }
  // Those that ended before a crash may not have been settled yet.
  if (sink) {
    for (const HoldRecord& r : ended) sink(r);
  }
}

}  // namespace edwc::gateway
