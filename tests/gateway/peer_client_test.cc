// HttpsPeerClient against a real peer listener on loopback port 0 whose answers each test
// scripts: keep-alive reuse, the stale-connection retry, retries with backoff for
// idempotent calls only, timeouts, the circuit breaker (with an injected clock) and
// Shutdown. Callbacks are awaited with futures; nothing sleeps to synchronise.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/time.h"
#include "gateway/http_server.h"
#include "gateway/io_runtime.h"
#include "gateway/metrics.h"
#include "gateway/peer_client.h"
#include "tests/support/test_support.h"

namespace edwc::gateway {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Callback = std::shared_ptr<std::promise<core::Result<PeerResponse>>>;
using Pending = std::future<core::Result<PeerResponse>>;
// What the test server answers to a request: fills *out (default: 200 echoing the body)
// and returns true, or returns false to hold the request until ReleaseHeld.
using Answer = std::function<bool(const HttpRequest&, HttpResponse*)>;

class PeerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alpha_ = testing::MakeTestPki(dir_.path(), "alpha");
    beta_ = testing::MakeTestPki(dir_.path(), "beta");
  }
  void TearDown() override {
    client_.reset();
    ReleaseHeld();
    if (server_) {
      auto drained = std::make_shared<std::promise<void>>();
      server_->Drain([drained] { drained->set_value(); });
      EXPECT_EQ(drained->get_future().wait_for(5s), std::future_status::ready);
    }
    server_runtime_.Stop();
    server_runtime_.Join();
    client_runtime_.Stop();
    client_runtime_.Join();
  }

  void StartServer(std::chrono::milliseconds idle_timeout = 60s) {
    ServerSettings s;
    s.tls = {alpha_.cert_file, alpha_.key_file, alpha_.ca_file, /*require_client_cert=*/true};
    s.idle_timeout = idle_timeout;
    server_ = std::make_unique<HttpServer>(
        server_runtime_, s, [this](HttpRequest& req, Respond respond) { Serve(req, respond); },
        nullptr);
    auto port = server_->Listen();
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    url_ = "https://127.0.0.1:" + std::to_string(*port);
    server_runtime_.Start();
  }

  void StartClient(PeerClientOptions options, Metrics* metrics = nullptr) {
    client_runtime_.Start();
    auto client = HttpsPeerClient::Create(
        client_runtime_, {beta_.ca_file, beta_.cert_file, beta_.key_file}, options, metrics);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    client_ = std::move(client).value();
  }

  void SetAnswer(Answer answer) {
    std::lock_guard lock(mu_);
    answer_ = std::move(answer);
  }

  void Serve(const HttpRequest& req, const Respond& respond) {
    HttpResponse out = HttpResponse::Json(200, req.body);
    bool now = true;
    {
      std::lock_guard lock(mu_);
      ++served_;
      if (answer_) now = answer_(req, &out);
      if (!now) held_.push_back(respond);
    }
    cv_.notify_all();
    if (now) respond(std::move(out));
  }

  void ReleaseHeld(int status = 200) {
    std::vector<Respond> held;
    {
      std::lock_guard lock(mu_);
      held.swap(held_);
    }
    for (auto& r : held) r(HttpResponse::Json(status, "{}"));
  }

  // Waits until the server has seen `n` requests in all.
  bool WaitServed(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, 10s, [&] { return served_ >= n; });
  }
  int served() {
    std::lock_guard lock(mu_);
    return served_;
  }

  Pending Post(std::string body, bool idempotent, std::string target = "/peer/v1/test") {
    auto done = std::make_shared<std::promise<core::Result<PeerResponse>>>();
    Pending f = done->get_future();
    client_->Post(url_, std::move(target), std::move(body), idempotent,
                  [done](core::Result<PeerResponse> r) { done->set_value(std::move(r)); });
    return f;
  }
  static core::Result<PeerResponse> Wait(Pending& f, std::chrono::milliseconds within = 10s) {
    if (f.wait_for(within) != std::future_status::ready) {
      return core::Status(core::Code::kInternal, "no callback in time");
    }
    return f.get();
  }
  core::Result<PeerResponse> PostAndWait(std::string body, bool idempotent) {
    Pending f = Post(std::move(body), idempotent);
    return Wait(f);
  }

  testing::TempDir dir_;
  testing::TestPki alpha_, beta_;
  IoRuntime server_runtime_{2};
  IoRuntime client_runtime_{2};
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<HttpsPeerClient> client_;
  std::string url_;

  std::mutex mu_;
  std::condition_variable cv_;
  Answer answer_;              // GUARDED_BY(mu_)
  int served_ = 0;             // GUARDED_BY(mu_)
  std::vector<Respond> held_;  // GUARDED_BY(mu_)
};

Answer Status503Times(int k) {
  auto left = std::make_shared<int>(k);
  return [left](const HttpRequest&, HttpResponse* out) {
    if ((*left)-- > 0) *out = HttpResponse::Json(503, R"({"error":{}})");
    return true;
  };
}

TEST(BackoffTest, CeilingDoublesUpToTheMaximum) {
  PeerClientOptions o;
  o.backoff_base = 100ms;
  o.backoff_max = 2000ms;
  EXPECT_EQ(BackoffCeiling(o, 1), 100ms);
  EXPECT_EQ(BackoffCeiling(o, 2), 200ms);
  EXPECT_EQ(BackoffCeiling(o, 3), 400ms);
  EXPECT_EQ(BackoffCeiling(o, 5), 1600ms);
  EXPECT_EQ(BackoffCeiling(o, 6), 2000ms);
  EXPECT_EQ(BackoffCeiling(o, 60), 2000ms);
}

TEST_F(PeerClientTest, KeepAliveReusesOneConnection) {
  StartServer();
  StartClient({});
  for (int i = 0; i < 50; ++i) {
    auto r = PostAndWait("{\"n\":" + std::to_string(i) + "}", /*idempotent=*/false);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "{\"n\":" + std::to_string(i) + "}");
    EXPECT_EQ(r->peer_center, "alpha");
  }
  EXPECT_EQ(client_->connections_opened(), 1u);
  EXPECT_EQ(client_->idle_connections(), 1);
  EXPECT_EQ(server_->open_connections(), 1);
}

TEST_F(PeerClientTest, ConcurrentCallsKeepAtMostMaxIdleConnections) {
  StartServer();
  PeerClientOptions options;
  options.max_idle_per_peer = 2;
  StartClient(options);
  std::vector<Pending> calls;
  for (int i = 0; i < 16; ++i) calls.push_back(Post("{}", true));
  for (auto& f : calls) {
    auto r = Wait(f);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_LE(client_->idle_connections(), 2);
  EXPECT_GE(client_->connections_opened(), 1u);
  EXPECT_LE(client_->connections_opened(), 16u);
}

TEST_F(PeerClientTest, StaleConnectionIsRetriedOnceEvenIfNotIdempotent) {
  StartServer(/*idle_timeout=*/150ms);
  StartClient({});
  ASSERT_TRUE(PostAndWait("{}", false).ok());
  ASSERT_EQ(client_->idle_connections(), 1);
  // The server closes the idle connection; the client still holds it in its pool.
  const auto deadline = Clock::now() + 10s;
  while (server_->open_connections() != 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);  // polls the server's state; it has no event to wait on
  }
  ASSERT_EQ(server_->open_connections(), 0);
  auto r = PostAndWait("{\"again\":1}", /*idempotent=*/false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(served(), 2);  // sent once on the fresh connection
  EXPECT_EQ(client_->connections_opened(), 2u);
}

TEST_F(PeerClientTest, IdempotentCallIsRetriedWithBackoffOn503) {
  StartServer();
  PeerClientOptions options;
  options.max_attempts = 3;
  options.backoff_base = 20ms;
  options.backoff_max = 40ms;
  StartClient(options);
  SetAnswer(Status503Times(2));
  const auto start = Clock::now();
  auto r = PostAndWait("{}", /*idempotent=*/true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(served(), 3);
  // Full jitter: each wait is at most its ceiling (20 ms, then 40 ms).
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST_F(PeerClientTest, RetriesStopAtMaxAttemptsAndReturnTheLastAnswer) {
  StartServer();
  PeerClientOptions options;
  options.max_attempts = 3;
  options.backoff_base = 1ms;
  StartClient(options);
  SetAnswer(Status503Times(100));
  auto r = PostAndWait("{}", /*idempotent=*/true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(served(), 3);
}

TEST_F(PeerClientTest, NonIdempotentCallIsNotRetried) {
  StartServer();
  PeerClientOptions options;
  options.backoff_base = 1ms;
  StartClient(options);
  SetAnswer(Status503Times(2));
  auto r = PostAndWait("{}", /*idempotent=*/false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(served(), 1);
}

TEST_F(PeerClientTest, OtherErrorStatusesAreAnswersNotRetried) {
  StartServer();
  StartClient({});
  SetAnswer([](const HttpRequest&, HttpResponse* out) {
    *out = HttpResponse::Json(409, R"({"error":{"code":"conflict"}})");
    return true;
  });
  auto r = PostAndWait("{}", /*idempotent=*/true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(served(), 1);
}

TEST_F(PeerClientTest, RequestTimeoutFailsTheCall) {
  StartServer();
  PeerClientOptions options;
  options.request_timeout = 200ms;
  StartClient(options);
  SetAnswer([](const HttpRequest&, HttpResponse*) { return false; });  // never answers
  const auto start = Clock::now();
  auto r = PostAndWait("{}", /*idempotent=*/false);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::Code::kUnavailable);
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().ToString();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(served(), 1);
}

TEST_F(PeerClientTest, IdempotentCallIsRetriedAfterATimeout) {
  StartServer();
  PeerClientOptions options;
  options.request_timeout = 100ms;
  options.max_attempts = 3;
  options.backoff_base = 1ms;
  StartClient(options);
  SetAnswer([](const HttpRequest&, HttpResponse*) { return false; });
  auto r = PostAndWait("{}", /*idempotent=*/true);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("timed out"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(served(), 3);
}

TEST_F(PeerClientTest, ConnectFailureIsUnavailable) {
  StartServer();
  PeerClientOptions options;
  options.max_attempts = 2;
  options.backoff_base = 1ms;
  StartClient(options);
  // Port 1 on loopback: nothing listens there.
  auto done = std::make_shared<std::promise<core::Result<PeerResponse>>>();
  Pending f = done->get_future();
  client_->Get("https://127.0.0.1:1", "/peer/v1/digest", true,
               [done](core::Result<PeerResponse> r) { done->set_value(std::move(r)); });
  auto r = Wait(f);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("connect"), std::string::npos) << r.status().ToString();
}

TEST_F(PeerClientTest, BadUrlIsInvalidArgument) {
  StartServer();
  StartClient({});
  auto done = std::make_shared<std::promise<core::Result<PeerResponse>>>();
  Pending f = done->get_future();
  client_->Get("http://127.0.0.1:80", "/x", true,
               [done](core::Result<PeerResponse> r) { done->set_value(std::move(r)); });
  auto r = Wait(f);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), core::Code::kInvalidArgument);
}

TEST_F(PeerClientTest, CircuitBreakerOpensThenHalfOpensAfterTheWindow) {
  StartServer();
  core::ManualClock clock(core::Time(core::Duration(1'800'000'000'000)));
  PeerClientOptions options;
  options.max_attempts = 1;
  options.breaker_failures = 3;
  options.breaker_open_for = 5s;
  options.clock = &clock;
  Metrics metrics;
  StartClient(options, &metrics);
  SetAnswer(Status503Times(1000));
  for (int i = 0; i < 3; ++i) {
    auto r = PostAndWait("{}", true);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 503);
  }
  // Open: fails fast without reaching the server.
  auto fast = PostAndWait("{}", true);
  ASSERT_FALSE(fast.ok());
  EXPECT_EQ(fast.status().code(), core::Code::kUnavailable);
  EXPECT_NE(fast.status().message().find("circuit open"), std::string::npos);
  EXPECT_EQ(served(), 3);
  clock.Advance(std::chrono::milliseconds(4999));
  EXPECT_FALSE(PostAndWait("{}", true).ok());
  EXPECT_EQ(served(), 3);

  // Half-open after the window: one trial; while it is in flight others fail fast.
  clock.Advance(std::chrono::milliseconds(1));
  SetAnswer([](const HttpRequest&, HttpResponse*) { return false; });  // hold the trial
  Pending trial = Post("{}", true);
  ASSERT_TRUE(WaitServed(4));
  auto during = PostAndWait("{}", true);
  ASSERT_FALSE(during.ok());
  EXPECT_NE(during.status().message().find("circuit open"), std::string::npos);
  ReleaseHeld(200);
  auto t = Wait(trial);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->status, 200);

  // The trial succeeded: closed again.
  SetAnswer(nullptr);
  auto after = PostAndWait("{}", true);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(served(), 5);
  const std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("edwc_peer_client_breaker_opens_total 1"), std::string::npos) << text;
  EXPECT_NE(text.find("edwc_peer_client_requests_total{result=\"circuit_open\"} 3"),
            std::string::npos)
      << text;
}

TEST_F(PeerClientTest, FailedTrialReopensTheCircuit) {
  StartServer();
  core::ManualClock clock(core::Time(core::Duration(1'800'000'000'000)));
  PeerClientOptions options;
  options.max_attempts = 1;
  options.breaker_failures = 2;
  options.breaker_open_for = 1s;
  options.clock = &clock;
  StartClient(options);
  SetAnswer(Status503Times(1000));
  EXPECT_EQ(PostAndWait("{}", true)->status, 503);
  EXPECT_EQ(PostAndWait("{}", true)->status, 503);
  EXPECT_FALSE(PostAndWait("{}", true).ok());
  clock.Advance(1s);
  EXPECT_EQ(PostAndWait("{}", true)->status, 503);  // the trial, failed
  EXPECT_EQ(served(), 3);
  auto r = PostAndWait("{}", true);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("circuit open"), std::string::npos);
  EXPECT_EQ(served(), 3);
}

TEST_F(PeerClientTest, ShutdownFailsCallsInFlightWaitingAndNew) {
  StartServer();
  PeerClientOptions options;
  options.max_attempts = 1000;
  options.backoff_base = 10s;
  options.backoff_max = 10s;
  options.breaker_failures = 100000;
  options.request_timeout = 30s;
  StartClient(options);
  SetAnswer([](const HttpRequest& req, HttpResponse* out) {
    if (req.target == "/slow") return false;  // held: the call stays in flight
    *out = HttpResponse::Json(503, "{}");     // the call waits to retry
    return true;
  });
  Pending in_flight = Post("{}", false, "/slow");
  ASSERT_TRUE(WaitServed(1));
  Pending backing_off = Post("{}", true, "/busy");
  ASSERT_TRUE(WaitServed(2));
  const auto start = Clock::now();
  client_->Shutdown();
  auto a = Wait(in_flight, 5s);
  auto b = Wait(backing_off, 5s);
  ASSERT_FALSE(a.ok());
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(a.status().code(), core::Code::kUnavailable) << a.status().ToString();
  EXPECT_EQ(b.status().code(), core::Code::kUnavailable) << b.status().ToString();
  EXPECT_NE(a.status().message().find("shut down"), std::string::npos) << a.status().ToString();
  EXPECT_NE(b.status().message().find("shut down"), std::string::npos) << b.status().ToString();
  EXPECT_LT(Clock::now() - start, 5s);
  auto later = PostAndWait("{}", true);
  ASSERT_FALSE(later.ok());
  EXPECT_EQ(later.status().code(), core::Code::kUnavailable);
  EXPECT_EQ(client_->idle_connections(), 0);
}

}  // namespace
}  // namespace edwc::gateway
