#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <string>

#include "core/time.h"

namespace edwc::core {

namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
constexpr std::string_view kNames[] = {"DEBUG", "INFO", "WARN", "ERROR"};
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

void Log(LogLevel level, std::string_view component, std::string_view message) {
  if (static_cast<int>(level) < g_level.load(std::memory_order_relaxed)) return;
  std::string line = FormatRfc3339(SystemClock().Now());
  line.append(" ").append(kNames[static_cast<int>(level)]).append(" ");
  line.append(component).append(": ").append(message).append("\n");
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace edwc::core
