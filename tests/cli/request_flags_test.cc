#include "cli/request_flags.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

namespace edwc::cli {
namespace {

namespace json = boost::json;

core::Time At(const char* rfc3339) { return core::ParseRfc3339(rfc3339).value(); }

// Parses `flags` (after "edwc quote") the way quote and submit do.
struct Parsed {
  explicit Parsed(std::vector<std::string> flags, bool submit = false) : strings(std::move(flags)) {
    strings.insert(strings.begin(), {"edwc", "job", "submit"});
    for (auto& s : strings) ptrs.push_back(s.data());
    std::set<std::string> valued = RequestOptions();
    if (submit) valued.merge(SubmitOptions());
    args.emplace("edwc job submit", valued, std::set<std::string>{});
    args->AllowTrailing();
    status = args->Parse(static_cast<int>(ptrs.size()), ptrs.data(), 3);
  }
  std::vector<std::string> strings;
  std::vector<char*> ptrs;
  std::optional<Args> args;
  core::Status status;
};

TEST(RequestFlagsTest, Durations) {
  EXPECT_EQ(ParseDurationMinutes("90m").value(), 90);
  EXPECT_EQ(ParseDurationMinutes("2h").value(), 120);
  EXPECT_EQ(ParseDurationMinutes("1h30m").value(), 90);
  EXPECT_EQ(ParseDurationMinutes("1d2h").value(), 26 * 60);
  for (const char* bad : {"", "90", "0m", "1.5h", "h", "30m1h30m", "2hours", "-1h", "1s"}) {
    EXPECT_FALSE(ParseDurationMinutes(bad).ok()) << bad;
  }
  EXPECT_FALSE(ParseDurationMinutes("400d").ok());
}

TEST(RequestFlagsTest, Intervals) {
  EXPECT_EQ(ParseIntervalMillis("500ms").value(), 500);
  EXPECT_EQ(ParseIntervalMillis("750").value(), 750);
  EXPECT_EQ(ParseIntervalMillis("2s").value(), 2000);
  EXPECT_EQ(ParseIntervalMillis("1m").value(), 60000);
  EXPECT_FALSE(ParseIntervalMillis("10ms").ok());
  EXPECT_FALSE(ParseIntervalMillis("fast").ok());
}

TEST(RequestFlagsTest, SizesDecimalAndBinary) {
  EXPECT_EQ(ParseSizeBytes("100GB").value(), 100'000'000'000);
  EXPECT_EQ(ParseSizeBytes("100gb").value(), 100'000'000'000);
  EXPECT_EQ(ParseSizeBytes("1.5TB").value(), 1'500'000'000'000);
  EXPECT_EQ(ParseSizeBytes("250MB").value(), 250'000'000);
  EXPECT_EQ(ParseSizeBytes("2GiB").value(), int64_t{2} << 30);
  EXPECT_EQ(ParseSizeBytes("0.5KiB").value(), 512);
  EXPECT_EQ(ParseSizeBytes("42").value(), 42);
  EXPECT_EQ(ParseSizeBytes("42B").value(), 42);
  EXPECT_FALSE(ParseSizeBytes("1.5B").ok());  // not whole bytes
  EXPECT_FALSE(ParseSizeBytes("100 GB").ok());
  EXPECT_FALSE(ParseSizeBytes("GB").ok());
  EXPECT_FALSE(ParseSizeBytes("1e9").ok());
  EXPECT_FALSE(ParseSizeBytes("99999999PB").ok());  // beyond int64
}

TEST(RequestFlagsTest, PriceCapIsExactFen) {
  EXPECT_EQ(ParsePriceCap("500.00").value().fen(), 50000);
  EXPECT_EQ(ParsePriceCap("500").value().fen(), 50000);
  EXPECT_EQ(ParsePriceCap("0.29").value().fen(), 29);  // 0.29 is inexact as a double
  EXPECT_EQ(ParsePriceCap("1234567.89").value().fen(), 123456789);
  EXPECT_FALSE(ParsePriceCap("-1").ok());
  EXPECT_FALSE(ParsePriceCap("1.005").ok());
  EXPECT_FALSE(ParsePriceCap("¥5").ok());
  EXPECT_FALSE(ParsePriceCap("1,000").ok());
}

TEST(RequestFlagsTest, Objectives) {
  EXPECT_EQ(ParseObjective("cost").value(), json::value("cost"));
  EXPECT_EQ(ParseObjective("green").value(), json::value("green"));
  EXPECT_EQ(ParseObjective("cost=1,time=2,green=1").value(),
            json::parse(R"({"cost":1,"time":2,"green":1})"));
  EXPECT_EQ(ParseObjective("time=0.5").value(), json::parse(R"({"cost":0,"time":0.5,"green":0})"));
  for (const char* bad :
       {"", "cheap", "cost=1,cost=2", "speed=1", "cost=-1", "cost=0", "cost=1,", "cost=x"}) {
    EXPECT_FALSE(ParseObjective(bad).ok()) << bad;
  }
}

TEST(RequestFlagsTest, TimeFlags) {
  const core::Time now = At("2026-11-27T01:00:00Z");
  EXPECT_EQ(ParseTimeFlag("+6h", now).value(), "2026-11-27T07:00:00.000Z");
  EXPECT_EQ(ParseTimeFlag("now", now).value(), "2026-11-27T01:00:00.000Z");
  EXPECT_EQ(ParseTimeFlag("2026-11-27T18:00:00+08:00", now).value(), "2026-11-27T10:00:00.000Z");
  EXPECT_FALSE(ParseTimeFlag("tomorrow", now).ok());
  EXPECT_FALSE(ParseTimeFlag("+6", now).ok());
}

TEST(RequestFlagsTest, QuoteBodyFromEveryFlag) {
  Parsed p({"--model",        "h800",
            "--count",        "4",
            "--duration",     "1h30m",
            "--start",        "+1h",
            "--dataset-home", "beijing-east",
            "--dataset-size", "100GB",
            "--deadline",     "2026-11-28T00:00:00Z",
            "--price-cap",    "500.50",
            "--zone",         "east",
            "--zone",         "north",
            "--min-green",    "60",
            "--objective",    "cost=1,time=2,green=1"});
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  auto body = BuildQuoteRequest(*p.args, At("2026-11-27T01:00:00Z"));
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_EQ(json::value(*body), json::parse(R"({
    "model":"h800","count":4,"duration_minutes":90,"start":"2026-11-27T02:00:00.000Z",
    "deadline":"2026-11-28T00:00:00.000Z",
    "dataset":{"home_center":"beijing-east","bytes":100000000000},
    "price_cap_fen":50050,"zones":["east","north"],"min_green_percent":60,
    "objective":{"cost":1,"time":2,"green":1}})"));
}

TEST(RequestFlagsTest, QuoteBodyByCapabilityWithDefaults) {
  Parsed p({"--min-tflops", "300", "--min-memory", "64", "--minutes", "45"});
  auto body = BuildQuoteRequest(*p.args, At("2026-11-27T01:00:00Z"));
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_EQ(json::value(*body), json::parse(R"({"min_fp16_tflops":300,"min_memory_gib":64,"count":1,
                            "duration_minutes":45})"));
}

TEST(RequestFlagsTest, QuoteBodyRefusals) {
  const core::Time now = At("2026-11-27T01:00:00Z");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--duration", "1h"}, "model"},
      {{"--model", "h800"}, "duration"},
      {{"--model", "h800", "--min-tflops", "3", "--duration", "1h"}, "model"},
      {{"--min-tflops", "3", "--duration", "1h"}, "model"},
      {{"--model", "h800", "--duration", "1h", "--minutes", "5"}, "duration"},
      {{"--model", "h800", "--duration", "90"}, "duration"},
      {{"--model", "h800", "--duration", "1h", "--count", "0"}, "count"},
      {{"--model", "h800", "--duration", "1h", "--dataset-size", "1GB"}, "dataset-home"},
      {{"--model", "h800", "--duration", "1h", "--price-cap", "5.001"}, "price-cap"},
      {{"--model", "h800", "--duration", "1h", "--min-green", "101"}, "min-green"},
      {{"--model", "h800", "--duration", "1h", "--deadline", "soon"}, "deadline"},
      {{"--model", "h800", "--duration", "1h", "--objective", "fast"}, "objective"},
  };
  for (const auto& [flags, field] : cases) {
    Parsed p(flags);
    ASSERT_TRUE(p.status.ok()) << p.status.ToString();
    auto body = BuildQuoteRequest(*p.args, now);
    ASSERT_FALSE(body.ok()) << flags[flags.size() - 1];
    EXPECT_EQ(body.status().field(), field) << body.status().ToString();
  }
}

TEST(RequestFlagsTest, JobBodyAddsCommandEnvAndName) {
  Parsed p({"--model", "h800", "--count", "4", "--duration", "1h", "--name", "ft", "--env",
            "EPOCHS=3", "--env", "URL=a=b", "--", "python", "train.py", "--lr", "3e-4"},
           true);
  ASSERT_TRUE(p.status.ok()) << p.status.ToString();
  auto body = BuildJobRequest(*p.args, At("2026-11-27T01:00:00Z"));
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  EXPECT_EQ(json::value(*body), json::parse(R"({
    "model":"h800","count":4,"duration_minutes":60,"name":"ft",
    "command":["python","train.py","--lr","3e-4"],"env":{"EPOCHS":"3","URL":"a=b"}})"));
}

TEST(RequestFlagsTest, JobBodyRefusals) {
  const core::Time now = At("2026-11-27T01:00:00Z");
  Parsed no_command({"--model", "h800", "--duration", "1h"}, true);
  EXPECT_EQ(BuildJobRequest(*no_command.args, now).status().field(), "command");
  Parsed bad_env({"--model", "h800", "--duration", "1h", "--env", "1X=2", "--", "true"}, true);
  EXPECT_EQ(BuildJobRequest(*bad_env.args, now).status().field(), "env");
  Parsed inputs({"--model", "h800", "--duration", "1h", "--input", "corpus@qingpu", "--input",
                 "a@b@wuhu", "--", "true"},
                true);
  auto with_inputs = BuildJobRequest(*inputs.args, now);
  ASSERT_TRUE(with_inputs.ok()) << with_inputs.status().ToString();
  EXPECT_EQ(
      with_inputs->at("inputs"),
      json::parse(R"([{"dataset":"corpus","center":"qingpu"},{"dataset":"a@b","center":"wuhu"}])"));
  Parsed bad_input({"--model", "h800", "--duration", "1h", "--input", "corpus", "--", "true"},
                   true);
  EXPECT_EQ(BuildJobRequest(*bad_input.args, now).status().field(), "input");
  Parsed twice({"--model", "h800", "--duration", "1h", "--env", "A=1", "--env", "A=2", "--", "x"},
               true);
  EXPECT_EQ(BuildJobRequest(*twice.args, now).status().field(), "env");
}

TEST(RequestFlagsTest, IdempotencyKeysAre128BitHex) {
  const std::string a = NewIdempotencyKey();
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, NewIdempotencyKey());
}

}  // namespace
}  // namespace edwc::cli
