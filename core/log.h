// Logging to stderr, one line per event, in one of two formats:
//   text: "2026-11-25T03:04:05.123Z INFO agent: message request_id=abc"
//   json: {"ts":"2026-11-25T03:04:05.123Z","level":"info","center":"zhongwei",
//          "component":"agent","msg":"message","request_id":"abc"}
// The thread's current request id (core/request_id.h) is added when there is one, and
// structured fields (LogField) after it: as key=value in text, as members in JSON.
// One write(2) per line so lines from threads and processes do not interleave.
//
// Thread-safe; the settings are process-wide and may change while others log.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/time.h"

namespace edwc::core {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kText, kJson };

// The `log` section of a center's config (docs/configuration.md).
struct LogSettings {
  LogFormat format = LogFormat::kText;
  LogLevel level = LogLevel::kInfo;  // lines below it are dropped
  bool access = true;                // one line per answered request (component "access")
  bool operator==(const LogSettings&) const = default;
};

// "debug", "info", "warn", "error"; "text", "json".
std::string_view LogLevelName(LogLevel level);
std::string_view LogFormatName(LogFormat format);

// Applies `settings`; `center` is this center's id, carried by every JSON line.
void ConfigureLog(const LogSettings& settings, std::string_view center);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
// Whether the gateway writes access lines (LogSettings::access and the info level).
bool AccessLogEnabled();

// A structured field: text (escaped), an integer, a decimal with three places, or a bool.
// Holds views: the values must outlive the Log call.
struct LogField {
  enum class Kind { kText, kInteger, kDecimal, kBool };
  LogField(std::string_view k, std::string_view v) : key(k), kind(Kind::kText), text(v) {}
  LogField(std::string_view k, const char* v) : key(k), kind(Kind::kText), text(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), kind(Kind::kText), text(v) {}
  LogField(std::string_view k, bool v) : key(k), kind(Kind::kBool), integer(v ? 1 : 0) {}
  LogField(std::string_view k, double v) : key(k), kind(Kind::kDecimal), decimal(v) {}
  template <typename Int>
  requires(std::is_integral_v<Int> && !std::is_same_v<Int, bool>)
      LogField(std::string_view k, Int v)
      : key(k), kind(Kind::kInteger), integer(int64_t(v)) {}

  std::string_view key;  // a plain name ([a-z_]); not escaped
  Kind kind;
  std::string_view text;
  int64_t integer = 0;
  double decimal = 0;
};

void Log(LogLevel level, std::string_view component, std::string_view message);
void Log(LogLevel level, std::string_view component, std::string_view message,
         std::span<const LogField> fields);
inline void Log(LogLevel level, std::string_view component, std::string_view message,
                std::initializer_list<LogField> fields) {
  Log(level, component, message, std::span<const LogField>(fields.begin(), fields.size()));
}

inline void LogDebug(std::string_view c, std::string_view m) { Log(LogLevel::kDebug, c, m); }
inline void LogInfo(std::string_view c, std::string_view m) { Log(LogLevel::kInfo, c, m); }
inline void LogWarn(std::string_view c, std::string_view m) { Log(LogLevel::kWarn, c, m); }
inline void LogError(std::string_view c, std::string_view m) { Log(LogLevel::kError, c, m); }

// What Log writes, with its '\n': exposed for tests.
struct LogLine {
  Time ts;
  LogLevel level = LogLevel::kInfo;
  std::string_view center;
  std::string_view component;
  std::string_view message;
  std::string_view request_id;  // omitted when empty
  std::span<const LogField> fields;
};
std::string FormatLogLine(LogFormat format, const LogLine& line);

// Appends `text` as a JSON string (quotes included): ", \ and control characters
// escaped, bytes that are not valid UTF-8 replaced by U+FFFD, so a line always parses.
void AppendJsonString(std::string& out, std::string_view text);

}  // namespace edwc::core
