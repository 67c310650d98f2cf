// JSON helpers over Boost.JSON: parsing a request body into a value with clear errors,
// and typed field readers that name the offending field. Output is built with
// boost::json::object directly; these helpers only cover what repeats.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/money.h"
#include "core/status.h"
#include "core/time.h"

namespace edwc::core {

// Parses text as JSON; a syntax error is kInvalidArgument naming line and column.
Result<boost::json::value> ParseJson(std::string_view text);

// Parses text that must be a JSON object (kInvalidArgument otherwise).
Result<boost::json::object> ParseJsonObject(std::string_view text);

// Field readers. `required` fields missing are kInvalidArgument with field set; present
// fields of the wrong type or out of range likewise. Optional readers return nullopt
// when absent (or null).
Result<std::string> GetString(const boost::json::object& o, std::string_view field);
Result<std::optional<std::string>> GetOptionalString(const boost::json::object& o,
                                                     std::string_view field);
Result<int64_t> GetInt(const boost::json::object& o, std::string_view field, int64_t min,
                       int64_t max);
Result<std::optional<int64_t>> GetOptionalInt(const boost::json::object& o, std::string_view field,
                                              int64_t min, int64_t max);
Result<std::optional<Time>> GetOptionalTime(const boost::json::object& o, std::string_view field);

// Refuses any key of `o` not in `allowed` (kInvalidArgument naming it).
Status RejectUnknownFields(const boost::json::object& o,
                           std::initializer_list<std::string_view> allowed);

// An integer scaled by 10^digits as a decimal without trailing zeros: (37500000, 6) is
// "37.5", (1250, 3) is "1.25". Exact, for numbers JSON would print as "3.75E1" as doubles.
// With `all_digits`, every one of the `digits` decimals is kept: (1250, 3) is "1.250".
// REQUIRES: 0 <= digits <= 18.
std::string FormatDecimal(int64_t value, int digits, bool all_digits = false);

// {"error":{"code":...,"message":...,"field":...}} serialised; field omitted when empty.
std::string ErrorBody(const Status& status);

}  // namespace edwc::core
