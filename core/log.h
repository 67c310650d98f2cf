// Minimal structured logging to stderr: "2026-11-25T03:04:05.123Z INFO agent: message".
// One write(2) per line so lines from threads and processes do not interleave.
// Thread-safe.
#pragma once

#include <string_view>

namespace edwc::core {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void SetLogLevel(LogLevel level);
void Log(LogLevel level, std::string_view component, std::string_view message);

inline void LogInfo(std::string_view c, std::string_view m) { Log(LogLevel::kInfo, c, m); }
inline void LogWarn(std::string_view c, std::string_view m) { Log(LogLevel::kWarn, c, m); }
inline void LogError(std::string_view c, std::string_view m) { Log(LogLevel::kError, c, m); }

}  // namespace edwc::core
