#include "cli/progress.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace edwc::cli {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = kKiB * 1024;
constexpr int64_t kGiB = kMiB * 1024;

TEST(ProgressTest, HumanBytes) {
  EXPECT_EQ(HumanBytes(-1), "-");
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(1024), "1.0 KiB");
  EXPECT_EQ(HumanBytes(1536), "1.5 KiB");
  EXPECT_EQ(HumanBytes(42 * kMiB), "42.0 MiB");
  EXPECT_EQ(HumanBytes(210 * kMiB), "210 MiB");
  EXPECT_EQ(HumanBytes(kGiB * 13 / 10), "1.3 GiB");
  EXPECT_EQ(HumanBytes(3 * kGiB), "3.0 GiB");
  // Never "1024 KiB": the next unit up.
  EXPECT_EQ(HumanBytes(kMiB - 1), "1.0 MiB");
  EXPECT_EQ(HumanBytes(5 * kGiB * 1024), "5.0 TiB");
}

TEST(ProgressTest, HumanDuration) {
  EXPECT_EQ(HumanDuration(milliseconds(-5)), "0s");
  EXPECT_EQ(HumanDuration(milliseconds(0)), "0s");
  EXPECT_EQ(HumanDuration(milliseconds(50)), "0.0s");
  EXPECT_EQ(HumanDuration(milliseconds(999)), "0.9s");
  EXPECT_EQ(HumanDuration(milliseconds(1999)), "1s");
  EXPECT_EQ(HumanDuration(seconds(8)), "8s");
  EXPECT_EQ(HumanDuration(seconds(65)), "1m05s");
  EXPECT_EQ(HumanDuration(seconds(2 * 3600 + 3 * 60 + 59)), "2h03m");
  EXPECT_EQ(HumanDuration(seconds(3 * 86400 + 4 * 3600)), "3d04h");
}

TEST(ProgressTest, Bar) {
  EXPECT_EQ(RenderBar(0, 100, 10), "[          ]");
  EXPECT_EQ(RenderBar(1, 100, 10), "[>         ]");
  EXPECT_EQ(RenderBar(42, 100, 20), "[========>           ]");
  EXPECT_EQ(RenderBar(99, 100, 10), "[=========>]");
  EXPECT_EQ(RenderBar(100, 100, 10), "[==========]");
  EXPECT_EQ(RenderBar(150, 100, 10), "[==========]");  // never past the end
  EXPECT_EQ(RenderBar(0, 0, 4), "[====]");             // an empty file is complete
  EXPECT_EQ(RenderBar(5, -1, 4), "[>   ]");
}

TEST(ProgressTest, Eta) {
  EXPECT_FALSE(EstimateEta(0, 100, std::nullopt));
  EXPECT_FALSE(EstimateEta(0, 100, 0.0));
  EXPECT_FALSE(EstimateEta(0, -1, 10.0));
  EXPECT_EQ(EstimateEta(20, 100, 10.0), milliseconds(8000));
  EXPECT_EQ(EstimateEta(100, 100, 10.0), milliseconds(0));
  EXPECT_EQ(EstimateEta(0, 1, 3.0), milliseconds(334));  // rounded up
}

TEST(ProgressTest, Line) {
  ProgressSnapshot s;
  s.done = kGiB * 13 / 10;
  s.total = 3 * kGiB;
  s.rate = 210.0 * kMiB;
  s.eta = seconds(8);
  EXPECT_EQ(ProgressLine(s), "[========>           ]   43%  1.3 GiB / 3.0 GiB  210 MiB/s  ETA 8s");
  s.rate.reset();
  s.eta.reset();
  EXPECT_EQ(ProgressLine(s), "[========>           ]   43%  1.3 GiB / 3.0 GiB");
  s.total = -1;
  s.rate = 1024.0;
  s.eta = seconds(1);
  EXPECT_EQ(ProgressLine(s), "1.3 GiB  1.0 KiB/s");
  ProgressSnapshot empty{0, 0, std::nullopt, std::nullopt};
  EXPECT_EQ(ProgressLine(empty), "[====================]  100%  0 B / 0 B");
}

TEST(ProgressTest, RateOverTheLastSeconds) {
  const core::Time t0{milliseconds(1'000'000)};
  RateWindow w(seconds(5));
  EXPECT_FALSE(w.BytesPerSecond());
  w.Add(t0, 0);
  w.Add(t0 + milliseconds(100), 100);
  EXPECT_FALSE(w.BytesPerSecond());  // too short a span to mean anything
  w.Add(t0 + seconds(1), 1000);
  EXPECT_DOUBLE_EQ(*w.BytesPerSecond(), 1000.0);
  // A fast start, then slow: after the window, only the slow part counts.
  for (int i = 2; i <= 20; ++i) w.Add(t0 + seconds(i), 1000 + (i - 1) * 10);
  EXPECT_NEAR(*w.BytesPerSecond(), 10.0, 0.01);
}

struct Capture {
  std::string text;
  ProgressBar::Sink sink() {
    return [this](std::string_view s) { text.append(s); };
  }
};

TEST(ProgressTest, BarRedrawsAtMostTenTimesASecond) {
  core::ManualClock clock(core::Time(milliseconds(5'000'000)));
  Capture out;
  ProgressBar bar("uploaded", {true, false}, &clock, out.sink());
  bar.Update(0, 1000);
  EXPECT_EQ(out.text, "\r[                    ]    0%  0 B / 1000 B");
  out.text.clear();
  clock.Advance(milliseconds(50));
  bar.Update(10);
  EXPECT_EQ(out.text, "");  // within 100 ms of the last draw
  clock.Advance(milliseconds(950));
  bar.Update(500);
  EXPECT_EQ(out.text, "\r[==========>         ]   50%  500 B / 1000 B  500 B/s  ETA 1s");
  out.text.clear();
  clock.Advance(seconds(1));
  bar.Update(1000);
  bar.Finish(true);
  // The last drawing is complete, without an ETA, and ends the line.
  const std::string last = out.text.substr(out.text.rfind('\r'));
  EXPECT_EQ(last.back(), '\n');
  EXPECT_NE(last.find("100%  1000 B / 1000 B"), std::string::npos) << last;
  EXPECT_EQ(last.find("ETA"), std::string::npos) << last;
}

TEST(ProgressTest, ShorterLineBlanksTheRest) {
  core::ManualClock clock(core::Time(milliseconds(0)));
  Capture out;
  ProgressBar bar("moved", {true, false}, &clock, out.sink());
  bar.Update(0, 1000, 2048.0 * kMiB, seconds(100));
  const size_t first = out.text.size();
  out.text.clear();
  clock.Advance(seconds(1));
  bar.Update(10, 1000, 1.0, std::nullopt);
  EXPECT_EQ(out.text.size(), first);
}

TEST(ProgressTest, NotATerminalPrintsOneSummary) {
  core::ManualClock clock(core::Time(milliseconds(0)));
  Capture out;
  ProgressBar bar("downloaded", {false, false}, &clock, out.sink());
  bar.Update(0, 4 * kMiB);
  clock.Advance(seconds(2));
  bar.Update(4 * kMiB);
  EXPECT_EQ(out.text, "");
  bar.Finish(true);
  bar.Finish(true);  // idempotent
  EXPECT_EQ(out.text, "downloaded 4.0 MiB in 2s (2.0 MiB/s)\n");
}

TEST(ProgressTest, QuietPrintsNothing) {
  core::ManualClock clock(core::Time(milliseconds(0)));
  Capture out;
  ProgressBar bar("uploaded", {true, true}, &clock, out.sink());
  bar.Update(1, 2);
  bar.Finish(true);
  EXPECT_EQ(out.text, "");
}

TEST(ProgressTest, FailureWithoutTerminalPrintsNoSummary) {
  core::ManualClock clock(core::Time(milliseconds(0)));
  Capture out;
  ProgressBar bar("uploaded", {false, false}, &clock, out.sink());
  bar.Update(1, 2);
  bar.Finish(false);
  EXPECT_EQ(out.text, "");
}

TEST(ProgressTest, Summary) {
  EXPECT_EQ(ProgressBar::Summary("uploaded", 3 * kGiB, seconds(14)),
            "uploaded 3.0 GiB in 14s (219 MiB/s)");
  EXPECT_EQ(ProgressBar::Summary("moved", 10, milliseconds(0)), "moved 10 B in 0s");
}

TEST(ProgressTest, DatasetPutTarget) {
  EXPECT_EQ(DatasetPutTarget("corpus-2026", "", {}, 0), "/v1/datasets/corpus-2026");
  EXPECT_EQ(DatasetPutTarget("a.tar", "yangtze-delta", {"personal", "medical"}, 8 * kMiB),
            "/v1/datasets/a.tar?zone=yangtze-delta&tags=personal,medical&chunk_size=8388608");
  EXPECT_EQ(DatasetPutTarget("x", "", {"a b"}, 0), "/v1/datasets/x?tags=a%20b");
  EXPECT_EQ(DatasetPutTarget("x", "", {}, 65536), "/v1/datasets/x?chunk_size=65536");
}

TEST(ProgressTest, RangeHeader) {
  EXPECT_EQ(*RangeHeader("0-1023"), "bytes=0-1023");
  EXPECT_EQ(*RangeHeader("4096-"), "bytes=4096-");
  EXPECT_EQ(*RangeHeader("-512"), "bytes=-512");
  EXPECT_EQ(*RangeHeader("7-7"), "bytes=7-7");
  for (const char* bad : {"", "-", "5", "-0", "a-b", "10-5", "1-2-3", "+1-2", " 1-2", "1-2 "}) {
    EXPECT_FALSE(RangeHeader(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace edwc::cli
