#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "cli/connection.h"

namespace edwc::cli {

namespace {

constexpr int kBarWidth = 20;
constexpr std::chrono::milliseconds kRedrawEvery(100);
constexpr std::chrono::milliseconds kMinRateSpan(200);

std::string Printf(const char* format, double value, const char* unit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value, unit);
  return buf;
}

}  // namespace

std::string HumanBytes(int64_t bytes) {
  if (bytes < 0) return "-";
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  size_t unit = 0;
  // Move up a unit when the rounded figure would read 1024 of this one.
  while (value >= 1023.5 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  if (value < 99.95) return Printf("%.1f %s", value, kUnits[unit]);
  return Printf("%.0f %s", value, kUnits[unit]);
}

std::string HumanDuration(std::chrono::milliseconds d) {
  const int64_t s = std::max<int64_t>(0, d.count() / 1000);
  char buf[32];
  if (d.count() > 0 && d.count() < 1000) {
    std::snprintf(buf, sizeof buf, "0.%llds", static_cast<long long>(d.count() / 100));
  } else if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  }
  return buf;
}

std::string RenderBar(int64_t done, int64_t total, int width) {
  int filled = 0;
  if (total > 0) {
    const double fraction =
        std::clamp(static_cast<double>(done) / static_cast<double>(total), 0.0, 1.0);
    filled = static_cast<int>(fraction * width);
  } else if (total == 0 && done >= 0) {
    filled = width;
  }
  std::string bar = "[";
  if (filled >= width) {
    bar.append(static_cast<size_t>(width), '=');
  } else if (filled == 0 && done <= 0) {
    bar.append(static_cast<size_t>(width), ' ');
  } else {
    bar.append(static_cast<size_t>(filled), '=');
    bar.push_back('>');
    bar.append(static_cast<size_t>(width - filled - 1), ' ');
  }
  bar.push_back(']');
  return bar;
}

std::optional<std::chrono::milliseconds> EstimateEta(int64_t done, int64_t total,
                                                     std::optional<double> rate) {
  if (total < 0 || !rate || *rate <= 0) return std::nullopt;
  const double left = static_cast<double>(std::max<int64_t>(0, total - done));
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(left / *rate * 1000.0)));
}

std::string ProgressLine(const ProgressSnapshot& s) {
  std::string line;
  if (s.total >= 0) {
    const int percent =
        s.total == 0 ? 100 : static_cast<int>(std::clamp<int64_t>(s.done * 100 / s.total, 0, 100));
    char pct[8];
    std::snprintf(pct, sizeof pct, "%3d%%", percent);
    line = RenderBar(s.done, s.total, kBarWidth) + "  " + pct + "  " + HumanBytes(s.done) + " / " +
           HumanBytes(s.total);
  } else {
    line = HumanBytes(s.done);
  }
  if (s.rate) line += "  " + HumanBytes(static_cast<int64_t>(*s.rate)) + "/s";
  if (s.total >= 0 && s.eta) line += "  ETA " + HumanDuration(*s.eta);
  return line;
}

void RateWindow::Add(core::Time now, int64_t done) {
  samples_.emplace_back(now, done);
  // Keep one sample at or beyond the window's edge so that the span covers the window.
  while (samples_.size() > 2 && now - samples_[1].first >= window_) samples_.pop_front();
}

std::optional<double> RateWindow::BytesPerSecond() const {
  if (samples_.size() < 2) return std::nullopt;
  const auto span = samples_.back().first - samples_.front().first;
  if (span < kMinRateSpan) return std::nullopt;
  const double bytes = static_cast<double>(samples_.back().second - samples_.front().second);
  return std::max(0.0, bytes * 1000.0 / static_cast<double>(span.count()));
}

ProgressOptions StderrProgress(bool quiet) {
  return ProgressOptions{::isatty(STDERR_FILENO) == 1, quiet};
}

ProgressBar::ProgressBar(std::string verb, ProgressOptions options, const core::Clock* clock,
                         Sink sink)
    : verb_(std::move(verb)),
      options_(options),
      clock_(clock),
      sink_(std::move(sink)),
      started_(clock->Now()) {
  if (!sink_) {
    sink_ = [](std::string_view text) {
      std::fwrite(text.data(), 1, text.size(), stderr);
      std::fflush(stderr);
    };
  }
}

void ProgressBar::Update(int64_t done, int64_t total, std::optional<double> rate,
                         std::optional<std::chrono::milliseconds> eta) {
  if (finished_) return;
  const core::Time now = clock_->Now();
  window_.Add(now, done);
  snapshot_.done = done;
  if (total >= 0) snapshot_.total = total;
  snapshot_.rate = rate ? rate : window_.BytesPerSecond();
  snapshot_.eta = eta ? eta : EstimateEta(done, snapshot_.total, snapshot_.rate);
  if (!options_.interactive || options_.quiet) return;
  if (last_draw_ && now - *last_draw_ < kRedrawEvery) return;
  Draw(now);
}

void ProgressBar::Draw(core::Time now) {
  last_draw_ = now;
  std::string line = ProgressLine(snapshot_);
  const size_t width = line.size();
  // Blank out what a longer previous line left behind.
  if (width < last_width_) line.append(last_width_ - width, ' ');
  last_width_ = width;
  drawn_ = true;
  sink_("\r" + line);
}

void ProgressBar::Finish(bool ok) {
  if (finished_) return;
  finished_ = true;
  if (options_.quiet) return;
  const core::Time now = clock_->Now();
  if (options_.interactive) {
    if (ok || drawn_) {
      if (ok) snapshot_.eta.reset();
      Draw(now);
      sink_("\n");
    }
    return;
  }
  if (ok) {
    sink_(Summary(verb_, snapshot_.done,
                  std::chrono::duration_cast<std::chrono::milliseconds>(now - started_)) +
          "\n");
  }
}

std::string ProgressBar::Summary(std::string_view verb, int64_t done,
                                 std::chrono::milliseconds elapsed) {
  std::string line = std::string(verb) + " " + HumanBytes(done) + " in " + HumanDuration(elapsed);
  if (elapsed.count() > 0) {
    const double rate = static_cast<double>(done) * 1000.0 / static_cast<double>(elapsed.count());
    line += " (" + HumanBytes(static_cast<int64_t>(rate)) + "/s)";
  }
  return line;
}

std::string DatasetPutTarget(std::string_view name, std::string_view zone,
                             const std::vector<std::string>& tags, int64_t chunk_size) {
  std::string target = "/v1/datasets/" + QueryEscape(name);
  char sep = '?';
  auto add = [&](std::string_view key, const std::string& value) {
    target.push_back(sep);
    target.append(key).append("=").append(value);
    sep = '&';
  };
  if (!zone.empty()) add("zone", QueryEscape(zone));
  if (!tags.empty()) {
    std::string joined;
    for (const std::string& tag : tags) {
      if (!joined.empty()) joined.push_back(',');
      joined += QueryEscape(tag);
    }
    add("tags", joined);
  }
  if (chunk_size > 0) add("chunk_size", std::to_string(chunk_size));
  return target;
}

core::Result<std::string> RangeHeader(std::string_view text) {
  const core::Status bad = core::InvalidArgument(
      "a byte range like 0-1023, 4096- or -512, got '" + std::string(text) + "'", "range");
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos || text.size() < 2) return bad;
  auto number = [](std::string_view digits) -> std::optional<int64_t> {
    int64_t n = 0;
    if (digits.empty() || digits.size() > 18) return std::nullopt;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || end != digits.data() + digits.size() || n < 0) return std::nullopt;
    return n;
  };
  const std::string_view a = text.substr(0, dash), b = text.substr(dash + 1);
  if (a.empty()) {
    auto n = number(b);
    if (!n || *n == 0) return bad;
    return "bytes=-" + std::to_string(*n);
  }
  auto first = number(a);
  if (!first) return bad;
  if (b.empty()) return "bytes=" + std::to_string(*first) + "-";
  auto last = number(b);
  if (!last) return bad;
  if (*last < *first) {
    return core::InvalidArgument("the range ends before it starts: '" + std::string(text) + "'",
                                 "range");
  }
  return "bytes=" + std::to_string(*first) + "-" + std::to_string(*last);
}

}  // namespace edwc::cli
