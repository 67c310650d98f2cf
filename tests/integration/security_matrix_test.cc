// The security matrix: every route of both listeners of a real agent, called over real TLS
// by every kind of caller, each answer checked against the access rules (docs/security.md).
// The routes come from the routers themselves, so a route added later is covered without a
// change here; the roles each route allows are the router's, which OpenApiTest holds equal
// to gateway/openapi.json. The matrix is printed (route x caller -> status) as the
// documentation's table, and every cell that breaks a rule is listed in the failure.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "config/center_config.h"
#include "gateway/agent.h"
#include "gateway/http_client.h"
#include "gateway/openssl_ptr.h"
#include "gateway/router.h"
#include "tests/support/test_support.h"

namespace edwc::gateway {
namespace {

namespace json = boost::json;
using config::Role;

enum class Listener { kApi, kPeer };

// One column of the matrix: who calls, on which listener, with what credentials.
struct Caller {
  std::string name;
  Listener listener;
  std::string token;                       // bearer token sent, or empty
  std::optional<Role> role;                // the token's role, when it is a valid one
  const testing::TestPki* cert = nullptr;  // client certificate presented, or none
  bool federation_member = false;          // cert is a valid, unrevoked federation cert
};

// One row: a route as registered, and on which listener.
struct Row {
  RouteInfo route;
  Listener home;
};

// What came back. status 0: no HTTP answer at all (the TLS handshake was refused).
struct Outcome {
  int status = 0;
  bool unrouted = false;  // the router's own 404 (no such route) or 405
};

// "/v1/jobs/{id}" -> "/v1/jobs/dummy". Chunk indices are numbers, so that the request
// reaches the handler rather than failing to parse.
std::string FillParams(const std::string& pattern) {
  std::string out;
  size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] != '{') {
      out += pattern[i++];
      continue;
    }
    const size_t end = pattern.find('}', i);
    const std::string name = pattern.substr(i + 1, end - i - 1);
    out += name == "index" ? "0" : "dummy";
    i = end + 1;
  }
  return out;
}

bool Unrouted(const HttpResponse& r) {
  if (r.status == 405) return true;
  if (r.status != 404) return false;
  json::error_code ec;
  json::value body = json::parse(r.body, ec);
  if (ec || !body.is_object()) return false;
  const json::value* message = body.as_object().if_contains("error");
  if (message == nullptr || !message->is_object()) return false;
  const json::value* text = message->as_object().if_contains("message");
  return text != nullptr && text->is_string() &&
         std::string_view(text->as_string()).starts_with("no route for ");
}

// The rule for one cell: empty when `got` keeps it, else what it should have been.
std::string Violation(const Row& row, const Caller& caller, const Outcome& got) {
  const bool served = got.status >= 200 && got.status < 500 && !got.unrouted && got.status != 401 &&
                      got.status != 403;
  if (caller.listener == Listener::kPeer) {
    // Nothing on the peer listener is reachable without a valid federation certificate.
    if (!caller.federation_member) {
      return got.status == 0 ? "" : "the TLS handshake refused";
    }
    if (row.home == Listener::kApi) return got.unrouted ? "" : "404 (no api route on peer)";
    // Any federation member reaches the peer routes: the certificate names the caller, and
    // the handler decides what that center may see or do.
    return got.status != 0 && !got.unrouted && got.status < 500 ? "" : "served";
  }
  if (row.home == Listener::kPeer) return got.unrouted ? "" : "404 (no peer route on api)";
  const Access& access = row.route.access;
  if (access.is_public) return served ? "" : "served without a token";
  if (!caller.role) return got.status == 401 ? "" : "401";
  const bool allowed =
      std::find(access.roles.begin(), access.roles.end(), *caller.role) != access.roles.end();
  if (!allowed) return got.status == 403 ? "" : "403";
  return served ? "" : "served (not 401/403/404-no-route/5xx)";
}

class SecurityMatrixTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = testing::MakeTestPki(dir_.path(), "target");
    peer_ = testing::MakeTestPki(dir_.path(), "peer");
    revoked_ = testing::MakeTestPki(dir_.path(), "revoked");
    foreign_ = testing::MakeTestPki(elsewhere_.path(), "peer");  // same name, other CA
    testing::IssueExpiredCenterCert(dir_.path() + "/ca", "expired", dir_.Sub("expired"));
    expired_ = {pki_.ca_file, dir_.Sub("expired/chain.pem"), dir_.Sub("expired/center.key")};
    config::CenterConfig c = testing::TestCenterConfig(dir_.path(), pki_, "target");
    c.federation.revoked = {"revoked"};
    auto agent = Agent::Start(std::move(c), false);
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agent_ = std::move(agent).value();
  }
  void TearDown() override {
    if (agent_) {
      agent_->RequestStop();
      agent_->Wait();
    }
  }

  std::vector<Caller> Callers() const {
    const auto api = [](std::string name, std::string token, std::optional<Role> role,
                        const testing::TestPki* cert) {
      return Caller{std::move(name), Listener::kApi, std::move(token), role, cert, false};
    };
    const auto peer = [](std::string name, std::string token, const testing::TestPki* cert,
                         bool member) {
      return Caller{std::move(name), Listener::kPeer, std::move(token), std::nullopt, cert, member};
    };
    std::vector<Caller> out;
    out.push_back(api("none", "", std::nullopt, nullptr));
    for (Role role : {Role::kViewer, Role::kBroker, Role::kFinance, Role::kOperator}) {
      out.push_back(
          api(std::string(config::RoleName(role)), testing::TokenFor(role), role, nullptr));
    }
    out.push_back(api("wrong token", "not-a-known-token", std::nullopt, nullptr));
    // The api listener asks for no client certificate: a peer's must grant nothing there.
    out.push_back(api("peer cert", "", std::nullopt, &peer_));
    out.push_back(peer("peer cert", "", &peer_, true));
    // A token is no way in either: the handshake fails before any request is read.
    out.push_back(peer("no cert", testing::TokenFor(Role::kOperator), nullptr, false));
    out.push_back(peer("other CA", "", &foreign_, false));
    out.push_back(peer("expired", "", &expired_, false));
    out.push_back(peer("revoked", "", &revoked_, false));
    return out;
  }

  std::unique_ptr<HttpsClient> ClientFor(const Caller& caller) const {
    const uint16_t port =
        caller.listener == Listener::kApi ? agent_->api_port() : agent_->peer_port();
    ClientTls tls{pki_.ca_file, "", "", caller.listener == Listener::kPeer};
    if (caller.cert != nullptr) {
      tls.cert_file = caller.cert->cert_file;
      tls.key_file = caller.cert->key_file;
    }
    auto c = HttpsClient::Create("https://127.0.0.1:" + std::to_string(port), tls,
                                 std::chrono::seconds(5));
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }

  // edwc_tls_handshake_failures_total, from GET /metrics; -1 if it cannot be read.
  int64_t HandshakeFailures() const {
    const std::string family = "\nedwc_tls_handshake_failures_total ";
    auto c = HttpsClient::Create("https://127.0.0.1:" + std::to_string(agent_->api_port()),
                                 {pki_.ca_file, "", "", false});
    if (!c.ok()) return -1;
    auto r = (*c)->Request("GET", "/metrics");
    if (!r.ok()) return -1;
    const size_t at = r->body.find(family);
    if (at == std::string::npos) return -1;
    return std::stoll(r->body.substr(at + family.size()));
  }

  testing::TempDir dir_, elsewhere_;
  testing::TestPki pki_, peer_, revoked_, foreign_, expired_;
  std::unique_ptr<Agent> agent_;
};

// "refused": no HTTP answer, the handshake failed; "404 no route": the router's own 404,
// told apart from a handler's 404 for a dummy id.
std::string Cell(const Outcome& o) {
  if (o.status == 0) return "refused";
  return std::to_string(o.status) + (o.unrouted ? " no route" : "");
}

// One markdown table per listener: rows are routes, columns that listener's callers. A
// cell that breaks its rule is marked "!".
void PrintMatrix(
    std::ostream& out, Listener listener, const std::vector<Row>& rows,
    const std::vector<Caller>& callers,
    const std::map<std::pair<size_t, size_t>, std::pair<Outcome, std::string>>& cells) {
  out << "\n### " << (listener == Listener::kApi ? "api listener" : "peer listener") << "\n\n";
  out << "| route | access |";
  std::string rule = "| --- | --- |";
  for (const Caller& c : callers) {
    if (c.listener != listener) continue;
    out << " " << c.name << " |";
    rule += " --- |";
  }
  out << "\n" << rule << "\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    const RouteInfo& route = rows[r].route;
    std::string access = rows[r].home == Listener::kPeer ? "federation cert" : "";
    if (rows[r].home == Listener::kApi) {
      if (route.access.is_public) access = "public";
      for (Role role : route.access.roles) {
        access += (access.empty() ? "" : ",") + std::string(config::RoleName(role));
      }
    }
    out << "| " << route.method << " " << route.pattern << " | " << access << " |";
    for (size_t c = 0; c < callers.size(); ++c) {
      if (callers[c].listener != listener) continue;
      const auto& [outcome, violation] = cells.at({r, c});
      out << " " << Cell(outcome) << (violation.empty() ? "" : "!") << " |";
    }
    out << "\n";
  }
}

TEST_F(SecurityMatrixTest, EveryRouteAnswersEveryCallerAsDocumented) {
  std::vector<Row> rows;
  for (RouteInfo& r : agent_->api_routes()) rows.push_back({std::move(r), Listener::kApi});
  for (RouteInfo& r : agent_->peer_routes()) rows.push_back({std::move(r), Listener::kPeer});
  ASSERT_GT(agent_->api_routes().size(), 20u);
  ASSERT_GT(agent_->peer_routes().size(), 5u);
  const std::vector<Caller> callers = Callers();
  std::vector<std::unique_ptr<HttpsClient>> clients;
  for (const Caller& c : callers) clients.push_back(ClientFor(c));

  std::map<std::pair<size_t, size_t>, std::pair<Outcome, std::string>> cells;
  std::vector<std::string> failures;
  for (size_t r = 0; r < rows.size(); ++r) {
    const RouteInfo& route = rows[r].route;
    const std::string target = FillParams(route.pattern);
    // Bodies are empty objects: past access control, the handler's validation refuses
    // them (the upload route stores them: a two-byte dataset named "dummy").
    const std::string body = route.method == "POST" || route.method == "PUT" ? "{}" : "";
    for (size_t c = 0; c < callers.size(); ++c) {
      std::vector<std::pair<std::string, std::string>> headers;
      if (!callers[c].token.empty()) {
        headers.emplace_back("authorization", "Bearer " + callers[c].token);
      }
      if (!body.empty()) headers.emplace_back("content-type", "application/json");
      auto answer = clients[c]->Request(route.method, target, body, headers);
      Outcome got;
      if (answer.ok()) {
        got.status = answer->status;
        got.unrouted = Unrouted(*answer);
      } else {
        clients[c]->Disconnect();  // a refused handshake leaves nothing to reuse
      }
      std::string want = Violation(rows[r], callers[c], got);
      if (!want.empty()) {
        failures.push_back(
            route.method + " " + target + " as " + callers[c].name + " on " +
            (callers[c].listener == Listener::kApi ? "api" : "peer") + ": got " + Cell(got) + " " +
            (answer.ok() ? answer->body.substr(0, 120) : answer.status().ToString()) + ", want " +
            want);
      }
      cells[{r, c}] = {got, std::move(want)};
    }
  }
  // Every "refused" cell must be the server refusing a handshake, not a lost connection.
  size_t refused = 0;
  for (const auto& [cell, result] : cells) refused += result.first.status == 0 ? 1 : 0;
  EXPECT_GE(HandshakeFailures(), static_cast<int64_t>(refused));

  std::ostringstream table;
  PrintMatrix(table, Listener::kApi, rows, callers, cells);
  PrintMatrix(table, Listener::kPeer, rows, callers, cells);
  std::cout << table.str() << std::endl;
  std::string listed;
  for (const std::string& f : failures) listed += "  " + f + "\n";
  EXPECT_TRUE(failures.empty()) << failures.size() << " cells break the access rules:\n" << listed;
}

using SessionPtr = OpenSslPtr<SSL_SESSION, SSL_SESSION_free>;

// One connection to 127.0.0.1:`port` with `ctx`, offering `resume` (may be null): one
// request and the start of its answer (TLS 1.3 sends session tickets after the handshake,
// before the answer, so they are read with it), then the session as the client keeps it,
// taken before the connection ends (an unclean end would spoil it). Null if the handshake
// fails.
SessionPtr Exchange(SSL_CTX* ctx, uint16_t port, SSL_SESSION* resume, bool* reused) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  SessionPtr out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    SslPtr ssl(SSL_new(ctx));
    SSL_set_fd(ssl.get(), fd);
    if (resume != nullptr) SSL_set_session(ssl.get(), resume);
    if (SSL_connect(ssl.get()) == 1) {
      *reused = SSL_session_reused(ssl.get()) == 1;
      const std::string request = "GET /peer/v1/statement HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
      SSL_write(ssl.get(), request.data(), static_cast<int>(request.size()));
      char buffer[4096];
      if (SSL_read(ssl.get(), buffer, sizeof buffer) > 0) out.reset(SSL_get1_session(ssl.get()));
      SSL_shutdown(ssl.get());
    }
  }
  close(fd);
  return out;
}

// A resumed session would skip the certificate checks (chain, expiry, revocation), so the
// peer listener makes none resumable: a client that kept its session gets a full handshake.
TEST_F(SecurityMatrixTest, PeerListenerResumesNoSession) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  ASSERT_EQ(SSL_CTX_use_certificate_chain_file(ctx.get(), peer_.cert_file.c_str()), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey_file(ctx.get(), peer_.key_file.c_str(), SSL_FILETYPE_PEM), 1);
  bool reused = false;
  SessionPtr first = Exchange(ctx.get(), agent_->peer_port(), nullptr, &reused);
  ASSERT_NE(first, nullptr) << "a federation certificate must get through";
  EXPECT_EQ(SSL_SESSION_is_resumable(first.get()), 0) << "the listener issued a session ticket";
  SessionPtr second = Exchange(ctx.get(), agent_->peer_port(), first.get(), &reused);
  EXPECT_NE(second, nullptr) << "offering a kept session must not fail the handshake";
  EXPECT_FALSE(reused);
}

}  // namespace
}  // namespace edwc::gateway
