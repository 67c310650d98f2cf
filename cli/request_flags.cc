#include "cli/request_flags.h"

#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <random>

#include "core/ids.h"

namespace edwc::cli {

namespace {

namespace json = boost::json;
using core::Int128;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads the digits at text[*i..]; false when there are none or too many to be sane.
bool ReadUnsigned(std::string_view text, size_t* i, int64_t* out) {
  const size_t begin = *i;
  int64_t v = 0;
  while (*i < text.size() && IsDigit(text[*i])) {
    if (*i - begin >= 15) return false;
    v = v * 10 + (text[*i] - '0');
    ++*i;
  }
  *out = v;
  return *i > begin;
}

// A non-negative decimal number ("2", "0.5") as a JSON number: an integer when whole.
core::Result<json::value> ParseNumber(std::string_view text, std::string_view what) {
  double d = 0;
  auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), d, std::chars_format::fixed);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !(d >= 0) ||
      d > 1e12) {
    return core::InvalidArgument(std::string(what) + " must be a non-negative number, got '" +
                                 std::string(text) + "'");
  }
  if (d == static_cast<double>(static_cast<int64_t>(d)))
    return json::value(static_cast<int64_t>(d));
  return json::value(d);
}

core::Status Flag(const core::Status& st, std::string_view flag) {
  return core::InvalidArgument("--" + std::string(flag) + ": " + st.message(), std::string(flag));
}

core::Status AddResources(const Args& args, json::object* body) {
  const bool by_model = args.Has("model");
  const bool by_tflops = args.Has("min-tflops");
  const bool by_memory = args.Has("min-memory");
  if (by_model && (by_tflops || by_memory)) {
    return core::InvalidArgument("pass --model or --min-tflops/--min-memory, not both", "model");
  }
  if (by_model) {
    EDWC_ASSIGN_OR_RETURN(std::string model, args.Require("model"));
    (*body)["model"] = model;
    return core::Status::Ok();
  }
  if (!by_tflops || !by_memory) {
    return core::InvalidArgument(
        "say what to run on: --model M, or --min-tflops N and --min-memory GiB", "model");
  }
  auto tflops = ParseNumber(*args.Get("min-tflops"), "--min-tflops");
  if (!tflops.ok()) return tflops.status();
  auto memory = ParseNumber(*args.Get("min-memory"), "--min-memory");
  if (!memory.ok()) return memory.status();
  (*body)["min_fp16_tflops"] = *tflops;
  (*body)["min_memory_gib"] = *memory;
  return core::Status::Ok();
}

core::Status AddDuration(const Args& args, json::object* body) {
  if (args.Has("duration") && args.Has("minutes")) {
    return core::InvalidArgument("pass --duration or --minutes, not both", "duration");
  }
  if (args.Has("minutes")) {
    EDWC_ASSIGN_OR_RETURN(long minutes, args.GetInt("minutes", 0, 1, 366L * 24 * 60));
    (*body)["duration_minutes"] = minutes;
    return core::Status::Ok();
  }
  auto text = args.Get("duration");
  if (!text) return core::InvalidArgument("--duration is required (90m, 2h, 1h30m)", "duration");
  auto minutes = ParseDurationMinutes(*text);
  if (!minutes.ok()) return Flag(minutes.status(), "duration");
  (*body)["duration_minutes"] = *minutes;
  return core::Status::Ok();
}

core::Status AddDataset(const Args& args, json::object* body) {
  const bool home = args.Has("dataset-home");
  const bool size = args.Has("dataset-size");
  if (!home && !size) return core::Status::Ok();
  if (!home || !size) {
    return core::InvalidArgument("--dataset-home and --dataset-size go together",
                                 home ? "dataset-size" : "dataset-home");
  }
  EDWC_ASSIGN_OR_RETURN(std::string center, args.Require("dataset-home"));
  auto bytes = ParseSizeBytes(*args.Get("dataset-size"));
  if (!bytes.ok()) return Flag(bytes.status(), "dataset-size");
  (*body)["dataset"] = json::object{{"home_center", center}, {"bytes", *bytes}};
  return core::Status::Ok();
}

core::Status AddTimes(const Args& args, core::Time now, json::object* body) {
  for (const char* flag : {"start", "deadline"}) {
    if (auto text = args.Get(flag)) {
      auto t = ParseTimeFlag(*text, now);
      if (!t.ok()) return Flag(t.status(), flag);
      (*body)[flag] = *t;
    }
  }
  return core::Status::Ok();
}

core::Status AddConstraints(const Args& args, json::object* body) {
  if (auto cap = args.Get("price-cap")) {
    auto money = ParsePriceCap(*cap);
    if (!money.ok()) return Flag(money.status(), "price-cap");
    (*body)["price_cap_fen"] = money->fen();
  }
  if (args.Has("zone")) {
    json::array zones;
    for (const std::string& z : args.GetAll("zone")) {
      if (z.empty()) return core::InvalidArgument("--zone must not be empty", "zone");
      zones.emplace_back(z);
    }
    (*body)["zones"] = std::move(zones);
  }
  if (args.Has("min-green")) {
    EDWC_ASSIGN_OR_RETURN(long green, args.GetInt("min-green", 0, 0, 100));
    (*body)["min_green_percent"] = green;
  }
  if (auto objective = args.Get("objective")) {
    auto o = ParseObjective(*objective);
    if (!o.ok()) return Flag(o.status(), "objective");
    (*body)["objective"] = *o;
  }
  return core::Status::Ok();
}

}  // namespace

core::Result<int64_t> ParseDurationMinutes(std::string_view text) {
  const core::Status bad =
      core::InvalidArgument("a duration like 90m, 2h or 1h30m, got '" + std::string(text) + "'");
  size_t i = 0;
  int64_t total = 0;
  std::string seen;
  while (i < text.size()) {
    int64_t n = 0;
    if (!ReadUnsigned(text, &i, &n) || i >= text.size()) return bad;
    const char unit = text[i++];
    const int64_t per = unit == 'd' ? 24 * 60 : unit == 'h' ? 60 : unit == 'm' ? 1 : 0;
    if (per == 0 || seen.find(unit) != std::string::npos) return bad;
    seen.push_back(unit);
    total += n * per;
    if (total > 366LL * 24 * 60) return core::InvalidArgument("a duration of at most 366 days");
  }
  if (total <= 0) return bad;
  return total;
}

core::Result<int64_t> ParseIntervalMillis(std::string_view text) {
  const core::Status bad =
      core::InvalidArgument("an interval like 500ms, 2s or 1m, got '" + std::string(text) + "'");
  size_t i = 0;
  int64_t n = 0;
  if (!ReadUnsigned(text, &i, &n)) return bad;
  const std::string_view unit = text.substr(i);
  int64_t ms = 0;
  if (unit.empty() || unit == "ms") {
    ms = n;
  } else if (unit == "s") {
    ms = n * 1000;
  } else if (unit == "m") {
    ms = n * 60'000;
  } else {
    return bad;
  }
  if (ms < 50 || ms > 3'600'000) return core::InvalidArgument("an interval from 50ms to 1h");
  return ms;
}

core::Result<int64_t> ParseSizeBytes(std::string_view text) {
  const core::Status bad =
      core::InvalidArgument("a size like 100GB, 1.5TB or 512MiB, got '" + std::string(text) + "'");
  size_t i = 0;
  int64_t whole = 0;
  if (!ReadUnsigned(text, &i, &whole)) return bad;
  Int128 mantissa = whole;
  Int128 scale = 1;
  if (i < text.size() && text[i] == '.') {
    ++i;
    const size_t begin = i;
    while (i < text.size() && IsDigit(text[i])) {
      if (i - begin >= 9) return bad;
      mantissa = mantissa * 10 + (text[i] - '0');
      scale *= 10;
      ++i;
    }
    if (i == begin) return bad;
  }
  static constexpr std::array<std::pair<std::string_view, int64_t>, 12> kUnits{{
      {"", 1},
      {"b", 1},
      {"kb", 1'000},
      {"mb", 1'000'000},
      {"gb", 1'000'000'000},
      {"tb", 1'000'000'000'000},
      {"pb", 1'000'000'000'000'000},
      {"kib", int64_t{1} << 10},
      {"mib", int64_t{1} << 20},
      {"gib", int64_t{1} << 30},
      {"tib", int64_t{1} << 40},
      {"pib", int64_t{1} << 50},
  }};
  const std::string unit = Lower(text.substr(i));
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    const Int128 product = mantissa * factor;
    if (product % scale != 0) {
      std::string why(text);  // built by appends: GCC 12 warns falsely on "'" + string
      why += "' is not a whole number of bytes";
      return core::InvalidArgument("'" + why);
    }
    const Int128 bytes = product / scale;
    if (bytes > INT64_MAX) return core::InvalidArgument("size out of range");
    return static_cast<int64_t>(bytes);
  }
  return bad;
}

core::Result<core::Money> ParsePriceCap(std::string_view text) {
  auto m = core::Money::ParseYuan(text);
  if (!m.ok()) {
    return core::InvalidArgument("an amount in CNY like 500 or 500.00, got '" + std::string(text) +
                                 "'");
  }
  if (m->fen() < 0) return core::InvalidArgument("a price cap cannot be negative");
  return *m;
}

core::Result<json::value> ParseObjective(std::string_view text) {
  if (text == "cost" || text == "time" || text == "green") return json::value(json::string(text));
  const core::Status bad = core::InvalidArgument(
      "cost, time, green or weights like cost=1,time=2,green=1, got '" + std::string(text) + "'");
  json::object weights{{"cost", 0}, {"time", 0}, {"green", 0}};
  std::set<std::string> seen;
  bool any_positive = false;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(pos, comma - pos);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return bad;
    const std::string key(item.substr(0, eq));
    if (!weights.contains(key) || !seen.insert(key).second) return bad;
    auto w = ParseNumber(item.substr(eq + 1), "a weight");
    if (!w.ok()) return bad;
    any_positive = any_positive || (w->is_int64() ? w->as_int64() > 0 : w->as_double() > 0);
    weights[key] = *w;
    pos = comma + 1;
  }
  if (!any_positive) return core::InvalidArgument("at least one objective weight must be > 0");
  return json::value(std::move(weights));
}

core::Result<std::string> ParseTimeFlag(std::string_view text, core::Time now) {
  if (text == "now") return core::FormatRfc3339(now);
  if (!text.empty() && text[0] == '+') {
    auto minutes = ParseDurationMinutes(text.substr(1));
    if (!minutes.ok()) return minutes.status();
    return core::FormatRfc3339(now + std::chrono::minutes(*minutes));
  }
  auto t = core::ParseRfc3339(text);
  if (!t.ok()) {
    return core::InvalidArgument("a time like 2026-11-27T18:00:00+08:00, now or +6h, got '" +
                                 std::string(text) + "'");
  }
  return core::FormatRfc3339(*t);
}

std::string RequestFlagsHelp() {
  return R"(What to run:
  --model M              an accelerator model id: h800, h100-80g, a100-80g, ascend-910b, ...
  --min-tflops N         or any model with at least N dense FP16 TFLOPS ...
  --min-memory GIB       ... and at least GIB GiB of device memory
  --count N              devices (default 1)
  --duration D           how long: 90m, 2h, 1h30m, 1d (or --minutes N)
  --start T              earliest start: RFC 3339, now or +2h (default now)
Where and at what price:
  --dataset-home C       the center holding the input data ...
  --dataset-size S       ... and its size: 100GB, 1.5TB, 512MiB (GB = 10^9 bytes)
  --deadline T           must finish by T (RFC 3339 or +6h)
  --price-cap CNY        total at most this many yuan (500 or 500.00)
  --zone Z               only centers in zone Z (repeatable)
  --min-green PERCENT    only centers with at least PERCENT green power
  --objective O          rank by cost, time or green, or weights: cost=1,time=2,green=1
)";
}

std::set<std::string> RequestOptions() {
  return {"model",     "min-tflops", "min-memory",   "count",        "duration",
          "minutes",   "start",      "dataset-home", "dataset-size", "deadline",
          "price-cap", "zone",       "min-green",    "objective"};
}

std::set<std::string> SubmitOptions() { return {"name", "env", "idempotency-key", "input"}; }

core::Result<json::object> BuildQuoteRequest(const Args& args, core::Time now) {
  json::object body;
  EDWC_RETURN_IF_ERROR(AddResources(args, &body));
  EDWC_ASSIGN_OR_RETURN(long count, args.GetInt("count", 1, 1, 1'000'000));
  body["count"] = count;
  EDWC_RETURN_IF_ERROR(AddDuration(args, &body));
  EDWC_RETURN_IF_ERROR(AddTimes(args, now, &body));
  EDWC_RETURN_IF_ERROR(AddDataset(args, &body));
  EDWC_RETURN_IF_ERROR(AddConstraints(args, &body));
  return body;
}

core::Result<json::object> BuildJobRequest(const Args& args, core::Time now) {
  EDWC_ASSIGN_OR_RETURN(json::object body, BuildQuoteRequest(args, now));
  if (args.trailing().empty()) {
    return core::InvalidArgument(
        "give the command to run after `--` (edwc job submit ... -- python train.py)", "command");
  }
  json::array command;
  for (const std::string& a : args.trailing()) command.emplace_back(a);
  body["command"] = std::move(command);
  if (args.Has("env")) {
    json::object env;
    for (const std::string& kv : args.GetAll("env")) {
      const size_t eq = kv.find('=');
      const std::string key = kv.substr(0, eq);
      bool ok = eq != std::string::npos && !key.empty() && !IsDigit(key[0]);
      for (char c : key) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
      if (!ok) return core::InvalidArgument("--env wants NAME=VALUE, got '" + kv + "'", "env");
      if (env.contains(key)) return core::InvalidArgument("--env " + key + " given twice", "env");
      env[key] = kv.substr(eq + 1);
    }
    body["env"] = std::move(env);
  }
  if (auto name = args.Get("name")) {
    if (name->empty()) return core::InvalidArgument("--name must not be empty", "name");
    body["name"] = *name;
  }
  if (args.Has("input")) {
    json::array inputs;
    for (const std::string& spec : args.GetAll("input")) {
      const size_t at = spec.rfind('@');
      if (at == std::string::npos || at == 0 || at + 1 == spec.size()) {
        return core::InvalidArgument("--input wants DATASET@CENTER, got '" + spec + "'", "input");
      }
      inputs.push_back(
          json::object{{"dataset", spec.substr(0, at)}, {"center", spec.substr(at + 1)}});
    }
    body["inputs"] = std::move(inputs);
  }
  return body;
}

std::string NewIdempotencyKey() {
  std::random_device device;  // the OS's entropy source on Linux (getrandom)
  std::string bytes;
  for (int i = 0; i < 4; ++i) {
    const uint32_t word = device();
    for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<char>((word >> (8 * b)) & 0xff));
  }
  return core::HexEncode(bytes);
}

}  // namespace edwc::cli
