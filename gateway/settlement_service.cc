// The settlement exchange: issuing (payee), offering with retries, accepting offers
// (payer) and egress claims. The finance and peer read routes are settlement_finance.cc.
#include "gateway/settlement_service.h"

#include "gateway/settlement_service_impl.h"

#include <algorithm>
#include <boost/json.hpp>

#include "core/json.h"
#include "core/log.h"
#include "federation/gossip.h"
#include "federation/holds.h"
#include "gateway/certs.h"
#include "gateway/federation_service.h"
#include "gateway/io_runtime.h"
#include "gateway/metrics.h"
#include "gateway/router.h"
#include "storage/store.h"

namespace edwc::gateway {

namespace json = boost::json;
using federation::Settlement;
using federation::SettlementBody;
using federation::SettlementState;
using settlement_internal::Json;

namespace {

constexpr std::string_view kClaimPrefix = "c/";  // c/<settlement id>: an egress claim of ours
constexpr size_t kOfferBatch = 64;               // records per offer request
constexpr size_t kMaxOffersPerRequest = 256;     // what a payer accepts in one request
constexpr auto kTick = std::chrono::milliseconds(500);

// Retry delay after `failures` consecutive failures: 0.5 s doubling, at most 30 s.
core::Duration Backoff(int failures) {
  const int64_t ms = std::min<int64_t>(30000, int64_t{500} << std::min(failures, 6));
  return core::Duration(ms);
}

HttpResponse ErrorAnswer(core::Code code, std::string message) {
  return HttpResponse::Error(core::Status(code, std::move(message)));
}

}  // namespace

// ---- helpers shared with settlement_finance.cc ----------------------------------------------

std::string SettlementService::Impl::PeerUrlOf(std::string_view center) const {
  for (const auto& e : view->View(clock->Now())) {
    if (e.advert.center == center) return e.advert.peer_url;
  }
  return "";
}

std::vector<std::string> SettlementService::Impl::LiveCenters() const {
  std::vector<std::string> out;
  for (const auto& e : view->View(clock->Now())) {
    if (e.self || e.liveness == federation::Liveness::kAlive) out.push_back(e.advert.center);
  }
  return out;
}

core::Status SettlementService::Impl::CheckSignature(std::string_view center, std::string_view pem,
                                                     std::string_view bytes,
                                                     std::string_view signature) const {
  return verifier->VerifySignature(center, pem, bytes, signature, clock->Now());
}

core::Result<std::string> SettlementService::Impl::CertificatePem(
    const std::string& cert_id) const {
  const std::shared_ptr<const Ledger::Signing> signing = ledger->signing();
  if (cert_id == signing->cert_id) return signing->signer->certificate_pem();
  EDWC_ASSIGN_OR_RETURN(std::optional<std::string> pem, ledger->Certificate(cert_id));
  if (!pem) return core::NotFound("certificate " + cert_id + " is not stored");
  return std::move(*pem);
}

void SettlementService::Impl::OffThread(Respond respond, std::function<HttpResponse()> fn) {
  auto shared = std::make_shared<Respond>(std::move(respond));
  if (!readers->Post([shared, fn = std::move(fn)] { (*shared)(fn()); })) {
    (*shared)(ErrorAnswer(core::Code::kUnavailable, "shutting down"));
  }
}

// ---- issuing (payee) -------------------------------------------------------------------------

void SettlementService::Impl::Issue(SettlementBody body,
                                    std::function<void(core::Result<Settlement>)> done) {
  // Issuing waits for its sync: on an issuer thread, never an I/O thread.
  const bool posted =
      issuers->Post([self = shared_from_this(), body = std::move(body), done]() mutable {
        const std::string payer = body.payer;
        auto r = self->ledger->Issue(std::move(body));
        if (r.ok() && r->created) {
          self->issued[KindIndex(r->record.body.kind)]++;
          self->Kick(payer);
        }
        if (!r.ok()) core::LogWarn("settlement", "issue failed: " + r.status().ToString());
        if (done) done(r.ok() ? core::Result<Settlement>(std::move(r->record)) : r.status());
      });
  if (!posted && done) done(core::Status(core::Code::kUnavailable, "shutting down"));
}

void SettlementService::SettleHold(const federation::HoldRecord& hold) {
  // A job of our own brokers run here is nobody's debt.
  if (!hold.usage || !impl_->open || hold.router == impl_->config.center.id) return;
  auto body = federation::ComputeSettlement(hold, impl_->config.center.id);
  if (!body.ok()) {
    core::LogWarn("settlement", "hold " + hold.hold_id + ": " + body.status().ToString());
    return;
  }
  impl_->Issue(std::move(body).value(), nullptr);
}

// ---- offering (payee) ------------------------------------------------------------------------

void SettlementService::Impl::Kick(const std::string& payer) {
  runtime.Post([self = shared_from_this(), payer] {
    {
      std::lock_guard lock(self->mu);
      if (self->stopped) return;
      Outgoing& o = self->outgoing[payer];
      if (o.in_flight || self->clock->Now() < o.next_try) return;
      o.in_flight = true;
    }
    self->SendOffers(payer);
  });
}

void SettlementService::Impl::Tick() {
  const core::Time now = clock->Now();
  std::vector<std::string> payers = ledger->PayersWithOffers();
  std::vector<std::string> due_claims;
  {
    std::lock_guard lock(mu);
    if (stopped) return;
    for (auto& [id, c] : claims) {
      if (!c.in_flight && now >= c.next_try) {
        c.in_flight = true;
        due_claims.push_back(id);
      }
    }
  }
  for (const std::string& p : payers) Kick(p);
  for (const std::string& id : due_claims) SendClaim(id);
}

// REQUIRES: outgoing[payer].in_flight set by the caller.
void SettlementService::Impl::SendOffers(const std::string& payer) {
  // Reading the offers is a store read: on a worker, like every ledger read.
  const bool posted = readers->Post([self = shared_from_this(), payer] {
    std::vector<Settlement> offers = self->ledger->Offers(payer, 0, kOfferBatch);
    if (offers.empty()) return self->OfferDone(payer, true, "");
    // Signed when first offered, and stored signed before it leaves: a retry after a
    // crash offers the same signature.
    if (core::Status st = self->ledger->SignOffers(offers); !st.ok()) {
      return self->OfferDone(payer, false, "signing: " + st.ToString());
    }
    const std::string url = self->PeerUrlOf(payer);
    if (url.empty()) return self->OfferDone(payer, false, "no peer URL for " + payer);
    // An offer names one certificate (payee_cert_pem): records signed before our
    // certificate was rotated go first, in an offer of their own, under the one they name.
    const std::string cert = offers.front().payee_cert;
    offers.erase(std::find_if(offers.begin(), offers.end(),
                              [&cert](const Settlement& s) { return s.payee_cert != cert; }),
                 offers.end());
    auto pem = self->CertificatePem(cert);
    if (!pem.ok()) return self->OfferDone(payer, false, "certificate: " + pem.status().ToString());
    json::array list;
    for (const Settlement& s : offers) list.push_back(federation::ToJson(s));
    json::object body{{"payee_cert_pem", *pem}, {"settlements", std::move(list)}};
    self->peers->Post(url, "/peer/v1/settlements", json::serialize(body), /*idempotent=*/true,
                      [self, payer](core::Result<PeerResponse> r) {
                        // Checking the countersignatures is CPU work: not on an I/O thread.
                        const bool checked = self->readers->Post(
                            [self, payer, r = std::move(r)] { self->OnOfferAnswer(payer, r); });
                        if (!checked) self->OfferDone(payer, false, "stopping");
                      });
  });
  if (!posted) OfferDone(payer, false, "stopping");
}

void SettlementService::Impl::OfferDone(const std::string& payer, bool ok, const std::string& why) {
  bool more = false;
  {
    std::lock_guard lock(mu);
    Outgoing& o = outgoing[payer];
    o.in_flight = false;
    if (ok) {
      o.failures = 0;
      o.next_try = {};
      more = !stopped;
    } else {
      o.failures++;
      o.next_try = clock->Now() + Backoff(o.failures);
    }
  }
  if (!ok) {
    offers_failed++;
    if (!why.empty()) core::LogWarn("settlement", "offers to " + payer + ": " + why);
  }
  // Answered: offer what else is waiting (Offers() is empty when nothing is).
  if (!more) return;
  const std::vector<std::string> waiting = ledger->PayersWithOffers();  // in memory
  if (std::find(waiting.begin(), waiting.end(), payer) != waiting.end()) Kick(payer);
}

void SettlementService::Impl::OnOfferAnswer(const std::string& payer,
                                            const core::Result<PeerResponse>& r) {
  if (!r.ok()) return OfferDone(payer, false, r.status().ToString());
  if (r->status != 200) {
    return OfferDone(payer, false, "HTTP " + std::to_string(r->status) + ": " + r->body);
  }
  auto parsed = core::ParseJsonObject(r->body);
  if (!parsed.ok()) return OfferDone(payer, false, parsed.status().ToString());
  const json::object& o = *parsed;
  const json::value* pem_v = o.if_contains("payer_cert_pem");
  const json::value* results_v = o.if_contains("results");
  if (pem_v == nullptr || !pem_v->is_string() || results_v == nullptr || !results_v->is_array()) {
    return OfferDone(payer, false, "malformed answer");
  }
  const std::string payer_pem(pem_v->as_string());
  const std::string payer_cert = Sha256Hex(payer_pem);
  std::vector<Settlement> answers;
  for (const json::value& v : results_v->as_array()) {
    auto s = federation::SettlementFromJson(v);
    if (!s.ok()) return OfferDone(payer, false, "answer: " + s.status().ToString());
    if (s->body.payer != payer || s->body.payee != config.center.id) {
      return OfferDone(payer, false, "answer about another chain");
    }
    if (s->state == SettlementState::kAgreed) {
      auto raw = federation::Base64Decode(s->payer_sig);
      core::Status st =
          s->payer_cert != payer_cert || !raw
              ? core::Status(core::Code::kPermissionDenied, "countersignature certificate")
              : CheckSignature(payer, payer_pem,
                               federation::CountersignBytes(s->body, s->payee_sig), *raw);
      if (!st.ok())
        return OfferDone(payer, false, "countersignature of " + s->body.id + ": " + st.message());
    }
    answers.push_back(std::move(s).value());
  }
  if (const json::value* err = o.if_contains("error")) {
    core::LogWarn("settlement", payer + " stopped at an offer: " + json::serialize(*err));
  }
  if (answers.empty()) return OfferDone(payer, !o.contains("error"), "refused");
  // Store every answer, then go on.
  struct Pending {
    std::mutex mu;
    size_t left = 0;
    std::string error;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = answers.size();
  const bool clean = !o.contains("error");
  for (const Settlement& a : answers) {
    if (a.state == SettlementState::kAgreed) agreed[kPayee][KindIndex(a.body.kind)]++;
    if (a.state == SettlementState::kDisputed) disputed[kPayee][KindIndex(a.body.kind)]++;
    ledger->RecordAnswer(
        a, payer_pem,
        [self = shared_from_this(), payer, pending, clean, id = a.body.id](core::Status st) {
          std::string error;
          {
            std::lock_guard lock(pending->mu);
            if (!st.ok() && pending->error.empty()) pending->error = id + ": " + st.ToString();
            if (--pending->left > 0) return;
            error = pending->error;
          }
          // On the store's writer thread: hand the rest to an I/O thread.
          self->runtime.Post([self, payer, error, clean] {
            self->OfferDone(payer, error.empty() && clean, error.empty() ? "refused" : error);
          });
        });
  }
}

// ---- accepting offers (payer) ----------------------------------------------------------------

void SettlementService::Impl::HandleOffers(HttpRequest& req, Respond respond) {
  const std::string payee = req.peer_center;
  if (payee.empty()) {
    return respond(ErrorAnswer(core::Code::kPermissionDenied, "no client certificate"));
  }
  auto parsed = core::ParseJsonObject(req.body);
  if (!parsed.ok()) return respond(HttpResponse::Error(parsed.status()));
  {
    std::lock_guard lock(mu);
    if (!accepting.insert(payee).second) {
      return respond(ErrorAnswer(core::Code::kUnavailable,
                                 "offers from " + payee + " are being answered; retry"));
    }
  }
  auto shared = std::make_shared<Respond>(std::move(respond));
  auto finish = [self = shared_from_this(), payee, shared](HttpResponse answer) {
    {
      std::lock_guard lock(self->mu);
      self->accepting.erase(payee);
    }
    (*shared)(std::move(answer));
  };
  // Signatures, store reads and our own records: on a worker.
  const bool posted = readers->Post([self = shared_from_this(), payee, finish,
                                     body = std::move(parsed).value()]() mutable {
    const json::value* pem_v = body.if_contains("payee_cert_pem");
    const json::value* list_v = body.if_contains("settlements");
    if (pem_v == nullptr || !pem_v->is_string()) {
      return finish(HttpResponse::Error(core::Status(
          core::Code::kInvalidArgument, "payee_cert_pem is required", "payee_cert_pem")));
    }
    if (list_v == nullptr || !list_v->is_array() ||
        list_v->as_array().size() > kMaxOffersPerRequest) {
      return finish(HttpResponse::Error(core::Status(
          core::Code::kInvalidArgument,
          "settlements must be an array of at most " + std::to_string(kMaxOffersPerRequest),
          "settlements")));
    }
    const std::string pem(pem_v->as_string());
    const std::string cert_id = Sha256Hex(pem);
    const std::string self_id = self->config.center.id;
    // An answer names one certificate (payer_cert_pem): a record countersigned before our
    // certificate was rotated is answered again under the one it names, and the answer
    // ends before a record countersigned under another (the payee offers it again).
    const std::shared_ptr<const Ledger::Signing> signing = self->ledger->signing();
    std::string answer_cert;
    const auto same_cert = [&answer_cert](const std::string& cert) {
      if (answer_cert.empty()) answer_cert = cert;
      return answer_cert == cert;
    };
    auto [next_seq, head_hash] = self->ledger->Head(payee, self_id);
    json::array results;
    std::vector<Settlement> fresh;
    std::set<std::string> fresh_ids;
    json::object stop;  // the first offer refused, and why: the rest are not looked at
    auto refuse = [&](core::Code code, const Settlement& s, std::string why) {
      stop = json::object{{"code", std::string(core::CodeName(code))},
                          {"id", s.body.id},
                          {"seq", s.body.seq},
                          {"message", std::move(why)},
                          {"expected_seq", next_seq}};
    };
    for (const json::value& v : list_v->as_array()) {
      auto offered = federation::SettlementFromJson(v);
      if (!offered.ok()) {
        stop = json::object{{"code", "invalid_argument"}, {"message", offered.status().ToString()}};
        break;
      }
      Settlement s = std::move(offered).value();
      const SettlementBody& b = s.body;
      if (b.payee != payee || b.payer != self_id) {
        refuse(core::Code::kPermissionDenied, s,
               "settlement " + b.id + " is not from " + payee + " to " + self_id);
        break;
      }
      auto stored = self->ledger->At(payee, self_id, b.seq);
      if (!stored.ok()) {
        refuse(core::Code::kInternal, s, stored.status().ToString());
        break;
      }
      if (stored->has_value()) {
        const Settlement& have = **stored;
        if (have.body == b && have.payee_sig == s.payee_sig) {
          if (have.state == SettlementState::kAgreed && !same_cert(have.payer_cert)) break;
          results.push_back(federation::ToJson(have));  // a retry: the first answer again
          continue;
        }
        refuse(core::Code::kConflict, s,
               "record " + std::to_string(b.seq) + " of " + payee + " -> " + self_id +
                   " is stored with other content");
        break;
      }
      auto raw_sig = federation::Base64Decode(s.payee_sig);
      core::Status sig =
          s.payee_cert != cert_id || !raw_sig
              ? core::Status(core::Code::kPermissionDenied,
                             "payee_cert is not the certificate sent")
              : self->CheckSignature(payee, pem, federation::CanonicalBytes(b), *raw_sig);
      if (!sig.ok()) {
        refuse(core::Code::kPermissionDenied, s, "payee signature: " + sig.message());
        break;
      }
      if (s.hash != federation::BodyHash(b)) {
        refuse(core::Code::kInvalidArgument, s, "hash does not match the body");
        break;
      }
      if (b.seq != next_seq) {
        refuse(core::Code::kFailedPrecondition, s,
               "gap: record " + std::to_string(next_seq) + " is missing before " +
                   std::to_string(b.seq));
        break;
      }
      if (b.prev_hash != head_hash) {
        refuse(core::Code::kConflict, s,
               "prev_hash does not follow record " + std::to_string(b.seq - 1));
        break;
      }
      // Our own version of it, from our own records.
      Settlement answer = s;
      answer.updated_at = self->clock->Now();
      auto existing = self->ledger->Get(b.id);
      std::optional<std::string> problem;
      std::optional<SettlementBody> mine;
      if (existing.ok() && existing->has_value()) {
        problem =
            "duplicate: " + b.id + " is already record " + std::to_string((*existing)->body.seq);
      } else if (!fresh_ids.insert(b.id).second) {
        problem = "duplicate: " + b.id + " twice in one offer";
      } else {
        Expect expect;
        {
          std::lock_guard lock(self->mu);
          auto it = self->expect.find(b.kind);
          if (it != self->expect.end()) expect = it->second;
        }
        auto r = expect ? expect(b)
                        : core::Result<SettlementBody>(core::Status(core::Code::kFailedPrecondition,
                                                                    "no check for this kind"));
        if (!r.ok()) {
          problem = r.status().message();
        } else {
          mine = std::move(r).value();
          auto fields = federation::DifferingFields(b, *mine);
          if (!fields.empty()) {
            std::string list;
            for (const auto& f : fields) list += (list.empty() ? "" : ", ") + f;
            problem = "fields differ: " + list;
            answer.disputed_fields = std::move(fields);
          }
        }
      }
      if (problem) {
        answer.state = SettlementState::kDisputed;
        answer.dispute_reason = *problem;
        if (mine && !answer.disputed_fields.empty()) answer.payer_version = std::move(mine);
      } else {
        if (!same_cert(signing->cert_id)) break;
        auto countersig = signing->signer->Sign(federation::CountersignBytes(b, s.payee_sig));
        if (!countersig.ok()) {
          refuse(core::Code::kInternal, s, countersig.status().ToString());
          break;
        }
        answer.state = SettlementState::kAgreed;
        answer.payer_cert = signing->cert_id;
        answer.payer_sig = federation::Base64Encode(*countersig);
      }
      next_seq = b.seq + 1;
      head_hash = s.hash;
      results.push_back(federation::ToJson(answer));
      fresh.push_back(std::move(answer));
    }
    auto answer_pem = self->CertificatePem(answer_cert.empty() ? signing->cert_id : answer_cert);
    if (!answer_pem.ok()) return finish(HttpResponse::Error(answer_pem.status()));
    json::object out{{"payer_cert_pem", *answer_pem}, {"results", std::move(results)}};
    if (!stop.empty()) out["error"] = std::move(stop);
    if (fresh.empty()) return finish(Json(200, out));
    std::array<uint64_t, kKinds> n_agreed{}, n_disputed{};
    for (const Settlement& a : fresh) {
      (a.state == SettlementState::kAgreed ? n_agreed : n_disputed)[KindIndex(a.body.kind)]++;
    }
    self->ledger->Accept(
        std::move(fresh), pem,
        [self, finish, out = std::move(out), n_agreed, n_disputed](core::Status st) mutable {
          if (!st.ok()) return finish(HttpResponse::Error(st));
          for (size_t k = 0; k < kKinds; ++k) {
            self->agreed[kPayer][k] += n_agreed[k];
            self->disputed[kPayer][k] += n_disputed[k];
          }
          finish(Json(200, out));
        });
  });
  if (!posted) finish(ErrorAnswer(core::Code::kUnavailable, "shutting down"));
}

// ---- egress claims -----------------------------------------------------------------------------

void SettlementService::ClaimEgress(const federation::EgressClaim& claim) {
  Impl& d = *impl_;
  if (!d.open || claim.sender == claim.receiver) return;
  const std::string id = federation::SettlementId(federation::SettlementKind::kEgress,
                                                  claim.transfer + "/" + claim.sender);
  {
    std::lock_guard lock(d.mu);
    if (d.claims.count(id)) return;
  }
  auto have = d.ledger->Get(id);
  if (have.ok() && have->has_value()) return;  // the sender's offer is already here
  storage::Batch batch;
  batch.Put(storage::Cf::kLedger, std::string(kClaimPrefix) + id,
            json::serialize(federation::ToJson(claim)));
  d.store->WriteAsync(std::move(batch), [self = impl_, id, claim](core::Status st) {
    if (!st.ok()) {
      core::LogWarn("settlement", "claim " + id + " not stored: " + st.ToString());
      return;
    }
    {
      std::lock_guard lock(self->mu);
      if (self->claims.count(id)) return;
      self->claims[id] = Impl::PendingClaim{claim, true, 0, {}};
    }
    self->runtime.Post([self, id] { self->SendClaim(id); });
  });
}

// REQUIRES: claims[id].in_flight set by the caller.
void SettlementService::Impl::SendClaim(const std::string& id) {
  federation::EgressClaim claim;
  {
    std::lock_guard lock(mu);
    auto it = claims.find(id);
    if (it == claims.end()) return;
    claim = it->second.claim;
  }
  auto fail = [self = shared_from_this(), id](const std::string& why) {
    std::lock_guard lock(self->mu);
    auto it = self->claims.find(id);
    if (it == self->claims.end()) return;
    it->second.in_flight = false;
    it->second.failures++;
    it->second.next_try = self->clock->Now() + Backoff(it->second.failures);
    if (it->second.failures == 1 || it->second.failures % 10 == 0) {
      core::LogWarn("settlement", "claim " + id + ": " + why);
    }
  };
  const std::string url = PeerUrlOf(claim.sender);
  if (url.empty()) return fail("no peer URL for " + claim.sender);
  peers->Post(url, "/peer/v1/settlements/egress", json::serialize(federation::ToJson(claim)), true,
              [self = shared_from_this(), id, fail](core::Result<PeerResponse> r) {
                if (!r.ok()) return fail(r.status().ToString());
                if (r->status != 200 && r->status != 201) {
                  return fail("HTTP " + std::to_string(r->status) + ": " + r->body);
                }
                storage::Batch batch;
                batch.Delete(storage::Cf::kLedger, std::string(kClaimPrefix) + id);
                self->store->WriteAsync(std::move(batch), [self, id](core::Status st) {
                  std::lock_guard lock(self->mu);
                  if (st.ok()) self->claims.erase(id);
                });
              });
}

void SettlementService::Impl::HandleEgressClaim(HttpRequest& req, Respond respond) {
  auto parsed = core::ParseJson(req.body);
  if (!parsed.ok()) return respond(HttpResponse::Error(parsed.status()));
  auto claim = federation::EgressClaimFromJson(*parsed);
  if (!claim.ok()) return respond(HttpResponse::Error(claim.status()));
  if (claim->receiver != req.peer_center || claim->sender != config.center.id) {
    return respond(ErrorAnswer(core::Code::kPermissionDenied,
                               "a claim is made by the receiver to the sender"));
  }
  core::Money price;
  {
    std::lock_guard lock(mu);
    price = egress_per_gb;
  }
  // The receiver says it owes us: taking its word costs only the receiver.
  auto body = federation::EgressSettlement(*claim, price);
  if (!body.ok()) return respond(HttpResponse::Error(body.status()));
  auto shared = std::make_shared<Respond>(std::move(respond));
  Issue(std::move(body).value(), [shared](core::Result<Settlement> r) {
    if (!r.ok()) return (*shared)(HttpResponse::Error(r.status()));
    (*shared)(Json(200, json::object{{"settlement", federation::ToJson(*r)}}));
  });
}

// ---- the service -------------------------------------------------------------------------------

SettlementService::SettlementService(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

SettlementService::~SettlementService() { Stop(); }

core::Result<std::unique_ptr<SettlementService>> SettlementService::Create(
    const config::CenterConfig& config, IoRuntime& runtime, Metrics* metrics,
    const core::Clock* clock) {
  auto impl = std::make_shared<Impl>(config, runtime, metrics, clock);
  impl->egress_per_gb = config.pricing.egress_per_gb;
  EDWC_ASSIGN_OR_RETURN(impl->signer, MakeAdvertSigner(config.tls.cert, config.tls.key));
  EDWC_ASSIGN_OR_RETURN(impl->verifier, CaAdvertVerifier::Create(config.tls.ca, nullptr));
  PeerClientOptions options;
  options.clock = clock;
  EDWC_ASSIGN_OR_RETURN(impl->peers,
                        HttpsPeerClient::Create(runtime, config.tls, options, nullptr));
  impl->readers = std::make_unique<WorkerPool>(2);
  impl->issuers = std::make_unique<WorkerPool>(4);
  if (metrics != nullptr) {
    std::weak_ptr<Impl> weak = impl;
    auto counter = [weak](std::atomic<uint64_t> Impl::*field) {
      return [weak, field] {
        auto p = weak.lock();
        return p ? double((*p.*field).load()) : 0.0;
      };
    };
    auto kind_label = [](size_t k) {
      return "kind=\"" +
             std::string(
                 federation::SettlementKindName(static_cast<federation::SettlementKind>(k))) +
             "\"";
    };
    // One sample per role and kind, zeros included.
    auto by_role = [weak, kind_label](std::array<Impl::PerKind, 2> Impl::*field) {
      return [weak, field, kind_label] {
        Metrics::Samples out;
        auto p = weak.lock();
        for (Impl::Role role : {Impl::kPayee, Impl::kPayer}) {
          for (size_t k = 0; k < Impl::kKinds; ++k) {
            out.emplace_back(
                kind_label(k) + (role == Impl::kPayee ? ",role=\"payee\"" : ",role=\"payer\""),
                p ? double(((*p).*field)[role][k].load()) : 0.0);
          }
        }
        return out;
      };
    };
    metrics->AddFamily("edwc_settlements_issued_total",
                       "Settlements this center issued as payee, by kind.", "counter",
                       [weak, kind_label] {
                         Metrics::Samples out;
                         auto p = weak.lock();
                         for (size_t k = 0; k < Impl::kKinds; ++k) {
                           out.emplace_back(kind_label(k), p ? double(p->issued[k].load()) : 0.0);
                         }
                         return out;
                       });
    metrics->AddFamily("edwc_settlements_agreed_total",
                       "Settlements countersigned, by kind and by this center's role (payee: "
                       "agreements received and stored; payer: settlements it signed).",
                       "counter", by_role(&Impl::agreed));
    metrics->AddFamily("edwc_settlements_disputed_total",
                       "Settlements disputed, by kind and by this center's role (payee: "
                       "disputes received; payer: disputes it raised).",
                       "counter", by_role(&Impl::disputed));
    metrics->AddCounter("edwc_settlement_offers_failed_total",
                        "Offer requests that failed and will be retried.",
                        counter(&Impl::offers_failed));
    metrics->AddCounter("edwc_ledger_chain_breaks_total", "Ledger chains found broken at start-up.",
                        counter(&Impl::chain_breaks));
  }
  return std::unique_ptr<SettlementService>(new SettlementService(std::move(impl)));
}

void SettlementService::RegisterRoutes(Router& api, Router& peer) {
  std::weak_ptr<Impl> weak = impl_;
  auto guarded = [weak](void (Impl::*method)(HttpRequest&, Respond)) {
    return [weak, method](HttpRequest& req, const RouteContext&, Respond respond) {
      auto self = weak.lock();
      if (!self || !self->open) {
        return respond(ErrorAnswer(core::Code::kUnavailable, "settlements are not open"));
      }
      ((*self).*method)(req, std::move(respond));
    };
  };
  peer.Add("POST", "/peer/v1/settlements", Access::Public(), guarded(&Impl::HandleOffers));
  peer.Add("POST", "/peer/v1/settlements/egress", Access::Public(),
           guarded(&Impl::HandleEgressClaim));
  impl_->RegisterFinanceRoutes(api, peer);
}

core::Status SettlementService::Open(storage::Store* store, const ViewSource* view) {
  Impl& d = *impl_;
  d.store = store;
  d.view = view;
  EDWC_ASSIGN_OR_RETURN(d.ledger, Ledger::Open(store, d.config.center.id, d.signer.get(), d.clock));
  // The chains are checked at every start: a break is reported, not hidden.
  // (Hashes and links only: signatures are checked as records arrive, and by
  // GET /v1/ledger/verify.)
  auto reports = d.ledger->Verify(nullptr);
  if (!reports.ok()) return reports.status().WithContext("ledger");
  for (const auto& r : *reports) {
    if (!r.first_break) continue;
    d.chain_breaks++;
    core::LogError("settlement", "ledger chain " + r.payee + " -> " + r.payer +
                                     " is broken at record " + std::to_string(r.first_break->seq) +
                                     ": " + r.first_break->problem);
  }
  EDWC_RETURN_IF_ERROR(
      store->Scan(storage::Cf::kLedger, kClaimPrefix, [&d](std::string_view k, std::string_view v) {
        auto value = core::ParseJson(v);
        if (!value.ok()) return true;
        auto claim = federation::EgressClaimFromJson(*value);
        if (claim.ok()) {
          d.claims[std::string(k.substr(kClaimPrefix.size()))] =
              Impl::PendingClaim{*claim, false, 0, {}};
        }
        return true;
      }));
  d.open = true;
  return core::Status::Ok();
}

void SettlementService::SetExpect(federation::SettlementKind kind, Expect expect) {
  std::lock_guard lock(impl_->mu);
  impl_->expect[kind] = std::move(expect);
}

core::Status SettlementService::SetCredentials(
    std::shared_ptr<const federation::AdvertSigner> signer,
    std::shared_ptr<const CaAdvertVerifier::TrustAnchors> anchors) {
  Impl& d = *impl_;
  if (d.ledger) EDWC_RETURN_IF_ERROR(d.ledger->SetSigner(std::move(signer)));
  d.verifier->SetTrustAnchors(std::move(anchors));
  return core::Status::Ok();
}

void SettlementService::SetEgressPrice(core::Money per_gb) {
  std::lock_guard lock(impl_->mu);
  impl_->egress_per_gb = per_gb;
}

void SettlementService::Start() { impl_->runtime.TickWhileRunning(kTick, impl_); }

void SettlementService::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  if (impl_->peers) impl_->peers->Shutdown();
  if (impl_->issuers) impl_->issuers->Close();
  if (impl_->readers) impl_->readers->Close();
}

Ledger& SettlementService::ledger() { return *impl_->ledger; }

}  // namespace edwc::gateway
