// Both listeners of a real agent scanned by testssl.sh (Debian's package, installed by
// scripts/install-deps with EDWC_TEST_DEPS=1): nothing below TLS 1.2 (nothing below 1.3 on
// the peer listener), forward secrecy for every offered cipher, and no finding of severity
// MEDIUM or above except the ones listed in kNotApplicable with the reason; no session
// resumption on the peer listener. The text report is printed in the test log;
// docs/security.md quotes it.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gateway/agent.h"
#include "tests/support/test_support.h"

namespace edwc::gateway {
namespace {

namespace json = boost::json;

// Findings of MEDIUM or above that do not apply to a federation gateway, with the reason.
const std::map<std::string, std::string> kNotApplicable = {
    {"cert_revocation",
     "no CRL or OCSP URI: the federation CA is private; centers are revoked by the "
     "federation.revoked list every gateway applies at the handshake"},
};

// The checks that matter here, about 30 s per port (under a minute on two busy cores): protocols
// (-p), ciphers per protocol (-E), forward secrecy (-f), server defaults and certificate (-S), and
// every vulnerability check (-U). The federation CA is added as trusted, so the chain is checked
// rather than reported untrusted.
constexpr const char* kChecks = "-p -E -f -S -U";

bool HaveTestssl() { return std::system("command -v testssl >/dev/null 2>&1") == 0; }

// testssl.sh 3.0 has no option for a client certificate (--mtls came in 3.2), so it is
// given an openssl that presents one on every s_client connection. Its own socket checks
// only read the server's first flight, which comes before the client's certificate.
std::string WriteMtlsOpenssl(const std::string& dir, const testing::TestPki& client) {
  const std::string path = dir + "/openssl-mtls";
  std::ofstream(path) << "#!/bin/sh\n"
                         "if [ \"$1\" = s_client ] && [ \"$2\" != -help ]; then\n"
                         "  shift\n"
                         "  exec openssl s_client -cert '"
                      << client.cert_file << "' -key '" << client.key_file
                      << "' \"$@\"\n"
                         "fi\n"
                         "exec openssl \"$@\"\n";
  chmod(path.c_str(), 0755);
  return path;
}

struct Finding {
  std::string id, severity, text;
};

class TestsslTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(HaveTestssl()) << "testssl.sh is not installed: EDWC_TEST_DEPS=1 "
                                  "scripts/install-deps installs it (Debian package testssl.sh)";
    pki_ = testing::MakeTestPki(dir_.path(), "target");
    peer_ = testing::MakeTestPki(dir_.path(), "peer");
    auto agent = Agent::Start(testing::TestCenterConfig(dir_.path(), pki_, "target"), false);
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agent_ = std::move(agent).value();
  }
  void TearDown() override {
    if (agent_) {
      agent_->RequestStop();
      agent_->Wait();
    }
  }

  // Runs testssl.sh against 127.0.0.1:`port` and returns its findings (empty on failure).
  std::vector<Finding> Scan(const std::string& name, uint16_t port, const std::string& openssl) {
    const std::string json_file = dir_.Sub(name + ".json"), text_file = dir_.Sub(name + ".txt");
    std::string command =
        "testssl --quiet --warnings batch --color 0 --nodns none --connect-timeout 10 "
        "--openssl-timeout 10 " +
        std::string(kChecks) + " --add-ca '" + pki_.ca_file + "' --jsonfile '" + json_file + "'";
    if (!openssl.empty()) command += " --openssl '" + openssl + "'";
    command += " 127.0.0.1:" + std::to_string(port) + " > '" + text_file + "' 2>&1";
    const auto start = std::chrono::steady_clock::now();
    // Its exit status counts findings of any severity; the JSON says which they are.
    const int status = std::system(command.c_str());
    const auto took =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start);
    std::cout << "testssl.sh on the " << name << " listener (" << took.count() << " s, exit status "
              << status << "):\n"
              << testing::ReadText(text_file) << std::endl;
    std::vector<Finding> out;
    json::error_code ec;
    json::value doc = json::parse(testing::ReadText(json_file), ec);
    if (ec || !doc.is_array()) {
      ADD_FAILURE() << "no JSON report from: " << command;
      return out;
    }
    for (const json::value& v : doc.as_array()) {
      const json::object& o = v.as_object();
      out.push_back({std::string(o.at("id").as_string()), std::string(o.at("severity").as_string()),
                     std::string(o.at("finding").as_string())});
    }
    return out;
  }

  // The checks both listeners share; `offered` are the protocols that must be offered,
  // every other one must not be.
  static void Check(const std::vector<Finding>& findings, const std::set<std::string>& offered) {
    std::map<std::string, const Finding*> by_id;
    size_t ciphers = 0;
    for (const Finding& f : findings) {
      by_id[f.id] = &f;
      if (f.severity == "MEDIUM" || f.severity == "HIGH" || f.severity == "CRITICAL" ||
          f.severity == "FATAL") {
        auto reason = kNotApplicable.find(f.id);
        if (reason == kNotApplicable.end()) {
          ADD_FAILURE() << f.severity << " " << f.id << ": " << f.text;
        } else {
          std::cout << "not applicable: " << f.severity << " " << f.id << ": " << f.text << " ("
                    << reason->second << ")\n";
        }
      }
      if (f.severity == "WARN")
        std::cout << "testssl.sh warning: " << f.id << ": " << f.text << "\n";
      // "TLS 1.2   xc02c   ECDHE-ECDSA-AES256-GCM-SHA384     ECDH 253   AESGCM ...": the
      // key exchange is the fourth column; ephemeral (EC)DH is forward secret.
      if (f.id.starts_with("cipher-")) {
        ++ciphers;
        std::istringstream columns(f.text);
        std::string tls, version, hex, cipher, kx;
        columns >> tls >> version >> hex >> cipher >> kx;
        EXPECT_TRUE(kx == "ECDH" || kx == "DH") << "no forward secrecy: " << f.text;
        if (version != "1.3") {
          EXPECT_TRUE(cipher.starts_with("ECDHE-") || cipher.starts_with("DHE-")) << f.text;
        }
      }
    }
    EXPECT_GT(ciphers, 0u) << "no cipher per protocol found (-E)";
    ASSERT_TRUE(by_id.contains("scanTime")) << "the scan did not finish";
    for (const char* protocol : {"SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3"}) {
      auto it = by_id.find(protocol);
      ASSERT_NE(it, by_id.end()) << protocol << " was not tested";
      const std::string& text = it->second->text;
      if (offered.contains(protocol)) {
        EXPECT_TRUE(text.starts_with("offered")) << protocol << ": " << text;
      } else {
        EXPECT_TRUE(text.starts_with("not offered")) << protocol << ": " << text;
      }
    }
    ASSERT_TRUE(by_id.contains("PFS"));
    EXPECT_EQ(by_id["PFS"]->text, "offered");
  }

  testing::TempDir dir_;
  testing::TestPki pki_, peer_;
  std::unique_ptr<Agent> agent_;
};

TEST_F(TestsslTest, ApiListenerOffersTls12AndUpWithForwardSecrecyOnly) {
  Check(Scan("api", agent_->api_port(), ""), {"TLS1_2", "TLS1_3"});
}

TEST_F(TestsslTest, PeerListenerOffersTls13OnlyToAFederationCertificate) {
  const std::vector<Finding> findings =
      Scan("peer", agent_->peer_port(), WriteMtlsOpenssl(dir_.path(), peer_));
  Check(findings, {"TLS1_3"});
  // With the client certificate the scan got through to HTTP (without, it cannot tell).
  // No session is resumable: every connection passes the certificate checks afresh.
  bool http = false;
  std::set<std::string> resumption;
  for (const Finding& f : findings) {
    http |= f.id == "service" && f.text == "HTTP";
    if (f.id.starts_with("sessionresumption_")) {
      resumption.insert(f.id);
      EXPECT_TRUE(f.text == "not supported" || f.text == "No Session ID, no resumption")
          << f.id << ": " << f.text;
    }
  }
  EXPECT_TRUE(http) << "the scan did not get past the client certificate check";
  EXPECT_EQ(resumption.size(), 2u) << "session resumption (tickets, ids) was not tested";
}

}  // namespace
}  // namespace edwc::gateway
