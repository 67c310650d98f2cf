#include "core/log.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "core/request_id.h"

namespace edwc::core {
namespace {

namespace json = boost::json;

std::string Escaped(std::string_view text) {
  std::string out;
  AppendJsonString(out, text);
  return out;
}

// Parses `text` as JSON; the string it holds, so escaping can be checked by round trip.
std::string RoundTrip(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(Escaped(text), ec);
  EXPECT_FALSE(ec) << Escaped(text);
  return ec ? "" : std::string(v.as_string());
}

LogLine Line(std::span<const LogField> fields = {}) {
  LogLine line;
  line.ts = Time(std::chrono::milliseconds(1795770245123));  // 2026-11-27T...Z
  line.level = LogLevel::kWarn;
  line.center = "zhongwei";
  line.component = "holds";
  line.message = "hold h1 refused";
  line.fields = fields;
  return line;
}

TEST(LogTest, JsonStringsEscapeQuotesBackslashesAndControls) {
  EXPECT_EQ(Escaped("plain"), "\"plain\"");
  EXPECT_EQ(Escaped("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Escaped("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(Escaped(std::string("\x01\x1f", 2)), "\"\\u0001\\u001f\"");
  EXPECT_EQ(Escaped(std::string("nul\0in", 6)), "\"nul\\u0000in\"");
  for (std::string_view text : {"say \"hi\"\n", "C:\\path", "\x7f", "tab\there"}) {
    EXPECT_EQ(RoundTrip(text), text);
  }
}

TEST(LogTest, JsonStringsKeepUtf8AndReplaceInvalidBytes) {
  EXPECT_EQ(RoundTrip("宁夏中卫 ¥18.00 😀"), "宁夏中卫 ¥18.00 😀");
  // A lone continuation byte, a truncated sequence, an overlong '/', a surrogate and a
  // code point past U+10FFFF each become U+FFFD; what follows them survives.
  EXPECT_EQ(Escaped("a\x80z"), "\"a\\ufffdz\"");
  EXPECT_EQ(Escaped("\xe4\xb8"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(Escaped("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(Escaped("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
  EXPECT_EQ(Escaped("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
  EXPECT_EQ(RoundTrip("ok\xff"), "ok\xef\xbf\xbd");
}

TEST(LogTest, JsonLineHasTheRequiredKeysAndFields) {
  const std::string who = "a \"b\"";
  const LogField fields[] = {{"route", "/v1/jobs/{id}"}, {"status", 404},
                             {"duration_ms", 1.25},      {"cached", false},
                             {"size", size_t{12}},       {"who", who}};
  LogLine line = Line(fields);
  line.request_id = "test-abc";
  const std::string text = FormatLogLine(LogFormat::kJson, line);
  ASSERT_EQ(text.back(), '\n');
  EXPECT_EQ(text.find('\n'), text.size() - 1) << "one line";
  json::value v = json::parse(text);
  const json::object& o = v.as_object();
  EXPECT_EQ(o.at("ts").as_string(), FormatRfc3339(line.ts));
  EXPECT_TRUE(o.at("ts").as_string().ends_with("Z"));
  EXPECT_EQ(o.at("level").as_string(), "warn");
  EXPECT_EQ(o.at("center").as_string(), "zhongwei");
  EXPECT_EQ(o.at("component").as_string(), "holds");
  EXPECT_EQ(o.at("msg").as_string(), "hold h1 refused");
  EXPECT_EQ(o.at("request_id").as_string(), "test-abc");
  EXPECT_EQ(o.at("route").as_string(), "/v1/jobs/{id}");
  EXPECT_EQ(o.at("status").as_int64(), 404);
  EXPECT_DOUBLE_EQ(o.at("duration_ms").as_double(), 1.25);
  EXPECT_EQ(o.at("cached").as_bool(), false);
  EXPECT_EQ(o.at("size").as_int64(), 12);
  EXPECT_EQ(o.at("who").as_string(), "a \"b\"");
}

TEST(LogTest, JsonLineWithoutRequestIdOrCenterLeavesThemOut) {
  LogLine line = Line();
  line.center = "";
  line.message = "multi\nline \"message\"";
  json::value v = json::parse(FormatLogLine(LogFormat::kJson, line));
  EXPECT_FALSE(v.as_object().contains("request_id"));
  EXPECT_FALSE(v.as_object().contains("center"));
  EXPECT_EQ(v.at("msg").as_string(), "multi\nline \"message\"");
}

TEST(LogTest, TextLineStaysAsItWasWithTheRequestIdAppended) {
  LogLine line = Line();
  EXPECT_EQ(FormatLogLine(LogFormat::kText, line),
            FormatRfc3339(line.ts) + " WARN holds: hold h1 refused\n");
  line.request_id = "abc";
  EXPECT_EQ(FormatLogLine(LogFormat::kText, line),
            FormatRfc3339(line.ts) + " WARN holds: hold h1 refused request_id=abc\n");
  const LogField fields[] = {{"status", 201}, {"path", "/v1/jobs"}, {"caller", "a b"}};
  line.fields = fields;
  EXPECT_EQ(FormatLogLine(LogFormat::kText, line),
            FormatRfc3339(line.ts) +
                " WARN holds: hold h1 refused request_id=abc status=201 path=/v1/jobs "
                "caller=\"a b\"\n");
}

TEST(LogTest, LevelsAndAccessFollowTheSettings) {
  ConfigureLog({LogFormat::kText, LogLevel::kWarn, true}, "zhongwei");
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  EXPECT_FALSE(AccessLogEnabled()) << "access lines are info";
  ConfigureLog({LogFormat::kText, LogLevel::kDebug, false}, "zhongwei");
  EXPECT_TRUE(LogEnabled(LogLevel::kDebug));
  EXPECT_FALSE(AccessLogEnabled());
  ConfigureLog(LogSettings{}, "");
  EXPECT_TRUE(AccessLogEnabled());
  EXPECT_FALSE(LogEnabled(LogLevel::kDebug));
  EXPECT_EQ(LogLevelName(LogLevel::kError), "error");
  EXPECT_EQ(LogFormatName(LogFormat::kJson), "json");
}

}  // namespace
}  // namespace edwc::core
