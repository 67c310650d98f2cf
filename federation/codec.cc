#include "federation/codec.h"

#include <boost/json.hpp>
#include <limits>

#include "core/json.h"

namespace edwc::federation::codec {

namespace json = boost::json;

core::Status Nested(const core::Status& st, std::string_view prefix) {
  std::string p(prefix);
  return core::Status(st.code(), st.message(), st.field().empty() ? p : p + "." + st.field());
}

const json::value* Field(const json::object& o, std::string_view field) {
  const json::value* v = o.if_contains(field);
  return v == nullptr || v->is_null() ? nullptr : v;
}

core::Result<const json::object*> AsObject(const json::value& v, std::string_view field) {
  if (!v.is_object()) return core::InvalidArgument("must be an object", std::string(field));
  return &v.get_object();
}

core::Result<const json::object*> GetObject(const json::object& o, std::string_view field) {
  const json::value* v = Field(o, field);
  if (v == nullptr) return core::InvalidArgument("is required", std::string(field));
  return AsObject(*v, field);
}

core::Result<const json::array*> GetArray(const json::object& o, std::string_view field) {
  const json::value* v = Field(o, field);
  if (v == nullptr) return core::InvalidArgument("is required", std::string(field));
  if (!v->is_array()) return core::InvalidArgument("must be an array", std::string(field));
  return &v->get_array();
}

core::Result<int32_t> GetI32(const json::object& o, std::string_view field, int64_t min,
                             int64_t max) {
  EDWC_ASSIGN_OR_RETURN(int64_t n, core::GetInt(o, field, min, max));
  return static_cast<int32_t>(n);
}

core::Result<uint64_t> GetU64(const json::object& o, std::string_view field) {
  const json::value* v = Field(o, field);
  if (v == nullptr) return core::InvalidArgument("is required", std::string(field));
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<uint64_t>(v->get_int64());
  return core::InvalidArgument("must be a non-negative integer", std::string(field));
}

core::Result<core::Money> GetFen(const json::object& o, std::string_view field) {
  EDWC_ASSIGN_OR_RETURN(int64_t fen,
                        core::GetInt(o, field, 0, std::numeric_limits<int64_t>::max()));
  return core::Money::Fen(fen);
}

core::Result<core::Time> GetTime(const json::object& o, std::string_view field) {
  EDWC_ASSIGN_OR_RETURN(std::optional<core::Time> t, core::GetOptionalTime(o, field));
  if (!t) return core::InvalidArgument("is required", std::string(field));
  return *t;
}

core::Result<core::Duration> GetDurationMs(const json::object& o, std::string_view field) {
  EDWC_ASSIGN_OR_RETURN(int64_t ms, core::GetInt(o, field, 0, int64_t{1} << 50));
  return core::Duration(ms);
}

core::Result<std::optional<core::Money>> GetOptionalFen(const json::object& o,
                                                        std::string_view field) {
  EDWC_ASSIGN_OR_RETURN(std::optional<int64_t> fen,
                        core::GetOptionalInt(o, field, 0, std::numeric_limits<int64_t>::max()));
  if (!fen) return std::optional<core::Money>();
  return std::optional<core::Money>(core::Money::Fen(*fen));
}

core::Result<bool> GetBool(const json::object& o, std::string_view field) {
  const json::value* v = Field(o, field);
  if (v == nullptr) return false;
  if (!v->is_bool()) return core::InvalidArgument("must be a boolean", std::string(field));
  return v->get_bool();
}

core::Result<std::string> GetText(const json::object& o, std::string_view field) {
  EDWC_ASSIGN_OR_RETURN(std::optional<std::string> s, core::GetOptionalString(o, field));
  return s.value_or("");
}

void PutTime(json::object& o, std::string_view field, const std::optional<core::Time>& t) {
  if (t) o[field] = core::FormatRfc3339(*t);
}

json::object ScheduleToJson(const core::PriceSchedule& price) {
  json::array windows;
  for (const core::TimeOfUseWindow& w : price.windows) {
    windows.push_back(json::object{{"start_minute", w.start_minute},
                                   {"end_minute", w.end_minute},
                                   {"per_device_hour_fen", w.per_device_hour.fen()}});
  }
  return json::object{{"base_per_device_hour_fen", price.base_per_device_hour.fen()},
                      {"windows", std::move(windows)}};
}

core::Result<core::PriceSchedule> ScheduleFromJson(const json::object& o) {
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(o, {"base_per_device_hour_fen", "windows"}));
  core::PriceSchedule price;
  EDWC_ASSIGN_OR_RETURN(price.base_per_device_hour, GetFen(o, "base_per_device_hour_fen"));
  EDWC_RETURN_IF_ERROR(ForEachObject(o, "windows", [&](const json::object& w) -> core::Status {
    EDWC_RETURN_IF_ERROR(
        core::RejectUnknownFields(w, {"start_minute", "end_minute", "per_device_hour_fen"}));
    core::TimeOfUseWindow window;
    EDWC_ASSIGN_OR_RETURN(window.start_minute, GetI32(w, "start_minute", 0, 1439));
    EDWC_ASSIGN_OR_RETURN(window.end_minute, GetI32(w, "end_minute", 0, 1440));
    EDWC_ASSIGN_OR_RETURN(window.per_device_hour, GetFen(w, "per_device_hour_fen"));
    price.windows.push_back(window);
    return core::Status::Ok();
  }));
  return price;
}

core::Status ForEachObject(const json::object& o, std::string_view field,
                           const std::function<core::Status(const json::object&)>& each) {
  EDWC_ASSIGN_OR_RETURN(const json::array* items, GetArray(o, field));
  for (size_t i = 0; i < items->size(); ++i) {
    const std::string where = std::string(field) + "[" + std::to_string(i) + "]";
    EDWC_ASSIGN_OR_RETURN(const json::object* item, AsObject((*items)[i], where));
    core::Status st = each(*item);
    if (!st.ok()) return Nested(st, where);
  }
  return core::Status::Ok();
}

}  // namespace edwc::federation::codec
