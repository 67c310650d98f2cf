// Reconciliation with a peer (POST /v1/reconcile/{peer}) and netting across the federation
// (GET /v1/netting): the finance routes of the settlement service (settlement_service_impl.h)
// that call peers; settlement_finance.cc registers them.
//
// Threads: handlers run on I/O threads and only parse their request there. Every ledger
// read goes to a reader worker (OffThread, or readers->Post where more peer calls follow);
// peer answers arrive on I/O threads and are handed to a worker before the ledger is read.
// Calls to peers are bounded (kDayFetchWidth, kStatementFetchWidth in flight per request).
#include <algorithm>
#include <boost/json.hpp>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json.h"
#include "core/money.h"
#include "core/status.h"
#include "core/time.h"
#include "federation/advert.h"
#include "federation/settlement.h"
#include "gateway/http_types.h"
#include "gateway/peer_client.h"
#include "gateway/router.h"
#include "gateway/settlement_service_impl.h"
#include "gateway/worker_pool.h"

namespace edwc::gateway {

namespace json = boost::json;
using federation::DayDigest;
using federation::Settlement;
using settlement_internal::CheckOrder;
using settlement_internal::CollectWith;
using settlement_internal::FromBound;
using settlement_internal::Json;
using settlement_internal::kDay;
using settlement_internal::OurStatement;
using settlement_internal::ParseBound;
using settlement_internal::Period;
using settlement_internal::PutMoney;
using settlement_internal::ToBound;
using settlement_internal::Unavailable;
using Impl = SettlementService::Impl;

namespace {

constexpr size_t kDayFetchWidth = 4;        // days drilled into at once, per reconciliation
constexpr size_t kStatementFetchWidth = 8;  // centers asked at once, per netting

// ---- answers and records ---------------------------------------------------------------------

// A peer we depend on failed or answered nonsense.
HttpResponse BadGateway(std::string message) {
  return HttpResponse::Json(
      502, core::ErrorBody(core::Status(core::Code::kUnavailable, std::move(message))));
}

bool Between(const Settlement& s, std::string_view a, std::string_view b) {
  return (s.body.payee == a && s.body.payer == b) || (s.body.payee == b && s.body.payer == a);
}

// ---- peers -----------------------------------------------------------------------------------

// The JSON object a peer answered with 200, or why not (naming the peer).
core::Result<json::object> PeerJson(std::string_view peer, const core::Result<PeerResponse>& r) {
  const std::string who(peer);
  if (!r.ok()) {
    return core::Status(core::Code::kUnavailable, who + " unreachable: " + r.status().message());
  }
  if (!r->peer_center.empty() && r->peer_center != peer) {
    return core::Status(core::Code::kUnavailable, who + " answered as " + r->peer_center);
  }
  core::Result<json::object> body = core::ParseJsonObject(r->body);
  if (r->status != 200) {
    std::string message = who + " answered " + std::to_string(r->status);
    if (body.ok()) {
      if (const json::value* e = body->if_contains("error"); e && e->is_object()) {
        if (const json::value* m = e->as_object().if_contains("message"); m && m->is_string()) {
          message += ": " + std::string(m->as_string());
        }
      }
    }
    return core::Status(core::Code::kUnavailable, message);
  }
  if (!body.ok()) {
    return core::Status(core::Code::kUnavailable,
                        who + " answered malformed JSON: " + body.status().message());
  }
  return body;
}

// The array `field` of a peer's answer, each element read by `parse`.
template <typename T, typename Parse>
core::Result<std::vector<T>> PeerList(std::string_view peer, const json::object& o,
                                      std::string_view field, Parse parse) {
  const json::value* list = o.if_contains(field);
  if (list == nullptr || !list->is_array()) {
    return core::Status(core::Code::kUnavailable,
                        std::string(peer) + " answered without \"" + std::string(field) + "\"");
  }
  std::vector<T> out;
  for (const json::value& v : list->as_array()) {
    core::Result<T> item = parse(v);
    if (!item.ok()) {
      return core::Status(core::Code::kUnavailable, std::string(peer) + " answered a bad " +
                                                        std::string(field) +
                                                        " entry: " + item.status().ToString());
    }
    out.push_back(std::move(item).value());
  }
  return out;
}

// Runs start(i, done) for i in [0, n) with at most `width` in flight; `finish` after the
// last done(). done() may be called from any thread.
struct FanOut {
  std::mutex mu;
  size_t n = 0, next = 0, finished = 0;
  std::function<void(size_t, std::function<void()>)> start;
  std::function<void()> finish;

  static void Run(size_t n, size_t width, std::function<void(size_t, std::function<void()>)> start,
                  std::function<void()> finish) {
    if (n == 0) return finish();
    auto f = std::make_shared<FanOut>();
    f->n = n;
    f->start = std::move(start);
    f->finish = std::move(finish);
    for (size_t k = 0; k < std::min(n, width); ++k) Launch(f);
  }

  static void Launch(const std::shared_ptr<FanOut>& f) {
    size_t i = 0;
    {
      std::lock_guard lock(f->mu);
      if (f->next >= f->n) return;
      i = f->next++;
    }
    f->start(i, [f] {
      bool all = false;
      {
        std::lock_guard lock(f->mu);
        all = ++f->finished == f->n;
      }
      if (all) {
        f->finish();
      } else {
        Launch(f);
      }
    });
  }
};

// ---- the statement (netting) -----------------------------------------------------------------

// Whether a statement's bound (null or RFC 3339) is `want`.
bool SameBound(const json::value* got, const json::value& want) {
  if (got == nullptr) return false;
  if (want.is_null() || got->is_null()) return want.is_null() && got->is_null();
  if (!got->is_string()) return false;
  core::Result<core::Time> a = core::ParseRfc3339(got->as_string());
  core::Result<core::Time> b = core::ParseRfc3339(want.as_string());
  return a.ok() && b.ok() && *a == *b;
}

// A peer's statement, checked: signed by `center`'s certificate, about `center`, for `p`.
core::Result<federation::Statement> CheckedStatement(const Impl& impl, const std::string& center,
                                                     const Period& p,
                                                     const core::Result<PeerResponse>& answer) {
  EDWC_ASSIGN_OR_RETURN(json::object o, PeerJson(center, answer));
  const json::value* statement = o.if_contains("statement");
  const json::value* pem = o.if_contains("cert_pem");
  const json::value* signature = o.if_contains("signature");
  if (!statement || !statement->is_object() || !pem || !pem->is_string() || !signature ||
      !signature->is_string()) {
    return core::InvalidArgument("statement, cert_pem or signature missing");
  }
  std::optional<std::string> raw = federation::Base64Decode(signature->as_string());
  if (!raw) return core::InvalidArgument("signature is not base64");
  EDWC_RETURN_IF_ERROR(
      impl.CheckSignature(center, pem->as_string(), json::serialize(*statement), *raw)
          .WithContext("signature"));
  const json::object& s = statement->as_object();
  const json::value* who = s.if_contains("center");
  if (!who || !who->is_string() || who->as_string() != center) {
    return core::InvalidArgument("statement is another center's");
  }
  if (!SameBound(s.if_contains("from"), FromBound(p)) ||
      !SameBound(s.if_contains("to"), ToBound(p))) {
    return core::InvalidArgument("statement is for another period");
  }
  const json::value* net = s.if_contains("net");
  if (!net || !net->is_object()) return core::InvalidArgument("statement has no net");
  federation::Statement out;
  out.center = center;
  for (const auto& [counterparty, fen] : net->as_object()) {
    if (!fen.is_int64()) return core::InvalidArgument("net amounts must be integer fen");
    out.net[std::string(counterparty)] = core::Money::Fen(fen.as_int64());
  }
  return out;
}

// ---- POST /v1/reconcile/{peer} ---------------------------------------------------------------

struct Reconciliation {
  std::shared_ptr<Impl> impl;
  std::string peer, url;
  Period period;
  Respond respond;
  std::vector<Settlement> ours;  // between us and the peer, in the period
  std::vector<DayDigest> our_digests, their_digests;
  std::vector<std::string> differing;               // days to drill into
  std::vector<core::Result<PeerResponse>> answers;  // by index in `differing`
};
using ReconciliationPtr = std::shared_ptr<Reconciliation>;

// The records window of `day` inside the period.
Period DayWindow(const Reconciliation& r, const std::string& day) {
  Period w;
  const core::Time start = *federation::ChinaDayStart(day);
  w.from = std::max(r.period.from, start);
  w.to = std::min(r.period.to, start + kDay);
  return w;
}

HttpResponse ReconciliationAnswer(const Reconciliation& r) {
  const std::string& me = r.impl->config.center.id;
  std::map<std::string, std::pair<const DayDigest*, const DayDigest*>> days;
  for (const DayDigest& d : r.our_digests) days[d.day].first = &d;
  for (const DayDigest& d : r.their_digests) days[d.day].second = &d;
  bool matched = true;
  json::array day_list;
  for (const auto& [day, pair] : days) {
    const auto [ours, theirs] = pair;
    const bool match = ours && theirs && *ours == *theirs;
    matched = matched && match;
    day_list.push_back(json::object{
        {"day", day},
        {"ours", ours ? json::value(federation::ToJson(*ours)) : json::value(nullptr)},
        {"theirs", theirs ? json::value(federation::ToJson(*theirs)) : json::value(nullptr)},
        {"match", match}});
  }
  json::array discrepancies;
  std::map<std::string, int64_t> summary;
  for (const auto kind :
       {federation::DiscrepancyKind::kMissingHere, federation::DiscrepancyKind::kMissingThere,
        federation::DiscrepancyKind::kAmountMismatch, federation::DiscrepancyKind::kContentMismatch,
        federation::DiscrepancyKind::kDuplicate}) {
    summary[std::string(federation::DiscrepancyKindName(kind))] = 0;
  }
  for (size_t i = 0; i < r.differing.size(); ++i) {
    const std::string& day = r.differing[i];
    auto o = PeerJson(r.peer, r.answers[i]);
    if (!o.ok()) return BadGateway(o.status().message());
    auto theirs = PeerList<Settlement>(r.peer, *o, "records", [](const json::value& v) {
      return federation::SettlementFromJson(v);
    });
    if (!theirs.ok()) return BadGateway(theirs.status().message());
    const Period window = DayWindow(r, day);
    const auto in_day = [&](const Settlement& s) {
      return Between(s, me, r.peer) && window.Contains(s.body.period_end);
    };
    std::vector<Settlement> ours_today, theirs_today;
    std::copy_if(r.ours.begin(), r.ours.end(), std::back_inserter(ours_today), in_day);
    std::copy_if(theirs->begin(), theirs->end(), std::back_inserter(theirs_today), in_day);
    for (const federation::Discrepancy& d : federation::CompareRecords(ours_today, theirs_today)) {
      ++summary[std::string(federation::DiscrepancyKindName(d.kind))];
      discrepancies.push_back(federation::ToJson(d, me));
    }
  }
  matched = matched && discrepancies.empty();
  json::object sum;
  for (const auto& [name, n] : summary) sum[name] = n;
  return Json(200, json::object{{"peer", r.peer},
                                {"from", FromBound(r.period)},
                                {"to", ToBound(r.period)},
                                {"matched", matched},
                                {"days", std::move(day_list)},
                                {"discrepancies", std::move(discrepancies)},
                                {"summary", std::move(sum)}});
}

// Fetches the peer's records of each differing day, kDayFetchWidth at a time.
void DrillDown(const ReconciliationPtr& r) {
  r->answers.assign(r->differing.size(), core::Status(core::Code::kUnavailable, "not asked"));
  FanOut::Run(
      r->differing.size(), kDayFetchWidth,
      [r](size_t i, std::function<void()> done) {
        const std::string target = "/peer/v1/ledger/records" +
                                   settlement_internal::PeriodQuery(DayWindow(*r, r->differing[i]));
        r->impl->peers->Get(r->url, target, /*idempotent=*/true,
                            [r, i, done = std::move(done)](core::Result<PeerResponse> answer) {
                              r->answers[i] = std::move(answer);
                              done();
                            });
      },
      [r] { r->impl->OffThread(r->respond, [r] { return ReconciliationAnswer(*r); }); });
}

// On a worker: our side of the period, compared day by day with the peer's digests.
void CompareDigests(const ReconciliationPtr& r, const core::Result<PeerResponse>& answer) {
  auto o = PeerJson(r->peer, answer);
  if (!o.ok()) return r->respond(BadGateway(o.status().message()));
  auto theirs = PeerList<DayDigest>(r->peer, *o, "digests", [](const json::value& v) {
    return federation::DayDigestFromJson(v);
  });
  if (!theirs.ok()) return r->respond(BadGateway(theirs.status().message()));
  r->their_digests = std::move(theirs).value();
  auto ours = CollectWith(*r->impl, r->peer, r->period);
  if (!ours.ok()) return r->respond(HttpResponse::Error(ours.status()));
  r->ours = std::move(ours).value();
  r->our_digests = federation::DigestByDay(r->ours);
  std::map<std::string, std::pair<const DayDigest*, const DayDigest*>> days;
  for (const DayDigest& d : r->our_digests) days[d.day].first = &d;
  for (const DayDigest& d : r->their_digests) days[d.day].second = &d;
  for (const auto& [day, pair] : days) {
    if (!pair.first || !pair.second || !(*pair.first == *pair.second)) r->differing.push_back(day);
  }
  DrillDown(r);
}

core::Result<Period> ReconcilePeriod(const HttpRequest& req) {
  EDWC_ASSIGN_OR_RETURN(Period p, settlement_internal::PeriodFromQuery(req));
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) return p;
  EDWC_ASSIGN_OR_RETURN(json::object body, core::ParseJsonObject(req.body));
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(body, {"from", "to"}));
  for (auto [name, out] : {std::pair{"from", &p.from}, {"to", &p.to}}) {
    EDWC_ASSIGN_OR_RETURN(std::optional<std::string> text, core::GetOptionalString(body, name));
    if (text) {
      EDWC_ASSIGN_OR_RETURN(*out, ParseBound(*text, name));
    }
  }
  EDWC_RETURN_IF_ERROR(CheckOrder(p));
  return p;
}

}  // namespace

void settlement_internal::Reconcile(Impl& impl, HttpRequest& req, const RouteContext& ctx,
                                    Respond respond) {
  auto r = std::make_shared<Reconciliation>();
  r->impl = impl.shared_from_this();
  r->peer = std::string(ctx.Param("peer"));
  r->respond = std::move(respond);
  if (r->peer == impl.config.center.id) {
    return r->respond(HttpResponse::Error(core::InvalidArgument("is this center", "peer")));
  }
  core::Result<Period> p = ReconcilePeriod(req);
  if (!p.ok()) return r->respond(HttpResponse::Error(p.status()));
  r->period = *p;
  r->url = impl.PeerUrlOf(r->peer);
  if (r->url.empty()) {
    return r->respond(HttpResponse::Error(
        core::NotFound("no center '" + r->peer + "' in the federation", "peer")));
  }
  impl.peers->Get(r->url, "/peer/v1/ledger/digests" + settlement_internal::PeriodQuery(r->period),
                  /*idempotent=*/true, [r](core::Result<PeerResponse> answer) {
                    auto shared = std::make_shared<core::Result<PeerResponse>>(std::move(answer));
                    if (!r->impl->readers->Post([r, shared] { CompareDigests(r, *shared); })) {
                      r->respond(Unavailable("shutting down"));
                    }
                  });
}

// ---- GET /v1/netting -------------------------------------------------------------------------

namespace {

struct NettingRound {
  std::shared_ptr<Impl> impl;
  Period period;
  Respond respond;
  std::vector<std::string> centers, urls;           // the others with a URL
  std::vector<core::Result<PeerResponse>> answers;  // by index in `centers`
  std::vector<std::string> unreachable;
};

HttpResponse NettingAnswer(NettingRound& n) {
  auto ours = OurStatement(*n.impl, n.period);
  if (!ours.ok()) return HttpResponse::Error(ours.status());
  std::vector<federation::Statement> statements{*ours};
  for (size_t i = 0; i < n.centers.size(); ++i) {
    auto st = CheckedStatement(*n.impl, n.centers[i], n.period, n.answers[i]);
    if (st.ok()) {
      statements.push_back(std::move(st).value());
    } else {
      n.unreachable.push_back(n.centers[i] + ": " + st.status().message());
    }
  }
  auto netting = federation::Net(statements);
  if (!netting.ok()) {
    return HttpResponse::Error(
        core::Status(core::Code::kInternal, "netting: " + netting.status().ToString()));
  }
  std::set<std::string> reported;
  for (const federation::Statement& s : statements) reported.insert(s.center);
  std::map<std::string, core::Money> positions = netting->positions;
  for (const std::string& c : reported) positions.try_emplace(c);
  json::array centers;
  core::Money sum;
  for (const auto& [center, position] : positions) {
    json::object o{{"center", center}, {"reported", reported.count(center) > 0}};
    PutMoney(o, "position", position);
    centers.push_back(std::move(o));
    sum = sum.SaturatingAdd(position);
  }
  json::array payments;
  for (const federation::Payment& pay : netting->payments) {
    json::object o{{"from", pay.from}, {"to", pay.to}};
    PutMoney(o, "amount", pay.amount);
    payments.push_back(std::move(o));
  }
  json::array disagreements(netting->disagreements.begin(), netting->disagreements.end());
  json::array unreachable(n.unreachable.begin(), n.unreachable.end());
  return Json(200, json::object{{"from", FromBound(n.period)},
                                {"to", ToBound(n.period)},
                                {"centers", std::move(centers)},
                                {"sum_fen", sum.fen()},
                                {"payments", std::move(payments)},
                                {"disagreements", std::move(disagreements)},
                                {"unreachable", std::move(unreachable)}});
}

}  // namespace

void settlement_internal::Netting(Impl& impl, HttpRequest& req, const RouteContext&,
                                  Respond respond) {
  core::Result<Period> p = settlement_internal::PeriodFromQuery(req);
  if (!p.ok()) return respond(HttpResponse::Error(p.status()));
  auto n = std::make_shared<NettingRound>();
  n->impl = impl.shared_from_this();
  n->period = *p;
  n->respond = std::move(respond);
  std::set<std::string> seen{impl.config.center.id};  // ours is built locally
  for (const std::string& center : impl.LiveCenters()) {
    if (!seen.insert(center).second) continue;
    std::string url = impl.PeerUrlOf(center);
    if (url.empty()) {
      n->unreachable.push_back(center + ": no peer URL known");
      continue;
    }
    n->centers.push_back(center);
    n->urls.push_back(std::move(url));
  }
  n->answers.assign(n->centers.size(), core::Status(core::Code::kUnavailable, "not asked"));
  const std::string target = "/peer/v1/statement" + settlement_internal::PeriodQuery(n->period);
  FanOut::Run(
      n->centers.size(), kStatementFetchWidth,
      [n, target](size_t i, std::function<void()> done) {
        n->impl->peers->Get(n->urls[i], target, /*idempotent=*/true,
                            [n, i, done = std::move(done)](core::Result<PeerResponse> answer) {
                              n->answers[i] = std::move(answer);
                              done();
                            });
      },
      [n] { n->impl->OffThread(n->respond, [n] { return NettingAnswer(*n); }); });
}

}  // namespace edwc::gateway
