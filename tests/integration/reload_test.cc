// `edwc agent` reloads its config on SIGHUP: new tokens, prices and certificates take
// effect without dropping a kept-alive connection, and a config (or a certificate) that
// does not check out is refused with the reason while the running one keeps serving.
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "config/load.h"
#include "gateway/certs.h"
#include "gateway/http_client.h"
#include "tests/integration/cluster.h"
#include "tests/integration/workload.h"
#include "tests/support/test_support.h"

namespace edwc {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// Polls `done` until it holds or 30 s pass; the agent's state is what is being waited for.
bool Await(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

class ReloadTest : public ::testing::Test {
 protected:
  // GET `target` as the bearer of `token` on the one kept-alive client; 0 on failure.
  int Get(const std::string& token, const std::string& target, json::value* body = nullptr) {
    auto r = client_->Request("GET", target, "", {{"authorization", "Bearer " + token}});
    if (!r.ok()) return 0;
    if (body != nullptr) *body = json::parse(r->body);
    return r->status;
  }
  // This center's current h800 price in fen, or -1.
  int64_t H800Price(const std::string& token) {
    json::value body;
    if (Get(token, "/v1/centers/" + agent_->id, &body) != 200) return -1;
    for (const auto& m : body.at("accelerators").as_array()) {
      if (m.at("model").as_string() == "h800") {
        return m.at("price_now_per_device_hour_fen").to_number<int64_t>();
      }
    }
    return -1;
  }
  void Rewrite(const std::string& text) { std::ofstream(agent_->config_path) << text; }

  testing::Cluster cluster_;
  testing::Agent* agent_ = nullptr;
  std::unique_ptr<gateway::HttpsClient> client_;
};

TEST_F(ReloadTest, SighupAppliesTokensAndPricesAndRefusesAnInvalidConfig) {
  agent_ = &cluster_.Start("center0", "");
  ASSERT_GT(agent_->child.pid, 0);
  auto client = gateway::HttpsClient::Create(agent_->api_url, {cluster_.ca_file(), "", "", false});
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  client_ = std::move(client).value();
  const std::string old_token = testing::TokenFor(config::Role::kViewer);
  const int64_t old_price = H800Price(old_token);
  ASSERT_GT(old_price, 0);
  ASSERT_EQ(client_->connections_opened(), 1);

  // A new viewer token in place of the old one, and dearer h800s (base and night rates).
  const std::string new_token = "rotated-viewer-token";
  config::CenterConfig& c = agent_->config;
  for (auto& t : c.tokens) {
    if (t.role == config::Role::kViewer) t.sha256 = gateway::Sha256Hex(new_token);
  }
  for (auto& m : c.pricing.models) {
    if (m.model != "h800") continue;
    m.schedule.base_per_device_hour = core::Money::Fen(m.schedule.base_per_device_hour.fen() + 700);
    for (auto& w : m.schedule.windows)
      w.per_device_hour = core::Money::Fen(w.per_device_hour.fen() + 700);
  }
  Rewrite(config::RenderCenterConfig(c));
  ASSERT_EQ(kill(agent_->child.pid, SIGHUP), 0);
  EXPECT_TRUE(Await([&] {
    return Get(new_token, "/v1/centers") == 200 && Get(old_token, "/v1/centers") == 401 &&
           H800Price(new_token) == old_price + 700;
  })) << "new token "
      << Get(new_token, "/v1/centers") << ", old token " << Get(old_token, "/v1/centers")
      << ", h800 " << H800Price(new_token);
  const std::string log_path = agent_->dir + "/agent.log";
  EXPECT_TRUE(Await([&] {
    return testing::ReadText(log_path).find("config reloaded (SIGHUP)") != std::string::npos;
  })) << testing::ReadText(log_path);
  EXPECT_NE(testing::ReadText(log_path).find("auth.tokens"), std::string::npos)
      << testing::ReadText(log_path);
  // The reload did not touch the connection the requests above went over.
  EXPECT_EQ(client_->connections_opened(), 1);

  // An unknown key: refused with the loader's file:line:key, and nothing changes.
  Rewrite("colour: blue\n" + config::RenderCenterConfig(c));
  ASSERT_EQ(kill(agent_->child.pid, SIGHUP), 0);
  const std::string reason = agent_->config_path + ":1:1: colour";
  EXPECT_TRUE(Await([&] {
    const std::string log = testing::ReadText(log_path);
    const auto at = log.find("config reload (SIGHUP) refused");
    return at != std::string::npos && log.find(reason, at) != std::string::npos;
  })) << testing::ReadText(log_path);
  EXPECT_EQ(Get(new_token, "/v1/centers"), 200);
  EXPECT_EQ(Get(old_token, "/v1/centers"), 401);
  EXPECT_EQ(H800Price(new_token), old_price + 700);
  EXPECT_EQ(client_->connections_opened(), 1);

  // A key that needs a restart is refused too, by name.
  config::CenterConfig moved = c;
  moved.storage.path = agent_->dir + "/elsewhere";
  Rewrite(config::RenderCenterConfig(moved));
  ASSERT_EQ(kill(agent_->child.pid, SIGHUP), 0);
  EXPECT_TRUE(Await([&] {
    const std::string log = testing::ReadText(log_path);
    const auto at = log.find(agent_->config_path + ": storage");
    return at != std::string::npos &&
           log.find("cannot change without a restart", at) != std::string::npos;
  })) << testing::ReadText(log_path);
  EXPECT_EQ(Get(new_token, "/v1/centers"), 200);
}

// ---- certificates ---------------------------------------------------------------------

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// The serial of the (first) certificate in `pem`, or "".
std::string SerialOf(const std::string& pem) {
  auto serial = gateway::CertificateSerial(pem);
  return serial.ok() ? *serial : "";
}

std::string FileSerial(const std::string& path) { return SerialOf(testing::ReadText(path)); }

// The serial of the certificate a new TLS connection to `url` is shown ("" on failure).
std::string ServedSerial(const std::string& url, const gateway::ClientTls& tls) {
  auto client = gateway::HttpsClient::Create(url, tls, 10s);
  if (!client.ok() || !(*client)->Connect().ok()) return "";
  return SerialOf((*client)->server_certificate_pem());
}

// Waits until `agent`'s log has `text` after its first `from` bytes.
bool AwaitLog(const testing::Agent& agent, size_t from, const std::string& text) {
  const std::string path = agent.dir + "/agent.log";
  return Await([&] {
    const std::string log = testing::ReadText(path);
    return log.size() > from && log.find(text, from) != std::string::npos;
  });
}

// Issues `agent` a new certificate and key from the test CA into the files its config
// names, and sends SIGHUP. Returns the new certificate's serial once the agent logged it.
std::string Rotate(testing::Cluster& cluster, testing::Agent& agent) {
  const size_t from = testing::ReadText(agent.dir + "/agent.log").size();
  auto st = gateway::IssueCenterCert(cluster.root() + "/ca", agent.id, agent.dir);
  EXPECT_TRUE(st.ok()) << st.ToString();
  const std::string serial = FileSerial(agent.config.tls.cert);
  EXPECT_EQ(kill(agent.child.pid, SIGHUP), 0);
  EXPECT_TRUE(AwaitLog(
      agent, from,
      "config reloaded (SIGHUP): changed tls (certificate serial " + serial + ", not after "))
      << testing::ReadText(agent.dir + "/agent.log");
  return serial;
}

// Jobs from `home` (4 h20, `true`) until one ran at `at`; how many ran there.
int RunOneJobAt(testing::Cluster& cluster, const testing::Agent& home, const std::string& at,
                const std::string& key) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto [status, job] =
        cluster.Call(home, "POST", "/v1/jobs", testing::JobBody(4, "true"), config::Role::kBroker,
                     {{"idempotency-key", key + "-" + std::to_string(attempt)}});
    EXPECT_TRUE(status == 201 || status == 202) << status << " " << json::serialize(job);
    json::value ended = testing::AwaitEnd(cluster, home, testing::Str(job, "id"));
    if (testing::Str(ended, "state") == "succeeded" && testing::Str(ended, "center") == at) {
      return 1;
    }
  }
  return 0;
}

// Waits until `agent` holds `n` settlements, none of them unanswered.
bool AwaitSettled(const testing::Cluster& cluster, const testing::Agent& agent, size_t n) {
  return Await([&] {
    auto [status, body] = cluster.Call(agent, "GET", "/v1/settlements", "", config::Role::kFinance);
    if (status != 200) return false;
    const auto& list = body.at("settlements").as_array();
    for (const auto& s : list) {
      if (testing::Str(s, "state") != "agreed") return false;
    }
    return list.size() == n;
  });
}

// The certificate ids (payee_cert, payer_cert) of every settlement `agent` holds.
std::set<std::pair<std::string, std::string>> SettlementCerts(const testing::Cluster& cluster,
                                                              const testing::Agent& agent) {
  std::set<std::pair<std::string, std::string>> out;
  auto [status, body] = cluster.Call(agent, "GET", "/v1/settlements", "", config::Role::kFinance);
  if (status != 200) return out;
  for (const auto& s : body.at("settlements").as_array()) {
    std::string id;  // percent-encoded: ids hold '/'
    for (char c : testing::Str(s, "id")) {
      static constexpr char kHex[] = "0123456789ABCDEF";
      if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') {
        id += c;
      } else {
        id += {'%', kHex[(c >> 4) & 0xf], kHex[c & 0xf]};
      }
    }
    auto [st, one] =
        cluster.Call(agent, "GET", "/v1/settlements/" + id, "", config::Role::kFinance);
    if (st != 200) continue;
    const auto& record = one.at("record");
    out.emplace(testing::Str(record, "payee_cert"), testing::Str(record, "payer_cert"));
  }
  return out;
}

bool ChainsVerify(const testing::Cluster& cluster, const testing::Agent& agent, std::string* why) {
  auto [status, body] = cluster.Call(agent, "GET", "/v1/ledger/verify", "", config::Role::kFinance);
  *why = json::serialize(body);
  return status == 200 && body.at("ok").as_bool();
}

// Rotation: new handshakes on both listeners show the new certificate, a connection
// opened before keeps working, the other center keeps the rotated one alive (its new
// adverts verify), and settlements signed before and after verify on both sides.
TEST_F(ReloadTest, SighupRotatesCertificatesWithoutDroppingConnections) {
  agent_ = &cluster_.Start("center0", "", testing::H20(16, 500000));
  testing::Agent& payer = cluster_.Start("center1", cluster_[0].peer_url, testing::H20(4, 900000));
  agent_ = &cluster_[0];  // Start may have moved it
  cluster_.AwaitAllAlive();
  const gateway::ClientTls api_tls{cluster_.ca_file(), "", "", false};
  const gateway::ClientTls peer_tls{cluster_.ca_file(), payer.config.tls.cert, payer.config.tls.key,
                                    true};
  auto client = gateway::HttpsClient::Create(agent_->api_url, api_tls);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  client_ = std::move(client).value();
  const std::string token = testing::TokenFor(config::Role::kViewer);
  ASSERT_EQ(Get(token, "/v1/centers"), 200);
  const std::string old_serial = FileSerial(agent_->config.tls.cert);
  ASSERT_FALSE(old_serial.empty());
  EXPECT_EQ(SerialOf(client_->server_certificate_pem()), old_serial);

  // A settlement signed (center0) and countersigned (center1) under the old certificates.
  int at_payee = RunOneJobAt(cluster_, payer, "center0", "before");
  ASSERT_EQ(at_payee, 1);
  ASSERT_TRUE(AwaitSettled(cluster_, *agent_, 1));
  ASSERT_TRUE(AwaitSettled(cluster_, payer, 1));

  const std::string new_serial = Rotate(cluster_, *agent_);
  ASSERT_NE(new_serial, old_serial);
  Rotate(cluster_, payer);
  const core::Time rotated = core::SystemClock().Now();

  EXPECT_EQ(ServedSerial(agent_->api_url, api_tls), new_serial);
  EXPECT_EQ(ServedSerial(agent_->peer_url, peer_tls), new_serial);
  // The connection opened before the reload still answers, on its old session.
  EXPECT_EQ(Get(token, "/v1/centers"), 200);
  EXPECT_EQ(client_->connections_opened(), 1);
  EXPECT_EQ(SerialOf(client_->server_certificate_pem()), old_serial);

  // center1 takes center0's adverts signed with the new key: it keeps seeing it alive on
  // adverts issued after the rotation (2 s adverts: refused ones would leave it dead).
  EXPECT_TRUE(Await([&] {
    auto [status, body] =
        cluster_.Call(payer, "GET", "/v1/centers/center0", "", config::Role::kViewer);
    if (status != 200 || testing::Str(body, "liveness") != "alive") return false;
    auto issued = core::ParseRfc3339(testing::Str(body, "issued_at"));
    return issued.ok() && *issued > rotated + 2s;
  }))
      << json::serialize(
             cluster_.Call(payer, "GET", "/v1/centers/center0", "", config::Role::kViewer).second);
  cluster_.AwaitAllAlive();

  // A settlement under the new certificates; both chains verify, old records included.
  at_payee += RunOneJobAt(cluster_, payer, "center0", "after");
  ASSERT_EQ(at_payee, 2);
  EXPECT_TRUE(AwaitSettled(cluster_, *agent_, 2));
  EXPECT_TRUE(AwaitSettled(cluster_, payer, 2));
  // One settlement under each pair of certificates: nothing in common.
  const auto certs = SettlementCerts(cluster_, *agent_);
  ASSERT_EQ(certs.size(), 2u);
  EXPECT_NE(certs.begin()->first, certs.rbegin()->first);
  EXPECT_NE(certs.begin()->second, certs.rbegin()->second);
  EXPECT_EQ(SettlementCerts(cluster_, payer), certs);
  std::string why;
  EXPECT_TRUE(ChainsVerify(cluster_, *agent_, &why)) << why;
  EXPECT_TRUE(ChainsVerify(cluster_, payer, &why)) << why;
  std::string out, err;
  EXPECT_EQ(
      testing::RunEdwc({"ledger", "verify", "--url", agent_->api_url, "--ca", cluster_.ca_file(),
                        "--token", testing::TokenFor(config::Role::kFinance)},
                       cluster_.root() + "/verify.log", &out, &err),
      0)
      << out << err;
}

// Refused: each bad set of files is refused with its reason, and the running certificate
// stays the one served.
TEST_F(ReloadTest, SighupRefusesCertificatesThatDoNotCheckOut) {
  agent_ = &cluster_.Start("center0", "");
  const std::string root = cluster_.root();
  const std::string ca_dir = root + "/ca";
  const std::string cert = agent_->config.tls.cert;
  const std::string key = agent_->config.tls.key;
  const std::string ca = agent_->config.tls.ca;
  const gateway::ClientTls api_tls{ca, "", "", false};
  auto client = gateway::HttpsClient::Create(agent_->api_url, api_tls);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  client_ = std::move(client).value();
  const std::string token = testing::TokenFor(config::Role::kViewer);
  ASSERT_EQ(Get(token, "/v1/centers"), 200);
  const std::string serial = FileSerial(cert);
  const std::string good_cert = testing::ReadText(cert), good_key = testing::ReadText(key),
                    good_ca = testing::ReadText(ca);

  ASSERT_TRUE(gateway::IssueCenterCert(ca_dir, "intruder", root + "/intruder").ok());
  testing::IssueExpiredCenterCert(ca_dir, "center0", root + "/expired");
  ASSERT_TRUE(gateway::InitDevCa(root + "/other-ca").ok());
  ASSERT_TRUE(gateway::IssueCenterCert(root + "/other-ca", "center0", root + "/foreign").ok());
  struct Case {
    std::string what;
    std::vector<std::pair<std::string, std::string>> files;  // path, contents
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"another center's certificate",
       {{cert, testing::ReadText(root + "/intruder/chain.pem")},
        {key, testing::ReadText(root + "/intruder/center.key")}},
       cert + " is the certificate of center 'intruder', not of 'center0'"},
      {"a key that does not match",
       {{key, testing::ReadText(root + "/intruder/center.key")}},
       key + " does not match the certificate " + cert},
      {"an expired certificate",
       {{cert, testing::ReadText(root + "/expired/chain.pem")},
        {key, testing::ReadText(root + "/expired/center.key")}},
       cert + " does not verify against " + ca +
           ": certificate verification failed: certificate has expired"},
      {"a certificate from another CA",
       {{cert, testing::ReadText(root + "/foreign/chain.pem")},
        {key, testing::ReadText(root + "/foreign/center.key")}},
       // OpenSSL's reason depends on whether the chain file carries the other CA.
       cert + " does not verify against " + ca + ": certificate verification failed: "},
      {"a CA file that does not parse",
       {{ca, "not a certificate\n"}},
       ca + ": bad certificate PEM"},
  };
  const std::string log_path = agent_->dir + "/agent.log";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    for (const auto& [path, text] : c.files) WriteFile(path, text);
    const size_t from = testing::ReadText(log_path).size();
    ASSERT_EQ(kill(agent_->child.pid, SIGHUP), 0);
    EXPECT_TRUE(AwaitLog(*agent_, from,
                         "config reload (SIGHUP) refused, keeping the running config: " + c.reason))
        << testing::ReadText(log_path).substr(from);
    WriteFile(cert, good_cert);
    WriteFile(key, good_key);
    WriteFile(ca, good_ca);
    EXPECT_EQ(ServedSerial(agent_->api_url, api_tls), serial);
    EXPECT_EQ(Get(token, "/v1/centers"), 200);
  }
  EXPECT_EQ(client_->connections_opened(), 1);
  // The same files again are no change at all.
  const size_t from = testing::ReadText(log_path).size();
  ASSERT_EQ(kill(agent_->child.pid, SIGHUP), 0);
  EXPECT_TRUE(AwaitLog(*agent_, from, "config reloaded (SIGHUP): nothing changed"))
      << testing::ReadText(log_path).substr(from);
}

// CA rotation: a bundle of the old and the new CA in tls.ca lets peers with certificates
// of either in, and then the center itself moves to a certificate of the new CA.
TEST_F(ReloadTest, SighupRotatesTheFederationCaThroughABundle) {
  agent_ = &cluster_.Start("center0", "");
  const std::string root = cluster_.root();
  const std::string ca = agent_->config.tls.ca;
  const std::string old_ca = testing::ReadText(ca);
  ASSERT_TRUE(gateway::InitDevCa(root + "/new-ca").ok());
  ASSERT_TRUE(gateway::IssueCenterCert(root + "/new-ca", "visitor", root + "/visitor").ok());
  const std::string new_ca = testing::ReadText(root + "/new-ca/ca.pem");
  const gateway::ClientTls visitor{ca, root + "/visitor/chain.pem", root + "/visitor/center.key",
                                   true};
  // Any answer will do: a refused client certificate fails the request (under TLS 1.3 the
  // server's verdict arrives after the client's side of the handshake completed).
  const auto visitor_connects = [&] {
    auto client = gateway::HttpsClient::Create(agent_->peer_url, visitor, 10s);
    return client.ok() && (*client)->Request("GET", "/peer/v1/digest").ok();
  };
  WriteFile(ca, old_ca + new_ca);  // the client side (this test) trusts both from now on
  EXPECT_FALSE(visitor_connects());
  const std::string log_path = agent_->dir + "/agent.log";
  size_t from = testing::ReadText(log_path).size();
  ASSERT_EQ(kill(agent_->child.pid, SIGHUP), 0);
  EXPECT_TRUE(AwaitLog(*agent_, from, "config reloaded (SIGHUP): changed tls"))
      << testing::ReadText(log_path).substr(from);
  EXPECT_TRUE(visitor_connects());

  // The center's own certificate from the new CA, the bundle kept.
  ASSERT_TRUE(gateway::IssueCenterCert(root + "/new-ca", "center0", agent_->dir).ok());
  const std::string serial = FileSerial(agent_->config.tls.cert);
  from = testing::ReadText(log_path).size();
  ASSERT_EQ(kill(agent_->child.pid, SIGHUP), 0);
  EXPECT_TRUE(AwaitLog(*agent_, from,
                       "config reloaded (SIGHUP): changed tls (certificate serial " + serial))
      << testing::ReadText(log_path).substr(from);
  EXPECT_EQ(ServedSerial(agent_->api_url, {ca, "", "", false}), serial);
  EXPECT_TRUE(visitor_connects());

  // Dropping the new CA now would leave the center's own certificate unverifiable.
  WriteFile(ca, old_ca);
  from = testing::ReadText(log_path).size();
  ASSERT_EQ(kill(agent_->child.pid, SIGHUP), 0);
  EXPECT_TRUE(AwaitLog(*agent_, from,
                       "refused, keeping the running config: " + agent_->config.tls.cert +
                           " does not verify against " + ca))
      << testing::ReadText(log_path).substr(from);
}

}  // namespace
}  // namespace edwc
