#include "tests/support/test_support.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

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

TestPki MakeTestPki(const std::string& dir, const std::string& center,
                    const std::vector<std::string>& extra_ips) {
  const std::string ca_dir = dir + "/ca";
  const std::string out = dir + "/" + center;
  if (!fs::exists(ca_dir + "/ca.pem")) {
    if (auto st = gateway::InitDevCa(ca_dir); !st.ok()) {
      std::fprintf(stderr, "MakeTestPki: %s\n", st.ToString().c_str());
      std::abort();
    }
  }
  gateway::IssueOptions options;
  options.extra_ips = extra_ips;
  if (auto st = gateway::IssueCenterCert(ca_dir, center, out, options); !st.ok()) {
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

bool TlsHandshakeSucceeds(uint16_t port, int version, const char* ciphers12,
                          const TestPki* client) {
  gateway::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_security_level(ctx.get(), 0);
  SSL_CTX_set_min_proto_version(ctx.get(), version);
  SSL_CTX_set_max_proto_version(ctx.get(), version);
  if (ciphers12 != nullptr) SSL_CTX_set_cipher_list(ctx.get(), ciphers12);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (client != nullptr &&
      (SSL_CTX_use_certificate_chain_file(ctx.get(), client->cert_file.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx.get(), client->key_file.c_str(), SSL_FILETYPE_PEM) != 1)) {
    std::fprintf(stderr, "TlsHandshakeSucceeds: cannot load %s\n", client->cert_file.c_str());
    std::abort();
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    gateway::SslPtr ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd);
    ok = SSL_connect(ssl.get()) == 1;
  }
  close(fd);
  return ok;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
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
