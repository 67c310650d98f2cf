// Resource limits of a real agent process under abuse: thousands of idle TLS connections,
// a crowd of slow clients trickling their headers (slowloris), connections past the cap.
// Through all of it other clients are served, the agent's memory stays bounded, and the
// agent never crashes. (Single requests over each limit, and the rate limits, are in
// tests/gateway/https_test.cc and peer_security_test.cc.)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway/openssl_ptr.h"
#include "tests/integration/cluster.h"
#include "tests/integration/workload.h"

namespace edwc::testing {
namespace {

using namespace std::chrono_literals;

// The agent's resident memory, from /proc (kB).
int64_t ResidentKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// What an idle connection may cost the agent, which is built as this test is. About 80 KiB
// in a release build (2026-11-27): Asio's TLS stream keeps two 17 KiB record buffers and
// its BIO pair two more; OpenSSL's own read and write buffers are released between
// requests. AddressSanitizer pads every allocation; ThreadSanitizer's shadow memory
// multiplies everything, so no bound is checked there.
#if defined(__SANITIZE_THREAD__)
constexpr int64_t kMaxBytesPerIdleConnection = 0;
#elif defined(__SANITIZE_ADDRESS__)
constexpr int64_t kMaxBytesPerIdleConnection = 320 * 1024;
#else
constexpr int64_t kMaxBytesPerIdleConnection = 112 * 1024;
#endif

uint16_t PortOf(const std::string& url) {
  return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
}

// One client TLS connection on a blocking socket, kept open until destroyed.
class TlsConnection {
 public:
  TlsConnection(SSL_CTX* ctx, uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{20, 0};  // bounds on the test, not synchronisation
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    ssl_.reset(SSL_new(ctx));
    SSL_set_fd(ssl_.get(), fd_);
    ok_ = SSL_connect(ssl_.get()) == 1;
  }
  ~TlsConnection() {
    ssl_.reset();
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return ok_; }
  bool Write(std::string_view bytes) {
    return ok_ && SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size())) > 0;
  }
  // Everything the server sends until it closes (or the socket's timeout).
  std::string ReadToEnd() {
    std::string out;
    char buf[4096];
    for (;;) {
      const int n = SSL_read(ssl_.get(), buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

 private:
  int fd_ = -1;
  gateway::SslPtr ssl_;
  bool ok_ = false;
};

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    signal(SIGPIPE, SIG_IGN);  // slow clients write on after the server has closed
    // The test holds one descriptor per connection it opens.
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
    max_open_ = static_cast<int>(std::min<rlim_t>(limit.rlim_cur, 1 << 20)) - 256;
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_NONE, nullptr);
  }

  Cluster cluster_;
  gateway::SslCtxPtr ctx_;
  int max_open_ = 0;
};

TEST_F(LimitsTest, ThousandsOfIdleConnectionsCostLittleAndOthersAreServed) {
  const int kIdle = std::min(2000, max_open_);
  ASSERT_GE(kIdle, 500) << "the open-file limit is too low for this test";
  // In the sanitizer build, freed memory waits in AddressSanitizer's quarantine (256 MiB)
  // before reuse, which would count every handshake's temporary allocations: the agent
  // started here keeps none.
  if (const char* asan = std::getenv("ASAN_OPTIONS")) {
    setenv("ASAN_OPTIONS",
           (std::string(asan) + ":quarantine_size_mb=0:thread_local_quarantine_size_kb=0").c_str(),
           1);
  }
  Agent& agent = cluster_.Start("zhongwei", "");
  ASSERT_TRUE(agent.child.pid > 0);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(cluster_.Call(agent, "GET", "/v1/centers").first, 200);
  const int64_t before = ResidentKiB(agent.child.pid);

  std::vector<std::unique_ptr<TlsConnection>> idle;
  for (int i = 0; i < kIdle; ++i) {
    idle.push_back(std::make_unique<TlsConnection>(ctx_.get(), PortOf(agent.api_url)));
    ASSERT_TRUE(idle.back()->ok()) << "connection " << i;
  }
  // Served beside them.
  for (int i = 0; i < 20; ++i) ASSERT_EQ(cluster_.Call(agent, "GET", "/v1/centers").first, 200);
  EXPECT_EQ(Metric(cluster_, agent, "edwc_connections_open"), kIdle + 1) << "all of them held open";
  const int64_t after = ResidentKiB(agent.child.pid);
  const int64_t per_connection = (after - before) * 1024 / kIdle;
  std::printf(
      "resident memory: %lld KiB before, %lld KiB with %d idle connections: %lld bytes "
      "each\n",
      static_cast<long long>(before), static_cast<long long>(after), kIdle,
      static_cast<long long>(per_connection));
  if (kMaxBytesPerIdleConnection > 0) {
    EXPECT_LT(per_connection, kMaxBytesPerIdleConnection);
  }
  EXPECT_EQ(kill(agent.child.pid, 0), 0) << "the agent is alive";
}

TEST_F(LimitsTest, SlowClientsGet408AndDoNotStopOthers) {
  constexpr int kSlow = 200;
  Agent& agent = cluster_.Start("zhongwei", "", [](config::CenterConfig& c) {
    c.server.read_timeout = 1s;  // for one whole request once started
  });
  std::vector<std::unique_ptr<TlsConnection>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<TlsConnection>(ctx_.get(), PortOf(agent.api_url)));
    ASSERT_TRUE(slow.back()->ok());
    ASSERT_TRUE(slow.back()->Write("GET /v1/centers HTTP/1.1\r\nHost: x\r\n"));
  }
  // Every slow client sends one more header byte every 100 ms for 3 s (three times the
  // read timeout) while others make ordinary requests.
  std::thread trickle([&slow] {
    for (int round = 0; round < 30; ++round) {
      for (auto& c : slow) c->Write("x");  // fails once the server has answered
      std::this_thread::sleep_for(100ms);  // the attack's pace
    }
  });
  int served = 0;
  for (int i = 0; i < 30; ++i) served += cluster_.Call(agent, "GET", "/v1/centers").first == 200;
  trickle.join();
  EXPECT_EQ(served, 30);
  int timed_out = 0;
  for (auto& c : slow) {
    const std::string answer = c->ReadToEnd();
    timed_out += answer.rfind("HTTP/1.1 408 ", 0) == 0 &&
                 answer.find("\"code\":\"request_timeout\"") != std::string::npos;
  }
  EXPECT_EQ(timed_out, kSlow) << "each slow client got 408 and was closed";
  EXPECT_GE(Metric(cluster_, agent, "edwc_connection_timeouts_total"), kSlow);
  EXPECT_EQ(cluster_.Call(agent, "GET", "/healthz").first, 200);
}

TEST_F(LimitsTest, PastTheCapIdleConnectionsMakeRoom) {
  constexpr int kCap = 300;
  Agent& agent = cluster_.Start("zhongwei", "",
                                [](config::CenterConfig& c) { c.server.max_connections = kCap; });
  // Twice the cap of idle connections: each one past the cap closes the oldest idle one.
  std::vector<std::unique_ptr<TlsConnection>> idle;
  for (int i = 0; i < 2 * kCap; ++i) {
    idle.push_back(std::make_unique<TlsConnection>(ctx_.get(), PortOf(agent.api_url)));
    ASSERT_TRUE(idle.back()->ok()) << "connection " << i;
  }
  auto [status, body] = cluster_.Call(agent, "GET", "/v1/centers");
  EXPECT_EQ(status, 200) << "a new client is served at the cap";
  EXPECT_GE(Metric(cluster_, agent, "edwc_connections_shed_total"), kCap);
  EXPECT_LE(Metric(cluster_, agent, "edwc_connections_open"), kCap + 1);
  // The oldest were closed: the server ends their connections.
  EXPECT_TRUE(idle.front()->ReadToEnd().empty());
}

}  // namespace
}  // namespace edwc::testing
