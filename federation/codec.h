// The shared field readers of the federation's wire and storage codecs (adverts, holds,
// jobs): strict, and every error names the offending field as a path, "a.b[2].c". A
// reader names its own field; whoever reads the enclosing object prefixes its name with
// Nested (ReadObject and ReadList do it for you).
//
// Internal to federation/: not part of its public face. Stateless; thread-safe.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json.h"
#include "core/money.h"
#include "core/price_schedule.h"
#include "core/status.h"
#include "core/time.h"

namespace edwc::federation::codec {

// Prefixes st's field with `prefix`: ("free", "models[1]") -> "models[1].free".
core::Status Nested(const core::Status& st, std::string_view prefix);

// o[field], or nullptr when absent or null.
const boost::json::value* Field(const boost::json::object& o, std::string_view field);

// Required readers: absent or null is "is required".
core::Result<const boost::json::object*> AsObject(const boost::json::value& v,
                                                  std::string_view field);
core::Result<const boost::json::object*> GetObject(const boost::json::object& o,
                                                   std::string_view field);
core::Result<const boost::json::array*> GetArray(const boost::json::object& o,
                                                 std::string_view field);
core::Result<int32_t> GetI32(const boost::json::object& o, std::string_view field, int64_t min,
                             int64_t max);
core::Result<uint64_t> GetU64(const boost::json::object& o, std::string_view field);
core::Result<core::Money> GetFen(const boost::json::object& o, std::string_view field);  // >= 0
core::Result<core::Time> GetTime(const boost::json::object& o, std::string_view field);  // RFC 3339
core::Result<core::Duration> GetDurationMs(const boost::json::object& o,
                                           std::string_view field);  // 0 .. 2^50

// Optional readers: absent or null gives the stated default.
core::Result<std::optional<core::Money>> GetOptionalFen(const boost::json::object& o,
                                                        std::string_view field);          // nullopt
core::Result<bool> GetBool(const boost::json::object& o, std::string_view field);         // false
core::Result<std::string> GetText(const boost::json::object& o, std::string_view field);  // ""

// Writes t as RFC 3339 under `field`; nothing when t is empty.
void PutTime(boost::json::object& o, std::string_view field, const std::optional<core::Time>& t);

// {"base_per_device_hour_fen": .., "windows": [{"start_minute", "end_minute",
// "per_device_hour_fen"}, ..]}: the price of a model in an advert and in firm terms.
boost::json::object ScheduleToJson(const core::PriceSchedule& price);
core::Result<core::PriceSchedule> ScheduleFromJson(const boost::json::object& o);

// Calls `each` on every element of the array o[field], each of which must be an object;
// a failure is named "field[i]" + its own field.
core::Status ForEachObject(const boost::json::object& o, std::string_view field,
                           const std::function<core::Status(const boost::json::object&)>& each);

// An enum's wire names as a table {{value, "name"}, ...}: the name of a value ("unknown"
// when it is not in the table), the value of a name, and the reader of such a field.
template <typename E, size_t N>
std::string_view NameOf(const std::pair<E, std::string_view> (&names)[N], E value) {
  for (const auto& [v, name] : names) {
    if (v == value) return name;
  }
  return "unknown";
}

template <typename E, size_t N>
std::optional<E> ValueOf(const std::pair<E, std::string_view> (&names)[N], std::string_view name) {
  for (const auto& [v, n] : names) {
    if (n == name) return v;
  }
  return std::nullopt;
}

template <typename E, size_t N>
core::Result<E> GetEnum(const boost::json::object& o, std::string_view field,
                        const std::pair<E, std::string_view> (&names)[N]) {
  EDWC_ASSIGN_OR_RETURN(std::string name, core::GetString(o, field));
  if (std::optional<E> value = ValueOf(names, name)) return *value;
  return core::InvalidArgument("unknown " + std::string(field) + " '" + name + "'",
                               std::string(field));
}

// Reads the array of objects o[field] with `parse` (object -> core::Result<T>) into *out.
template <typename T, typename Parse>
core::Status ReadList(const boost::json::object& o, std::string_view field, Parse parse,
                      std::vector<T>* out) {
  return ForEachObject(o, field, [&](const boost::json::object& item) {
    core::Result<T> parsed = parse(item);
    if (!parsed.ok()) return parsed.status();
    out->push_back(std::move(*parsed));
    return core::Status::Ok();
  });
}

// Reads the required object o[field] with `parse` (object -> core::Result<T>), naming a
// failure "field." + its own field.
template <typename Parse>
auto ReadObject(const boost::json::object& o, std::string_view field, Parse parse)
    -> decltype(parse(o)) {
  EDWC_ASSIGN_OR_RETURN(const boost::json::object* item, GetObject(o, field));
  auto parsed = parse(*item);
  if (!parsed.ok()) return Nested(parsed.status(), field);
  return parsed;
}

}  // namespace edwc::federation::codec
