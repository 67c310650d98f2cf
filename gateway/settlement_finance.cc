// The reading half of the settlement service (settlement_service_impl.h): the finance API
// on the api listener and the three read routes on the peer listener.
//
// Threads: handlers run on I/O threads and only parse their request there. Every ledger
// read goes to a reader worker (OffThread, or readers->Post where more peer calls follow);
// peer answers arrive on I/O threads and are handed to a worker before the ledger is read.
// Calls to peers are bounded (kDayFetchWidth, kStatementFetchWidth in flight per request).
#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ids.h"
#include "core/json.h"
#include "core/money.h"
#include "core/status.h"
#include "core/time.h"
#include "federation/advert.h"
#include "federation/settlement.h"
#include "gateway/http_types.h"
#include "gateway/ledger.h"
#include "gateway/peer_client.h"
#include "gateway/router.h"
#include "gateway/settlement_service_impl.h"
#include "gateway/worker_pool.h"

namespace edwc::gateway {

namespace json = boost::json;
using federation::DayDigest;
using federation::Settlement;
using federation::SettlementKind;
using federation::SettlementState;
using settlement_internal::Json;
using settlement_internal::Period;
using Impl = SettlementService::Impl;

namespace {

constexpr size_t kDefaultPage = 100;
constexpr size_t kMaxPage = 1000;
constexpr size_t kDayFetchWidth = 4;        // days drilled into at once, per reconciliation
constexpr size_t kStatementFetchWidth = 8;  // centers asked at once, per netting
constexpr std::string_view kCsv = "text/csv; charset=utf-8";
constexpr core::Duration kDay = std::chrono::hours(24);  // China has no DST

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

// A period bound: a China date "YYYY-MM-DD" (its 00:00 UTC+8) or an RFC 3339 time.
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

// ---- answers ---------------------------------------------------------------------------------

HttpResponse Unavailable(std::string why) {
  return HttpResponse::Error(core::Status(core::Code::kUnavailable, std::move(why)));
}

HttpResponse NotOpen() { return Unavailable("not ready: the ledger is still opening"); }

// A peer we depend on failed or answered nonsense.
HttpResponse BadGateway(std::string message) {
  return HttpResponse::Json(
      502, core::ErrorBody(core::Status(core::Code::kUnavailable, std::move(message))));
}

HttpResponse Csv(std::string body) {
  HttpResponse r;
  r.content_type = std::string(kCsv);
  r.body = std::move(body);
  return r;
}

void PutMoney(json::object& o, std::string_view name, core::Money m) {
  o[std::string(name) + "_fen"] = m.fen();
  o[std::string(name) + "_cny"] = m.ToYuanString();
}

// RFC 3339, or null for an unbounded end.
json::value FromBound(const Period& p) {
  return p.from == Period().from ? json::value(nullptr) : json::value(core::FormatRfc3339(p.from));
}
json::value ToBound(const Period& p) {
  return p.to == Period().to ? json::value(nullptr) : json::value(core::FormatRfc3339(p.to));
}

// ---- records ---------------------------------------------------------------------------------

bool Between(const Settlement& s, std::string_view a, std::string_view b) {
  return (s.body.payee == a && s.body.payer == b) || (s.body.payee == b && s.body.payer == a);
}

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

// Records between self and `other` with period_end in `p`: the two chains of the pair.
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

// Our net position per counterparty over agreed records of `p`. Blocking.
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

json::object StatementJson(const federation::Statement& st, const Period& p) {
  json::object net;
  for (const auto& [counterparty, fen] : st.net) net[counterparty] = fen.fen();
  return json::object{
      {"center", st.center}, {"from", FromBound(p)}, {"to", ToBound(p)}, {"net", std::move(net)}};
}

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
  auto reports = impl.ledger->Verify([&](std::string_view center, std::string_view pem,
                                         std::string_view bytes, std::string_view signature) {
    return impl.CheckSignature(center, pem, bytes, signature);
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

void Reconcile(Impl& impl, HttpRequest& req, const RouteContext& ctx, Respond respond) {
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

void Netting(Impl& impl, HttpRequest& req, const RouteContext&, Respond respond) {
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

// GET /peer/v1/statement, on a worker: the same for every caller.
HttpResponse StatementAnswer(const Impl& impl, const std::string&, const Period& p) {
  auto st = OurStatement(impl, p);
  if (!st.ok()) return HttpResponse::Error(st.status());
  json::object statement = StatementJson(*st, p);
  auto signature = impl.signer->Sign(json::serialize(statement));
  if (!signature.ok()) return HttpResponse::Error(signature.status());
  return Json(200, json::object{{"statement", std::move(statement)},
                                {"cert_pem", impl.signer->certificate_pem()},
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
