#include "config/load.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace edwc::config {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const std::string kHashA(64, 'a');
const std::string kHashB(64, 'b');

// A valid configuration; the tests below edit it and expect errors at these lines.
const std::string kValid = R"(center:
  id: zhongwei
  name: Zhongwei Intelligent Computing Center
  hub: ningxia
  city: Zhongwei
  zone: cn-northwest
  location: {lat: 37.50, lon: 105.19}
listen:
  api: {address: 127.0.0.1, port: 7400}
  peer: {address: 127.0.0.1, port: 7401}
tls:
  ca: certs/ca.pem
  cert: certs/center.pem
  key: certs/center.key
storage:
  path: data
server:
  io_threads: 4
  max_connections: 500
  header_limit: 32KiB
  body_limit: 4MiB
  handshake_timeout: 500ms
  read_timeout: 20s
  write_timeout: 2m
  idle_timeout: 90s
  drain_timeout: 5s
capacity:
  source: static
  inventory:
    - {model: h800, count: 64}
    - {model: ascend-910b, count: 128}
pricing:
  egress_per_gb: "0.30"
  models:
    - model: h800
      per_device_hour: "18.00"
      time_of_use:
        - {from: "22:00", to: "06:00", per_device_hour: "12.60"}
        - {from: "12:00", to: "14:00", per_device_hour: "21.00"}
    - model: ascend-910b
      per_device_hour: 9.5
auth:
  tokens:
    - {name: demo-viewer, role: viewer, sha256: )" +
                           kHashA + R"(}
    - {name: demo-operator, role: operator, sha256: )" +
                           kHashB + R"(}
)";

// `text` with its one occurrence of `from` replaced by `to`.
std::string Edit(std::string text, std::string_view from, std::string_view to) {
  size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << "not in the text: " << from;
  if (at == std::string::npos) return text;
  EXPECT_EQ(text.find(from, at + 1), std::string::npos) << "more than once: " << from;
  return text.replace(at, from.size(), to);
}

void WriteFile(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

class LoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "edwc-config-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    fs::create_directories(dir_ / "certs");
    for (const char* name : {"ca.pem", "center.pem", "center.key"}) {
      WriteFile(dir_ / "certs" / name, "not really PEM\n");
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  core::Result<CenterConfig> Load(const std::string& text,
                                  std::vector<ConfigError>* errors = nullptr) {
    WriteFile(dir_ / "center.yaml", text);
    return LoadCenterConfig((dir_ / "center.yaml").string(), errors);
  }

  // The errors of loading `text` (none when it loads).
  std::vector<ConfigError> Errors(const std::string& text) {
    std::vector<ConfigError> errors;
    auto config = Load(text, &errors);
    EXPECT_EQ(config.ok(), errors.empty());
    return errors;
  }

  fs::path dir_;
};

// Expects exactly one error, at `line`:`column` on `key`, whose message contains `part`.
void ExpectOnlyError(const std::vector<ConfigError>& errors, int line, int column,
                     std::string_view key, std::string_view part) {
  std::string all;
  for (const ConfigError& e : errors) all += "\n  " + e.ToString();
  ASSERT_EQ(errors.size(), 1u) << all;
  const ConfigError& e = errors[0];
  EXPECT_EQ(e.line, line) << e.ToString();
  EXPECT_EQ(e.column, column) << e.ToString();
  EXPECT_EQ(e.key, key) << e.ToString();
  EXPECT_NE(e.message.find(part), std::string::npos) << e.ToString();
}

TEST_F(LoadTest, ValidConfigLoadsWithAbsolutePaths) {
  std::vector<ConfigError> errors;
  auto config = Load(kValid, &errors);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(errors.empty());
  const CenterConfig& c = *config;
  EXPECT_EQ(c.source_file, (dir_ / "center.yaml").string());
  EXPECT_EQ(c.center.id, "zhongwei");
  EXPECT_EQ(c.center.name, "Zhongwei Intelligent Computing Center");
  EXPECT_EQ(c.center.hub, "ningxia");
  EXPECT_EQ(c.center.city, "Zhongwei");
  EXPECT_EQ(c.center.zone, "cn-northwest");
  EXPECT_DOUBLE_EQ(c.center.location.lat, 37.50);
  EXPECT_DOUBLE_EQ(c.center.location.lon, 105.19);
  EXPECT_EQ(c.api.address, "127.0.0.1");
  EXPECT_EQ(c.api.port, 7400);
  EXPECT_EQ(c.peer.port, 7401);
  EXPECT_EQ(c.tls.ca, (dir_ / "certs/ca.pem").string());
  EXPECT_EQ(c.tls.cert, (dir_ / "certs/center.pem").string());
  EXPECT_EQ(c.tls.key, (dir_ / "certs/center.key").string());
  EXPECT_EQ(c.storage.path, (dir_ / "data").string());
  EXPECT_TRUE(fs::path(c.storage.path).is_absolute());

  EXPECT_EQ(c.server.io_threads, 4);
  EXPECT_EQ(c.server.max_connections, 500);
  EXPECT_EQ(c.server.header_limit_bytes, 32u * 1024);
  EXPECT_EQ(c.server.body_limit_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(c.server.handshake_timeout, milliseconds(500));
  EXPECT_EQ(c.server.read_timeout, milliseconds(20000));
  EXPECT_EQ(c.server.write_timeout, milliseconds(120000));
  EXPECT_EQ(c.server.idle_timeout, milliseconds(90000));
  EXPECT_EQ(c.server.drain_timeout, milliseconds(5000));

  EXPECT_EQ(c.capacity.source, CapacityConfig::Source::kStatic);
  ASSERT_EQ(c.capacity.inventory.size(), 2u);
  EXPECT_EQ(c.capacity.inventory[1].model, "ascend-910b");
  EXPECT_EQ(c.capacity.inventory[1].count, 128);

  EXPECT_EQ(c.pricing.egress_per_gb, core::Money::Fen(30));
  ASSERT_EQ(c.pricing.models.size(), 2u);
  const core::PriceSchedule& h800 = c.pricing.models[0].schedule;
  EXPECT_EQ(c.pricing.models[0].model, "h800");
  EXPECT_EQ(h800.base_per_device_hour, core::Money::Fen(1800));
  ASSERT_EQ(h800.windows.size(), 2u);
  EXPECT_EQ(h800.windows[0], (core::TimeOfUseWindow{22 * 60, 6 * 60, core::Money::Fen(1260)}));
  EXPECT_EQ(h800.windows[1], (core::TimeOfUseWindow{12 * 60, 14 * 60, core::Money::Fen(2100)}));
  EXPECT_EQ(c.pricing.models[1].schedule.base_per_device_hour, core::Money::Fen(950));
  EXPECT_TRUE(c.pricing.models[1].schedule.windows.empty());

  ASSERT_EQ(c.tokens.size(), 2u);
  EXPECT_EQ(c.tokens[0].name, "demo-viewer");
  EXPECT_EQ(c.tokens[0].role, Role::kViewer);
  EXPECT_EQ(c.tokens[1].role, Role::kOperator);
  EXPECT_EQ(c.tokens[1].sha256, kHashB);
}

TEST_F(LoadTest, ServerSectionIsOptional) {
  size_t from = kValid.find("server:");
  size_t to = kValid.find("capacity:");
  std::string text = kValid.substr(0, from) + kValid.substr(to);
  auto config = Load(text);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, ServerLimits{});
}

TEST_F(LoadTest, OneDocumentOnly) {
  ExpectOnlyError(Errors(kValid + "---\nother: 1\n"), 47, 1, "",
                  "only one YAML document is allowed");
  // yaml-cpp 0.7's LoadAll never returns on a stray ',' (fuzz/corpus/center_config).
  ExpectOnlyError(Errors(",\n"), 1, 1, "", "not valid YAML here");
}

TEST_F(LoadTest, UnknownKeyWithHint) {
  auto errors = Errors(Edit(kValid, "  io_threads: 4\n", "  io_thread: 4\n"));
  ExpectOnlyError(errors, 18, 3, "server.io_thread", "unknown key (did you mean \"io_threads\"?)");
}

TEST_F(LoadTest, UnknownTopLevelKey) {
  auto errors = Errors(kValid + "metrics: {}\n");
  ExpectOnlyError(errors, 46, 1, "metrics", "unknown key");
}

TEST_F(LoadTest, WrongType) {
  auto errors = Errors(Edit(kValid, "{lat: 37.50, lon: 105.19}", "[37.50, 105.19]"));
  ExpectOnlyError(errors, 7, 13, "center.location", "expected a map, got a sequence");
}

TEST_F(LoadTest, ScalarWhereSequenceExpected) {
  auto errors = Errors(kValid.substr(0, kValid.find("  tokens:\n")) + "  tokens: none\n");
  ExpectOnlyError(errors, 43, 11, "auth.tokens", "expected a sequence");
}

TEST_F(LoadTest, MissingRequiredKeyUsesParentMark) {
  auto errors = Errors(Edit(kValid, "  zone: cn-northwest\n", ""));
  ExpectOnlyError(errors, 2, 3, "center.zone", "missing required key");
}

TEST_F(LoadTest, MissingTopLevelSection) {
  auto errors = Errors(kValid.substr(0, kValid.find("auth:")));
  ExpectOnlyError(errors, 1, 1, "auth", "missing required key");
}

TEST_F(LoadTest, PortOutOfRange) {
  auto errors = Errors(Edit(kValid, "port: 7400", "port: 70000"));
  ExpectOnlyError(errors, 9, 35, "listen.api.port", "\"70000\" is out of range 0..65535");
}

TEST_F(LoadTest, BadCenterIdAndHubHint) {
  auto errors =
      Errors(Edit(Edit(kValid, "id: zhongwei", "id: Zhongwei_1"), "hub: ningxia", "hub: ningxa"));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].ToString(),
            (dir_ / "center.yaml").string() +
                ":2:7: center.id: \"Zhongwei_1\" is not valid: a center id is 1-63 characters of "
                "[a-z0-9-], starting with a letter and not ending with '-'");
  EXPECT_EQ(errors[1].line, 4);
  EXPECT_EQ(errors[1].column, 8);
  EXPECT_NE(errors[1].message.find("(did you mean \"ningxia\"?)"), std::string::npos);
}

TEST_F(LoadTest, NegativeMoney) {
  auto errors = Errors(Edit(kValid, "egress_per_gb: \"0.30\"", "egress_per_gb: \"-0.30\""));
  ExpectOnlyError(errors, 33, 18, "pricing.egress_per_gb", "must not be negative");
}

TEST_F(LoadTest, MoneyWithThreeDecimals) {
  auto errors = Errors(Edit(kValid, "per_device_hour: 9.5", "per_device_hour: 9.505"));
  ExpectOnlyError(errors, 41, 24, "pricing.models[1].per_device_hour", "not a CNY amount");
}

TEST_F(LoadTest, BadDurationAndSize) {
  auto errors = Errors(Edit(Edit(kValid, "read_timeout: 20s", "read_timeout: 20"),
                            "body_limit: 4MiB", "body_limit: 2GiB"));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].key, "server.body_limit");
  EXPECT_EQ(errors[0].line, 21);
  EXPECT_NE(errors[0].message.find("out of range 1KiB..1GiB"), std::string::npos);
  EXPECT_EQ(errors[1].key, "server.read_timeout");
  EXPECT_EQ(errors[1].line, 23);
  EXPECT_EQ(errors[1].column, 17);
  EXPECT_NE(errors[1].message.find("not a duration"), std::string::npos);
}

TEST_F(LoadTest, UnknownModelSuggestsCatalogId) {
  auto errors = Errors(Edit(kValid, "{model: h800, count: 64}", "{model: h8000, count: 64}"));
  // The inventory entry is refused; pricing then names h800 as not in the inventory.
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].key, "capacity.inventory[0].model");
  EXPECT_EQ(errors[0].line, 30);
  EXPECT_EQ(errors[0].column, 15);
  EXPECT_NE(errors[0].message.find("did you mean \"h800\"?"), std::string::npos);
  EXPECT_EQ(errors[1].key, "pricing.models[0].model");
}

TEST_F(LoadTest, SlurmSourceMapsGresTypesToModels) {
  const std::string slurm = Edit(kValid, R"(  source: static
  inventory:
    - {model: h800, count: 64}
    - {model: ascend-910b, count: 128}
)",
                                 R"(  source: slurm
  slurm:
    socket: /run/slurmrestd.sock
    refresh: 2s
    gres: {h800: h800, 910b: ascend-910b}
)");
  auto config = Load(slurm);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->capacity.source, CapacityConfig::Source::kSlurm);
  EXPECT_EQ(config->capacity.slurm.socket, "/run/slurmrestd.sock");
  EXPECT_EQ(config->capacity.slurm.refresh, milliseconds(2000));
  ASSERT_EQ(config->capacity.slurm.gres_models.size(), 2u);
  EXPECT_EQ(config->capacity.slurm.gres_models[1].second, "ascend-910b");
  // An unpriced mapped model, an unknown model, and an inventory that would be ignored.
  auto errors = Errors(Edit(Edit(slurm, "910b: ascend-910b", "910b: ascend-910b, l40: l20"),
                            "  slurm:\n", "  inventory: []\n  slurm:\n"));
  ASSERT_EQ(errors.size(), 2u) << errors[0].ToString();
  EXPECT_EQ(errors[0].key, "capacity.inventory");
  EXPECT_NE(errors[0].message.find("not used with source slurm"), std::string::npos);
  EXPECT_NE(errors[1].message.find("l20"), std::string::npos) << errors[1].ToString();
}

TEST_F(LoadTest, FederationSectionIsOptionalAndChecked) {
  auto lone = Load(kValid);
  ASSERT_TRUE(lone.ok());
  EXPECT_TRUE(lone->federation.seeds.empty());
  const std::string federated = kValid + R"(federation:
  seeds: [https://10.1.2.3:7401, "https://[::1]:7401"]
  revoked: [oldcenter]
  links: [{center: qingpu, bandwidth_mbps: 10000, rtt_ms: 28}]
  gossip: {fanout: 4, round: 100ms, advert_ttl: 10s, refresh: 3s}
)";
  auto config = Load(federated);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->federation.seeds.size(), 2u);
  EXPECT_EQ(config->federation.revoked, std::vector<std::string>{"oldcenter"});
  EXPECT_EQ(config->federation.links[0].rtt_ms, 28);
  EXPECT_EQ(config->federation.gossip.fanout, 4);
  EXPECT_EQ(config->federation.gossip.round, milliseconds(100));
  auto errors = Errors(Edit(Edit(federated, "https://10.1.2.3:7401", "http://10.1.2.3"),
                            "refresh: 3s", "refresh: 30s"));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].key, "federation.seeds[0]");
  EXPECT_EQ(errors[1].key, "federation.gossip.refresh");
}

TEST_F(LoadTest, TheExampleConfigLoads) {
  std::ifstream in(std::string(EDWC_SOURCE_DIR) + "/examples/center.yaml");
  std::ostringstream text;
  text << in.rdbuf();
  ASSERT_FALSE(text.str().empty());
  std::vector<ConfigError> errors;
  auto config = Load(text.str(), &errors);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->pricing.surge, (core::SurgeRule{800, 500}));
  EXPECT_TRUE(config->credit.has_default);
  EXPECT_EQ(config->credit.limits.size(), 1u);
}

TEST_F(LoadTest, JobsCreditAndSurgeAreOptionalAndChecked) {
  auto plain = Load(kValid);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->jobs.work_dir, plain->storage.path + ".jobs");
  EXPECT_EQ(plain->jobs.hold_ttl, milliseconds(30000));
  EXPECT_FALSE(plain->credit.has_default);
  EXPECT_EQ(plain->pricing.surge, core::SurgeRule{});
  const std::string full =
      Edit(kValid, "egress_per_gb: \"0.30\"",
           "egress_per_gb: \"0.30\"\n  surge: {above_percent: 80, max_extra_percent: 50}") +
      R"(jobs: {work_dir: runs, hold_ttl: 10s, poll: 500ms}
credit:
  default_limit: "100000.00"
  limits: [{center: qingpu, limit: "2500.50"}]
)";
  auto config = Load(full);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->pricing.surge, (core::SurgeRule{800, 500}));
  EXPECT_EQ(config->jobs.work_dir, (dir_ / "runs").string());
  EXPECT_EQ(config->jobs.hold_ttl, milliseconds(10000));
  EXPECT_EQ(config->jobs.poll, milliseconds(500));
  EXPECT_TRUE(config->credit.has_default);
  EXPECT_EQ(config->credit.default_limit, core::Money::Fen(10000000));
  ASSERT_EQ(config->credit.limits.size(), 1u);
  EXPECT_EQ(config->credit.limits[0].limit, core::Money::Fen(250050));
  auto errors = Errors(Edit(
      Edit(Edit(full, "above_percent: 80", "above_percent: 100"), "hold_ttl: 10s", "hold_ttl: 1h"),
      "limit: \"2500.50\"", "limit: \"-1\""));
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].key, "pricing.surge.above_percent");
  EXPECT_EQ(errors[1].key, "jobs.hold_ttl");
  EXPECT_EQ(errors[2].key, "credit.limits[0].limit");
}

TEST_F(LoadTest, DatasetsAreOptionalAndChecked) {
  auto plain = Load(kValid);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->datasets.dir, plain->storage.path + ".datasets");
  EXPECT_EQ(plain->datasets.chunk_size_bytes, 4 << 20);
  EXPECT_EQ(plain->datasets.streams, 8);
  EXPECT_TRUE(plain->datasets.residency.empty());
  const std::string full = kValid + std::string(R"(datasets:
  dir: data
  chunk_size: 1MiB
  streams: 8
  residency:
    - {name: personal-stays-east, tags: [personal], allow_zones: [yangtze-delta]}
)");
  auto config = Load(full);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->datasets.dir, (dir_ / "data").string());
  EXPECT_EQ(config->datasets.chunk_size_bytes, 1 << 20);
  EXPECT_EQ(config->datasets.streams, 8);
  ASSERT_EQ(config->datasets.residency.size(), 1u);
  EXPECT_EQ(config->datasets.residency[0],
            (core::ResidencyRule{"personal-stays-east", {}, {"personal"}, {"yangtze-delta"}}));
  auto errors = Errors(
      Edit(Edit(Edit(full, "chunk_size: 1MiB", "chunk_size: 1KiB"), "streams: 8", "streams: 0"),
           "allow_zones: [yangtze-delta]", "allow_zones: [Yangtze]"));
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0].key, "datasets.chunk_size");
  EXPECT_EQ(errors[1].key, "datasets.streams");
  EXPECT_EQ(errors[2].key, "datasets.residency[0].allow_zones[0]");
  EXPECT_GT(errors[2].line, 0);
  auto missing = Errors(Edit(full, ", allow_zones: [yangtze-delta]", ""));
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].key, "datasets.residency[0].allow_zones");
}

TEST_F(LoadTest, LogSectionIsOptionalAndStrict) {
  auto plain = Load(kValid);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->log, core::LogSettings{});
  EXPECT_EQ(plain->log.format, core::LogFormat::kText);
  EXPECT_EQ(plain->log.level, core::LogLevel::kInfo);
  EXPECT_TRUE(plain->log.access);

  auto json = Load(kValid + "log: {format: json, level: debug, access: false}\n");
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  EXPECT_EQ(json->log, (core::LogSettings{core::LogFormat::kJson, core::LogLevel::kDebug, false}));
  auto partial = Load(kValid + "log:\n  level: warn\n");
  ASSERT_TRUE(partial.ok()) << partial.status().ToString();
  EXPECT_EQ(partial->log, (core::LogSettings{core::LogFormat::kText, core::LogLevel::kWarn, true}));
  ASSERT_TRUE(Load(kValid + "log:\n").ok()) << "an empty section takes the defaults";

  // The section starts on the line after kValid's last.
  const int at = static_cast<int>(std::count(kValid.begin(), kValid.end(), '\n')) + 1;
  ExpectOnlyError(Errors(kValid + "log:\n  format: jsn\n"), at + 1, 11, "log.format",
                  "\"jsn\" is not one of text, json (did you mean \"json\"?)");
  ExpectOnlyError(Errors(kValid + "log:\n  level: warning\n"), at + 1, 10, "log.level",
                  "is not one of debug, info, warn, error");
  ExpectOnlyError(Errors(kValid + "log:\n  access: yes\n"), at + 1, 11, "log.access",
                  "\"yes\" is not true or false");
  ExpectOnlyError(Errors(kValid + "log:\n  acces: true\n"), at + 1, 3, "log.acces",
                  "unknown key (did you mean \"access\"?)");
  ExpectOnlyError(Errors(kValid + "log: [json]\n"), at, 6, "log", "expected a map");
  ExpectOnlyError(Errors(kValid + "log:\n  level: [info]\n"), at + 1, 10, "log.level",
                  "expected a scalar");
}

TEST_F(LoadTest, RateLimitsAreOptionalAndChecked) {
  auto plain = Load(kValid);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->rate_limits, RateLimits{}) << "no limit unless configured";
  auto both = Load(kValid +
                   "rate_limits:\n  per_token: {per_second: 50, burst: 200}\n"
                   "  per_peer: {per_second: 5000}\n");
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(both->rate_limits.per_token, (RateLimit{50, 200}));
  EXPECT_EQ(both->rate_limits.per_peer, (RateLimit{5000, 5000})) << "burst defaults to the rate";

  const int at = static_cast<int>(std::count(kValid.begin(), kValid.end(), '\n')) + 1;
  ExpectOnlyError(Errors(kValid + "rate_limits:\n  per_token: {burst: 10}\n"), at + 1, 14,
                  "rate_limits.per_token.per_second", "missing");
  ExpectOnlyError(Errors(kValid + "rate_limits:\n  per_token: {per_second: 0}\n"), at + 1, 27,
                  "rate_limits.per_token.per_second", "\"0\" is out of range 1..10000000");
  ExpectOnlyError(Errors(kValid + "rate_limits:\n  per_tokens: {per_second: 5}\n"), at + 1, 3,
                  "rate_limits.per_tokens", "unknown key (did you mean \"per_token\"?)");
}

TEST_F(LoadTest, UrlLimitIsWithinTheHeaderLimit) {
  auto plain = Load(kValid);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->server.url_limit_bytes, 8192u);
  auto small = Load(Edit(kValid, "header_limit: 32KiB", "header_limit: 4KiB"));
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ(small->server.url_limit_bytes, 4096u) << "at most the header limit by default";
  auto set = Load(Edit(kValid, "header_limit: 32KiB", "header_limit: 32KiB\n  url_limit: 2KiB"));
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->server.url_limit_bytes, 2048u);
  auto errors =
      Errors(Edit(kValid, "header_limit: 32KiB", "header_limit: 4KiB\n  url_limit: 8KiB"));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].key, "server.url_limit");
  EXPECT_NE(errors[0].message.find("must not be over header_limit (4096 bytes)"), std::string::npos)
      << errors[0].ToString();
}

TEST_F(LoadTest, ApiAndPeerOnSameAddressAndPort) {
  auto errors = Errors(Edit(kValid, "port: 7401", "port: 7400"));
  ExpectOnlyError(errors, 10, 36, "listen.peer.port",
                  "peer 127.0.0.1:7400 clashes with api 127.0.0.1:7400");
  EXPECT_TRUE(Errors(Edit(Edit(kValid, "port: 7401", "port: 0"), "port: 7400", "port: 0")).empty());
  auto wildcard = Edit(Edit(kValid, "port: 7401", "port: 7400"), "peer: {address: 127.0.0.1",
                       "peer: {address: 0.0.0.0");
  EXPECT_EQ(Errors(wildcard).size(), 1u);
}

TEST_F(LoadTest, DuplicateTokenNameAndBadHash) {
  auto errors = Errors(
      Edit(Edit(kValid, "name: demo-operator", "name: demo-viewer"), kHashB, std::string(63, 'B')));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].key, "auth.tokens[1].name");
  EXPECT_NE(errors[0].message.find("same name as auth.tokens[0].name"), std::string::npos);
  EXPECT_EQ(errors[1].key, "auth.tokens[1].sha256");
}

TEST_F(LoadTest, YamlSyntaxError) {
  auto errors = Errors(Edit(kValid, "city: Zhongwei", "city: Zhongwei: West"));
  ExpectOnlyError(errors, 5, 17, "", "illegal map value");
  EXPECT_EQ(errors[0].ToString(), (dir_ / "center.yaml").string() + ":5:17: illegal map value");
}

TEST_F(LoadTest, DuplicateKey) {
  auto errors = Errors(Edit(kValid, "  city: Zhongwei\n", "  city: Zhongwei\n  city: Yinchuan\n"));
  ExpectOnlyError(errors, 6, 3, "center.city", "duplicate key (first at line 5)");
}

TEST_F(LoadTest, EmptyFile) {
  auto errors = Errors("# nothing here\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].line, 0);
  EXPECT_NE(errors[0].message.find("empty"), std::string::npos);
}

TEST_F(LoadTest, MissingFile) {
  std::vector<ConfigError> errors;
  std::string path = (dir_ / "absent.yaml").string();
  auto config = LoadCenterConfig(path, &errors);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), core::Code::kInvalidArgument);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, path);
  EXPECT_EQ(errors[0].line, 0);
  EXPECT_EQ(errors[0].ToString(), path + ": no such file");
  EXPECT_EQ(config.status().message(), path + ": no such file");
}

TEST_F(LoadTest, MissingTlsFile) {
  fs::remove(dir_ / "certs/center.key");
  auto errors = Errors(kValid);
  ExpectOnlyError(errors, 14, 8, "tls.key",
                  "file not found: " + (dir_ / "certs/center.key").string());
}

TEST_F(LoadTest, TlsPathIsADirectory) {
  auto errors = Errors(Edit(kValid, "ca: certs/ca.pem", "ca: certs"));
  ExpectOnlyError(errors, 12, 7, "tls.ca", "not a regular file");
}

TEST_F(LoadTest, DuplicateInventoryModel) {
  auto errors = Errors(Edit(kValid, "{model: ascend-910b, count: 128}\n",
                            "{model: ascend-910b, count: 128}\n    - {model: h800, count: 8}\n"));
  ExpectOnlyError(errors, 32, 15, "capacity.inventory[2].model",
                  "duplicate model h800 (also at capacity.inventory[0].model)");
}

TEST_F(LoadTest, UnpricedInventoryModel) {
  size_t cut = kValid.find("    - model: ascend-910b");
  std::string text = kValid.substr(0, cut) + kValid.substr(kValid.find("auth:"));
  auto errors = Errors(text);
  ExpectOnlyError(errors, 35, 5, "pricing.models",
                  "no price for inventory model ascend-910b (capacity.inventory[1].model)");
}

TEST_F(LoadTest, OverlappingWindows) {
  auto errors =
      Errors(Edit(kValid, "{from: \"12:00\", to: \"14:00\"", "{from: \"05:00\", to: \"07:00\""));
  ExpectOnlyError(errors, 39, 11, "pricing.models[0].time_of_use[1]",
                  "05:00-07:00 overlaps pricing.models[0].time_of_use[0] at 05:00");
}

TEST_F(LoadTest, WindowsMayTouchAndEndAtMidnight) {
  auto text = Edit(kValid, "{from: \"12:00\", to: \"14:00\"", "{from: \"06:00\", to: \"24:00\"");
  text = Edit(text, "{from: \"22:00\", to: \"06:00\"", "{from: \"00:00\", to: \"06:00\"");
  EXPECT_TRUE(Errors(text).empty());
  auto errors = Errors(Edit(kValid, "to: \"14:00\"", "to: \"12:00\""));
  ExpectOnlyError(errors, 39, 31, "pricing.models[0].time_of_use[1].to", "must differ");
  errors = Errors(Edit(kValid, "from: \"12:00\"", "from: \"24:00\""));
  ExpectOnlyError(errors, 39, 18, "pricing.models[0].time_of_use[1].from", "not a time of day");
}

TEST_F(LoadTest, CollectsEveryError) {
  std::string text = Edit(kValid, "  zone: cn-northwest\n", "");  // line 6 gone
  text = Edit(text, "port: 7400", "port: -1");                    // 8:35
  text = Edit(text, "  io_threads: 4\n", "  io_threads: 0\n");    // 17:17
  text = Edit(text, "count: 128", "count: 0");                    // 30:35
  text = Edit(text, "role: viewer", "role: admin");               // 43:39
  std::vector<ConfigError> errors;
  auto config = Load(text, &errors);
  ASSERT_FALSE(config.ok());
  ASSERT_EQ(errors.size(), 5u);
  std::vector<std::string> keys;
  std::string joined;
  for (const ConfigError& e : errors) {
    keys.push_back(e.key);
    joined += (joined.empty() ? "" : "\n") + e.ToString();
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"center.zone", "listen.api.port", "server.io_threads",
                                            "capacity.inventory[1].count", "auth.tokens[0].role"}));
  EXPECT_EQ(config.status().message(), joined);
  EXPECT_EQ(errors[3].line, 30);
  EXPECT_EQ(errors[3].column, 35);
}

TEST_F(LoadTest, RenderLoadsBackEqual) {
  auto config = Load(kValid);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  std::string text = RenderCenterConfig(*config);
  EXPECT_EQ(text.rfind("# edwc center configuration (see docs/configuration.md)\n", 0), 0u);
  EXPECT_NE(text.find("per_device_hour: \"18.00\""), std::string::npos);
  EXPECT_NE(text.find("handshake_timeout: 500ms"), std::string::npos);
  EXPECT_NE(text.find("header_limit: 32KiB"), std::string::npos);

  std::vector<ConfigError> errors;
  auto again = ParseCenterConfig(text, "rendered.yaml", "/elsewhere", &errors);
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << text;
  EXPECT_EQ(again->source_file, "");
  again->source_file = config->source_file;
  EXPECT_EQ(*again, *config);
}

TEST_F(LoadTest, RenderRoundTripsAwkwardValues) {
  auto config = Load(kValid);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  CenterConfig c = *config;
  c.center.name = "Zhongwei \"West\" #1: 中卫\\";
  c.center.location = {-0.1, 179.999999};
  c.api = {"::1", 0};
  c.peer = {"::1", 0};
  c.server.body_limit_bytes = 1500;
  c.server.read_timeout = milliseconds(1500);
  c.server.idle_timeout = milliseconds(3 * 60000);
  c.pricing.models[1].schedule.windows = {{6 * 60, 24 * 60, core::Money::Fen(1)}};
  c.tokens.clear();
  c.center.green_share_permille = 620;
  c.center.pue_milli = 1250;
  c.federation.seeds = {"https://[::1]:7401"};
  c.federation.revoked = {"gone"};
  c.federation.links = {{"qingpu", 10000, 28}};
  c.federation.gossip.round = milliseconds(150);
  c.pricing.surge = {800, 500};
  c.jobs.hold_ttl = milliseconds(4000);
  c.credit.has_default = true;
  c.credit.default_limit = core::Money::Fen(5000000);
  c.credit.limits = {{"qingpu", core::Money::Fen(0)}};
  c.datasets.chunk_size_bytes = 1 << 20;
  c.datasets.streams = 8;
  c.datasets.residency = {{"personal-stays-east", {}, {"personal"}, {"yangtze-delta"}},
                          {"gov-data", {"yangtze-delta"}, {}, {"yangtze-delta", "jing-jin-ji"}}};
  c.log = {core::LogFormat::kJson, core::LogLevel::kError, false};
  auto again = ParseCenterConfig(RenderCenterConfig(c), "rendered.yaml", dir_.string());
  ASSERT_TRUE(again.ok()) << again.status().message() << "\n" << RenderCenterConfig(c);
  again->source_file = c.source_file;
  EXPECT_EQ(*again, c);
}

TEST(ConfigErrorTest, ToStringFormat) {
  EXPECT_EQ((ConfigError{"center.yaml", 12, 5, "pricing.egress_per_gb", "bad"}).ToString(),
            "center.yaml:12:5: pricing.egress_per_gb: bad");
  EXPECT_EQ((ConfigError{"center.yaml", 3, 1, "", "syntax"}).ToString(), "center.yaml:3:1: syntax");
  EXPECT_EQ((ConfigError{"c.yaml", 0, 0, "", "no such file"}).ToString(), "c.yaml: no such file");
}

TEST(RoleNameTest, Names) {
  EXPECT_EQ(RoleName(Role::kViewer), "viewer");
  EXPECT_EQ(RoleName(Role::kBroker), "broker");
  EXPECT_EQ(RoleName(Role::kFinance), "finance");
  EXPECT_EQ(RoleName(Role::kOperator), "operator");
}

}  // namespace
}  // namespace edwc::config
