// Loading, validating and rendering a center's YAML configuration (config/load.h).
//
// The parser walks the document once, checking every map against the keys it may hold
// and every value against its rule; each problem becomes a ConfigError at the node's
// mark and the walk goes on, so one run reports everything. Section parsers return
// nothing on error: the caller only needs to know the error was recorded.
#include "config/load.h"

#include "config/yaml_document.h"

#include <arpa/inet.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <sstream>
#include <type_traits>
#include <vector>

#include "core/accelerator.h"
#include "core/ids.h"

namespace edwc::config {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// The eight national computing hubs of the "East Data, West Computing" plan.
constexpr std::string_view kHubs[] = {
    "jing-jin-ji",    "yangtze-delta", "greater-bay", "chengdu-chongqing",
    "inner-mongolia", "guizhou",       "gansu",       "ningxia"};
constexpr std::string_view kRoles[] = {"viewer", "broker", "finance", "operator"};
constexpr std::string_view kTopKeys[] = {"center",   "listen",  "tls",  "storage",    "server",
                                         "capacity", "pricing", "auth", "federation", "jobs",
                                         "datasets", "credit",  "log",  "rate_limits"};
// In core::LogLevel and core::LogFormat order.
constexpr std::string_view kLogLevels[] = {"debug", "info", "warn", "error"};
constexpr std::string_view kLogFormats[] = {"text", "json"};

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;
constexpr uint64_t kGiB = 1024 * kMiB;
constexpr int kMinutesPerDay = 24 * 60;

// ---------------------------------------------------------------------------------------
// Text helpers.

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean "x"?)" when one candidate is within two edits of `got`, else "".
template <typename Range>
std::string Hint(std::string_view got, const Range& candidates) {
  std::string_view best;
  size_t best_distance = 3;
  for (std::string_view candidate : candidates) {
    size_t distance = EditDistance(got, candidate);
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best.empty() ? "" : " (did you mean " + Quoted(best) + "?)";
}

template <typename Range>
std::string JoinNames(const Range& names) {
  std::string out;
  for (std::string_view name : names) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string At(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::optional<int64_t> ParseInteger(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Splits "16KiB" into 16 and "KiB". The number is plain decimal digits.
bool SplitUnit(std::string_view text, uint64_t* number, std::string_view* unit) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, *number);
  *unit = text.substr(digits);
  return ec == std::errc() && end == text.data() + digits;
}

std::optional<uint64_t> ParseSize(std::string_view text) {
  uint64_t number = 0;
  std::string_view unit;
  if (!SplitUnit(text, &number, &unit)) return std::nullopt;
  uint64_t scale = 0;
  if (unit.empty() || unit == "B") scale = 1;
  if (unit == "KiB") scale = kKiB;
  if (unit == "MiB") scale = kMiB;
  if (unit == "GiB") scale = kGiB;
  if (scale == 0 || number > UINT64_MAX / scale) return std::nullopt;
  return number * scale;
}

std::optional<milliseconds> ParseDuration(std::string_view text) {
  uint64_t number = 0;
  std::string_view unit;
  if (!SplitUnit(text, &number, &unit)) return std::nullopt;
  int64_t scale = 0;
  if (unit == "ms") scale = 1;
  if (unit == "s") scale = 1000;
  if (unit == "m") scale = 60 * 1000;
  if (unit == "h") scale = 60 * 60 * 1000;
  // 2^40 ms is about 35 years: far beyond any limit, far below overflow.
  if (scale == 0 || number > (uint64_t{1} << 40)) return std::nullopt;
  return milliseconds(static_cast<int64_t>(number) * scale);
}

// "HH:MM" to minutes of the day; "24:00" only when `is_end`.
std::optional<int> ParseClock(std::string_view text, bool is_end) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  auto hours = ParseInteger(text.substr(0, 2));
  auto minutes = ParseInteger(text.substr(3, 2));
  if (!hours || !minutes || text[0] == '-' || text[3] == '-' || *minutes > 59) return std::nullopt;
  int minute = static_cast<int>(*hours * 60 + *minutes);
  if (minute < kMinutesPerDay || (is_end && minute == kMinutesPerDay)) return minute;
  return std::nullopt;
}

std::string FormatClock(int minute) {
  char out[32];
  std::snprintf(out, sizeof out, "%02d:%02d", minute / 60, minute % 60);
  return out;
}

std::string FormatSize(uint64_t bytes) {
  if (bytes != 0 && bytes % kGiB == 0) return std::to_string(bytes / kGiB) + "GiB";
  if (bytes != 0 && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "MiB";
  if (bytes != 0 && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + "KiB";
  return std::to_string(bytes);
}

std::string FormatDuration(milliseconds duration) {
  int64_t ms = duration.count();
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// Shortest text that reads back as the same double.
std::string FormatDegrees(double value) {
  char out[32];
  auto [end, ec] = std::to_chars(out, out + sizeof out, value);
  return ec == std::errc() ? std::string(out, end) : "0";
}

// A double-quoted YAML scalar; safe for any text.
std::string YamlQuoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\x%02X", byte);
      out += escape;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The family and raw bytes of an IPv4 or IPv6 literal; nullopt if it is neither.
std::optional<std::string> AddressBytes(std::string_view text) {
  std::string host(text);
  unsigned char raw[16];
  if (inet_pton(AF_INET, host.c_str(), raw) == 1) return "4" + std::string(raw, raw + 4);
  if (inet_pton(AF_INET6, host.c_str(), raw) == 1) return "6" + std::string(raw, raw + 16);
  return std::nullopt;
}

bool IsWildcard(const std::string& bytes) {
  return std::all_of(bytes.begin() + 1, bytes.end(), [](char c) { return c == 0; });
}

bool IsLowerHex64(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

bool IsZoneName(std::string_view text) {
  return !text.empty() && text.size() <= 63 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool IsTokenName(std::string_view text) {
  return !text.empty() && text.size() <= 64 && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
           c == '@';
  });
}

// An error message when `path` is not a regular file this process can read.
std::optional<std::string> UnreadableFileReason(const fs::path& path) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) return "file not found: " + path.string();
  if (!fs::is_regular_file(status)) return "not a regular file: " + path.string();
  if (::access(path.c_str(), R_OK) != 0) {
    return "cannot read " + path.string() + ": " + std::strerror(errno);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// Value rules. Each takes the scalar's text, returns the value or nullopt with `why` set.

auto AnyText() {
  return [](std::string_view text, std::string* why) -> std::optional<std::string> {
    if (!text.empty()) return std::string(text);
    *why = "must not be empty";
    return std::nullopt;
  };
}

auto TextMatching(bool (*valid)(std::string_view), std::string rule) {
  return [valid, rule](std::string_view text, std::string* why) -> std::optional<std::string> {
    if (valid(text)) return std::string(text);
    *why = Quoted(text) + " is not valid: " + rule;
    return std::nullopt;
  };
}

template <typename Range>
auto OneOf(const Range& names) {
  return [&names](std::string_view text, std::string* why) -> std::optional<std::string> {
    for (std::string_view name : names) {
      if (text == name) return std::string(text);
    }
    *why = Quoted(text) + " is not one of " + JoinNames(names) + Hint(text, names);
    return std::nullopt;
  };
}

// YAML 1.2's booleans only: "yes", "on" and "1" are refused rather than guessed at.
auto Boolean() {
  return [](std::string_view text, std::string* why) -> std::optional<bool> {
    if (text == "true") return true;
    if (text == "false") return false;
    *why = Quoted(text) + " is not true or false";
    return std::nullopt;
  };
}

auto IntegerIn(int64_t low, int64_t high) {
  return [low, high](std::string_view text, std::string* why) -> std::optional<int64_t> {
    auto value = ParseInteger(text);
    if (!value) {
      *why = Quoted(text) + " is not an integer";
    } else if (*value < low || *value > high) {
      *why = Quoted(text) + " is out of range " + std::to_string(low) + ".." + std::to_string(high);
    } else {
      return value;
    }
    return std::nullopt;
  };
}

auto SizeIn(uint64_t low, uint64_t high) {
  return [low, high](std::string_view text, std::string* why) -> std::optional<uint64_t> {
    auto value = ParseSize(text);
    if (!value) {
      *why =
          Quoted(text) + " is not a size: an integer of bytes, optionally with B, KiB, MiB or GiB";
    } else if (*value < low || *value > high) {
      *why = Quoted(text) + " is out of range " + FormatSize(low) + ".." + FormatSize(high);
    } else {
      return value;
    }
    return std::nullopt;
  };
}

auto DurationIn(milliseconds low, milliseconds high) {
  return [low, high](std::string_view text, std::string* why) -> std::optional<milliseconds> {
    auto value = ParseDuration(text);
    if (!value) {
      *why = Quoted(text) + " is not a duration: an integer with unit ms, s, m or h (e.g. 15s)";
    } else if (*value < low || *value > high) {
      *why = Quoted(text) + " is out of range " + FormatDuration(low) + ".." + FormatDuration(high);
    } else {
      return value;
    }
    return std::nullopt;
  };
}

// Money from the scalar's text (never through a double), at least `min_fen`.
auto AmountAtLeast(int64_t min_fen) {
  return [min_fen](std::string_view text, std::string* why) -> std::optional<core::Money> {
    auto amount = core::Money::ParseYuan(text);
    if (!amount.ok()) {
      *why = Quoted(text) +
             " is not a CNY amount: a decimal with at most two decimals, e.g. \"18.00\"";
    } else if (amount->fen() < min_fen) {
      *why = Quoted(text) + (min_fen == 0 ? " must not be negative" : " must be more than 0");
    } else {
      return *amount;
    }
    return std::nullopt;
  };
}

auto DegreesWithin(double limit) {
  return [limit](std::string_view text, std::string* why) -> std::optional<double> {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
      *why = Quoted(text) + " is not a number of degrees";
    } else if (std::fabs(value) > limit) {
      *why =
          Quoted(text) + " is out of range -" + FormatDegrees(limit) + ".." + FormatDegrees(limit);
    } else {
      return value;
    }
    return std::nullopt;
  };
}

auto ClockTime(bool is_end) {
  return [is_end](std::string_view text, std::string* why) -> std::optional<int> {
    if (auto minute = ParseClock(text, is_end)) return minute;
    *why =
        Quoted(text) + " is not a time of day: \"HH:MM\", 00:00.." + (is_end ? "24:00" : "23:59");
    return std::nullopt;
  };
}

// ---------------------------------------------------------------------------------------
// The checked walk.

std::pair<int, int> Position(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return {0, 0};
  return {mark.line + 1, mark.column + 1};
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Scalar:
      return "a scalar (" + Quoted(node.Scalar()) + ")";
    default:
      return "nothing";
  }
}

// A value in the document and its dotted path.
struct Field {
  YAML::Node node;
  std::string path;
};

// A YAML map whose keys were checked against those it may hold.
struct CheckedMap {
  YAML::Node node;
  std::string path;
  std::map<std::string, Field, std::less<>> fields;
};

enum class Presence { kRequired, kOptional };

// A listener's address and port as parsed, for the api/peer clash check.
struct ParsedListener {
  std::optional<std::string> address_bytes;
  std::optional<int64_t> port;
  std::optional<Field> port_field;
};

class ConfigParser {
 public:
  ConfigParser(std::string file, fs::path base_dir)
      : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  CenterConfig Parse(const YAML::Node& root);
  void Fail(const YAML::Node& at, const std::string& key, std::string message) {
    FailAt(at.Mark(), key, std::move(message));
  }
  void FailAt(const YAML::Mark& mark, const std::string& key, std::string message);
  std::vector<ConfigError> TakeErrors() { return std::move(errors_); }

 private:
  template <typename Range>
  std::optional<CheckedMap> Map(const YAML::Node& node, const std::string& path, const Range& keys);
  std::optional<CheckedMap> Map(const Field& field, std::initializer_list<std::string_view> keys) {
    return Map(field.node, field.path, keys);
  }
  std::optional<Field> Find(const CheckedMap& map, std::string_view key,
                            Presence presence = Presence::kRequired);
  bool IsSequence(const Field& field);

  // The value of `key` in `map` under `rule`; nullopt after recording why.
  template <typename Rule>
  auto Get(const CheckedMap& map, std::string_view key, Rule rule,
           Presence presence = Presence::kRequired)
      -> std::invoke_result_t<Rule, std::string_view, std::string*>;

  void ParseCenter(const Field& field, CenterIdentity* out);
  void ParseListen(const Field& field, Listener* api, Listener* peer);
  ParsedListener ParseListener(const Field& field, Listener* out);
  void ParseTls(const Field& field, TlsFiles* out);
  std::optional<std::string> ParsePath(const CheckedMap& map, std::string_view key);
  void ParseStorage(const Field& field, StorageConfig* out);
  void ParseServer(const Field& field, ServerLimits* out);
  void ParseCapacity(const Field& field, CapacityConfig* out);
  void ParseInventory(const Field& field, std::vector<InventoryEntry>* out);
  void ParsePricing(const Field& field, PriceList* out);
  std::optional<std::string> ParseModelId(const CheckedMap& map);
  void ParseModelPrice(const Field& field, std::vector<ModelPrice>* out);
  void ParseTimeOfUse(const Field& field, std::vector<core::TimeOfUseWindow>* out);
  void ParseAuth(const Field& field, std::vector<TokenEntry>* out);
  void ParseSlurm(const Field& field, SlurmConfig* out);
  void ParseFederation(const Field& field, FederationConfig* out);
  void ParseJobs(const Field& field, JobSettings* out);
  void ParseCredit(const Field& field, CreditConfig* out);
  void ParseLog(const Field& field, core::LogSettings* out);
  void ParseRateLimits(const Field& field, RateLimits* out);
  void ParseRateLimit(const Field& field, RateLimit* out);
  void ParseDatasets(const Field& field, DatasetSettings* out);
  void ParseResidency(const Field& field, std::vector<core::ResidencyRule>* out);
  std::vector<std::string> ParseList(
      const Field& field,
      const std::function<std::optional<std::string>(std::string_view, std::string*)>& rule);
  void ParseToken(const Field& field, std::map<std::string, std::string>* seen_names,
                  std::map<std::string, std::string>* seen_hashes, std::vector<TokenEntry>* out);

  std::string file_;
  fs::path base_dir_;
  std::vector<ConfigError> errors_;
  // Valid inventory models and where they are, for the pricing cross-checks; set only
  // when capacity.inventory was a sequence (so its errors do not cascade into pricing).
  std::optional<std::map<std::string, std::string, std::less<>>> inventory_models_;
};

void ConfigParser::FailAt(const YAML::Mark& mark, const std::string& key, std::string message) {
  auto [line, column] = Position(mark);
  errors_.push_back(ConfigError{file_, line, column, key, std::move(message)});
}

template <typename Range>
std::optional<CheckedMap> ConfigParser::Map(const YAML::Node& node, const std::string& path,
                                            const Range& keys) {
  if (!node.IsMap()) {
    Fail(node, path, "expected a map, got " + Describe(node));
    return std::nullopt;
  }
  CheckedMap map{node, path, {}};
  for (auto it = node.begin(); it != node.end(); ++it) {
    // Copies: yaml-cpp's iterator hands out a proxy that dies with the expression, so a
    // reference to it->first dangles (ASan: stack-use-after-scope).
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    if (!key.IsScalar()) {
      Fail(key, path, "a key must be plain text, not " + Describe(key));
      continue;
    }
    const std::string& name = key.Scalar();
    std::string key_path = Join(path, name);
    if (std::find(std::begin(keys), std::end(keys), name) == std::end(keys)) {
      Fail(key, key_path, "unknown key" + Hint(name, keys));
      continue;
    }
    auto [previous, inserted] = map.fields.emplace(name, Field{value, key_path});
    if (!inserted) {
      int first_line = Position(previous->second.node.Mark()).first;
      Fail(key, key_path, "duplicate key (first at line " + std::to_string(first_line) + ")");
    }
  }
  return map;
}

std::optional<Field> ConfigParser::Find(const CheckedMap& map, std::string_view key,
                                        Presence presence) {
  auto it = map.fields.find(key);
  // An optional key with an empty value (`server:`) means "all defaults".
  if (it != map.fields.end() && (presence == Presence::kRequired || !it->second.node.IsNull())) {
    return it->second;
  }
  if (presence == Presence::kRequired) Fail(map.node, Join(map.path, key), "missing required key");
  return std::nullopt;
}

bool ConfigParser::IsSequence(const Field& field) {
  if (field.node.IsSequence()) return true;
  Fail(field.node, field.path,
       "expected a sequence (a list of \"- \" items), got " + Describe(field.node));
  return false;
}

template <typename Rule>
auto ConfigParser::Get(const CheckedMap& map, std::string_view key, Rule rule, Presence presence)
    -> std::invoke_result_t<Rule, std::string_view, std::string*> {
  auto field = Find(map, key, presence);
  if (!field) return std::nullopt;
  if (!field->node.IsScalar()) {
    Fail(field->node, field->path, "expected a scalar value, got " + Describe(field->node));
    return std::nullopt;
  }
  std::string why;
  auto value = rule(field->node.Scalar(), &why);
  if (!value) Fail(field->node, field->path, why);
  return value;
}

CenterConfig ConfigParser::Parse(const YAML::Node& root) {
  CenterConfig config;
  auto top = Map(root, "", kTopKeys);
  if (!top) return config;
  if (auto f = Find(*top, "center")) ParseCenter(*f, &config.center);
  if (auto f = Find(*top, "listen")) ParseListen(*f, &config.api, &config.peer);
  if (auto f = Find(*top, "tls")) ParseTls(*f, &config.tls);
  if (auto f = Find(*top, "storage")) ParseStorage(*f, &config.storage);
  if (auto f = Find(*top, "server", Presence::kOptional)) ParseServer(*f, &config.server);
  if (auto f = Find(*top, "capacity")) ParseCapacity(*f, &config.capacity);
  if (auto f = Find(*top, "pricing")) ParsePricing(*f, &config.pricing);
  if (auto f = Find(*top, "auth")) ParseAuth(*f, &config.tokens);
  if (auto f = Find(*top, "federation", Presence::kOptional)) {
    ParseFederation(*f, &config.federation);
  }
  if (auto f = Find(*top, "jobs", Presence::kOptional)) ParseJobs(*f, &config.jobs);
  if (config.jobs.work_dir.empty() && !config.storage.path.empty()) {
    config.jobs.work_dir = config.storage.path + ".jobs";
  }
  if (auto f = Find(*top, "datasets", Presence::kOptional)) ParseDatasets(*f, &config.datasets);
  if (config.datasets.dir.empty() && !config.storage.path.empty()) {
    config.datasets.dir = config.storage.path + ".datasets";
  }
  if (auto f = Find(*top, "credit", Presence::kOptional)) ParseCredit(*f, &config.credit);
  if (auto f = Find(*top, "log", Presence::kOptional)) ParseLog(*f, &config.log);
  if (auto f = Find(*top, "rate_limits", Presence::kOptional)) {
    ParseRateLimits(*f, &config.rate_limits);
  }
  return config;
}

void ConfigParser::ParseCenter(const Field& field, CenterIdentity* out) {
  auto m =
      Map(field, {"id", "name", "hub", "city", "zone", "location", "green_share_percent", "pue"});
  if (!m) return;
  if (auto green = Get(*m, "green_share_percent", IntegerIn(0, 100), Presence::kOptional)) {
    out->green_share_permille = static_cast<int32_t>(*green * 10);
  }
  auto pue = Get(
      *m, "pue",
      [](std::string_view text, std::string* why) -> std::optional<int32_t> {
        auto amount = core::Money::ParseYuan(text);  // a decimal with at most two places
        if (amount.ok() && amount->fen() >= 100 && amount->fen() <= 500) {
          return static_cast<int32_t>(amount->fen() * 10);
        }
        *why = Quoted(text) + " is not a PUE: a decimal from 1.00 to 5.00, e.g. \"1.20\"";
        return std::nullopt;
      },
      Presence::kOptional);
  if (pue) out->pue_milli = *pue;
  auto id = Get(*m, "id",
                TextMatching(core::IsValidCenterId,
                             "a center id is 1-63 characters of [a-z0-9-], starting with a "
                             "letter and not ending with '-'"));
  if (id) out->id = *id;
  if (auto name = Get(*m, "name", AnyText())) out->name = *name;
  if (auto hub = Get(*m, "hub", OneOf(kHubs))) out->hub = *hub;
  if (auto city = Get(*m, "city", AnyText())) out->city = *city;
  auto zone = Get(*m, "zone", TextMatching(IsZoneName, "a zone is 1-63 characters of [a-z0-9-]"));
  if (zone) out->zone = *zone;
  auto location = Find(*m, "location");
  if (!location) return;
  auto loc = Map(*location, {"lat", "lon"});
  if (!loc) return;
  if (auto lat = Get(*loc, "lat", DegreesWithin(90))) out->location.lat = *lat;
  if (auto lon = Get(*loc, "lon", DegreesWithin(180))) out->location.lon = *lon;
}

ParsedListener ConfigParser::ParseListener(const Field& field, Listener* out) {
  ParsedListener parsed;
  auto m = Map(field, {"address", "port"});
  if (!m) return parsed;
  auto address = Get(*m, "address",
                     TextMatching([](std::string_view t) { return AddressBytes(t).has_value(); },
                                  "expected an IPv4 or IPv6 address literal"));
  if (address) {
    out->address = *address;
    parsed.address_bytes = AddressBytes(*address);
  }
  parsed.port = Get(*m, "port", IntegerIn(0, 65535));
  if (parsed.port) {
    out->port = static_cast<uint16_t>(*parsed.port);
    parsed.port_field = m->fields.at("port");
  }
  return parsed;
}

void ConfigParser::ParseListen(const Field& field, Listener* api, Listener* peer) {
  auto m = Map(field, {"api", "peer"});
  if (!m) return;
  ParsedListener a, p;
  if (auto f = Find(*m, "api")) a = ParseListener(*f, api);
  if (auto f = Find(*m, "peer")) p = ParseListener(*f, peer);
  if (!a.address_bytes || !p.address_bytes || !a.port || !p.port || *a.port == 0) return;
  // A wildcard address binds every interface of its family, so it clashes with any other.
  bool same_host = *a.address_bytes == *p.address_bytes || IsWildcard(*a.address_bytes) ||
                   IsWildcard(*p.address_bytes);
  if (*a.port == *p.port && same_host) {
    Fail(p.port_field->node, p.port_field->path,
         "peer " + peer->address + ":" + std::to_string(*p.port) + " clashes with api " +
             api->address + ":" + std::to_string(*a.port) + "; give them different ports");
  }
}

std::optional<std::string> ConfigParser::ParsePath(const CheckedMap& map, std::string_view key) {
  auto text = Get(map, key, AnyText());
  if (!text) return std::nullopt;
  fs::path path(*text);
  if (path.is_relative()) path = base_dir_ / path;
  return path.lexically_normal().string();
}

void ConfigParser::ParseTls(const Field& field, TlsFiles* out) {
  auto m = Map(field, {"ca", "cert", "key"});
  if (!m) return;
  std::pair<const char*, std::string*> files[] = {
      {"ca", &out->ca}, {"cert", &out->cert}, {"key", &out->key}};
  for (auto [key, dest] : files) {
    auto path = ParsePath(*m, key);
    if (!path) continue;
    *dest = *path;
    if (auto reason = UnreadableFileReason(*path)) {
      const Field& f = m->fields.at(key);
      Fail(f.node, f.path, *reason);
    }
  }
}

void ConfigParser::ParseStorage(const Field& field, StorageConfig* out) {
  auto m = Map(field, {"path"});
  if (!m) return;
  auto path = ParsePath(*m, "path");
  if (!path) return;
  out->path = *path;
  // The agent creates the directory at start; here it only must not be something else.
  std::error_code ec;
  if (fs::exists(*path, ec) && !fs::is_directory(*path, ec)) {
    const Field& f = m->fields.at("path");
    Fail(f.node, f.path, "exists and is not a directory: " + *path);
  }
}

void ConfigParser::ParseServer(const Field& field, ServerLimits* out) {
  auto m = Map(field, {"io_threads", "max_connections", "header_limit", "url_limit", "body_limit",
                       "handshake_timeout", "read_timeout", "write_timeout", "idle_timeout",
                       "drain_timeout"});
  if (!m) return;
  constexpr auto kOpt = Presence::kOptional;
  if (auto v = Get(*m, "io_threads", IntegerIn(1, 64), kOpt))
    out->io_threads = static_cast<int>(*v);
  auto connections = Get(*m, "max_connections", IntegerIn(1, 1000000), kOpt);
  if (connections) out->max_connections = static_cast<int>(*connections);
  auto header = Get(*m, "header_limit", SizeIn(kKiB, kMiB), kOpt);
  if (header) out->header_limit_bytes = static_cast<uint32_t>(*header);
  // The request target is part of the header: by default at most the header limit.
  out->url_limit_bytes = std::min(out->url_limit_bytes, out->header_limit_bytes);
  if (auto v = Get(*m, "url_limit", SizeIn(256, kMiB), kOpt)) {
    out->url_limit_bytes = static_cast<uint32_t>(*v);
    if (*v > out->header_limit_bytes) {
      const Field& f = m->fields.at("url_limit");
      Fail(f.node, f.path,
           "must not be over header_limit (" + std::to_string(out->header_limit_bytes) + " bytes)");
    }
  }
  if (auto v = Get(*m, "body_limit", SizeIn(kKiB, kGiB), kOpt)) out->body_limit_bytes = *v;
  const milliseconds kMin(1), kMax(std::chrono::hours(24));
  std::pair<const char*, milliseconds*> timeouts[] = {
      {"handshake_timeout", &out->handshake_timeout},
      {"read_timeout", &out->read_timeout},
      {"write_timeout", &out->write_timeout},
      {"idle_timeout", &out->idle_timeout},
      {"drain_timeout", &out->drain_timeout}};
  for (auto [key, dest] : timeouts) {
    if (auto v = Get(*m, key, DurationIn(kMin, kMax), kOpt)) *dest = *v;
  }
}

void ConfigParser::ParseCapacity(const Field& field, CapacityConfig* out) {
  auto m = Map(field, {"source", "inventory", "slurm"});
  if (!m) return;
  auto source = Get(*m, "source", [](std::string_view text, std::string* why) {
    std::optional<CapacityConfig::Source> value;
    if (text == "static") {
      value = CapacityConfig::Source::kStatic;
    } else if (text == "slurm") {
      value = CapacityConfig::Source::kSlurm;
    } else {
      *why = Quoted(text) + " is not a capacity source; expected \"static\" or \"slurm\"";
    }
    return value;
  });
  if (source) out->source = *source;
  const bool slurm = source == CapacityConfig::Source::kSlurm;
  // The source decides which of the two is required; the other is refused, so that a
  // config never carries an inventory that is silently ignored.
  for (auto [key, wanted] : {std::pair{"inventory", !slurm}, std::pair{"slurm", slurm}}) {
    auto it = m->fields.find(std::string_view(key));
    if (!wanted && it != m->fields.end() && source) {
      Fail(it->second.node, it->second.path,
           std::string("not used with source ") + (slurm ? "slurm" : "static"));
    }
  }
  if (!slurm) {
    if (auto inventory = Find(*m, "inventory")) ParseInventory(*inventory, &out->inventory);
  } else if (auto f = Find(*m, "slurm")) {
    ParseSlurm(*f, &out->slurm);
  }
}

void ConfigParser::ParseSlurm(const Field& field, SlurmConfig* out) {
  auto m = Map(field, {"socket", "refresh", "gres"});
  if (!m) return;
  if (auto socket = ParsePath(*m, "socket")) out->socket = *socket;
  auto refresh =
      Get(*m, "refresh", DurationIn(milliseconds(100), std::chrono::hours(1)), Presence::kOptional);
  if (refresh) out->refresh = *refresh;
  auto gres = Find(*m, "gres");
  if (!gres) return;
  if (!gres->node.IsMap() || gres->node.size() == 0) {
    Fail(gres->node, gres->path,
         "expected a map of Slurm GRES type to catalog model, e.g. {a100: a100-80g}");
    return;
  }
  inventory_models_.emplace();
  for (auto it = gres->node.begin(); it != gres->node.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    const std::string type = key.IsScalar() ? key.Scalar() : std::string();
    const std::string path = Join(gres->path, type);
    if (type.empty() || !value.IsScalar()) {
      Fail(key, path, "expected `gres_type: catalog_model`");
      continue;
    }
    CheckedMap one{gres->node, gres->path, {}};
    one.fields.emplace("model", Field{value, path});
    if (auto model = ParseModelId(one)) {
      auto [previous, inserted] = inventory_models_->emplace(*model, path);
      if (!inserted) {
        Fail(value, path,
             "model " + *model + " is mapped twice (also at " + previous->second + ")");
      }
      out->gres_models.emplace_back(type, *model);
    }
  }
}

std::vector<std::string> ConfigParser::ParseList(
    const Field& field,
    const std::function<std::optional<std::string>(std::string_view, std::string*)>& rule) {
  std::vector<std::string> out;
  if (!IsSequence(field)) return out;
  for (size_t i = 0; i < field.node.size(); ++i) {
    const YAML::Node item = field.node[i];
    const std::string path = At(field.path, i);
    if (!item.IsScalar()) {
      Fail(item, path, "expected a scalar value, got " + Describe(item));
      continue;
    }
    std::string why;
    if (auto value = rule(item.Scalar(), &why)) {
      out.push_back(*value);
    } else {
      Fail(item, path, why);
    }
  }
  return out;
}

void ConfigParser::ParseFederation(const Field& field, FederationConfig* out) {
  auto m = Map(field, {"seeds", "revoked", "links", "gossip"});
  if (!m) return;
  constexpr auto kOpt = Presence::kOptional;
  if (auto seeds = Find(*m, "seeds", kOpt)) {
    out->seeds = ParseList(*seeds, [](std::string_view text, std::string* why) {
      std::optional<std::string> value;
      if (text.rfind("https://", 0) == 0 && text.size() > 8 && text.back() != '/') {
        value = std::string(text);
      } else {
        *why = Quoted(text) + " is not a peer URL: expected https://host:port";
      }
      return value;
    });
  }
  if (auto revoked = Find(*m, "revoked", kOpt)) {
    out->revoked = ParseList(*revoked, TextMatching(core::IsValidCenterId, "expected a center id"));
  }
  if (auto links = Find(*m, "links", kOpt); links && IsSequence(*links)) {
    for (size_t i = 0; i < links->node.size(); ++i) {
      auto link =
          Map(Field{links->node[i], At(links->path, i)}, {"center", "bandwidth_mbps", "rtt_ms"});
      if (!link) continue;
      LinkConfig l;
      if (auto c =
              Get(*link, "center", TextMatching(core::IsValidCenterId, "expected a center id")))
        l.center = *c;
      if (auto b = Get(*link, "bandwidth_mbps", IntegerIn(1, 10'000'000))) l.bandwidth_mbps = *b;
      if (auto r = Get(*link, "rtt_ms", IntegerIn(0, 60'000))) l.rtt_ms = static_cast<int32_t>(*r);
      out->links.push_back(l);
    }
  }
  if (auto gossip = Find(*m, "gossip", kOpt)) {
    auto g = Map(*gossip, {"fanout", "round", "anti_entropy", "advert_ttl", "refresh"});
    if (!g) return;
    GossipSettings& o = out->gossip;
    if (auto v = Get(*g, "fanout", IntegerIn(1, 16), kOpt)) o.fanout = static_cast<int>(*v);
    const milliseconds kMin(10), kMax(std::chrono::hours(1));
    std::pair<const char*, milliseconds*> durations[] = {{"round", &o.round},
                                                         {"anti_entropy", &o.anti_entropy},
                                                         {"advert_ttl", &o.advert_ttl},
                                                         {"refresh", &o.refresh}};
    for (auto [key, dest] : durations) {
      if (auto v = Get(*g, key, DurationIn(kMin, kMax), kOpt)) *dest = *v;
    }
    if (o.refresh >= o.advert_ttl) {
      Fail(gossip->node, Join(gossip->path, "refresh"),
           "refresh (" + FormatDuration(o.refresh) + ") must be shorter than advert_ttl (" +
               FormatDuration(o.advert_ttl) + "), or adverts expire between refreshes");
    }
  }
}

void ConfigParser::ParseJobs(const Field& field, JobSettings* out) {
  auto m = Map(field, {"work_dir", "hold_ttl", "poll"});
  if (!m) return;
  constexpr auto kOpt = Presence::kOptional;
  if (m->fields.contains(std::string_view("work_dir"))) {
    if (auto path = ParsePath(*m, "work_dir")) out->work_dir = *path;
  }
  if (auto v = Get(*m, "hold_ttl", DurationIn(milliseconds(1000), milliseconds(300000)), kOpt)) {
    out->hold_ttl = *v;
  }
  if (auto v = Get(*m, "poll", DurationIn(milliseconds(100), milliseconds(60000)), kOpt)) {
    out->poll = *v;
  }
}

void ConfigParser::ParseDatasets(const Field& field, DatasetSettings* out) {
  auto m = Map(field, {"dir", "chunk_size", "streams", "residency"});
  if (!m) return;
  constexpr auto kOpt = Presence::kOptional;
  if (m->fields.contains(std::string_view("dir"))) {
    if (auto path = ParsePath(*m, "dir")) out->dir = *path;
  }
  if (auto v = Get(*m, "chunk_size", SizeIn(core::kMinChunkSize, core::kMaxChunkSize), kOpt)) {
    out->chunk_size_bytes = static_cast<int64_t>(*v);
  }
  if (auto v = Get(*m, "streams", IntegerIn(1, 64), kOpt)) out->streams = static_cast<int32_t>(*v);
  if (auto f = Find(*m, "residency", kOpt)) ParseResidency(*f, &out->residency);
}

void ConfigParser::ParseResidency(const Field& field, std::vector<core::ResidencyRule>* out) {
  if (!IsSequence(field)) return;
  auto zone = TextMatching(IsZoneName, "a zone is 1-63 characters of [a-z0-9-]");
  std::map<std::string, std::string> seen;  // rule name -> path of its first use
  for (size_t i = 0; i < field.node.size(); ++i) {
    auto item =
        Map(Field{field.node[i], At(field.path, i)}, {"name", "zones", "tags", "allow_zones"});
    if (!item) continue;
    core::ResidencyRule rule;
    auto name =
        Get(*item, "name", TextMatching(IsZoneName, "a rule name is 1-63 characters of [a-z0-9-]"));
    if (name) {
      const Field& f = item->fields.at("name");
      auto [previous, inserted] = seen.emplace(*name, f.path);
      if (!inserted)
        Fail(f.node, f.path, "duplicate rule " + *name + " (also at " + previous->second + ")");
      rule.name = *name;
    }
    if (auto f = Find(*item, "zones", Presence::kOptional)) rule.zones = ParseList(*f, zone);
    if (auto f = Find(*item, "tags", Presence::kOptional)) {
      rule.tags = ParseList(*f, TextMatching(IsZoneName, "a tag is 1-63 characters of [a-z0-9-]"));
    }
    if (auto f = Find(*item, "allow_zones")) rule.allow_zones = ParseList(*f, zone);
    out->push_back(std::move(rule));
  }
}

void ConfigParser::ParseCredit(const Field& field, CreditConfig* out) {
  auto m = Map(field, {"default_limit", "limits"});
  if (!m) return;
  if (auto v = Get(*m, "default_limit", AmountAtLeast(0), Presence::kOptional)) {
    out->has_default = true;
    out->default_limit = *v;
  }
  auto limits = Find(*m, "limits", Presence::kOptional);
  if (!limits || !IsSequence(*limits)) return;
  std::map<std::string, std::string> seen;  // center -> path of its first limit
  for (size_t i = 0; i < limits->node.size(); ++i) {
    auto item = Map(Field{limits->node[i], At(limits->path, i)}, {"center", "limit"});
    if (!item) continue;
    auto center = Get(*item, "center", TextMatching(core::IsValidCenterId, "expected a center id"));
    auto limit = Get(*item, "limit", AmountAtLeast(0));
    if (!center || !limit) continue;
    const Field& f = item->fields.at("center");
    auto [previous, inserted] = seen.emplace(*center, f.path);
    if (!inserted) {
      Fail(f.node, f.path,
           "duplicate limit for " + *center + " (also at " + previous->second + ")");
      continue;
    }
    out->limits.push_back(CreditLimit{*center, *limit});
  }
}

void ConfigParser::ParseLog(const Field& field, core::LogSettings* out) {
  auto m = Map(field, {"format", "level", "access"});
  if (!m) return;
  constexpr auto kOpt = Presence::kOptional;
  const auto index = [](const auto& names, std::string_view name) {
    return std::find(std::begin(names), std::end(names), name) - std::begin(names);
  };
  if (auto v = Get(*m, "format", OneOf(kLogFormats), kOpt)) {
    out->format = static_cast<core::LogFormat>(index(kLogFormats, *v));
  }
  if (auto v = Get(*m, "level", OneOf(kLogLevels), kOpt)) {
    out->level = static_cast<core::LogLevel>(index(kLogLevels, *v));
  }
  if (auto v = Get(*m, "access", Boolean(), kOpt)) out->access = *v;
}

void ConfigParser::ParseRateLimits(const Field& field, RateLimits* out) {
  auto m = Map(field, {"per_token", "per_peer"});
  if (!m) return;
  if (auto f = Find(*m, "per_token", Presence::kOptional)) ParseRateLimit(*f, &out->per_token);
  if (auto f = Find(*m, "per_peer", Presence::kOptional)) ParseRateLimit(*f, &out->per_peer);
}

void ConfigParser::ParseRateLimit(const Field& field, RateLimit* out) {
  auto m = Map(field, {"per_second", "burst"});
  if (!m) return;
  if (auto v = Get(*m, "per_second", IntegerIn(1, 10000000))) {
    out->per_second = static_cast<uint32_t>(*v);
    out->burst = out->per_second;
  }
  if (auto v = Get(*m, "burst", IntegerIn(1, 10000000), Presence::kOptional)) {
    out->burst = static_cast<uint32_t>(*v);
  }
}

void ConfigParser::ParseInventory(const Field& field, std::vector<InventoryEntry>* out) {
  if (!IsSequence(field)) return;
  inventory_models_.emplace();
  if (field.node.size() == 0) Fail(field.node, field.path, "must list at least one model");
  for (size_t i = 0; i < field.node.size(); ++i) {
    auto m = Map(Field{field.node[i], At(field.path, i)}, {"model", "count"});
    if (!m) continue;
    InventoryEntry entry;
    auto model = ParseModelId(*m);
    auto count = Get(*m, "count", IntegerIn(1, 1000000));
    if (model) {
      const Field& f = m->fields.at("model");
      auto [previous, inserted] = inventory_models_->emplace(*model, f.path);
      if (!inserted)
        Fail(f.node, f.path, "duplicate model " + *model + " (also at " + previous->second + ")");
      entry.model = *model;
    }
    if (count) entry.count = static_cast<int32_t>(*count);
    out->push_back(entry);
  }
}

// The `model` of an inventory or price entry: an id from the accelerator catalog.
std::optional<std::string> ConfigParser::ParseModelId(const CheckedMap& map) {
  return Get(map, "model", [](std::string_view text, std::string* why) {
    std::optional<std::string> value;
    if (core::FindAccelerator(text) != nullptr) {
      value = std::string(text);
    } else {
      std::vector<std::string_view> ids;
      for (const auto& model : core::AcceleratorCatalog()) ids.push_back(model.id);
      *why = "unknown accelerator model " + Quoted(text) + Hint(text, ids) +
             "; known models: " + JoinNames(ids);
    }
    return value;
  });
}

void ConfigParser::ParsePricing(const Field& field, PriceList* out) {
  auto m = Map(field, {"egress_per_gb", "surge", "models"});
  if (!m) return;
  if (auto egress = Get(*m, "egress_per_gb", AmountAtLeast(0))) out->egress_per_gb = *egress;
  if (auto surge = Find(*m, "surge", Presence::kOptional)) {
    if (auto s = Map(*surge, {"above_percent", "max_extra_percent"})) {
      auto above = Get(*s, "above_percent", IntegerIn(0, 99));
      auto extra = Get(*s, "max_extra_percent", IntegerIn(0, 1000));
      if (above && extra) {
        out->surge =
            core::SurgeRule{static_cast<int32_t>(*above * 10), static_cast<int32_t>(*extra * 10)};
      }
    }
  }
  auto models = Find(*m, "models");
  if (!models || !IsSequence(*models)) return;
  for (size_t i = 0; i < models->node.size(); ++i) {
    ParseModelPrice(Field{models->node[i], At(models->path, i)}, &out->models);
  }
  if (!inventory_models_) return;
  for (const auto& [model, where] : *inventory_models_) {
    bool priced = std::any_of(out->models.begin(), out->models.end(),
                              [&model = model](const ModelPrice& p) { return p.model == model; });
    if (!priced) {
      Fail(models->node, models->path,
           "no price for inventory model " + model + " (" + where + "); every model needs one");
    }
  }
}

void ConfigParser::ParseModelPrice(const Field& field, std::vector<ModelPrice>* out) {
  auto m = Map(field, {"model", "per_device_hour", "time_of_use"});
  if (!m) return;
  ModelPrice price;
  auto model = ParseModelId(*m);
  if (model) {
    const Field& f = m->fields.at("model");
    bool duplicate = std::any_of(out->begin(), out->end(),
                                 [&](const ModelPrice& p) { return p.model == *model; });
    if (duplicate) {
      Fail(f.node, f.path, "duplicate price for model " + *model);
      model.reset();
    } else if (inventory_models_ && !inventory_models_->contains(*model)) {
      Fail(f.node, f.path, "model " + *model + " is not in capacity.inventory");
    }
  }
  auto base = Get(*m, "per_device_hour", AmountAtLeast(1));
  if (base) price.schedule.base_per_device_hour = *base;
  if (auto windows = Find(*m, "time_of_use", Presence::kOptional)) {
    ParseTimeOfUse(*windows, &price.schedule.windows);
  }
  if (!model) return;
  price.model = *model;
  out->push_back(std::move(price));
}

void ConfigParser::ParseTimeOfUse(const Field& field, std::vector<core::TimeOfUseWindow>* out) {
  if (!IsSequence(field)) return;
  std::array<int, kMinutesPerDay> owner;  // which window holds each minute, -1 for none
  owner.fill(-1);
  for (size_t i = 0; i < field.node.size(); ++i) {
    std::string path = At(field.path, i);
    auto m = Map(Field{field.node[i], path}, {"from", "to", "per_device_hour"});
    if (!m) continue;
    auto from = Get(*m, "from", ClockTime(false));
    auto to = Get(*m, "to", ClockTime(true));
    auto price = Get(*m, "per_device_hour", AmountAtLeast(1));
    if (!from || !to || !price) continue;
    if (*from == *to || *to - *from == kMinutesPerDay) {
      const Field& f = m->fields.at("to");
      Fail(f.node, f.path, "must differ from \"from\"; a whole-day price is per_device_hour");
      continue;
    }
    out->push_back(core::TimeOfUseWindow{*from, *to, *price});
    int end = *to > *from ? *to : *to + kMinutesPerDay;
    int taken = *from;
    while (taken < end && owner[taken % kMinutesPerDay] < 0) ++taken;
    if (taken < end) {
      int minute = taken % kMinutesPerDay;
      Fail(m->node, path,
           FormatClock(*from) + "-" + FormatClock(*to) + " overlaps " +
               At(field.path, owner[minute]) + " at " + FormatClock(minute));
      continue;
    }
    for (int minute = *from; minute < end; ++minute) {
      owner[minute % kMinutesPerDay] = static_cast<int>(i);
    }
  }
}

void ConfigParser::ParseAuth(const Field& field, std::vector<TokenEntry>* out) {
  auto m = Map(field, {"tokens"});
  if (!m) return;
  auto tokens = Find(*m, "tokens");
  if (!tokens || !IsSequence(*tokens)) return;
  std::map<std::string, std::string> names, hashes;  // value -> path of first use
  for (size_t i = 0; i < tokens->node.size(); ++i) {
    ParseToken(Field{tokens->node[i], At(tokens->path, i)}, &names, &hashes, out);
  }
}

void ConfigParser::ParseToken(const Field& field, std::map<std::string, std::string>* seen_names,
                              std::map<std::string, std::string>* seen_hashes,
                              std::vector<TokenEntry>* out) {
  auto m = Map(field, {"name", "role", "sha256"});
  if (!m) return;
  TokenEntry token;
  auto name = Get(*m, "name",
                  TextMatching(IsTokenName, "a token name is 1-64 characters of [A-Za-z0-9._@-]"));
  auto role = Get(*m, "role", OneOf(kRoles));
  auto hash = Get(*m, "sha256",
                  TextMatching(IsLowerHex64,
                               "expected 64 lowercase hex digits (SHA-256 of the "
                               "token; e.g. `printf %s TOKEN | sha256sum`)"));
  auto unique = [&](const std::optional<std::string>& value, std::string_view key,
                    std::map<std::string, std::string>* seen) {
    if (!value) return;
    const Field& f = m->fields.at(std::string(key));
    auto [previous, inserted] = seen->emplace(*value, f.path);
    if (!inserted) Fail(f.node, f.path, "same " + std::string(key) + " as " + previous->second);
  };
  unique(name, "name", seen_names);
  unique(hash, "sha256", seen_hashes);
  if (name) token.name = *name;
  if (role) {
    token.role = static_cast<Role>(std::find(std::begin(kRoles), std::end(kRoles), *role) -
                                   std::begin(kRoles));
  }
  if (hash) token.sha256 = *hash;
  out->push_back(token);
}

core::Result<CenterConfig> Finish(CenterConfig config, std::vector<ConfigError> found,
                                  std::vector<ConfigError>* errors) {
  std::stable_sort(found.begin(), found.end(), [](const ConfigError& a, const ConfigError& b) {
    return std::pair(a.line, a.column) < std::pair(b.line, b.column);
  });
  std::string message;
  for (const ConfigError& error : found) {
    if (!message.empty()) message += '\n';
    message += error.ToString();
  }
  if (errors != nullptr) *errors = found;
  if (!found.empty()) return core::InvalidArgument(message);
  return config;
}

}  // namespace

std::string_view RoleName(Role role) { return kRoles[static_cast<size_t>(role)]; }

std::string ConfigError::ToString() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

core::Result<CenterConfig> ParseCenterConfig(std::string_view yaml_text, const std::string& file,
                                             const std::string& base_dir,
                                             std::vector<ConfigError>* errors) {
  std::error_code ec;
  fs::path base = fs::absolute(base_dir.empty() ? fs::path(".") : fs::path(base_dir), ec);
  ConfigParser parser(file, base.lexically_normal());
  CenterConfig config;
  const YamlDocument document = ParseOneYamlDocument(std::string(yaml_text));
  if (document.problem) {
    parser.FailAt(document.mark, "", *document.problem);
  } else if (!document.root) {
    parser.FailAt(YAML::Mark::null_mark(), "",
                  "the file is empty; expected a map with keys " + JoinNames(kTopKeys));
  } else {
    try {
      config = parser.Parse(*document.root);
    } catch (const YAML::Exception& e) {
      parser.FailAt(e.mark, "", e.msg);
      return Finish(CenterConfig(), parser.TakeErrors(), errors);
    }
  }
  return Finish(std::move(config), parser.TakeErrors(), errors);
}

core::Result<CenterConfig> LoadCenterConfig(const std::string& path,
                                            std::vector<ConfigError>* errors) {
  std::error_code ec;
  std::string problem;
  if (!fs::exists(path, ec)) {
    problem = "no such file";
  } else if (fs::is_directory(path, ec)) {
    problem = "is a directory, not a configuration file";
  }
  std::ifstream in(path, std::ios::binary);
  if (problem.empty() && !in) problem = std::string("cannot read: ") + std::strerror(errno);
  if (!problem.empty()) {
    return Finish(CenterConfig(), {ConfigError{path, 0, 0, "", problem}}, errors);
  }
  std::ostringstream text;
  text << in.rdbuf();
  fs::path absolute = fs::absolute(path, ec).lexically_normal();
  auto config = ParseCenterConfig(text.str(), path, absolute.parent_path().string(), errors);
  if (config.ok()) config->source_file = absolute.string();
  return config;
}

std::string RenderCenterConfig(const CenterConfig& c) {
  std::ostringstream out;
  auto q = YamlQuoted;
  out << "# edwc center configuration (see docs/configuration.md)\n"
      << "center:\n"
      << "  id: " << q(c.center.id) << "\n"
      << "  name: " << q(c.center.name) << "\n"
      << "  hub: " << q(c.center.hub) << "\n"
      << "  city: " << q(c.center.city) << "\n"
      << "  zone: " << q(c.center.zone) << "\n"
      << "  location: {lat: " << FormatDegrees(c.center.location.lat)
      << ", lon: " << FormatDegrees(c.center.location.lon) << "}\n";
  if (c.center.green_share_permille != 0) {
    out << "  green_share_percent: " << c.center.green_share_permille / 10 << "\n";
  }
  if (c.center.pue_milli != 0) {
    out << "  pue: " << q(core::Money::Fen(c.center.pue_milli / 10).ToYuanString()) << "\n";
  }
  out << "listen:\n"
      << "  api: {address: " << q(c.api.address) << ", port: " << c.api.port << "}\n"
      << "  peer: {address: " << q(c.peer.address) << ", port: " << c.peer.port << "}\n"
      << "tls:\n"
      << "  ca: " << q(c.tls.ca) << "\n"
      << "  cert: " << q(c.tls.cert) << "\n"
      << "  key: " << q(c.tls.key) << "\n"
      << "storage:\n"
      << "  path: " << q(c.storage.path) << "\n";
  const ServerLimits& s = c.server;
  out << "server:\n"
      << "  io_threads: " << s.io_threads << "\n"
      << "  max_connections: " << s.max_connections << "\n"
      << "  header_limit: " << FormatSize(s.header_limit_bytes) << "\n"
      << "  body_limit: " << FormatSize(s.body_limit_bytes) << "\n"
      << "  handshake_timeout: " << FormatDuration(s.handshake_timeout) << "\n"
      << "  read_timeout: " << FormatDuration(s.read_timeout) << "\n"
      << "  write_timeout: " << FormatDuration(s.write_timeout) << "\n"
      << "  idle_timeout: " << FormatDuration(s.idle_timeout) << "\n"
      << "  drain_timeout: " << FormatDuration(s.drain_timeout) << "\n";
  if (c.capacity.source == CapacityConfig::Source::kSlurm) {
    out << "capacity:\n  source: slurm\n  slurm:\n"
        << "    socket: " << q(c.capacity.slurm.socket) << "\n"
        << "    refresh: " << FormatDuration(c.capacity.slurm.refresh) << "\n"
        << "    gres:\n";
    for (const auto& [type, model] : c.capacity.slurm.gres_models) {
      out << "      " << q(type) << ": " << q(model) << "\n";
    }
  } else {
    out << "capacity:\n  source: static\n  inventory:"
        << (c.capacity.inventory.empty() ? " []\n" : "\n");
    for (const InventoryEntry& e : c.capacity.inventory) {
      out << "    - {model: " << q(e.model) << ", count: " << e.count << "}\n";
    }
  }
  out << "pricing:\n"
      << "  egress_per_gb: " << q(c.pricing.egress_per_gb.ToYuanString()) << "\n";
  if (c.pricing.surge != core::SurgeRule{}) {
    out << "  surge: {above_percent: " << c.pricing.surge.threshold_permille / 10
        << ", max_extra_percent: " << c.pricing.surge.max_extra_permille / 10 << "}\n";
  }
  out << "  models:" << (c.pricing.models.empty() ? " []\n" : "\n");
  for (const ModelPrice& p : c.pricing.models) {
    out << "    - model: " << q(p.model) << "\n"
        << "      per_device_hour: " << q(p.schedule.base_per_device_hour.ToYuanString()) << "\n"
        << "      time_of_use:" << (p.schedule.windows.empty() ? " []\n" : "\n");
    for (const core::TimeOfUseWindow& w : p.schedule.windows) {
      out << "        - {from: " << q(FormatClock(w.start_minute))
          << ", to: " << q(FormatClock(w.end_minute))
          << ", per_device_hour: " << q(w.per_device_hour.ToYuanString()) << "}\n";
    }
  }
  out << "auth:\n  tokens:" << (c.tokens.empty() ? " []\n" : "\n");
  for (const TokenEntry& t : c.tokens) {
    out << "    - {name: " << q(t.name) << ", role: " << RoleName(t.role)
        << ", sha256: " << q(t.sha256) << "}\n";
  }
  const FederationConfig& f = c.federation;
  auto list = [&](const std::vector<std::string>& items) {
    std::string text = "[";
    for (size_t i = 0; i < items.size(); ++i) text += (i ? ", " : "") + q(items[i]);
    return text + "]";
  };
  out << "federation:\n"
      << "  seeds: " << list(f.seeds) << "\n"
      << "  revoked: " << list(f.revoked) << "\n"
      << "  links:" << (f.links.empty() ? " []\n" : "\n");
  for (const LinkConfig& l : f.links) {
    out << "    - {center: " << q(l.center) << ", bandwidth_mbps: " << l.bandwidth_mbps
        << ", rtt_ms: " << l.rtt_ms << "}\n";
  }
  out << "  gossip: {fanout: " << f.gossip.fanout << ", round: " << FormatDuration(f.gossip.round)
      << ", anti_entropy: " << FormatDuration(f.gossip.anti_entropy)
      << ", advert_ttl: " << FormatDuration(f.gossip.advert_ttl)
      << ", refresh: " << FormatDuration(f.gossip.refresh) << "}\n";
  out << "jobs:\n";
  // Empty in configs built in code: the loader's default (<storage.path>.jobs) applies.
  if (!c.jobs.work_dir.empty()) out << "  work_dir: " << q(c.jobs.work_dir) << "\n";
  out << "  hold_ttl: " << FormatDuration(c.jobs.hold_ttl) << "\n"
      << "  poll: " << FormatDuration(c.jobs.poll) << "\n";
  out << "datasets:\n";
  // Empty in configs built in code: the loader's default (<storage.path>.datasets) applies.
  if (!c.datasets.dir.empty()) out << "  dir: " << q(c.datasets.dir) << "\n";
  out << "  chunk_size: " << FormatSize(static_cast<uint64_t>(c.datasets.chunk_size_bytes)) << "\n"
      << "  streams: " << c.datasets.streams << "\n"
      << "  residency:" << (c.datasets.residency.empty() ? " []\n" : "\n");
  for (const core::ResidencyRule& r : c.datasets.residency) {
    out << "    - {name: " << q(r.name) << ", zones: " << list(r.zones)
        << ", tags: " << list(r.tags) << ", allow_zones: " << list(r.allow_zones) << "}\n";
  }
  if (c.credit.has_default || !c.credit.limits.empty()) {
    out << "credit:\n";
    if (c.credit.has_default) {
      out << "  default_limit: " << q(c.credit.default_limit.ToYuanString()) << "\n";
    }
    out << "  limits:" << (c.credit.limits.empty() ? " []\n" : "\n");
    for (const CreditLimit& l : c.credit.limits) {
      out << "    - {center: " << q(l.center) << ", limit: " << q(l.limit.ToYuanString()) << "}\n";
    }
  }
  out << "log:\n"
      << "  format: " << core::LogFormatName(c.log.format) << "\n"
      << "  level: " << core::LogLevelName(c.log.level) << "\n"
      << "  access: " << (c.log.access ? "true" : "false") << "\n";
  return out.str();
}

}  // namespace edwc::config
