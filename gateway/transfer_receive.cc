// The receiving side of transfers, and a relay (see transfer_service_impl.h): pulls the
// chunks of a transfer, verifies and stores them, and publishes the dataset.
#include <boost/json.hpp>
#include <charconv>
#include <cstdio>
#include <optional>

#include "core/json.h"
#include "core/log.h"
#include "federation/transfer.h"
#include "gateway/io_runtime.h"
#include "gateway/router.h"
#include "gateway/transfer_service_impl.h"
#include "storage/store.h"

namespace edwc::gateway {

using federation::TransferRecord;
using federation::TransferState;
using federation::TransferStep;
using transfer_internal::Answer;
using transfer_internal::kChunkPrefix;
using transfer_internal::Key;
using transfer_internal::kRecordPrefix;
using transfer_internal::kRelaySuffix;
using transfer_internal::PeerError;
using transfer_internal::Unavailable;

namespace {

// Chunk data is synced (and then recorded) once this much is unsynced, or this long after
// the oldest unsynced write. Each fdatasync stalls the writes beside it (1 GiB moved in
// 2.1 s with a sync every 128 MiB, 1.6 s every 512 MiB); what is written but unrecorded
// at a crash is verified on disk at restart, so a crash of the gateway costs nothing and
// only a power cut costs up to this much again.
constexpr int64_t kSyncBytes = 512 << 20;
constexpr core::Duration kSyncAfter{2000};

std::string ChunkKey(std::string_view id, int64_t index) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%012lld", static_cast<long long>(index));
  std::string k = Key(kChunkPrefix, id);
  k += '/';
  k += digits;
  return k;
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

// The audit detail of a transfer that starts here.
json::object StartedDetail(const TransferRecord& record) {
  json::object detail{{"dataset", record.manifest.name},    {"name", record.dataset},
                      {"from", record.source_center},       {"to", record.dest_center},
                      {"zone", record.manifest.zone},       {"bytes", record.manifest.size},
                      {"requested_by", record.requested_by}};
  if (record.plan.relay) detail["relay"] = *record.plan.relay;
  return detail;
}

}  // namespace

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
        self->StartIncoming(std::move(record), std::move(respond));
      });
  if (!posted) respond(Unavailable("shutting down"));
}

// Opens the partial file of a new incoming transfer. Runs on `files`.
core::Result<std::unique_ptr<TransferService::Impl::Incoming>>
TransferService::Impl::PrepareIncoming(const TransferRecord& record) {
  auto in = MakeIncoming(record);
  if (!in->staging) {
    if (auto have = datasets->Get(record.dataset);
        have.ok() && have->sha256 != record.manifest.sha256) {
      return core::Status(core::Code::kConflict,
                          "dataset " + record.dataset + " exists here with other content", "name");
    }
  }
  auto partial = datasets->OpenPartial(
      record.id, record.manifest,
      std::vector<bool>(static_cast<size_t>(record.manifest.chunk_count()), false),
      /*check_whole=*/false);
  if (!partial.ok()) return partial.status();
  in->partial = std::move(partial).value();
  return in;
}

void TransferService::Impl::StartIncoming(TransferRecord record, Respond respond) {
  auto prepared = PrepareIncoming(record);
  if (!prepared.ok()) return respond(HttpResponse::Error(prepared.status()));
  std::unique_ptr<Incoming> in = std::move(prepared).value();
  const std::string id = record.id;
  const bool cross = CrossZone(record);
  json::object detail = StartedDetail(record);
  // Answers go out after the lock is released: a local caller may take it again.
  TransferStep step;
  std::optional<HttpResponse> refused;
  {
    std::lock_guard lock(mu);
    if (stopped) {
      refused = Unavailable("shutting down");
    } else if (incoming.contains(id)) {
      refused = HttpResponse::Error(
          core::Status(core::Code::kUnavailable, "transfer " + id + " is being created"));
    } else {
      step = in->rx.Start(std::move(record), clock->Now());
      if (step.status.ok()) {
        incoming.emplace(id, std::move(in));
      } else {
        refused = HttpResponse::Error(step.status);
      }
    }
  }
  if (refused) return respond(std::move(*refused));
  core::LogInfo("transfers", "receiving " + id);
  if (cross) {
    storage::Batch batch;
    Audit(batch, id, "started", std::move(detail));
    store->WriteAsync(std::move(batch), [](core::Status) {});
  }
  Apply(id, std::move(step), [self = shared_from_this(), id, respond] {
    json::object progress;
    {
      std::lock_guard lock(self->mu);
      auto it = self->incoming.find(id);
      if (it != self->incoming.end()) progress = self->LocalProgress(*it->second);
    }
    if (progress.empty()) return respond(Unavailable("stopped"));
    respond(Answer(201, {{"transfer", std::move(progress)}}));
  });
}

// Persists what a step says (the record on a state change, a key per stored chunk), then
// sends its fetches and runs `after`. A finished step first publishes the dataset.
void TransferService::Impl::Apply(const std::string& id, TransferStep step,
                                  std::function<void()> after) {
  if (step.finished) {
    // Until the dataset is published, the transfer shows `moving` and nobody waiting on it
    // is told it ended. Publishing syncs the whole file, so pending chunk syncs are moot,
    // but one already running must end before the file is closed.
    {
      std::lock_guard lock(mu);
      auto it = incoming.find(id);
      if (it != incoming.end()) {
        it->second->finishing = true;
        it->second->unsynced.clear();
        it->second->unsynced_bytes = 0;
        if (it->second->syncing) {
          it->second->finish_after_sync = std::move(step);
          return;
        }
      }
    }
    return FinishIncoming(id, std::move(step));
  }
  if (!step.chunk_done.empty()) {
    // Chunks are written unsynced; they are recorded once a sync covers them. Syncs are
    // paced (every kSyncBytes, or kSyncAfter after the oldest unsynced write, see Tick):
    // each fdatasync slows the writes beside it.
    bool due = false;
    {
      std::lock_guard lock(mu);
      auto it = incoming.find(id);
      if (it != incoming.end()) {
        Incoming& in = *it->second;
        if (in.unsynced.empty()) in.unsynced_since = clock->Now();
        for (const federation::ChunkDone& c : step.chunk_done) {
          in.unsynced.push_back(c.index);
          in.unsynced_bytes += in.rx.record().manifest.chunk_length(c.index);
        }
        due = in.unsynced_bytes >= kSyncBytes;
      }
    }
    if (due) SyncChunks(id);
  }
  storage::Batch batch;
  if (step.record) {
    batch.Put(storage::Cf::kTransfers, Key(kRecordPrefix, id),
              json::serialize(federation::ToJson(*step.record)));
    if (federation::IsTerminal(step.record->state) && CrossZone(*step.record)) {
      Audit(batch, id, federation::TransferStateName(step.record->state),
            {{"dataset", step.record->manifest.name},
             {"bytes", step.record->bytes_done},
             {"error", step.record->error}});
    }
    if (federation::IsTerminal(step.record->state)) {
      // The record says it all now: the per-chunk keys go.
      const std::vector<bool>& done = step.record->chunk_done;
      for (size_t i = 0; i < done.size(); ++i) {
        if (done[i]) batch.Delete(storage::Cf::kTransfers, ChunkKey(id, static_cast<int64_t>(i)));
      }
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
    if (ended) {
      self->NotifyEnded(*ended);
      self->ReportEgress(*ended);
    }
    if (after) after();
  };
  if (batch.empty()) return send(core::Status::Ok());
  store->WriteAsync(std::move(batch), std::move(send));
}

// Group commit for chunk data: one fdatasync at a time per transfer covers every chunk
// written before it started; then their keys are written. A crash in between costs
// nothing: at restart, chunks whose bytes are on disk and match their hash are recovered
// (PartialDataset::RecoverWritten); only those lost with the page cache are fetched again.
void TransferService::Impl::SyncChunks(const std::string& id) {
  std::vector<int64_t> chunks;
  storage::PartialDataset* partial = nullptr;
  {
    std::lock_guard lock(mu);
    auto it = incoming.find(id);
    if (it == incoming.end() || it->second->syncing || it->second->finishing ||
        it->second->unsynced.empty() || federation::IsTerminal(it->second->rx.record().state)) {
      return;
    }
    it->second->syncing = true;
    chunks.swap(it->second->unsynced);
    it->second->unsynced_bytes = 0;
    partial = it->second->partial.get();
  }
  const bool posted = files->Post([self = shared_from_this(), id, partial, chunks] {
    core::Status st = partial->Sync();
    auto again = [self, id] {
      std::optional<federation::TransferStep> finish;
      {
        std::lock_guard lock(self->mu);
        auto it = self->incoming.find(id);
        if (it != self->incoming.end()) {
          it->second->syncing = false;
          finish.swap(it->second->finish_after_sync);
        }
      }
      if (finish) return self->FinishIncoming(id, std::move(*finish));
      self->SyncChunks(id);
    };
    if (!st.ok()) {
      core::LogError("transfers", id + ": " + st.ToString());
      return again();  // not recorded: fetched again after a restart
    }
    storage::Batch batch;
    for (int64_t i : chunks) batch.Put(storage::Cf::kTransfers, ChunkKey(id, i), "");
    self->store->WriteAsync(std::move(batch), [again](core::Status) { again(); });
  });
  if (!posted) {
    std::lock_guard lock(mu);
    auto it = incoming.find(id);
    if (it != incoming.end()) it->second->syncing = false;
  }
}

// Every chunk is stored: verify the whole file and publish it (a relay only syncs its
// staged copy), then persist "done" (or "failed" when the whole-file check fails).
void TransferService::Impl::FinishIncoming(const std::string& id, TransferStep step) {
  files->Post([self = shared_from_this(), id, step = std::move(step)]() mutable {
    storage::PartialDataset* partial = nullptr;
    std::string name;
    bool staging = false;
    {
      std::lock_guard lock(self->mu);
      auto it = self->incoming.find(id);
      if (it == self->incoming.end()) return;
      partial = it->second->partial.get();
      name = it->second->rx.record().dataset;
      staging = it->second->staging;
    }
    core::Result<core::DatasetManifest> published =
        staging ? core::Result<core::DatasetManifest>(partial->manifest()) : partial->Finish(name);
    if (staging) {
      if (core::Status st = partial->Sync(); !st.ok()) published = st;
    }
    std::lock_guard lock(self->mu);
    auto it = self->incoming.find(id);
    if (it == self->incoming.end()) return;
    step.finished = false;
    step.chunk_done.clear();  // the final record covers them (their keys go with it)
    it->second->finishing = false;
    if (!published.ok()) {
      TransferStep failed = it->second->rx.Fail(published.status().message(), self->clock->Now());
      if (failed.record) step.record = failed.record;
      core::LogError("transfers", id + ": " + published.status().ToString());
    } else if (!staging) {
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
    core::Status st = partial->WriteChunk(index, body, /*sync=*/false);
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
  std::vector<std::string> unsynced;
  {
    std::lock_guard lock(mu);
    if (stopped) return;
    steps.swap(resumed);
    const core::Time now = clock->Now();
    for (auto& [id, in] : incoming) {
      if (!in->unsynced.empty() && !in->syncing && now - in->unsynced_since >= kSyncAfter) {
        unsynced.push_back(id);
      }
      const auto deadline = in->rx.NextDeadline();
      if (!deadline || *deadline > now) continue;
      TransferStep step = in->rx.Tick(now);
      if (!step.fetch.empty() || step.record || !step.chunk_done.empty()) {
        steps.emplace_back(id, std::move(step));
      }
    }
  }
  for (auto& [id, step] : steps) Apply(id, std::move(step));
  for (const std::string& id : unsynced) SyncChunks(id);
}

json::object TransferService::Impl::LocalProgress(const Incoming& in) const {
  json::object o = ProgressJson(in.rx.record(), in.rx.Progress(clock->Now()));
  if (in.finishing) o["state"] = "moving";  // every chunk is in; publishing it
  return o;
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

}  // namespace edwc::gateway
