// PeerClient: how one center calls another's peer listener (DESIGN.md sections 2 and 5):
// HTTPS/1.1 over TLS 1.3 with mutual authentication, asynchronous, with callbacks.
//
// PeerClient is the seam: protocol drivers and the agent hold a PeerClient&, tests may
// put a fake behind it. HttpsPeerClient is the real one, on the agent's IoRuntime:
//  - TLS 1.3 only; this center's certificate chain is presented; the server must chain to
//    the federation CA, match the URL's host (name or IP) and carry a SAN URI
//    edwc://center/<id>, whose id is reported as PeerResponse::peer_center.
//  - Keep-alive connections pooled per base URL (at most max_idle_per_peer idle). A pooled
//    connection that fails before any byte of the response arrives (the server closed it
//    meanwhile) is retried once on a fresh connection, even for a non-idempotent call.
//  - Idempotent calls are retried up to max_attempts on connect failures, timeouts, broken
//    connections and 502/503/504 answers, after an exponential backoff with full jitter.
//  - A circuit breaker per base URL: after breaker_failures consecutive failed attempts,
//    calls fail at once with kUnavailable "circuit open" for breaker_open_for; then one
//    trial call goes through (half-open): success closes the circuit, failure reopens it.
//  - The request id current at Post/Get (core/request_id.h) is sent as X-Request-Id and
//    is current again while `done` runs, so one request is followed across centers.
//  - Certificates reload without a restart (MakeTlsContext, UseTlsContext): every client
//    made from the same files shares one TLS context, replaced whole; new connections use
//    the new one, idle pooled connections of the old one are closed instead of reused.
//
// Outcomes: any HTTP answer is a PeerResponse (after retries, a final 503 is returned as
// a response, not as an error). Errors: kInvalidArgument (bad URL), kPermissionDenied (the
// server's certificate was refused; not retried), kUnavailable (connect, TLS, I/O,
// timeout, circuit open, shut down).
//
// Thread-safety: all methods may be called from any thread. `done` is called exactly once,
// on an I/O thread of the runtime (never inside Post/Get), as long as the runtime runs.
// The client may be destroyed with calls in flight: they fail as after Shutdown.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "config/center_config.h"
#include "core/status.h"
#include "core/time.h"
#include "gateway/certs.h"

namespace edwc::gateway {

class IoRuntime;
class Metrics;

struct PeerClientOptions {
  std::chrono::milliseconds connect_timeout{2000};  // TCP connect + TLS handshake
  std::chrono::milliseconds request_timeout{3000};  // writing the request, reading the answer
  int max_attempts = 3;                             // per idempotent call; >= 1
  std::chrono::milliseconds backoff_base{100};      // ceiling of the first retry's delay
  std::chrono::milliseconds backoff_max{2000};      // ceiling of any retry's delay
  int breaker_failures = 5;                         // consecutive failures that open it
  std::chrono::milliseconds breaker_open_for{5000};
  int max_idle_per_peer = 4;                    // idle keep-alive connections kept per peer
  std::chrono::milliseconds idle_for{30000};    // an idle connection older than this is closed
  uint64_t max_response_body_bytes = 16 << 20;  // a larger answer fails the call
  // Time for the circuit breaker; null means the system clock. Must outlive the client.
  const core::Clock* clock = nullptr;
};

// The ceiling of the delay before retry number `retry` (1 = the first retry):
// min(backoff_max, backoff_base * 2^(retry-1)). Full jitter draws the delay uniformly
// from [0, ceiling].
std::chrono::milliseconds BackoffCeiling(const PeerClientOptions& options, int retry);

struct PeerResponse {
  int status = 0;
  std::string body;
  std::string peer_center;  // center id in the server certificate's SAN URI
};

using PeerCallback = std::function<void(core::Result<PeerResponse>)>;

class PeerClient {
 public:
  virtual ~PeerClient() = default;

  // `base_url` is "https://host:port" of the peer listener; `target` the path and query
  // ("/peer/v1/adverts"). `idempotent` allows retries (gossip messages, hold requests
  // with their id); a non-idempotent call is sent at most once (bar a stale connection).
  virtual void Post(std::string base_url, std::string target, std::string body, bool idempotent,
                    PeerCallback done) = 0;
  virtual void Get(std::string base_url, std::string target, bool idempotent,
                   PeerCallback done) = 0;

  // Closes idle connections, fails calls in flight (including those waiting to retry)
  // and every later call with kUnavailable. Idempotent; does not wait.
  virtual void Shutdown() = 0;
};

class HttpsPeerClient final : public PeerClient {
 public:
  // Loads the TLS material (blocking file reads: call at start-up, not on an I/O thread).
  // `metrics` may be null; it must outlive the client. Counters it registers:
  // edwc_peer_client_requests_total{result="ok"|"failed"|"circuit_open"} (attempts),
  // edwc_peer_client_{retries,breaker_opens,connections_opened}_total.
  // REQUIRES: the client is destroyed before `runtime`.
  static core::Result<std::unique_ptr<HttpsPeerClient>> Create(IoRuntime& runtime,
                                                               const config::TlsFiles& tls,
                                                               PeerClientOptions options,
                                                               Metrics* metrics);
  ~HttpsPeerClient() override;
  HttpsPeerClient(const HttpsPeerClient&) = delete;
  HttpsPeerClient& operator=(const HttpsPeerClient&) = delete;

  void Post(std::string base_url, std::string target, std::string body, bool idempotent,
            PeerCallback done) override;
  void Get(std::string base_url, std::string target, bool idempotent, PeerCallback done) override;
  void Shutdown() override;

  // Certificate reload: a context made from `tls` (read and checked already), for
  // UseTlsContext; made apart from its use so that a reload can fail before it changes
  // anything. Immutable once made.
  struct TlsContext;
  static core::Result<std::shared_ptr<TlsContext>> MakeTlsContext(const CenterTls& tls);
  // Every client of this process created from `files` (they share one context: one
  // agent's clients all are) opens its new connections with `context` from now on.
  // Calls in flight finish on their connections; idle pooled ones close instead of being
  // reused.
  static void UseTlsContext(const config::TlsFiles& files, std::shared_ptr<TlsContext> context);

  // For tests and metrics: TCP+TLS connections opened so far, idle connections pooled now.
  uint64_t connections_opened() const;
  int idle_connections() const;

 private:
  struct Impl;
  explicit HttpsPeerClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;  // shared with calls in flight
};

}  // namespace edwc::gateway
