#include "core/json.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace edwc::core {
namespace {

namespace json = boost::json;

json::object Object(std::string_view text) {
  Result<json::object> r = ParseJsonObject(text);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : json::object();
}

void ExpectError(const Status& s, std::string_view field, std::string_view message_part) {
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.field(), field);
  EXPECT_NE(s.message().find(message_part), std::string::npos) << s.message();
}

TEST(JsonTest, ParsesValues) {
  Result<json::value> r = ParseJson(R"([1, "two", {"three": 3}])");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->as_array().size(), 3u);
}

TEST(JsonTest, SyntaxErrorsNameLineAndColumn) {
  Result<json::value> r = ParseJson("{\n  \"a\": 1,\n  \"b\": tru\n}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("line 3"), std::string::npos) << r.status().message();

  r = ParseJson("{\"a\": 1} x");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("line 1, column 10"), std::string::npos)
      << r.status().message();

  r = ParseJson("{\"a\": ");  // truncated
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("invalid JSON"), std::string::npos);
  EXPECT_FALSE(ParseJson("").ok());
}

TEST(JsonTest, ObjectParserRefusesOtherValues) {
  for (const char* text : {"[]", "1", "\"s\"", "null"}) {
    Result<json::object> r = ParseJsonObject(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().message(), "request body must be a JSON object");
  }
  EXPECT_TRUE(ParseJsonObject("{}").ok());
}

TEST(JsonTest, GetStringNamesTheField) {
  const json::object o = Object(R"({"name": "h800", "count": 3, "none": null})");
  EXPECT_EQ(*GetString(o, "name"), "h800");
  ExpectError(GetString(o, "count").status(), "count", "must be a string");
  ExpectError(GetString(o, "missing").status(), "missing", "is required");
  ExpectError(GetString(o, "none").status(), "none", "is required");
  EXPECT_FALSE(GetOptionalString(o, "missing")->has_value());
  EXPECT_FALSE(GetOptionalString(o, "none")->has_value());
  EXPECT_EQ(GetOptionalString(o, "name")->value(), "h800");
  ExpectError(GetOptionalString(o, "count").status(), "count", "must be a string");
}

TEST(JsonTest, GetIntAcceptsOnlyIntegralNumbersInRange) {
  const json::object o = Object(
      R"({"n": 8, "big": 18446744073709551615, "neg": -3, "dbl": 2.0, "exp": 2e0,
          "s": "8", "max": 9223372036854775807})");
  EXPECT_EQ(*GetInt(o, "n", 1, 4096), 8);
  EXPECT_EQ(*GetInt(o, "max", 0, INT64_MAX), INT64_MAX);
  EXPECT_EQ(*GetInt(o, "neg", -10, 10), -3);
  ExpectError(GetInt(o, "neg", 1, 4096).status(), "neg", "must be an integer between 1 and 4096");
  ExpectError(GetInt(o, "n", 10, 20).status(), "n", "between 10 and 20");
  ExpectError(GetInt(o, "big", 0, INT64_MAX).status(), "big", "must be an integer");
  ExpectError(GetInt(o, "dbl", 1, 4096).status(), "dbl", "must be an integer");
  ExpectError(GetInt(o, "exp", 1, 4096).status(), "exp", "must be an integer");
  ExpectError(GetInt(o, "s", 1, 4096).status(), "s", "must be an integer");
  ExpectError(GetInt(o, "missing", 1, 4096).status(), "missing", "is required");
  EXPECT_FALSE(GetOptionalInt(o, "missing", 1, 2)->has_value());
  EXPECT_EQ(GetOptionalInt(o, "n", 1, 8)->value(), 8);
  ExpectError(GetOptionalInt(o, "n", 1, 7).status(), "n", "between 1 and 7");
}

TEST(JsonTest, GetOptionalTimeParsesRfc3339) {
  const json::object o =
      Object(R"({"t": "2026-11-25T11:04:05.123+08:00", "bad": "2026-02-30T00:00:00Z", "n": 5})");
  Result<std::optional<Time>> t = GetOptionalTime(o, "t");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatRfc3339(t->value()), "2026-11-25T03:04:05.123Z");
  EXPECT_FALSE(GetOptionalTime(o, "missing")->has_value());
  ExpectError(GetOptionalTime(o, "bad").status(), "bad", "date");
  ExpectError(GetOptionalTime(o, "n").status(), "n", "RFC 3339");
}

TEST(JsonTest, RejectUnknownFieldsNamesTheField) {
  const json::object o = Object(R"({"model": "h800", "count": 1, "colour": "red"})");
  EXPECT_TRUE(RejectUnknownFields(o, {"model", "count", "colour"}).ok());
  const Status s = RejectUnknownFields(o, {"model", "count"});
  ExpectError(s, "colour", "unknown field");
}

TEST(JsonTest, ErrorBodyShape) {
  json::value body = json::parse(ErrorBody(InvalidArgument("must be at least 1", "count")));
  EXPECT_EQ(body, json::parse(
                      R"({"error":{"code":"invalid_argument","message":"must be at least 1",
                          "field":"count"}})"));
  body = json::parse(ErrorBody(NotFound("no such job \"x\"")));
  EXPECT_EQ(body, json::parse(R"({"error":{"code":"not_found","message":"no such job \"x\""}})"));
}

}  // namespace
}  // namespace edwc::core

namespace edwc::core {
namespace {

TEST(FormatDecimalTest, ExactWithOrWithoutTrailingZeros) {
  EXPECT_EQ(FormatDecimal(37500000, 6), "37.5");
  EXPECT_EQ(FormatDecimal(1250, 3), "1.25");
  EXPECT_EQ(FormatDecimal(1000, 3), "1");
  EXPECT_EQ(FormatDecimal(-5, 2), "-0.05");
  EXPECT_EQ(FormatDecimal(1250, 3, true), "1.250");
  EXPECT_EQ(FormatDecimal(8016, 3, true), "8.016");
  EXPECT_EQ(FormatDecimal(0, 6, true), "0.000000");
  EXPECT_EQ(FormatDecimal(-1, 3, true), "-0.001");
  EXPECT_EQ(FormatDecimal(INT64_MIN, 18, true), "-9.223372036854775808");
}

}  // namespace
}  // namespace edwc::core
