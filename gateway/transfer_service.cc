// The transfer service's public class (routes, loading and resuming in Open, Start/Stop),
// what both sides use, and the helpers of transfer_service_impl.h.
#include "gateway/transfer_service.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>

#include "core/dataset.h"
#include "core/json.h"
#include "core/log.h"
#include "federation/gossip.h"
#include "federation/transfer.h"
#include "gateway/federation_service.h"
#include "gateway/hold_service.h"
#include "gateway/io_runtime.h"
#include "gateway/metrics.h"
#include "gateway/router.h"
#include "gateway/transfer_service_impl.h"
#include "storage/dataset_store.h"
#include "storage/store.h"

namespace edwc::gateway {

using federation::TransferRecord;
using federation::TransferState;
using federation::TransferStep;
using transfer_internal::HomeFromJson;
using transfer_internal::kAuditPrefix;
using transfer_internal::kChunkPrefix;
using transfer_internal::Key;
using transfer_internal::kHomePrefix;
using transfer_internal::kKeyPrefix;
using transfer_internal::kRecordPrefix;

namespace transfer_internal {

std::string Key(std::string_view prefix, std::string_view rest) {
  std::string k(prefix);
  k += rest;
  return k;
}

HttpResponse Unavailable(std::string why) {
  return HttpResponse::Error(core::Status(core::Code::kUnavailable, std::move(why)));
}

HttpResponse Answer(int status, json::object o) {
  return HttpResponse::Json(status, json::serialize(o));
}

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

}  // namespace transfer_internal

namespace {

constexpr std::chrono::milliseconds kTick{100};

}  // namespace

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

// ---- the service ---------------------------------------------------------------------------

TransferService::Impl::Impl(const config::CenterConfig& c, IoRuntime& rt, Metrics* m,
                            const core::Clock* clk)
    : config(c), runtime(rt), metrics(m), clock(clk) {
  options.streams = c.datasets.streams;
}

void TransferService::Impl::AddMetrics() {
  if (metrics == nullptr) return;
  std::weak_ptr<Impl> weak = weak_from_this();
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
    // Every state, zeros included.
    for (int s = 0; s <= static_cast<int>(federation::TransferState::kCancelled); ++s) {
      by_state[std::string(
          federation::TransferStateName(static_cast<federation::TransferState>(s)))] = 0;
    }
    if (auto self = weak.lock()) {
      std::lock_guard lock(self->mu);
      for (const auto& [id, in] : self->incoming) {
        by_state[std::string(federation::TransferStateName(in->rx.record().state))] += 1;
      }
    }
    return by_state;
  });
}

core::Status TransferService::Impl::Load(
    std::vector<TransferRecord>* records,
    std::map<std::string, std::vector<int64_t>, std::less<>>* chunk_events) {
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
          records->push_back(std::move(r).value());
        } else if (kind == kChunkPrefix) {
          const size_t slash = rest.rfind('/');
          int64_t index = 0;
          std::from_chars(rest.data() + slash + 1, rest.data() + rest.size(), index);
          (*chunk_events)[std::string(rest.substr(0, slash))].push_back(index);
        } else if (kind == kHomePrefix) {
          auto h = HomeFromJson(value);
          if (!h.ok()) {
            bad = core::Status(core::Code::kCorruption,
                               "stored transfer " + std::string(key) + ": " + h.status().message());
            return false;
          }
          home[h->id] = std::move(h).value();
        } else if (kind == kKeyPrefix) {
          home_keys[std::string(key)] = std::string(value);
        }
        return true;
      }));
  return bad;
}

// Rebuilds a transfer received here from its record and stored chunks; one still moving
// resumes at the next tick with the chunks really on disk.
core::Status TransferService::Impl::Resume(TransferRecord r, std::vector<int64_t> done,
                                           core::Time now) {
  auto in = MakeIncoming(r);
  const std::string id = r.id;
  const bool live =
      !federation::IsTerminal(r.state) || (r.state == TransferState::kDone && in->staging);
  if (live) {
    std::vector<bool> have(static_cast<size_t>(r.manifest.chunk_count()), false);
    for (size_t i = 0; i < r.chunk_done.size() && i < have.size(); ++i) have[i] = r.chunk_done[i];
    for (int64_t i : done) {
      if (i >= 0 && i < static_cast<int64_t>(have.size())) have[static_cast<size_t>(i)] = true;
    }
    auto partial = datasets->OpenPartial(id, r.manifest, have, /*check_whole=*/false);
    if (!partial.ok()) return partial.status().WithContext("transfer " + id);
    in->partial = std::move(partial).value();
    // Chunks written but not yet recorded when it stopped count too, if their bytes match.
    auto recovered = in->partial->RecoverWritten();
    if (!recovered.ok()) return recovered.status().WithContext("transfer " + id);
    if (*recovered > 0) {
      core::LogInfo("transfers", id + ": " + std::to_string(*recovered) +
                                     " chunks written before the restart verified on disk");
    }
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
  if (live) resumed.emplace_back(id, std::move(step));
  incoming.emplace(id, std::move(in));
  return core::Status::Ok();
}

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
  impl->data = impl->NewJobData();
  impl->AddMetrics();
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
  peer.MarkRoutine("GET", "/peer/v1/transfers/{id}/chunks/{index}");
}

core::Status TransferService::Open(storage::Store* store, storage::DatasetStore* datasets,
                                   const ViewSource* view) {
  Impl* impl = impl_.get();
  impl->store = store;
  impl->datasets = datasets;
  impl->view = view;
  std::vector<TransferRecord> records;
  std::map<std::string, std::vector<int64_t>, std::less<>> chunk_events;
  EDWC_RETURN_IF_ERROR(impl->Load(&records, &chunk_events));
  const core::Time now = impl->clock->Now();
  for (TransferRecord& r : records) {
    std::vector<int64_t> done = chunk_events[r.id];
    EDWC_RETURN_IF_ERROR(impl->Resume(std::move(r), std::move(done), now));
  }
  impl->open = true;
  return core::Status::Ok();
}

JobData& TransferService::job_data() { return *impl_->data; }

void TransferService::FetchManifest(const std::string& center, const std::string& dataset,
                                    std::function<void(core::Result<core::DatasetManifest>)> done) {
  impl_->GetManifest(center, dataset, center, std::move(done));
}

void TransferService::Start() { impl_->runtime.TickWhileRunning(kTick, impl_); }

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

// ---- settlement of egress ------------------------------------------------------------------

namespace {

// The claim for the leg `r` brought here: the sender of that leg is owed its egress.
std::optional<federation::EgressClaim> ClaimOf(const TransferRecord& r, std::string_view self) {
  if (r.state != TransferState::kDone) return std::nullopt;
  for (const federation::TransferLeg& leg : r.plan.legs) {
    if (leg.to != self) continue;
    federation::EgressClaim c;
    // A relay receives the first leg as "<id>.relay": the claim names the transfer.
    c.transfer = r.id;
    const std::string_view suffix = transfer_internal::kRelaySuffix;
    if (c.transfer.size() > suffix.size() && c.transfer.ends_with(suffix)) {
      c.transfer.resize(c.transfer.size() - suffix.size());
    }
    c.sender = leg.from;
    c.receiver = std::string(self);
    const bool from_relay = r.plan.relay && leg.from == *r.plan.relay;
    c.dataset = from_relay ? r.id + std::string(transfer_internal::kRelaySuffix) : r.manifest.name;
    c.bytes = r.manifest.size;
    c.started = r.started_at.value_or(r.created_at);
    c.finished = r.finished_at.value_or(r.updated_at);
    return c;
  }
  return std::nullopt;
}

}  // namespace

void TransferService::Impl::ReportEgress(const TransferRecord& r) {
  auto claim = ClaimOf(r, config.center.id);
  if (!claim) return;
  std::function<void(const federation::EgressClaim&)> sink;
  {
    std::lock_guard lock(mu);
    sink = egress_sink;
  }
  if (sink) sink(*claim);
}

void TransferService::SetEgressSink(std::function<void(const federation::EgressClaim&)> sink) {
  std::vector<federation::EgressClaim> done;
  {
    std::lock_guard lock(impl_->mu);
    impl_->egress_sink = sink;
    for (const auto& [id, in] : impl_->incoming) {
      if (auto c = ClaimOf(in->rx.record(), impl_->config.center.id)) done.push_back(*c);
    }
  }
  if (sink) {
    for (const auto& c : done) sink(c);
  }
}

core::Result<federation::SettlementBody> TransferService::ExpectSettlement(
    const federation::SettlementBody& offered) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->incoming.find(offered.job);
  if (it == impl_->incoming.end()) {
    it = impl_->incoming.find(offered.job + std::string(transfer_internal::kRelaySuffix));
  }
  if (it == impl_->incoming.end()) {
    return core::Status(core::Code::kNotFound, "no transfer " + offered.job + " received here");
  }
  federation::TransferRecord record = it->second->rx.record();
  record.id = offered.job;  // a relay's copy is "<id>.relay"; the settlement names <id>
  return federation::ExpectEgress(offered, record, impl_->config.center.id);
}

}  // namespace edwc::gateway
