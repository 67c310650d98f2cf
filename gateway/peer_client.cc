#include "gateway/peer_client.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <mutex>
#include <random>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/request_id.h"
#include "gateway/certs.h"
#include "gateway/io_runtime.h"
#include "gateway/metrics.h"
#include "gateway/openssl_ptr.h"

namespace edwc::gateway {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using core::Code;
using core::Status;

struct HttpsPeerClient::TlsContext {
  ssl::context ctx{ssl::context::tls_client};
};

namespace {

using TlsContextPtr = std::shared_ptr<HttpsPeerClient::TlsContext>;

constexpr auto kUseTuple = net::as_tuple(net::use_awaitable);
constexpr uint32_t kHeaderLimitBytes = 16 * 1024;

// The client context of every HttpsPeerClient of this process made from the same files
// (one agent's federation, job, transfer and settlement clients), so that a reload of the
// certificates reaches all of them at once. An entry lives while a client holds it.
struct SharedTls {
  std::mutex mu;
  TlsContextPtr context;  // GUARDED_BY(mu)

  TlsContextPtr Current() {
    std::lock_guard lock(mu);
    return context;
  }
};

std::string TlsFilesKey(const config::TlsFiles& files) {
  return files.cert + '\n' + files.key + '\n' + files.ca;
}

struct SharedTlsRegistry {
  std::mutex mu;
  std::unordered_map<std::string, std::weak_ptr<SharedTls>> by_files;  // GUARDED_BY(mu)
};

SharedTlsRegistry& Registry() {
  static auto* registry = new SharedTlsRegistry;  // never destroyed: clients may outlive main
  return *registry;
}

// The shared entry for `files`: the live one, or a new one holding `made`.
std::shared_ptr<SharedTls> JoinSharedTls(const config::TlsFiles& files, TlsContextPtr made) {
  SharedTlsRegistry& r = Registry();
  std::lock_guard lock(r.mu);
  std::erase_if(r.by_files, [](const auto& entry) { return entry.second.expired(); });
  std::weak_ptr<SharedTls>& slot = r.by_files[TlsFilesKey(files)];
  if (auto live = slot.lock()) return live;
  auto fresh = std::make_shared<SharedTls>();
  fresh->context = std::move(made);
  slot = fresh;
  return fresh;
}

struct Endpoint {
  std::string host;
  std::string port;
  bool is_ip = false;
};

core::Result<Endpoint> ParseBaseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "https://";
  if (!url.starts_with(kScheme)) {
    return core::InvalidArgument("peer URL must start with https://: " + std::string(url), "url");
  }
  std::string_view rest = url.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  Endpoint e;
  if (!rest.empty() && rest.front() == '[') {  // [::1]:7401
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return core::InvalidArgument("bad IPv6 peer URL", "url");
    e.host = std::string(rest.substr(1, close - 1));
    rest = rest.substr(close + 1);
    e.port = rest.size() > 1 && rest[0] == ':' ? std::string(rest.substr(1)) : "443";
  } else {
    const size_t colon = rest.rfind(':');
    e.host = std::string(rest.substr(0, colon));
    e.port = colon == std::string_view::npos ? "443" : std::string(rest.substr(colon + 1));
  }
  if (e.host.empty() || e.host.find_first_of("/?#@ ") != std::string::npos) {
    return core::InvalidArgument("bad host in peer URL " + std::string(url), "url");
  }
  if (e.port.empty() || e.port.size() > 5 ||
      e.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(e.port) > 65535) {
    return core::InvalidArgument("bad port in peer URL " + std::string(url), "url");
  }
  boost::system::error_code ec;
  net::ip::make_address(e.host, ec);
  e.is_ip = !ec;
  return e;
}

// The center id from the verified server certificate's SAN URI, or empty.
std::string PeerCenterId(SSL* ssl) {
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return {};
  BioPtr bio(BIO_new(BIO_s_mem()));
  std::string pem;
  if (bio && PEM_write_bio_X509(bio.get(), cert) == 1) {
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    pem.assign(data, static_cast<size_t>(n));
  }
  auto id = CenterIdFromCertificatePem(pem);
  return id.ok() ? *id : std::string();
}

bool IsRetryableStatus(int status) { return status == 502 || status == 503 || status == 504; }

std::chrono::milliseconds FullJitter(std::chrono::milliseconds ceiling) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<int64_t> pick(0, std::max<int64_t>(0, ceiling.count()));
  return std::chrono::milliseconds(pick(rng));
}

Status ShutDownError() { return Status(Code::kUnavailable, "peer client shut down"); }

// One TCP+TLS connection. Every operation on it runs on its own strand (the stream's
// executor), one call at a time: a call takes it out of the pool, uses it, puts it back.
struct Connection {
  Connection(net::any_io_executor strand, TlsContextPtr context)
      : tls(std::move(context)), stream(strand, tls->ctx) {}
  const TlsContextPtr tls;  // the context it was opened with, kept for its lifetime
  beast::ssl_stream<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::string peer_center;
  std::chrono::steady_clock::time_point idle_since;
};
using ConnectionPtr = std::shared_ptr<Connection>;

// Closes and releases a connection on its strand, where its last handlers run.
void CloseOnStrand(ConnectionPtr conn) {
  auto ex = conn->stream.get_executor();
  net::post(ex, [conn = std::move(conn)] { beast::get_lowest_layer(conn->stream).close(); });
}

// How one exchange (connect if needed, write the request, read the answer) ended.
enum class Failure {
  kNone,
  kStale,      // a pooled connection failed before any byte of the answer
  kTransient,  // connect, TLS, I/O or timeout: worth another attempt if idempotent
  kRefused,    // the server's certificate is not acceptable: retrying will not help
  kShutDown,
};

struct Exchanged {
  Failure failure = Failure::kNone;
  Status error;
  PeerResponse response;
  bool reusable = false;  // the connection may serve another request
};

enum class Admission { kAdmitted, kTrial, kRejected };

struct Peer {
  Endpoint endpoint;
  std::vector<ConnectionPtr> idle;  // most recently used last
  // Circuit breaker.
  enum class State { kClosed, kOpen, kHalfOpen } state = State::kClosed;
  int consecutive_failures = 0;
  core::Time open_until{};
  bool trial_in_flight = false;
};

struct Counters {
  std::atomic<uint64_t> attempts_ok{0};
  std::atomic<uint64_t> attempts_failed{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> breaker_opens{0};
  std::atomic<uint64_t> fast_failures{0};  // refused by an open circuit
  std::atomic<uint64_t> connections_opened{0};
};

// One Post or Get, from its start to its callback; runs on its own strand.
struct Call {
  explicit Call(net::any_io_executor ex) : strand(ex), backoff(ex) {}
  net::any_io_executor strand;
  net::steady_timer backoff;  // on `strand`
  std::string method, base_url, target, body;
  bool idempotent = false;
  std::string request_id;  // the caller's, sent as x-request-id and current again in `done`
  PeerCallback done;
  ConnectionPtr conn;  // GUARDED_BY(Impl::mu): the connection in use, for Shutdown
};
using CallPtr = std::shared_ptr<Call>;

}  // namespace

std::chrono::milliseconds BackoffCeiling(const PeerClientOptions& options, int retry) {
  auto ceiling = options.backoff_base;
  for (int i = 1; i < retry && ceiling < options.backoff_max; ++i) ceiling *= 2;
  return std::min(ceiling, options.backoff_max);
}

struct HttpsPeerClient::Impl : std::enable_shared_from_this<HttpsPeerClient::Impl> {
  Impl(IoRuntime& rt, PeerClientOptions o)
      : runtime(rt),
        options(o),
        clock(o.clock != nullptr ? o.clock : &system_clock),
        counters(std::make_shared<Counters>()) {}

  IoRuntime& runtime;
  std::shared_ptr<SharedTls> tls;  // set by Create
  PeerClientOptions options;
  core::SystemClock system_clock;
  const core::Clock* clock;
  std::shared_ptr<Counters> counters;  // shared with the metrics callbacks
  std::atomic<bool> shut_down{false};

  mutable std::mutex mu;
  std::unordered_map<std::string, std::unique_ptr<Peer>> peers;  // GUARDED_BY(mu); never erased
  std::unordered_set<CallPtr> calls;                             // GUARDED_BY(mu)

  void RegisterMetrics(Metrics& metrics);
  void Start(CallPtr call);
  net::awaitable<void> Run(CallPtr call);
  net::awaitable<core::Result<PeerResponse>> Attempts(Call& call);
  net::awaitable<Exchanged> Exchange(ConnectionPtr conn, const Endpoint& endpoint,
                                     const std::string& wire, bool reused);
  net::awaitable<Exchanged> Connect(Connection& conn, const Endpoint& endpoint);
  Exchanged Fail(const boost::system::error_code& ec, std::string what, bool stale_if_early);

  core::Result<Peer*> FindPeer(const std::string& base_url);
  std::pair<ConnectionPtr, bool> Acquire(Peer& peer, Call& call);
  void Release(Peer& peer, Call& call, ConnectionPtr conn, bool reusable);
  Admission Admit(Peer& peer);
  void Record(Peer& peer, bool success, Admission admission);
  void AbandonTrial(Peer& peer, Admission admission);
  void Shutdown();
};

namespace {

// A client context from the files (`pem` null, at start) or from material already read
// and checked (a reload); the file names label errors either way.
core::Result<TlsContextPtr> NewClientContext(const config::TlsFiles& tls, const CenterTls* pem) {
  auto made = std::make_shared<HttpsPeerClient::TlsContext>();
  ssl::context& ctx = made->ctx;
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION);
  boost::system::error_code ec;
  // Every certificate of the CA file is a trust anchor (a bundle during a CA rotation).
  if (pem) {
    ctx.add_certificate_authority(net::buffer(pem->ca_pem), ec);
  } else {
    ctx.load_verify_file(tls.ca, ec);
  }
  if (ec) return core::InvalidArgument("peer client CA " + tls.ca + ": " + ec.message(), "ca");
  ctx.set_verify_mode(ssl::verify_peer);
  if (pem) {
    ctx.use_certificate_chain(net::buffer(pem->chain_pem), ec);
  } else {
    ctx.use_certificate_chain_file(tls.cert, ec);
  }
  if (ec) {
    return core::InvalidArgument("peer client certificate " + tls.cert + ": " + ec.message(),
                                 "cert");
  }
  if (pem) {
    ctx.use_private_key(net::buffer(pem->key_pem), ssl::context::pem, ec);
  } else {
    ctx.use_private_key_file(tls.key, ssl::context::pem, ec);
  }
  if (ec) return core::InvalidArgument("peer client key " + tls.key + ": " + ec.message(), "key");
  if (SSL_CTX_check_private_key(native) != 1) {
    ERR_clear_error();
    return core::InvalidArgument("key " + tls.key + " does not match certificate " + tls.cert,
                                 "key");
  }
  PrimeCertificateCaches(native);
  return made;
}

}  // namespace

void HttpsPeerClient::Impl::RegisterMetrics(Metrics& metrics) {
  auto c = counters;
  auto one = [](const std::atomic<uint64_t>& v) {
    return Metrics::Samples{{"", static_cast<double>(v.load(std::memory_order_relaxed))}};
  };
  metrics.AddFamily("edwc_peer_client_requests_total",
                    "Requests sent to peers (attempts, retries included), by result.", "counter",
                    [c] {
                      return Metrics::Samples{
                          {"result=\"ok\"", static_cast<double>(c->attempts_ok.load())},
                          {"result=\"failed\"", static_cast<double>(c->attempts_failed.load())},
                          {"result=\"circuit_open\"", static_cast<double>(c->fast_failures.load())},
                      };
                    });
  metrics.AddFamily("edwc_peer_client_retries_total", "Retries of idempotent peer calls.",
                    "counter", [c, one] { return one(c->retries); });
  metrics.AddFamily("edwc_peer_client_breaker_opens_total",
                    "Times a peer's circuit breaker opened.", "counter",
                    [c, one] { return one(c->breaker_opens); });
  metrics.AddFamily("edwc_peer_client_connections_opened_total",
                    "TCP+TLS connections opened to peers.", "counter",
                    [c, one] { return one(c->connections_opened); });
}

core::Result<Peer*> HttpsPeerClient::Impl::FindPeer(const std::string& base_url) {
  std::lock_guard lock(mu);
  auto it = peers.find(base_url);
  if (it != peers.end()) return it->second.get();
  EDWC_ASSIGN_OR_RETURN(Endpoint endpoint, ParseBaseUrl(base_url));
  auto peer = std::make_unique<Peer>();
  peer->endpoint = std::move(endpoint);
  Peer* raw = peer.get();
  peers.emplace(base_url, std::move(peer));
  return raw;
}

// A pooled connection if one is fresh enough, else a new one (not yet connected).
std::pair<ConnectionPtr, bool> HttpsPeerClient::Impl::Acquire(Peer& peer, Call& call) {
  const auto now = std::chrono::steady_clock::now();
  TlsContextPtr context = tls->Current();
  std::lock_guard lock(mu);
  while (!peer.idle.empty()) {
    ConnectionPtr conn = std::move(peer.idle.back());
    peer.idle.pop_back();
    // A connection opened before a certificate reload retires instead of being reused.
    if (now - conn->idle_since < options.idle_for && conn->tls == context) {
      call.conn = conn;
      return {std::move(conn), true};
    }
    CloseOnStrand(std::move(conn));
  }
  call.conn = std::make_shared<Connection>(net::make_strand(runtime.context()), context);
  return {call.conn, false};
}

void HttpsPeerClient::Impl::Release(Peer& peer, Call& call, ConnectionPtr conn, bool reusable) {
  std::unique_lock lock(mu);
  call.conn.reset();
  if (reusable && !shut_down.load() &&
      static_cast<int>(peer.idle.size()) < options.max_idle_per_peer) {
    conn->idle_since = std::chrono::steady_clock::now();
    peer.idle.push_back(std::move(conn));
    return;
  }
  lock.unlock();
  CloseOnStrand(std::move(conn));
}

Admission HttpsPeerClient::Impl::Admit(Peer& peer) {
  const core::Time now = clock->Now();
  std::lock_guard lock(mu);
  switch (peer.state) {
    case Peer::State::kClosed:
      return Admission::kAdmitted;
    case Peer::State::kOpen:
      if (now < peer.open_until) return Admission::kRejected;
      peer.state = Peer::State::kHalfOpen;
      peer.trial_in_flight = true;
      return Admission::kTrial;
    case Peer::State::kHalfOpen:
      if (peer.trial_in_flight) return Admission::kRejected;
      peer.trial_in_flight = true;
      return Admission::kTrial;
  }
  return Admission::kRejected;
}

void HttpsPeerClient::Impl::Record(Peer& peer, bool success, Admission admission) {
  const core::Time now = clock->Now();
  std::lock_guard lock(mu);
  if (admission == Admission::kTrial) peer.trial_in_flight = false;
  if (success) {
    peer.consecutive_failures = 0;
    peer.state = Peer::State::kClosed;
    return;
  }
  ++peer.consecutive_failures;
  const bool trip =
      admission == Admission::kTrial ||
      (peer.state == Peer::State::kClosed && peer.consecutive_failures >= options.breaker_failures);
  if (trip) {
    peer.state = Peer::State::kOpen;
    peer.open_until = now + std::chrono::duration_cast<core::Duration>(options.breaker_open_for);
    counters->breaker_opens++;
  }
}

void HttpsPeerClient::Impl::AbandonTrial(Peer& peer, Admission admission) {
  if (admission != Admission::kTrial) return;
  std::lock_guard lock(mu);
  peer.trial_in_flight = false;
}

void HttpsPeerClient::Impl::Start(CallPtr call) {
  call->request_id = std::string(core::CurrentRequestId());  // Start runs in Post or Get
  bool accepted;
  {
    std::lock_guard lock(mu);
    accepted = !shut_down.load();
    if (accepted) calls.insert(call);
  }
  // Posted, so that `done` never runs inside Post or Get.
  net::post(call->strand, [self = shared_from_this(), call, accepted] {
    if (!accepted) {
      core::ScopedRequestId scope(call->request_id);
      return call->done(ShutDownError());
    }
    net::co_spawn(call->strand, self->Run(call), net::detached);
  });
}

net::awaitable<void> HttpsPeerClient::Impl::Run(CallPtr call) {
  auto self = shared_from_this();
  core::Result<PeerResponse> result = co_await Attempts(*call);
  {
    std::lock_guard lock(mu);
    calls.erase(call);
  }
  PeerCallback done = std::move(call->done);
  core::ScopedRequestId scope(call->request_id);
  done(std::move(result));
}

net::awaitable<core::Result<PeerResponse>> HttpsPeerClient::Impl::Attempts(Call& call) {
  auto found = FindPeer(call.base_url);
  if (!found.ok()) co_return found.status();
  Peer& peer = **found;
  if (!call.target.starts_with('/') || call.target.find_first_of(" \r\n") != std::string::npos) {
    co_return core::InvalidArgument("bad request target '" + call.target + "'", "target");
  }
  std::string wire;
  wire.reserve(256 + call.body.size());
  wire.append(call.method).append(" ").append(call.target).append(" HTTP/1.1\r\nHost: ");
  wire.append(peer.endpoint.host).append(":").append(peer.endpoint.port);
  wire.append("\r\nUser-Agent: edwc-peer\r\n");
  // Only a valid id goes on the wire, where it becomes a header line.
  if (core::IsValidRequestId(call.request_id)) {
    wire.append("X-Request-Id: ").append(call.request_id).append("\r\n");
  }
  if (call.method == "POST") {
    wire.append("Content-Type: application/json\r\nContent-Length: ");
    wire.append(std::to_string(call.body.size())).append("\r\n");
  }
  wire.append("\r\n").append(call.body);

  std::optional<PeerResponse> last_response;
  Status last_error(Code::kUnavailable, "no attempt made");
  bool stale_retried = false;
  for (int attempt = 1;;) {
    if (shut_down.load()) co_return ShutDownError();
    const Admission admission = Admit(peer);
    if (admission == Admission::kRejected) {
      counters->fast_failures++;
      std::string message = "circuit open for " + call.base_url;
      if (attempt > 1) message += " (after: " + last_error.message() + ")";
      co_return Status(Code::kUnavailable, std::move(message));
    }
    auto [conn, reused] = Acquire(peer, call);
    auto ex = conn->stream.get_executor();
    Exchanged out =
        co_await net::co_spawn(ex, Exchange(conn, peer.endpoint, wire, reused), net::use_awaitable);
    Release(peer, call, std::move(conn), out.reusable);
    if (out.failure == Failure::kShutDown || shut_down.load()) {
      AbandonTrial(peer, admission);
      co_return ShutDownError();
    }
    if (out.failure == Failure::kStale && !stale_retried) {
      // The server closed a pooled connection before it saw the request: not an attempt.
      stale_retried = true;
      AbandonTrial(peer, admission);
      continue;
    }
    const bool failed = out.failure != Failure::kNone || IsRetryableStatus(out.response.status);
    (failed ? counters->attempts_failed : counters->attempts_ok)++;
    Record(peer, !failed, admission);
    if (!failed) co_return std::move(out.response);
    if (out.failure == Failure::kNone) {
      last_response = std::move(out.response);
      last_error = Status(Code::kUnavailable, "HTTP " + std::to_string(last_response->status));
    } else {
      last_response.reset();
      last_error = std::move(out.error);
    }
    if (!call.idempotent || out.failure == Failure::kRefused || attempt >= options.max_attempts) {
      break;
    }
    // Checked on the call's strand right before waiting: Shutdown sets the flag first and
    // then cancels the timer on this strand, so the wait cannot miss it.
    if (shut_down.load()) co_return ShutDownError();
    call.backoff.expires_after(FullJitter(BackoffCeiling(options, attempt)));
    co_await call.backoff.async_wait(kUseTuple);
    ++attempt;
    counters->retries++;
  }
  if (last_response) co_return std::move(*last_response);
  co_return last_error;
}

Exchanged HttpsPeerClient::Impl::Fail(const boost::system::error_code& ec, std::string what,
                                      bool stale_if_early) {
  Exchanged out;
  if (shut_down.load()) {
    out.failure = Failure::kShutDown;
    return out;
  }
  if (ec == beast::error::timeout) {
    out.failure = Failure::kTransient;
    out.error = Status(Code::kUnavailable, what + ": timed out");
    return out;
  }
  out.failure = stale_if_early ? Failure::kStale : Failure::kTransient;
  out.error = Status(Code::kUnavailable, what + ": " + ec.message());
  return out;
}

net::awaitable<Exchanged> HttpsPeerClient::Impl::Connect(Connection& conn,
                                                         const Endpoint& endpoint) {
  auto& lowest = beast::get_lowest_layer(conn.stream);
  const std::string where = endpoint.host + ":" + endpoint.port;
  boost::system::error_code ec;
  if (endpoint.is_ip) {
    const tcp::endpoint ep(net::ip::make_address(endpoint.host),
                           static_cast<uint16_t>(std::stoi(endpoint.port)));
    lowest.expires_after(options.connect_timeout);
    std::tie(ec) = co_await lowest.async_connect(ep, kUseTuple);
  } else {
    tcp::resolver resolver(conn.stream.get_executor());
    auto [rec, results] = co_await resolver.async_resolve(endpoint.host, endpoint.port, kUseTuple);
    if (rec) co_return Fail(rec, "resolve " + endpoint.host, false);
    if (shut_down.load()) co_return Fail({}, "", false);
    lowest.expires_after(options.connect_timeout);
    auto [cec, used] = co_await lowest.async_connect(results, kUseTuple);
    ec = cec;
  }
  if (ec) co_return Fail(ec, "connect " + where, false);
  boost::system::error_code ignored;
  lowest.socket().set_option(tcp::no_delay(true), ignored);
  SSL* ssl = conn.stream.native_handle();
  if (!endpoint.is_ip) SSL_set_tlsext_host_name(ssl, endpoint.host.c_str());
  conn.stream.set_verify_callback(ssl::host_name_verification(endpoint.host));
  auto [hec] = co_await conn.stream.async_handshake(ssl::stream_base::client, kUseTuple);
  if (hec) {
    const long verify = SSL_get_verify_result(ssl);
    const bool refused =
        verify != X509_V_OK || (hec.category() == net::error::get_ssl_category() &&
                                ERR_GET_REASON(hec.value()) == SSL_R_CERTIFICATE_VERIFY_FAILED);
    if (refused && !shut_down.load()) {
      Exchanged out;
      out.failure = Failure::kRefused;
      out.error =
          Status(Code::kPermissionDenied,
                 "server certificate of " + where + " refused: " +
                     (verify != X509_V_OK ? X509_verify_cert_error_string(verify) : hec.message()));
      co_return out;
    }
    co_return Fail(hec, "TLS handshake with " + where, false);
  }
  conn.peer_center = PeerCenterId(ssl);
  if (conn.peer_center.empty()) {
    Exchanged out;
    out.failure = Failure::kRefused;
    out.error = Status(Code::kPermissionDenied,
                       "server certificate of " + where + " names no edwc://center/<id>");
    co_return out;
  }
  counters->connections_opened++;
  co_return Exchanged{};
}

// Runs on the connection's strand. `reused`: the connection came from the pool.
net::awaitable<Exchanged> HttpsPeerClient::Impl::Exchange(ConnectionPtr conn,
                                                          const Endpoint& endpoint,
                                                          const std::string& wire, bool reused) {
  auto self = shared_from_this();
  auto& stream = conn->stream;
  auto& lowest = beast::get_lowest_layer(stream);
  // Shutdown closes connections in use on this strand after setting the flag; checking
  // it here, between operations, keeps a closed connection from being reopened.
  if (shut_down.load()) co_return Fail({}, "", false);
  if (!reused) {
    Exchanged connected = co_await Connect(*conn, endpoint);
    if (connected.failure != Failure::kNone) co_return connected;
    if (shut_down.load()) co_return Fail({}, "", false);
  }
  const std::string where = endpoint.host + ":" + endpoint.port;
  lowest.expires_after(options.request_timeout);
  auto [wec, written] = co_await net::async_write(stream, net::buffer(wire), kUseTuple);
  if (wec) co_return Fail(wec, "send request to " + where, reused);
  if (conn->buffer.size() == 0) {
    auto [rec, n] = co_await stream.async_read_some(conn->buffer.prepare(16 * 1024), kUseTuple);
    if (rec) co_return Fail(rec, "read answer from " + where, reused);
    conn->buffer.commit(n);
  }
  http::response_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimitBytes);
  parser.body_limit(options.max_response_body_bytes);
  auto [ec, nread] = co_await http::async_read(stream, conn->buffer, parser, kUseTuple);
  if (ec) co_return Fail(ec, "read answer from " + where, false);
  lowest.expires_never();
  auto& res = parser.get();
  Exchanged out;
  out.response.status = static_cast<int>(res.result_int());
  out.response.body = std::move(res.body());
  out.response.peer_center = conn->peer_center;
  // Bytes beyond the answer would be a confused server: do not reuse that connection.
  out.reusable = res.keep_alive() && conn->buffer.size() == 0;
  co_return out;
}

void HttpsPeerClient::Impl::Shutdown() {
  std::vector<ConnectionPtr> idle;
  std::vector<std::pair<CallPtr, ConnectionPtr>> live;
  {
    std::lock_guard lock(mu);
    if (shut_down.exchange(true)) return;
    for (auto& [url, peer] : peers) {
      for (ConnectionPtr& conn : peer->idle) idle.push_back(std::move(conn));
      peer->idle.clear();
    }
    for (const CallPtr& call : calls) live.emplace_back(call, call->conn);
  }
  for (ConnectionPtr& conn : idle) CloseOnStrand(std::move(conn));
  for (auto& [call, conn] : live) {
    net::post(call->strand, [call] { call->backoff.cancel(); });
    if (conn) CloseOnStrand(std::move(conn));
  }
}

HttpsPeerClient::HttpsPeerClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpsPeerClient::~HttpsPeerClient() { impl_->Shutdown(); }

core::Result<std::unique_ptr<HttpsPeerClient>> HttpsPeerClient::Create(IoRuntime& runtime,
                                                                       const config::TlsFiles& tls,
                                                                       PeerClientOptions options,
                                                                       Metrics* metrics) {
  if (options.max_attempts < 1) return core::InvalidArgument("must be >= 1", "max_attempts");
  if (options.breaker_failures < 1) {
    return core::InvalidArgument("must be >= 1", "breaker_failures");
  }
  if (options.max_idle_per_peer < 0) {
    return core::InvalidArgument("must be >= 0", "max_idle_per_peer");
  }
  auto impl = std::make_shared<Impl>(runtime, options);
  // Checked from the files every time; a live shared context (maybe reloaded since) wins.
  EDWC_ASSIGN_OR_RETURN(TlsContextPtr context, NewClientContext(tls, nullptr));
  impl->tls = JoinSharedTls(tls, std::move(context));
  if (metrics != nullptr) impl->RegisterMetrics(*metrics);
  return std::unique_ptr<HttpsPeerClient>(new HttpsPeerClient(std::move(impl)));
}

void HttpsPeerClient::Post(std::string base_url, std::string target, std::string body,
                           bool idempotent, PeerCallback done) {
  auto call = std::make_shared<Call>(net::make_strand(impl_->runtime.context()));
  call->method = "POST";
  call->base_url = std::move(base_url);
  call->target = std::move(target);
  call->body = std::move(body);
  call->idempotent = idempotent;
  call->done = std::move(done);
  impl_->Start(std::move(call));
}

void HttpsPeerClient::Get(std::string base_url, std::string target, bool idempotent,
                          PeerCallback done) {
  auto call = std::make_shared<Call>(net::make_strand(impl_->runtime.context()));
  call->method = "GET";
  call->base_url = std::move(base_url);
  call->target = std::move(target);
  call->idempotent = idempotent;
  call->done = std::move(done);
  impl_->Start(std::move(call));
}

void HttpsPeerClient::Shutdown() { impl_->Shutdown(); }

core::Result<std::shared_ptr<HttpsPeerClient::TlsContext>> HttpsPeerClient::MakeTlsContext(
    const CenterTls& tls) {
  return NewClientContext({.ca = tls.ca_file, .cert = tls.cert_file, .key = tls.key_file}, &tls);
}

void HttpsPeerClient::UseTlsContext(const config::TlsFiles& files,
                                    std::shared_ptr<TlsContext> context) {
  std::shared_ptr<SharedTls> shared;
  {
    SharedTlsRegistry& r = Registry();
    std::lock_guard lock(r.mu);
    auto it = r.by_files.find(TlsFilesKey(files));
    if (it != r.by_files.end()) shared = it->second.lock();
  }
  if (!shared) return;
  std::lock_guard lock(shared->mu);
  shared->context = std::move(context);
}

uint64_t HttpsPeerClient::connections_opened() const {
  return impl_->counters->connections_opened.load();
}

int HttpsPeerClient::idle_connections() const {
  std::lock_guard lock(impl_->mu);
  size_t n = 0;
  for (const auto& [url, peer] : impl_->peers) n += peer->idle.size();
  return static_cast<int>(n);
}

}  // namespace edwc::gateway
