// The peer listener of a real agent: only federation certificates get in, adverts that
// are forged or tampered are refused and counted, and api and peer routes stay apart.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "federation/gossip.h"
#include "gateway/advert_crypto.h"
#include "gateway/agent.h"
#include "gateway/http_client.h"
#include "tests/support/test_support.h"

namespace edwc::gateway {
namespace {

namespace json = boost::json;
using federation::CapacityAdvert;
using federation::GossipMessage;

class PeerSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = testing::MakeTestPki(dir_.path(), "target");
    peer_pki_ = testing::MakeTestPki(dir_.path(), "peer");
    config::CenterConfig c = testing::TestCenterConfig(dir_.path(), pki_, "target");
    Customize(c);
    auto agent = Agent::Start(std::move(c), false);
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agent_ = std::move(agent).value();
    peer_url_ = "https://127.0.0.1:" + std::to_string(agent_->peer_port());
    api_url_ = "https://127.0.0.1:" + std::to_string(agent_->api_port());
  }
  void TearDown() override {
    if (agent_) {
      agent_->RequestStop();
      agent_->Wait();
    }
  }
  virtual void Customize(config::CenterConfig&) {}

  // A client presenting `pki`'s certificate (TLS 1.3) to the peer listener.
  std::unique_ptr<HttpsClient> PeerClientWith(const testing::TestPki& pki) {
    auto c = HttpsClient::Create(peer_url_, {pki_.ca_file, pki.cert_file, pki.key_file, true});
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }

  // An advert of `center`, signed with `signer_pki`'s key and certificate.
  CapacityAdvert SignedAdvert(const std::string& center, const testing::TestPki& signer_pki) {
    CapacityAdvert a;
    a.center = center;
    a.peer_url = "https://127.0.0.1:1";
    a.epoch = 1;
    a.seq = 1;
    a.issued_at = core::SystemClock().Now();
    a.ttl = std::chrono::seconds(30);
    a.name = "Peer";
    a.hub = "gansu";
    a.city = "Qingyang";
    a.zone = "cn-northwest";
    a.models.push_back({"h20", 8, 8, {core::Money::Fen(700), {}}});
    a.egress_per_gb = core::Money::Fen(30);
    auto signer = MakeAdvertSigner(signer_pki.cert_file, signer_pki.key_file);
    EXPECT_TRUE(signer.ok()) << signer.status().ToString();
    EXPECT_TRUE(federation::SignAdvert(**signer, a).ok());
    return a;
  }

  HttpResponse Push(const testing::TestPki& as, const CapacityAdvert& advert) {
    GossipMessage m;
    m.kind = GossipMessage::Kind::kPush;
    m.adverts.push_back(advert);
    auto r = PeerClientWith(as)->Request("POST", "/peer/v1/gossip",
                                         json::serialize(federation::ToJson(m)));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : HttpResponse{};
  }

  std::string Metrics() {
    auto c = HttpsClient::Create(api_url_, {pki_.ca_file, "", "", false});
    auto r = (*c)->Request("GET", "/metrics");
    return r.ok() ? r->body : "";
  }
  size_t ViewSize() {
    auto c = HttpsClient::Create(api_url_, {pki_.ca_file, "", "", false});
    auto r =
        (*c)->Request("GET", "/v1/centers", "",
                      {{"authorization", "Bearer " + testing::TokenFor(config::Role::kViewer)}});
    if (!r.ok() || r->status != 200) return 0;
    return json::parse(r->body).at("centers").as_array().size();
  }

  testing::TempDir dir_;
  testing::TestPki pki_, peer_pki_;
  std::unique_ptr<Agent> agent_;
  std::string peer_url_, api_url_;
};

TEST_F(PeerSecurityTest, AValidSignedAdvertJoinsTheView) {
  EXPECT_EQ(ViewSize(), 1u);
  HttpResponse r = Push(peer_pki_, SignedAdvert("peer", peer_pki_));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(ViewSize(), 2u);
}

TEST_F(PeerSecurityTest, ForgedAndTamperedAdvertsAreRefusedAndCounted) {
  // Forged: an advert for "peer" signed with another center's key and certificate.
  auto other = testing::MakeTestPki(dir_.path(), "other");
  HttpResponse forged = Push(peer_pki_, SignedAdvert("peer", other));
  EXPECT_EQ(forged.status, 200);  // the message was received; the advert was refused
  // Tampered: correctly signed, then changed.
  CapacityAdvert tampered = SignedAdvert("peer", peer_pki_);
  tampered.models[0].free = 7;
  Push(peer_pki_, tampered);
  EXPECT_EQ(ViewSize(), 1u);
  const std::string m = Metrics();
  EXPECT_NE(m.find(R"(edwc_adverts_rejected_total{reason="forged"} 1)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(edwc_adverts_rejected_total{reason="tampered"} 1)"), std::string::npos) << m;
}

TEST_F(PeerSecurityTest, PeerListenerRefusesClientsWithoutAFederationCertificate) {
  // No client certificate: the TLS handshake fails, whatever token comes with it.
  auto anonymous = HttpsClient::Create(peer_url_, {pki_.ca_file, "", "", true});
  ASSERT_TRUE(anonymous.ok());
  auto r = (*anonymous)
               ->Request("POST", "/peer/v1/gossip", "{}",
                         {{"authorization", "Bearer " + testing::TokenFor(config::Role::kBroker)}});
  EXPECT_FALSE(r.ok() && r->status == 200);
  // A certificate from another CA: refused too.
  testing::TempDir elsewhere;
  auto foreign = testing::MakeTestPki(elsewhere.path(), "peer");
  auto c =
      HttpsClient::Create(peer_url_, {pki_.ca_file, foreign.cert_file, foreign.key_file, true});
  ASSERT_TRUE(c.ok());
  auto f = (*c)->Request("POST", "/peer/v1/gossip", "{}");
  EXPECT_FALSE(f.ok() && f->status == 200);
}

TEST(PeerRevocationTest, ARevokedCenterFailsTheHandshake) {
  testing::TempDir dir;
  auto pki = testing::MakeTestPki(dir.path(), "target");
  auto revoked = testing::MakeTestPki(dir.path(), "revoked");
  auto fine = testing::MakeTestPki(dir.path(), "fine");
  config::CenterConfig c = testing::TestCenterConfig(dir.path(), pki, "target");
  c.federation.revoked = {"revoked"};
  auto agent = Agent::Start(std::move(c), false);
  ASSERT_TRUE(agent.ok()) << agent.status().ToString();
  const std::string url = "https://127.0.0.1:" + std::to_string((*agent)->peer_port());
  auto as = [&](const testing::TestPki& who) {
    auto client = HttpsClient::Create(url, {pki.ca_file, who.cert_file, who.key_file, true});
    return (*client)->Request("POST", "/peer/v1/gossip",
                              R"({"kind":"digest","adverts":[],"digest":[]})");
  };
  auto refused = as(revoked);
  EXPECT_FALSE(refused.ok()) << "a revoked center's certificate must not get through";
  auto accepted = as(fine);
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_EQ(accepted->status, 200) << accepted->body;
  (*agent)->RequestStop();
  (*agent)->Wait();
}

TEST_F(PeerSecurityTest, ApiAndPeerRoutesStayOnTheirOwnListeners) {
  // An api route on the peer listener, with a valid peer certificate: not found.
  auto peer = PeerClientWith(peer_pki_);
  auto api_on_peer =
      peer->Request("GET", "/v1/centers", "",
                    {{"authorization", "Bearer " + testing::TokenFor(config::Role::kViewer)}});
  ASSERT_TRUE(api_on_peer.ok());
  EXPECT_EQ(api_on_peer->status, 404);
  // The peer route on the api listener, with a broker token or a peer certificate: refused.
  auto api =
      HttpsClient::Create(api_url_, {pki_.ca_file, peer_pki_.cert_file, peer_pki_.key_file, false});
  ASSERT_TRUE(api.ok());
  auto with_token =
      (*api)->Request("POST", "/peer/v1/gossip", "{}",
                      {{"authorization", "Bearer " + testing::TokenFor(config::Role::kBroker)}});
  ASSERT_TRUE(with_token.ok());
  EXPECT_EQ(with_token->status, 404);
  auto with_cert = (*api)->Request("GET", "/v1/centers");
  ASSERT_TRUE(with_cert.ok());
  EXPECT_EQ(with_cert->status, 401) << "a peer certificate is not an api credential";
}

class RateLimitedPeerTest : public PeerSecurityTest {
  void Customize(config::CenterConfig& c) override { c.rate_limits.per_peer = {1, 3}; }
};

TEST_F(RateLimitedPeerTest, EachPeerCenterIsHeldToItsRate) {
  auto peer = PeerClientWith(peer_pki_);
  for (int i = 0; i < 3; ++i) {
    auto r = peer->Request("GET", "/peer/v1/jobs/nosuchjob");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 404) << "within the burst of 3";
  }
  auto over = peer->Request("GET", "/peer/v1/jobs/nosuchjob");
  ASSERT_TRUE(over.ok()) << over.status().ToString();
  EXPECT_EQ(over->status, 429);
  EXPECT_NE(over->body.find("center peer is over its rate limit"), std::string::npos) << over->body;
  // Another center has a bucket of its own.
  testing::TestPki other = testing::MakeTestPki(dir_.path(), "other");
  auto r = PeerClientWith(other)->Request("GET", "/peer/v1/jobs/nosuchjob");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 404);
}

}  // namespace
}  // namespace edwc::gateway
