// The api listener over real TLS sockets on loopback port 0, with a CA made at test
// time: routes, auth matrix, every error status, keep-alive, limits and timeouts.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <strings.h>
#include <boost/json.hpp>
#include <memory>
#include <thread>

#include "core/time.h"
#include "gateway/agent.h"
#include "gateway/http_client.h"
#include "gateway/openssl_ptr.h"
#include "tests/support/test_support.h"

namespace edwc::gateway {
namespace {

namespace json = boost::json;
using config::Role;
using testing::TokenFor;

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers Bearer(const std::string& token) { return {{"authorization", "Bearer " + token}}; }
Headers As(Role role) { return Bearer(TokenFor(role)); }

std::string HeaderOf(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  }
  return "";
}

// The error body every non-2xx answer must have; returns its code.
std::string ErrorCode(const HttpResponse& r, std::string* field = nullptr) {
  json::value v = json::parse(r.body);
  const json::object& e = v.at("error").as_object();
  EXPECT_FALSE(e.at("message").as_string().empty());
  if (field != nullptr) {
    const json::value* f = e.if_contains("field");
    *field = f ? std::string(f->as_string()) : "";
  }
  return std::string(e.at("code").as_string());
}

class HttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = testing::MakeTestPki(dir_.path(), "testcenter");
    config::CenterConfig c = testing::TestCenterConfig(dir_.path(), pki_);
    c.server.io_threads = 2;
    c.server.header_limit_bytes = 4096;
    c.server.url_limit_bytes = 2048;
    c.server.body_limit_bytes = 8192;
    c.server.handshake_timeout = std::chrono::milliseconds(300);
    c.server.read_timeout = std::chrono::milliseconds(300);
    c.server.idle_timeout = std::chrono::milliseconds(600);
    Customize(c);
    auto agent = Agent::Start(std::move(c), /*handle_signals=*/false);
    ASSERT_TRUE(agent.ok()) << agent.status().ToString();
    agent_ = std::move(agent).value();
    url_ = "https://127.0.0.1:" + std::to_string(agent_->api_port());
  }
  void TearDown() override {
    if (agent_) {
      agent_->RequestStop();
      EXPECT_EQ(agent_->Wait(), 0);
    }
  }
  virtual void Customize(config::CenterConfig&) {}

  std::unique_ptr<HttpsClient> Client() {
    auto c = HttpsClient::Create(url_, {pki_.ca_file, "", "", false});
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }
  HttpResponse Do(std::string_view method, std::string_view target, std::string_view body = {},
                  const Headers& headers = {}) {
    auto r = Client()->Request(method, target, body, headers);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : HttpResponse{};
  }

  testing::TempDir dir_;
  testing::TestPki pki_;
  std::unique_ptr<Agent> agent_;
  std::string url_;
};

TEST_F(HttpsTest, HealthAndReadinessArePublic) {
  HttpResponse h = Do("GET", "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(json::parse(h.body).at("status").as_string(), "ok");
  HttpResponse r = Do("GET", "/readyz");
  EXPECT_EQ(r.status, 200);
  json::value v = json::parse(r.body);
  EXPECT_EQ(v.at("center").as_string(), "testcenter");
  EXPECT_EQ(v.at("epoch").to_number<int64_t>(), 1);
}

TEST_F(HttpsTest, CentersViewShowsCapacityAndPriceNow) {
  HttpResponse r = Do("GET", "/v1/centers", {}, As(Role::kViewer));
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = json::parse(r.body);
  const json::array& centers = v.at("centers").as_array();
  ASSERT_EQ(centers.size(), 1u);
  const json::object& c = centers[0].as_object();
  EXPECT_EQ(c.at("id").as_string(), "testcenter");
  EXPECT_EQ(c.at("hub").as_string(), "ningxia");
  const json::array& acc = c.at("accelerators").as_array();
  ASSERT_EQ(acc.size(), 2u);
  // Stable model order: ascend-910b before h800.
  EXPECT_EQ(acc[0].at("model").as_string(), "ascend-910b");
  EXPECT_EQ(acc[0].at("total").to_number<int64_t>(), 64);
  EXPECT_EQ(acc[0].at("free").to_number<int64_t>(), 64);
  EXPECT_EQ(acc[1].at("model").as_string(), "h800");
  EXPECT_EQ(acc[1].at("total").to_number<int64_t>(), 16);
  const int64_t price = acc[1].at("price_now_per_device_hour_fen").to_number<int64_t>();
  EXPECT_TRUE(price == 2000 || price == 1400) << price;
  EXPECT_EQ(c.at("egress_per_gb_fen").to_number<int64_t>(), 50);
  EXPECT_DOUBLE_EQ(c.at("location").at("lat").to_number<double>(), 37.5);
  EXPECT_NE(r.body.find(R"("location":{"lat":37.5,"lon":105.19})"), std::string::npos) << r.body;

  HttpResponse one = Do("GET", "/v1/centers/testcenter", {}, As(Role::kViewer));
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(json::parse(one.body).at("id").as_string(), "testcenter");
  HttpResponse missing = Do("GET", "/v1/centers/nowhere", {}, As(Role::kViewer));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(ErrorCode(missing), "not_found");
}

TEST_F(HttpsTest, QuoteCostsTheWindowExactly) {
  // Tomorrow 21:00 to 23:00 China time: one hour at 20.00, one at night's 14.00, x3.
  // (Quotes never start in the past.)
  const auto tomorrow = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now()) +
                        std::chrono::days(1) + std::chrono::hours(13);
  const std::string start =
      core::FormatRfc3339(std::chrono::time_point_cast<core::Duration>(tomorrow));
  HttpResponse r =
      Do("POST", "/v1/quotes",
         R"({"model":"h800","count":3,"duration_minutes":120,"start":")" + start + R"("})",
         As(Role::kBroker));
  ASSERT_EQ(r.status, 200) << r.body;
  json::value v = json::parse(r.body);
  const json::object& q = v.at("quotes").as_array().at(0).as_object();
  EXPECT_EQ(q.at("total_fen").to_number<int64_t>(), 3 * 2000 + 3 * 1400);
  EXPECT_EQ(q.at("total_cny").as_string(), "102.00");

  HttpResponse too_many =
      Do("POST", "/v1/quotes", R"({"model":"h800","count":17,"duration_minutes":60})",
         As(Role::kBroker));
  ASSERT_EQ(too_many.status, 200);
  json::value t = json::parse(too_many.body);
  EXPECT_TRUE(t.at("quotes").as_array().empty());
  EXPECT_EQ(t.at("excluded").as_array().size(), 1u);
}

struct AuthCase {
  const char* method;
  const char* target;
  const char* body;
  std::optional<Role> role;  // nullopt: no Authorization header
  int status;
};

TEST_F(HttpsTest, AuthMatrix) {
  const char* quote = R"({"model":"h800","count":1,"duration_minutes":60})";
  const AuthCase cases[] = {
      {"GET", "/v1/centers", "", std::nullopt, 401},
      {"GET", "/v1/centers", "", Role::kViewer, 200},
      {"GET", "/v1/centers", "", Role::kBroker, 200},
      {"GET", "/v1/centers", "", Role::kFinance, 200},
      {"GET", "/v1/centers", "", Role::kOperator, 200},
      {"GET", "/v1/centers/testcenter", "", std::nullopt, 401},
      {"GET", "/v1/centers/testcenter", "", Role::kFinance, 200},
      {"POST", "/v1/quotes", quote, std::nullopt, 401},
      {"POST", "/v1/quotes", quote, Role::kViewer, 403},
      {"POST", "/v1/quotes", quote, Role::kFinance, 403},
      {"POST", "/v1/quotes", quote, Role::kOperator, 403},
      {"POST", "/v1/quotes", quote, Role::kBroker, 200},
      {"GET", "/healthz", "", std::nullopt, 200},
      {"GET", "/metrics", "", std::nullopt, 200},
  };
  auto client = Client();
  for (const AuthCase& c : cases) {
    Headers h = c.role ? As(*c.role) : Headers{};
    auto r = client->Request(c.method, c.target, c.body, h);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const std::string who = c.role ? std::string(config::RoleName(*c.role)) : "anonymous";
    EXPECT_EQ(r->status, c.status)
        << c.method << " " << c.target << " as " << who << ": " << r->body;
    if (c.status == 401) {
      EXPECT_EQ(ErrorCode(*r), "unauthenticated");
      EXPECT_NE(HeaderOf(*r, "WWW-Authenticate").find("Bearer"), std::string::npos);
    }
    if (c.status == 403) {
      EXPECT_EQ(ErrorCode(*r), "permission_denied");
    }
  }
  // Unknown, malformed and wrongly-schemed credentials are all 401.
  for (const Headers& h : {Bearer("not-a-token"), Headers{{"authorization", "Bearer"}},
                           Headers{{"authorization", "Basic dGVzdDp0ZXN0"}}}) {
    auto r = client->Request("GET", "/v1/centers", "", h);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 401) << h[0].second;
  }
}

TEST_F(HttpsTest, ErrorStatusesHaveJsonBodies) {
  std::string field;
  HttpResponse nf = Do("GET", "/v1/nothing-here", {}, As(Role::kViewer));
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(ErrorCode(nf), "not_found");

  HttpResponse na = Do("DELETE", "/v1/centers", {}, As(Role::kOperator));
  EXPECT_EQ(na.status, 405);
  EXPECT_EQ(ErrorCode(na), "method_not_allowed");
  EXPECT_EQ(HeaderOf(na, "Allow"), "GET");

  HttpResponse malformed = Do("POST", "/v1/quotes", R"({"model": "h800", )", As(Role::kBroker));
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(ErrorCode(malformed), "invalid_argument");

  HttpResponse not_object = Do("POST", "/v1/quotes", "[1,2]", As(Role::kBroker));
  EXPECT_EQ(not_object.status, 400);

  HttpResponse bad_field =
      Do("POST", "/v1/quotes", R"({"model":"h800","count":0,"duration_minutes":60})",
         As(Role::kBroker));
  EXPECT_EQ(bad_field.status, 400);
  EXPECT_EQ(ErrorCode(bad_field, &field), "invalid_argument");
  EXPECT_EQ(field, "count");

  HttpResponse unknown =
      Do("POST", "/v1/quotes", R"({"model":"h800","count":1,"duration_minutes":60,"colour":"red"})",
         As(Role::kBroker));
  EXPECT_EQ(unknown.status, 400);
  ErrorCode(unknown, &field);
  EXPECT_EQ(field, "colour");

  HttpResponse model =
      Do("POST", "/v1/quotes", R"({"model":"abacus","count":1,"duration_minutes":60})",
         As(Role::kBroker));
  EXPECT_EQ(model.status, 400);
  ErrorCode(model, &field);
  EXPECT_EQ(field, "model");
}

TEST_F(HttpsTest, MalformedRequestIs400WithJsonAndClose) {
  auto client = Client();
  ASSERT_TRUE(client->Connect().ok());
  ASSERT_TRUE(client->WriteRaw("GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n").ok());
  auto r = client->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(ErrorCode(*r), "invalid_argument");
  EXPECT_TRUE(r->close);
  EXPECT_TRUE(client->WaitForClose(std::chrono::seconds(10)).ok());
}

TEST_F(HttpsTest, HeadIsGetWithoutBody) {
  auto client = Client();
  auto head = client->Request("HEAD", "/v1/centers", "", As(Role::kViewer));
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
  EXPECT_GT(std::stoi(HeaderOf(*head, "Content-Length")), 100);
  // The connection is still in sync: the next GET reads its own response.
  auto get = client->Request("GET", "/healthz");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->body, R"({"status":"ok"})");
  EXPECT_EQ(client->connections_opened(), 1);
}

TEST_F(HttpsTest, BodyOverLimitIs413) {
  std::string body = R"({"model":"h800","pad":")" + std::string(9000, 'x') + "\"}";
  HttpResponse r = Do("POST", "/v1/quotes", body, As(Role::kBroker));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(ErrorCode(r), "payload_too_large");
}

TEST_F(HttpsTest, HeadersOverLimitAre431) {
  Headers h = As(Role::kViewer);
  h.emplace_back("x-padding", std::string(5000, 'p'));
  HttpResponse r = Do("GET", "/v1/centers", {}, h);
  EXPECT_EQ(r.status, 431);
  EXPECT_EQ(ErrorCode(r), "headers_too_large");
}

TEST_F(HttpsTest, KeepAliveServesASequenceOnOneConnection) {
  auto client = Client();
  for (int i = 0; i < 25; ++i) {
    const char* target = i % 3 == 0 ? "/healthz" : "/v1/centers";
    auto r = client->Request("GET", target, "", As(Role::kViewer));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->status, 200);
  }
  // Errors that leave the stream in sync keep the connection too.
  auto r = client->Request("GET", "/v1/nothing", "", As(Role::kViewer));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  r = client->Request("GET", "/healthz");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(client->connections_opened(), 1);
}

TEST_F(HttpsTest, UrlOverLimitIs414) {
  // Over url_limit (2 KiB) but within the header limit: the target is checked once read.
  HttpResponse r = Do("GET", "/v1/centers/" + std::string(3000, 'a'), {}, As(Role::kViewer));
  EXPECT_EQ(r.status, 414);
  EXPECT_EQ(ErrorCode(r), "uri_too_long");
  // A request line longer than the whole header limit (4 KiB) is also the target's fault.
  r = Do("GET", "/v1/centers/" + std::string(5000, 'a'), {}, As(Role::kViewer));
  EXPECT_EQ(r.status, 414);
  EXPECT_EQ(ErrorCode(r), "uri_too_long");
  // Header fields over the header limit after a request line within its own are 431.
  Headers h = As(Role::kViewer);
  h.emplace_back("x-padding", std::string(4100, 'p'));
  r = Do("GET", "/v1/centers/" + std::string(1000, 'a'), {}, h);
  EXPECT_EQ(r.status, 431) << r.body;
}

TEST_F(HttpsTest, DeeplyNestedJsonIs400) {
  const std::string deep = std::string(4000, '[') + std::string(4000, ']');
  for (const std::string& body : {deep, R"({"model":"h800","count":)" + deep + "}"}) {
    HttpResponse r = Do("POST", "/v1/quotes", body, As(Role::kBroker));
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(ErrorCode(r), "invalid_argument");
  }
  EXPECT_EQ(Do("GET", "/healthz").status, 200) << "still serving";
}

TEST_F(HttpsTest, SlowClientGets408AtTheReadTimeout) {
  auto client = Client();
  ASSERT_TRUE(client->Connect().ok());
  // Half a request, then silence: the server must give up (read_timeout 300 ms).
  ASSERT_TRUE(client->WriteRaw("GET /v1/centers HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").ok());
  auto r = client->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(ErrorCode(*r), "request_timeout");
  EXPECT_TRUE(r->close);
  EXPECT_TRUE(client->WaitForClose(std::chrono::seconds(10)).ok());
}

TEST_F(HttpsTest, TricklingAHeaderDoesNotExtendTheReadTimeout) {
  auto client = Client();
  ASSERT_TRUE(client->Connect().ok());
  ASSERT_TRUE(client->WriteRaw("GET /v1/centers HTTP/1.1\r\nHost: 127.0.0.1\r\n").ok());
  // One header byte every 20 ms for 1.5 s, five times the read timeout (a slowloris): the
  // deadline is for the whole request, so the answer is 408 whatever the pace.
  for (int i = 0; i < 75; ++i) {
    if (!client->WriteRaw("x").ok()) break;  // the server may have stopped reading
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto r = client->ReadResponse();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 408);
}

TEST_F(HttpsTest, IdleKeepAliveConnectionIsClosed) {
  auto client = Client();
  ASSERT_TRUE(client->Connect().ok());
  EXPECT_TRUE(client->WaitForClose(std::chrono::seconds(10)).ok());
}

TEST_F(HttpsTest, SilentTcpClientIsCutByTheHandshakeTimeout) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(agent_->api_port());
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  timeval tv{10, 0};  // a bound on the test, not a synchronisation
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[16];
  EXPECT_EQ(read(fd, buf, sizeof buf), 0) << "server should close a silent connection";
  close(fd);
}

TEST_F(HttpsTest, MetricsCountRequestsByRouteAndStatus) {
  Do("GET", "/v1/centers", {}, As(Role::kViewer));
  Do("GET", "/v1/centers", {}, {});
  HttpResponse m = Do("GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("edwc_http_requests_total{route=\"/v1/centers\",status=\"200\"} 1"),
            std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("edwc_http_requests_total{route=\"/v1/centers\",status=\"401\"} 1"),
            std::string::npos);
  EXPECT_NE(m.body.find("edwc_http_request_duration_seconds_bucket{route=\"/v1/centers\""),
            std::string::npos);
  EXPECT_NE(m.body.find("edwc_connections_open"), std::string::npos);
  EXPECT_NE(m.body.find("edwc_ready 1"), std::string::npos);
}

class RateLimitedHttpsTest : public HttpsTest {
  void Customize(config::CenterConfig& c) override { c.rate_limits.per_token = {1, 3}; }
};

TEST_F(RateLimitedHttpsTest, AFloodFromOneTokenGets429AndOthersAreServed) {
  auto client = Client();
  for (int i = 0; i < 3; ++i) {
    auto r = client->Request("GET", "/v1/centers", "", As(Role::kViewer));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 200) << "within the burst of 3";
  }
  auto over = client->Request("GET", "/v1/centers", "", As(Role::kViewer));
  ASSERT_TRUE(over.ok());
  EXPECT_EQ(over->status, 429);
  EXPECT_EQ(ErrorCode(*over), "resource_exhausted");
  EXPECT_EQ(HeaderOf(*over, "Retry-After"), "1");
  EXPECT_NE(over->body.find("is over its rate limit; retry in"), std::string::npos) << over->body;
  // The connection stays usable, other tokens have buckets of their own, and routes that
  // need no token are not limited.
  auto other = client->Request("GET", "/v1/centers", "", As(Role::kOperator));
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->status, 200);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Do("GET", "/healthz").status, 200);
  HttpResponse m = Do("GET", "/metrics");
  EXPECT_NE(m.body.find("edwc_http_requests_total{route=\"/v1/centers\",status=\"429\"} 1"),
            std::string::npos);
}

class LimitedHttpsTest : public HttpsTest {
  void Customize(config::CenterConfig& c) override {
    c.server.max_connections = 2;
    // One I/O thread runs completions in the order they happened, so a connection that
    // was answered is idle before the next connection is accepted.
    c.server.io_threads = 1;
    c.server.handshake_timeout = std::chrono::seconds(10);
  }
};

// A TCP connection that never starts its TLS handshake: busy until the handshake timeout.
struct SilentConnection {
  explicit SilentConnection(uint16_t port) {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    connected = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~SilentConnection() { close(fd); }
  int fd = -1;
  bool connected = false;
};

TEST_F(LimitedHttpsTest, AtTheCapTheOldestIdleConnectionMakesRoom) {
  auto a = Client();
  ASSERT_EQ(a->Request("GET", "/healthz")->status, 200);
  SilentConnection x(agent_->api_port());  // accepted in order: before b
  ASSERT_TRUE(x.connected);
  auto b = Client();
  auto r = b->Request("GET", "/healthz");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200) << "a was idle: closed to make room for b";
  EXPECT_TRUE(a->WaitForClose(std::chrono::seconds(10)).ok());
  SilentConnection y(agent_->api_port());  // b is idle: y takes its place
  ASSERT_TRUE(y.connected);
  EXPECT_TRUE(b->WaitForClose(std::chrono::seconds(10)).ok());
  // x and y are busy (in their handshakes): a new connection is refused.
  auto c = Client();
  auto refused = c->Request("GET", "/healthz");
  EXPECT_FALSE(refused.ok() && refused->status == 200) << "no connection was idle";
  for (SilentConnection* busy : {&x, &y}) shutdown(busy->fd, SHUT_RDWR);  // room again
  HttpResponse m;
  m.status = 0;
  for (int attempt = 0; attempt < 200 && m.status != 200; ++attempt) {
    auto d = Client();
    auto got = d->Request("GET", "/metrics");
    if (got.ok()) m = std::move(got).value();
  }
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("edwc_connections_shed_total 2"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("edwc_connections_rejected_total 1"), std::string::npos);
}

TEST_F(HttpsTest, OnlyTls12And13WithModernCiphers) {
  const uint16_t port = agent_->api_port();
  EXPECT_TRUE(testing::TlsHandshakeSucceeds(port, TLS1_3_VERSION, nullptr));
  EXPECT_TRUE(testing::TlsHandshakeSucceeds(port, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256"));
  EXPECT_TRUE(testing::TlsHandshakeSucceeds(port, TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305"));
  EXPECT_FALSE(testing::TlsHandshakeSucceeds(port, TLS1_1_VERSION, "ALL:@SECLEVEL=0"));
  EXPECT_FALSE(testing::TlsHandshakeSucceeds(port, TLS1_VERSION, "ALL:@SECLEVEL=0"));
  // CBC and SHA-1 suites are not modern.
  EXPECT_FALSE(testing::TlsHandshakeSucceeds(port, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA"));
  EXPECT_FALSE(testing::TlsHandshakeSucceeds(port, TLS1_2_VERSION, "ECDHE-ECDSA-AES256-SHA384"));
}

TEST(AgentStartTest, RefusesACertificateOfAnotherCenter) {
  testing::TempDir dir;
  auto pki = testing::MakeTestPki(dir.path(), "othercenter");
  auto agent = Agent::Start(testing::TestCenterConfig(dir.path(), pki, "testcenter"), false);
  ASSERT_FALSE(agent.ok());
  EXPECT_EQ(agent.status().field(), "tls.cert");
  EXPECT_NE(agent.status().message().find("othercenter"), std::string::npos);
}

}  // namespace
}  // namespace edwc::gateway
