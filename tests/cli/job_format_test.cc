#include "cli/job_format.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

namespace edwc::cli {
namespace {

namespace json = boost::json;

// A canned POST /v1/quotes answer: one quote with the money as both fen and CNY, one
// with fen only and a field missing, and exclusions with and without detail.
constexpr char kQuotes[] = R"({
  "quotes": [
    {"center":"ningxia-zw","peer_url":"https://127.0.0.1:1","hub":"ningxia","zone":"west",
     "model":"h800","liveness":"alive","count":4,"surge_permille":1000,
     "price_per_device_hour_fen":1850,"price_per_device_hour_cny":"18.50",
     "price_per_pflops_hour_fen":1871,"price_per_pflops_hour_cny":"18.71",
     "compute_fen":11100,"compute_cny":"111.00","transfer_fen":250,"transfer_cny":"2.50",
     "total_fen":11350,"total_cny":"113.50","transfer_time_ms":60000,
     "start":"2026-11-27T02:00:00Z","finish":"2026-11-27T03:30:00Z","green_permille":800,
     "score":1},
    {"center":"guizhou-gy","model":"h800","liveness":"suspect",
     "compute_fen":12000,"transfer_fen":0,"total_fen":12000,
     "start":"2026-11-27T02:00:00+08:00"}
  ],
  "excluded": [
    {"center":"beijing-east","reason":"over_price_cap","detail":"total 640.00 > cap 500.00"},
    {"center":"shanghai-sq","reason":"dead"}
  ]
})";

TEST(JobFormatTest, QuoteTable) {
  const std::string out = RenderQuotes(json::parse(kQuotes));
  EXPECT_EQ(out,
            "RANK  CENTER      MODEL  LIVENESS  TOTAL(¥)  COMPUTE  TRANSFER  ¥/DEV-H  ¥/PFLOPS-H  "
            "START         FINISH\n"
            "   1  ningxia-zw  h800   alive       113.50   111.00      2.50    18.50       18.71  "
            "11-27 02:00Z  11-27 03:30Z\n"
            "   2  guizhou-gy  h800   suspect     120.00   120.00      0.00        -           -  "
            "11-26 18:00Z  -\n"
            "Excluded:\n"
            "  beijing-east: over_price_cap (total 640.00 > cap 500.00)\n"
            "  shanghai-sq: dead\n");
}

TEST(JobFormatTest, QuoteTableWithNothing) {
  const std::string out =
      RenderQuotes(json::parse(R"({"quotes":[],"excluded":[{"center":"a","reason":"dead"}]})"));
  EXPECT_EQ(out, "No center can run this request.\nExcluded:\n  a: dead\n");
  EXPECT_EQ(RenderQuotes(json::parse("[]")), "No center can run this request.\n");
}

TEST(JobFormatTest, FieldAndMoneyReadDefensively) {
  const json::value o = json::parse(R"({"s":"x","n":3,"null":null,"a":[1],"cost_fen":-5,
                                        "total_cny":"1.00","total_fen":999})");
  EXPECT_EQ(FieldText(o, "s"), "x");
  EXPECT_EQ(FieldText(o, "n"), "3");
  EXPECT_EQ(FieldText(o, "null"), "-");
  EXPECT_EQ(FieldText(o, "a"), "-");
  EXPECT_EQ(FieldText(o, "missing"), "-");
  EXPECT_EQ(FieldText(json::parse("42"), "s"), "-");
  EXPECT_EQ(MoneyText(o, "cost"), "-0.05");
  EXPECT_EQ(MoneyText(o, "total"), "1.00");  // the server's own decimal wins
  EXPECT_EQ(MoneyText(o, "nothing"), "-");
  EXPECT_EQ(CompactTime("not a time"), "not a time");
  EXPECT_EQ(CompactTime(""), "-");
}

TEST(JobFormatTest, TableAlignsUtf8) {
  EXPECT_EQ(RenderTable({"A", "¥¥"}, {{"xyz", "1"}}, {false, true}), "A    ¥¥\nxyz   1\n");
}

constexpr char kJob[] = R"({
  "id":"job_01ABC","name":"ft","owner":"demo-broker","state":"running","center":"ningxia-zw",
  "model":"h800","count":4,
  "request":{"model":"h800","count":4,"duration_minutes":60,"command":["python","train.py"]},
  "attempts":[
    {"center":"guizhou-gy","result":"refused","reason":"too_few_free","at":"2026-11-27T02:00:01Z"},
    {"center":"ningxia-zw","hold_id":"hold_9","result":"held","at":"2026-11-27T02:00:02Z"}],
  "history":[{"state":"placing","at":"2026-11-27T02:00:00Z"},
             {"state":"held","at":"2026-11-27T02:00:02Z"},
             {"state":"running","at":"2026-11-27T02:00:05Z"}],
  "created_at":"2026-11-27T02:00:00Z","updated_at":"2026-11-27T02:00:05Z"})";

TEST(JobFormatTest, Submitted) {
  EXPECT_EQ(RenderSubmitted(json::parse(kJob), false),
            "job job_01ABC placed on ningxia-zw (running), h800×4\n"
            "attempts:\n"
            "  1. guizhou-gy: refused (too_few_free) at 11-27 02:00Z\n"
            "  2. ningxia-zw: held hold hold_9 at 11-27 02:00Z\n");
  const std::string replay =
      RenderSubmitted(json::parse(R"({"id":"job_2","state":"placing"})"), true);
  EXPECT_EQ(replay,
            "job job_2 is still being placed (placing); follow it with `edwc job watch job_2`\n"
            "(an earlier submission with this idempotency key; nothing new placed)\n");
  EXPECT_EQ(RenderSubmitted(json::parse(R"({"id":"job_3","state":"failed",
                                            "reason":"no center accepted"})"),
                            false),
            "job job_3 failed: no center accepted\n");
}

TEST(JobFormatTest, JobList) {
  const std::string out = RenderJobList(json::parse(R"({"jobs":[
      {"id":"job_1","name":"ft","state":"succeeded","center":"ningxia-zw","model":"h800",
       "count":4,"usage":{"cost_fen":12345,"cost_cny":"123.45"},
       "created_at":"2026-11-27T02:00:00Z"},
      {"id":"job_22","state":"placing","request":{"model":"ascend-910b","count":1}}],
      "next":null})"));
  EXPECT_EQ(out,
            "ID      NAME  STATE      CENTER      MODEL×COUNT       COST  CREATED\n"
            "job_1   ft    succeeded  ningxia-zw  h800×4         ¥123.45  11-27 02:00Z\n"
            "job_22  -     placing    -           ascend-910b×1        -  -\n");
  EXPECT_EQ(RenderJobList(json::parse(R"({"jobs":[]})")), "No jobs.\n");
}

TEST(JobFormatTest, ShowBlock) {
  json::value job = json::parse(kJob);
  job.as_object()["state"] = "succeeded";
  job.as_object()["usage"] = json::parse(
      R"({"started":"2026-11-27T02:00:05Z","ended":"2026-11-27T03:00:05Z",
          "accelerator_seconds":14400,"exit_code":0,"cost_fen":7400,"cost_cny":"74.00"})");
  EXPECT_EQ(RenderJob(job),
            "job       job_01ABC\n"
            "name      ft\n"
            "owner     demo-broker\n"
            "state     succeeded\n"
            "center    ningxia-zw\n"
            "resources h800×4\n"
            "duration  60 min\n"
            "command   python train.py\n"
            "created   2026-11-27T02:00:00Z\n"
            "updated   2026-11-27T02:00:05Z\n"
            "attempts:\n"
            "  1. guizhou-gy: refused (too_few_free) at 11-27 02:00Z\n"
            "  2. ningxia-zw: held hold hold_9 at 11-27 02:00Z\n"
            "history:\n"
            "  2026-11-27T02:00:00Z  placing\n"
            "  2026-11-27T02:00:02Z  held\n"
            "  2026-11-27T02:00:05Z  running\n"
            "usage:\n"
            "  started: 2026-11-27T02:00:05Z\n"
            "  ended: 2026-11-27T03:00:05Z\n"
            "  accelerator-seconds: 14400\n"
            "  exit code: 0\n"
            "  cost: ¥74.00\n");
}

TEST(JobFormatTest, Cancelled) {
  EXPECT_EQ(RenderCancelled(json::parse(R"({"id":"j","state":"cancelled"})")), "job j cancelled\n");
  EXPECT_EQ(RenderCancelled(json::parse(
                R"({"id":"j","state":"running","center":"c","cancel_requested":true})")),
            "job j: cancel requested; still running on c (follow it with `edwc job watch j`)\n");
}

TEST(JobFormatTest, WatchPrintsEachHistoryEntryOnce) {
  json::value job = json::parse(kJob);
  size_t printed = 0;
  std::string last;
  auto lines = WatchLines(job, &printed, &last);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "2026-11-27T02:00:00Z  placing");
  EXPECT_EQ(lines[2], "2026-11-27T02:00:05Z  running  on ningxia-zw");
  EXPECT_TRUE(WatchLines(job, &printed, &last).empty());
  job.as_object()["state"] = "failed";
  job.as_object()["reason"] = "exit code 3";
  job.as_object()["history"].as_array().push_back(
      json::parse(R"({"state":"failed","at":"2026-11-27T02:10:00Z"})"));
  lines = WatchLines(job, &printed, &last);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "2026-11-27T02:10:00Z  failed  on ningxia-zw: exit code 3");
  EXPECT_TRUE(IsTerminalState(last));
}

TEST(JobFormatTest, WatchWithoutHistoryFollowsState) {
  size_t printed = 0;
  std::string last;
  auto lines = WatchLines(json::parse(R"({"state":"placing","updated_at":"t1"})"), &printed, &last);
  EXPECT_EQ(lines, std::vector<std::string>{"t1  placing"});
  EXPECT_TRUE(
      WatchLines(json::parse(R"({"state":"placing","updated_at":"t2"})"), &printed, &last).empty());
  lines = WatchLines(json::parse(R"({"state":"held","center":"c","updated_at":"t3"})"), &printed,
                     &last);
  EXPECT_EQ(lines, std::vector<std::string>{"t3  held  on c"});
}

}  // namespace
}  // namespace edwc::cli
