// The home side of transfers (see transfer_service_impl.h): plans what a broker asks for,
// stores it with its Idempotency-Key, creates it at the relay and receiver, and shows,
// lists and cancels it.
#include <boost/json.hpp>
#include <charconv>
#include <utility>

#include "core/ids.h"
#include "core/json.h"
#include "federation/transfer.h"
#include "gateway/federation_service.h"
#include "gateway/router.h"
#include "gateway/transfer_service_impl.h"
#include "storage/store.h"

namespace edwc::gateway {

using federation::TransferRecord;
using transfer_internal::Answer;
using transfer_internal::HomeTransfer;
using transfer_internal::kAuditPrefix;
using transfer_internal::Key;
using transfer_internal::kHomePrefix;
using transfer_internal::kKeyPrefix;
using transfer_internal::kRelaySuffix;
using transfer_internal::PeerError;
using transfer_internal::ToJson;
using transfer_internal::Unavailable;

namespace {

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

// The request of POST /v1/transfers, checked: dataset, from, to and name.
core::Result<HomeTransfer> RequestFromJson(std::string_view text) {
  EDWC_ASSIGN_OR_RETURN(json::object body, core::ParseJsonObject(text));
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(body, {"dataset", "from", "to", "name"}));
  HomeTransfer h;
  auto dataset = core::GetString(body, "dataset");
  auto from = core::GetString(body, "from");
  auto to = core::GetString(body, "to");
  auto name = core::GetOptionalString(body, "name");
  for (const core::Status& st : {dataset.status(), from.status(), to.status(), name.status()}) {
    if (!st.ok()) return st;
  }
  h.dataset = *dataset;
  h.from = *from;
  h.to = *to;
  h.name = name->value_or(h.dataset);
  if (!core::ValidDatasetName(h.dataset)) {
    return core::InvalidArgument("not a dataset name", "dataset");
  }
  if (!core::ValidDatasetName(h.name)) return core::InvalidArgument("not a dataset name", "name");
  for (auto [field, center] : {std::pair{"from", &h.from}, {"to", &h.to}}) {
    if (!core::IsValidCenterId(*center)) return core::InvalidArgument("not a center id", field);
  }
  if (h.from == h.to) {
    return core::InvalidArgument("the dataset is already at " + h.to + ": from equals to", "to");
  }
  return h;
}

// The record the receiver gets for `h`, requested here at `home`.
TransferRecord RecordOf(const HomeTransfer& h, core::DatasetManifest m,
                        const federation::TransferPlan& plan, const std::string& home) {
  TransferRecord r;
  r.id = h.id;
  r.dataset = h.name;
  r.manifest = std::move(m);
  r.plan = plan;
  r.source_center = h.from;
  r.dest_center = h.to;
  r.created_at = r.updated_at = h.created_at;
  r.requested_by = h.owner + "@" + home;
  r.idempotency_key = h.key;
  return r;
}

}  // namespace

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
  auto request = RequestFromJson(req.body);
  if (!request.ok()) return respond(HttpResponse::Error(request.status()));
  HomeTransfer h = std::move(request).value();
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
  TransferRecord r = RecordOf(h, std::move(m), *plan, config.center.id);
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
                      self->CreateLegs(std::move(h), std::move(r), std::move(respond));
                    });
}

void TransferService::Impl::CreateLegs(HomeTransfer h, TransferRecord r, Respond respond) {
  auto create_dest = [self = shared_from_this(), h, r, respond](core::Status relay_st) mutable {
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
  CreateAt(h.relay, std::move(staged), std::move(create_dest));
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

// The transfer the route names, if the caller may see it; otherwise answers 503 or 404.
std::optional<HomeTransfer> TransferService::Impl::Lookup(const RouteContext& ctx,
                                                          const Respond& respond) {
  if (!open) {
    respond(Unavailable("not ready: transfers are still opening"));
    return std::nullopt;
  }
  std::optional<HomeTransfer> h;
  {
    std::lock_guard lock(mu);
    if (const HomeTransfer* found = Visible(ctx, ctx.Param("id"))) h = *found;
  }
  if (!h) {
    respond(HttpResponse::Error(
        core::NotFound("no transfer '" + std::string(ctx.Param("id")) + "'", "id")));
  }
  return h;
}

void TransferService::Impl::Show(const RouteContext& ctx, Respond respond) {
  std::optional<HomeTransfer> found = Lookup(ctx, respond);
  if (!found) return;
  const HomeTransfer& h = *found;
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
  std::optional<HomeTransfer> found = Lookup(ctx, respond);
  if (!found) return;
  const HomeTransfer& h = *found;
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

}  // namespace edwc::gateway
