#include "cli/ledger_format.h"

#include <boost/json.hpp>
#include <cctype>
#include <cstdint>
#include <iterator>
#include <optional>

#include "cli/connection.h"
#include "cli/job_format.h"
#include "core/money.h"
#include "core/time.h"

namespace edwc::cli {

namespace {

namespace json = boost::json;

std::optional<int64_t> IntAt(const json::value& o, std::string_view key) {
  const json::value* v = Member(o, key);
  if (v == nullptr || !v->is_int64()) return std::nullopt;
  return v->as_int64();
}

bool BoolAt(const json::value& o, std::string_view key, bool fallback) {
  const json::value* v = Member(o, key);
  return v != nullptr && v->is_bool() ? v->as_bool() : fallback;
}

std::string Yuan(int64_t fen) { return core::Money::Fen(fen).ToYuanString(); }

// o[key + "_fen"] as yuan; "-" when absent.
std::string FenText(const json::value& o, std::string_view base) {
  auto fen = IntAt(o, std::string(base) + "_fen");
  return fen ? Yuan(*fen) : "-";
}

// round_half_away(num / den) with `digits` decimals: Decimal(107, 100, 2) == "1.07".
std::string Decimal(int64_t num, int64_t den, int digits) {
  core::Int128 scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  int64_t scaled = 0;
  if (den == 0 || !core::DivRoundHalfAway(core::Int128{num} * scale, den, &scaled)) return "-";
  const bool negative = scaled < 0;
  const uint64_t magnitude =
      negative ? 0 - static_cast<uint64_t>(scaled) : static_cast<uint64_t>(scaled);
  const auto s = static_cast<uint64_t>(scale);
  std::string fraction = std::to_string(magnitude % s);
  fraction.insert(0, static_cast<size_t>(digits) - fraction.size(), '0');
  return (negative ? "-" : "") + std::to_string(magnitude / s) + (digits > 0 ? "." : "") + fraction;
}

// A decimal quantity of seconds ("14400.000", or a JSON number) as milliseconds.
std::optional<int64_t> Millis(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64() * 1000;
  if (!v->is_string()) return std::nullopt;
  const std::string_view text = v->as_string();
  const size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
  if (whole.empty() || whole.size() > 15 || fraction.size() > 3) return std::nullopt;
  int64_t ms = 0;
  for (char c : whole) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    ms = ms * 10 + (c - '0');
  }
  int64_t part = 0;
  for (size_t i = 0; i < 3; ++i) {
    const char c = i < fraction.size() ? fraction[i] : '0';
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    part = part * 10 + (c - '0');
  }
  return ms * 1000 + part;
}

// "1.07 GB": decimal units, as egress is priced per 10^9 bytes.
std::string BytesText(int64_t bytes) {
  static constexpr const char* kUnits[] = {"kB", "MB", "GB", "TB", "PB"};
  if (bytes < 1000) return std::to_string(bytes) + " B";
  int64_t scale = 1000;
  size_t unit = 0;
  while (unit + 1 < std::size(kUnits) && bytes >= scale * 1000) {
    scale *= 1000;
    ++unit;
  }
  return Decimal(bytes, scale, 2) + " " + kUnits[unit];
}

// "3f2a9c1b…" for a long hash; short text as it is.
std::string ShortHash(const std::string& hash) {
  return hash.size() > 12 ? hash.substr(0, 8) + "…" : hash;
}

// "from X to Y", "from X", "until Y" or "all time" for an answer's "from" and "to".
std::string PeriodText(const json::value& o) {
  const std::string from = FieldText(o, "from");
  const std::string to = FieldText(o, "to");
  if (from == "-" && to == "-") return "all time";
  if (to == "-") return "from " + from;
  if (from == "-") return "until " + to;
  return from + " to " + to;
}

// key: value lines with the values aligned.
class Block {
 public:
  void Row(std::string_view key, const std::string& value) {
    if (value.empty() || value == "-") return;
    std::string label = std::string(key) + ":";
    if (label.size() < kWidth) label.resize(kWidth, ' ');
    out_ += indent_ + label + (label.back() == ' ' ? "" : " ") + value + "\n";
  }
  void Line(const std::string& text) { out_ += text + "\n"; }
  void Indent(bool on) { indent_ = on ? "  " : ""; }
  std::string str() const { return out_; }

 private:
  static constexpr size_t kWidth = 17;
  std::string out_;
  std::string indent_;
};

std::string JoinStrings(const json::array& items, std::string_view separator) {
  std::string out;
  for (const json::value& v : items) {
    if (!v.is_string()) continue;
    if (!out.empty()) out += separator;
    out += std::string(v.as_string());
  }
  return out;
}

std::string SignatureText(const json::value& record, std::string_view who,
                          const std::string& center) {
  const std::string sig = FieldText(record, std::string(who) + "_sig");
  if (sig == "-") return "missing";
  std::string out = "present (" + center;
  if (const std::string cert = FieldText(record, std::string(who) + "_cert"); cert != "-") {
    out += ", certificate " + ShortHash(cert);
  }
  return out + ")";
}

// "+12.00/-3.00 (2)": disputed amounts, signed like NET (positive: owed to us).
std::string DisputedText(int64_t receivable, int64_t payable, std::optional<int64_t> count) {
  if (receivable == 0 && payable == 0) return "0.00";
  std::string out;
  if (receivable != 0) out += "+" + Yuan(receivable);
  if (payable != 0) out += (out.empty() ? "-" : "/-") + Yuan(payable);
  if (count) out += " (" + std::to_string(*count) + ")";
  return out;
}

std::string PendingText(int64_t fen, std::optional<int64_t> count) {
  std::string out = Yuan(fen);
  if (fen != 0 && count) out += " (" + std::to_string(*count) + ")";
  return out;
}

// "3 records, 120.00 CNY" for one side's digest of a day; "none" for null.
std::string DigestText(const json::value* d) {
  if (d == nullptr || !d->is_object()) return "none";
  const std::string count = FieldText(*d, "count");
  return count + (count == "1" ? " record, " : " records, ") + MoneyText(*d, "total") + " CNY";
}

// A discrepancy side's amount: the view's amount_cny, "-" for null.
std::string SideAmount(const json::value& d, std::string_view side) {
  const json::value* v = Member(d, side);
  return v != nullptr && v->is_object() ? MoneyText(*v, "amount") : "-";
}

}  // namespace

bool IsPeriodBound(std::string_view text) {
  if (text.size() == 10) {
    for (size_t i = 0; i < text.size(); ++i) {
      const bool dash = i == 4 || i == 7;
      if (dash != (text[i] == '-')) return false;
      if (!dash && !std::isdigit(static_cast<unsigned char>(text[i]))) return false;
    }
    return core::ParseRfc3339(std::string(text) + "T00:00:00+08:00").ok();
  }
  return core::ParseRfc3339(text).ok();
}

bool IsSettlementId(std::string_view id) {
  if (id.empty() || id.size() > 300) return false;
  size_t piece = 0;
  for (char c : id) {
    if (c == '/') {
      if (piece == 0) return false;
      piece = 0;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
    ++piece;
  }
  return piece > 0;
}

std::string SettlementTarget(std::string_view id) { return "/v1/settlements/" + QueryEscape(id); }

std::string WithQuery(std::string path,
                      const std::vector<std::pair<std::string, std::string>>& params) {
  char separator = '?';
  for (const auto& [key, value] : params) {
    if (value.empty()) continue;
    path += separator + key + "=" + QueryEscape(value);
    separator = '&';
  }
  return path;
}

std::optional<std::string> AddPeriodParams(
    const std::optional<std::string>& from, const std::optional<std::string>& to,
    std::vector<std::pair<std::string, std::string>>* params) {
  for (const auto& [name, value] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
    if (*value && !IsPeriodBound(**value)) {
      return "--" + std::string(name) + ": '" + **value +
             "' is neither RFC 3339 nor a date YYYY-MM-DD";
    }
  }
  if (from) params->emplace_back("from", *from);
  if (to) params->emplace_back("to", *to);
  return std::nullopt;
}

std::string_view CsvWithoutHeader(std::string_view csv) {
  const size_t end = csv.find('\n');
  return end == std::string_view::npos ? std::string_view() : csv.substr(end + 1);
}

std::string QuantityText(const json::value& view) {
  const std::string kind = FieldText(view, "kind");
  if (kind == "egress") {
    auto bytes = IntAt(view, "bytes");
    return bytes && *bytes >= 0 ? BytesText(*bytes) : "-";
  }
  if (kind != "compute") return "-";
  const std::optional<int64_t> ms = Millis(Member(view, "accelerator_seconds"));
  const int64_t devices = IntAt(view, "devices").value_or(0);
  const std::string model = FieldText(view, "model");
  if (!ms) return devices > 0 ? std::to_string(devices) + " x " + model : "-";
  if (devices <= 0) return model + ", " + Decimal(*ms, 3'600'000, 2) + " device-h";
  // Per device: hours from 0.01 h (36 s) up; shorter runs in seconds, so they do not read 0.
  const int64_t per_device_ms = *ms / devices;
  const std::string span = per_device_ms >= 36'000
                               ? Decimal(*ms, devices * int64_t{3'600'000}, 2) + " h"
                               : Decimal(*ms, devices * int64_t{1'000}, 1) + " s";
  return std::to_string(devices) + " x " + model + ", " + span;
}

std::string RenderSettlementList(const json::value& response) {
  std::vector<std::vector<std::string>> rows;
  for (const json::value& s : ArrayAt(response, "settlements")) {
    rows.push_back({FieldText(s, "day"), FieldText(s, "id"), FieldText(s, "direction"),
                    FieldText(s, "counterparty"), FieldText(s, "kind"), QuantityText(s),
                    MoneyText(s, "amount"), FieldText(s, "state")});
  }
  if (rows.empty()) return "No settlements.\n";
  return RenderTable(
      {"DAY", "ID", "DIRECTION", "COUNTERPARTY", "KIND", "QUANTITY", "AMOUNT (CNY)", "STATE"}, rows,
      {false, false, false, false, false, false, true, false});
}

std::string RenderSettlement(const json::value& response) {
  static const json::value kNull;
  const json::value* found = Member(response, "settlement");
  const json::value& view = found != nullptr ? *found : kNull;
  const json::value* stored = Member(response, "record");
  const json::value& record = stored != nullptr ? *stored : kNull;
  const std::string payee = FieldText(view, "payee");
  const std::string payer = FieldText(view, "payer");
  const std::string kind = FieldText(view, "kind");
  Block b;
  b.Row("settlement", FieldText(view, "id"));
  b.Row("state", FieldText(view, "state"));
  const std::string direction = FieldText(view, "direction");
  const std::string counterparty = FieldText(view, "counterparty");
  b.Row("direction", direction == "receivable" ? "receivable from " + counterparty
                     : direction == "payable"  ? "payable to " + counterparty
                                               : direction);
  b.Row("kind", kind);
  std::string quantity = QuantityText(view);
  if (const std::string pf = FieldText(view, "pflops_hours"); kind == "compute" && pf != "-") {
    quantity += " (" + pf + " PFLOPS-h)";
  }
  b.Row("quantity", quantity);
  if (const std::string amount = MoneyText(view, "amount"); amount != "-") {
    b.Row("amount", amount + " CNY");
  }
  if (const std::string unit = MoneyText(view, "unit_price"); unit != "-") {
    b.Row("unit price", unit + (kind == "egress"    ? " CNY per GB"
                                : kind == "compute" ? " CNY per device-hour"
                                                    : ""));
  }
  b.Row("job", FieldText(view, "job"));
  b.Row("source", FieldText(view, "source"));
  b.Row("day", FieldText(view, "day"));
  const std::string start = FieldText(view, "period_start");
  const std::string end = FieldText(view, "period_end");
  if (start != "-" || end != "-") b.Row("period", start + " to " + end);
  b.Row("issued", FieldText(view, "issued_at"));
  if (payee != "-" || payer != "-") {
    b.Row("chain", payee + " -> " + payer + ", record " + FieldText(view, "seq"));
  }
  b.Row("hash", FieldText(view, "hash"));
  b.Row("prev hash", FieldText(view, "prev_hash"));
  if (record.is_object()) {
    b.Row("payee signature", SignatureText(record, "payee", payee));
    b.Row("payer signature", SignatureText(record, "payer", payer));
  }
  if (FieldText(view, "state") == "disputed") {
    b.Line("dispute:");
    b.Indent(true);
    const json::array& fields = Member(view, "disputed_fields") != nullptr
                                    ? ArrayAt(view, "disputed_fields")
                                    : ArrayAt(record, "disputed_fields");
    b.Row("fields", fields.empty() ? "-" : JoinStrings(fields, ", "));
    std::string reason = FieldText(view, "dispute_reason");
    if (reason == "-") reason = FieldText(record, "dispute_reason");
    b.Row("reason", reason);
    const json::value* version = Member(record, "payer_version");
    if (version != nullptr && version->is_object()) {
      b.Row("payer's amount", FenText(*version, "amount") + " CNY");
    } else if (record.is_object()) {
      b.Row("payer's version", "none");
    }
    b.Indent(false);
  }
  return b.str();
}

std::string RenderBalances(const json::value& response) {
  std::vector<std::vector<std::string>> rows;
  int64_t disputed_receivable = 0;
  int64_t disputed_payable = 0;
  int64_t pending = 0;
  bool sums_ok = true;
  auto add = [&sums_ok](int64_t* sum, std::optional<int64_t> v) {
    if (v && __builtin_add_overflow(*sum, *v, sum)) sums_ok = false;
  };
  for (const json::value& b : ArrayAt(response, "balances")) {
    const int64_t dr = IntAt(b, "disputed_receivable_fen").value_or(0);
    const int64_t dp = IntAt(b, "disputed_payable_fen").value_or(0);
    const int64_t pr = IntAt(b, "pending_receivable_fen").value_or(0);
    add(&disputed_receivable, dr);
    add(&disputed_payable, dp);
    add(&pending, pr);
    rows.push_back({FieldText(b, "counterparty"), MoneyText(b, "receivable"),
                    MoneyText(b, "payable"), MoneyText(b, "net"),
                    DisputedText(dr, dp, IntAt(b, "disputed")),
                    PendingText(pr, IntAt(b, "pending"))});
  }
  const std::string self = FieldText(response, "self");
  std::string out = "balances of " + self + " in CNY: agreed records; NET > 0 is owed to " + self +
                    "; disputed and pending (offered, unanswered) apart\n";
  if (rows.empty()) return out + "No settlements with any counterparty.\n";
  static const json::value kNull;
  const json::value* t = Member(response, "total");
  const json::value& total = t != nullptr ? *t : kNull;
  rows.push_back({"TOTAL", MoneyText(total, "receivable"), MoneyText(total, "payable"),
                  MoneyText(total, "net"),
                  sums_ok ? DisputedText(disputed_receivable, disputed_payable, std::nullopt) : "-",
                  sums_ok ? Yuan(pending) : "-"});
  return out + RenderTable({"COUNTERPARTY", "RECEIVABLE", "PAYABLE", "NET", "DISPUTED", "PENDING"},
                           rows, {false, true, true, true, true, true});
}

std::string RenderVerify(const json::value& response) {
  std::string out;
  size_t broken = 0;
  const json::array& chains = ArrayAt(response, "chains");
  for (const json::value& c : chains) {
    const std::string pair = FieldText(c, "payee") + " -> " + FieldText(c, "payer");
    if (BoolAt(c, "ok", false)) {
      out += "ok  " + pair + "  " + FieldText(c, "records") + " records  head " +
             ShortHash(FieldText(c, "head_hash")) + "\n";
      continue;
    }
    ++broken;
    static const json::value kNull;
    const json::value* at = Member(c, "break");
    const json::value& brk = at != nullptr ? *at : kNull;
    out += "BROKEN " + pair + " at record " + FieldText(brk, "seq") + ": " +
           FieldText(brk, "problem") + "\n";
  }
  if (chains.empty()) {
    out += "no chains: the ledger holds no settlements\n";
  } else if (broken == 0) {
    out += std::to_string(chains.size()) + (chains.size() == 1 ? " chain" : " chains") +
           ", all verified\n";
  } else {
    out += std::to_string(broken) + " of " + std::to_string(chains.size()) +
           (chains.size() == 1 ? " chain" : " chains") + " broken\n";
  }
  return out;
}

bool LedgerVerified(const json::value& response) {
  if (!BoolAt(response, "ok", false)) return false;
  for (const json::value& c : ArrayAt(response, "chains")) {
    if (!BoolAt(c, "ok", false)) return false;
  }
  return true;
}

std::string RenderReconcile(const json::value& response) {
  const std::string peer = FieldText(response, "peer");
  const json::array& days = ArrayAt(response, "days");
  const json::array& found = ArrayAt(response, "discrepancies");
  std::string out = "reconcile with " + peer + ", " + PeriodText(response) + ": ";
  if (Reconciled(response)) {
    return out + "matched (" + std::to_string(days.size()) + (days.size() == 1 ? " day" : " days") +
           ", every digest equal)\n";
  }
  out += std::to_string(found.size()) + (found.size() == 1 ? " discrepancy\n" : " discrepancies\n");
  std::vector<std::vector<std::string>> differing;
  for (const json::value& d : days) {
    if (BoolAt(d, "match", true)) continue;
    differing.push_back({"  " + FieldText(d, "day"), "ours: " + DigestText(Member(d, "ours")),
                         "theirs: " + DigestText(Member(d, "theirs"))});
  }
  if (!differing.empty()) {
    out += "days that differ:\n";
    // RenderTable for alignment, without its header line.
    const std::string table = RenderTable({"", "", ""}, differing);
    out += table.substr(table.find('\n') + 1);
  }
  if (!found.empty()) {
    std::vector<std::vector<std::string>> rows;
    for (const json::value& d : found) {
      const json::array& fields = ArrayAt(d, "fields");
      rows.push_back({FieldText(d, "kind"), FieldText(d, "id"),
                      fields.empty() ? "-" : JoinStrings(fields, ","), SideAmount(d, "ours"),
                      SideAmount(d, "theirs")});
    }
    out += "discrepancies:\n" + RenderTable({"KIND", "ID", "FIELDS", "OURS (CNY)", "THEIRS (CNY)"},
                                            rows, {false, false, false, true, true});
  }
  static const json::value kNull;
  const json::value* s = Member(response, "summary");
  const json::value& summary = s != nullptr ? *s : kNull;
  auto count = [&](const char* key) { return IntAt(summary, key).value_or(0); };
  out += "summary: " + std::to_string(count("missing_here")) + " missing here, " +
         std::to_string(count("missing_there")) + " missing at " + peer + ", " +
         std::to_string(count("amount_mismatch")) + " amount mismatch, " +
         std::to_string(count("content_mismatch")) + " content mismatch, " +
         std::to_string(count("duplicate")) + " duplicate\n";
  return out;
}

bool Reconciled(const json::value& response) {
  if (const json::value* m = Member(response, "matched"); m != nullptr && m->is_bool()) {
    return m->as_bool() && ArrayAt(response, "discrepancies").empty();
  }
  return false;
}

std::string RenderNetting(const json::value& response) {
  std::string out =
      "netting, " + PeriodText(response) + " (a positive position is owed to the center)\n";
  std::vector<std::vector<std::string>> rows;
  for (const json::value& c : ArrayAt(response, "centers")) {
    rows.push_back({FieldText(c, "center"), MoneyText(c, "position"),
                    BoolAt(c, "reported", false) ? "yes" : "no"});
  }
  out += rows.empty()
             ? "No centers.\n"
             : RenderTable({"CENTER", "POSITION (CNY)", "REPORTED"}, rows, {false, true, false});
  const json::array& payments = ArrayAt(response, "payments");
  if (payments.empty()) {
    out += "payments: none\n";
  } else {
    out += "payments:\n";
    for (const json::value& p : payments) {
      out += "  " + FieldText(p, "from") + " pays " + FieldText(p, "to") + " " +
             MoneyText(p, "amount") + " CNY\n";
    }
  }
  for (const char* list : {"disagreements", "unreachable"}) {
    const json::array& items = ArrayAt(response, list);
    if (items.empty()) continue;
    out += std::string(list) + ":\n";
    for (const json::value& v : items) {
      out += "  " + (v.is_string() ? std::string(v.as_string()) : json::serialize(v)) + "\n";
    }
  }
  if (auto sum = IntAt(response, "sum_fen")) {
    out += "sum of positions: " + Yuan(*sum) + " CNY" +
           (*sum == 0 ? "\n" : " (should be 0.00: the positions do not balance)\n");
  } else {
    out += "sum of positions: -\n";
  }
  return out;
}

}  // namespace edwc::cli
