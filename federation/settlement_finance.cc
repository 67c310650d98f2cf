// The finance and export half of federation/settlement.h: balances, day digests and record
// comparison for reconciliation, netting, CSV export and invoices.
#include "federation/settlement.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/money.h"
#include "core/status.h"
#include "core/time.h"
#include "federation/settlement_internal.h"
#include "storage/dataset_store.h"

namespace edwc::federation {

namespace json = boost::json;
using settlement_internal::Counterparty;
using settlement_internal::Direction;
using settlement_internal::FitsInt64;
using settlement_internal::Fixed;

namespace {

core::Status OutOfRange(std::string_view what) {
  return core::InvalidArgument(std::string(what) + ": amount out of range");
}

// RFC 4180: quoted when it holds a comma, a quote or a line break; quotes doubled.
std::string CsvField(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string CsvLine(const std::vector<std::string>& fields) {
  std::string out;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += CsvField(fields[i]);
  }
  return out + "\r\n";
}

std::string Signed(core::Int128 v) {
  const int64_t n = static_cast<int64_t>(v);  // statements hold int64 figures
  return n > 0 ? "+" + std::to_string(n) : std::to_string(n);
}

// Settles `members` (indices into `amounts`, which sum to 0 over them) greedily: the
// largest debtor pays the largest creditor (ties by index, i.e. center id) until all are
// zero. Each payment zeroes at least one member and the last zeroes two: size-1 payments.
void SettleGreedily(const std::vector<std::string>& names, std::vector<int64_t> amounts,
                    const std::vector<size_t>& members, std::vector<Payment>* out) {
  for (;;) {
    size_t creditor = SIZE_MAX;
    size_t debtor = SIZE_MAX;
    for (size_t i : members) {
      if (amounts[i] > 0 && (creditor == SIZE_MAX || amounts[i] > amounts[creditor])) creditor = i;
      if (amounts[i] < 0 && (debtor == SIZE_MAX || amounts[i] < amounts[debtor])) debtor = i;
    }
    if (creditor == SIZE_MAX || debtor == SIZE_MAX) return;
    const int64_t pay = std::min(amounts[creditor], -amounts[debtor]);
    out->push_back(Payment{names[debtor], names[creditor], core::Money::Fen(pay)});
    amounts[creditor] -= pay;
    amounts[debtor] += pay;
  }
}

// The largest number of disjoint zero-sum groups the members split into, by the subset
// DP over masks; returned as the groups. REQUIRES: amounts.size() <= kExactNettingLimit,
// all non-zero, summing to 0.
std::vector<std::vector<size_t>> ZeroSumGroups(const std::vector<int64_t>& amounts) {
  const size_t n = amounts.size();
  const uint32_t full = (uint32_t{1} << n) - 1;
  std::vector<core::Int128> sum(size_t{full} + 1, 0);
  std::vector<int8_t> dp(size_t{full} + 1, 0);
  for (uint32_t mask = 1; mask <= full; ++mask) {
    const int low = __builtin_ctz(mask);
    sum[mask] = sum[mask & (mask - 1)] + amounts[static_cast<size_t>(low)];
    int8_t best = 0;
    for (size_t i = 0; i < n; ++i) {
      if ((mask >> i) & 1) best = std::max(best, dp[mask ^ (uint32_t{1} << i)]);
    }
    dp[mask] = static_cast<int8_t>(best + (sum[mask] == 0 ? 1 : 0));
  }
  // Walk back from the full set, removing the lowest member that keeps the optimum; the
  // zero-sum masks met on the way delimit the groups.
  std::vector<std::vector<size_t>> groups;
  std::vector<size_t> current;
  uint32_t mask = full;
  while (mask != 0) {
    const int8_t gain = sum[mask] == 0 ? 1 : 0;
    if (gain == 1 && !current.empty()) {
      groups.push_back(std::move(current));
      current.clear();
    }
    for (size_t i = 0; i < n; ++i) {
      const uint32_t bit = uint32_t{1} << i;
      if ((mask & bit) && dp[mask ^ bit] + gain == dp[mask]) {
        current.push_back(i);
        mask ^= bit;
        break;
      }
    }
  }
  if (!current.empty()) groups.push_back(std::move(current));
  return groups;
}

bool ByPeriodEndThenId(const Settlement& a, const Settlement& b) {
  return std::tie(a.body.period_end, a.body.id) < std::tie(b.body.period_end, b.body.id);
}

}  // namespace

// ---- Finance ---------------------------------------------------------------------------

core::Result<std::map<std::string, Balance>> Balances(const std::vector<Settlement>& records,
                                                      std::string_view self) {
  std::map<std::string, Balance> out;
  const auto add = [](core::Money* to, core::Money amount) -> core::Status {
    core::Result<core::Money> sum = to->Add(amount);
    if (!sum.ok()) return OutOfRange("balance");
    *to = *sum;
    return core::Status::Ok();
  };
  for (const Settlement& s : records) {
    const SettlementBody& b = s.body;
    const bool payee = b.payee == self;
    if (!payee && b.payer != self) continue;  // not ours
    Balance& bal = out[payee ? b.payer : b.payee];
    switch (s.state) {
      case SettlementState::kAgreed:
        EDWC_RETURN_IF_ERROR(add(payee ? &bal.receivable : &bal.payable, b.amount));
        ++bal.agreed;
        break;
      case SettlementState::kDisputed:
        EDWC_RETURN_IF_ERROR(
            add(payee ? &bal.disputed_receivable : &bal.disputed_payable, b.amount));
        ++bal.disputed;
        break;
      case SettlementState::kOffered:
        if (payee) EDWC_RETURN_IF_ERROR(add(&bal.pending_receivable, b.amount));
        ++bal.pending;
        break;
    }
  }
  for (auto& [center, bal] : out) {
    core::Result<core::Money> net = bal.receivable.Sub(bal.payable);
    if (!net.ok()) return OutOfRange("balance");
    bal.net = *net;
  }
  return out;
}

std::vector<DayDigest> DigestByDay(const std::vector<Settlement>& records) {
  std::map<std::string, std::vector<const Settlement*>> by_day;
  for (const Settlement& s : records) {
    if (s.state == SettlementState::kOffered) continue;
    by_day[ChinaDay(s.body.period_end)].push_back(&s);
  }
  std::vector<DayDigest> out;
  for (const auto& [day, list] : by_day) {
    DayDigest d;
    d.day = day;
    std::vector<std::string> lines;
    for (const Settlement* s : list) {
      lines.push_back(s->body.id + " " + s->hash + " " +
                      std::string(SettlementStateName(s->state)) + "\n");
      // Totals beyond int64 fen cannot be real; they stick at the bound rather than wrap.
      d.total = d.total.SaturatingAdd(s->body.amount);
    }
    std::sort(lines.begin(), lines.end());
    std::string all;
    for (const std::string& l : lines) all += l;
    d.count = static_cast<int64_t>(list.size());
    d.digest = storage::Sha256Hex(all);
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<Discrepancy> CompareRecords(const std::vector<Settlement>& ours,
                                        const std::vector<Settlement>& theirs) {
  std::vector<Discrepancy> out;
  // Indexes one side by id (first copy wins) and reports its duplicates: an id twice (once
  // per id), or a (kind, source) under another id.
  const auto index = [&out](const std::vector<Settlement>& side, bool is_ours) {
    std::map<std::string, const Settlement*> by_id;
    std::map<std::pair<SettlementKind, std::string>, const Settlement*> by_source;
    std::set<std::string> reported;
    for (const Settlement& s : side) {
      const auto report = [&](const Settlement& first) {
        if (!reported.insert(s.body.id).second) return;
        Discrepancy d;
        d.kind = DiscrepancyKind::kDuplicate;
        d.id = s.body.id;
        d.fields = DifferingFields(first.body, s.body);
        (is_ours ? d.ours : d.theirs) = s;
        out.push_back(std::move(d));
      };
      auto [it, fresh] = by_id.emplace(s.body.id, &s);
      if (!fresh) {
        report(*it->second);
        continue;
      }
      auto [src, fresh_source] = by_source.emplace(std::pair(s.body.kind, s.body.source), &s);
      if (!fresh_source) report(*src->second);
    }
    return by_id;
  };
  const auto mine = index(ours, true);
  const auto peer = index(theirs, false);
  for (const auto& [id, o] : mine) {
    auto it = peer.find(id);
    if (it == peer.end()) {
      out.push_back(Discrepancy{DiscrepancyKind::kMissingThere, id, {}, *o, std::nullopt});
      continue;
    }
    const Settlement* t = it->second;
    std::vector<std::string> fields = DifferingFields(o->body, t->body);
    if (o->state != t->state) fields.emplace_back("state");
    if (fields.empty() && o->hash != t->hash) fields.emplace_back("hash");
    if (fields.empty()) continue;
    const DiscrepancyKind kind = o->body.amount != t->body.amount
                                     ? DiscrepancyKind::kAmountMismatch
                                     : DiscrepancyKind::kContentMismatch;
    out.push_back(Discrepancy{kind, id, std::move(fields), *o, *t});
  }
  for (const auto& [id, t] : peer) {
    if (mine.count(id) == 0) {
      out.push_back(Discrepancy{DiscrepancyKind::kMissingHere, id, {}, std::nullopt, *t});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const Discrepancy& a, const Discrepancy& b) {
    return std::tie(a.id, a.kind) < std::tie(b.id, b.kind);
  });
  return out;
}

json::object ToJson(const Discrepancy& d, std::string_view self) {
  json::array fields;
  for (const std::string& f : d.fields) fields.emplace_back(f);
  json::value ours = nullptr;
  json::value theirs = nullptr;
  if (d.ours) ours = ToView(*d.ours, self);
  if (d.theirs) theirs = ToView(*d.theirs, self);
  return json::object{{"kind", DiscrepancyKindName(d.kind)},
                      {"id", d.id},
                      {"fields", std::move(fields)},
                      {"ours", std::move(ours)},
                      {"theirs", std::move(theirs)}};
}

core::Result<Netting> Net(const std::vector<Statement>& statements) {
  // By pair (a < b): what a says of b and what b says of a, as a's position towards b.
  struct Reports {
    std::optional<int64_t> a_says;  // a.net[b]
    std::optional<int64_t> b_says;  // b.net[a]
  };
  std::map<std::pair<std::string, std::string>, Reports> pairs;
  Netting out;
  std::set<std::string> centers;  // every center named, as reporter or counterparty
  std::set<std::string> stated;
  for (const Statement& s : statements) {
    if (!stated.insert(s.center).second) {
      return core::InvalidArgument("two statements from " + s.center, "center");
    }
    centers.insert(s.center);
    for (const auto& [other, net] : s.net) {
      if (other == s.center) {
        return core::InvalidArgument("statement of " + s.center + " names itself", "net");
      }
      centers.insert(other);
      if (s.center < other) {
        pairs[{s.center, other}].a_says = net.fen();
      } else {
        pairs[{other, s.center}].b_says = net.fen();
      }
    }
  }
  std::map<std::string, core::Int128> positions;
  for (const std::string& c : centers) positions[c] = 0;
  for (const auto& [pair, r] : pairs) {
    const auto& [a, b] = pair;
    core::Int128 figure = 0;  // a's position towards b
    if (r.a_says && r.b_says) {
      const core::Int128 ra = *r.a_says;
      const core::Int128 rb = *r.b_says;
      figure = ra;
      if (ra != -rb) {
        out.disagreements.push_back(a + "/" + b + ": " + a + " says " + Signed(ra) + ", " + b +
                                    " says " + Signed(rb));
        if (rb > 0 && ra <= 0) figure = -rb;  // b is the payee side
      }
    } else if (r.a_says) {
      figure = *r.a_says;
    } else {
      figure = -core::Int128{*r.b_says};
    }
    positions[a] += figure;
    positions[b] -= figure;
  }
  for (const auto& [c, p] : positions) {
    if (!FitsInt64(p)) return OutOfRange("position of " + c);
    out.positions[c] = core::Money::Fen(static_cast<int64_t>(p));
  }
  EDWC_ASSIGN_OR_RETURN(out.payments, MinimalPayments(out.positions));
  return out;
}

core::Result<std::vector<Payment>> MinimalPayments(
    const std::map<std::string, core::Money>& positions) {
  std::vector<std::string> names;
  std::vector<int64_t> amounts;
  core::Int128 total = 0;
  for (const auto& [center, p] : positions) {
    total += p.fen();
    if (p.fen() == 0) continue;
    names.push_back(center);
    amounts.push_back(p.fen());
  }
  if (total != 0) return core::InvalidArgument("positions do not sum to zero", "positions");
  std::vector<Payment> out;
  if (amounts.size() <= kExactNettingLimit) {
    for (const std::vector<size_t>& group : ZeroSumGroups(amounts)) {
      SettleGreedily(names, amounts, group, &out);
    }
  } else {
    std::vector<size_t> all(amounts.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    SettleGreedily(names, amounts, all, &out);
  }
  std::sort(out.begin(), out.end(), [](const Payment& a, const Payment& b) {
    return std::tie(a.from, a.to) < std::tie(b.from, b.to);
  });
  return out;
}

// ---- Export ----------------------------------------------------------------------------

std::string SettlementsCsv(const std::vector<Settlement>& records, std::string_view self) {
  std::string out = CsvLine({"id",
                             "day",
                             "direction",
                             "counterparty",
                             "kind",
                             "state",
                             "source",
                             "job",
                             "model",
                             "devices",
                             "accelerator_seconds",
                             "bytes",
                             "pflops_hours",
                             "unit_price_cny",
                             "amount_cny",
                             "amount_fen",
                             "period_start",
                             "period_end",
                             "seq",
                             "hash"});
  for (const Settlement& s : records) {
    const SettlementBody& b = s.body;
    out += CsvLine({b.id,
                    ChinaDay(b.period_end),
                    std::string(Direction(b, self)),
                    Counterparty(b, self),
                    std::string(SettlementKindName(b.kind)),
                    std::string(SettlementStateName(s.state)),
                    b.source,
                    b.job,
                    b.model,
                    std::to_string(b.devices),
                    Fixed(b.accelerator_ms, 3),
                    std::to_string(b.bytes),
                    Fixed(b.pflops_microhours, 6),
                    b.unit_price.ToYuanString(),
                    b.amount.ToYuanString(),
                    std::to_string(b.amount.fen()),
                    core::FormatRfc3339(b.period_start),
                    core::FormatRfc3339(b.period_end),
                    std::to_string(b.seq),
                    s.hash});
  }
  return out;
}

core::Result<Invoice> MakeInvoice(const std::vector<Settlement>& records, std::string_view self,
                                  std::string_view counterparty, core::Time from, core::Time to) {
  if (self == counterparty) return core::InvalidArgument("must differ from self", "counterparty");
  if (to < from) return core::InvalidArgument("must not be before from", "to");
  Invoice inv;
  inv.self = std::string(self);
  inv.counterparty = std::string(counterparty);
  inv.from = from;
  inv.to = to;
  const auto add = [](core::Money* total, core::Money amount) -> core::Status {
    core::Result<core::Money> sum = total->Add(amount);
    if (!sum.ok()) return OutOfRange("invoice total");
    *total = *sum;
    return core::Status::Ok();
  };
  for (const Settlement& s : records) {
    const SettlementBody& b = s.body;
    const bool receivable = b.payee == self && b.payer == counterparty;
    const bool payable = b.payer == self && b.payee == counterparty;
    if (!receivable && !payable) continue;
    if (b.period_end < from || b.period_end >= to) continue;
    if (s.state == SettlementState::kDisputed) inv.disputed.push_back(s);
    if (s.state != SettlementState::kAgreed) continue;
    inv.lines.push_back(s);
    const bool compute = b.kind == SettlementKind::kCompute;
    core::Money* kind_total = receivable
                                  ? (compute ? &inv.receivable_compute : &inv.receivable_egress)
                                  : (compute ? &inv.payable_compute : &inv.payable_egress);
    EDWC_RETURN_IF_ERROR(add(kind_total, b.amount));
    EDWC_RETURN_IF_ERROR(add(receivable ? &inv.receivable : &inv.payable, b.amount));
  }
  core::Result<core::Money> net = inv.receivable.Sub(inv.payable);
  if (!net.ok()) return OutOfRange("invoice net");
  inv.net = *net;
  std::sort(inv.lines.begin(), inv.lines.end(), ByPeriodEndThenId);
  std::sort(inv.disputed.begin(), inv.disputed.end(), ByPeriodEndThenId);
  return inv;
}

namespace {

std::vector<std::pair<std::string_view, core::Money>> InvoiceTotals(const Invoice& inv) {
  return {{"receivable_compute", inv.receivable_compute},
          {"receivable_egress", inv.receivable_egress},
          {"payable_compute", inv.payable_compute},
          {"payable_egress", inv.payable_egress},
          {"receivable", inv.receivable},
          {"payable", inv.payable},
          {"net", inv.net}};
}

}  // namespace

json::object ToJson(const Invoice& inv) {
  json::array lines;
  for (const Settlement& s : inv.lines) lines.push_back(ToView(s, inv.self));
  json::array disputed;
  for (const Settlement& s : inv.disputed) disputed.push_back(ToView(s, inv.self));
  json::object totals;
  for (const auto& [name, amount] : InvoiceTotals(inv)) {
    totals[std::string(name) + "_fen"] = amount.fen();
    totals[std::string(name) + "_cny"] = amount.ToYuanString();
  }
  return json::object{{"self", inv.self},
                      {"counterparty", inv.counterparty},
                      {"from", core::FormatRfc3339(inv.from)},
                      {"to", core::FormatRfc3339(inv.to)},
                      {"lines", std::move(lines)},
                      {"disputed", std::move(disputed)},
                      {"totals", std::move(totals)}};
}

std::string InvoiceCsv(const Invoice& inv) {
  std::string out = SettlementsCsv(inv.lines, inv.self) + "\r\n";
  for (const auto& [name, amount] : InvoiceTotals(inv)) {
    out +=
        CsvLine({"total", std::string(name), amount.ToYuanString(), std::to_string(amount.fen())});
  }
  return out;
}

}  // namespace edwc::federation
