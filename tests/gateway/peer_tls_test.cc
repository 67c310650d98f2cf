// The peer listener's mutual TLS over real sockets on loopback port 0, with CAs made at
// test time: who may connect (a center certificate of the federation CA, over TLS 1.3)
// and who may not (another CA, an expired certificate, no certificate, TLS 1.2), and the
// client side: a server certificate from another CA is refused by the peer client.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>

#include "gateway/certs.h"
#include "gateway/http_client.h"
#include "gateway/http_server.h"
#include "gateway/io_runtime.h"
#include "gateway/openssl_ptr.h"
#include "gateway/peer_client.h"
#include "tests/support/test_support.h"

namespace edwc::gateway {
namespace {

using namespace std::chrono_literals;

config::TlsFiles Files(const testing::TestPki& pki) {
  return {pki.ca_file, pki.cert_file, pki.key_file};
}

// A peer listener (TLS 1.3, client certificate required) whose handler answers with the
// caller's center id, on its own runtime.
class PeerListener {
 public:
  explicit PeerListener(const testing::TestPki& pki) : runtime_(2) {
    ServerSettings s;
    s.tls = {pki.cert_file, pki.key_file, pki.ca_file, /*require_client_cert=*/true};
    s.handshake_timeout = 2s;
    server_ = std::make_unique<HttpServer>(
        runtime_, s,
        [this](HttpRequest& req, Respond respond) {
          served_++;
          respond(HttpResponse::Json(200, req.peer_center));
        },
        nullptr);
    auto port = server_->Listen();
    EXPECT_TRUE(port.ok()) << port.status().ToString();
    port_ = port.ok() ? *port : 0;
    runtime_.Start();
  }
  ~PeerListener() {
    auto drained = std::make_shared<std::promise<void>>();
    server_->Drain([drained] { drained->set_value(); });
    EXPECT_EQ(drained->get_future().wait_for(5s), std::future_status::ready);
    runtime_.Stop();
    runtime_.Join();
  }
  uint16_t port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  int served() const { return served_.load(); }

 private:
  IoRuntime runtime_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
  std::atomic<int> served_{0};
};

class PeerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alpha_ = testing::MakeTestPki(dir_.path(), "alpha");
    beta_ = testing::MakeTestPki(dir_.path(), "beta");
    // Same center id as a member, but issued by a CA the federation does not trust.
    rogue_ = testing::MakeTestPki(dir_.Sub("rogue"), "beta");
    const std::string stale_dir = dir_.Sub("stale");
    testing::IssueExpiredCenterCert(dir_.Sub("ca"), "gamma", stale_dir);
    stale_ = {alpha_.ca_file, stale_dir + "/chain.pem", stale_dir + "/center.key"};
    client_runtime_.Start();
  }
  void TearDown() override {
    client_runtime_.Stop();
    client_runtime_.Join();
  }

  std::unique_ptr<HttpsPeerClient> Client(const config::TlsFiles& tls) {
    PeerClientOptions options;
    options.max_attempts = 1;
    auto client = HttpsPeerClient::Create(client_runtime_, tls, options, nullptr);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  static core::Result<PeerResponse> Get(PeerClient& client, const std::string& url) {
    auto done = std::make_shared<std::promise<core::Result<PeerResponse>>>();
    auto future = done->get_future();
    client.Get(url, "/whoami", /*idempotent=*/false,
               [done](core::Result<PeerResponse> r) { done->set_value(std::move(r)); });
    if (future.wait_for(10s) != std::future_status::ready) {
      return core::Status(core::Code::kInternal, "no callback within 10 s");
    }
    return future.get();
  }

  testing::TempDir dir_;
  testing::TestPki alpha_, beta_, rogue_, stale_;
  IoRuntime client_runtime_{2};
};

TEST_F(PeerTlsTest, CenterCertificateOfTheFederationIsServedWithItsId) {
  PeerListener listener(alpha_);
  auto client = Client(Files(beta_));
  auto r = Get(*client, listener.url());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "beta");          // the server saw the client's SAN id
  EXPECT_EQ(r->peer_center, "alpha");  // and the client the server's
  EXPECT_EQ(listener.served(), 1);
}

TEST_F(PeerTlsTest, ClientCertificateFromAnotherCaIsRefused) {
  PeerListener listener(alpha_);
  // The client trusts the federation CA but presents the rogue CA's certificate.
  auto client = Client({alpha_.ca_file, rogue_.cert_file, rogue_.key_file});
  auto r = Get(*client, listener.url());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::Code::kUnavailable) << r.status().ToString();
  EXPECT_EQ(listener.served(), 0);
}

TEST_F(PeerTlsTest, ExpiredClientCertificateIsRefused) {
  PeerListener listener(alpha_);
  auto client = Client(Files(stale_));
  auto r = Get(*client, listener.url());
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(listener.served(), 0);
}

TEST_F(PeerTlsTest, NoClientCertificateIsRefused) {
  PeerListener listener(alpha_);
  auto client = HttpsClient::Create(listener.url(), {alpha_.ca_file, "", "", /*tls13_only=*/true},
                                    std::chrono::seconds(5));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto r = (*client)->Request("GET", "/whoami");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(listener.served(), 0);
}

TEST_F(PeerTlsTest, Tls12ClientIsRefused) {
  PeerListener listener(alpha_);
  // A valid center certificate, but TLS 1.2 only.
  EXPECT_FALSE(testing::TlsHandshakeSucceeds(listener.port(), TLS1_2_VERSION, nullptr, &beta_));
  EXPECT_EQ(listener.served(), 0);
}

TEST_F(PeerTlsTest, PeerClientRefusesServerCertificateFromAnotherCa) {
  // The listener trusts the rogue CA for clients, so only the client's check can refuse.
  PeerListener listener(rogue_);
  auto client = Client({alpha_.ca_file, rogue_.cert_file, rogue_.key_file});
  auto r = Get(*client, listener.url());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::Code::kPermissionDenied) << r.status().ToString();
  EXPECT_NE(r.status().message().find("refused"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(listener.served(), 0);
  EXPECT_EQ(client->connections_opened(), 0u);
}

TEST_F(PeerTlsTest, CreateRefusesAKeyOfAnotherCertificate) {
  // Creating the client with files that do not belong together fails up front.
  auto mismatched = HttpsPeerClient::Create(
      client_runtime_, {alpha_.ca_file, alpha_.cert_file, beta_.key_file}, {}, nullptr);
  EXPECT_FALSE(mismatched.ok());
  EXPECT_EQ(mismatched.status().code(), core::Code::kInvalidArgument);
}

}  // namespace
}  // namespace edwc::gateway
