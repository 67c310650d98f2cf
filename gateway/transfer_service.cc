#include "gateway/transfer_service.h"

#include <spawn.h>
#include <sys/wait.h>
#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "core/dataset.h"
#include "core/ids.h"
#include "core/json.h"
#include "core/log.h"
#include "federation/gossip.h"
#include "federation/transfer.h"
#include "gateway/federation_service.h"
#include "gateway/hold_service.h"
#include "gateway/http_types.h"
#include "gateway/io_runtime.h"
#include "gateway/metrics.h"
#include "gateway/peer_client.h"
#include "gateway/router.h"
#include "gateway/worker_pool.h"
#include "storage/dataset_store.h"
#include "storage/store.h"

namespace edwc::gateway {

namespace json = boost::json;
using federation::TransferRecord;
using federation::TransferState;
using federation::TransferStep;

namespace {

constexpr std::chrono::milliseconds kTick{100};
constexpr std::string_view kRecordPrefix = "r/";  // r/<id>: the receiver's TransferRecord
constexpr std::string_view kChunkPrefix = "c/";   // c/<id>/<index>: a chunk stored there
constexpr std::string_view kHomePrefix = "h/";    // h/<id>: a transfer requested here
constexpr std::string_view kKeyPrefix = "k/";     // k/<owner>/<key>: its Idempotency-Key
constexpr std::string_view kAuditPrefix = "a/";   // a/<ms>/<id>/<event>: the audit log
constexpr std::string_view kRelaySuffix = ".relay";

std::string Key(std::string_view prefix, std::string_view rest) {
  std::string k(prefix);
  k += rest;
  return k;
}

std::string ChunkKey(std::string_view id, int64_t index) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%012lld", static_cast<long long>(index));
  std::string k = Key(kChunkPrefix, id);
  k += '/';
  k += digits;
  return k;
}

HttpResponse Unavailable(std::string why) {
  return HttpResponse::Error(core::Status(core::Code::kUnavailable, std::move(why)));
}

HttpResponse Answer(int status, json::object o) {
  return HttpResponse::Json(status, json::serialize(o));
}

// What the home keeps of a transfer its brokers asked for; the receiver has the rest.
struct HomeTransfer {
  std::string id, dataset, name, from, to, relay, owner, key, canonical;
  core::Time created_at{};
  std::string state = "creating";  // creating, then the receiver's last known state
  std::string error;
  int64_t bytes_done = 0, total = 0;
};

json::object ToJson(const HomeTransfer& h) {
  return {{"id", h.id},
          {"dataset", h.dataset},
          {"name", h.name},
          {"from", h.from},
          {"to", h.to},
          {"relay", h.relay},
          {"owner", h.owner},
          {"key", h.key},
          {"canonical", h.canonical},
          {"created_at", core::FormatRfc3339(h.created_at)},
          {"state", h.state},
          {"error", h.error},
          {"bytes_done", h.bytes_done},
          {"total", h.total}};
}

core::Result<HomeTransfer> HomeFromJson(std::string_view text) {
  EDWC_ASSIGN_OR_RETURN(json::object o, core::ParseJsonObject(text));
  HomeTransfer h;
  for (auto [field, out] : {std::pair{"id", &h.id},
                            {"dataset", &h.dataset},
                            {"name", &h.name},
                            {"from", &h.from},
                            {"to", &h.to},
                            {"relay", &h.relay},
                            {"owner", &h.owner},
                            {"key", &h.key},
                            {"canonical", &h.canonical},
                            {"state", &h.state},
                            {"error", &h.error}}) {
    EDWC_ASSIGN_OR_RETURN(*out, core::GetString(o, field));
  }
  EDWC_ASSIGN_OR_RETURN(std::string created, core::GetString(o, "created_at"));
  EDWC_ASSIGN_OR_RETURN(h.created_at, core::ParseRfc3339(created));
  EDWC_ASSIGN_OR_RETURN(h.bytes_done, core::GetInt(o, "bytes_done", 0, core::kMaxDatasetSize));
  EDWC_ASSIGN_OR_RETURN(h.total, core::GetInt(o, "total", 0, core::kMaxDatasetSize));
  return h;
}

json::object MoneyFields(std::string_view prefix, core::Money m) {
  return {{std::string(prefix) + "_fen", m.fen()},
          {std::string(prefix) + "_cny", m.ToYuanString()}};
}

// The transfer as brokers see it: the receiver's record and progress.
json::object ProgressJson(const TransferRecord& r, const federation::TransferProgress& p) {
  json::object o{{"id", r.id},
                 {"dataset", r.manifest.name},
                 {"name", r.dataset},
                 {"from", r.source_center},
                 {"to", r.dest_center},
                 {"state", federation::TransferStateName(r.state)},
                 {"bytes_done", p.bytes_done},
                 {"total_bytes", p.total},
                 {"chunks", r.manifest.chunk_count()},
                 {"rate_bytes_per_s", p.rate_bytes_per_s},
                 {"sha256", r.manifest.sha256},
                 {"zone", r.manifest.zone},
                 {"requested_by", r.requested_by},
                 {"plan", federation::ToJson(r.plan)},
                 {"created_at", core::FormatRfc3339(r.created_at)},
                 {"updated_at", core::FormatRfc3339(r.updated_at)}};
  if (r.plan.relay) o["relay"] = *r.plan.relay;
  if (p.eta) o["eta_ms"] = p.eta->count();
  if (!r.error.empty()) o["error"] = r.error;
  if (r.started_at) o["started_at"] = core::FormatRfc3339(*r.started_at);
  if (r.finished_at) o["finished_at"] = core::FormatRfc3339(*r.finished_at);
  for (auto& kv : MoneyFields("egress", r.plan.egress)) o[kv.key()] = kv.value();
  return o;
}

json::object HomeJson(const HomeTransfer& h) {
  json::object o{{"id", h.id},
                 {"dataset", h.dataset},
                 {"name", h.name},
                 {"from", h.from},
                 {"to", h.to},
                 {"state", h.state},
                 {"bytes_done", h.bytes_done},
                 {"total_bytes", h.total},
                 {"created_at", core::FormatRfc3339(h.created_at)}};
  if (!h.relay.empty()) o["relay"] = h.relay;
  if (!h.error.empty()) o["error"] = h.error;
  return o;
}

// A peer's error answer as a status for our caller (its code and message kept).
core::Status PeerError(std::string_view who, const core::Result<PeerResponse>& r) {
  if (!r.ok()) {
    return core::Status(core::Code::kUnavailable,
                        std::string(who) + " unreachable: " + r.status().message());
  }
  auto body = core::ParseJsonObject(r->body);
  std::string message = std::string(who) + " answered " + std::to_string(r->status);
  std::string field;
  core::Code code = r->status == 404   ? core::Code::kNotFound
                    : r->status == 403 ? core::Code::kPermissionDenied
                    : r->status == 409 ? core::Code::kConflict
                    : r->status == 412 ? core::Code::kFailedPrecondition
                    : r->status < 500  ? core::Code::kInvalidArgument
                                       : core::Code::kUnavailable;
  if (body.ok()) {
    if (const json::value* e = body->if_contains("error"); e && e->is_object()) {
      if (auto* m = e->as_object().if_contains("message"); m && m->is_string()) {
        message = std::string(who) + ": " + std::string(m->as_string());
      }
      if (auto* f = e->as_object().if_contains("field"); f && f->is_string()) {
        field = std::string(f->as_string());
      }
    }
  }
  return core::Status(code, message, field);
}

}  // namespace

struct TransferService::Impl : std::enable_shared_from_this<Impl> {
  Impl(const config::CenterConfig& c, IoRuntime& rt, Metrics* m, const core::Clock* clk)
      : config(c), runtime(rt), metrics(m), clock(clk) {
    options.streams = c.datasets.streams;
  }

  const config::CenterConfig config;
  IoRuntime& runtime;
  Metrics* metrics;
  const core::Clock* clock;
  federation::TransferOptions options;
  storage::Store* store = nullptr;
  storage::DatasetStore* datasets = nullptr;
  const ViewSource* view = nullptr;
  std::unique_ptr<PeerClient> peers;   // control calls
  std::unique_ptr<PeerClient> chunks;  // chunk fetches: large answers, many connections
  std::unique_ptr<WorkerPool> files;   // verify, write and sync chunks; open partials
  // (Post returns false once Stop closed it: the task is dropped.)
  std::atomic<bool> open{false};
  std::atomic<uint64_t> bytes_received{0}, chunks_corrupt{0};

  // A transfer this center receives (or stages, as a relay).
  struct Incoming {
    explicit Incoming(federation::TransferOptions o) : rx(o) {}
    federation::TransferReceiver rx;
    std::unique_ptr<storage::PartialDataset> partial;
    std::string pull_url, pull_path;  // chunk i is at pull_path + i on pull_url
    bool staging = false;             // a relay's copy: kept for the next leg, not published
    bool finishing = false;
  };

  std::mutex mu;
  std::map<std::string, std::unique_ptr<Incoming>, std::less<>> incoming;  // GUARDED_BY(mu)
  std::map<std::string, HomeTransfer, std::less<>> home;                   // GUARDED_BY(mu)
  std::map<std::string, std::string, std::less<>> home_keys;               // GUARDED_BY(mu)
  std::vector<std::pair<std::string, TransferStep>> resumed;               // GUARDED_BY(mu)
  // Callers waiting for a transfer received here to end (job inputs).
  std::map<std::string, std::vector<std::function<void(core::Status)>>, std::less<>>
      end_waiters;       // GUARDED_BY(mu)
  bool stopped = false;  // GUARDED_BY(mu)

  class Data;
  std::unique_ptr<Data> data;

  void WhenEnded(const std::string& id, std::function<void(core::Status)> done);
  void NotifyEnded(const TransferRecord& r);
  void Stage(const federation::JobInput& input,
             std::function<void(core::Status, std::string)> done);

  // -- common
  std::string ZoneOf(std::string_view center) const;
  std::string PeerUrlOf(std::string_view center) const;
  void Audit(storage::Batch& batch, std::string_view id, std::string_view event,
             json::object detail);
  bool CrossZone(const TransferRecord& r) const;

  // -- receiving side
  void HandleCreate(HttpRequest& req, Respond respond);
  void CreateIncoming(TransferRecord record, std::string caller, Respond respond);
  core::Status CheckIncoming(const TransferRecord& r, std::string_view caller) const;
  std::unique_ptr<Incoming> MakeIncoming(const TransferRecord& r);
  void Apply(const std::string& id, TransferStep step, std::function<void()> after = {});
  void Fetch(const std::string& id, int64_t index);
  void OnFetched(const std::string& id, int64_t index, core::Result<PeerResponse> r);
  void OnChunk(const std::string& id, int64_t index, const federation::ChunkResult& result);
  void FinishIncoming(const std::string& id, TransferStep step);
  void ReleaseRelay(const TransferRecord& r);
  void Tick();
  json::object LocalProgress(const Incoming& in) const;
  void HandlePeerGet(const RouteContext& ctx, std::string_view caller, Respond respond);
  void HandlePeerCancel(const RouteContext& ctx, Respond respond);
  void HandleRelayChunk(HttpRequest& req, const RouteContext& ctx, Respond respond);
  void CancelLocal(const std::string& id, Respond respond);

  // -- home side
  void Submit(HttpRequest& req, const RouteContext& ctx, Respond respond);
  void Plan(HomeTransfer h, core::DatasetManifest m, Respond respond);
  void CreateAt(const std::string& center, TransferRecord r,
                std::function<void(core::Status)> done);
  void GetManifest(const std::string& from, const std::string& dataset, const std::string& to,
                   std::function<void(core::Result<core::DatasetManifest>)> done);
  void List(const RouteContext& ctx, Respond respond);
  void Show(const RouteContext& ctx, Respond respond);
  void Cancel(const RouteContext& ctx, Respond respond);
  void ListAudit(HttpRequest& req, Respond respond);
  const HomeTransfer* Visible(const RouteContext& ctx, std::string_view id) const;
  void Remember(const std::string& id, const json::object& progress);
};

// ---- common -------------------------------------------------------------------------------

std::string TransferService::Impl::ZoneOf(std::string_view center) const {
  if (center == config.center.id) return config.center.zone;
  for (const federation::ViewEntry& e : view->View(clock->Now())) {
    if (e.advert.center == center) return e.advert.zone;
  }
  return {};
}

std::string TransferService::Impl::PeerUrlOf(std::string_view center) const {
  for (const federation::ViewEntry& e : view->View(clock->Now())) {
    if (e.advert.center == center) return e.advert.peer_url;
  }
  return {};
}

bool TransferService::Impl::CrossZone(const TransferRecord& r) const {
  const std::string& zone = r.manifest.zone;
  for (const federation::TransferLeg& leg : r.plan.legs) {
    if (ZoneOf(leg.to) != zone) return true;
  }
  return false;
}

// Adds an audit event to `batch`: operators read them with GET /v1/audit.
void TransferService::Impl::Audit(storage::Batch& batch, std::string_view id,
                                  std::string_view event, json::object detail) {
  const core::Time now = clock->Now();
  char ms[24];
  std::snprintf(ms, sizeof ms, "%015lld", static_cast<long long>(now.time_since_epoch().count()));
  detail["at"] = core::FormatRfc3339(now);
  detail["transfer"] = id;
  detail["event"] = event;
  detail["center"] = config.center.id;
  std::string key = Key(kAuditPrefix, ms);
  key += '/';
  key += id;
  key += '/';
  key += event;
  batch.Put(storage::Cf::kTransfers, std::move(key), json::serialize(detail));
  core::LogInfo("audit", json::serialize(detail));
}

// ---- receiving side -----------------------------------------------------------------------

core::Status TransferService::Impl::CheckIncoming(const TransferRecord& r,
                                                  std::string_view caller) const {
  if (r.dest_center != config.center.id) {
    return core::InvalidArgument("this is " + config.center.id + ", not " + r.dest_center,
                                 "dest_center");
  }
  if (r.state != TransferState::kQueued) {
    return core::InvalidArgument("a new transfer must be queued", "state");
  }
  if (r.plan.legs.empty() || r.plan.legs.front().from != r.source_center) {
    return core::InvalidArgument("the plan does not start at the source", "plan");
  }
  if (caller.empty()) return core::InvalidArgument("no caller", "caller");
  return federation::CheckResidency(config.datasets.residency, r.manifest.zone, r.manifest.tags,
                                    config.center.id, config.center.zone);
}

std::unique_ptr<TransferService::Impl::Incoming> TransferService::Impl::MakeIncoming(
    const TransferRecord& r) {
  auto in = std::make_unique<Incoming>(options);
  const bool via_relay = r.plan.relay.has_value();
  in->staging = via_relay && r.dest_center == *r.plan.relay;
  if (via_relay && !in->staging) {
    // The second leg: the relay serves what it has staged under "<id>.relay".
    in->pull_url = r.plan.legs.back().peer_url;
    in->pull_path = "/peer/v1/transfers/" + r.id + std::string(kRelaySuffix) + "/chunks/";
  } else {
    in->pull_url = r.plan.legs.front().peer_url;
    in->pull_path = "/peer/v1/datasets/" + r.manifest.name + "/chunks/";
  }
  return in;
}

void TransferService::Impl::HandleCreate(HttpRequest& req, Respond respond) {
  if (!open) return respond(Unavailable("not ready: transfers are still opening"));
  auto value = core::ParseJson(req.body);
  if (!value.ok()) return respond(HttpResponse::Error(value.status()));
  auto record = federation::TransferRecordFromJson(*value);
  if (!record.ok()) return respond(HttpResponse::Error(record.status()));
  CreateIncoming(std::move(record).value(), req.peer_center, std::move(respond));
}

// Creates (or, for the same id, finds) a transfer this center receives, and starts it.
void TransferService::Impl::CreateIncoming(TransferRecord record, std::string caller,
                                           Respond respond) {
  std::optional<HttpResponse> known;  // answered after the lock: a local caller takes it again
  {
    std::lock_guard lock(mu);
    if (stopped) {
      known = Unavailable("shutting down");
    } else if (auto it = incoming.find(record.id); it != incoming.end()) {
      const TransferRecord& have = it->second->rx.record();
      if (have.manifest.sha256 != record.manifest.sha256 || have.dataset != record.dataset ||
          have.source_center != record.source_center) {
        known = HttpResponse::Error(core::Status(
            core::Code::kConflict, "transfer " + record.id + " exists with other content", "id"));
      } else {
        known = Answer(200, {{"transfer", LocalProgress(*it->second)}});
      }
    }
  }
  if (known) return respond(std::move(*known));
  if (auto st = CheckIncoming(record, caller); !st.ok()) {
    storage::Batch audit;
    Audit(audit, record.id, "refused",
          {{"dataset", record.manifest.name},
           {"from", record.source_center},
           {"to", record.dest_center},
           {"zone", record.manifest.zone},
           {"reason", st.message()}});
    store->WriteAsync(std::move(audit), [](core::Status) {});
    return respond(HttpResponse::Error(
        st.code() == core::Code::kFailedPrecondition
            ? core::Status(core::Code::kPermissionDenied, st.message(), "residency")
            : st));
  }
  const bool posted =
      files->Post([self = shared_from_this(), record = std::move(record), respond]() mutable {
        auto in = self->MakeIncoming(record);
        if (!in->staging) {
          if (auto have = self->datasets->Get(record.dataset);
              have.ok() && have->sha256 != record.manifest.sha256) {
            return respond(HttpResponse::Error(core::Status(
                core::Code::kConflict,
                "dataset " + record.dataset + " exists here with other content", "name")));
          }
        }
        auto partial = self->datasets->OpenPartial(
            record.id, record.manifest,
            std::vector<bool>(static_cast<size_t>(record.manifest.chunk_count()), false));
        if (!partial.ok()) return respond(HttpResponse::Error(partial.status()));
        in->partial = std::move(partial).value();
        const std::string id = record.id;
        const bool cross = self->CrossZone(record);
        json::object detail{{"dataset", record.manifest.name},    {"name", record.dataset},
                            {"from", record.source_center},       {"to", record.dest_center},
                            {"zone", record.manifest.zone},       {"bytes", record.manifest.size},
                            {"requested_by", record.requested_by}};
        if (record.plan.relay) detail["relay"] = *record.plan.relay;
        // Answers go out after the lock is released: a local caller may take it again.
        TransferStep step;
        std::optional<HttpResponse> refused;
        {
          std::lock_guard lock(self->mu);
          if (self->stopped) {
            refused = Unavailable("shutting down");
          } else if (self->incoming.contains(id)) {
            refused = HttpResponse::Error(
                core::Status(core::Code::kUnavailable, "transfer " + id + " is being created"));
          } else {
            step = in->rx.Start(std::move(record), self->clock->Now());
            if (step.status.ok()) {
              self->incoming.emplace(id, std::move(in));
            } else {
              refused = HttpResponse::Error(step.status);
            }
          }
        }
        if (refused) return respond(std::move(*refused));
        core::LogInfo("transfers", "receiving " + id);
        if (cross) {
          storage::Batch batch;
          self->Audit(batch, id, "started", std::move(detail));
          self->store->WriteAsync(std::move(batch), [](core::Status) {});
        }
        self->Apply(id, std::move(step), [self, id, respond] {
          json::object progress;
          {
            std::lock_guard lock(self->mu);
            auto it = self->incoming.find(id);
            if (it != self->incoming.end()) progress = self->LocalProgress(*it->second);
          }
          if (progress.empty()) return respond(Unavailable("stopped"));
          respond(Answer(201, {{"transfer", std::move(progress)}}));
        });
      });
  if (!posted) respond(Unavailable("shutting down"));
}

// Persists what a step says (the record on a state change, a key per stored chunk), then
// sends its fetches and runs `after`. A finished step first publishes the dataset.
void TransferService::Impl::Apply(const std::string& id, TransferStep step,
                                  std::function<void()> after) {
  if (step.finished) {
    bool staging = false;
    {
      std::lock_guard lock(mu);
      auto it = incoming.find(id);
      if (it != incoming.end()) staging = it->second->staging;
    }
    if (!staging) return FinishIncoming(id, std::move(step));
  }
  storage::Batch batch;
  for (const federation::ChunkDone& c : step.chunk_done) {
    batch.Put(storage::Cf::kTransfers, ChunkKey(id, c.index), "");
  }
  if (step.record) {
    batch.Put(storage::Cf::kTransfers, Key(kRecordPrefix, id),
              json::serialize(federation::ToJson(*step.record)));
    if (federation::IsTerminal(step.record->state) && CrossZone(*step.record)) {
      Audit(batch, id, federation::TransferStateName(step.record->state),
            {{"dataset", step.record->manifest.name},
             {"bytes", step.record->bytes_done},
             {"error", step.record->error}});
    }
  }
  std::optional<TransferRecord> ended;
  if (step.record && federation::IsTerminal(step.record->state)) ended = step.record;
  auto send = [self = shared_from_this(), id, fetch = std::move(step.fetch),
               after = std::move(after), ended = std::move(ended)](core::Status st) {
    if (!st.ok()) {
      core::LogError("transfers", "write for " + id + " failed: " + st.ToString());
      return;  // nothing is fetched on an unsynced decision; the next tick retries
    }
    for (int64_t i : fetch) self->Fetch(id, i);
    if (ended) self->NotifyEnded(*ended);
    if (after) after();
  };
  if (batch.empty()) return send(core::Status::Ok());
  store->WriteAsync(std::move(batch), std::move(send));
}

// Every chunk is stored: verify the whole file and publish it, then persist "done" (or
// "failed" when the whole-file check fails).
void TransferService::Impl::FinishIncoming(const std::string& id, TransferStep step) {
  files->Post([self = shared_from_this(), id, step = std::move(step)]() mutable {
    storage::PartialDataset* partial = nullptr;
    std::string name;
    {
      std::lock_guard lock(self->mu);
      auto it = self->incoming.find(id);
      if (it == self->incoming.end()) return;
      partial = it->second->partial.get();
      name = it->second->rx.record().dataset;
    }
    auto published = partial->Finish(name);
    std::lock_guard lock(self->mu);
    auto it = self->incoming.find(id);
    if (it == self->incoming.end()) return;
    step.finished = false;
    if (!published.ok()) {
      TransferStep failed = it->second->rx.Fail(published.status().message(), self->clock->Now());
      if (failed.record) step.record = failed.record;
      core::LogError("transfers", id + ": " + published.status().ToString());
    } else {
      core::LogInfo("transfers", "received " + name + " (" + id + ")");
      self->ReleaseRelay(it->second->rx.record());
    }
    self->runtime.Post(
        [self, id, step = std::move(step)]() mutable { self->Apply(id, std::move(step)); });
  });
}

// Tells the relay (if any) that its staged copy is no longer needed. Best effort.
void TransferService::Impl::ReleaseRelay(const TransferRecord& r) {
  if (!r.plan.relay || r.dest_center == *r.plan.relay) return;
  peers->Post(r.plan.legs.back().peer_url,
              "/peer/v1/transfers/" + r.id + std::string(kRelaySuffix) + "/cancel", "{}", true,
              [](core::Result<PeerResponse>) {});
}

void TransferService::Impl::Fetch(const std::string& id, int64_t index) {
  std::string url, path;
  {
    std::lock_guard lock(mu);
    auto it = incoming.find(id);
    if (it == incoming.end() || stopped) return;
    url = it->second->pull_url;
    path = it->second->pull_path + std::to_string(index);
  }
  chunks->Get(url, std::move(path), /*idempotent=*/true,
              [self = shared_from_this(), id, index](core::Result<PeerResponse> r) {
                self->OnFetched(id, index, std::move(r));
              });
}

void TransferService::Impl::OnFetched(const std::string& id, int64_t index,
                                      core::Result<PeerResponse> r) {
  using federation::ChunkResult;
  if (!r.ok() || r->status >= 500 || r->status == 425) {
    return OnChunk(id, index, ChunkResult::Unreachable(PeerError("source", r).message()));
  }
  if (r->status != 200) {
    // Refused (residency), gone, or a bad request: retrying cannot help.
    const std::string why = PeerError("source", r).message();
    TransferStep step;
    {
      std::lock_guard lock(mu);
      auto it = incoming.find(id);
      if (it == incoming.end()) return;
      step = it->second->rx.Fail(why, clock->Now());
    }
    return Apply(id, std::move(step));
  }
  files->Post([self = shared_from_this(), id, index, body = std::move(r->body)] {
    storage::PartialDataset* partial = nullptr;
    {
      std::lock_guard lock(self->mu);
      auto it = self->incoming.find(id);
      if (it == self->incoming.end()) return;
      partial = it->second->partial.get();
    }
    core::Status st = partial->WriteChunk(index, body);
    if (st.ok()) {
      self->bytes_received += body.size();
      return self->OnChunk(id, index, federation::ChunkResult::Stored());
    }
    if (st.code() == core::Code::kCorruption) {
      ++self->chunks_corrupt;
      core::LogWarn("transfers", id + ": " + st.message());
      return self->OnChunk(id, index, federation::ChunkResult::Corrupt(st.message()));
    }
    core::LogError("transfers", id + ": " + st.ToString());
    self->OnChunk(id, index, federation::ChunkResult::Unreachable(st.message()));
  });
}

void TransferService::Impl::OnChunk(const std::string& id, int64_t index,
                                    const federation::ChunkResult& result) {
  TransferStep step;
  {
    std::lock_guard lock(mu);
    auto it = incoming.find(id);
    if (it == incoming.end() || stopped) return;
    step = it->second->rx.OnChunk(index, result, clock->Now());
  }
  Apply(id, std::move(step));
}

void TransferService::Impl::Tick() {
  std::vector<std::pair<std::string, TransferStep>> steps;
  {
    std::lock_guard lock(mu);
    if (stopped) return;
    steps.swap(resumed);
    const core::Time now = clock->Now();
    for (auto& [id, in] : incoming) {
      const auto deadline = in->rx.NextDeadline();
      if (!deadline || *deadline > now) continue;
      TransferStep step = in->rx.Tick(now);
      if (!step.fetch.empty() || step.record || !step.chunk_done.empty()) {
        steps.emplace_back(id, std::move(step));
      }
    }
  }
  for (auto& [id, step] : steps) Apply(id, std::move(step));
}

json::object TransferService::Impl::LocalProgress(const Incoming& in) const {
  return ProgressJson(in.rx.record(), in.rx.Progress(clock->Now()));
}

void TransferService::Impl::HandlePeerGet(const RouteContext& ctx, std::string_view caller,
                                          Respond respond) {
  if (!open) return respond(Unavailable("not ready: transfers are still opening"));
  std::lock_guard lock(mu);
  auto it = incoming.find(ctx.Param("id"));
  if (it == incoming.end()) {
    return respond(HttpResponse::Error(
        core::NotFound("no transfer '" + std::string(ctx.Param("id")) + "' here", "id")));
  }
  (void)caller;
  respond(Answer(200, {{"transfer", LocalProgress(*it->second)}}));
}

void TransferService::Impl::CancelLocal(const std::string& id, Respond respond) {
  TransferStep step;
  json::object progress;
  {
    std::unique_lock lock(mu);
    auto it = incoming.find(id);
    if (it == incoming.end()) {
      lock.unlock();  // a local caller's `respond` may take it again
      return respond(HttpResponse::Error(core::NotFound("no transfer '" + id + "' here", "id")));
    }
    Incoming& in = *it->second;
    if (in.staging && in.rx.record().state == TransferState::kDone) {
      // The next leg is done with the staged copy.
      files->Post([partial = in.partial.get()] { (void)partial->Discard(); });
    }
    step = in.rx.Cancel(clock->Now());
    progress = LocalProgress(in);
    if (step.record) {
      files->Post([partial = in.partial.get()] { (void)partial->Discard(); });
    }
  }
  Apply(id, std::move(step), [respond, progress] {
    respond(Answer(200, {{"transfer", progress}}));
  });
}

void TransferService::Impl::HandlePeerCancel(const RouteContext& ctx, Respond respond) {
  if (!open) return respond(Unavailable("not ready: transfers are still opening"));
  CancelLocal(std::string(ctx.Param("id")), std::move(respond));
}

void TransferService::Impl::HandleRelayChunk(HttpRequest& req, const RouteContext& ctx,
                                             Respond respond) {
  if (!open) return respond(Unavailable("not ready: transfers are still opening"));
  int64_t index = -1;
  const std::string_view text = ctx.Param("index");
  std::from_chars(text.data(), text.data() + text.size(), index);
  storage::PartialDataset* partial = nullptr;
  {
    std::lock_guard lock(mu);
    auto it = incoming.find(ctx.Param("id"));
    if (it == incoming.end() || !it->second->staging) {
      return respond(HttpResponse::Error(core::NotFound("no staged transfer here", "id")));
    }
    const TransferRecord& r = it->second->rx.record();
    if (req.peer_center != r.plan.legs.back().to) {
      return respond(HttpResponse::Error(core::Status(
          core::Code::kPermissionDenied, "staged for " + r.plan.legs.back().to + " only")));
    }
    if (index < 0 || index >= r.manifest.chunk_count()) {
      return respond(HttpResponse::Error(core::NotFound("no such chunk", "index")));
    }
    if (!it->second->partial->chunk_done(index)) {
      HttpResponse early = HttpResponse::Error(core::Status(
          core::Code::kUnavailable, "chunk " + std::to_string(index) + " not staged yet"));
      early.status = 425;
      return respond(std::move(early));
    }
    partial = it->second->partial.get();
  }
  const bool posted = files->Post([self = shared_from_this(), partial, index, respond] {
    HttpResponse r;
    r.content_type = "application/octet-stream";
    if (auto st = partial->ReadChunk(index, &r.body); !st.ok()) {
      return respond(HttpResponse::Error(st));
    }
    respond(std::move(r));
  });
  if (!posted) respond(Unavailable("shutting down"));
}

// ---- home side ----------------------------------------------------------------------------

const HomeTransfer* TransferService::Impl::Visible(const RouteContext& ctx,
                                                   std::string_view id) const {
  auto it = home.find(id);
  if (it == home.end() || ctx.principal == nullptr) return nullptr;
  if (ctx.principal->role == config::Role::kOperator || it->second.owner == ctx.principal->name) {
    return &it->second;
  }
  return nullptr;
}

void TransferService::Impl::GetManifest(
    const std::string& from, const std::string& dataset, const std::string& to,
    std::function<void(core::Result<core::DatasetManifest>)> done) {
  if (from == config.center.id) {
    auto task = [self = shared_from_this(), dataset, done] { done(self->datasets->Get(dataset)); };
    if (!files->Post(std::move(task)))
      done(core::Status(core::Code::kUnavailable, "shutting down"));
    return;
  }
  const std::string url = PeerUrlOf(from);
  if (url.empty()) {
    return done(
        core::Status(core::Code::kNotFound, "center " + from + " is not in the view", "from"));
  }
  peers->Get(
      url, "/peer/v1/datasets/" + dataset + "/manifest?for=" + to, true,
      [from, done](core::Result<PeerResponse> r) {
        if (!r.ok() || r->status != 200) return done(PeerError(from, r));
        auto body = core::ParseJsonObject(r->body);
        const json::value* d = body.ok() ? body->if_contains("dataset") : nullptr;
        if (d == nullptr || !d->is_object()) {
          return done(core::Status(core::Code::kUnavailable, from + ": unreadable manifest"));
        }
        done(core::DatasetManifestFromJson(d->as_object()));
      });
}

void TransferService::Impl::Submit(HttpRequest& req, const RouteContext& ctx, Respond respond) {
  if (!open) return respond(Unavailable("not ready: transfers are still opening"));
  auto body = core::ParseJsonObject(req.body);
  if (!body.ok()) return respond(HttpResponse::Error(body.status()));
  if (auto st = core::RejectUnknownFields(*body, {"dataset", "from", "to", "name"}); !st.ok()) {
    return respond(HttpResponse::Error(st));
  }
  HomeTransfer h;
  auto dataset = core::GetString(*body, "dataset");
  auto from = core::GetString(*body, "from");
  auto to = core::GetString(*body, "to");
  auto name = core::GetOptionalString(*body, "name");
  for (const core::Status& st : {dataset.status(), from.status(), to.status(), name.status()}) {
    if (!st.ok()) return respond(HttpResponse::Error(st));
  }
  h.dataset = *dataset;
  h.from = *from;
  h.to = *to;
  h.name = name->value_or(h.dataset);
  if (!core::ValidDatasetName(h.dataset)) {
    return respond(HttpResponse::Error(core::InvalidArgument("not a dataset name", "dataset")));
  }
  if (!core::ValidDatasetName(h.name)) {
    return respond(HttpResponse::Error(core::InvalidArgument("not a dataset name", "name")));
  }
  for (auto [field, center] : {std::pair{"from", &h.from}, {"to", &h.to}}) {
    if (!core::IsValidCenterId(*center)) {
      return respond(HttpResponse::Error(core::InvalidArgument("not a center id", field)));
    }
  }
  if (h.from == h.to) {
    return respond(HttpResponse::Error(
        core::InvalidArgument("the dataset is already at " + h.to + ": from equals to", "to")));
  }
  h.owner = ctx.principal != nullptr ? ctx.principal->name : "";
  h.key = std::string(req.Header("idempotency-key"));
  if (h.key.empty()) h.key = core::NewRandomId("key");
  h.canonical = json::serialize(
      json::object{{"dataset", h.dataset}, {"from", h.from}, {"to", h.to}, {"name", h.name}});
  {
    std::lock_guard lock(mu);
    if (auto k = home_keys.find(Key(kKeyPrefix, h.owner + "/" + h.key)); k != home_keys.end()) {
      const HomeTransfer& have = home.at(k->second);
      if (have.canonical != h.canonical) {
        return respond(HttpResponse::Error(
            core::Status(core::Code::kConflict,
                         "Idempotency-Key '" + h.key + "' was used for another transfer request",
                         "Idempotency-Key")));
      }
      if (have.state != "creating") return respond(Answer(200, {{"transfer", HomeJson(have)}}));
      h = have;  // creation did not finish: try again with the same id
    }
  }
  if (h.id.empty()) h.id = core::NewRandomId("xfer");
  h.created_at = clock->Now();
  GetManifest(h.from, h.dataset, h.to,
              [self = shared_from_this(), h, respond](core::Result<core::DatasetManifest> m) {
                if (!m.ok()) {
                  if (m.status().field() == "residency") {
                    storage::Batch batch;
                    self->Audit(batch, h.id, "refused",
                                {{"dataset", h.dataset},
                                 {"from", h.from},
                                 {"to", h.to},
                                 {"requested_by", h.owner},
                                 {"reason", m.status().message()}});
                    self->store->WriteAsync(std::move(batch), [](core::Status) {});
                  }
                  return respond(HttpResponse::Error(m.status()));
                }
                self->Plan(h, std::move(m).value(), respond);
              });
}

// Plans the transfer, stores it with its key, and creates it at the relay and receiver.
void TransferService::Impl::Plan(HomeTransfer h, core::DatasetManifest m, Respond respond) {
  federation::TransferPlanRequest q{h.from, h.to, m.size, m.chunk_size, m.zone, m.tags};
  auto plan = federation::PlanTransfer(q, view->View(clock->Now()), config.datasets.residency);
  if (!plan.ok()) {
    storage::Batch batch;
    if (plan.status().field() == "residency") {
      Audit(batch, h.id, "refused",
            {{"dataset", h.dataset},
             {"from", h.from},
             {"to", h.to},
             {"zone", m.zone},
             {"requested_by", h.owner},
             {"reason", plan.status().message()}});
      store->WriteAsync(std::move(batch), [](core::Status) {});
      return respond(HttpResponse::Error(
          core::Status(core::Code::kPermissionDenied, plan.status().message(), "residency")));
    }
    return respond(HttpResponse::Error(plan.status()));
  }
  h.relay = plan->relay.value_or("");
  h.total = m.size;
  TransferRecord r;
  r.id = h.id;
  r.dataset = h.name;
  r.manifest = std::move(m);
  r.plan = *plan;
  r.source_center = h.from;
  r.dest_center = h.to;
  r.created_at = r.updated_at = h.created_at;
  r.requested_by = h.owner + "@" + config.center.id;
  r.idempotency_key = h.key;
  storage::Batch batch;
  batch.Put(storage::Cf::kTransfers, Key(kHomePrefix, h.id), json::serialize(ToJson(h)));
  batch.Put(storage::Cf::kTransfers, Key(kKeyPrefix, h.owner + "/" + h.key), h.id);
  if (CrossZone(r)) {
    Audit(batch, h.id, "requested",
          {{"dataset", h.dataset},
           {"from", h.from},
           {"to", h.to},
           {"relay", h.relay},
           {"zone", r.manifest.zone},
           {"bytes", r.manifest.size},
           {"requested_by", h.owner}});
  }
  {
    std::lock_guard lock(mu);
    home[h.id] = h;
    home_keys[Key(kKeyPrefix, h.owner + "/" + h.key)] = h.id;
  }
  store->WriteAsync(std::move(batch),
                    [self = shared_from_this(), h, r, respond](core::Status st) mutable {
                      if (!st.ok()) return respond(Unavailable("storage: " + st.message()));
                      auto create_dest = [self, h, r, respond](core::Status relay_st) mutable {
                        if (!relay_st.ok()) return respond(HttpResponse::Error(relay_st));
                        self->CreateAt(h.to, r, [self, h, respond](core::Status dest_st) mutable {
                          if (!dest_st.ok()) return respond(HttpResponse::Error(dest_st));
                          h.state = "moving";
                          self->Remember(h.id, HomeJson(h));
                          respond(Answer(201, {{"transfer", HomeJson(h)}}));
                        });
                      };
                      if (h.relay.empty()) return create_dest(core::Status::Ok());
                      TransferRecord staged = r;
                      staged.id = r.id + std::string(kRelaySuffix);
                      staged.dataset = staged.id;
                      staged.dest_center = h.relay;
                      self->CreateAt(h.relay, std::move(staged), std::move(create_dest));
                    });
}

void TransferService::Impl::CreateAt(const std::string& center, TransferRecord r,
                                     std::function<void(core::Status)> done) {
  if (center == config.center.id) {
    return CreateIncoming(std::move(r), config.center.id, [done](HttpResponse answer) {
      if (answer.status < 300) return done(core::Status::Ok());
      core::Result<PeerResponse> as_peer = PeerResponse{answer.status, answer.body, ""};
      done(PeerError("here", as_peer));
    });
  }
  const std::string url = PeerUrlOf(center);
  if (url.empty()) {
    return done(core::Status(core::Code::kUnavailable, "center " + center + " is not in the view"));
  }
  peers->Post(url, "/peer/v1/transfers", json::serialize(federation::ToJson(r)), true,
              [center, done](core::Result<PeerResponse> answer) {
                if (answer.ok() && answer->status < 300) return done(core::Status::Ok());
                done(PeerError(center, answer));
              });
}

// Keeps the receiver's last word on a transfer requested here (durably once it ended).
void TransferService::Impl::Remember(const std::string& id, const json::object& progress) {
  storage::Batch batch;
  {
    std::lock_guard lock(mu);
    auto it = home.find(id);
    if (it == home.end()) return;
    HomeTransfer& h = it->second;
    const std::string before = h.state;
    if (auto* s = progress.if_contains("state"); s && s->is_string()) h.state = s->as_string();
    if (auto* b = progress.if_contains("bytes_done"); b && b->is_int64())
      h.bytes_done = b->as_int64();
    if (auto* e = progress.if_contains("error"); e && e->is_string()) h.error = e->as_string();
    const bool ended = h.state == "done" || h.state == "failed" || h.state == "cancelled";
    if (before == h.state || (!ended && before != "creating")) return;
    batch.Put(storage::Cf::kTransfers, Key(kHomePrefix, id), json::serialize(ToJson(h)));
  }
  store->WriteAsync(std::move(batch), [](core::Status) {});
}

void TransferService::Impl::List(const RouteContext& ctx, Respond respond) {
  if (!open) return respond(Unavailable("not ready: transfers are still opening"));
  json::array out;
  std::lock_guard lock(mu);
  for (const auto& [id, h] : home) {
    if (Visible(ctx, id) != nullptr) out.push_back(HomeJson(h));
  }
  respond(Answer(200, {{"transfers", std::move(out)}}));
}

void TransferService::Impl::Show(const RouteContext& ctx, Respond respond) {
  if (!open) return respond(Unavailable("not ready: transfers are still opening"));
  HomeTransfer h;
  {
    std::lock_guard lock(mu);
    const HomeTransfer* found = Visible(ctx, ctx.Param("id"));
    if (found == nullptr) {
      return respond(HttpResponse::Error(
          core::NotFound("no transfer '" + std::string(ctx.Param("id")) + "'", "id")));
    }
    h = *found;
  }
  auto answer = [self = shared_from_this(), h, respond](core::Result<PeerResponse> r) {
    if (r.ok() && r->status == 200) {
      auto body = core::ParseJsonObject(r->body);
      if (body.ok() && body->contains("transfer") && body->at("transfer").is_object()) {
        self->Remember(h.id, body->at("transfer").as_object());
        return respond(Answer(200, std::move(body).value()));
      }
    }
    json::object stale = HomeJson(h);
    stale["stale"] = true;  // the receiver did not answer: our last word
    respond(Answer(200, {{"transfer", std::move(stale)}}));
  };
  if (h.to == config.center.id) {
    json::object progress;
    {
      std::lock_guard lock(mu);
      auto it = incoming.find(h.id);
      if (it != incoming.end()) progress = LocalProgress(*it->second);
    }
    if (progress.empty()) return answer(core::Status(core::Code::kNotFound, "not here"));
    return answer(PeerResponse{200, json::serialize(json::object{{"transfer", progress}}), ""});
  }
  peers->Get(PeerUrlOf(h.to), "/peer/v1/transfers/" + h.id, true, std::move(answer));
}

void TransferService::Impl::Cancel(const RouteContext& ctx, Respond respond) {
  if (!open) return respond(Unavailable("not ready: transfers are still opening"));
  HomeTransfer h;
  {
    std::lock_guard lock(mu);
    const HomeTransfer* found = Visible(ctx, ctx.Param("id"));
    if (found == nullptr) {
      return respond(HttpResponse::Error(
          core::NotFound("no transfer '" + std::string(ctx.Param("id")) + "'", "id")));
    }
    h = *found;
  }
  auto cancel_at = [self = shared_from_this()](const std::string& center, const std::string& id,
                                               Respond done) {
    if (center == self->config.center.id) return self->CancelLocal(id, std::move(done));
    self->peers->Post(self->PeerUrlOf(center), "/peer/v1/transfers/" + id + "/cancel", "{}", true,
                      [done](core::Result<PeerResponse> r) {
                        if (r.ok() && r->status == 200) {
                          return done(HttpResponse::Json(200, r->body));
                        }
                        done(HttpResponse::Error(PeerError("receiver", r)));
                      });
  };
  if (!h.relay.empty()) cancel_at(h.relay, h.id + std::string(kRelaySuffix), [](HttpResponse) {});
  cancel_at(h.to, h.id, [self = shared_from_this(), id = h.id, respond](HttpResponse r) {
    auto body = core::ParseJsonObject(r.body);
    if (r.status == 200 && body.ok() && body->contains("transfer")) {
      self->Remember(id, body->at("transfer").as_object());
    }
    respond(std::move(r));
  });
}

void TransferService::Impl::ListAudit(HttpRequest& req, Respond respond) {
  if (!open) return respond(Unavailable("not ready: transfers are still opening"));
  std::string limit_text;
  int64_t limit = 100;
  if (req.QueryParam("limit", &limit_text)) {
    auto [end, ec] =
        std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), limit);
    if (ec != std::errc() || end != limit_text.data() + limit_text.size() || limit < 1 ||
        limit > 1000) {
      return respond(HttpResponse::Error(core::InvalidArgument("1..1000", "limit")));
    }
  }
  const bool posted = files->Post([self = shared_from_this(), limit, respond] {
    std::vector<std::string> events;
    auto st = self->store->Scan(storage::Cf::kTransfers, kAuditPrefix,
                                [&](std::string_view, std::string_view value) {
                                  events.emplace_back(value);
                                  return true;
                                });
    if (!st.ok()) return respond(HttpResponse::Error(st));
    json::array out;
    // Newest first.
    for (auto it = events.rbegin(); it != events.rend() && static_cast<int64_t>(out.size()) < limit;
         ++it) {
      auto v = core::ParseJson(*it);
      if (v.ok()) out.push_back(std::move(v).value());
    }
    respond(Answer(200, {{"events", std::move(out)}}));
  });
  if (!posted) respond(Unavailable("shutting down"));
}

// ---- job data ------------------------------------------------------------------------------

void TransferService::Impl::WhenEnded(const std::string& id,
                                      std::function<void(core::Status)> done) {
  std::optional<TransferRecord> ended;
  {
    std::lock_guard lock(mu);
    auto it = incoming.find(id);
    if (it != incoming.end() && federation::IsTerminal(it->second->rx.record().state)) {
      ended = it->second->rx.record();
    } else {
      end_waiters[id].push_back(std::move(done));
      return;
    }
  }
  if (ended->state == TransferState::kDone) return done(core::Status::Ok());
  done(core::Status(core::Code::kFailedPrecondition,
                    "transfer " + id + " " + std::string(TransferStateName(ended->state)) +
                        (ended->error.empty() ? "" : ": " + ended->error)));
}

void TransferService::Impl::NotifyEnded(const TransferRecord& r) {
  std::vector<std::function<void(core::Status)>> waiting;
  {
    std::lock_guard lock(mu);
    auto it = end_waiters.find(r.id);
    if (it == end_waiters.end()) return;
    waiting = std::move(it->second);
    end_waiters.erase(it);
  }
  core::Status st =
      r.state == TransferState::kDone
          ? core::Status::Ok()
          : core::Status(core::Code::kFailedPrecondition,
                         "transfer " + r.id + " " + std::string(TransferStateName(r.state)) +
                             (r.error.empty() ? "" : ": " + r.error));
  for (auto& w : waiting) w(st);
}

// Makes one job input present here (one copy per content, reused by later jobs) and
// answers with its file.
void TransferService::Impl::Stage(const federation::JobInput& input,
                                  std::function<void(core::Status, std::string)> done) {
  const std::string name = "in." + input.sha256.substr(0, 16) + "." + input.dataset.substr(0, 100);
  auto file = [root = datasets->root()](const std::string& dataset) {
    return (std::filesystem::path(root) / dataset / "data").string();
  };
  auto have = datasets->Get(input.center == config.center.id ? input.dataset : name);
  if (have.ok()) {
    if (have->sha256 != input.sha256) {
      return done(core::Status(core::Code::kFailedPrecondition, "input " + input.dataset +
                                                                    " changed at " + input.center +
                                                                    " since the job was submitted"),
                  {});
    }
    return done(core::Status::Ok(), file(have->name));
  }
  if (input.center == config.center.id) return done(have.status(), {});
  GetManifest(
      input.center, input.dataset, config.center.id,
      [self = shared_from_this(), input, name, done, file](core::Result<core::DatasetManifest> m) {
        if (!m.ok()) return done(m.status().WithContext("input " + input.dataset), {});
        if (m->sha256 != input.sha256) {
          return done(core::Status(core::Code::kFailedPrecondition,
                                   "input " + input.dataset + " changed at " + input.center +
                                       " since the job was submitted"),
                      {});
        }
        federation::TransferPlanRequest q{
            input.center, self->config.center.id, m->size, m->chunk_size, m->zone, m->tags};
        auto plan = federation::PlanTransfer(q, self->view->View(self->clock->Now()),
                                             self->config.datasets.residency);
        if (!plan.ok()) return done(plan.status().WithContext("input " + input.dataset), {});
        TransferRecord r;
        r.id = name;
        r.dataset = name;
        r.manifest = std::move(m).value();
        r.plan = *plan;
        r.source_center = input.center;
        r.dest_center = self->config.center.id;
        r.created_at = r.updated_at = self->clock->Now();
        r.requested_by = "jobs@" + self->config.center.id;
        auto when_done = [self, name, done, file](core::Status st) {
          done(st, st.ok() ? file(name) : std::string());
        };
        auto created = [self, name, when_done](HttpResponse answer) {
          if (answer.status >= 300) {
            core::Result<PeerResponse> as_peer = PeerResponse{answer.status, answer.body, ""};
            return when_done(PeerError("here", as_peer));
          }
          self->WhenEnded(name, when_done);
        };
        if (r.plan.relay) {
          // Inputs come straight from their center: a relay would have to be asked first.
          r.plan.legs.resize(1);
          r.plan.relay.reset();
          r.plan.eta = r.plan.direct_eta;
          r.plan.egress = r.plan.direct_egress;
        }
        self->CreateIncoming(std::move(r), self->config.center.id, std::move(created));
      });
}

class TransferService::Impl::Data final : public JobData {
 public:
  explicit Data(Impl* impl) : impl_(impl) {}

  void StageInputs(const std::string& hold_id, const std::vector<federation::JobInput>& inputs,
                   std::function<void(core::Status, std::vector<std::string>)> done) override {
    struct Pending {
      std::mutex mu;
      size_t left;
      std::vector<std::string> paths;
      core::Status first_error;
      std::function<void(core::Status, std::vector<std::string>)> done;
    };
    if (inputs.empty()) return done(core::Status::Ok(), {});
    auto pending = std::make_shared<Pending>();
    pending->left = inputs.size();
    pending->paths.resize(inputs.size());
    pending->done = std::move(done);
    core::LogInfo("transfers",
                  "staging " + std::to_string(inputs.size()) + " inputs of " + hold_id);
    for (size_t i = 0; i < inputs.size(); ++i) {
      impl_->Stage(inputs[i], [pending, i](core::Status st, std::string path) {
        std::unique_lock lock(pending->mu);
        if (st.ok()) pending->paths[i] = std::move(path);
        if (!st.ok() && pending->first_error.ok()) pending->first_error = st;
        if (--pending->left > 0) return;
        lock.unlock();
        pending->done(pending->first_error, std::move(pending->paths));
      });
    }
  }

  core::Result<std::optional<federation::JobOutput>> StoreOutput(const std::string& name,
                                                                 const std::string& dir) override {
    namespace fs = std::filesystem;
    std::error_code ec;
    std::vector<fs::path> entries;
    for (const auto& e : fs::directory_iterator(dir, ec)) entries.push_back(e.path());
    if (ec || entries.empty()) return std::optional<federation::JobOutput>();
    // One regular file is kept as it is; anything else as a tar of the directory.
    fs::path source = entries.front();
    fs::path tar;
    if (entries.size() != 1 || !fs::is_regular_file(source, ec)) {
      tar = fs::path(dir).parent_path() / "output.tar";
      EDWC_RETURN_IF_ERROR(Tar(dir, tar.string()));
      source = tar;
    }
    auto stored = Upload(name, source.string());
    if (!tar.empty()) fs::remove(tar, ec);
    if (!stored.ok()) return stored.status();
    return std::optional<federation::JobOutput>(
        federation::JobOutput{stored->name, stored->size, stored->sha256});
  }

 private:
  static core::Status Tar(const std::string& dir, const std::string& out) {
    std::vector<std::string> args = {"tar", "-cf", out, "-C", dir, "."};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (int rc = posix_spawnp(&pid, "tar", nullptr, nullptr, argv.data(), environ); rc != 0) {
      return core::IoError("cannot run tar: " + std::string(std::strerror(rc)));
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      return core::IoError("tar of " + dir + " failed");
    }
    return core::Status::Ok();
  }

  core::Result<core::DatasetManifest> Upload(const std::string& name, const std::string& file) {
    EDWC_ASSIGN_OR_RETURN(auto upload,
                          impl_->datasets->BeginUpload(name, impl_->config.center.zone, {},
                                                       impl_->config.datasets.chunk_size_bytes));
    std::ifstream in(file, std::ios::binary);
    std::string piece(1 << 20, '\0');
    while (in) {
      in.read(piece.data(), static_cast<std::streamsize>(piece.size()));
      const std::streamsize n = in.gcount();
      if (n <= 0) break;
      EDWC_RETURN_IF_ERROR(upload->Append(std::string_view(piece.data(), static_cast<size_t>(n))));
    }
    if (in.bad()) return core::IoError("cannot read " + file);
    return upload->Commit();
  }

  Impl* impl_;
};

// ---- the service ---------------------------------------------------------------------------

core::Result<std::unique_ptr<TransferService>> TransferService::Create(
    const config::CenterConfig& config, IoRuntime& runtime, Metrics* metrics,
    const core::Clock* clock) {
  auto impl = std::make_shared<Impl>(config, runtime, metrics, clock);
  PeerClientOptions control;
  control.clock = clock;
  EDWC_ASSIGN_OR_RETURN(impl->peers,
                        HttpsPeerClient::Create(runtime, config.tls, control, nullptr));
  PeerClientOptions bulk;
  bulk.clock = clock;
  bulk.max_attempts = 1;  // the receiver's machine retries, with its own backoff
  bulk.request_timeout = std::chrono::seconds(60);
  bulk.max_idle_per_peer = 64;
  bulk.max_response_body_bytes = core::kMaxChunkSize + (1 << 20);
  bulk.breaker_failures = 1000000;  // a slow source is retried chunk by chunk, not shut out
  EDWC_ASSIGN_OR_RETURN(impl->chunks, HttpsPeerClient::Create(runtime, config.tls, bulk, nullptr));
  impl->files = std::make_unique<WorkerPool>(std::max(2, config.datasets.streams));
  impl->data = std::make_unique<Impl::Data>(impl.get());
  if (metrics != nullptr) {
    std::weak_ptr<Impl> weak = impl;
    metrics->AddCounter("edwc_transfer_bytes_received_total",
                        "Bytes of chunks received, verified and stored.", [weak] {
                          auto p = weak.lock();
                          return p ? double(p->bytes_received) : 0.0;
                        });
    metrics->AddCounter("edwc_transfer_chunks_corrupt_total",
                        "Chunks that failed verification against their manifest (not stored).",
                        [weak] {
                          auto p = weak.lock();
                          return p ? double(p->chunks_corrupt) : 0.0;
                        });
    metrics->AddGaugesBy("edwc_transfers", "Transfers received here, by state.", "state", [weak] {
      std::map<std::string, double> by_state;
      if (auto self = weak.lock()) {
        std::lock_guard lock(self->mu);
        for (const auto& [id, in] : self->incoming) {
          by_state[std::string(federation::TransferStateName(in->rx.record().state))] += 1;
        }
      }
      return by_state;
    });
  }
  return std::unique_ptr<TransferService>(new TransferService(std::move(impl)));
}

TransferService::TransferService(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

TransferService::~TransferService() { Stop(); }

void TransferService::RegisterRoutes(Router& api, Router& peer) {
  Impl* p = impl_.get();
  const Access brokers = Access::Roles({config::Role::kBroker, config::Role::kOperator});
  api.Add("POST", "/v1/transfers", brokers,
          [p](HttpRequest& req, const RouteContext& ctx, Respond respond) {
            p->Submit(req, ctx, std::move(respond));
          });
  api.Add("GET", "/v1/transfers", brokers,
          [p](HttpRequest&, const RouteContext& ctx, Respond respond) {
            p->List(ctx, std::move(respond));
          });
  api.Add("GET", "/v1/transfers/{id}", brokers,
          [p](HttpRequest&, const RouteContext& ctx, Respond respond) {
            p->Show(ctx, std::move(respond));
          });
  api.Add("DELETE", "/v1/transfers/{id}", brokers,
          [p](HttpRequest&, const RouteContext& ctx, Respond respond) {
            p->Cancel(ctx, std::move(respond));
          });
  api.Add("GET", "/v1/audit", Access::Roles({config::Role::kOperator}),
          [p](HttpRequest& req, const RouteContext&, Respond respond) {
            p->ListAudit(req, std::move(respond));
          });
  peer.Add("POST", "/peer/v1/transfers", Access::Public(),
           [p](HttpRequest& req, const RouteContext&, Respond respond) {
             p->HandleCreate(req, std::move(respond));
           });
  peer.Add("GET", "/peer/v1/transfers/{id}", Access::Public(),
           [p](HttpRequest& req, const RouteContext& ctx, Respond respond) {
             p->HandlePeerGet(ctx, req.peer_center, std::move(respond));
           });
  peer.Add("POST", "/peer/v1/transfers/{id}/cancel", Access::Public(),
           [p](HttpRequest&, const RouteContext& ctx, Respond respond) {
             p->HandlePeerCancel(ctx, std::move(respond));
           });
  peer.Add("GET", "/peer/v1/transfers/{id}/chunks/{index}", Access::Public(),
           [p](HttpRequest& req, const RouteContext& ctx, Respond respond) {
             p->HandleRelayChunk(req, ctx, std::move(respond));
           });
}

core::Status TransferService::Open(storage::Store* store, storage::DatasetStore* datasets,
                                   const ViewSource* view) {
  Impl* impl = impl_.get();
  impl->store = store;
  impl->datasets = datasets;
  impl->view = view;
  std::vector<TransferRecord> records;
  std::map<std::string, std::vector<int64_t>, std::less<>> chunk_events;
  core::Status bad;
  EDWC_RETURN_IF_ERROR(
      store->Scan(storage::Cf::kTransfers, "", [&](std::string_view key, std::string_view value) {
        const std::string_view kind = key.substr(0, 2);
        const std::string_view rest = key.substr(2);
        if (kind == kRecordPrefix) {
          auto v = core::ParseJson(value);
          auto r = v.ok() ? federation::TransferRecordFromJson(*v)
                          : core::Result<TransferRecord>(v.status());
          if (!r.ok()) {
            bad = core::Status(core::Code::kCorruption,
                               "stored transfer " + std::string(key) + ": " + r.status().message());
            return false;
          }
          records.push_back(std::move(r).value());
        } else if (kind == kChunkPrefix) {
          const size_t slash = rest.rfind('/');
          int64_t index = 0;
          std::from_chars(rest.data() + slash + 1, rest.data() + rest.size(), index);
          chunk_events[std::string(rest.substr(0, slash))].push_back(index);
        } else if (kind == kHomePrefix) {
          auto h = HomeFromJson(value);
          if (!h.ok()) {
            bad = core::Status(core::Code::kCorruption,
                               "stored transfer " + std::string(key) + ": " + h.status().message());
            return false;
          }
          impl->home[h->id] = std::move(h).value();
        } else if (kind == kKeyPrefix) {
          impl->home_keys[std::string(key)] = std::string(value);
        }
        return true;
      }));
  EDWC_RETURN_IF_ERROR(bad);
  const core::Time now = impl->clock->Now();
  for (TransferRecord& r : records) {
    auto in = impl->MakeIncoming(r);
    const std::string id = r.id;
    std::vector<int64_t> done = chunk_events[id];
    const bool live =
        !federation::IsTerminal(r.state) || (r.state == TransferState::kDone && in->staging);
    if (live) {
      std::vector<bool> have(static_cast<size_t>(r.manifest.chunk_count()), false);
      for (size_t i = 0; i < r.chunk_done.size() && i < have.size(); ++i) have[i] = r.chunk_done[i];
      for (int64_t i : done) {
        if (i >= 0 && i < static_cast<int64_t>(have.size())) have[static_cast<size_t>(i)] = true;
      }
      auto partial = datasets->OpenPartial(id, r.manifest, have);
      if (!partial.ok()) return partial.status().WithContext("transfer " + id);
      in->partial = std::move(partial).value();
      // What is really on disk: a chunk whose bytes went bad is fetched again.
      done.clear();
      for (int64_t i = 0; i < r.manifest.chunk_count(); ++i) {
        if (in->partial->chunk_done(i)) done.push_back(i);
      }
      r.chunk_done.assign(have.size(), false);
      r.bytes_done = 0;
    }
    TransferStep step = in->rx.Recover(std::move(r), done, now);
    if (!step.status.ok()) return step.status.WithContext("transfer " + id);
    if (live) impl->resumed.emplace_back(id, std::move(step));
    impl->incoming.emplace(id, std::move(in));
  }
  impl->open = true;
  return core::Status::Ok();
}

JobData& TransferService::job_data() { return *impl_->data; }

void TransferService::FetchManifest(const std::string& center, const std::string& dataset,
                                    std::function<void(core::Result<core::DatasetManifest>)> done) {
  impl_->GetManifest(center, dataset, center, std::move(done));
}

void TransferService::Start() {
  impl_->runtime.Every(kTick, [weak = std::weak_ptr<Impl>(impl_)] {
    auto self = weak.lock();
    if (!self) return false;
    self->Tick();
    std::lock_guard lock(self->mu);
    return !self->stopped;
  });
}

void TransferService::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  impl_->peers->Shutdown();
  impl_->chunks->Shutdown();
  impl_->files->Close();  // completes chunk writes in progress
}

}  // namespace edwc::gateway
