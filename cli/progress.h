// The progress of a long transfer of bytes (`dataset put`, `dataset get`, `transfer watch`,
// `job output`): one line on stderr, redrawn in place with '\r' at most ten times a second,
//   [========>           ]  42%  1.3 GiB / 3.0 GiB  210 MiB/s  ETA 8s
// with the rate measured over the last few seconds. When stderr is not a terminal there is
// no bar, only a summary line at the end; with --quiet, nothing at all.
//
// The formatting functions are pure and take the time as a parameter; ProgressBar reads an
// injected core::Clock and writes to an injected sink, so that tests need no terminal.
// Not thread-safe: one bar per operation, driven from one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/time.h"

namespace edwc::cli {

// 1024-based: "0 B", "512 B", "1.5 KiB", "42.0 MiB", "210 MiB", "1.3 GiB". One decimal
// below 100 of the unit, none from 100 on. Negative sizes show as "-".
std::string HumanBytes(int64_t bytes);

// "0s", "0.3s", "8s", "1m05s", "2h03m", "3d04h": tenths below a second, then truncated to
// whole seconds, minutes, hours; negative as "0s".
std::string HumanDuration(std::chrono::milliseconds d);

// "[========>           ]": `width` cells between the brackets, done/total of them '='
// and a '>' at the head until full. REQUIRES: width >= 1. An unknown (< 0) or zero total
// draws an empty bar unless done > 0 and total == 0, which is full.
std::string RenderBar(int64_t done, int64_t total, int width);

// What one redraw shows. `rate` is bytes per second (nullopt: not known yet); `eta` is
// nullopt when unknown.
struct ProgressSnapshot {
  int64_t done = 0;
  int64_t total = -1;  // -1: unknown
  std::optional<double> rate;
  std::optional<std::chrono::milliseconds> eta;
};

// The bar line without '\r': "[...]  42%  1.3 GiB / 3.0 GiB  210 MiB/s  ETA 8s". An unknown
// total drops the bar, percentage and ETA ("1.3 GiB  210 MiB/s").
std::string ProgressLine(const ProgressSnapshot& s);

// The remaining time at `rate` bytes per second; nullopt when the rate is not positive
// or the total unknown.
std::optional<std::chrono::milliseconds> EstimateEta(int64_t done, int64_t total,
                                                     std::optional<double> rate);

// The rate over a sliding window: bytes done at each sample, bytes per second between
// the oldest sample still within `window` of the newest and the newest.
class RateWindow {
 public:
  explicit RateWindow(std::chrono::milliseconds window = std::chrono::seconds(5))
      : window_(window) {}
  void Add(core::Time now, int64_t done);
  // nullopt until two samples at least 200 ms apart.
  std::optional<double> BytesPerSecond() const;

 private:
  std::chrono::milliseconds window_;
  std::deque<std::pair<core::Time, int64_t>> samples_;
};

struct ProgressOptions {
  bool interactive = false;  // redraw a bar (stderr is a terminal)
  bool quiet = false;        // print nothing
};

// Options for the real stderr: interactive when it is a terminal.
ProgressOptions StderrProgress(bool quiet);

class ProgressBar {
 public:
  using Sink = std::function<void(std::string_view)>;
  // `verb` starts the summary line ("uploaded", "downloaded", "moved"). `clock` must
  // outlive the bar. `sink` receives everything written (default: stderr, flushed).
  ProgressBar(std::string verb, ProgressOptions options, const core::Clock* clock, Sink sink = {});

  // Progress so far. `total` < 0 keeps the last known total. `rate` and `eta`, when given,
  // are used as they are (a transfer's receiver measures its own); otherwise they come
  // from the sliding window. Redraws at most every 100 ms.
  void Update(int64_t done, int64_t total = -1, std::optional<double> rate = std::nullopt,
              std::optional<std::chrono::milliseconds> eta = std::nullopt);

  // Ends the bar: a last redraw and a newline when interactive; otherwise, when `ok`, a
  // summary "uploaded 3.0 GiB in 14s (210 MiB/s)". Idempotent.
  void Finish(bool ok);

  // The summary line (without newline) for `done` bytes over `elapsed`.
  static std::string Summary(std::string_view verb, int64_t done,
                             std::chrono::milliseconds elapsed);

 private:
  void Draw(core::Time now);

  std::string verb_;
  ProgressOptions options_;
  const core::Clock* clock_;
  Sink sink_;
  core::Time started_;
  std::optional<core::Time> last_draw_;
  RateWindow window_;
  ProgressSnapshot snapshot_;
  size_t last_width_ = 0;
  bool drawn_ = false;
  bool finished_ = false;
};

// The requests that move bytes, built purely so that tests pin them down.

// "/v1/datasets/NAME?zone=Z&tags=a,b&chunk_size=N": each parameter only when given
// (empty zone, no tags, chunk_size 0 leave the server's default). Values are escaped.
std::string DatasetPutTarget(std::string_view name, std::string_view zone,
                             const std::vector<std::string>& tags, int64_t chunk_size);

// `--range` text -> a Range header value: "A-B" -> "bytes=A-B", "A-" (from A to the
// end) -> "bytes=A-", "-N" (the last N bytes) -> "bytes=-N". kInvalidArgument otherwise,
// including B < A and N == 0.
core::Result<std::string> RangeHeader(std::string_view text);

}  // namespace edwc::cli
