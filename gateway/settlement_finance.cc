// The reading half of the settlement service (settlement_service_impl.h): the finance API
// on the api listener and the three read routes on the peer listener. Reconciliation and
// netting, which call peers, are in settlement_reconcile.cc.
//
// Threads: handlers run on I/O threads and only parse their request there. Every ledger
// read goes to a reader worker (OffThread).
#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ids.h"
#include "core/money.h"
#include "core/status.h"
#include "core/time.h"
#include "federation/advert.h"
#include "federation/settlement.h"
#include "gateway/http_types.h"
#include "gateway/ledger.h"
#include "gateway/router.h"
#include "gateway/settlement_service_impl.h"
#include "gateway/worker_pool.h"

namespace edwc::gateway {

namespace json = boost::json;
using federation::DayDigest;
using federation::Settlement;
using federation::SettlementKind;
using federation::SettlementState;
using settlement_internal::CheckOrder;
using settlement_internal::CollectWith;
using settlement_internal::FromBound;
using settlement_internal::Json;
using settlement_internal::kDay;
using settlement_internal::Netting;
using settlement_internal::OurStatement;
using settlement_internal::ParseBound;
using settlement_internal::Period;
using settlement_internal::PutMoney;
using settlement_internal::Reconcile;
using settlement_internal::ToBound;
using settlement_internal::Unavailable;
using Impl = SettlementService::Impl;

namespace {

constexpr size_t kDefaultPage = 100;
constexpr size_t kMaxPage = 1000;
constexpr std::string_view kCsv = "text/csv; charset=utf-8";

// ---- requests --------------------------------------------------------------------------------

// %XX escapes decoded; '+' stays itself (RFC 3339 offsets use it). nullopt on a bad escape.
std::optional<std::string> PercentDecode(std::string_view text) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = hex(text[i + 1]);
    const int lo = hex(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// A query parameter, decoded; nullopt when absent or empty.
core::Result<std::optional<std::string>> Query(const HttpRequest& req, std::string_view name) {
  std::string raw;
  if (!req.QueryParam(name, &raw) || raw.empty()) return std::optional<std::string>();
  std::optional<std::string> value = PercentDecode(raw);
  if (!value) return core::InvalidArgument("bad percent-encoding", std::string(name));
  return value;
}

// ---- answers ---------------------------------------------------------------------------------

HttpResponse NotOpen() { return Unavailable("not ready: the ledger is still opening"); }

HttpResponse Csv(std::string body) {
  HttpResponse r;
  r.content_type = std::string(kCsv);
  r.body = std::move(body);
  return r;
}

// ---- records ---------------------------------------------------------------------------------

std::string_view Counterparty(const Settlement& s, std::string_view self) {
  return s.body.payee == self ? s.body.payer : s.body.payee;
}

// The records `keep` accepts, in ledger order. Blocking: call on a worker.
core::Result<std::vector<Settlement>> Collect(const Ledger& ledger,
                                              const std::function<bool(const Settlement&)>& keep) {
  std::vector<Settlement> out;
  EDWC_RETURN_IF_ERROR(ledger.ForEach([&](const Settlement& s) {
    if (keep(s)) out.push_back(s);
    return true;
  }));
  return out;
}

// The record's ledger key after "e/": "<payee>/<payer>/<seq, 20 digits>"; byte order of
// these strings is ForEach order.
std::string ChainKey(std::string_view payee, std::string_view payer, uint64_t seq) {
  char digits[24];
  std::snprintf(digits, sizeof(digits), "%020llu", static_cast<unsigned long long>(seq));
  std::string key(payee);
  key += '/';
  key += payer;
  key += '/';
  key += digits;
  return key;
}

// Cursors are "<payee>/<payer>/<seq>" of the last record of a page (center ids hold no '/').
std::string CursorOf(const Settlement& s) {
  return s.body.payee + "/" + s.body.payer + "/" + std::to_string(s.body.seq);
}

core::Result<std::string> CursorKey(std::string_view cursor) {
  const core::Status bad = core::InvalidArgument("not a cursor from a previous page", "after");
  const size_t a = cursor.find('/');
  const size_t b = a == std::string_view::npos ? a : cursor.find('/', a + 1);
  if (b == std::string_view::npos) return bad;
  const std::string_view payee = cursor.substr(0, a);
  const std::string_view payer = cursor.substr(a + 1, b - a - 1);
  const std::string_view digits = cursor.substr(b + 1);
  if (!core::IsValidCenterId(payee) || !core::IsValidCenterId(payer) || digits.empty() ||
      digits.size() > 20) {
    return bad;
  }
  uint64_t seq = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return bad;
    if (seq > (UINT64_MAX - 9) / 10) return bad;
    seq = seq * 10 + static_cast<uint64_t>(c - '0');
  }
  return ChainKey(payee, payer, seq);
}

// ---- finance routes --------------------------------------------------------------------------

struct ListFilter {
  std::optional<std::string> peer;
  std::optional<SettlementKind> kind;
  std::optional<SettlementState> state;
  std::optional<bool> receivable;
  Period period;
  std::string after;  // chain key; empty: from the start
  size_t limit = kDefaultPage;
  bool csv = false;

  bool Matches(const Settlement& s, std::string_view self) const {
    if (peer && Counterparty(s, self) != *peer) return false;
    if (kind && s.body.kind != *kind) return false;
    if (state && s.state != *state) return false;
    if (receivable && (s.body.payee == self) != *receivable) return false;
    return period.Contains(s.body.period_end);
  }
};

core::Result<bool> CsvFormat(const HttpRequest& req) {
  EDWC_ASSIGN_OR_RETURN(std::optional<std::string> format, Query(req, "format"));
  if (!format || *format == "json") return false;
  if (*format == "csv") return true;
  return core::InvalidArgument("one of json, csv", "format");
}

core::Result<ListFilter> ParseListFilter(const HttpRequest& req) {
  ListFilter f;
  EDWC_ASSIGN_OR_RETURN(f.period, settlement_internal::PeriodFromQuery(req));
  EDWC_ASSIGN_OR_RETURN(f.peer, Query(req, "peer"));
  EDWC_ASSIGN_OR_RETURN(std::optional<std::string> kind, Query(req, "kind"));
  if (kind) {
    f.kind = federation::SettlementKindFromName(*kind);
    if (!f.kind) return core::InvalidArgument("one of compute, egress", "kind");
  }
  EDWC_ASSIGN_OR_RETURN(std::optional<std::string> state, Query(req, "state"));
  if (state) {
    f.state = federation::SettlementStateFromName(*state);
    if (!f.state) return core::InvalidArgument("one of offered, agreed, disputed", "state");
  }
  EDWC_ASSIGN_OR_RETURN(std::optional<std::string> direction, Query(req, "direction"));
  if (direction) {
    if (*direction != "receivable" && *direction != "payable") {
      return core::InvalidArgument("one of receivable, payable", "direction");
    }
    f.receivable = *direction == "receivable";
  }
  EDWC_ASSIGN_OR_RETURN(std::optional<std::string> after, Query(req, "after"));
  if (after) {
    EDWC_ASSIGN_OR_RETURN(f.after, CursorKey(*after));
  }
  EDWC_ASSIGN_OR_RETURN(std::optional<std::string> limit, Query(req, "limit"));
  if (limit) {
    const core::Status bad = core::InvalidArgument("an integer 1..1000", "limit");
    if (limit->size() > 4) return bad;
    size_t n = 0;
    for (char c : *limit) {
      if (c < '0' || c > '9') return bad;
      n = n * 10 + static_cast<size_t>(c - '0');
    }
    if (n < 1 || n > kMaxPage) return bad;
    f.limit = n;
  }
  EDWC_ASSIGN_OR_RETURN(f.csv, CsvFormat(req));
  return f;
}

// One page of GET /v1/settlements, from just after the cursor. Blocking.
HttpResponse ListPage(const Impl& impl, const ListFilter& f) {
  const std::string& me = impl.config.center.id;
  std::vector<Settlement> page;
  bool more = false;
  core::Status st = impl.ledger->ForEach(
      [&](const Settlement& s) {
        if (!f.Matches(s, me)) return true;
        if (page.size() == f.limit) {
          more = true;
          return false;
        }
        page.push_back(s);
        return true;
      },
      f.after);
  if (!st.ok()) return HttpResponse::Error(st);
  const std::string next = more ? CursorOf(page.back()) : "";
  if (f.csv) {
    HttpResponse r = Csv(federation::SettlementsCsv(page, me));
    if (more) r.headers.emplace_back("X-Next-Cursor", next);
    return r;
  }
  json::array views;
  for (const Settlement& s : page) views.push_back(federation::ToView(s, me));
  json::object out{{"settlements", std::move(views)}};
  if (more) out["next"] = next;
  return Json(200, out);
}

// GET /v1/settlements
void ListSettlements(Impl& impl, HttpRequest& req, const RouteContext&, Respond respond) {
  core::Result<ListFilter> f = ParseListFilter(req);
  if (!f.ok()) return respond(HttpResponse::Error(f.status()));
  impl.OffThread(std::move(respond),
                 [self = impl.shared_from_this(), filter = *f] { return ListPage(*self, filter); });
}

// GET /v1/settlements/{id}; ids hold '/', so clients send it percent-encoded.
void ShowSettlement(Impl& impl, HttpRequest&, const RouteContext& ctx, Respond respond) {
  std::optional<std::string> id = PercentDecode(ctx.Param("id"));
  if (!id) return respond(HttpResponse::Error(core::InvalidArgument("bad percent-encoding", "id")));
  impl.OffThread(std::move(respond), [self = impl.shared_from_this(), id = *id]() -> HttpResponse {
    auto found = self->ledger->Get(id);
    if (!found.ok()) return HttpResponse::Error(found.status());
    if (!found->has_value()) {
      return HttpResponse::Error(core::NotFound("no settlement '" + id + "'", "id"));
    }
    const Settlement& s = **found;
    return Json(200, json::object{{"settlement", federation::ToView(s, self->config.center.id)},
                                  {"record", federation::ToJson(s)}});
  });
}

// GET /v1/balances, on a worker.
HttpResponse BalancesAnswer(const Impl& impl, const Period& p) {
  const std::string& me = impl.config.center.id;
  auto records =
      Collect(*impl.ledger, [&](const Settlement& s) { return p.Contains(s.body.period_end); });
  if (!records.ok()) return HttpResponse::Error(records.status());
  auto balances = federation::Balances(*records, me);
  if (!balances.ok()) return HttpResponse::Error(balances.status());
  json::array list;
  core::Money receivable, payable;
  for (const auto& [counterparty, b] : *balances) {
    json::object o{{"counterparty", counterparty}};
    PutMoney(o, "receivable", b.receivable);
    PutMoney(o, "payable", b.payable);
    PutMoney(o, "net", b.net);
    o["disputed_receivable_fen"] = b.disputed_receivable.fen();
    o["disputed_payable_fen"] = b.disputed_payable.fen();
    o["pending_receivable_fen"] = b.pending_receivable.fen();
    o["agreed"] = b.agreed;
    o["disputed"] = b.disputed;
    o["pending"] = b.pending;
    list.push_back(std::move(o));
    auto r = receivable.Add(b.receivable);
    auto q = payable.Add(b.payable);
    if (!r.ok() || !q.ok()) return HttpResponse::Error(r.ok() ? q.status() : r.status());
    receivable = *r;
    payable = *q;
  }
  auto net = receivable.Sub(payable);
  if (!net.ok()) return HttpResponse::Error(net.status());
  json::object total;
  PutMoney(total, "receivable", receivable);
  PutMoney(total, "payable", payable);
  PutMoney(total, "net", *net);
  return Json(200, json::object{{"self", me}, {"balances", std::move(list)}, {"total", total}});
}

// GET /v1/balances
void ShowBalances(Impl& impl, HttpRequest& req, const RouteContext&, Respond respond) {
  core::Result<Period> p = settlement_internal::PeriodFromQuery(req);
  if (!p.ok()) return respond(HttpResponse::Error(p.status()));
  impl.OffThread(std::move(respond),
                 [self = impl.shared_from_this(), p = *p] { return BalancesAnswer(*self, p); });
}

// GET /v1/ledger/verify, on a worker.
HttpResponse VerifyAnswer(const Impl& impl) {
  auto reports =
      impl.ledger->Verify([&](std::string_view center, std::string_view pem, std::string_view bytes,
                              std::string_view signature, core::Time at) {
        return impl.verifier->VerifySignature(center, pem, bytes, signature, at);
      });
  if (!reports.ok()) return HttpResponse::Error(reports.status());
  bool all_ok = true;
  json::array chains;
  for (const Ledger::ChainReport& c : *reports) {
    json::object o{{"payee", c.payee},
                   {"payer", c.payer},
                   {"records", c.records},
                   {"head_hash", c.head_hash},
                   {"ok", !c.first_break.has_value()}};
    if (c.first_break) {
      all_ok = false;
      o["break"] = json::object{{"seq", c.first_break->seq}, {"problem", c.first_break->problem}};
    }
    chains.push_back(std::move(o));
  }
  return Json(200, json::object{{"ok", all_ok}, {"chains", std::move(chains)}});
}

// GET /v1/ledger/verify
void VerifyLedger(Impl& impl, HttpRequest&, const RouteContext&, Respond respond) {
  impl.OffThread(std::move(respond),
                 [self = impl.shared_from_this()] { return VerifyAnswer(*self); });
}

// The invoice of self with `peer` over `p`. An open end of the period becomes the China day
// of the first (last) record, so the invoice states real dates. Blocking.
HttpResponse InvoiceAnswer(const Impl& impl, const std::string& peer, const Period& p, bool csv) {
  auto records = CollectWith(impl, peer, p);
  if (!records.ok()) return HttpResponse::Error(records.status());
  core::Time first = impl.clock->Now(), last = first;
  if (!records->empty()) {
    first = last = records->front().body.period_end;
    for (const Settlement& s : *records) {
      first = std::min(first, s.body.period_end);
      last = std::max(last, s.body.period_end);
    }
  }
  core::Time from = p.from, to = p.to;
  if (from == Period().from) from = *federation::ChinaDayStart(federation::ChinaDay(first));
  if (to == Period().to) {
    to = std::max(from, *federation::ChinaDayStart(federation::ChinaDay(last)) + kDay);
  }
  from = std::min(from, to);
  auto invoice = federation::MakeInvoice(*records, impl.config.center.id, peer, from, to);
  if (!invoice.ok()) return HttpResponse::Error(invoice.status());
  if (csv) return Csv(federation::InvoiceCsv(*invoice));
  return Json(200, federation::ToJson(*invoice));
}

// GET /v1/statements/{peer}
void Invoice(Impl& impl, HttpRequest& req, const RouteContext& ctx, Respond respond) {
  const std::string peer(ctx.Param("peer"));
  if (!core::IsValidCenterId(peer)) {
    return respond(HttpResponse::Error(core::InvalidArgument("not a center id", "peer")));
  }
  core::Result<Period> p = settlement_internal::PeriodFromQuery(req);
  if (!p.ok()) return respond(HttpResponse::Error(p.status()));
  core::Result<bool> csv = CsvFormat(req);
  if (!csv.ok()) return respond(HttpResponse::Error(csv.status()));
  impl.OffThread(std::move(respond), [self = impl.shared_from_this(), peer, p = *p, csv = *csv] {
    return InvoiceAnswer(*self, peer, p, csv);
  });
}

// ---- peer read routes (the caller sees only records between it and us) -----------------------

// GET /peer/v1/ledger/digests, on a worker.
HttpResponse DigestsAnswer(const Impl& impl, const std::string& caller, const Period& p) {
  auto records = CollectWith(impl, caller, p);
  if (!records.ok()) return HttpResponse::Error(records.status());
  json::array digests;
  for (const DayDigest& d : federation::DigestByDay(*records)) {
    digests.push_back(federation::ToJson(d));
  }
  return Json(200, json::object{{"center", impl.config.center.id}, {"digests", digests}});
}

// GET /peer/v1/ledger/records, on a worker.
HttpResponse RecordsAnswer(const Impl& impl, const std::string& caller, const Period& p) {
  auto records = CollectWith(impl, caller, p);
  if (!records.ok()) return HttpResponse::Error(records.status());
  json::array list;
  for (const Settlement& s : *records) list.push_back(federation::ToJson(s));
  return Json(200, json::object{{"center", impl.config.center.id}, {"records", list}});
}

json::object StatementJson(const federation::Statement& st, const Period& p) {
  json::object net;
  for (const auto& [counterparty, fen] : st.net) net[counterparty] = fen.fen();
  return json::object{
      {"center", st.center}, {"from", FromBound(p)}, {"to", ToBound(p)}, {"net", std::move(net)}};
}

// GET /peer/v1/statement, on a worker: the same for every caller.
HttpResponse StatementAnswer(const Impl& impl, const std::string&, const Period& p) {
  auto st = OurStatement(impl, p);
  if (!st.ok()) return HttpResponse::Error(st.status());
  json::object statement = StatementJson(*st, p);
  const auto signing = impl.ledger->signing();  // one signer for signature and certificate
  auto signature = signing->signer->Sign(json::serialize(statement));
  if (!signature.ok()) return HttpResponse::Error(signature.status());
  return Json(200, json::object{{"statement", std::move(statement)},
                                {"cert_pem", signing->signer->certificate_pem()},
                                {"signature", federation::Base64Encode(*signature)}});
}

using PeerAnswer = HttpResponse (*)(const Impl&, const std::string& caller, const Period&);

// A peer read route: the period, then `answer` on a worker.
template <PeerAnswer answer>
void PeerRead(Impl& impl, HttpRequest& req, const RouteContext&, Respond respond) {
  core::Result<Period> p = settlement_internal::PeriodFromQuery(req);
  if (!p.ok()) return respond(HttpResponse::Error(p.status()));
  impl.OffThread(std::move(respond), [self = impl.shared_from_this(), caller = req.peer_center,
                                      p = *p] { return answer(*self, caller, p); });
}

}  // namespace

// ---- settlement_internal ---------------------------------------------------------------------

namespace settlement_internal {

core::Result<core::Time> ParseBound(std::string_view text, std::string_view field) {
  const std::string name(field);
  if (text.size() == 10) {
    core::Result<core::Time> day = federation::ChinaDayStart(text);
    if (!day.ok())
      return core::InvalidArgument("must be a date YYYY-MM-DD or an RFC 3339 time", name);
    return day;
  }
  core::Result<core::Time> t = core::ParseRfc3339(text);
  if (!t.ok()) return core::InvalidArgument(t.status().message(), name);
  return t;
}

core::Status CheckOrder(const Period& p) {
  if (p.to <= p.from) return core::InvalidArgument("must be after from", "to");
  return core::Status::Ok();
}

core::Result<Period> PeriodFromQuery(const HttpRequest& req) {
  Period p;
  for (auto [name, out] : {std::pair{"from", &p.from}, {"to", &p.to}}) {
    EDWC_ASSIGN_OR_RETURN(std::optional<std::string> text, Query(req, name));
    if (text) {
      EDWC_ASSIGN_OR_RETURN(*out, ParseBound(*text, name));
    }
  }
  EDWC_RETURN_IF_ERROR(CheckOrder(p));
  return p;
}

std::string PeriodQuery(const Period& p) {
  std::string q;
  if (p.from != Period().from) q += "from=" + core::FormatRfc3339(p.from);
  if (p.to != Period().to) q += (q.empty() ? "to=" : "&to=") + core::FormatRfc3339(p.to);
  return q.empty() ? q : "?" + q;
}

HttpResponse Json(int status, const json::value& body) {
  return HttpResponse::Json(status, json::serialize(body));
}

HttpResponse Unavailable(std::string why) {
  return HttpResponse::Error(core::Status(core::Code::kUnavailable, std::move(why)));
}

void PutMoney(json::object& o, std::string_view name, core::Money m) {
  o[std::string(name) + "_fen"] = m.fen();
  o[std::string(name) + "_cny"] = m.ToYuanString();
}

json::value FromBound(const Period& p) {
  return p.from == Period().from ? json::value(nullptr) : json::value(core::FormatRfc3339(p.from));
}
json::value ToBound(const Period& p) {
  return p.to == Period().to ? json::value(nullptr) : json::value(core::FormatRfc3339(p.to));
}

core::Result<std::vector<Settlement>> CollectWith(const Impl& impl, std::string_view other,
                                                  const Period& p) {
  const std::string& self = impl.config.center.id;
  std::vector<Settlement> out;
  auto keep = [&](const Settlement& s) {
    if (p.Contains(s.body.period_end)) out.push_back(s);
    return true;
  };
  EDWC_RETURN_IF_ERROR(impl.ledger->ForEachIn(self, other, keep));
  EDWC_RETURN_IF_ERROR(impl.ledger->ForEachIn(other, self, keep));
  return out;
}

core::Result<federation::Statement> OurStatement(const Impl& impl, const Period& p) {
  EDWC_ASSIGN_OR_RETURN(
      std::vector<Settlement> records,
      Collect(*impl.ledger, [&](const Settlement& s) { return p.Contains(s.body.period_end); }));
  EDWC_ASSIGN_OR_RETURN(auto balances, federation::Balances(records, impl.config.center.id));
  federation::Statement st;
  st.center = impl.config.center.id;
  for (const auto& [counterparty, b] : balances) st.net[counterparty] = b.net;
  return st;
}

}  // namespace settlement_internal

// ---- routes ----------------------------------------------------------------------------------

void SettlementService::Impl::RegisterFinanceRoutes(Router& api, Router& peer) {
  using Route = void (*)(Impl&, HttpRequest&, const RouteContext&, Respond);
  const Access finance = Access::Roles({config::Role::kFinance});
  const auto add_api = [&](std::string_view method, std::string_view pattern, Route route) {
    api.Add(method, pattern, finance,
            [this, route](HttpRequest& req, const RouteContext& ctx, Respond respond) {
              if (!open) return respond(NotOpen());
              route(*this, req, ctx, std::move(respond));
            });
  };
  const auto add_peer = [&](std::string_view pattern, Route route) {
    peer.Add("GET", pattern, Access::Public(),
             [this, route](HttpRequest& req, const RouteContext& ctx, Respond respond) {
               if (!open) return respond(NotOpen());
               if (req.peer_center.empty()) {
                 return respond(HttpResponse::Error(
                     core::Status(core::Code::kPermissionDenied,
                                  "a client certificate naming a center is required")));
               }
               route(*this, req, ctx, std::move(respond));
             });
  };
  add_api("GET", "/v1/settlements", ListSettlements);
  add_api("GET", "/v1/settlements/{id}", ShowSettlement);
  add_api("GET", "/v1/balances", ShowBalances);
  add_api("GET", "/v1/ledger/verify", VerifyLedger);
  add_api("POST", "/v1/reconcile/{peer}", Reconcile);
  add_api("GET", "/v1/netting", Netting);
  add_api("GET", "/v1/statements/{peer}", Invoice);
  add_peer("/peer/v1/ledger/digests", PeerRead<DigestsAnswer>);
  add_peer("/peer/v1/ledger/records", PeerRead<RecordsAnswer>);
  add_peer("/peer/v1/statement", PeerRead<StatementAnswer>);
}

}  // namespace edwc::gateway
