#include "federation/advert.h"

#include <algorithm>
#include <boost/json.hpp>
#include <limits>
#include <utility>

#include "core/json.h"
#include "federation/codec.h"

namespace edwc::federation {

namespace json = boost::json;

namespace {

// ---- Canonical bytes ------------------------------------------------------------------
//
// Format, version 1 (what is signed; never change it for existing fields, only append a
// new version tag):
//   string  := u32 length (big-endian) + raw bytes
//   intN/uN := N/8 bytes, big-endian, two's complement for signed values
//   list    := u32 count + that many elements
// Fields in this order:
//   string "edwc-advert-v2" (domain separation tag)
//   string center, string peer_url, u64 epoch, u64 seq,
//   i64 issued_at (ms since Unix epoch), i64 ttl (ms),
//   string name, string hub, string city, string zone, i32 lat_microdeg, i32 lon_microdeg,
//   list models of { string model, i32 total, i32 free,
//                    i64 price.base_per_device_hour (fen),
//                    list price.windows of { i32 start_minute, i32 end_minute,
//                                            i64 per_device_hour (fen) } },
//   i64 egress_per_gb (fen), i32 surge.threshold_permille, i32 surge.max_extra_permille,
//   list links of { string center, i64 bandwidth_mbps, i32 rtt_ms },
//   i32 green_share_permille, i32 pue_milli,
//   i64 free_fp16_dense_tflops, i64 total_fp16_dense_tflops,
//   string certificate_pem
// `signature` is excluded: it is what signs these bytes.
constexpr std::string_view kCanonicalTag = "edwc-advert-v2";
constexpr core::Duration kMaxTtl = std::chrono::hours(24 * 7);

class CanonicalWriter {
 public:
  CanonicalWriter() { out_.reserve(512); }
  void U64(uint64_t v) {
    char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (56 - 8 * i));
    out_.append(b, sizeof(b));
  }
  void U32(uint32_t v) {
    char b[4];
    for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (24 - 8 * i));
    out_.append(b, sizeof(b));
  }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void I32(int32_t v) { U32(static_cast<uint32_t>(v)); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void Count(size_t n) { U32(static_cast<uint32_t>(n)); }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

core::Result<ModelCapacityAdvert> ModelFromJson(const json::object& o) {
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(o, {"model", "total", "free", "price"}));
  ModelCapacityAdvert m;
  EDWC_ASSIGN_OR_RETURN(m.model, core::GetString(o, "model"));
  EDWC_ASSIGN_OR_RETURN(m.total, codec::GetI32(o, "total", 0, std::numeric_limits<int32_t>::max()));
  EDWC_ASSIGN_OR_RETURN(m.free, codec::GetI32(o, "free", 0, std::numeric_limits<int32_t>::max()));
  EDWC_ASSIGN_OR_RETURN(m.price, codec::ReadObject(o, "price", codec::ScheduleFromJson));
  return m;
}

core::Result<LinkAdvert> LinkFromJson(const json::object& o) {
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(o, {"center", "bandwidth_mbps", "rtt_ms"}));
  LinkAdvert l;
  EDWC_ASSIGN_OR_RETURN(l.center, core::GetString(o, "center"));
  EDWC_ASSIGN_OR_RETURN(l.bandwidth_mbps,
                        core::GetInt(o, "bandwidth_mbps", 0, std::numeric_limits<int64_t>::max()));
  EDWC_ASSIGN_OR_RETURN(l.rtt_ms,
                        codec::GetI32(o, "rtt_ms", 0, std::numeric_limits<int32_t>::max()));
  return l;
}

core::Result<core::SurgeRule> SurgeFromJson(const json::object& o) {
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(o, {"threshold_permille", "max_extra_permille"}));
  core::SurgeRule surge;
  EDWC_ASSIGN_OR_RETURN(surge.threshold_permille, codec::GetI32(o, "threshold_permille", 0, 1000));
  EDWC_ASSIGN_OR_RETURN(surge.max_extra_permille, codec::GetI32(o, "max_extra_permille", 0, 10000));
  return surge;
}

// Field names are built only on error: this runs for every advert a center receives.
core::Status ValidateSchedule(const core::PriceSchedule& price) {
  if (price.base_per_device_hour.fen() < 0) {
    return core::InvalidArgument("must not be negative", "base_per_device_hour_fen");
  }
  for (size_t i = 0; i < price.windows.size(); ++i) {
    const core::TimeOfUseWindow& w = price.windows[i];
    auto at = [i](const char* sub) { return "windows[" + std::to_string(i) + "]." + sub; };
    if (w.start_minute < 0 || w.start_minute > 1439) {
      return core::InvalidArgument("must be between 0 and 1439", at("start_minute"));
    }
    if (w.end_minute < 0 || w.end_minute > 1440 || w.end_minute == w.start_minute) {
      return core::InvalidArgument("must be between 0 and 1440 and differ from start_minute",
                                   at("end_minute"));
    }
    if (w.per_device_hour.fen() < 0) {
      return core::InvalidArgument("must not be negative", at("per_device_hour_fen"));
    }
  }
  return core::Status::Ok();
}

}  // namespace

std::string CanonicalBytes(const CapacityAdvert& a) {
  CanonicalWriter w;
  w.Str(kCanonicalTag);
  w.Str(a.center);
  w.Str(a.peer_url);
  w.U64(a.epoch);
  w.U64(a.seq);
  w.I64(a.issued_at.time_since_epoch().count());
  w.I64(a.ttl.count());
  w.Str(a.name);
  w.Str(a.hub);
  w.Str(a.city);
  w.Str(a.zone);
  w.I32(a.lat_microdeg);
  w.I32(a.lon_microdeg);
  w.Count(a.models.size());
  for (const ModelCapacityAdvert& m : a.models) {
    w.Str(m.model);
    w.I32(m.total);
    w.I32(m.free);
    w.I64(m.price.base_per_device_hour.fen());
    w.Count(m.price.windows.size());
    for (const core::TimeOfUseWindow& win : m.price.windows) {
      w.I32(win.start_minute);
      w.I32(win.end_minute);
      w.I64(win.per_device_hour.fen());
    }
  }
  w.I64(a.egress_per_gb.fen());
  w.I32(a.surge.threshold_permille);
  w.I32(a.surge.max_extra_permille);
  w.Count(a.links.size());
  for (const LinkAdvert& l : a.links) {
    w.Str(l.center);
    w.I64(l.bandwidth_mbps);
    w.I32(l.rtt_ms);
  }
  w.I32(a.green_share_permille);
  w.I32(a.pue_milli);
  w.I64(a.free_fp16_dense_tflops);
  w.I64(a.total_fp16_dense_tflops);
  w.Str(a.certificate_pem);
  return w.Take();
}

const LinkAdvert* AdvertisedLink(const CapacityAdvert& from, std::string_view to) {
  auto it = std::lower_bound(from.links.begin(), from.links.end(), to,
                             [](const LinkAdvert& l, std::string_view c) { return l.center < c; });
  return it != from.links.end() && it->center == to && it->bandwidth_mbps > 0 ? &*it : nullptr;
}

core::Status ValidateAdvert(const CapacityAdvert& a) {
  if (a.center.empty()) return core::InvalidArgument("must not be empty", "center");
  // Bounded so that issued_at + ttl cannot overflow.
  if (a.ttl.count() <= 0 || a.ttl > kMaxTtl) {
    return core::InvalidArgument("must be between 1 and " + std::to_string(kMaxTtl.count()),
                                 "ttl_ms");
  }
  if (a.lat_microdeg < -90'000'000 || a.lat_microdeg > 90'000'000) {
    return core::InvalidArgument("must be between -90000000 and 90000000", "lat_microdeg");
  }
  if (a.lon_microdeg < -180'000'000 || a.lon_microdeg > 180'000'000) {
    return core::InvalidArgument("must be between -180000000 and 180000000", "lon_microdeg");
  }
  for (size_t i = 0; i < a.models.size(); ++i) {
    const ModelCapacityAdvert& m = a.models[i];
    auto at = [i](const char* sub) { return "models[" + std::to_string(i) + "]." + sub; };
    if (m.model.empty()) return core::InvalidArgument("must not be empty", at("model"));
    if (i > 0 && !(a.models[i - 1].model < m.model)) {
      return core::InvalidArgument("models must be sorted by id and unique", at("model"));
    }
    if (m.total < 0) return core::InvalidArgument("must not be negative", at("total"));
    if (m.free < 0 || m.free > m.total) {
      return core::InvalidArgument("must be between 0 and total", at("free"));
    }
    core::Status st = ValidateSchedule(m.price);
    if (!st.ok()) return codec::Nested(st, at("price"));
  }
  if (a.egress_per_gb.fen() < 0) {
    return core::InvalidArgument("must not be negative", "egress_per_gb_fen");
  }
  if (a.surge.threshold_permille < 0 || a.surge.threshold_permille > 1000) {
    return core::InvalidArgument("must be between 0 and 1000", "surge.threshold_permille");
  }
  if (a.surge.max_extra_permille < 0 || a.surge.max_extra_permille > 10000) {
    return core::InvalidArgument("must be between 0 and 10000", "surge.max_extra_permille");
  }
  for (size_t i = 0; i < a.links.size(); ++i) {
    const LinkAdvert& l = a.links[i];
    auto at = [i](const char* sub) { return "links[" + std::to_string(i) + "]." + sub; };
    if (l.center.empty()) return core::InvalidArgument("must not be empty", at("center"));
    if (i > 0 && !(a.links[i - 1].center < l.center)) {
      return core::InvalidArgument("links must be sorted by center and unique", at("center"));
    }
    if (l.bandwidth_mbps < 0) {
      return core::InvalidArgument("must not be negative", at("bandwidth_mbps"));
    }
    if (l.rtt_ms < 0) return core::InvalidArgument("must not be negative", at("rtt_ms"));
  }
  if (a.green_share_permille < 0 || a.green_share_permille > 1000) {
    return core::InvalidArgument("must be between 0 and 1000", "green_share_permille");
  }
  if (a.pue_milli < 0) return core::InvalidArgument("must not be negative", "pue_milli");
  if (a.total_fp16_dense_tflops < 0) {
    return core::InvalidArgument("must not be negative", "total_fp16_dense_tflops");
  }
  if (a.free_fp16_dense_tflops < 0 || a.free_fp16_dense_tflops > a.total_fp16_dense_tflops) {
    return core::InvalidArgument("must be between 0 and total_fp16_dense_tflops",
                                 "free_fp16_dense_tflops");
  }
  return core::Status::Ok();
}

json::object ToJson(const CapacityAdvert& a) {
  json::array models;
  for (const ModelCapacityAdvert& m : a.models) {
    models.push_back(json::object{{"model", m.model},
                                  {"total", m.total},
                                  {"free", m.free},
                                  {"price", codec::ScheduleToJson(m.price)}});
  }
  json::array links;
  for (const LinkAdvert& l : a.links) {
    links.push_back(json::object{
        {"center", l.center}, {"bandwidth_mbps", l.bandwidth_mbps}, {"rtt_ms", l.rtt_ms}});
  }
  json::object o;
  o["center"] = a.center;
  o["peer_url"] = a.peer_url;
  o["epoch"] = a.epoch;
  o["seq"] = a.seq;
  o["issued_at"] = core::FormatRfc3339(a.issued_at);
  o["ttl_ms"] = a.ttl.count();
  o["name"] = a.name;
  o["hub"] = a.hub;
  o["city"] = a.city;
  o["zone"] = a.zone;
  o["lat_microdeg"] = a.lat_microdeg;
  o["lon_microdeg"] = a.lon_microdeg;
  o["models"] = std::move(models);
  o["egress_per_gb_fen"] = a.egress_per_gb.fen();
  o["surge"] = {{"threshold_permille", a.surge.threshold_permille},
                {"max_extra_permille", a.surge.max_extra_permille}};
  o["links"] = std::move(links);
  o["green_share_permille"] = a.green_share_permille;
  o["pue_milli"] = a.pue_milli;
  o["free_fp16_dense_tflops"] = a.free_fp16_dense_tflops;
  o["total_fp16_dense_tflops"] = a.total_fp16_dense_tflops;
  o["certificate_pem"] = a.certificate_pem;
  o["signature"] = Base64Encode(a.signature);
  return o;
}

core::Result<CapacityAdvert> AdvertFromJson(const json::value& value) {
  if (!value.is_object()) return core::InvalidArgument("an advert must be a JSON object");
  const json::object& o = value.get_object();
  EDWC_RETURN_IF_ERROR(core::RejectUnknownFields(o, {"center",
                                                     "peer_url",
                                                     "epoch",
                                                     "seq",
                                                     "issued_at",
                                                     "ttl_ms",
                                                     "name",
                                                     "hub",
                                                     "city",
                                                     "zone",
                                                     "lat_microdeg",
                                                     "lon_microdeg",
                                                     "models",
                                                     "egress_per_gb_fen",
                                                     "surge",
                                                     "links",
                                                     "green_share_permille",
                                                     "pue_milli",
                                                     "free_fp16_dense_tflops",
                                                     "total_fp16_dense_tflops",
                                                     "certificate_pem",
                                                     "signature"}));
  constexpr int64_t kI32Max = std::numeric_limits<int32_t>::max();
  constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
  CapacityAdvert a;
  EDWC_ASSIGN_OR_RETURN(a.center, core::GetString(o, "center"));
  EDWC_ASSIGN_OR_RETURN(a.peer_url, core::GetString(o, "peer_url"));
  EDWC_ASSIGN_OR_RETURN(a.epoch, codec::GetU64(o, "epoch"));
  EDWC_ASSIGN_OR_RETURN(a.seq, codec::GetU64(o, "seq"));
  EDWC_ASSIGN_OR_RETURN(a.issued_at, codec::GetTime(o, "issued_at"));
  EDWC_ASSIGN_OR_RETURN(int64_t ttl_ms, core::GetInt(o, "ttl_ms", 1, kI64Max));
  a.ttl = core::Duration(ttl_ms);
  EDWC_ASSIGN_OR_RETURN(a.name, core::GetString(o, "name"));
  EDWC_ASSIGN_OR_RETURN(a.hub, core::GetString(o, "hub"));
  EDWC_ASSIGN_OR_RETURN(a.city, core::GetString(o, "city"));
  EDWC_ASSIGN_OR_RETURN(a.zone, core::GetString(o, "zone"));
  EDWC_ASSIGN_OR_RETURN(a.lat_microdeg, codec::GetI32(o, "lat_microdeg", -90'000'000, 90'000'000));
  EDWC_ASSIGN_OR_RETURN(a.lon_microdeg,
                        codec::GetI32(o, "lon_microdeg", -180'000'000, 180'000'000));
  EDWC_RETURN_IF_ERROR(codec::ReadList(o, "models", ModelFromJson, &a.models));
  EDWC_ASSIGN_OR_RETURN(a.egress_per_gb, codec::GetFen(o, "egress_per_gb_fen"));
  EDWC_ASSIGN_OR_RETURN(a.surge, codec::ReadObject(o, "surge", SurgeFromJson));
  EDWC_RETURN_IF_ERROR(codec::ReadList(o, "links", LinkFromJson, &a.links));
  EDWC_ASSIGN_OR_RETURN(a.green_share_permille, codec::GetI32(o, "green_share_permille", 0, 1000));
  EDWC_ASSIGN_OR_RETURN(a.pue_milli, codec::GetI32(o, "pue_milli", 0, kI32Max));
  EDWC_ASSIGN_OR_RETURN(a.free_fp16_dense_tflops,
                        core::GetInt(o, "free_fp16_dense_tflops", 0, kI64Max));
  EDWC_ASSIGN_OR_RETURN(a.total_fp16_dense_tflops,
                        core::GetInt(o, "total_fp16_dense_tflops", 0, kI64Max));
  EDWC_ASSIGN_OR_RETURN(a.certificate_pem, core::GetString(o, "certificate_pem"));
  EDWC_ASSIGN_OR_RETURN(std::string signature, core::GetString(o, "signature"));
  std::optional<std::string> raw = Base64Decode(signature);
  if (!raw) return core::InvalidArgument("must be base64", "signature");
  a.signature = std::move(*raw);
  EDWC_RETURN_IF_ERROR(ValidateAdvert(a));
  return a;
}

std::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kMalformed:
      return "malformed";
    case RejectReason::kForged:
      return "forged";
    case RejectReason::kTampered:
      return "tampered";
    case RejectReason::kExpired:
      return "expired";
    case RejectReason::kStale:
      return "stale";
    case RejectReason::kRevoked:
      return "revoked";
  }
  return "unknown";
}

core::Status SignAdvert(const AdvertSigner& signer, CapacityAdvert& advert) {
  advert.certificate_pem = signer.certificate_pem();
  advert.signature.clear();
  EDWC_ASSIGN_OR_RETURN(advert.signature, signer.Sign(CanonicalBytes(advert)));
  return core::Status::Ok();
}

// ---- Base64 ---------------------------------------------------------------------------

namespace {
constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 |
                       uint32_t(uint8_t(bytes[i + 2]));
    out.push_back(kBase64Alphabet[n >> 18 & 63]);
    out.push_back(kBase64Alphabet[n >> 12 & 63]);
    out.push_back(kBase64Alphabet[n >> 6 & 63]);
    out.push_back(kBase64Alphabet[n & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) n |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out.push_back(kBase64Alphabet[n >> 18 & 63]);
    out.push_back(kBase64Alphabet[n >> 12 & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[n >> 6 & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
    if (pad == 1 && text[i + 2] == '=') return std::nullopt;  // "x=y=" style
    uint32_t n = 0;
    for (int k = 0; k < 4 - pad; ++k) {
      const int v = Base64Value(text[i + k]);
      if (v < 0) return std::nullopt;
      n |= uint32_t(v) << (18 - 6 * k);
    }
    // Padding must leave the unused low bits zero, so that each byte string has one text.
    if ((pad == 1 && (n & 0xff) != 0) || (pad == 2 && (n & 0xffff) != 0)) return std::nullopt;
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) out.push_back(static_cast<char>(n >> 8 & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

}  // namespace edwc::federation
