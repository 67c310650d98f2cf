#include "core/json.h"

#include <boost/json.hpp>
#include <string>

namespace edwc::core {

namespace json = boost::json;

namespace {

// "line 3, column 5" of byte `offset` in `text`; both 1-based, columns in bytes.
std::string Position(std::string_view text, size_t offset) {
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(offset - line_start + 1);
}

std::string IntRangeMessage(int64_t min, int64_t max) {
  return "must be an integer between " + std::to_string(min) + " and " + std::to_string(max);
}

// The value of `field`, or nullptr when absent or null.
const json::value* Find(const json::object& o, std::string_view field) {
  const json::value* v = o.if_contains(field);
  return v == nullptr || v->is_null() ? nullptr : v;
}

Result<int64_t> ToInt(const json::value& v, std::string_view field, int64_t min, int64_t max) {
  // Only integral JSON numbers: 2.0 and 2e0 are doubles in Boost.JSON and refused.
  int64_t n = 0;
  if (v.is_int64()) {
    n = v.get_int64();
  } else if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    n = static_cast<int64_t>(v.get_uint64());
  } else {
    return InvalidArgument(IntRangeMessage(min, max), std::string(field));
  }
  if (n < min || n > max) return InvalidArgument(IntRangeMessage(min, max), std::string(field));
  return n;
}

}  // namespace

Result<json::value> ParseJson(std::string_view text) {
  // Boost.JSON's default depth, made explicit: deeper input is refused before it can cost
  // much memory, and values are never walked recursively deeper than this.
  json::parse_options options;
  options.max_depth = 32;
  json::stream_parser parser({}, options);
  boost::system::error_code ec;
  const size_t consumed = parser.write(text.data(), text.size(), ec);
  size_t offset = consumed;
  if (!ec) {
    parser.finish(ec);
    offset = text.size();
  }
  if (ec) {
    return InvalidArgument("invalid JSON at " + Position(text, offset) + ": " + ec.message());
  }
  return parser.release();
}

Result<json::object> ParseJsonObject(std::string_view text) {
  EDWC_ASSIGN_OR_RETURN(json::value v, ParseJson(text));
  if (!v.is_object()) return InvalidArgument("request body must be a JSON object");
  return std::move(v.as_object());
}

Result<std::string> GetString(const json::object& o, std::string_view field) {
  EDWC_ASSIGN_OR_RETURN(std::optional<std::string> s, GetOptionalString(o, field));
  if (!s) return InvalidArgument("is required", std::string(field));
  return std::move(*s);
}

Result<std::optional<std::string>> GetOptionalString(const json::object& o,
                                                     std::string_view field) {
  const json::value* v = Find(o, field);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return InvalidArgument("must be a string", std::string(field));
  const json::string& s = v->get_string();
  return std::optional<std::string>(std::string(s.data(), s.size()));
}

Result<int64_t> GetInt(const json::object& o, std::string_view field, int64_t min, int64_t max) {
  const json::value* v = Find(o, field);
  if (v == nullptr) return InvalidArgument("is required", std::string(field));
  return ToInt(*v, field, min, max);
}

Result<std::optional<int64_t>> GetOptionalInt(const json::object& o, std::string_view field,
                                              int64_t min, int64_t max) {
  const json::value* v = Find(o, field);
  if (v == nullptr) return std::optional<int64_t>();
  EDWC_ASSIGN_OR_RETURN(int64_t n, ToInt(*v, field, min, max));
  return std::optional<int64_t>(n);
}

Result<std::optional<Time>> GetOptionalTime(const json::object& o, std::string_view field) {
  const json::value* v = Find(o, field);
  if (v == nullptr) return std::optional<Time>();
  if (!v->is_string()) {
    return InvalidArgument("must be an RFC 3339 time string", std::string(field));
  }
  const json::string& s = v->get_string();
  Result<Time> t = ParseRfc3339(std::string_view(s.data(), s.size()));
  if (!t.ok()) return InvalidArgument(t.status().message(), std::string(field));
  return std::optional<Time>(*t);
}

Status RejectUnknownFields(const json::object& o, std::initializer_list<std::string_view> allowed) {
  for (const json::key_value_pair& kv : o) {
    bool known = false;
    for (std::string_view name : allowed) known = known || kv.key() == name;
    if (!known) return InvalidArgument("unknown field", std::string(kv.key()));
  }
  return Status::Ok();
}

std::string ErrorBody(const Status& status) {
  json::object error;
  error["code"] = CodeName(status.code());
  error["message"] = status.message();
  if (!status.field().empty()) error["field"] = status.field();
  json::object body;
  body["error"] = std::move(error);
  return json::serialize(body);
}

std::string FormatDecimal(int64_t value, int digits, bool all_digits) {
  uint64_t scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  const bool negative = value < 0;
  const uint64_t magnitude =
      negative ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  std::string out = negative ? "-" : "";
  out += std::to_string(magnitude / scale);
  std::string fraction = std::to_string(magnitude % scale);
  fraction.insert(0, static_cast<size_t>(digits) - fraction.size(), '0');
  while (!all_digits && !fraction.empty() && fraction.back() == '0') fraction.pop_back();
  if (!fraction.empty()) {
    out += '.';
    out += fraction;
  }
  return out;
}

}  // namespace edwc::core
