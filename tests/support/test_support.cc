#include "tests/support/test_support.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "gateway/certs.h"

namespace edwc::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "edwc-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

TestPki MakeTestPki(const std::string& dir, const std::string& center) {
  const std::string ca_dir = dir + "/ca";
  const std::string out = dir + "/" + center;
  if (!fs::exists(ca_dir + "/ca.pem")) {
    if (auto st = gateway::InitDevCa(ca_dir); !st.ok()) {
      std::fprintf(stderr, "MakeTestPki: %s\n", st.ToString().c_str());
      std::abort();
    }
  }
  if (auto st = gateway::IssueCenterCert(ca_dir, center, out); !st.ok()) {
    std::fprintf(stderr, "MakeTestPki: %s\n", st.ToString().c_str());
    std::abort();
  }
  return {ca_dir + "/ca.pem", out + "/chain.pem", out + "/center.key"};
}

std::string TokenFor(config::Role role) {
  return "test-" + std::string(config::RoleName(role)) + "-token";
}

config::CenterConfig TestCenterConfig(const std::string& dir, const TestPki& pki,
                                      const std::string& center) {
  config::CenterConfig c;
  c.source_file = dir + "/center.yaml";
  c.center = {center,     "Test Computing Center", "ningxia",
              "Zhongwei", "cn-northwest",          {37.50, 105.19}};
  c.api = {"127.0.0.1", 0};
  c.peer = {"127.0.0.1", 0};
  c.tls = {pki.ca_file, pki.cert_file, pki.key_file};
  c.storage.path = dir + "/data";
  c.capacity.inventory = {{"h800", 16}, {"ascend-910b", 64}};
  const auto night = [](int64_t fen) {
    return core::TimeOfUseWindow{22 * 60, 6 * 60, core::Money::Fen(fen)};
  };
  c.pricing.models = {{"h800", {core::Money::Fen(2000), {night(1400)}}},
                      {"ascend-910b", {core::Money::Fen(900), {night(630)}}}};
  c.pricing.egress_per_gb = core::Money::Fen(50);
  for (auto role : {config::Role::kViewer, config::Role::kBroker, config::Role::kFinance,
                    config::Role::kOperator}) {
    c.tokens.push_back(
        {"test-" + std::string(config::RoleName(role)), role, gateway::Sha256Hex(TokenFor(role))});
  }
  return c;
}

}  // namespace edwc::testing
