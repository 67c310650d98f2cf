#include "cli/job_format.h"

#include <algorithm>
#include <boost/json.hpp>

#include "core/money.h"
#include "core/time.h"

namespace edwc::cli {

namespace {

namespace json = boost::json;

size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

std::string Pad(const std::string& s, size_t width, bool right) {
  const size_t w = DisplayWidth(s);
  const std::string fill(width > w ? width - w : 0, ' ');
  return right ? fill + s : s + fill;
}

// "reason (detail)" or just "reason" when there is no detail.
std::string WithDetail(const json::value& o, std::string_view key, std::string_view detail_key) {
  std::string out = FieldText(o, key);
  const std::string detail = FieldText(o, detail_key);
  if (detail != "-" && !detail.empty()) out += " (" + detail + ")";
  return out;
}

std::string Yuan(const std::string& amount) { return amount == "-" ? amount : "¥" + amount; }

void AppendAttempts(const json::value& job, std::string* out) {
  const json::array& attempts = ArrayAt(job, "attempts");
  if (attempts.empty()) return;
  *out += "attempts:\n";
  int n = 0;
  for (const json::value& a : attempts) {
    *out += "  " + std::to_string(++n) + ". " + FieldText(a, "center") + ": " +
            WithDetail(a, "result", "reason");
    if (const std::string hold = FieldText(a, "hold_id"); hold != "-") *out += " hold " + hold;
    if (const std::string at = FieldText(a, "at"); at != "-") *out += " at " + CompactTime(at);
    *out += "\n";
  }
}

std::string ModelCount(const json::value& job) {
  std::string model = FieldText(job, "model");
  std::string count = FieldText(job, "count");
  if (const json::value* req = Member(job, "request"); req != nullptr) {
    if (model == "-") model = FieldText(*req, "model");
    if (count == "-") count = FieldText(*req, "count");
  }
  return count == "-" ? model : model + "×" + count;
}

}  // namespace

const json::value* Member(const json::value& o, std::string_view key) {
  return o.is_object() ? o.as_object().if_contains(key) : nullptr;
}

const json::array& ArrayAt(const json::value& o, std::string_view key) {
  static const json::array kEmpty;
  const json::value* v = Member(o, key);
  return v != nullptr && v->is_array() ? v->as_array() : kEmpty;
}

std::string FieldText(const json::value& o, std::string_view key) {
  const json::value* v = Member(o, key);
  if (v == nullptr) return "-";
  if (v->is_string()) return v->as_string().empty() ? "-" : std::string(v->as_string());
  if (v->is_int64() || v->is_uint64() || v->is_double() || v->is_bool()) {
    return json::serialize(*v);
  }
  return "-";
}

std::string MoneyText(const json::value& o, std::string_view base) {
  const std::string cny = FieldText(o, std::string(base) + "_cny");
  if (cny != "-") return cny;
  const json::value* fen = Member(o, std::string(base) + "_fen");
  if (fen != nullptr && fen->is_int64()) return core::Money::Fen(fen->as_int64()).ToYuanString();
  return "-";
}

std::string CompactTime(std::string_view rfc3339) {
  if (rfc3339.empty() || rfc3339 == "-") return "-";
  auto t = core::ParseRfc3339(rfc3339);
  if (!t.ok()) return std::string(rfc3339);
  const std::string utc = core::FormatRfc3339(*t);  // YYYY-MM-DDTHH:MM:SS.fffZ
  return utc.substr(5, 5) + " " + utc.substr(11, 5) + "Z";
}

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows,
                        const std::vector<bool>& right) {
  std::vector<size_t> width(header.size(), 0);
  for (size_t c = 0; c < header.size(); ++c) width[c] = DisplayWidth(header[c]);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) {
      width[c] = std::max(width[c], DisplayWidth(row[c]));
    }
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < width.size(); ++c) {
      const std::string cell = c < cells.size() ? cells[c] : std::string();
      const bool last = c + 1 == width.size();
      const bool r = c < right.size() && right[c];
      out += last && !r ? cell : Pad(cell, width[c], r);
      if (!last) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(header);
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string RenderQuotes(const json::value& response) {
  std::vector<std::vector<std::string>> rows;
  int rank = 0;
  for (const json::value& q : ArrayAt(response, "quotes")) {
    rows.push_back({std::to_string(++rank), FieldText(q, "center"), FieldText(q, "model"),
                    FieldText(q, "liveness"), MoneyText(q, "total"), MoneyText(q, "compute"),
                    MoneyText(q, "transfer"), MoneyText(q, "price_per_device_hour"),
                    MoneyText(q, "price_per_pflops_hour"), CompactTime(FieldText(q, "start")),
                    CompactTime(FieldText(q, "finish"))});
  }
  std::string out;
  if (rows.empty()) {
    out = "No center can run this request.\n";
  } else {
    out = RenderTable({"RANK", "CENTER", "MODEL", "LIVENESS", "TOTAL(¥)", "COMPUTE", "TRANSFER",
                       "¥/DEV-H", "¥/PFLOPS-H", "START", "FINISH"},
                      rows, {true, false, false, false, true, true, true, true, true});
  }
  const json::array& excluded = ArrayAt(response, "excluded");
  if (!excluded.empty()) {
    out += "Excluded:\n";
    for (const json::value& e : excluded) {
      out += "  " + FieldText(e, "center") + ": " + WithDetail(e, "reason", "detail") + "\n";
    }
  }
  return out;
}

std::string RenderSubmitted(const json::value& job, bool replayed) {
  const std::string id = FieldText(job, "id");
  const std::string state = FieldText(job, "state");
  const std::string center = FieldText(job, "center");
  std::string out = "job " + id;
  if (state == "failed" || state == "cancelled") {
    out += " " + state;
    if (const std::string reason = FieldText(job, "reason"); reason != "-") out += ": " + reason;
    out += "\n";
  } else if (center == "-" || state == "placing") {
    out += " is still being placed (" + state + "); follow it with `edwc job watch " + id + "`\n";
  } else {
    out += " placed on " + center + " (" + state + "), " + ModelCount(job) + "\n";
  }
  if (replayed) out += "(an earlier submission with this idempotency key; nothing new placed)\n";
  AppendAttempts(job, &out);
  return out;
}

std::string RenderJobList(const json::value& response) {
  std::vector<std::vector<std::string>> rows;
  for (const json::value& j : ArrayAt(response, "jobs")) {
    const json::value* usage = Member(j, "usage");
    const std::string cost = usage != nullptr ? MoneyText(*usage, "cost") : "-";
    rows.push_back({FieldText(j, "id"), FieldText(j, "name"), FieldText(j, "state"),
                    FieldText(j, "center"), ModelCount(j), Yuan(cost),
                    CompactTime(FieldText(j, "created_at"))});
  }
  if (rows.empty()) return "No jobs.\n";
  return RenderTable({"ID", "NAME", "STATE", "CENTER", "MODEL×COUNT", "COST", "CREATED"}, rows,
                     {false, false, false, false, false, true, false});
}

std::string RenderJob(const json::value& job) {
  std::string out;
  auto row = [&](std::string_view label, const std::string& value) {
    if (value == "-" || value.empty()) return;
    out += std::string(label) + std::string(label.size() < 10 ? 10 - label.size() : 1, ' ') +
           value + "\n";
  };
  row("job", FieldText(job, "id"));
  row("name", FieldText(job, "name"));
  row("owner", FieldText(job, "owner"));
  std::string state = FieldText(job, "state");
  if (const json::value* c = Member(job, "cancel_requested"); c && c->is_bool() && c->as_bool()) {
    state += " (cancel requested)";
  }
  row("state", state);
  row("reason", FieldText(job, "reason"));
  row("center", FieldText(job, "center"));
  row("resources", ModelCount(job));
  if (const json::value* req = Member(job, "request"); req != nullptr) {
    if (const std::string m = FieldText(*req, "duration_minutes"); m != "-") {
      row("duration", m + " min");
    }
    if (const json::value* cmd = Member(*req, "command"); cmd != nullptr && cmd->is_array()) {
      std::string text;
      for (const json::value& a : cmd->as_array()) {
        text += (text.empty() ? "" : " ") + (a.is_string() ? std::string(a.as_string()) : "?");
      }
      row("command", text);
    }
    row("deadline", FieldText(*req, "deadline"));
  }
  row("created", FieldText(job, "created_at"));
  row("updated", FieldText(job, "updated_at"));
  AppendAttempts(job, &out);
  const json::array& history = ArrayAt(job, "history");
  if (!history.empty()) {
    out += "history:\n";
    for (const json::value& h : history) {
      out += "  " + FieldText(h, "at") + "  " + FieldText(h, "state") + "\n";
    }
  }
  if (const json::value* usage = Member(job, "usage"); usage != nullptr && usage->is_object()) {
    out += "usage:\n";
    auto urow = [&](std::string_view label, const std::string& value) {
      if (value != "-") out += "  " + std::string(label) + ": " + value + "\n";
    };
    urow("started", FieldText(*usage, "started"));
    urow("ended", FieldText(*usage, "ended"));
    urow("accelerator-seconds", FieldText(*usage, "accelerator_seconds"));
    urow("exit code", FieldText(*usage, "exit_code"));
    urow("message", FieldText(*usage, "message"));
    urow("cost", Yuan(MoneyText(*usage, "cost")));
  }
  return out;
}

std::string RenderCancelled(const json::value& job) {
  const std::string id = FieldText(job, "id");
  const std::string state = FieldText(job, "state");
  if (const json::value* c = Member(job, "cancel_requested"); c && c->is_bool() && c->as_bool()) {
    if (state != "cancelled") {
      return "job " + id + ": cancel requested; still " + state + " on " +
             FieldText(job, "center") + " (follow it with `edwc job watch " + id + "`)\n";
    }
  }
  if (state == "cancelled") return "job " + id + " cancelled\n";
  return "job " + id + " is " + state + "; nothing to cancel\n";
}

std::vector<std::string> WatchLines(const json::value& job, size_t* printed,
                                    std::string* last_state) {
  std::vector<std::string> lines;
  const json::array& history = ArrayAt(job, "history");
  const std::string center = FieldText(job, "center");
  auto line = [&](const std::string& at, const std::string& state) {
    std::string l = at + "  " + state;
    if (state != "placing" && center != "-") l += "  on " + center;
    if (state == "failed" || state == "cancelled") {
      if (const std::string reason = FieldText(job, "reason"); reason != "-") l += ": " + reason;
    }
    lines.push_back(std::move(l));
    *last_state = state;
  };
  for (; *printed < history.size(); ++*printed) {
    line(FieldText(history[*printed], "at"), FieldText(history[*printed], "state"));
  }
  const std::string state = FieldText(job, "state");
  if (history.empty() && state != *last_state) line(FieldText(job, "updated_at"), state);
  return lines;
}

bool IsTerminalState(std::string_view state) {
  return state == "succeeded" || state == "failed" || state == "cancelled";
}

}  // namespace edwc::cli
