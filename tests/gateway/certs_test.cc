#include "gateway/certs.h"
#include "gateway/openssl_ptr.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>

namespace edwc::gateway {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

core::Time Now() {
  return std::chrono::time_point_cast<core::Duration>(std::chrono::system_clock::now());
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

X509Ptr LoadCert(const std::string& path) {
  std::string pem = ReadFile(path);
  std::unique_ptr<BIO, OpenSslFree<BIO_free>> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

mode_t FileMode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "edwc_certs_XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class CertsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    ASSERT_TRUE(InitDevCa(ca_dir_).ok());
    core::Status st = IssueCenterCert(ca_dir_, "alpha", alpha_dir_);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  TempDir tmp_;
  std::string ca_dir_ = tmp_.path() + "/ca";
  std::string alpha_dir_ = tmp_.path() + "/alpha";
};

TEST_F(CertsTest, WritesFilesWithPrivateKeysOwnerOnly) {
  EXPECT_EQ(FileMode(ca_dir_ + "/ca.key"), 0600u);
  EXPECT_EQ(FileMode(alpha_dir_ + "/center.key"), 0600u);
  for (const char* name : {"center.pem", "chain.pem", "ca.pem"}) {
    EXPECT_EQ(FileMode(alpha_dir_ + "/" + name), 0644u) << name;
  }
  EXPECT_EQ(ReadFile(alpha_dir_ + "/ca.pem"), ReadFile(ca_dir_ + "/ca.pem"));
  EXPECT_EQ(ReadFile(alpha_dir_ + "/chain.pem"),
            ReadFile(alpha_dir_ + "/center.pem") + ReadFile(ca_dir_ + "/ca.pem"));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(alpha_dir_)) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
    ++files;
  }
  EXPECT_EQ(files, 4);  // no temporaries left behind
}

TEST_F(CertsTest, CenterIdFromCertificate) {
  auto id = CenterIdFromCertificateFile(alpha_dir_ + "/center.pem");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, "alpha");
  auto from_chain = CenterIdFromCertificatePem(ReadFile(alpha_dir_ + "/chain.pem"));
  ASSERT_TRUE(from_chain.ok());
  EXPECT_EQ(*from_chain, "alpha");

  EXPECT_EQ(CenterIdFromCertificateFile(ca_dir_ + "/ca.pem").status().code(),
            core::Code::kNotFound);
  EXPECT_EQ(CenterIdFromCertificatePem("not a pem").status().code(), core::Code::kInvalidArgument);
  EXPECT_EQ(CenterIdFromCertificateFile(tmp_.path() + "/missing.pem").status().code(),
            core::Code::kNotFound);
}

TEST_F(CertsTest, VerifiesOnlyWithinValidity) {
  std::string leaf = ReadFile(alpha_dir_ + "/center.pem");
  std::string chain = ReadFile(alpha_dir_ + "/chain.pem");
  std::string ca = ReadFile(ca_dir_ + "/ca.pem");
  EXPECT_TRUE(VerifyCertificateAgainstCa(leaf, ca, Now()).ok());
  EXPECT_TRUE(VerifyCertificateAgainstCa(chain, ca, Now()).ok());
  // not_before is now - 5 min, so a peer whose clock is a little behind still accepts it.
  EXPECT_TRUE(VerifyCertificateAgainstCa(leaf, ca, Now() - minutes(4)).ok());

  core::Status expired = VerifyCertificateAgainstCa(leaf, ca, Now() + hours(24 * 400));
  EXPECT_EQ(expired.code(), core::Code::kPermissionDenied);
  EXPECT_NE(expired.message().find("expired"), std::string::npos) << expired.message();

  core::Status early = VerifyCertificateAgainstCa(leaf, ca, Now() - minutes(10));
  EXPECT_EQ(early.code(), core::Code::kPermissionDenied);
  EXPECT_NE(early.message().find("not yet valid"), std::string::npos) << early.message();

  EXPECT_EQ(VerifyCertificateAgainstCa("garbage", ca, Now()).code(), core::Code::kInvalidArgument);
}

TEST_F(CertsTest, CertificateFromAnotherCaFails) {
  std::string other_ca = tmp_.path() + "/other-ca";
  ASSERT_TRUE(InitDevCa(other_ca, {.common_name = "someone else's CA"}).ok());
  ASSERT_TRUE(IssueCenterCert(other_ca, "mallory", tmp_.path() + "/mallory").ok());

  std::string ca = ReadFile(ca_dir_ + "/ca.pem");
  core::Status st =
      VerifyCertificateAgainstCa(ReadFile(tmp_.path() + "/mallory/chain.pem"), ca, Now());
  EXPECT_EQ(st.code(), core::Code::kPermissionDenied) << st.ToString();
  EXPECT_EQ(VerifyCertificateAgainstCa(ReadFile(alpha_dir_ + "/center.pem"),
                                       ReadFile(other_ca + "/ca.pem"), Now())
                .code(),
            core::Code::kPermissionDenied);
}

TEST_F(CertsTest, KeyMismatchDetected) {
  ASSERT_TRUE(IssueCenterCert(ca_dir_, "beta", tmp_.path() + "/beta").ok());
  EXPECT_TRUE(
      CheckKeyMatchesCertificate(alpha_dir_ + "/center.pem", alpha_dir_ + "/center.key").ok());
  core::Status st =
      CheckKeyMatchesCertificate(alpha_dir_ + "/center.pem", tmp_.path() + "/beta/center.key");
  EXPECT_EQ(st.code(), core::Code::kInvalidArgument);
  EXPECT_NE(st.message().find("does not match"), std::string::npos) << st.message();
  EXPECT_FALSE(
      CheckKeyMatchesCertificate(alpha_dir_ + "/center.pem", alpha_dir_ + "/center.pem").ok());
}

TEST_F(CertsTest, LeafHasTheExpectedNamesAndUsages) {
  X509Ptr leaf = LoadCert(alpha_dir_ + "/center.pem");
  X509Ptr ca = LoadCert(ca_dir_ + "/ca.pem");
  ASSERT_TRUE(leaf && ca);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "::1", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "10.0.0.1", 0), 0);
  EXPECT_EQ(X509_check_host(leaf.get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_SERVER, 0), 1);
  EXPECT_EQ(X509_check_purpose(leaf.get(), X509_PURPOSE_SSL_CLIENT, 0), 1);
  EXPECT_EQ(X509_check_ca(leaf.get()), 0);
  EXPECT_EQ(X509_check_ca(ca.get()), 1);
  EXPECT_EQ(X509_get_signature_nid(leaf.get()), NID_ecdsa_with_SHA256);
  EXPECT_EQ(X509_get_extension_flags(leaf.get()) & EXFLAG_CRITICAL, 0u);  // all understood
  std::unique_ptr<BIGNUM, OpenSslFree<BN_free>> serial(
      ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf.get()), nullptr));
  EXPECT_GE(BN_num_bits(serial.get()), 64) << "serial should be 128 random bits";

  char cn[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(leaf.get()), NID_commonName, cn, sizeof cn);
  EXPECT_STREQ(cn, "alpha");
  char org[64] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(leaf.get()), NID_organizationName, org,
                            sizeof org);
  EXPECT_STREQ(org, "edwc federation");
}

TEST_F(CertsTest, ExtraNamesAreAddedAndValidated) {
  IssueOptions options;
  options.extra_dns = {"gamma.example.org"};
  options.extra_ips = {"10.1.2.3", "fd00::7"};
  ASSERT_TRUE(IssueCenterCert(ca_dir_, "gamma", tmp_.path() + "/gamma", options).ok());
  X509Ptr leaf = LoadCert(tmp_.path() + "/gamma/center.pem");
  ASSERT_TRUE(leaf);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "10.1.2.3", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "fd00::7", 0), 1);
  EXPECT_EQ(X509_check_ip_asc(leaf.get(), "127.0.0.1", 0), 1);
  EXPECT_EQ(X509_check_host(leaf.get(), "gamma.example.org", 0, 0, nullptr), 1);

  IssueOptions bad_ip;
  bad_ip.extra_ips = {"10.1.2"};
  core::Status st = IssueCenterCert(ca_dir_, "delta", tmp_.path() + "/delta", bad_ip);
  EXPECT_EQ(st.code(), core::Code::kInvalidArgument);
  EXPECT_EQ(st.field(), "extra_ips");
  IssueOptions bad_dns;
  bad_dns.extra_dns = {"a.example,IP:1.2.3.4"};
  EXPECT_EQ(IssueCenterCert(ca_dir_, "delta", tmp_.path() + "/delta", bad_dns).code(),
            core::Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() + "/delta"));
}

// Chain verification as a TLS stack does it: strict RFC 5280 checks, the TLS purpose of
// each side and the peer's IP address.
TEST_F(CertsTest, StrictVerificationForBothTlsRoles) {
  X509Ptr leaf = LoadCert(alpha_dir_ + "/center.pem");
  X509Ptr ca = LoadCert(ca_dir_ + "/ca.pem");
  for (int purpose : {X509_PURPOSE_SSL_SERVER, X509_PURPOSE_SSL_CLIENT}) {
    X509StorePtr store(X509_STORE_new());
    ASSERT_EQ(X509_STORE_add_cert(store.get(), ca.get()), 1);
    X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    ASSERT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr), 1);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
    ASSERT_EQ(X509_VERIFY_PARAM_set1_ip_asc(param, "127.0.0.1"), 1);
    ASSERT_EQ(X509_STORE_CTX_set_purpose(ctx.get(), purpose), 1);
    EXPECT_EQ(X509_verify_cert(ctx.get()), 1)
        << purpose << ": " << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
  }
}

SslCtxPtr TlsContext(bool server, const std::string& dir) {
  SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return ctx;
  bool ok = SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) == 1 &&
            SSL_CTX_use_certificate_chain_file(ctx.get(), (dir + "/chain.pem").c_str()) == 1 &&
            SSL_CTX_use_PrivateKey_file(ctx.get(), (dir + "/center.key").c_str(),
                                        SSL_FILETYPE_PEM) == 1 &&
            SSL_CTX_check_private_key(ctx.get()) == 1 &&
            SSL_CTX_load_verify_locations(ctx.get(), (dir + "/ca.pem").c_str(), nullptr) == 1;
  if (!ok) return nullptr;
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return ctx;
}

// Runs a mutually authenticated TLS handshake in memory; the client expects the server at
// `server_ip`. Returns the client's verify result, or -1 if a side failed otherwise.
long Handshake(const std::string& server_dir, const std::string& client_dir, const char* server_ip,
               std::string* client_id_seen_by_server) {
  SslCtxPtr server_ctx = TlsContext(true, server_dir);
  SslCtxPtr client_ctx = TlsContext(false, client_dir);
  if (!server_ctx || !client_ctx) return -1;
  SslPtr server(SSL_new(server_ctx.get()));
  SslPtr client(SSL_new(client_ctx.get()));
  BIO* server_bio = nullptr;
  BIO* client_bio = nullptr;
  if (BIO_new_bio_pair(&server_bio, 0, &client_bio, 0) != 1) return -1;
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_accept_state(server.get());
  SSL_set_connect_state(client.get());
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(client.get()), server_ip);

  for (int round = 0; round < 50; ++round) {
    int c = SSL_do_handshake(client.get());
    int s = SSL_do_handshake(server.get());
    if (c == 1 && s == 1) {
      const X509* peer = SSL_get0_peer_certificate(server.get());
      std::unique_ptr<BIO, OpenSslFree<BIO_free>> out(BIO_new(BIO_s_mem()));
      PEM_write_bio_X509(out.get(), const_cast<X509*>(peer));
      char* data = nullptr;
      long size = BIO_get_mem_data(out.get(), &data);
      auto id = CenterIdFromCertificatePem(std::string_view(data, static_cast<size_t>(size)));
      *client_id_seen_by_server = id.ok() ? *id : id.status().ToString();
      return SSL_get_verify_result(client.get());
    }
    for (auto [ssl, rc] : {std::pair{client.get(), c}, std::pair{server.get(), s}}) {
      int err = SSL_get_error(ssl, rc);
      if (rc != 1 && err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        long verify = SSL_get_verify_result(client.get());
        ERR_clear_error();
        return verify != X509_V_OK ? verify : -1;
      }
    }
  }
  return -1;
}

TEST_F(CertsTest, MutualTlsHandshakeWithIpVerification) {
  std::string beta_dir = tmp_.path() + "/beta";
  ASSERT_TRUE(IssueCenterCert(ca_dir_, "beta", beta_dir).ok());
  std::string client_id;
  EXPECT_EQ(Handshake(alpha_dir_, beta_dir, "127.0.0.1", &client_id), X509_V_OK);
  EXPECT_EQ(client_id, "beta");
  EXPECT_EQ(Handshake(alpha_dir_, beta_dir, "::1", &client_id), X509_V_OK);
  EXPECT_EQ(Handshake(alpha_dir_, beta_dir, "192.0.2.1", &client_id),
            X509_V_ERR_IP_ADDRESS_MISMATCH);
}

TEST_F(CertsTest, InitDevCaRefusesToOverwrite) {
  std::string before = ReadFile(ca_dir_ + "/ca.pem");
  core::Status st = InitDevCa(ca_dir_);
  EXPECT_EQ(st.code(), core::Code::kAlreadyExists) << st.ToString();
  EXPECT_EQ(ReadFile(ca_dir_ + "/ca.pem"), before);

  ASSERT_TRUE(InitDevCa(ca_dir_, {.overwrite = true}).ok());
  EXPECT_NE(ReadFile(ca_dir_ + "/ca.pem"), before);
  EXPECT_EQ(FileMode(ca_dir_ + "/ca.key"), 0600u);
}

TEST_F(CertsTest, InvalidCenterIdRefused) {
  for (const char* id : {"", "Alpha", "1abc", "a_b", "abc-", "../etc", "a/b"}) {
    core::Status st = IssueCenterCert(ca_dir_, id, tmp_.path() + "/bad");
    EXPECT_EQ(st.code(), core::Code::kInvalidArgument) << "'" << id << "'";
  }
  EXPECT_FALSE(std::filesystem::exists(tmp_.path() + "/bad"));
  EXPECT_EQ(IssueCenterCert(tmp_.path() + "/no-ca", "alpha", tmp_.path() + "/x").code(),
            core::Code::kNotFound);
}

TEST_F(CertsTest, OpenSslCliSeesTheSubjectAltNames) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "openssl CLI not installed";
  }
  std::string command =
      "openssl x509 -noout -ext subjectAltName -in '" + alpha_dir_ + "/center.pem' 2>&1";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  ASSERT_TRUE(pipe);
  std::string out;
  char buf[256];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe.get())) out.append(buf, n);
  EXPECT_NE(out.find("URI:edwc://center/alpha"), std::string::npos) << out;
  EXPECT_NE(out.find("DNS:localhost"), std::string::npos) << out;
  EXPECT_NE(out.find("IP Address:127.0.0.1"), std::string::npos) << out;
}

TEST(Sha256HexTest, KnownVectors) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(RandomTokenTest, LengthCharsetAndUniqueness) {
  EXPECT_EQ(RandomToken(0), "edwc_");
  EXPECT_EQ(RandomToken(1).size(), 5u + 2u);
  EXPECT_EQ(RandomToken(2).size(), 5u + 3u);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string token = RandomToken();
    ASSERT_EQ(token.size(), 5u + 32u) << token;
    ASSERT_EQ(token.rfind("edwc_", 0), 0u);
    for (char c : token.substr(5)) {
      ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << token;
    }
    seen.insert(token);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace edwc::gateway
