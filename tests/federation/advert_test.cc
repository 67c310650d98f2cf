#include "federation/advert.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <random>
#include <set>

#include "tests/federation/fake_crypto.h"

namespace edwc::federation {
namespace {

namespace json = boost::json;

CapacityAdvert SampleAdvert() {
  CapacityAdvert a;
  a.center = "ningxia-zhongwei";
  a.peer_url = "https://zhongwei.example:7443";
  a.epoch = 3;
  a.seq = 17;
  a.issued_at = core::Time(core::Duration(1'795'000'000'123));
  a.ttl = core::Duration(15000);
  a.name = "Zhongwei AI Computing Center";
  a.hub = "ningxia";
  a.city = "Zhongwei";
  a.zone = "cn-northwest";
  a.lat_microdeg = 37'500'000;
  a.lon_microdeg = 105'190'000;
  ModelCapacityAdvert h800;
  h800.model = "h800";
  h800.total = 512;
  h800.free = 96;
  h800.price.base_per_device_hour = core::Money::Fen(1800);
  h800.price.windows.push_back({1320, 360, core::Money::Fen(1100)});
  ModelCapacityAdvert ascend;
  ascend.model = "ascend-910b";
  ascend.total = 1024;
  ascend.free = 300;
  ascend.price.base_per_device_hour = core::Money::Fen(800);
  a.models = {ascend, h800};  // sorted by id
  a.egress_per_gb = core::Money::Fen(30);
  a.links = {{"gansu-qingyang", 100000, 9}, {"shanghai-qingpu", 40000, 31}};
  a.green_share_permille = 620;
  a.pue_milli = 1150;
  a.free_fp16_dense_tflops = 160000;
  a.total_fp16_dense_tflops = 900000;
  a.certificate_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  a.signature = std::string("\x30\x45\x02\x20\xff\x00", 6);
  return a;
}

struct FieldChange {
  const char* name;
  std::function<void(CapacityAdvert&)> change;
};

TEST(CanonicalBytesTest, ChangesWhenAnyFieldChanges) {
  const std::vector<FieldChange> changes = {
      {"center", [](CapacityAdvert& a) { a.center += "x"; }},
      {"peer_url", [](CapacityAdvert& a) { a.peer_url += "x"; }},
      {"epoch", [](CapacityAdvert& a) { ++a.epoch; }},
      {"seq", [](CapacityAdvert& a) { ++a.seq; }},
      {"issued_at", [](CapacityAdvert& a) { a.issued_at += core::Duration(1); }},
      {"ttl", [](CapacityAdvert& a) { a.ttl += core::Duration(1); }},
      {"name", [](CapacityAdvert& a) { a.name += "x"; }},
      {"hub", [](CapacityAdvert& a) { a.hub += "x"; }},
      {"city", [](CapacityAdvert& a) { a.city += "x"; }},
      {"zone", [](CapacityAdvert& a) { a.zone += "x"; }},
      {"lat", [](CapacityAdvert& a) { ++a.lat_microdeg; }},
      {"lon", [](CapacityAdvert& a) { ++a.lon_microdeg; }},
      {"models.model", [](CapacityAdvert& a) { a.models[1].model = "h800x"; }},
      {"models.total", [](CapacityAdvert& a) { ++a.models[0].total; }},
      {"models.free", [](CapacityAdvert& a) { --a.models[0].free; }},
      {"models.base",
       [](CapacityAdvert& a) { a.models[0].price.base_per_device_hour = core::Money::Fen(801); }},
      {"models.window.start",
       [](CapacityAdvert& a) { ++a.models[1].price.windows[0].start_minute; }},
      {"models.window.end", [](CapacityAdvert& a) { ++a.models[1].price.windows[0].end_minute; }},
      {"models.window.price",
       [](CapacityAdvert& a) {
         a.models[1].price.windows[0].per_device_hour = core::Money::Fen(1101);
       }},
      {"models.window.added",
       [](CapacityAdvert& a) {
         a.models[0].price.windows.push_back({0, 60, core::Money::Fen(1)});
       }},
      {"models.removed", [](CapacityAdvert& a) { a.models.pop_back(); }},
      {"egress", [](CapacityAdvert& a) { a.egress_per_gb = core::Money::Fen(31); }},
      {"links.center", [](CapacityAdvert& a) { a.links[0].center += "x"; }},
      {"links.bandwidth", [](CapacityAdvert& a) { ++a.links[0].bandwidth_mbps; }},
      {"links.rtt", [](CapacityAdvert& a) { ++a.links[1].rtt_ms; }},
      {"links.removed", [](CapacityAdvert& a) { a.links.clear(); }},
      {"green", [](CapacityAdvert& a) { ++a.green_share_permille; }},
      {"pue", [](CapacityAdvert& a) { ++a.pue_milli; }},
      {"free_tflops", [](CapacityAdvert& a) { ++a.free_fp16_dense_tflops; }},
      {"total_tflops", [](CapacityAdvert& a) { ++a.total_fp16_dense_tflops; }},
      {"certificate_pem", [](CapacityAdvert& a) { a.certificate_pem += "x"; }},
      // Length prefixes: moving a byte from one string to the next changes the bytes.
      {"name|hub boundary",
       [](CapacityAdvert& a) {
         a.hub = a.name.back() + a.hub;
         a.name.pop_back();
       }},
  };
  const CapacityAdvert base = SampleAdvert();
  const std::string base_bytes = CanonicalBytes(base);
  std::set<std::string> seen = {base_bytes};
  for (const FieldChange& fc : changes) {
    CapacityAdvert changed = base;
    fc.change(changed);
    const std::string bytes = CanonicalBytes(changed);
    EXPECT_NE(bytes, base_bytes) << fc.name;
    EXPECT_TRUE(seen.insert(bytes).second) << fc.name << " collides with another change";
  }
}

TEST(CanonicalBytesTest, ExcludesSignatureAndIsStable) {
  CapacityAdvert a = SampleAdvert();
  const std::string bytes = CanonicalBytes(a);
  a.signature = "other";
  EXPECT_EQ(CanonicalBytes(a), bytes);
  // Fixed-width big-endian framing: tag, then center with its u32 length.
  const std::string tag = "edwc-advert-v2";
  ASSERT_GT(bytes.size(), 4 + tag.size() + 4);
  EXPECT_EQ(bytes.substr(0, 4), std::string("\0\0\0\x0e", 4));
  EXPECT_EQ(bytes.substr(4, tag.size()), tag);
  EXPECT_EQ(bytes.substr(18, 4), std::string("\0\0\0\x10", 4));  // "ningxia-zhongwei"
}

TEST(AdvertJsonTest, RoundTripIsEqual) {
  const CapacityAdvert a = SampleAdvert();
  const std::string text = json::serialize(ToJson(a));
  core::Result<CapacityAdvert> back = AdvertFromJson(json::parse(text));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, a);
  EXPECT_EQ(CanonicalBytes(*back), CanonicalBytes(a));
}

TEST(AdvertJsonTest, MoneyAndTimeEncoding) {
  const json::object o = ToJson(SampleAdvert());
  EXPECT_EQ(o.at("egress_per_gb_fen").as_int64(), 30);
  EXPECT_EQ(o.at("issued_at").as_string(), "2026-11-18T11:06:40.123Z");
  EXPECT_EQ(o.at("ttl_ms").as_int64(), 15000);
  EXPECT_EQ(o.at("signature").as_string(), "MEUCIP8A");
}

struct JsonError {
  const char* name;
  std::function<void(json::object&)> change;
  std::string field;
};

TEST(AdvertJsonTest, StrictErrorsNameTheField) {
  auto model = [](json::object& o, size_t i) -> json::object& {
    return o["models"].as_array()[i].as_object();
  };
  const std::vector<JsonError> errors = {
      {"unknown", [](json::object& o) { o["colour"] = "red"; }, "colour"},
      {"missing seq", [](json::object& o) { o.erase("seq"); }, "seq"},
      {"missing certificate", [](json::object& o) { o.erase("certificate_pem"); },
       "certificate_pem"},
      {"epoch negative", [](json::object& o) { o["epoch"] = -1; }, "epoch"},
      {"epoch string", [](json::object& o) { o["epoch"] = "1"; }, "epoch"},
      {"ttl zero", [](json::object& o) { o["ttl_ms"] = 0; }, "ttl_ms"},
      {"issued_at", [](json::object& o) { o["issued_at"] = "yesterday"; }, "issued_at"},
      {"lat", [](json::object& o) { o["lat_microdeg"] = 90'000'001; }, "lat_microdeg"},
      {"lon", [](json::object& o) { o["lon_microdeg"] = -180'000'001; }, "lon_microdeg"},
      {"permille", [](json::object& o) { o["green_share_permille"] = 1001; },
       "green_share_permille"},
      {"free tflops over total", [](json::object& o) { o["free_fp16_dense_tflops"] = 900001; },
       "free_fp16_dense_tflops"},
      {"egress negative", [](json::object& o) { o["egress_per_gb_fen"] = -5; },
       "egress_per_gb_fen"},
      {"free over total", [&](json::object& o) { model(o, 0)["free"] = 2000; }, "models[0].free"},
      {"total negative", [&](json::object& o) { model(o, 1)["total"] = -1; }, "models[1].total"},
      {"model unknown field", [&](json::object& o) { model(o, 0)["x"] = 1; }, "models[0].x"},
      {"models unsorted", [&](json::object& o) { model(o, 1)["model"] = "a100"; },
       "models[1].model"},
      {"window start",
       [&](json::object& o) {
         model(o, 1)["price"].as_object()["windows"].as_array()[0].as_object()["start_minute"] =
             1440;
       },
       "models[1].price.windows[0].start_minute"},
      {"price missing", [&](json::object& o) { model(o, 0).erase("price"); }, "models[0].price"},
      {"links duplicate",
       [](json::object& o) { o["links"].as_array()[1].as_object()["center"] = "gansu-qingyang"; },
       "links[1].center"},
      {"links not array", [](json::object& o) { o["links"] = 3; }, "links"},
      {"signature", [](json::object& o) { o["signature"] = "not base64!"; }, "signature"},
  };
  const json::object base = ToJson(SampleAdvert());
  for (const JsonError& e : errors) {
    json::object o = base;
    e.change(o);
    core::Result<CapacityAdvert> r = AdvertFromJson(o);
    ASSERT_FALSE(r.ok()) << e.name;
    EXPECT_EQ(r.status().code(), core::Code::kInvalidArgument) << e.name;
    EXPECT_EQ(r.status().field(), e.field) << e.name << ": " << r.status().ToString();
  }
  EXPECT_FALSE(AdvertFromJson(json::value(3)).ok());
}

TEST(AdvertTest, SignAdvertSetsCertificateAndSignsCanonicalBytes) {
  CapacityAdvert a = SampleAdvert();
  a.center = "c1";
  const testing::FakeSigner signer("c1");
  ASSERT_TRUE(SignAdvert(signer, a).ok());
  EXPECT_EQ(a.certificate_pem, "cert:c1");
  const testing::FakeVerifier verifier;
  RejectReason reason = RejectReason::kMalformed;
  EXPECT_TRUE(verifier.Verify(a, a.issued_at, &reason).ok());
  a.models[0].free -= 1;
  EXPECT_FALSE(verifier.Verify(a, a.issued_at, &reason).ok());
  EXPECT_EQ(reason, RejectReason::kTampered);
}

TEST(AdvertTest, RejectReasonNames) {
  EXPECT_EQ(RejectReasonName(RejectReason::kMalformed), "malformed");
  EXPECT_EQ(RejectReasonName(RejectReason::kForged), "forged");
  EXPECT_EQ(RejectReasonName(RejectReason::kTampered), "tampered");
  EXPECT_EQ(RejectReasonName(RejectReason::kExpired), "expired");
  EXPECT_EQ(RejectReasonName(RejectReason::kStale), "stale");
  EXPECT_EQ(RejectReasonName(RejectReason::kRevoked), "revoked");
}

TEST(Base64Test, KnownVectors) {
  // RFC 4648 section 10.
  const std::vector<std::pair<std::string, std::string>> vectors = {{"", ""},
                                                                    {"f", "Zg=="},
                                                                    {"fo", "Zm8="},
                                                                    {"foo", "Zm9v"},
                                                                    {"foob", "Zm9vYg=="},
                                                                    {"fooba", "Zm9vYmE="},
                                                                    {"foobar", "Zm9vYmFy"}};
  for (const auto& [raw, text] : vectors) {
    EXPECT_EQ(Base64Encode(raw), text);
    EXPECT_EQ(Base64Decode(text), raw);
  }
}

TEST(Base64Test, RoundTripsArbitraryBytes) {
  std::mt19937 rng(7);
  for (size_t len = 0; len < 70; ++len) {
    std::string raw;
    for (size_t i = 0; i < len; ++i) raw.push_back(static_cast<char>(rng() & 0xff));
    EXPECT_EQ(Base64Decode(Base64Encode(raw)), raw) << len;
  }
}

TEST(Base64Test, RejectsMalformedText) {
  for (std::string_view bad :
       {"Zg=", "Zm9v!A==", "Zh==", "Zm9=", "=Zg=", "Z===", "Zg=a", "Zg==Zg==", "Zm 9v", "Zm9v\n"}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace edwc::federation
