#include "core/time.h"

#include <cstdio>
#include <optional>

namespace edwc::core {

namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// Reads exactly `count` ASCII digits at text[pos...]; nullopt when any is not a digit.
std::optional<int> ReadDigits(std::string_view text, size_t pos, size_t count) {
  if (pos + count > text.size()) return std::nullopt;
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

bool Expect(std::string_view text, size_t pos, char c) {
  return pos < text.size() && text[pos] == c;
}

// Parses the zone suffix at text[pos...] to its offset east of UTC; the suffix must end
// the text.
std::optional<minutes> ParseOffset(std::string_view text, size_t pos) {
  if (pos >= text.size()) return std::nullopt;
  if (text[pos] == 'Z' || text[pos] == 'z') {
    if (pos + 1 != text.size()) return std::nullopt;
    return minutes(0);
  }
  if (text[pos] != '+' && text[pos] != '-') return std::nullopt;
  const int sign = text[pos] == '-' ? -1 : 1;
  const auto hh = ReadDigits(text, pos + 1, 2);
  const auto mm = ReadDigits(text, pos + 4, 2);
  if (!hh || !Expect(text, pos + 3, ':') || !mm || pos + 6 != text.size()) return std::nullopt;
  if (*hh > 23 || *mm > 59) return std::nullopt;
  return minutes(sign * (*hh * 60 + *mm));
}

}  // namespace

std::string FormatRfc3339(Time t) {
  const auto day = std::chrono::floor<days>(t);
  const std::chrono::year_month_day ymd(day);
  const std::chrono::hh_mm_ss<Duration> hms(t - day);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                int(hms.minutes().count()), int(hms.seconds().count()),
                int(hms.subseconds().count()));
  return buf;
}

Result<Time> ParseRfc3339(std::string_view text) {
  const Status bad = InvalidArgument(
      "must be an RFC 3339 time like 2026-11-25T03:04:05Z or 2026-11-25T11:04:05.123+08:00");
  const auto year = ReadDigits(text, 0, 4);
  const auto month = ReadDigits(text, 5, 2);
  const auto day = ReadDigits(text, 8, 2);
  const auto hour = ReadDigits(text, 11, 2);
  const auto minute = ReadDigits(text, 14, 2);
  const auto second = ReadDigits(text, 17, 2);
  if (!year || !Expect(text, 4, '-') || !month || !Expect(text, 7, '-') || !day ||
      !(Expect(text, 10, 'T') || Expect(text, 10, 't')) || !hour || !Expect(text, 13, ':') ||
      !minute || !Expect(text, 16, ':') || !second) {
    return bad;
  }
  const std::chrono::year_month_day ymd{std::chrono::year(*year),
                                        std::chrono::month(static_cast<unsigned>(*month)),
                                        std::chrono::day(static_cast<unsigned>(*day))};
  if (!ymd.ok()) return InvalidArgument("is not a valid calendar date");
  if (*hour > 23 || *minute > 59 || *second > 59)
    return InvalidArgument("is not a valid time of day");

  // Fraction: 1 to 9 digits, truncated to milliseconds.
  size_t pos = 19;
  int millis = 0;
  if (Expect(text, pos, '.')) {
    ++pos;
    size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0 || digits > 9) return bad;
    for (size_t i = digits; i < 3; ++i) millis *= 10;
  }
  const auto offset = ParseOffset(text, pos);
  if (!offset) return bad;

  const Time local = std::chrono::sys_days(ymd) + hours(*hour) + minutes(*minute) +
                     seconds(*second) + Duration(millis);
  return Time(local - *offset);
}

int ChinaMinuteOfDay(Time t) {
  constexpr int64_t kMillisPerDay = 86'400'000;
  constexpr int64_t kChinaOffsetMillis = 8 * 3'600'000;
  // Reduce before adding the offset so that extreme times cannot overflow.
  int64_t of_day =
      (t.time_since_epoch().count() % kMillisPerDay + kChinaOffsetMillis) % kMillisPerDay;
  if (of_day < 0) of_day += kMillisPerDay;
  return static_cast<int>(of_day / 60'000);
}

Time SystemClock::Now() const {
  return std::chrono::floor<Duration>(std::chrono::system_clock::now());
}

}  // namespace edwc::core
