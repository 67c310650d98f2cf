#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cmath>
#include <memory>
#include <mutex>

#include "core/request_id.h"

namespace edwc::core {

namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> g_format{static_cast<int>(LogFormat::kText)};
std::atomic<bool> g_access{true};
// The center id is set once at start (and again, equal, on reloads); a shared_ptr swapped
// under a mutex keeps a reader's copy alive while it formats.
std::mutex g_center_mu;
std::shared_ptr<const std::string> g_center;  // GUARDED_BY(g_center_mu)

constexpr std::string_view kTextNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
constexpr std::string_view kJsonNames[] = {"debug", "info", "warn", "error"};

std::shared_ptr<const std::string> Center() {
  std::lock_guard lock(g_center_mu);
  return g_center;
}

// Length of the valid UTF-8 sequence starting at text[i], or 0 (overlong forms,
// surrogates and code points above U+10FFFF are invalid, as in RFC 3629).
size_t Utf8Length(std::string_view text, size_t i) {
  const auto byte = [&](size_t at) { return static_cast<unsigned char>(text[at]); };
  const unsigned char b0 = byte(i);
  size_t n;
  unsigned char low = 0x80, high = 0xBF;  // range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) low = 0xA0;
    if (b0 == 0xED) high = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) low = 0x90;
    if (b0 == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  }
  return n;
}

void AppendDecimal(std::string& out, double value) {
  if (!std::isfinite(value)) value = 0;  // JSON has no NaN or infinity
  char buffer[64];
  auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed, 3);
  if (ec == std::errc()) out.append(buffer, end);
}

void AppendJsonValue(std::string& out, const LogField& f) {
  switch (f.kind) {
    case LogField::Kind::kText:
      return AppendJsonString(out, f.text);
    case LogField::Kind::kInteger:
      out += std::to_string(f.integer);
      return;
    case LogField::Kind::kDecimal:
      return AppendDecimal(out, f.decimal);
    case LogField::Kind::kBool:
      out += f.integer != 0 ? "true" : "false";
      return;
  }
}

// A text value as is, or JSON-quoted when it would break key=value splitting.
void AppendTextValue(std::string& out, std::string_view value) {
  bool plain = !value.empty();
  for (char c : value) {
    if (c == ' ' || c == '"' || c == '=' || static_cast<unsigned char>(c) < 0x20) plain = false;
  }
  if (plain) {
    out += value;
  } else {
    AppendJsonString(out, value);
  }
}

void AppendJsonMember(std::string& out, std::string_view key, std::string_view value) {
  out += ",\"";
  out += key;
  out += "\":";
  AppendJsonString(out, value);
}

}  // namespace

std::string_view LogLevelName(LogLevel level) { return kJsonNames[static_cast<int>(level)]; }

std::string_view LogFormatName(LogFormat format) {
  return format == LogFormat::kJson ? "json" : "text";
}

void ConfigureLog(const LogSettings& settings, std::string_view center) {
  {
    std::lock_guard lock(g_center_mu);
    if (!g_center || *g_center != center) g_center = std::make_shared<std::string>(center);
  }
  g_format = static_cast<int>(settings.format);
  g_access = settings.access;
  SetLogLevel(settings.level);
}

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

bool AccessLogEnabled() {
  return g_access.load(std::memory_order_relaxed) && LogEnabled(LogLevel::kInfo);
}

void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t n = Utf8Length(text, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(text.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

std::string FormatLogLine(LogFormat format, const LogLine& line) {
  std::string out;
  out.reserve(128 + line.message.size());
  if (format == LogFormat::kText) {
    out = FormatRfc3339(line.ts);
    out.append(" ").append(kTextNames[static_cast<int>(line.level)]).append(" ");
    out.append(line.component).append(": ").append(line.message);
    if (!line.request_id.empty()) out.append(" request_id=").append(line.request_id);
    for (const LogField& f : line.fields) {
      out.append(" ").append(f.key).append("=");
      if (f.kind == LogField::Kind::kText) {
        AppendTextValue(out, f.text);
      } else {
        AppendJsonValue(out, f);
      }
    }
    out += '\n';
    return out;
  }
  out = "{\"ts\":\"" + FormatRfc3339(line.ts) + "\",\"level\":\"";
  out += LogLevelName(line.level);
  out += '"';
  if (!line.center.empty()) AppendJsonMember(out, "center", line.center);
  AppendJsonMember(out, "component", line.component);
  AppendJsonMember(out, "msg", line.message);
  if (!line.request_id.empty()) AppendJsonMember(out, "request_id", line.request_id);
  for (const LogField& f : line.fields) {
    out += ",\"";
    out += f.key;
    out += "\":";
    AppendJsonValue(out, f);
  }
  out += "}\n";
  return out;
}

void Log(LogLevel level, std::string_view component, std::string_view message) {
  Log(level, component, message, std::span<const LogField>());
}

void Log(LogLevel level, std::string_view component, std::string_view message,
         std::span<const LogField> fields) {
  if (!LogEnabled(level)) return;
  const std::shared_ptr<const std::string> center = Center();
  LogLine line;
  line.ts = SystemClock().Now();
  line.level = level;
  line.center = center ? std::string_view(*center) : std::string_view();
  line.component = component;
  line.message = message;
  line.request_id = CurrentRequestId();
  line.fields = fields;
  const std::string text =
      FormatLogLine(static_cast<LogFormat>(g_format.load(std::memory_order_relaxed)), line);
  ssize_t ignored = ::write(STDERR_FILENO, text.data(), text.size());
  (void)ignored;
}

}  // namespace edwc::core
