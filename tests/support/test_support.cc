#include "tests/support/test_support.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>

#include "gateway/certs.h"
#include "gateway/pem.h"

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

void IssueExpiredCenterCert(const std::string& ca_dir, const std::string& center,
                            const std::string& out) {
  auto die = [](const std::string& what) {
    std::fprintf(stderr, "IssueExpiredCenterCert: %s\n", what.c_str());
    std::abort();
  };
  if (auto st = gateway::IssueCenterCert(ca_dir, center, out); !st.ok()) die(st.ToString());
  auto pem = gateway::ReadPemFile(out + "/center.pem");
  auto key_pem = gateway::ReadPemFile(ca_dir + "/ca.key");
  auto ca_pem = gateway::ReadPemFile(ca_dir + "/ca.pem");
  if (!pem.ok() || !key_pem.ok() || !ca_pem.ok()) die("cannot read the certificate or CA");
  auto certs = gateway::ParsePemCertificates(*pem);
  auto key_bio = gateway::MemoryBio(*key_pem);
  if (!certs.ok() || !key_bio.ok()) die("cannot parse the certificate");
  gateway::OpenSslPtr<EVP_PKEY, EVP_PKEY_free> ca_key(
      PEM_read_bio_PrivateKey(key_bio->get(), nullptr, nullptr, nullptr));
  X509* cert = (*certs)[0].get();
  if (!ca_key || X509_gmtime_adj(X509_getm_notBefore(cert), -10L * 86400) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert), -1L * 86400) == nullptr ||
      X509_sign(cert, ca_key.get(), EVP_sha256()) <= 0) {
    die("cannot re-date and re-sign the certificate");
  }
  auto leaf = gateway::CertificatePem(cert);
  if (!leaf.ok()) die(leaf.status().ToString());
  std::ofstream(out + "/center.pem", std::ios::trunc) << *leaf;
  std::ofstream(out + "/chain.pem", std::ios::trunc) << *leaf << *ca_pem;
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
